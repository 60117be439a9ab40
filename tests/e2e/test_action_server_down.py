"""The assistant always answers: with the action server killed, failing or silent, the
user gets one French message, the form stays at the same question with every answer
given before, and resending the answer once the server is back carries on.

The Procfile's three processes run here as separate processes (honcho would stop them
all when one is killed), on free ports, against the trained model. A broken action
server is a small aiohttp server on the action server's port: the component under
test is Rasa's handling of it (channels/resilience.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot import local_secrets
from bot.identifiers import web_conversation_id
from channels.resilience import UNAVAILABLE_TEXT
from tests.conftest import free_port
from tests.e2e.chat import FIRST_STEPS, say, slots_of, tracker_of
from tests.e2e.conftest import MODEL, ROOT, STARTUP_TIMEOUT, stack_environment

# Seconds Rasa waits for the action server here (120 by default).
ACTION_TIMEOUT = 15
# What the user types in these tests, which Rasa's log must never hold.
TYPED = ("Lefèvre", "Émilie", "AB123456", "552100554", "552 100 554")
# Text that a broken action server puts in its answers, which Rasa must not log either.
BODY_MARKER = "Corps-De-Reponse-Secret"
ACCOUNT_SERVICE_DOWN = "Le service d'inscription est momentanément indisponible"


def procfile() -> dict[str, str]:
    """The Procfile's commands by process name, as `make run` starts them."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


