"""Rasa's REST channel (`POST /webhooks/rest/webhook`), safe to expose to the public.

- The conversation is `web_conversation_id(sender)`: a well-formed web id is itself,
  anything else is hashed into the web namespace, so that no client names a messaging
  channel's conversation (`whatsapp:+33…`, a Telegram chat id) or another's by guess.
- `input_channel` is always "rest"; `metadata` must be an object (else it is dropped)
  and its `client_address` is always the connection's real address (see
  `channels.client_address`).
- The route never logs the message text and always answers JSON, in French on errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.identifiers import web_conversation_id
from channels.client_address import client_address
from channels.resilience import UNAVAILABLE_TEXT as UNAVAILABLE

logger = logging.getLogger(__name__)

MAX_SENDER_LENGTH = 128


def _error(message: str, status: int = 400) -> HTTPResponse:
    return response.json({"error": {"code": "invalid_message", "message": message}}, status)


class RestInput(RasaRestInput):
    """Rasa's REST channel with web conversation ids and no content in logs."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except InvalidUsage:
                body = None
            if not isinstance(body, dict):
                return _error("Le message doit être un objet JSON.")
            sender = body.get("sender")
            if not isinstance(sender, str) or not sender or len(sender) > MAX_SENDER_LENGTH:
                return _error("Le champ « sender » doit être une chaîne de 1 à 128 caractères.")
            conversation_id = web_conversation_id(sender)
            text = body.get("message")
            metadata = body.get("metadata")
            if not isinstance(metadata, dict):
                metadata = None
            if (not isinstance(text, str) or not text.strip()) and metadata is None:
                return _error("Le message est vide : écrivez votre réponse.")
            if not isinstance(text, str):
                text = ""
            metadata = dict(metadata or {})
            metadata["client_address"] = client_address(
                request.conn_info.client_ip if request.conn_info else None,
                request.headers.get("X-Forwarded-For"),
            )
            if metadata["client_address"] is None:
                del metadata["client_address"]
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        conversation_id,
                        input_channel=self.name(),
                        metadata=metadata,
                    )
                )
            except (asyncio.CancelledError, Exception) as error:  # noqa: BLE001 - always JSON
                # Never the text: only the kind of failure.
                logger.error("REST message not handled: %s", type(error).__name__)
                return response.json([{"recipient_id": conversation_id, "text": UNAVAILABLE}])
            return response.json(collector.messages)

        return webhook
