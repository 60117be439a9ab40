"""A conversation that lasts: the tracker store starts a new session every few turns
(the test stacks use 30 events, channels/sessions.py), and the person notices nothing.
The form goes on where it was, « not understood » still counts in a row, each message
is stored once, and every session stays short."""

from __future__ import annotations

import sqlite3

import aiohttp

from bot.identifiers import web_conversation_id
from tests.e2e.chat import FIRST_STEPS, say, tracker_of
from tests.e2e.conftest import SESSION_EVENTS

QUESTIONS = (
    "pourquoi le siren ?",
    "où trouver mon numéro de contrat ?",
    "comment sont protégées mes données ?",
)
GIBBERISH = ("zorglub flim", "blurp wizz", "grmbl zouk")


def sessions(stack: dict[str, str], conversation: str) -> list[list[str]]:
    """The stored events of the conversation, session by session (their kinds)."""
    with sqlite3.connect(stack["tracker_db"]) as db:
        rows = db.execute(
            "SELECT type_name FROM events WHERE sender_id = ? ORDER BY id", (conversation,)
        ).fetchall()
    found: list[list[str]] = [[]]
    for (kind,) in rows:
        if kind == "session_started":
            found.append([])
        found[-1].append(kind)
    return [session for session in found if session]


async def test_a_long_conversation_goes_on_across_sessions(stack: dict[str, str]) -> None:
    sender = "e2e-long-conversation"
    conversation = web_conversation_id(sender)
    said = []
    async with aiohttp.ClientSession() as http:

        async def send(text: str) -> str:
            said.append(text)
            return await say(http, stack["rasa"], sender, text)

        assert "SIREN" in await send(FIRST_STEPS[0][0])
        for turn in range(12):
            assert "SIREN" in await send(QUESTIONS[turn % len(QUESTIONS)]), turn
        # Three messages not understood in a row: a hint, then help, then an advisor.
        answers = [await send(text) for text in GIBBERISH]
        assert "9 chiffres" in answers[1], answers[1]
        assert "conseiller" in answers[2], answers[2]
        assert "SIREN" in await send("non merci, je continue")
        for typed, expected in FIRST_STEPS[1:]:
            answer = await send(typed)
            assert expected in answer, f"after {typed!r} the assistant said {answer!r}"
        tracker = await tracker_of(http, stack, sender)

    # The form is where it was, with everything given before the new sessions.
    slots = tracker["slots"]
    assert (slots["siren"], slots["last_name"], slots["professional_email"]) == (
        "552100554",
        "Lefèvre",
        "emilie.lefevre@exemple-industries.fr",
    )
    assert slots["requested_slot"] == "id_document_type"
    # Each message once, in order, in the whole conversation (the advisors' console reads it).
    users = [event["text"] for event in tracker["events"] if event["event"] == "user"]
    assert users == said
    # Several sessions, each short.
    stored = sessions(stack, conversation)
    assert len(stored) >= 4, [len(session) for session in stored]
    assert max(len(session) for session in stored[1:-1]) <= SESSION_EVENTS + 15
