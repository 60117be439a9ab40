"""The advisor queue never traps anyone, through the whole stack: a person waiting for an
advisor goes back to the assistant with « Revenir à l'assistant » (which Rasa alone would
ignore in a paused conversation), and a queue nobody can answer becomes a ticket while
the assistant resumes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import uuid

import aiohttp

from bot.identifiers import web_conversation_id
from channels.resilience import UNAVAILABLE_TEXT
from tests.e2e.chat import say, tracker_of
from tests.e2e.conftest import ROOT

PASSWORD = "correct horse battery staple 42"
ASK = "je voudrais parler à un conseiller s'il vous plaît"


def create_agent(stack: dict[str, str], login: str) -> None:
    """`python -m bot agents create`, as the support team's administrator does."""
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "bot", "agents", "create", login,
         "--name", "Claire Martin", "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, cwd=ROOT, capture_output=True,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{stack['accounts_db']}"},
    )  # fmt: skip


async def log_in(http: aiohttp.ClientSession, stack: dict[str, str], login: str) -> None:
    async with http.post(
        f"{stack['web']}/agent/login",
        data={"login": login, "password": PASSWORD, "next": ""},
        headers={"Origin": stack["web"]},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()


async def log_out(http: aiohttp.ClientSession, stack: dict[str, str]) -> None:
    async with http.post(
        f"{stack['web']}/agent/logout", headers={"Origin": stack["web"]}, allow_redirects=False
    ) as response:
        assert response.status in (200, 303), await response.text()


def handoff_of(stack: dict[str, str], sender: str) -> tuple[str, str | None]:
    """The status and outcome of the conversation's latest handoff."""
    with sqlite3.connect(stack["accounts_db"]) as db:
        row = db.execute(
            "SELECT status, outcome FROM handoffs WHERE conversation_id = ? ORDER BY id DESC",
            (web_conversation_id(sender),),
        ).fetchone()
    assert row is not None, "no handoff recorded"
    return row[0], row[1]


def external_intents(tracker: dict[str, object]) -> list[str]:
    events = tracker["events"]
    assert isinstance(events, list)
    return [
        event["parse_data"]["intent"]["name"]
        for event in events
        if event.get("event") == "user" and str(event.get("text", "")).startswith("EXTERNAL: ")
    ]


async def queued(http: aiohttp.ClientSession, stack: dict[str, str], sender: str) -> None:
    await say(http, stack["rasa"], sender, "bonjour, je voudrais créer mon espace client")
    await say(http, stack["rasa"], sender, ASK)
    answer = await say(http, stack["rasa"], sender, "oui volontiers")
    assert "Je transmets votre demande à un conseiller" in answer, answer
    assert handoff_of(stack, sender) == ("waiting", None)
    assert (await tracker_of(http, stack, sender))["paused"] is True


async def test_a_person_leaves_the_queue_and_the_assistant_answers_again(
    stack: dict[str, str],
) -> None:
    login, sender = "leave" + uuid.uuid4().hex[:8], "e2e-leave-" + uuid.uuid4().hex[:8]
    create_agent(stack, login)
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as advisor,
        aiohttp.ClientSession() as http,
    ):
        await log_in(advisor, stack, login)
        await queued(http, stack, sender)
        answer = await say(http, stack["rasa"], sender, "/leave_queue")
        assert answer.strip() and UNAVAILABLE_TEXT not in answer, answer
        assert handoff_of(stack, sender) == ("closed", "left")
        tracker = await tracker_of(http, stack, sender)
        assert tracker["paused"] is False
        assert external_intents(tracker)[-1] == "EXTERNAL_queue_left"
        # The assistant answers what comes next, and the person may ask again.
        assert await say(http, stack["rasa"], sender, "SIREN 552 100 554, contrat AB123456")
        await say(http, stack["rasa"], sender, ASK)
        answer = await say(http, stack["rasa"], sender, "oui volontiers")
        assert "Je transmets votre demande à un conseiller" in answer, answer
        # Typed in words, it works too.
        typed = "Finalement je préfère revenir à l'assistant"
        answer = await say(http, stack["rasa"], sender, typed)
        assert answer.strip() and UNAVAILABLE_TEXT not in answer, answer
        assert handoff_of(stack, sender) == ("closed", "left")
        await log_out(advisor, stack)


async def test_when_the_last_advisor_leaves_the_queue_becomes_a_ticket_and_the_assistant_resumes(
    stack: dict[str, str],
) -> None:
    login, sender = "ticket" + uuid.uuid4().hex[:8], "e2e-ticket-" + uuid.uuid4().hex[:8]
    create_agent(stack, login)
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as advisor,
        aiohttp.ClientSession() as http,
    ):
        await log_in(advisor, stack, login)
        await queued(http, stack, sender)
        await log_out(advisor, stack)
        # The web process looks every HANDOFF_QUEUE_POLL_SECONDS (1 s in these stacks).
        for _ in range(60):
            if handoff_of(stack, sender)[0] != "waiting":
                break
            await asyncio.sleep(0.5)
        assert handoff_of(stack, sender) == ("ticket", None)
        # Then the web process resumes the conversation in Rasa and tells it.
        for _ in range(60):
            tracker = await tracker_of(http, stack, sender)
            if external_intents(tracker):
                break
            await asyncio.sleep(0.5)
        assert tracker["paused"] is False
        assert external_intents(tracker)[-1] == "EXTERNAL_handoff_ticket"
        answer = await say(http, stack["rasa"], sender, "SIREN 552 100 554, contrat AB123456")
        assert answer.strip() and UNAVAILABLE_TEXT not in answer, answer
