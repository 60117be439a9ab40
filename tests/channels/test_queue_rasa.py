"""Leaving the advisor queue through a real Rasa server (`python -m channels.server run`,
with the hook of channels/queue.py) and the real web process, on loopback.

The assistant is a tiny model trained for these tests (keywords and rules only), so that
the hook is tested apart from the project's dialogue: a paused conversation that says
« Revenir à l'assistant » gets the answer of `EXTERNAL_queue_left` on its own channel
(the REST answer), its handoff is closed, and it is no longer paused."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.french import PARIS
from bot.identifiers import web_conversation_id
from bot.services import agents, handoffs
from bot.web.keys import SESSIONS
from channels.resilience import UNAVAILABLE_TEXT
from tests.bot.test_handoffs import handoff, log_in_advisor, stored
from tests.conftest import MovableClock, Service, free_port, start_service
from tests.e2e.conftest import ROOT

OPEN = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS).astimezone(timezone.utc)
BACK = "Me revoilà : reprenons votre inscription."
NOT_WAITING = "Vous n'êtes pas dans la file d'attente."
RASA_TOKEN = "tiny-rasa-token"
QUIET = {"PYTHONWARNINGS": "ignore", "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}

FILES = {
    "config.yml": """
        recipe: default.v1
        assistant_id: tiny-queue-test
        language: fr
        pipeline:
          - name: WhitespaceTokenizer
          - name: KeywordIntentClassifier
        policies:
          - name: RulePolicy
    """,
    "domain.yml": f"""
        version: "3.1"
        intents: [greet, leave_queue, EXTERNAL_queue_left]
        responses:
          utter_greet:
            - text: "Bonjour"
          utter_back:
            - text: "{BACK}"
          utter_not_waiting:
            - text: "{NOT_WAITING}"
        session_config:
          session_expiration_time: 60
          carry_over_slots_to_new_session: true
    """,
    "data/nlu.yml": """
        version: "3.1"
        nlu:
          - intent: greet
            examples: |
              - bonjour
              - salut
          - intent: leave_queue
            examples: |
              - revenir
    """,
    "data/rules.yml": """
        version: "3.1"
        rules:
          - rule: greet
            steps:
              - intent: greet
              - action: utter_greet
          - rule: back from the queue
            steps:
              - intent: EXTERNAL_queue_left
              - action: utter_back
          - rule: leaving while not waiting
            steps:
              - intent: leave_queue
              - action: utter_not_waiting
    """,
    "endpoints.yml": """
        lock_store:
          type: in_memory
    """,
}


@dataclass
class TinyRasa:
    url: str
    web_port: int

    async def say(self, http: aiohttp.ClientSession, sender: str, text: str) -> list[str]:
        async with http.post(
            f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
        ) as response:
            assert response.status == 200
            return [message.get("text", "") for message in await response.json()]

    async def pause(self, http: aiohttp.ClientSession, sender: str) -> None:
        """What `action_handoff` does once the handoff is queued."""
        async with http.post(
            f"{self.url}/conversations/{web_conversation_id(sender)}/tracker/events",
            params={"token": RASA_TOKEN},
            json=[{"event": "pause"}],
        ) as response:
            assert response.status == 200

    async def tracker(self, http: aiohttp.ClientSession, sender: str) -> dict[str, Any]:
        async with http.get(
            f"{self.url}/conversations/{web_conversation_id(sender)}/tracker",
            params={"token": RASA_TOKEN},
        ) as response:
            assert response.status == 200
            return dict(await response.json())


@pytest.fixture(scope="module")
def tiny_rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyRasa]:
    """The tiny model, trained once, served by the project's Rasa entry point; it reaches
    the account service on `web_port`, where each test starts the web process."""
    folder = tmp_path_factory.mktemp("tiny-rasa")
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))
    env = {**os.environ, **QUIET}
    trained = subprocess.run(
        [str(ROOT / ".venv/bin/rasa"), "train", "--config", "config.yml", "--domain",
         "domain.yml", "--data", "data", "--out", "models", "--fixed-model-name", "tiny"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    rasa_port, web_port = free_port(), free_port()
    env.update(
        ACCOUNT_SERVICE_URL=f"http://127.0.0.1:{web_port}",
        ACCOUNT_API_TOKEN="test-token",  # tests.conftest.API_TOKEN
        RASA_TOKEN=RASA_TOKEN,
        ACTION_SERVER_TOKEN_FILE=str(folder / "action-server-token"),
    )
    log = (folder / "rasa.log").open("w")
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "channels.server", "run",
         "--model", str(folder / "models" / "tiny.tar.gz"), "--enable-api",
         "--interface", "127.0.0.1", "--port", str(rasa_port),
         "--endpoints", str(folder / "endpoints.yml"),
         "--credentials", str(ROOT / "credentials.yml")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{rasa_port}"
    try:
        _wait_for(url, server, folder / "rasa.log")
        yield TinyRasa(url, web_port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _wait_for(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Rasa exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/status?token={RASA_TOKEN}", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise RuntimeError(f"Rasa did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture
async def web(
    tiny_rasa: TinyRasa, database_url: str, clock: MovableClock, tmp_path: Path
) -> AsyncIterator[Service]:
    """The web process where the tiny Rasa server looks for it, an advisor logged in."""
    clock.now = OPEN
    async with start_service(database_url, clock, tmp_path, port=tiny_rasa.web_port) as service:
        await log_in_advisor(service, clock)
        yield service


async def queued(service: Service, rasa: TinyRasa, http: aiohttp.ClientSession, sender: str) -> str:
    assert await rasa.say(http, sender, "bonjour") == ["Bonjour"]
    status, body = await service.post(
        "/api/v1/handoffs", handoff(conversation_id=web_conversation_id(sender))
    )
    assert (status, body["status"]) == (201, "queued")
    await rasa.pause(http, sender)
    assert await rasa.say(http, sender, "bonjour") == [], "a paused conversation is silent"
    return str(body["id"])


@pytest.mark.parametrize(
    "text", ["/leave_queue", "Revenir à l'assistant", "je ne veux plus attendre"]
)
async def test_a_paused_conversation_leaves_the_queue_and_is_answered(
    web: Service, tiny_rasa: TinyRasa, text: str
) -> None:
    sender = f"queue-{time.monotonic_ns()}"
    async with aiohttp.ClientSession() as http:
        reference = await queued(web, tiny_rasa, http, sender)
        assert await tiny_rasa.say(http, sender, text) == [BACK]
        row = await stored(web, reference)
        assert (row.status, row.outcome) == ("closed", "left")
        tracker = await tiny_rasa.tracker(http, sender)
        assert tracker["paused"] is False
        users = [e for e in tracker["events"] if e["event"] == "user"]
        assert [e["text"] for e in users[-2:]] == [text, "EXTERNAL: EXTERNAL_queue_left"]
        assert await tiny_rasa.say(http, sender, "salut") == ["Bonjour"], "answered again"


async def test_leaving_when_not_paused_is_an_ordinary_message(
    web: Service, tiny_rasa: TinyRasa
) -> None:
    sender = f"queue-{time.monotonic_ns()}"
    async with aiohttp.ClientSession() as http:
        assert await tiny_rasa.say(http, sender, "/leave_queue") == [NOT_WAITING]


async def test_once_an_advisor_has_it_the_message_goes_to_the_advisor(
    web: Service, tiny_rasa: TinyRasa, clock: MovableClock
) -> None:
    sender = f"queue-{time.monotonic_ns()}"
    async with aiohttp.ClientSession() as http:
        reference = await queued(web, tiny_rasa, http, sender)
        async with web.app[SESSIONS]() as session:
            (agent,) = await agents.list_agents(session)
            await handoffs.take(session, reference, agent, clock())
        assert await tiny_rasa.say(http, sender, "/leave_queue") == []
        assert (await stored(web, reference)).status == "active"
        tracker = await tiny_rasa.tracker(http, sender)
        assert tracker["paused"] is True
        said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
        assert said[-1] == "/leave_queue", "in the advisor's transcript"


async def test_without_the_account_service_the_person_is_told_and_stays_queued(
    tiny_rasa: TinyRasa, database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    sender = f"queue-{time.monotonic_ns()}"
    clock.now = OPEN
    async with aiohttp.ClientSession() as http:
        async with start_service(database_url, clock, tmp_path) as service:  # elsewhere
            await log_in_advisor(service, clock)
            reference = await queued(service, tiny_rasa, http, sender)
            assert await tiny_rasa.say(http, sender, "/leave_queue") == [UNAVAILABLE_TEXT]
            assert (await stored(service, reference)).status == "waiting"
            assert (await tiny_rasa.tracker(http, sender))["paused"] is True
