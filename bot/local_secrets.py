"""Shared secrets between the processes of one machine: Rasa's API token and the
action server's token.

Each comes from its environment variable when set (production sets them: see
`bot.production`); otherwise the first process that needs it generates it into a file
under `var/` (mode 0600), where the other processes and the project's tools read it. So
neither Rasa's HTTP API nor the action server is ever open, even on a development
machine started with `make run`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", ROOT / "var"))

RASA_TOKEN_VARIABLE = "RASA_TOKEN"
ACTION_SERVER_TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"


def rasa_token_file() -> Path:
    return Path(os.environ.get("RASA_TOKEN_FILE", VAR_DIR / "rasa" / "api-token"))


def action_server_token_file() -> Path:
    return Path(os.environ.get("ACTION_SERVER_TOKEN_FILE", VAR_DIR / "actions" / "token"))


def read_or_create(path: Path) -> str:
    """The secret kept in `path`, created with 256 random bits if there is none yet.

    Creation is atomic (`O_EXCL`): processes starting together all read the same one.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    try:
        os.link(temporary, path)  # fails if another process created it meanwhile
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return _read(path)


def _read(path: Path) -> str:
    secret = path.read_text().strip()
    if not secret:
        raise FileNotFoundError(path)
    return secret


def rasa_token(env: dict[str, str] | None = None) -> str:
    """The token of Rasa's HTTP API: `RASA_TOKEN`, else the generated one."""
    configured = (os.environ if env is None else env).get(RASA_TOKEN_VARIABLE, "").strip()
    return configured or read_or_create(rasa_token_file())


def action_server_token(env: dict[str, str] | None = None) -> str:
    """The token Rasa sends to the action server: `ACTION_SERVER_TOKEN`, else generated."""
    configured = (os.environ if env is None else env).get(ACTION_SERVER_TOKEN_VARIABLE, "")
    return configured.strip() or read_or_create(action_server_token_file())
