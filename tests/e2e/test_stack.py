"""`make run`'s Procfile brings up the three processes, and the assistant answers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
STARTUP_TIMEOUT = 180


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` first (make test does)")
    tmp = tmp_path_factory.mktemp("stack")
    ports = {"WEB_PORT": free_port(), "RASA_PORT": free_port(), "ACTIONS_PORT": free_port()}
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{ports['ACTIONS_PORT']}/webhook\n"
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp / 'tracker.db'}\n"
    )
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "RASA_ENDPOINTS": str(endpoints),
        "DATABASE_URL": f"sqlite:///{tmp / 'accounts.db'}",
        "OUTBOX_DIR": str(tmp / "outbox"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['WEB_PORT']}",
        "RASA_URL": f"http://127.0.0.1:{ports['RASA_PORT']}",
    }
    log = (tmp / "honcho.log").open("w")
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/honcho"), "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    urls = {
        "web": f"http://127.0.0.1:{ports['WEB_PORT']}",
        "rasa": f"http://127.0.0.1:{ports['RASA_PORT']}",
        "actions": f"http://127.0.0.1:{ports['ACTIONS_PORT']}",
        "log": str(tmp / "honcho.log"),
    }
    try:
        asyncio.run(_wait_until_ready(urls, process))
        yield urls
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


async def _wait_until_ready(urls: dict[str, str], process: subprocess.Popen[bytes]) -> None:
    probes = [urls["web"] + "/health", urls["actions"] + "/health", urls["rasa"] + "/status"]
    deadline = time.monotonic() + STARTUP_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while probes:
            if process.poll() is not None:
                raise RuntimeError(f"honcho exited early; see {urls['log']}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready: {probes}; see {urls['log']}")
            try:
                async with http.get(probes[0]) as response:
                    if response.status == 200:
                        probes.pop(0)
                        continue
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(1)


async def test_three_processes_answer_their_health_checks(stack: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(stack["rasa"] + "/status") as response:
            assert (await response.json())["model_file"].endswith("current.tar.gz")
        async with http.get(stack["web"] + "/") as response:
            page = await response.text()
            assert "Créer mon espace client entreprise" in page
            assert stack["rasa"] in page, "the page talks to this stack's Rasa server"


async def test_the_assistant_greets_in_french(stack: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            stack["rasa"] + "/webhooks/rest/webhook", json={"sender": "e2e-1", "message": "bonjour"}
        ) as response:
            replies = await response.json()
    assert replies, "the assistant said nothing"
    assert "Bonjour" in replies[0]["text"]
    assert "espace client" in replies[0]["text"]


async def test_logs_are_prefixed_by_process(stack: dict[str, str]) -> None:
    prefixes = {
        line.split("|")[0].split()[-1]
        for line in Path(stack["log"]).read_text().splitlines()
        if "|" in line
    }
    assert {"web.1", "actions.1", "rasa.1"} <= prefixes
