"""`python -m actions.server` as the Procfile starts it: closed, bounded, and silent
about trackers."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from actions.server import DEFAULT_HOST, DEFAULT_PORT, parse_arguments
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-action-server-token"
SECRET = "Lefèvre-Ségolène-0612345678"  # personal data that must never come back


@dataclass
class ActionServer:
    url: str
    log: Path

    def logged(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    tmp = tmp_path_factory.mktemp("actions")
    port = free_port()
    env = {
        **os.environ,
        "ACTION_SERVER_TOKEN": TOKEN,
        "ACCOUNT_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nobody there
        "ACCOUNT_SERVICE_TIMEOUT": "0.5",
        "VAR_DIR": str(tmp / "var"),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("APP_ENV", None)
    log = tmp / "actions.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "actions.server", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = ActionServer(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, running.logged()
            try:
                with urllib.request.urlopen(running.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, running.logged()
            time.sleep(0.3)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def call(action: str, **tracker: Any) -> dict[str, Any]:
    """What Rasa sends to run `action`."""
    return {
        "next_action": action,
        "sender_id": "conv-server",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "conv-server",
            "slots": {"last_name": SECRET},
            "latest_message": {"text": f"je m'appelle {SECRET}", "intent": {"name": "inform"}},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
            **tracker,
        },
    }


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_defaults_are_loopback_and_5055(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIONS_HOST", raising=False)
    monkeypatch.delenv("ACTIONS_PORT", raising=False)
    arguments = parse_arguments([])
    assert (arguments.host, arguments.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 5055)
    monkeypatch.setenv("ACTIONS_PORT", "6000")
    assert parse_arguments([]).port == 6000
    assert parse_arguments(["--host", "::1", "--port", "7000"]).port == 7000


async def test_health_is_open(server: ActionServer, http: aiohttp.ClientSession) -> None:
    async with http.get(server.url + "/health") as answer:
        assert answer.status == 200
        assert await answer.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong"),
        bearer(""),
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
    ids=["none", "wrong", "empty", "no-scheme", "basic"],
)
@pytest.mark.parametrize("route", ["POST /webhook", "GET /actions", "GET /nowhere"])
async def test_calls_without_the_token_are_refused(
    server: ActionServer, http: aiohttp.ClientSession, headers: dict[str, str], route: str
) -> None:
    method, path = route.split()
    body = call("action_offer_handoff") if method == "POST" else None
    async with http.request(method, server.url + path, json=body, headers=headers) as answer:
        assert answer.status == 401
        assert await answer.json() == {"error": "unauthorized"}


async def test_rasa_with_the_token_runs_the_action(
    server: ActionServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        server.url + "/webhook", json=call("action_offer_handoff"), headers=bearer()
    ) as answer:
        assert answer.status == 200
        result = await answer.json()
    assert [r["response"] for r in result["responses"]] == ["utter_confirm_handoff"]
    async with http.get(server.url + "/actions", headers=bearer()) as answer:
        assert {"name": "validate_registration_form"} in await answer.json()


async def test_a_deflated_call_is_inflated(
    server: ActionServer, http: aiohttp.ClientSession
) -> None:
    body = zlib.compress(json.dumps(call("action_offer_handoff")).encode())
    headers = {**bearer(), "Content-Encoding": "deflate", "Content-Type": "application/json"}
    async with http.post(server.url + "/webhook", data=body, headers=headers) as answer:
        assert answer.status == 200
        assert (await answer.json())["responses"][0]["response"] == "utter_confirm_handoff"


def deflate_bomb(size: int = 200 << 20) -> bytes:
    """200 MiB of zeros in about 200 KB."""
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    return b"".join(compressor.compress(block) for _ in range(size >> 20)) + compressor.flush()


async def test_a_deflate_bomb_is_refused_and_the_server_stays_up(
    server: ActionServer, http: aiohttp.ClientSession
) -> None:
    headers = {**bearer(), "Content-Encoding": "deflate", "Content-Type": "application/json"}
    started = time.monotonic()
    async with http.post(server.url + "/webhook", data=deflate_bomb(), headers=headers) as answer:
        assert answer.status == 413
        assert await answer.json() == {"error": "request body too large"}
    assert time.monotonic() - started < 5
    async with http.post(
        server.url + "/webhook", json=call("action_offer_handoff"), headers=bearer()
    ) as answer:
        assert answer.status == 200


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Encoding": "gzip"}, b"{}", 415),
        ({"Content-Encoding": "br"}, b"{}", 415),
        ({"Content-Encoding": "deflate"}, b"not deflate", 400),
        ({}, b"x" * (5 << 20), 413),  # past the 4 MiB cap
    ],
    ids=["gzip", "br", "broken-deflate", "too-large"],
)
async def test_other_bodies_are_refused(
    server: ActionServer, http: aiohttp.ClientSession, headers: dict, body: bytes, status: int
) -> None:
    async with http.post(
        server.url + "/webhook", data=io.BytesIO(body), headers={**bearer(), **headers}
    ) as answer:
        assert answer.status == status


@pytest.mark.parametrize(
    ("broken", "outside"),
    [({"events": [42]}, {}), ({}, {"domain": None})],
    ids=["events", "domain"],
)
async def test_a_failing_action_never_answers_or_logs_the_tracker(
    server: ActionServer,
    http: aiohttp.ClientSession,
    broken: dict[str, Any],
    outside: dict[str, Any],
) -> None:
    body = {**call("validate_registration_form", **broken), **outside}
    async with http.post(server.url + "/webhook", json=body, headers=bearer()) as answer:
        assert answer.status == 500
        text = await answer.text()
    assert text == '{"error":"internal error"}'
    await asyncio.sleep(0.2)  # the log line is written after the answer
    logged = server.logged()
    assert "action validate_registration_form failed" in logged
    assert SECRET not in logged and "je m'appelle" not in logged
