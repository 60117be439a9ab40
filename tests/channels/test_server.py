"""The Rasa server's entry point: the action server's responses checked as Rasa checks
them, by a validator whose schema is checked once. Rasa is imported inside the tests,
where its dependencies' deprecation warnings are not errors."""

from __future__ import annotations

from pathlib import Path

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


def test_run_gets_the_api_token_in_process_unless_one_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from channels.server import with_auth_token

    monkeypatch.setenv("RASA_TOKEN", "the-local-token")
    argv = ["channels.server", "run", "--enable-api", "--port", "5005"]
    assert with_auth_token(argv) == [
        "channels.server",
        "run",
        "--auth-token=the-local-token",
        "--enable-api",
        "--port",
        "5005",
    ]
    # A generated token may start with « - »: it is still the option's value.
    monkeypatch.setenv("RASA_TOKEN", "-Zq3f9")
    assert with_auth_token(argv)[2] == "--auth-token=-Zq3f9"
    given = ["channels.server", "run", "--auth-token=other", "--enable-api"]
    assert with_auth_token(given) == given
    for other in (["channels.server", "run", "actions"], ["channels.server", "test"]):
        assert with_auth_token(other) == other


def test_action_calls_carry_the_action_server_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rasa.core.utils import AvailableEndpoints

    from channels.server import read_endpoints

    monkeypatch.setenv("ACTION_SERVER_TOKEN", "the-action-token")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("action_endpoint:\n  url: http://127.0.0.1:5055/webhook\n")
    read = read_endpoints(AvailableEndpoints, str(endpoints))
    assert read.action.headers == {"Authorization": "Bearer the-action-token"}
    endpoints.write_text("tracker_store:\n  type: SQL\n")
    assert read_endpoints(AvailableEndpoints, str(endpoints)).action is None
