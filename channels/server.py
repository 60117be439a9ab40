"""The Rasa server's entry point: `python -m channels.server run …`, as `rasa run …`.

Rasa 3.6 checks each response of the action server with `jsonschema.validate`, which
first checks Rasa's own large schema against its metaschema: about 36 ms of the 38 ms
of each call, some 45 % of the server's CPU per turn (docs/benchmarks.md). Here the
schema is checked once and its validator kept; a response is then checked in about
1 ms, with the same errors as before.

It also closes what `rasa run` leaves open when exposed:

- the HTTP API always needs a token: without `--auth-token` in the arguments of `run`,
  `rasa_token()` is added to `sys.argv` in this process (never on a command line that
  `ps` shows);
- `--cors` applies to the chat channels only (`/webhooks/…`, `/socket.io/…`), never to
  the API (`/conversations/…`, `/model`, `/status`…), so that no page of an allowed
  origin may call the API from a browser;
- every call to the action server carries `Authorization: Bearer <action_server_token()>`
  (endpoints.yml stays free of `${VAR}`, as `rasa test` reads it);
- production mode refuses development defaults (`bot.production`);
- logs are one JSON object per line in production (`bot.logs`), once Rasa's command line
  has set up its own;
- the assistant always answers: when a custom action cannot be run (the action server
  down, slow, failing), the turn is undone and the user gets `UNAVAILABLE_TEXT`
  (`channels.resilience`, whose docstring describes the two hooks);
- a person waiting for an advisor can leave the queue (« Revenir à l'assistant »),
  although Rasa ignores the messages of a paused conversation (`channels.queue`).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import jsonschema
import rasa.server
from rasa.core.actions.action import RemoteAction
from rasa.core.utils import AvailableEndpoints
from rasa.shared.constants import DOCS_BASE_URL
from sanic_cors import CORS

from bot.local_secrets import action_server_token, rasa_token
from bot.logs import configure_logging
from bot.production import RASA, refuse_development_defaults
from channels import queue, resilience

# The only routes a browser page of another origin may call (sanic-cors regexes).
CHAT_CHANNEL_PATHS = (r"/webhooks/.*", r"/socket\.io/.*")


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


def configure_cors(app: Any, cors_origins: str | list[str] | None = "") -> None:
    """`rasa.server.configure_cors`, its resources restricted to the chat channels."""
    app.config.CORS_AUTOMATIC_OPTIONS = True
    app.config.CORS_SUPPORTS_CREDENTIALS = True
    app.config.CORS_EXPOSE_HEADERS = "filename"
    origins = cors_origins or ""
    CORS(
        app,
        resources={path: {"origins": origins} for path in CHAT_CHANNEL_PATHS},
        automatic_options=True,
    )


_rasa_read_endpoints = AvailableEndpoints.read_endpoints.__func__  # type: ignore[attr-defined]


def read_endpoints(cls: type[AvailableEndpoints], endpoint_file: str) -> AvailableEndpoints:
    """Rasa's endpoints, the action endpoint's calls carrying the action server's token."""
    endpoints = _rasa_read_endpoints(cls, endpoint_file)
    if endpoints.action is not None:
        headers = dict(endpoints.action.headers or {})
        headers["Authorization"] = f"Bearer {action_server_token()}"
        endpoints.action.headers = headers
    return endpoints


def with_auth_token(argv: list[str]) -> list[str]:
    """`argv` with `--auth-token=<rasa_token()>` for `run` when it names no token (one
    argument: a generated token may start with « - », which argparse would take for an
    option)."""
    if len(argv) < 2 or argv[1] != "run" or (len(argv) > 2 and argv[2] == "actions"):
        return argv
    if any(arg in ("-t", "--auth-token") or arg.startswith("--auth-token=") for arg in argv):
        return argv
    return [*argv[:2], f"--auth-token={rasa_token()}", *argv[2:]]


def json_logs_once_rasa_configured_its_own() -> None:
    """Rasa's command line installs coloured logs, then structlog, just before running
    the command: `configure_logging` takes over right after, before the server exists."""
    import rasa.__main__ as rasa_cli

    configure_structlog = rasa_cli.configure_structlog

    def then_ours(log_level: int | None = None) -> None:
        configure_structlog(log_level)
        configure_logging(RASA)

    rasa_cli.configure_structlog = then_ours  # type: ignore[assignment]


def main() -> int:
    refuse_development_defaults(RASA)
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    resilience.install()
    queue.install()
    rasa.server.configure_cors = configure_cors  # type: ignore[assignment]
    AvailableEndpoints.read_endpoints = classmethod(read_endpoints)  # type: ignore[method-assign,assignment,arg-type]
    sys.argv[:] = with_auth_token(sys.argv)
    json_logs_once_rasa_configured_its_own()
    from rasa.__main__ import main as rasa_main

    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
