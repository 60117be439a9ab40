"""Logging of every process: one JSON object per line in production, text otherwise.

`configure_logging(process_name)` is called once at start-up by the web process
(`python -m bot`), the action server (`python -m actions.server`) and Rasa
(`channels/server.py`). With `APP_ENV=production` or `LOG_FORMAT=json`, each record goes
to stderr as one line:

    {"time": "2026-01-05T09:12:03.120+00:00", "level": "INFO", "logger": "bot.web.api",
     "process": "web", "pid": 4242, "message": "…"}

Nothing else of a record is written: no `extra` fields, and an exception only as its
type and the places it went through (`exception`, `traceback`), never its message, which
may quote a value the user typed (a validation error, a database error's parameters).
Messages themselves never hold user text: that is the rule of every `log.` call of the
project.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from pythonjsonlogger import jsonlogger

from bot.production import is_production

HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ROOT = Path(__file__).resolve().parent.parent
# The loggers Sanic configures for itself (Rasa's server and the action server run on it).
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "sanic.server")


def json_logs(env: Mapping[str, str] | None = None) -> bool:
    """Whether logs are JSON: `LOG_FORMAT=json`, or production unless `LOG_FORMAT=text`."""
    env = os.environ if env is None else env
    chosen = env.get("LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "text"):
        return chosen == "json"
    return is_production(env)


def _frames(tb: TracebackType | None) -> list[str]:
    """`file:line in function` of each frame, paths relative to the project: no values."""
    places = []
    for frame in traceback.extract_tb(tb):
        path = Path(frame.filename)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        places.append(f"{shown}:{frame.lineno} in {frame.name}")
    return places


class JsonFormatter(jsonlogger.JsonFormatter):
    """The fixed fields of a record, as one JSON object (python-json-logger)."""

    def __init__(self, process_name: str) -> None:
        super().__init__(json_ensure_ascii=False)
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        # Not the parent's: it would add the exception's formatted message.
        log_record: dict[str, Any] = {}
        self.add_fields(log_record, record, {})
        return self.serialize_log_record(log_record)

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_record["time"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat(
            timespec="milliseconds"
        )
        log_record["level"] = record.levelname
        log_record["logger"] = record.name
        log_record["process"] = self.process_name
        log_record["pid"] = record.process
        log_record["message"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            error, tb = record.exc_info[0], record.exc_info[2]
            log_record["exception"] = error.__name__
            log_record["traceback"] = _frames(tb)


def configure_logging(process_name: str) -> None:
    """Send the records of the whole process to stderr, as JSON when `json_logs()`.

    JSON replaces every handler already installed (rasa-sdk's and Rasa's coloured
    logs): the root logger's and those of the loggers that do not propagate (Sanic's),
    and becomes the handler of last resort; Python's warnings become records too. Text
    keeps a handler already installed (the action server's coloured logs) and otherwise
    writes `HUMAN_FORMAT`. The level is `LOG_LEVEL` (INFO by default).
    """
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    if not isinstance(logging.getLevelName(level), int):
        level = "INFO"
    if not json_logs():
        logging.basicConfig(level=level, format=HUMAN_FORMAT)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_name))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    names = set(SANIC_LOGGERS) | set(logging.Logger.manager.loggerDict)
    for name in names:
        logger = logging.getLogger(name)
        if not logger.propagate or name in SANIC_LOGGERS:
            logger.handlers = [handler]
            logger.propagate = False
    logging.lastResort = handler
    logging.captureWarnings(True)  # a warning becomes a record of `py.warnings`
    _json_sanic_defaults(process_name)


def _json_sanic_defaults(process_name: str) -> None:
    """Make the logging configuration that a Sanic app applies when it is created (Rasa's
    server is created after this call) write JSON to stderr too; nothing without Sanic."""
    sanic_log = sys.modules.get("sanic.log")
    if sanic_log is None:
        return
    config = sanic_log.LOGGING_CONFIG_DEFAULTS
    formatter = {"()": f"{__name__}.JsonFormatter", "process_name": process_name}
    config["formatters"] = {"generic": formatter, "access": formatter}
    for handler in config["handlers"].values():
        handler["stream"] = sys.stderr
    for logger in config["loggers"].values():
        logger["propagate"] = False
