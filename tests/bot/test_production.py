"""Production mode of the web process, and database errors that never carry the query's
parameters (personal data) into a log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.db import make_engine
from bot.production import development_defaults, topology_problems
from tests.bot.payloads import DEMO_CONTRACT, DEMO_SIREN
from tests.conftest import Service

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "APP_ENV": "production",
    "RASA_TOKEN": "a-real-rasa-token",
    "ACCOUNT_API_TOKENS": "a-real-api-token",
    "DOCUMENT_KEYS": "a-key-from-the-vault",
    "LOAD_DEMO_CONTRACTS": "0",
    "DATABASE_URL": "postgresql://nobody@db.invalid/espace",
    "SMTP_URL": "smtp://mail.invalid:25",
    "PUBLIC_BASE_URL": "https://espace-client.example",
}


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env={**clean, "VAR_DIR": str(tmp_path), "WEB_PORT": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RASA_TOKEN", None),
        ("ACCOUNT_API_TOKENS", None),
        ("ACCOUNT_API_TOKENS", "a-real-api-token,dev-local-token"),
        ("DOCUMENT_KEYS", None),
        ("LOAD_DEMO_CONTRACTS", None),
        ("DATABASE_URL", None),
        ("SMTP_URL", None),
        ("PUBLIC_BASE_URL", "http://localhost:8000"),
    ],
)
def test_production_refuses_each_development_default_by_name(
    tmp_path: Path, variable: str, value: str | None
) -> None:
    env = dict(PRODUCTION_ENV)
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    result = serve(tmp_path, **env)
    assert result.returncode == 78, result.stderr
    refusals = [line for line in result.stderr.splitlines() if "refuses" in line]
    assert len(refusals) == 1, result.stderr
    assert variable in refusals[0]
    assert not (tmp_path / "document.key").exists(), "it stopped before anything else"
    assert "a-real" not in result.stderr, "no secret in the log"


def test_production_names_every_default_at_once(tmp_path: Path) -> None:
    result = serve(tmp_path, APP_ENV="production")
    assert result.returncode == 78
    for variable in ("DOCUMENT_KEYS", "ACCOUNT_API_TOKENS", "RASA_TOKEN", "LOAD_DEMO_CONTRACTS"):
        assert variable in result.stderr
    assert "Assistant ready" not in result.stdout


def test_an_invalid_trusted_proxy_is_refused_by_name(tmp_path: Path) -> None:
    result = serve(tmp_path, TRUSTED_PROXIES="10.0.0.0/8, proxy.example")
    assert result.returncode == 2
    assert "TRUSTED_PROXIES" in result.stderr
    assert "proxy.example" in result.stderr


async def test_database_errors_carry_no_parameters(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    engine = make_engine(database_url)
    secret = "emilie.lefevre@exemple-industries.fr"
    try:
        async with engine.connect() as connection:
            with pytest.raises(Exception) as raised:
                await connection.execute(
                    text("SELECT email FROM no_such_table WHERE email = :email"),
                    {"email": secret},
                )
    finally:
        await engine.dispose()
    assert secret not in str(raised.value)
    assert "parameters hidden" in str(raised.value)
    assert secret not in caplog.text


async def test_an_unexpected_database_error_logs_no_personal_data(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing query on the e-mail check: the error is logged, its e-mail is not."""
    from bot.web.keys import ENGINE

    conversation = "web-" + "e" * 32
    company = {"siren": DEMO_SIREN, "contract_number": DEMO_CONTRACT}
    assert (
        await service.post("/api/v1/companies/verify", {**company, "conversation_id": conversation})
    )[0] == 200
    async with service.app[ENGINE].begin() as connection:
        await connection.execute(text("ALTER TABLE accounts RENAME TO accounts_gone"))
    secret = "emilie.lefevre@exemple-industries.fr"
    status, body = await service.post(
        "/api/v1/emails/check",
        {
            "email": secret,
            "last_name": "Lefèvre",
            "first_name": "Émilie",
            "birth_date": "1984-03-12",
            "conversation_id": conversation,
        },
    )
    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert "unexpected error" in caplog.text
    assert secret not in caplog.text
    assert "lefevre" not in caplog.text.lower()


@pytest.mark.parametrize(
    "url",
    [
        "http://espace-client.example",  # in clear
        "https://localhost:8443",
        "https://127.0.0.1",
        "https://[::1]:8443",
        "espace-client.example",  # no scheme
    ],
)
def test_production_wants_a_public_https_base_url(url: str) -> None:
    env = {**PRODUCTION_ENV, "PUBLIC_BASE_URL": url}
    assert [line for line in development_defaults("web", env) if "PUBLIC_BASE_URL" in line]
    assert not development_defaults("web", {**PRODUCTION_ENV})


def test_the_topology_names_each_problem_once(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not read")
    problems = topology_problems(
        {"APP_ENV": "production", "TLS_KEY": str(key), "WIDGET_ORIGINS": "https://a.example, *",
         "FRONT_PROXIES": "10.0.0.0/8, lb.example"}
    )  # fmt: skip
    named = [line.split(" ", 1)[0] for line in problems]
    # RASA_TOKEN: refused by the web process and Rasa, said once.
    assert named.count("RASA_TOKEN") == 1
    for variable in ("ACTION_SERVER_TOKEN", "DOCUMENT_KEYS", "SMTP_URL", "PUBLIC_BASE_URL"):
        assert variable in named
    assert any(line.startswith("TLS_CERT and TLS_KEY") for line in problems)
    assert any(line.startswith("WIDGET_ORIGINS") for line in problems)
    assert any("lb.example" in line and line.startswith("FRONT_PROXIES") for line in problems)
    assert not any("10.0.0.0/8" in line for line in problems)


def test_a_complete_topology_has_no_problem(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-")
    key.write_text("-")
    env = {
        **PRODUCTION_ENV,
        "ACTION_SERVER_TOKEN": "a-real-actions-token",
        "ACCOUNT_API_TOKEN": "a-real-api-token",
        "TLS_CERT": str(cert),
        "TLS_KEY": str(key),
        "WIDGET_ORIGINS": "https://www.assureur.example",
        "FRONT_PROXIES": "10.0.0.0/8,192.0.2.1",
    }
    assert topology_problems(env) == []
