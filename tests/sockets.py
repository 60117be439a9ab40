"""What the tests' socket.io clients share."""

from __future__ import annotations

import asyncio

import aiohttp
import socketio


async def disconnect(client: socketio.AsyncClient, polls: aiohttp.ClientSession) -> None:
    """Disconnect a long-polling client as a page that closes does, without waiting.

    python-engineio's disconnect waits for its pending long poll, which the server answers
    at its next ping (25 s). Once the close packet is out, closing the client's HTTP
    session (`polls`, given to it as `http_session`) ends that poll at once."""
    disconnecting = asyncio.ensure_future(client.disconnect())
    await asyncio.wait({disconnecting}, timeout=1)
    await polls.close()
    await disconnecting
