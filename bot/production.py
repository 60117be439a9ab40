"""Production mode: `APP_ENV=production` refuses to start on a development default.

Every process calls `refuse_development_defaults` at start-up with its own name. In
production each default below is a hole (a token anyone can read in this repository, a
key generated beside the data it protects, the demo contracts, e-mails left in files),
so the process logs which ones it found, by variable name, and exits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

DEV_API_TOKEN = "dev-local-token"
WEB, ACTIONS, RASA = "web", "actions", "rasa"


def is_production(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("APP_ENV", "").strip().lower() in ("production", "prod")


def _unset(name: str) -> Callable[[Mapping[str, str]], bool]:
    return lambda env: not env.get(name, "").strip()


def _tokens(name: str) -> Callable[[Mapping[str, str]], bool]:
    def check(env: Mapping[str, str]) -> bool:
        tokens = [token.strip() for token in env.get(name, "").split(",") if token.strip()]
        return not tokens or DEV_API_TOKEN in tokens

    return check


def _local_url(name: str) -> Callable[[Mapping[str, str]], bool]:
    def check(env: Mapping[str, str]) -> bool:
        url = env.get(name, "").strip().lower()
        return not url or "//localhost" in url or "//127.0.0.1" in url

    return check


# (process, variable, the default that production refuses, how to tell it is in use)
_CHECKS: list[tuple[frozenset[str], str, str, Callable[[Mapping[str, str]], bool]]] = [
    (
        frozenset({WEB, RASA}),
        "RASA_TOKEN",
        "unset: a token generated into var/rasa/api-token",
        _unset("RASA_TOKEN"),
    ),
    (
        frozenset({ACTIONS, RASA}),
        "ACTION_SERVER_TOKEN",
        "unset: a token generated into var/actions/token",
        _unset("ACTION_SERVER_TOKEN"),
    ),
    (
        frozenset({WEB}),
        "ACCOUNT_API_TOKENS",
        f"unset or holding the development token {DEV_API_TOKEN!r}",
        _tokens("ACCOUNT_API_TOKENS"),
    ),
    (
        frozenset({ACTIONS}),
        "ACCOUNT_API_TOKEN",
        f"unset or the development token {DEV_API_TOKEN!r}",
        _tokens("ACCOUNT_API_TOKEN"),
    ),
    (
        frozenset({WEB}),
        "DOCUMENT_KEYS",
        "unset: a key generated beside the database (var/document.key)",
        _unset("DOCUMENT_KEYS"),
    ),
    (
        frozenset({WEB}),
        "LOAD_DEMO_CONTRACTS",
        "not 0: the demo contracts are loaded",
        lambda env: env.get("LOAD_DEMO_CONTRACTS", "1").strip().lower() not in ("0", "false", "no"),
    ),
    (
        frozenset({WEB}),
        "DATABASE_URL",
        "unset: the SQLite file var/accounts.db",
        _unset("DATABASE_URL"),
    ),
    (
        frozenset({WEB}),
        "SMTP_URL",
        "unset: e-mails are written to var/outbox/ and never sent",
        _unset("SMTP_URL"),
    ),
    (
        frozenset({WEB, ACTIONS}),
        "PUBLIC_BASE_URL",
        "unset or local: links in e-mails would point to localhost",
        _local_url("PUBLIC_BASE_URL"),
    ),
]


def development_defaults(process: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The development defaults `process` would run on, one line each."""
    env = os.environ if env is None else env
    return [
        f"{variable} is {description}"
        for processes, variable, description, in_use in _CHECKS
        if process in processes and in_use(env)
    ]


def refuse_development_defaults(process: str, env: Mapping[str, str] | None = None) -> None:
    """In production mode, log each development default found and exit (status 78)."""
    env = os.environ if env is None else env
    if not is_production(env):
        return
    found = development_defaults(process, env)
    if not found:
        return
    for line in found:
        log.critical("production mode (APP_ENV=production) refuses a development default: %s", line)
    raise SystemExit(78)  # EX_CONFIG
