"""socket.io through nginx with two replicas: a long-polling client's requests all reach
the replica that holds its session, and an advisor's message reaches the socket whichever
replica Rasa's HTTP API call lands on (the replicas' Redis message queue). The browser's
WebSocket is in test_widget.py (python-socketio's WebSocket needs a newer aiohttp)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import aiohttp
import pytest
import socketio

from bot.identifiers import new_web_conversation_id
from bot.rasa_client import RasaClient
from tests.deploy.conftest import RASA_TOKEN, Topology, https_client


# python-socketio cancels its long-poll when it disconnects, and aiohttp 3.9 then never
# closes that TLS connection: collected here, in this test, rather than in the next one.
@pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
async def test_an_advisor_message_reaches_the_socket_from_either_replica(
    topology: Topology,
) -> None:
    async with https_client() as polls:
        await advisor_messages_reach_the_socket(topology, polls)
    gc.collect()


async def advisor_messages_reach_the_socket(
    topology: Topology, polls: aiohttp.ClientSession
) -> None:
    received: asyncio.Queue[Any] = asyncio.Queue()
    confirmed: asyncio.Queue[str] = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False, ssl_verify=False, http_session=polls)
    client.on("bot_uttered", received.put)
    client.on("session_confirm", confirmed.put)
    session = new_web_conversation_id()
    # A page of the public entry, as the widget on the demo page.
    await client.connect(
        topology.base, socketio_path="/socket.io", headers={"Origin": topology.base},
        transports=["polling"], wait_timeout=30,
    )  # fmt: skip
    try:
        await client.emit("session_request", {"session_id": session})
        assert await asyncio.wait_for(confirmed.get(), 30) == session
        await client.emit("user_uttered", {"message": "bonjour", "session_id": session})
        greeting = await asyncio.wait_for(received.get(), 60)
        assert "Bonjour" in greeting["text"]

        async with topology.session() as http:
            senders = {
                **{name: f"http://127.0.0.1:{port}" for name, port in topology.replicas.items()},
                # What the web process uses (RASA_API_URL): nginx's loopback server.
                "api": f"http://127.0.0.1:{topology.ports['api']}",
            }
            for name, url in senders.items():
                text = f"Bonjour, ici Claire (par {name})."
                await RasaClient(url, RASA_TOKEN, http).send_advisor_message(
                    session, text, "Claire"
                )
                message = await asyncio.wait_for(received.get(), 30)
                assert message == {"text": text, "advisor": "Claire"}, name
        # Every poll reached the replica of the session (else its sid would be unknown).
        assert client.connected and client.transport() == "polling"
    finally:
        await client.disconnect()
