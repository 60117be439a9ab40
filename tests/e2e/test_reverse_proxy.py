"""The README's reverse proxy (docs/nginx.conf) in front of the stack: what it publishes
works, and what must never be public is not reachable through it."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import ROOT

CONFIG = ROOT / "docs" / "nginx.conf"


@pytest.fixture(scope="module")
def proxy(stack: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's nginx with docs/nginx.conf, its upstreams pointed at this stack's ports."""
    setup = subprocess.run(
        [str(ROOT / "scripts" / "nginx-test-setup")], capture_output=True, text=True
    )
    if setup.returncode != 0:
        pytest.fail(f"scripts/nginx-test-setup failed:\n{setup.stderr}")
    nginx = setup.stdout.strip()
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    config = (
        CONFIG.read_text()
        .replace("127.0.0.1:8000", urlsplit(stack["web"]).netloc)
        .replace("127.0.0.1:5005", urlsplit(stack["rasa"]).netloc)
        .replace("listen 8080;", f"listen 127.0.0.1:{port};")
        .replace("worker_processes auto;", "worker_processes 1;\ndaemon off;")
    )
    (prefix / "nginx.conf").write_text(config)
    error_log = (prefix / "error.log").open("w")
    process = subprocess.Popen(
        [nginx, "-c", str(prefix / "nginx.conf"), "-p", f"{prefix}/"],
        stdout=subprocess.DEVNULL,
        stderr=error_log,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_for(base + "/widget/widget.js", process, prefix / "error.log")
    yield base
    process.terminate()
    process.wait(timeout=10)
    error_log.close()


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nginx does not answer {url}")


async def test_the_chat_works_through_the_proxy(proxy: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy + "/widget/widget.js") as response:
            assert response.status == 200
        payload = {"sender": "proxy-user", "message": "bonjour"}
        async with http.post(proxy + "/webhooks/rest/webhook", json=payload) as response:
            assert response.status == 200
            answers = await response.json()
        assert answers and answers[0]["text"]
        # socket.io's handshake (Engine.IO polling), as the widget opens it.
        async with http.get(proxy + "/socket.io/?EIO=4&transport=polling") as response:
            assert response.status == 200
            assert '"sid"' in await response.text()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/status"),
        ("GET", "/conversations/web-00000000000000000000000000000000/tracker"),
        ("PUT", "/model"),
        ("DELETE", "/model"),
        ("POST", "/model/parse"),
        ("POST", "/webhook"),  # the action server's route
        ("POST", "/api/v1/companies/verify"),
        ("GET", "/api/v1/openapi.yaml"),
        ("GET", "/uploads/some-token"),
        ("DELETE", "/uploads/some-token"),
        ("GET", "/webhooks/rest/webhook/../../status"),
    ],
)
async def test_what_must_never_be_public_is_not_reachable(
    proxy: str, method: str, path: str
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, proxy + path, json={}) as response:
            assert response.status in (403, 404, 405)
            body = await response.text()
    assert "tracker" not in body and "model_file" not in body
