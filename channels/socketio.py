"""Rasa's socket.io channel, as the chat widget needs it.

Rasa 3.6's `SocketIOInput` calls python-socketio 5's `enter_room` coroutine without
awaiting it (RasaHQ/rasa#13027): with `session_persistence` the socket never joins its
session's room and every answer is emitted to nobody. This channel keeps Rasa's (the
events `session_request`, `session_confirm`, `user_uttered` with its `metadata`,
`bot_uttered`) and changes two handlers only:

- `session_request` awaits `enter_room`, leaves the room of the socket's previous
  session ("Nouvelle conversation"), accepts a requested id only if it is a web
  conversation id (`web-` + 32 hex, `bot.identifiers.WEB_CONVERSATION_ID`), else draws
  a new one, and keeps the confirmed id in the socket's session;
- `user_uttered` goes to the session confirmed for that socket only (a `session_id` in
  the message is ignored; without a confirmed session the message is dropped), its
  metadata an object whose `client_address` is the connection's real address
  (`channels.client_address`), whatever the client sent;
- `connect` refuses browsers from origins that are not allowed (a WebSocket is not
  covered by CORS): `cors_allowed_origins` in credentials.yml, else the environment's
  `WIDGET_ORIGINS` (comma-separated, `*` for any), else the web process's origins, as
  the Procfile's `--cors` (`PUBLIC_BASE_URL`, `http://localhost:$WEB_PORT`,
  `http://127.0.0.1:$WEB_PORT`). Clients that send no `Origin` (not browsers) connect.

Messages an advisor writes in the agent console reach the widget through Rasa's HTTP
API (`output_channel=latest`), whose `get_output_channel` gives an output that adds the
advisor's name (`{"text": …, "advisor": "Claire"}`) so that the widget shows who wrote.

With several Rasa replicas (`make prod`), the replica that emits a message (the one that
served the advisor's API call) is not always the one that holds the person's socket. When
`SOCKETIO_REDIS_URL` is set (`redis://:password@host:port/db`), the replicas share
python-socketio's `AsyncRedisManager`: every emit goes through Redis and reaches the
socket wherever it is connected (rooms and sessions stay on the replica of the socket).

The rest of the metadata of `user_uttered` reaches the tracker unchanged, as on the REST channel:
Rasa's handler passes it to `UserMessage`, whose `UserUttered` event carries it into
`tracker.latest_message["metadata"]`, where the actions read attachments.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput as RasaSocketIOOutput
from sanic import Blueprint
from socketio import AsyncRedisManager, AsyncServer

from bot.identifiers import WEB_CONVERSATION_ID, new_web_conversation_id
from channels.client_address import from_environ

logger = logging.getLogger(__name__)

ANY_ORIGIN = "*"
REDIS_URL_VARIABLE = "SOCKETIO_REDIS_URL"
# The Redis channel of the replicas' messages (one per assistant sharing a Redis server).
REDIS_CHANNEL = "espaceclient-socketio"


def allowed_origins(configured: str | Iterable[str] | None) -> frozenset[str]:
    """The origins whose pages may connect: configured, else from the environment."""
    if configured is None:
        configured = os.environ.get("WIDGET_ORIGINS") or None
    if configured is None:
        port = os.environ.get("WEB_PORT", "8000")
        configured = [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
        public = os.environ.get("PUBLIC_BASE_URL")
        if public:
            configured.append(public)
    if isinstance(configured, str):
        configured = configured.split(",")
    return frozenset(origin.strip().rstrip("/") for origin in configured if origin.strip())


def share_through_redis(sio: AsyncServer, url: str | None = None) -> bool:
    """Make `sio` emit through Redis (`SOCKETIO_REDIS_URL`), before any client connects;
    whether it does."""
    url = (url if url is not None else os.environ.get(REDIS_URL_VARIABLE, "")).strip()
    if not url:
        return False
    manager = AsyncRedisManager(url, channel=REDIS_CHANNEL)
    sio.manager = manager
    manager.set_server(sio)
    sio.manager_initialized = False
    return True


class SocketIOOutput(RasaSocketIOOutput):
    """Rasa's output, with the name of the advisor who wrote a message, if one did."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        advisor = kwargs.get("advisor")
        if not isinstance(advisor, str) or not advisor:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        await self._send_message(recipient_id, {"text": text, "advisor": advisor})


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel with awaited rooms and an origin check (see the module)."""

    origins: frozenset[str] = frozenset()

    @classmethod
    def name(cls) -> str:
        # Rasa's name: trackers, the HTTP API's output channel and the URLs stay the same.
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        channel = super().from_credentials(credentials)
        assert isinstance(channel, SocketIOInput)
        channel.origins = allowed_origins((credentials or {}).get("cors_allowed_origins"))
        return channel

    def get_output_channel(self) -> OutputChannel | None:
        if self.sio is None:
            return super().get_output_channel()
        return SocketIOOutput(self.sio, self.bot_message_evt)

    def origin_allowed(self, origin: str) -> bool:
        return ANY_ORIGIN in self.origins or origin.rstrip("/") in self.origins

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        if share_through_redis(sio):
            logger.info("socket.io messages go through Redis (%s)", REDIS_URL_VARIABLE)
        namespace = self.namespace or "/"
        rasa_connect = sio.handlers[namespace]["connect"]

        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if origin and not self.origin_allowed(origin):
                logger.warning("socket.io connection refused: origin not allowed")
                return False
            if not await rasa_connect(sid, environ, auth):
                return False
            async with sio.session(sid, namespace=namespace) as session:
                session["client_address"] = from_environ(environ)
            return True

        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            if isinstance(requested, str) and WEB_CONVERSATION_ID.fullmatch(requested):
                session_id = requested
            else:
                session_id = new_web_conversation_id()
            async with sio.session(sid, namespace=namespace) as session:
                previous = session.get("session_id")
                session["session_id"] = session_id
            if self.session_persistence:
                if previous and previous != session_id:
                    await sio.leave_room(sid, previous, namespace=namespace)
                await sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        async def user_uttered(sid: str, data: Any) -> None:
            async with sio.session(sid, namespace=namespace) as session:
                session_id = session.get("session_id")
                address = session.get("client_address")
            if not isinstance(session_id, str):
                logger.warning("socket.io message ignored: no session confirmed for the socket")
                return
            if not isinstance(data, dict):
                return
            text = data.get("message", "")
            if not isinstance(text, str):
                text = ""
            metadata = data.get(self.metadata_key)
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = None
            metadata = dict(metadata) if isinstance(metadata, dict) else {}
            metadata.pop("client_address", None)
            if address:
                metadata["client_address"] = address
            output_channel = SocketIOOutput(sio, self.bot_message_evt)
            await on_new_message(
                UserMessage(
                    text, output_channel, session_id, input_channel=self.name(), metadata=metadata
                )
            )

        sio.on("connect", connect, namespace=namespace)
        sio.on("session_request", session_request, namespace=namespace)
        sio.on(self.user_message_evt, user_uttered, namespace=namespace)
        return blueprint
