"""Nothing sent to the public web channels (REST, socket.io) reads or writes another
channel's conversation, nor another web conversation."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import socketio

from bot.identifiers import WEB_CONVERSATION_ID, new_web_conversation_id
from tests.security.helpers import (
    MESSAGING_IDS,
    PEOPLE,
    Stack,
    Victims,
    WebClient,
    assert_answered,
    replies_text,
)
from tests.sockets import disconnect

ATTACKS = [
    "bonjour",
    "je veux modifier mon adresse e-mail",
    "pirate.attaquant@exemple.com",
]


def assert_nothing_revealed(text: str, channel: str) -> None:
    person = PEOPLE[channel]
    for value in (person.last_name, person.first_name, person.email, person.birth_date):
        assert value not in text, f"the attacker read {value!r} of the {channel} victim"


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("channel", sorted(MESSAGING_IDS))
async def test_rest_sender_naming_a_messaging_user_reaches_a_web_conversation(
    stack: Stack, http: aiohttp.ClientSession, victims: Victims, channel: str, attack: str
) -> None:
    victim = victims.ids[channel]
    before = await stack.snapshot(http, victim)
    attacker = WebClient(stack, http)
    replies = await attacker.say(attack, sender=victim)

    recipients = {reply["recipient_id"] for reply in replies}
    assert len(recipients) == 1 and victim not in recipients
    assert WEB_CONVERSATION_ID.fullmatch(recipients.pop())
    assert_nothing_revealed(replies_text(replies), channel)
    await stack.assert_untouched(http, before)


async def test_a_rest_sender_keeps_its_own_conversation_shown_as_recipient_id(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    user = WebClient(stack, http, sender="simulated-user-1")
    first = await user.say("bonjour, je voudrais créer mon espace client")
    second = await user.say("SIREN 552 100 554, contrat AB123456")
    conversation = first[0]["recipient_id"]
    assert WEB_CONVERSATION_ID.fullmatch(conversation)
    assert {reply["recipient_id"] for reply in first + second} == {conversation}
    assert "Maison Démo Industries SA" in replies_text(second)
    slots = (await stack.tracker(http, conversation))["slots"]
    assert slots["siren"] == "552100554"


class SocketUser:
    """A socket.io client of the widget's channel, collecting what it is sent."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.polls = aiohttp.ClientSession()
        self.client = socketio.AsyncClient(reconnection=False, http_session=self.polls)
        self.received: list[dict[str, Any]] = []
        self.confirmed: asyncio.Queue[str] = asyncio.Queue()
        self.client.on("bot_uttered", self._uttered)
        self.client.on("session_confirm", self._confirm)

    async def _uttered(self, data: dict[str, Any]) -> None:
        self.received.append(data)

    async def _confirm(self, session_id: Any) -> None:
        await self.confirmed.put(str(session_id))

    async def connect(self, session_id: str) -> str:
        # Long polling: python-engineio's WebSocket transport needs aiohttp 3.10 (ClientWSTimeout).
        await self.client.connect(
            self.stack.rasa, transports=["polling"], socketio_path="socket.io"
        )
        await self.client.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 20)

    async def say(self, text: str, session_id: str) -> list[dict[str, Any]]:
        """Send with `session_id` in the message; what came back within the turn."""
        seen = len(self.received)
        await self.client.emit("user_uttered", {"message": text, "session_id": session_id})
        for _ in range(300):
            await asyncio.sleep(0.1)
            if len(self.received) > seen:
                await asyncio.sleep(1.0)  # the turn's other messages
                break
        return self.received[seen:]

    async def close(self) -> None:
        await disconnect(self.client, self.polls)


@pytest.mark.parametrize("channel", sorted(MESSAGING_IDS))
async def test_socketio_session_naming_a_messaging_user_is_not_granted(
    stack: Stack, http: aiohttp.ClientSession, victims: Victims, channel: str
) -> None:
    victim = victims.ids[channel]
    before = await stack.snapshot(http, victim)
    attacker = SocketUser(stack)
    try:
        confirmed = await attacker.connect(victim)
        assert confirmed != victim and WEB_CONVERSATION_ID.fullmatch(confirmed)
        replies = await attacker.say("je veux modifier mon adresse e-mail", victim)
    finally:
        await attacker.close()
    assert_answered(replies)
    assert_nothing_revealed(replies_text(replies), channel)
    await stack.assert_untouched(http, before)


@pytest.mark.parametrize("target", ["web", "whatsapp"])
async def test_socketio_message_naming_another_session_stays_in_the_confirmed_one(
    stack: Stack, http: aiohttp.ClientSession, victims: Victims, target: str
) -> None:
    victim = victims.ids[target]
    before = await stack.snapshot(http, victim)
    own = new_web_conversation_id()
    attacker = SocketUser(stack)
    try:
        assert await attacker.connect(own) == own
        replies = await attacker.say("bonjour, je voudrais créer mon espace client", victim)
    finally:
        await attacker.close()
    assert_answered(replies)
    assert "SIREN" in replies_text(replies)
    assert_nothing_revealed(replies_text(replies), target)
    await stack.assert_untouched(http, before)
    own_events = (await stack.tracker(http, own))["events"]
    assert any(event["event"] == "user" for event in own_events), "the message went elsewhere"
