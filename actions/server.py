"""The action server: rasa-sdk's app, closed to anyone but Rasa.

    python -m actions.server [--host 127.0.0.1] [--port 5055]

The same app as `rasa run actions` (the same executor, `POST /webhook`, `GET /actions`
and `GET /health`), bound to loopback by default, with one worker, and:

- every route but `GET /health` and `GET /metrics` needs `Authorization: Bearer <token>`,
  the token of `bot.local_secrets.action_server_token()` that Rasa sends (401
  otherwise); `/metrics` (Prometheus) is open like `/health`: the server listens on
  loopback (`ACTIONS_HOST`), and its metrics hold counts only;
- each call of `/webhook` is timed by action (`assistant_action_duration_seconds`) and
  makes the app's metrics those the actions count in (`actions.metrics.CURRENT`);
- request bodies are capped (`ACTIONS_MAX_BODY_BYTES`, 4 MiB), a `deflate` body is
  inflated with a bound (`ACTIONS_MAX_INFLATED_BYTES`, 16 MiB: 413 beyond), any other
  content encoding is refused (415);
- an action that fails answers `{"error": "internal error"}` and logs the action's name
  and the exception's type and place only: rasa-sdk's own handler logs the whole
  request and sends the tracker back, which holds every personal field.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import re
import time
import traceback
import zlib
from pathlib import Path

from rasa_sdk import utils
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import metrics
from bot.local_secrets import action_server_token
from bot.logs import configure_logging
from bot.production import ACTIONS, refuse_development_defaults

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_INFLATED_BYTES = 16 * 1024 * 1024
OPEN_ROUTES = frozenset({("GET", "/health"), ("GET", "/metrics")})
WEBHOOK = ("POST", "/webhook")
_ACTION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# Generic answers: nothing of the request is ever sent back.
_ANSWERS = {
    400: "bad request",
    401: "unauthorized",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported content encoding",
}


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _refusal(status: int) -> HTTPResponse:
    return response.json({"error": _ANSWERS.get(status, "internal error")}, status=status)


def authorised(header: str | None, expected: bytes) -> bool:
    """Whether `header` is `Bearer <expected>` (compared in constant time)."""
    scheme, _, given = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected)


def inflate(request: Request, max_inflated: int) -> HTTPResponse | None:
    """Decode the body in place (rasa-sdk then reads `request.json`), or a refusal."""
    encodings = request.headers.getall("Content-Encoding", [])
    encoding = ",".join(encodings).strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding != "deflate":
        return _refusal(415)
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(request.body, max_inflated)
    except zlib.error:
        return _refusal(400)
    if inflater.unconsumed_tail:
        log.warning("action call refused: its inflated body exceeds %d bytes", max_inflated)
        return _refusal(413)
    if not inflater.eof:
        return _refusal(400)
    request.body = body
    request.parsed_json = None
    request.headers.popall("Content-Encoding", None)
    return None


def _action_name(request: Request | None) -> str:
    call = getattr(request, "parsed_json", None)
    name = call.get("next_action") if isinstance(call, dict) else None
    return name if isinstance(name, str) and _ACTION_NAME.fullmatch(name) else "?"


def _place(exception: BaseException) -> str:
    """Where the exception was raised (and from which line of ours): file and line,
    never its message or locals, which may hold a tracker's values."""
    frames = traceback.extract_tb(exception.__traceback__)
    if not frames:
        return "?"
    place = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"
    ours = [frame for frame in frames if Path(frame.filename).is_relative_to(PACKAGE)]
    if ours and ours[-1] is not frames[-1]:
        place += f" (from {Path(ours[-1].filename).name}:{ours[-1].lineno})"
    return place


def action_names(package: str) -> frozenset[str]:
    """The names of the actions rasa-sdk's executor finds in `package` (the labels of
    the latency histogram), listed without logging each one again."""
    executor_log = logging.getLogger("rasa_sdk.executor")
    level = executor_log.level
    executor_log.setLevel(logging.WARNING)
    try:
        executor = ActionExecutor()
        executor.register_package(package)
    finally:
        executor_log.setLevel(level)
    return frozenset(executor.actions)


def build_app(
    token: str,
    *,
    max_body: int = MAX_BODY_BYTES,
    max_inflated: int = MAX_INFLATED_BYTES,
) -> Sanic:
    """rasa-sdk's app for the `actions` package, closed with `token`."""
    # Imported here: sanic_cors warns at import (distutils), which tests treat as errors.
    from rasa_sdk.endpoint import create_app

    app = create_app("actions", cors_origins="")
    app.config.REQUEST_MAX_SIZE = max_body
    expected = token.encode("utf-8")
    app_metrics = metrics.ActionMetrics(action_names(PACKAGE.name))

    @app.get("/metrics")
    async def prometheus(request: Request) -> HTTPResponse:
        body, content_type = app_metrics.exposition(request.headers.get("Accept"))
        return response.raw(body, content_type=content_type, headers={"Cache-Control": "no-store"})

    @app.on_request
    async def guard(request: Request) -> HTTPResponse | None:
        # Sanic runs the request middleware again before an error response: once only.
        if getattr(request.ctx, "guarded", False):
            return None
        request.ctx.guarded = True
        if (request.method, request.path) in OPEN_ROUTES:
            return None
        if not authorised(request.headers.get("Authorization"), expected):
            log.warning("action server call refused: missing or wrong token")
            return _refusal(401)
        refused = inflate(request, max_inflated)
        if refused is None and (request.method, request.path) == WEBHOOK:
            # The handler runs in this coroutine's context: the actions count in this app.
            metrics.CURRENT.set(app_metrics)
            request.ctx.started = time.perf_counter()
        return refused

    @app.on_response
    async def timed(request: Request, answer: HTTPResponse) -> None:
        started = getattr(request.ctx, "started", None)
        if started is None:
            return
        del request.ctx.started  # once, even if Sanic runs this again for an error
        name = _action_name(request) if answer.status != 404 else None
        label = app_metrics.action_label(name)
        app_metrics.action_duration.labels(label).observe(time.perf_counter() - started)

    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        if isinstance(exception, SanicException) and exception.status_code < 500:
            return _refusal(exception.status_code)
        log.error(
            "action %s failed: %s at %s",
            _action_name(request),
            type(exception).__name__,
            _place(exception),
        )
        return response.json({"error": "internal error"}, status=500)

    # Replaces rasa-sdk's handler of the same key, which answers with the request body.
    app.exception(Exception)(failed)
    return app


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The assistant's action server.")
    parser.add_argument(
        "--host",
        default=os.environ.get("ACTIONS_HOST") or DEFAULT_HOST,
        help="address to listen on (ACTIONS_HOST, default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("ACTIONS_PORT") or DEFAULT_PORT),
        help="port to listen on (ACTIONS_PORT, default 5055)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    utils.configure_colored_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    utils.update_sanic_log_level()
    # JSON lines on stderr in production (APP_ENV) or with LOG_FORMAT=json.
    configure_logging(ACTIONS)
    refuse_development_defaults(ACTIONS)
    app = build_app(
        action_server_token(),
        max_body=_positive("ACTIONS_MAX_BODY_BYTES", MAX_BODY_BYTES),
        max_inflated=_positive("ACTIONS_MAX_INFLATED_BYTES", MAX_INFLATED_BYTES),
    )
    log.info("action server listening on http://%s:%d", arguments.host, arguments.port)
    app.run(arguments.host, arguments.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
