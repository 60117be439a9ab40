"""Telegram, as Rasa's connector with files, inline keyboards and a checked secret.

Rasa 3.6's `TelegramInput` drops photos and documents, checks nothing but the bot's
name (with a `getMe` call per message), and calls the Bot API through aiogram with
`asyncio.run` when it builds its output. This channel keeps its name and URL
(`/webhooks/telegram/webhook`) and:

- refuses every update whose `X-Telegram-Bot-Api-Secret-Token` header is not the
  `secret_token` given to `setWebhook`;
- turns a photo (its largest size) or a document into an attachment whose URL is
  resolved through `getFile`: `<api>/file/bot<token>/<file_path>`, a URL that carries
  the token, so it is never logged;
- sends the domain's buttons as an inline keyboard, one button per row; a button's
  `callback_data` is its payload (its number when the payload is longer than
  Telegram's 64 bytes); the keyboard is removed once answered;
- maps Telegram's `/start` to `/greet`, and ignores chats that are not private.

Settings (credentials.yml section `channels.telegram.TelegramInput`, else environment):
`access_token` / `TELEGRAM_TOKEN`, `secret_token` / `TELEGRAM_SECRET_TOKEN`,
`webhook_url` / `TELEGRAM_WEBHOOK_URL` (registered with `setWebhook` at start-up when
set), `api_url` / `TELEGRAM_API_URL` (default `https://api.telegram.org`).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.messaging import (
    SEND_DOCUMENT,
    ProviderApi,
    attachment,
    chosen_payload,
    chunks,
    not_configured,
    offered_buttons,
    refused,
    setting,
    webhook_blueprint,
    with_advisor,
)

logger = logging.getLogger(__name__)

API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
NOT_RECEIVED = "Je n'ai pas pu recevoir votre fichier. Envoyez-le de nouveau, s'il vous plaît."


class TelegramBotApi(ProviderApi):
    """The Bot API methods this channel calls."""

    def __init__(self, api_url: str, token: str) -> None:
        super().__init__("telegram")
        self.api_url = api_url.rstrip("/")
        self._token = token

    async def method(self, name: str, payload: dict[str, Any]) -> Any:
        answer = await self.call(
            "POST", f"{self.api_url}/bot{self._token}/{name}", name, json=payload
        )
        return answer.get("result") if isinstance(answer, dict) and answer.get("ok") else None

    async def file_url(self, file_id: str) -> str | None:
        """The download URL of a file the user sent (it carries the token)."""
        found = await self.method("getFile", {"file_id": file_id})
        path = found.get("file_path") if isinstance(found, dict) else None
        if not isinstance(path, str) or not path:
            return None
        return f"{self.api_url}/file/bot{self._token}/{path}"


class TelegramOutput(OutputChannel):
    """Messages to a Telegram chat through the Bot API."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, api: TelegramBotApi) -> None:
        self.api = api

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in chunks(with_advisor(text, kwargs), MAX_TEXT):
            await self.api.method("sendMessage", {"chat_id": recipient_id, "text": part})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        keyboard = [
            [{"text": str(button.get("title", "")), "callback_data": callback_data(button, index)}]
            for index, button in enumerate(buttons, 1)
        ]
        await self.api.method(
            "sendMessage",
            {
                "chat_id": recipient_id,
                "text": with_advisor(text, kwargs)[:MAX_TEXT],
                "reply_markup": {"inline_keyboard": keyboard},
            },
        )

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.api.method("sendPhoto", {"chat_id": recipient_id, "photo": image})


def callback_data(button: dict[str, Any], index: int) -> str:
    """The payload, or the option's number when the payload is too long for Telegram."""
    payload = str(button.get("payload", ""))
    return payload if len(payload.encode()) <= MAX_CALLBACK_DATA else str(index)