class Stack:
    """The web process, the action server and Rasa, each started and killed on its own."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.commands = procfile()
        self.ports = {
            "WEB_PORT": free_port(),
            "RASA_PORT": free_port(),
            "ACTIONS_PORT": free_port(),
        }
        self.env = stack_environment(
            tmp, self.ports, {"ACTION_SERVER_TIMEOUT_SECONDS": str(ACTION_TIMEOUT)}
        )
        self.env.pop(local_secrets.RASA_TOKEN_VARIABLE, None)
        self.urls = {
            "web": f"http://127.0.0.1:{self.ports['WEB_PORT']}",
            "rasa": f"http://127.0.0.1:{self.ports['RASA_PORT']}",
            "actions": f"http://127.0.0.1:{self.ports['ACTIONS_PORT']}",
            "rasa_token": local_secrets.read_or_create(Path(self.env["RASA_TOKEN_FILE"])),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, IO[str]] = {}

    def log_path(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def health_url(self, name: str) -> str:
        if name == "rasa":
            return self.urls["rasa"] + "/status?" + urlencode({"token": self.urls["rasa_token"]})
        return self.urls[name if name == "web" else "actions"] + "/health"

    def start(self, name: str) -> None:
        if name not in self.logs:
            self.logs[name] = self.log_path(name).open("a")
        self.processes[name] = subprocess.Popen(
            ["/bin/sh", "-c", self.commands[name]],
            cwd=ROOT,
            env=self.env,
            stdout=self.logs[name],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL the process (and its shell), as a crash would; return once its port
        is closed (the shell may exit before its child)."""
        process = self.processes.pop(name)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        port = self.ports[{"web": "WEB_PORT", "actions": "ACTIONS_PORT"}.get(name, "RASA_PORT")]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{name} still listens on {port} after SIGKILL")

    def wait_until_ready(self, *names: str) -> None:
        """Poll the health checks (blocking: for the fixture, outside the event loop)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for name in names:
            while not self._answers(name):
                self._check_running(name)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready; see {self.log_path(name)}")
                time.sleep(1)

    async def ready(self, http: aiohttp.ClientSession, name: str) -> None:
        """Wait until `name` answers its health check."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            self._check_running(name)
            with suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.get(self.health_url(name), timeout=5) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready; see {self.log_path(name)}")
            await asyncio.sleep(0.5)

    def _answers(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(self.health_url(name), timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _check_running(self, name: str) -> None:
        if self.processes[name].poll() is not None:
            raise RuntimeError(f"{name} exited; see {self.log_path(name)}")

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.logs.values():
            log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` first (make test does)")
    started = Stack(tmp_path_factory.mktemp("action-server-down"))
    try:
        for name in ("web", "actions", "rasa"):
            started.start(name)
        started.wait_until_ready("web", "actions", "rasa")
        yield started
    finally:
        started.stop()


@pytest.fixture(autouse=True)
def rasa_logs_nothing_typed(stack: Stack) -> Iterator[None]:
    """Each test starts with the three processes up (one that a failed test left
    killed is started again); after it, Rasa's log holds no answer of the user, no
    answer of a broken action server, and Rasa never went on without an action's events."""
    for name in ("web", "actions", "rasa"):
        if name not in stack.processes or stack.processes[name].poll() is not None:
            stack.start(name)
    stack.wait_until_ready("web", "actions", "rasa")
    yield
    log = stack.log_path("rasa").read_text(encoding="utf-8", errors="replace")
    for secret in (*TYPED, BODY_MARKER):
        assert secret not in log, f"Rasa logged {secret!r}"
    assert "Encountered an exception while running action" not in log


async def replies(http: aiohttp.ClientSession, stack: Stack, sender: str, text: str) -> list[str]:
    """Every message the REST channel answers to `text`, one by one."""
    payload = {"sender": sender, "message": text}
    async with http.post(f"{stack.urls['rasa']}/webhooks/rest/webhook", json=payload) as response:
        assert response.status == 200
        return [reply.get("text", "") for reply in await response.json()]


async def answer_steps(http: aiohttp.ClientSession, stack: Stack, sender: str, count: int) -> None:
    for typed, expected in FIRST_STEPS[:count]:
        answer = await say(http, stack.urls["rasa"], sender, typed)
        assert expected in answer, f"after {typed!r} the assistant said {answer!r}"


def unavailable_said(tracker: dict[str, Any]) -> int:
    return sum(
        1
        for event in tracker["events"]
        if event["event"] == "bot" and event.get("text") == UNAVAILABLE_TEXT
    )


COMPANY = {
    "siren": "552100554",
    "contract_number": "AB123456",
    "company_name": "Maison Démo Industries SA",
    "company_confirmed": True,
    "civility": "Mme",
}


async def test_the_action_server_killed_mid_form_gets_an_answer_and_loses_nothing(
    stack: Stack,
) -> None:
    sender = "e2e-action-server-killed"
    async with aiohttp.ClientSession() as http:
        await answer_steps(http, stack, sender, 4)  # up to « nom de famille »
        before = await slots_of(http, stack.urls, sender)
        assert before["requested_slot"] == "last_name"
        assert {name: before[name] for name in COMPANY} == COMPANY

        stack.kill("actions")
        assert await replies(http, stack, sender, "Lefèvre") == [UNAVAILABLE_TEXT]
        tracker = await tracker_of(http, stack.urls, sender)
        assert tracker["active_loop"]["name"] == "registration_form"
        assert tracker["slots"] == before, "same question, same answers, nothing unvalidated"
        assert tracker["latest_action_name"] == "action_listen"
        # Still down: the same single answer, the same state.
        assert await replies(http, stack, sender, "Lefèvre") == [UNAVAILABLE_TEXT]
        tracker = await tracker_of(http, stack.urls, sender)
        assert tracker["slots"] == before
        assert unavailable_said(tracker) == 2

        stack.start("actions")
        await stack.ready(http, "actions")
        answer = await say(http, stack.urls["rasa"], sender, "Lefèvre")
        assert "prénom" in answer, answer
        after = await slots_of(http, stack.urls, sender)
        assert after["last_name"] == "Lefèvre"
        assert after["requested_slot"] == "first_name"
        assert {name: after[name] for name in COMPANY} == COMPANY
        answer = await say(http, stack.urls["rasa"], sender, "Émilie")
        assert "date de naissance" in answer, answer
        assert (await slots_of(http, stack.urls, sender))["first_name"] == "Émilie"

    log = stack.log_path("rasa").read_text(encoding="utf-8", errors="replace")
    assert "custom action validate_registration_form not run" in log


@asynccontextmanager
async def broken_action_server(stack: Stack, modes: dict[str, str]) -> AsyncIterator[None]:
    """The real action server killed, and in its place on its port a server that answers
    each conversation's calls as `modes` says: "500", "invalid" (a 200 that is not an
    action server's answer) or "silent" (never answers)."""
    released = asyncio.Event()

    async def webhook(request: web.Request) -> web.StreamResponse:
        mode = modes[(await request.json())["sender_id"]]
        if mode == "500":
            return web.json_response({"error": f"internal error {BODY_MARKER}"}, status=500)
        if mode == "invalid":
            return web.json_response({"events": f"{BODY_MARKER} Lefèvre", "responses": 3})
        await released.wait()
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    stack.kill("actions")
    await web.TCPSite(runner, "127.0.0.1", stack.ports["ACTIONS_PORT"]).start()
    try:
        yield
    finally:
        released.set()
        await runner.cleanup()
        stack.start("actions")


@pytest.mark.parametrize("mode", ["500", "invalid", "silent"])
async def test_a_failing_action_server_gets_the_same_answer(stack: Stack, mode: str) -> None:
    sender = f"e2e-action-server-{mode}"
    async with aiohttp.ClientSession() as http:
        await answer_steps(http, stack, sender, 3)  # up to « civilité »
        before = await slots_of(http, stack.urls, sender)
        assert before["requested_slot"] == "civility"

        async with broken_action_server(stack, {web_conversation_id(sender): mode}):
            started = time.monotonic()
            answers = await replies(http, stack, sender, '/inform{"civility":"Mme"}')
            waited = time.monotonic() - started
            assert answers == [UNAVAILABLE_TEXT]
            assert (await slots_of(http, stack.urls, sender)) == before
        if mode == "silent":
            assert ACTION_TIMEOUT - 1 < waited < ACTION_TIMEOUT + 30

        await stack.ready(http, "actions")
        answer = await say(http, stack.urls["rasa"], sender, '/inform{"civility":"Mme"}')
        assert "nom de famille" in answer, answer
        after = await slots_of(http, stack.urls, sender)
        assert after["civility"] == "Mme"
        assert after["company_name"] == "Maison Démo Industries SA"

    log = stack.log_path("rasa").read_text(encoding="utf-8", errors="replace")
    reason = {"500": "HTTP 500", "invalid": "ValidationError", "silent": "TimeoutError"}[mode]
    assert f"action server unavailable: {reason}" in log


async def test_the_account_service_down_is_told_by_the_action_server(stack: Stack) -> None:
    """The web process down, the action server up: its own French message, not Rasa's."""
    sender = "e2e-account-service-down"
    async with aiohttp.ClientSession() as http:
        await answer_steps(http, stack, sender, 1)  # « SIREN »
        stack.kill("web")
        try:
            answer = await say(http, stack.urls["rasa"], sender, FIRST_STEPS[1][0])
        finally:
            stack.start("web")
        assert ACCOUNT_SERVICE_DOWN in answer, answer
        assert UNAVAILABLE_TEXT not in answer
        await stack.ready(http, "web")
        slots = await slots_of(http, stack.urls, sender)
        assert slots["siren"] == "552100554"
        assert slots["company_name"] is None
        assert slots["requested_slot"] == "contract_number"
        answer = await say(http, stack.urls["rasa"], sender, FIRST_STEPS[1][0])
        assert "Maison Démo Industries SA" in answer, answer
