"""The Rasa server's entry point: `python -m channels.server run …`, as `rasa run …`.

Rasa 3.6 checks each response of the action server with `jsonschema.validate`, which
first checks Rasa's own large schema against its metaschema: about 36 ms of the 38 ms
of each call, some 45 % of the server's CPU per turn (docs/benchmarks.md). Here the
schema is checked once and its validator kept; a response is then checked in about
1 ms, with the same errors as before.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.lru_cache(maxsize=1)
def response_validator() -> Any:
    """The validator of the action server's responses, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(_: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result`, with the validator built once."""
    error = jsonschema.exceptions.best_match(response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format "
            f"visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def main() -> int:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    from rasa.__main__ import main as rasa_main

    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
