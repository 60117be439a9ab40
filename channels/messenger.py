"""Facebook Messenger, as Rasa's connector with files, quick replies and a checked
signature.

Rasa 3.6's `FacebookInput` turns a photo or a file into its URL as message text,
checks the SHA-1 `X-Hub-Signature` only, handles one event per request and sends with
a blocking client. This channel keeps its name and URLs (`/webhooks/facebook/webhook`,
GET for the subscription check, POST for the events) and:

- refuses every POST whose `X-Hub-Signature-256` is not `sha256=` + the HMAC-SHA256 of
  the raw body with the app secret, and every subscription check whose
  `hub.verify_token` is not ours;
- turns images and files into attachments (URLs on Facebook's CDN, which the action
  server allow-lists: actions/clients/attachments.py), the file name taken from the URL;
- sends the domain's buttons as quick replies (titles cut at Messenger's 20
  characters); their payload comes back as the message; postbacks too;
- handles every event of a request, ignores echoes, deliveries and reads;
- sends through the Send API (`<api>/me/messages`) with aiohttp.

Settings (credentials.yml section `channels.messenger.MessengerInput`, else environment):
`verify` / `MESSENGER_VERIFY_TOKEN`, `secret` / `MESSENGER_APP_SECRET`,
`page-access-token` / `MESSENGER_PAGE_ACCESS_TOKEN`, `api_url` / `MESSENGER_API_URL`
(default `https://graph.facebook.com/v21.0`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput
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

API_URL = "https://graph.facebook.com/v21.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20
FILE_TYPES = ("image", "file")


class SendApi(ProviderApi):
    """Messenger's Send API for one page."""

    def __init__(self, api_url: str, page_access_token: str) -> None:
        super().__init__("messenger")
        self.url = f"{api_url.rstrip('/')}/me/messages"
        self._token = page_access_token

    async def send(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.call(
            "POST",
            self.url,
            "message",
            params={"access_token": self._token},
            json={
                "recipient": {"id": recipient_id},
                "messaging_type": "RESPONSE",
                "message": message,
            },
        )


def short_title(title: str) -> str:
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


class MessengerOutput(OutputChannel):
    """Messages to a Messenger user; buttons become quick replies."""

    @classmethod
    def name(cls) -> str:
        return "facebook"

    def __init__(self, api: SendApi) -> None:
        self.api = api

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in chunks(with_advisor(text, kwargs), MAX_TEXT):
            await self.api.send(recipient_id, {"text": part})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        replies = [
            {
                "content_type": "text",
                "title": short_title(str(button.get("title", ""))),
                "payload": str(button.get("payload", "")),
            }
            for button in buttons[:MAX_QUICK_REPLIES]
        ]
        parts = chunks(with_advisor(text, kwargs), MAX_TEXT)
        for part in parts[:-1]:
            await self.api.send(recipient_id, {"text": part})
        await self.api.send(recipient_id, {"text": parts[-1], "quick_replies": replies})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.api.send(
            recipient_id, {"attachment": {"type": "image", "payload": {"url": image}}}
        )


class MessengerInput(FacebookInput):
    """Rasa's Facebook Messenger channel with files, quick replies and a checked
    SHA-256 signature (see the module)."""

    @classmethod
    def name(cls) -> str:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MessengerInput:
        env = os.environ
        return cls(
            setting(credentials, "verify", env, "MESSENGER_VERIFY_TOKEN"),
            setting(credentials, "secret", env, "MESSENGER_APP_SECRET"),
            setting(credentials, "page-access-token", env, "MESSENGER_PAGE_ACCESS_TOKEN"),
            api_url=setting(credentials, "api_url", env, "MESSENGER_API_URL") or API_URL,
        )

    def __init__(
        self,
        fb_verify: str | None,
        fb_secret: str | None,
        fb_access_token: str | None,
        api_url: str = API_URL,
    ) -> None:
        super().__init__(fb_verify or "", fb_secret or "", fb_access_token or "")
        self.api = SendApi(api_url, fb_access_token or "")

    @property
    def enabled(self) -> bool:
        return bool(self.fb_verify and self.fb_secret and self.fb_access_token)

    def get_output_channel(self) -> OutputChannel:
        return MessengerOutput(self.api)

    def signed(self, request: Request) -> bool:
        given = request.headers.get(SIGNATURE_HEADER, "")
        expected = hmac.new(self.fb_secret.encode(), request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given.encode(), f"sha256={expected}".encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(
            "fb_webhook",
            self.enabled,
            "Messenger channel not configured (MESSENGER_VERIFY_TOKEN, "
            "MESSENGER_APP_SECRET, MESSENGER_PAGE_ACCESS_TOKEN)",
            self.api.close,
        )

        @webhook.route("/webhook", methods=["GET"])
        async def subscribe(request: Request) -> HTTPResponse:
            if not self.enabled:
                return not_configured()
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode(), self.fb_verify.encode()
            ):
                return response.text(request.args.get("hub.challenge") or "")
            return refused("Messenger subscription", "wrong verify token")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.enabled:
                return not_configured()
            if not self.signed(request):
                return refused("Messenger webhook", "missing or wrong signature")
            body = request.json if isinstance(request.json, dict) else {}
            for entry in body.get("entry") or []:
                for event in (entry or {}).get("messaging") or []:
                    if isinstance(event, dict):
                        await self.handle(request, event, on_new_message)
            return response.text("success")

        return webhook

    async def handle(
        self,
        request: Request,
        event: dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        sender = str((event.get("sender") or {}).get("id") or "")
        message = event.get("message")
        postback = event.get("postback")
        metadata: dict[str, Any] | None = None
        if not sender:
            return
        if isinstance(postback, dict) and postback.get("payload"):
            text = str(postback["payload"])
        elif not isinstance(message, dict) or message.get("is_echo"):
            return  # deliveries, reads, our own messages
        elif (message.get("quick_reply") or {}).get("payload"):
            text = str(message["quick_reply"]["payload"])
        elif message.get("attachments"):
            files = files_of(message["attachments"])
            if not files:
                return  # a sticker, a location, an audio message…
            text, metadata = SEND_DOCUMENT, {"attachments": files}
        elif isinstance(message.get("text"), str):
            text = message["text"]
            text = chosen_payload(text, await offered_buttons(request.app, sender)) or text
        else:
            return
        await on_new_message(
            UserMessage(
                text,
                self.get_output_channel(),
                sender,
                input_channel=self.name(),
                metadata=metadata,
            )
        )


def files_of(items: Any) -> list[dict[str, Any]]:
    """The images and files of a Messenger message as attachments."""
    files = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("type") not in FILE_TYPES:
            continue
        url = (item.get("payload") or {}).get("url")
        if not isinstance(url, str):
            continue
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None
        content_type = mimetypes.guess_type(filename or "")[0]
        if content_type is None and item["type"] == "image":
            content_type = "image/jpeg"
        files.append(attachment(url, filename, content_type))
    return files
