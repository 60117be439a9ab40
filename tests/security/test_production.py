"""`APP_ENV=production` refuses to start on each development default, naming it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv/bin/python")
DEV_TOKEN = "dev-local-token"
# Production-worthy values: the process may only refuse the one default a scenario sets.
SAFE = {
    "APP_ENV": "production",
    "RASA_TOKEN": "prod-rasa-token-0123456789abcdef",
    "ACTION_SERVER_TOKEN": "prod-actions-token-0123456789abcdef",
    "ACCOUNT_API_TOKENS": "prod-account-token-0123456789abcdef",
    "ACCOUNT_API_TOKEN": "prod-account-token-0123456789abcdef",
    "DOCUMENT_KEYS": Fernet.generate_key().decode(),
    "LOAD_DEMO_CONTRACTS": "0",
    "SMTP_URL": "smtp://127.0.0.1:1",
    "PUBLIC_BASE_URL": "https://espace-client.assureur.example",
}
# (process, variable, its development value: None for unset)
DEFAULTS = [
    ("web", "RASA_TOKEN", None),
    ("web", "ACCOUNT_API_TOKENS", DEV_TOKEN),
    ("web", "ACCOUNT_API_TOKENS", None),
    ("web", "DOCUMENT_KEYS", None),
    ("web", "LOAD_DEMO_CONTRACTS", "1"),
    ("web", "DATABASE_URL", None),
    ("web", "SMTP_URL", None),
    ("web", "PUBLIC_BASE_URL", "http://localhost:8000"),
    ("web", "PUBLIC_BASE_URL", "http://espace-client.assureur.example"),  # in clear
    ("actions", "ACTION_SERVER_TOKEN", None),
    ("actions", "ACCOUNT_API_TOKEN", DEV_TOKEN),
    ("actions", "PUBLIC_BASE_URL", None),
    ("rasa", "RASA_TOKEN", None),
    ("rasa", "ACTION_SERVER_TOKEN", None),
]


def command(process: str, port: int) -> list[str]:
    if process == "web":
        return [PYTHON, "-m", "bot", "serve"]
    if process == "actions":
        return [PYTHON, "-m", "actions.server", "--host", "127.0.0.1", "--port", str(port)]
    return [
        PYTHON, "-m", "channels.server", "run", "--model", "models/current.tar.gz",
        "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
        "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("process", "variable", "value"),
    DEFAULTS,
    ids=[f"{p}-{v}-{'unset' if x is None else x}" for p, v, x in DEFAULTS],
)
def test_production_refuses_a_development_default(
    tmp_path: Path, process: str, variable: str, value: str | None
) -> None:
    port = free_port()
    env = {
        name: content
        for name, content in os.environ.items()
        if name not in SAFE and name not in ("DATABASE_URL", "RASA_TOKEN_FILE")
    }
    env.update(SAFE)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'accounts.db'}",
        VAR_DIR=str(tmp_path / "var"),
        OUTBOX_DIR=str(tmp_path / "outbox"),
        WEB_PORT=str(port),
        PORT=str(port),
        PYTHONWARNINGS="ignore",
    )
    if value is None:
        env.pop(variable, None)
    else:
        env[variable] = value
    try:
        done = subprocess.run(
            command(process, port), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{process} started on the development default {variable}")
    assert done.returncode == 78, (done.returncode, done.stderr[-2000:])
    assert variable in done.stderr, done.stderr[-2000:]
    for secret in (SAFE["RASA_TOKEN"], SAFE["ACTION_SERVER_TOKEN"], SAFE["DOCUMENT_KEYS"]):
        assert secret not in done.stderr + done.stdout
