"""WhatsApp through Twilio, as Rasa's connector with media, numbered options and a
checked signature.

Rasa 3.6's `TwilioInput` ignores `MediaUrl0`…, does not check `X-Twilio-Signature`
and sends with Twilio's blocking client. This channel keeps its name and URL
(`/webhooks/twilio/webhook`) and:

- refuses every request whose `X-Twilio-Signature` is not Twilio's signature of the
  webhook URL and parameters with the auth token (`twilio.request_validator`); the URL
  is `webhook_url` when set (the public URL Twilio calls, behind a proxy), else the one
  the request reached;
- turns the message's media (`NumMedia`, `MediaUrl<n>`, `MediaContentType<n>`) into
  attachments; Twilio's media URLs need the account's credentials, which the action
  server adds (actions/clients/attachments.py);
- sends the domain's buttons as numbered options; the user may answer with the number
  (or the option's title), which becomes the payload;
- sends with Twilio's REST API (`Messages.json`) through aiohttp.

The conversation id is the user's WhatsApp address (`whatsapp:+33612345678`), as with
Rasa's connector: replies go to it.

Settings (credentials.yml section `channels.twilio.TwilioInput`, else environment):
`account_sid` / `TWILIO_ACCOUNT_SID`, `auth_token` / `TWILIO_AUTH_TOKEN`,
`twilio_number` / `TWILIO_WHATSAPP_NUMBER` (`whatsapp:+14155238886`), `webhook_url` /
`TWILIO_WEBHOOK_URL`, `api_url` / `TWILIO_API_URL` (default `https://api.twilio.com`).
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput as RasaTwilioInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from channels.messaging import (
    SEND_DOCUMENT,
    ProviderApi,
    attachment,
    chosen_payload,
    chunks,
    not_configured,
    numbered,
    offered_buttons,
    refused,
    setting,
    webhook_blueprint,
    with_advisor,
)

logger = logging.getLogger(__name__)

API_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_TEXT = 1600
MAX_MEDIA = 10
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioMessages(ProviderApi):
    """Twilio's Messages resource of one account."""

    def __init__(self, api_url: str, account_sid: str, auth_token: str, sender: str) -> None:
        super().__init__("twilio")
        self.url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = aiohttp.BasicAuth(account_sid, auth_token)
        self.sender = sender

    async def send(self, to: str, **fields: str) -> None:
        await self.call(
            "POST",
            self.url,
            "message",
            data={"To": to, "From": self.sender, **fields},
            auth=self.auth,
        )


class TwilioOutput(OutputChannel):
    """WhatsApp messages through Twilio; buttons become numbered options."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    def __init__(self, messages: TwilioMessages) -> None:
        self.messages = messages

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # One message, not one per paragraph: WhatsApp may reorder messages sent at once.
        for part in chunks(with_advisor(text, kwargs), MAX_TEXT):
            await self.messages.send(recipient_id, Body=part)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_message(recipient_id, numbered(text, buttons), **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.messages.send(recipient_id, MediaUrl=image)


class TwilioInput(RasaTwilioInput):
    """Rasa's Twilio channel for WhatsApp, with media and a checked signature (see module)."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TwilioInput:
        env = os.environ
        return cls(
            setting(credentials, "account_sid", env, "TWILIO_ACCOUNT_SID"),
            setting(credentials, "auth_token", env, "TWILIO_AUTH_TOKEN"),
            setting(credentials, "twilio_number", env, "TWILIO_WHATSAPP_NUMBER"),
            webhook_url=setting(credentials, "webhook_url", env, "TWILIO_WEBHOOK_URL"),
            api_url=setting(credentials, "api_url", env, "TWILIO_API_URL") or API_URL,
        )

    def __init__(
        self,
        account_sid: str | None,
        auth_token: str | None,
        twilio_number: str | None,
        webhook_url: str | None = None,
        api_url: str = API_URL,
    ) -> None:
        super().__init__(account_sid, auth_token, twilio_number, debug_mode=False)
        self.webhook_url = webhook_url
        self.messages = TwilioMessages(
            api_url, account_sid or "", auth_token or "", twilio_number or ""
        )

    @property
    def enabled(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.twilio_number)

    def get_output_channel(self) -> OutputChannel:
        return TwilioOutput(self.messages)

    def signed(self, request: Request, params: dict[str, str]) -> bool:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return False
        url = self.webhook_url or request.url
        return bool(RequestValidator(self.auth_token).validate(url, params, signature))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(
            "twilio_webhook",
            self.enabled,
            "WhatsApp channel not configured "
            "(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER)",
            self.messages.close,
        )

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.enabled:
                return not_configured()
            # Twilio signs every parameter, empty ones too (`Body=` with a photo), which
            # Sanic's `request.form` drops.
            params = dict(
                parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
            )
            if not self.signed(request, params):
                return refused("Twilio webhook", "missing or wrong signature")
            await self.handle(request, params, on_new_message)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return webhook

    async def handle(
        self,
        request: Request,
        params: dict[str, str],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        sender = params.get("From")
        if not sender:
            return
        metadata: dict[str, Any] | None = None
        files = media_of(params)
        if files:
            text, metadata = SEND_DOCUMENT, {"attachments": files}
        else:
            text = params.get("Body", "").replace("¡", "@")  # carriers mangle @ in SMS
            if not text.strip():
                return  # a location, a contact card…
            text = chosen_payload(text, await offered_buttons(request.app, sender)) or text
        await on_new_message(
            UserMessage(
                text,
                self.get_output_channel(),
                sender,
                input_channel=self.name(),
                metadata=metadata,
            )
        )


def media_of(params: dict[str, str]) -> list[dict[str, Any]]:
    """The attachments of a Twilio webhook (`NumMedia`, `MediaUrl<n>`, `MediaContentType<n>`).

    Twilio gives no file name; one is made from the type, so that the inspection's
    check of the extension against the content holds."""
    try:
        count = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        return []
    files = []
    for index in range(count):
        url = params.get(f"MediaUrl{index}")
        content_type = params.get(f"MediaContentType{index}") or None
        if not url:
            continue
        extension = mimetypes.guess_extension(content_type or "") or ""
        extension = ".jpg" if extension in (".jpe", ".jpeg") else extension
        files.append(attachment(url, f"whatsapp-{index + 1}{extension}", content_type))
    return files
