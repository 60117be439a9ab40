"""The launcher's checks (`scripts/prod check`), and nginx's rendered configuration on its
own: the REST channel's answer when no replica answers, the page when the web process is
down, and TLS. None of these needs the topology to run."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.fernet import Fernet

from deploy import render
from deploy.topology import UNAVAILABLE_TEXT, load
from tests.conftest import free_port
from tests.deploy.conftest import FOREIGN, PROD, ROOT, https_client, self_signed

PRODUCTION = {
    "APP_ENV": "production",
    "RASA_TOKEN": "prod-rasa-token-0123456789abcdef",
    "ACTION_SERVER_TOKEN": "prod-actions-token-0123456789abcdef",
    "ACCOUNT_API_TOKENS": "prod-account-token-0123456789abcdef",
    "DOCUMENT_KEYS": Fernet.generate_key().decode(),
    "LOAD_DEMO_CONTRACTS": "0",
    "SMTP_URL": "smtp://mail.assureur.example:25",
    "PUBLIC_BASE_URL": "https://espace-client.assureur.example",
}


def check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (*FOREIGN, *PRODUCTION)}
    clean["PROD_DIR"] = str(tmp_path / "prod")
    return subprocess.run(
        [str(PROD), "check"], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_a_production_configuration_is_accepted(tmp_path: Path) -> None:
    done = check(tmp_path, **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert "Production mode" in done.stdout
    for secret in (PRODUCTION["RASA_TOKEN"], PRODUCTION["DOCUMENT_KEYS"]):
        assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RASA_TOKEN", None),
        ("ACTION_SERVER_TOKEN", None),
        ("ACCOUNT_API_TOKENS", None),
        ("ACCOUNT_API_TOKENS", "dev-local-token"),
        ("DOCUMENT_KEYS", None),
        ("SMTP_URL", None),
        ("LOAD_DEMO_CONTRACTS", None),
        ("PUBLIC_BASE_URL", None),
        ("PUBLIC_BASE_URL", "http://espace-client.assureur.example"),
        ("PUBLIC_BASE_URL", "https://localhost:8443"),
        ("WIDGET_ORIGINS", "*"),
        ("TLS_CERT", "/nonexistent/cert.pem"),
        ("FRONT_PROXIES", "10.0.0.0/8,lb.example"),
    ],
)
def test_production_refuses_each_default_by_name(
    tmp_path: Path, variable: str, value: str | None
) -> None:
    env = dict(PRODUCTION)
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    done = check(tmp_path, **env)
    assert done.returncode == 78, done.stdout + done.stderr
    refused = [line for line in done.stderr.splitlines() if line.startswith("scripts/prod:   - ")]
    assert refused and all(variable in line for line in refused), done.stderr
    assert not (tmp_path / "prod" / "run").exists(), "nothing was rendered"
    assert PRODUCTION["RASA_TOKEN"] not in done.stderr


def test_production_names_every_missing_setting_at_once(tmp_path: Path) -> None:
    done = check(tmp_path, APP_ENV="production")
    assert done.returncode == 78
    for variable in (
        "RASA_TOKEN", "ACTION_SERVER_TOKEN", "ACCOUNT_API_TOKENS", "DOCUMENT_KEYS", "SMTP_URL",
        "LOAD_DEMO_CONTRACTS", "PUBLIC_BASE_URL",
    ):  # fmt: skip
        assert variable in done.stderr


def test_a_local_trial_generates_its_secrets_and_says_what_production_would_refuse(
    tmp_path: Path,
) -> None:
    done = check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Local trial" in done.stdout
    assert "would refuse" in done.stdout and "DOCUMENT_KEYS" in done.stdout
    secrets = tmp_path / "prod" / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    names = {path.name for path in secrets.iterdir()}
    assert {"rasa-token", "document-keys", "redis-password", "account-api-token"} <= names
    for path in secrets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() not in done.stdout
    Fernet((secrets / "document-keys").read_text().strip())  # a valid key
    again = check(tmp_path)
    assert f"generated {secrets}" not in again.stdout, "generated once, then read"


def test_a_local_trial_stays_on_loopback(tmp_path: Path) -> None:
    done = check(tmp_path, PUBLIC_HOST="0.0.0.0")
    assert done.returncode == 78
    assert "PUBLIC_HOST" in done.stderr


@pytest.fixture
def lone_nginx(tmp_path: Path) -> Iterator[dict[str, str]]:
    """nginx from the launcher's rendering, with TLS, in front of replicas and a web process
    that do not run (their ports are closed)."""
    setup = subprocess.run([str(ROOT / "scripts" / "prod-setup")], capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr
    cert, key = self_signed(tmp_path, "localhost")
    ports = {name: free_port() for name in ("public", "tls", "api", "r1", "r2", "a", "w")}
    env = {
        **PRODUCTION,
        "PROD_DIR": str(tmp_path / "prod"),
        "PUBLIC_HOST": "127.0.0.1",
        "PUBLIC_PORT": str(ports["public"]),
        "TLS_PORT": str(ports["tls"]),
        "TLS_CERT": str(cert),
        "TLS_KEY": str(key),
        "RASA_API_PORT": str(ports["api"]),
        "RASA_PORTS": f"{ports['r1']},{ports['r2']}",
        "ACTIONS_PORT": str(ports["a"]),
        "WEB_PORT": str(ports["w"]),
        "NGINX_WORKERS": "1",
    }
    topology = load(env)
    render.render_all(topology)
    log = (tmp_path / "nginx.log").open("w")
    process = subprocess.Popen(
        [render.NGINX, "-c", str(topology.nginx_conf), "-p", f"{topology.nginx_dir}/"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while not topology.run_dir.joinpath("nginx.pid").exists():
        assert process.poll() is None, (tmp_path / "nginx.log").read_text()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    yield {
        "http": f"http://127.0.0.1:{ports['public']}",
        "https": f"https://127.0.0.1:{ports['tls']}",
        "base": env["PUBLIC_BASE_URL"],
    }
    process.terminate()
    process.wait(timeout=10)
    log.close()


async def test_without_replicas_or_web_process_people_still_get_french_answers(
    lone_nginx: dict[str, str],
) -> None:
    payload = {"sender": "nobody-home", "message": "bonjour"}
    async with https_client() as http:
        url = lone_nginx["https"] + "/webhooks/rest/webhook"
        async with http.post(url, json=payload) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json; charset=utf-8"
            body = json.loads(await response.text())
        assert body == [{"recipient_id": "", "text": UNAVAILABLE_TEXT}]

        async with http.get(lone_nginx["https"] + "/") as response:
            assert response.status == 503
            assert "momentanément indisponible" in await response.text()
            assert response.headers["Retry-After"] == "5"
            assert "max-age" in response.headers["Strict-Transport-Security"]

        form = aiohttp.FormData()
        form.add_field("sender_id", "nobody-home")
        form.add_field("file", b"%PDF-1.4", filename="cni.pdf", content_type="application/pdf")
        async with http.post(lone_nginx["https"] + "/uploads", data=form) as response:
            assert response.status == 503
            assert response.headers["Content-Type"] == "application/json; charset=utf-8"
            error = (await response.json())["error"]
        # The widget shows it after « Votre fichier n'a pas pu être envoyé : ».
        assert error == {
            "code": "service_unavailable",
            "message": "le service d'envoi est momentanément indisponible.",
        }

        # With TLS on, plain HTTP sends people to the public https address.
        url = lone_nginx["http"] + "/cgu?x=1"
        async with http.get(url, allow_redirects=False) as response:
            assert response.status == 301
            assert response.headers["Location"] == lone_nginx["base"] + "/cgu?x=1"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Rasa's dependencies, at import
def test_nginx_answers_the_text_rasa_answers() -> None:
    from channels.resilience import UNAVAILABLE_TEXT as RASA_TEXT

    assert UNAVAILABLE_TEXT == RASA_TEXT
    # The example of a single Rasa server too.
    assert RASA_TEXT in (ROOT / "docs" / "nginx.conf").read_text()
