"""Rasa's socket.io channel as the widget uses it (channels/socketio.py), without a
browser: rooms joined, metadata delivered, foreign origins refused.

python-socketio's own client needs a newer aiohttp for WebSockets, and over long polling
it waits for the next ping to disconnect; these few lines of the protocol (Engine.IO 4,
Socket.IO 5) over aiohttp's WebSocket are all the tests need.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bot.identifiers import WEB_CONVERSATION_ID, new_web_conversation_id


class Refused(Exception):
    """The server refused the connection to the namespace."""


class SocketIO:
    """A Socket.IO client reduced to the default namespace and events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send_str("42" + json.dumps([event, data]))

    async def receive(self, event: str, timeout: float = 30) -> Any:
        """The data of the next `event`, answering pings meanwhile."""
        return await asyncio.wait_for(self._next(event), timeout)

    async def _next(self, event: str) -> Any:
        while True:
            packet = await self.ws.receive_str()
            if packet == "2":
                await self.ws.send_str("3")
            elif packet.startswith("42"):
                name, data = json.loads(packet[2:])
                if name == event:
                    return data


@asynccontextmanager
async def socketio(rasa: str, origin: str | None = None) -> AsyncIterator[SocketIO]:
    headers = {"Origin": origin} if origin else {}
    url = rasa.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        assert (await ws.receive_str()).startswith("0{"), "Engine.IO's open packet"
        await ws.send_str("40")
        answer = await ws.receive_str()
        if answer.startswith("44"):
            raise Refused(answer)
        assert answer.startswith("40{"), answer
        yield SocketIO(ws)


async def test_answers_reach_the_session_room_and_metadata_reaches_the_tracker(
    browser_stack: dict[str, str],
) -> None:
    session_id = new_web_conversation_id()
    attachment = {"url": "https://ailleurs.example/x.png", "filename": "x.png"}
    async with socketio(browser_stack["rasa"], origin=browser_stack["web"]) as client:
        await client.emit("session_request", {"session_id": session_id})
        assert await client.receive("session_confirm") == session_id
        await client.emit(
            "user_uttered",
            {
                "message": "bonjour",
                "session_id": session_id,
                "metadata": {"attachments": [attachment]},
            },
        )
        answer = await client.receive("bot_uttered")
    assert "Bonjour" in answer["text"], "Rasa's own channel emits to a room nobody joined"

    async with aiohttp.ClientSession() as http:
        url = f"{browser_stack['rasa']}/conversations/{session_id}/tracker"
        async with http.get(url, params={"token": browser_stack["rasa_token"]}) as response:
            latest = (await response.json())["latest_message"]
    # The client's address is the connection's, set by the channel.
    assert latest["metadata"] == {"attachments": [attachment], "client_address": "127.0.0.1"}


async def test_a_new_session_leaves_the_room_of_the_previous_one(
    browser_stack: dict[str, str],
) -> None:
    first, second = new_web_conversation_id(), new_web_conversation_id()
    async with socketio(browser_stack["rasa"]) as client:
        for session_id in (first, second):
            await client.emit("session_request", {"session_id": session_id})
            assert await client.receive("session_confirm") == session_id
        # The message goes to the session confirmed last, whatever it names.
        await client.emit("user_uttered", {"message": "bonjour", "session_id": first})
        assert "Bonjour" in (await client.receive("bot_uttered"))["text"]
    async with aiohttp.ClientSession() as http:
        for session_id, expected in ((first, 0), (second, 1)):
            url = f"{browser_stack['rasa']}/conversations/{session_id}/tracker"
            async with http.get(url, params={"token": browser_stack["rasa_token"]}) as response:
                events = (await response.json())["events"]
            assert len([event for event in events if event["event"] == "user"]) == expected


async def test_a_malformed_session_id_gets_a_new_one(browser_stack: dict[str, str]) -> None:
    async with socketio(browser_stack["rasa"]) as client:
        await client.emit("session_request", {"session_id": "../<script>"})
        session_id = await client.receive("session_confirm")
        # Nor an id of another form, such as a messaging channel's.
        await client.emit("session_request", {"session_id": "whatsapp:+33600000001"})
        other = await client.receive("session_confirm")
    assert WEB_CONVERSATION_ID.fullmatch(session_id)
    assert WEB_CONVERSATION_ID.fullmatch(other) and other != session_id


async def test_pages_of_other_origins_cannot_connect(browser_stack: dict[str, str]) -> None:
    with pytest.raises(Refused):
        async with socketio(browser_stack["rasa"], origin="https://pirate.example"):
            pass