class TelegramInput(RasaTelegramInput):
    """Rasa's Telegram channel with files, keyboards and a checked secret (see module)."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        env = os.environ
        return cls(
            setting(credentials, "access_token", env, "TELEGRAM_TOKEN"),
            setting(credentials, "secret_token", env, "TELEGRAM_SECRET_TOKEN"),
            setting(credentials, "webhook_url", env, "TELEGRAM_WEBHOOK_URL"),
            setting(credentials, "api_url", env, "TELEGRAM_API_URL") or API_URL,
        )

    def __init__(
        self,
        access_token: str | None,
        secret_token: str | None,
        webhook_url: str | None,
        api_url: str = API_URL,
    ) -> None:
        super().__init__(access_token, None, webhook_url, debug_mode=False)
        self.secret_token = secret_token
        self.api = TelegramBotApi(api_url, access_token or "")

    @property
    def enabled(self) -> bool:
        return bool(self.access_token and self.secret_token)

    def get_output_channel(self) -> TelegramOutput:
        return TelegramOutput(self.api)

    def signed(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "")
        return bool(self.secret_token) and hmac.compare_digest(
            given.encode(), str(self.secret_token).encode()
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(
            "telegram_webhook",
            self.enabled,
            "Telegram channel not configured (TELEGRAM_TOKEN, TELEGRAM_SECRET_TOKEN)",
            self.api.close,
        )

        @webhook.listener("after_server_start")
        async def register_webhook(app: Any, _: Any) -> None:
            if self.enabled and self.webhook_url:
                done = await self.api.method(
                    "setWebhook",
                    {
                        "url": self.webhook_url,
                        "secret_token": self.secret_token,
                        "allowed_updates": ["message", "callback_query"],
                    },
                )
                logger.info("Telegram webhook %s", "registered" if done else "NOT registered")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.enabled:
                return not_configured()
            if not self.signed(request):
                return refused("Telegram webhook", "missing or wrong secret token")
            update = request.json if isinstance(request.json, dict) else {}
            await self.handle(request, update, on_new_message)
            return response.text("success")

        return webhook

    async def handle(
        self,
        request: Request,
        update: dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        output = self.get_output_channel()
        query = update.get("callback_query")
        message = query.get("message") if isinstance(query, dict) else update.get("message")
        if not isinstance(message, dict):
            return  # edited messages, channel posts…: not a turn of the conversation
        chat = message.get("chat") or {}
        if chat.get("type") != "private" or chat.get("id") is None:
            return
        sender = str(chat["id"])
        metadata: dict[str, Any] | None = None

        if isinstance(query, dict):
            await self.api.method("answerCallbackQuery", {"callback_query_id": query.get("id")})
            await self.api.method(
                "editMessageReplyMarkup",
                {
                    "chat_id": sender,
                    "message_id": message.get("message_id"),
                    "reply_markup": {"inline_keyboard": []},
                },
            )
            text = str(query.get("data") or "")
            if not text.startswith("/"):  # the option's number (see callback_data)
                text = chosen_payload(text, await offered_buttons(request.app, sender)) or text
        elif isinstance(message.get("text"), str):
            text = message["text"]
            if text.split("@")[0].strip() == "/start":
                text = "/greet"
            else:
                text = chosen_payload(text, await offered_buttons(request.app, sender)) or text
        else:
            files = await self.attachments(message)
            if files is None:
                return  # a sticker, a location…: nothing the registration can use
            if not files:
                await output.send_text_message(sender, NOT_RECEIVED)
                return
            text, metadata = SEND_DOCUMENT, {"attachments": files}

        await on_new_message(
            UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
        )

    async def attachments(self, message: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The message's photo or document as attachments; [] when the Bot API could not
        give its path; None when the message carries neither."""
        photos = message.get("photo")
        document = message.get("document")
        filename: str | None
        content_type: str | None
        if isinstance(photos, list) and photos:
            largest = photos[-1]  # Telegram lists a photo's sizes from the smallest
            file_id, filename, content_type = largest.get("file_id"), None, "image/jpeg"
        elif isinstance(document, dict):
            file_id = document.get("file_id")
            filename, content_type = document.get("file_name"), document.get("mime_type")
        else:
            return None
        url = await self.api.file_url(str(file_id)) if file_id else None
        if url is None:
            return []
        if filename is None:
            filename = url.rsplit("/", 1)[-1]  # photos/file_12.jpg → file_12.jpg
        return [attachment(url, filename, content_type)]
