"""The Rasa server's entry point: the action server's responses checked as Rasa checks
them, by a validator whose schema is checked once. Rasa is imported inside the tests,
where its dependencies' deprecation warnings are not errors."""

from __future__ import annotations

import jsonschema
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_valid_response_passes_and_the_schema_is_checked_once() -> None:
    from rasa.core.actions.action import RemoteAction

    from channels.server import response_validator, validate_action_result

    response = {"events": [{"event": "slot", "name": "siren", "value": "552100554"}]}
    assert validate_action_result(RemoteAction("action_x", None), response) is True
    assert validate_action_result(RemoteAction("action_x", None), {"responses": []}) is True
    assert response_validator.cache_info().misses == 1


def test_an_invalid_response_is_refused_as_rasa_refuses_it() -> None:
    from rasa.core.actions.action import RemoteAction

    from channels.server import validate_action_result

    wrong = {"events": [{"event": "slot", "name": 3}]}
    with pytest.raises(jsonschema.ValidationError) as ours:
        validate_action_result(RemoteAction("action_x", None), wrong)
    with pytest.raises(jsonschema.ValidationError) as rasa:
        RemoteAction("action_x", None)._validate_action_result(wrong)
    assert ours.value.message == rasa.value.message
    assert "Failed to validate Action server response" in ours.value.message
