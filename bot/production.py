"""Production mode: `APP_ENV=production` refuses to start on a development default.

Every process calls `refuse_development_defaults` at start-up with its own name. In
production each default below is a hole (a token anyone can read in this repository, a
key generated beside the data it protects, the demo contracts, e-mails left in files),
so the process logs which ones it found, by variable name, and exits.

`make prod`'s launcher (`deploy/`) checks the whole topology at once before it starts
anything: `topology_problems` gives every line that the processes would refuse, plus the
settings of the topology itself (TLS, the widget's origins, the proxies in front of nginx).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

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


def _not_public_https(name: str) -> Callable[[Mapping[str, str]], bool]:
    def check(env: Mapping[str, str]) -> bool:
        url = urlsplit(env.get(name, "").strip().lower())
        host = url.hostname or ""
        local = host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")
        return url.scheme != "https" or not host or local

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
        "unset, local or not https: links in e-mails would point to this machine, or travel "
        "in clear",
        _not_public_https("PUBLIC_BASE_URL"),
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


def topology_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """What a production run of the whole topology (`make prod`) refuses, one line each.

    Every development default that one of its processes would refuse (once, even when
    several processes would), then the topology's own settings.
    """
    env = os.environ if env is None else env
    found: list[str] = []
    for _, variable, description, in_use in _CHECKS:
        line = f"{variable} is {description}"
        if in_use(env) and line not in found:
            found.append(line)
    return found + _topology_settings(env)


def _topology_settings(env: Mapping[str, str]) -> list[str]:
    found = []
    cert, key = (env.get(name, "").strip() for name in ("TLS_CERT", "TLS_KEY"))
    if bool(cert) != bool(key):
        found.append("TLS_CERT and TLS_KEY must be set together (a certificate and its key)")
    for name, path in (("TLS_CERT", cert), ("TLS_KEY", key)):
        if path and not os.access(path, os.R_OK):
            found.append(f"{name} names a file that cannot be read: {path}")
    origins = [origin.strip() for origin in env.get("WIDGET_ORIGINS", "").split(",")]
    if "*" in origins:
        found.append("WIDGET_ORIGINS allows every origin (*): name the insurer's sites")
    for proxy in env.get("FRONT_PROXIES", "").split(","):
        if proxy.strip():
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                found.append(f"FRONT_PROXIES holds {proxy.strip()!r}, not an address or network")
    return found


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
