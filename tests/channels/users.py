"""Users of each messaging app: real-shaped provider webhooks posted to the running Rasa
server, signed as each provider signs them; the answers are what the bot sent through
the fake provider API (tests/channels/providers.py)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import mimetypes
import time
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from tests.channels import providers
from tests.channels.providers import FakeProviders, Sent
from tests.corpus import Sample

_ids = itertools.count(1000)


class ChannelUser:
    """One person in one app: `say`, `press` a button, send a photo or a document; each
    returns the texts the bot sent since, joined."""

    provider = ""

    def __init__(self, http: aiohttp.ClientSession, rasa: str, fake: FakeProviders, user: str):
        self.http, self.rasa, self.fake, self.user = http, rasa, fake, user
        self.seen = 0

    def received(self) -> list[Sent]:
        return self.fake.sent_to(self.provider, self.user)

    def new_answer(self) -> str:
        sent = self.received()
        fresh, self.seen = sent[self.seen :], len(sent)
        return "\n".join(item.text for item in fresh)

    def last_options(self) -> list[dict[str, str]]:
        for sent in reversed(self.received()):
            if sent.options:
                return sent.options
        raise AssertionError(f"no options were offered to {self.user}")

    def option(self, title: str) -> dict[str, str]:
        for option in self.last_options():
            if option["title"] == title or title.startswith(option["title"].rstrip("…")):
                return option
        raise AssertionError(f"{title!r} not in {self.last_options()}")

    async def post(self, body: Any) -> int:
        raise NotImplementedError

    async def say(self, text: str) -> str:
        raise NotImplementedError

    async def press(self, title: str) -> str:
        raise NotImplementedError

    async def send_photo(self, sample: Sample) -> str:
        raise NotImplementedError

    async def send_document(self, sample: Sample) -> str:
        raise NotImplementedError

    async def turn(self, body: Any) -> str:
        status = await self.post(body)
        assert status == 200, status
        return self.new_answer()


class TelegramUser(ChannelUser):
    provider = "telegram"

    async def post(self, body: Any, secret: str | None = providers.TELEGRAM_SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with self.http.post(
            f"{self.rasa}/webhooks/telegram/webhook", json=body, headers=headers
        ) as response:
            return response.status

    def message(self, **content: Any) -> dict[str, Any]:
        user = {"id": int(self.user), "is_bot": False, "first_name": "Test", "language_code": "fr"}
        return {
            "update_id": next(_ids),
            "message": {
                "message_id": next(_ids),
                "from": user,
                "chat": {"id": int(self.user), "first_name": "Test", "type": "private"},
                "date": int(time.time()),
                **content,
            },
        }

    async def say(self, text: str) -> str:
        return await self.turn(self.message(text=text))

    async def press(self, title: str) -> str:
        option = self.option(title)
        sent = next(s for s in reversed(self.received()) if option in s.options)
        query = {
            "id": str(next(_ids)),
            "from": {"id": int(self.user), "is_bot": False, "first_name": "Test"},
            "message": {
                "message_id": sent.message_id,
                "from": {"id": 1, "is_bot": True, "first_name": "Espace client"},
                "chat": {"id": int(self.user), "type": "private"},
                "date": int(time.time()),
                "text": sent.text,
            },
            "chat_instance": "42",
            "data": option["data"],
        }
        return await self.turn({"update_id": next(_ids), "callback_query": query})

    async def send_photo(self, sample: Sample) -> str:
        file_id = f"AgACAgQAAxkBAAI{next(_ids)}"
        self.fake.telegram_file(file_id, f"photos/file_{next(_ids)}.jpg", sample.data, "image/jpeg")
        sizes = [
            {
                "file_id": "thumbnail-never-fetched",
                "file_unique_id": "a",
                "width": 90,
                "height": 58,
            },
            {"file_id": file_id, "file_unique_id": "b", "width": 1000, "height": 640},
        ]
        return await self.turn(self.message(photo=sizes, caption="ma carte"))

    async def send_document(self, sample: Sample) -> str:
        file_id = f"BQACAgQAAxkBAAI{next(_ids)}"
        content_type = mimetypes.guess_type(sample.filename)[0] or "application/octet-stream"
        self.fake.telegram_file(
            file_id, f"documents/file_{next(_ids)}{_extension(sample)}", sample.data, content_type
        )
        document = {
            "file_name": sample.filename,
            "mime_type": content_type,
            "file_id": file_id,
            "file_unique_id": "c",
            "file_size": len(sample.data),
        }
        return await self.turn(self.message(document=document))


class WhatsAppUser(ChannelUser):
    provider = "twilio"

    def url(self) -> str:
        return f"{self.rasa}/webhooks/twilio/webhook"

    async def post(self, body: Any, auth_token: str | None = providers.TWILIO_AUTH_TOKEN) -> int:
        headers = {}
        if auth_token is not None:
            signature = RequestValidator(auth_token).compute_signature(self.url(), body)
            headers["X-Twilio-Signature"] = signature
        async with self.http.post(self.url(), data=body, headers=headers) as response:
            return response.status

    def message(self, body: str = "", **media: str) -> dict[str, str]:
        sid = f"SM{next(_ids):032d}"
        return {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": "Test",
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": self.user.split("+")[-1],
            "SmsStatus": "received",
            "Body": body,
            "To": providers.TWILIO_NUMBER,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": providers.TWILIO_SID,
            "From": self.user,
            "ApiVersion": "2010-04-01",
            **media,
        }

    async def say(self, text: str) -> str:
        return await self.turn(self.message(text))

    async def press(self, title: str) -> str:
        """Answer with the option's number, as the message lists them."""
        for sent in reversed(self.received()):
            for line in sent.text.splitlines():
                number, _, shown = line.partition(". ")
                if number.isdigit() and shown == title:
                    return await self.say(number)
        raise AssertionError(f"{title!r} was not offered to {self.user}")

    def media_url(self, media_sid: str) -> str:
        return (
            f"{self.fake.url('twilio')}/2010-04-01/Accounts/{providers.TWILIO_SID}"
            f"/Messages/MM{next(_ids):032d}/Media/{media_sid}"
        )

    async def send_media(self, sample: Sample, media_sid: str | None = None) -> str:
        media_sid = media_sid or f"ME{next(_ids):032d}"
        content_type = mimetypes.guess_type(sample.filename)[0] or "application/octet-stream"
        self.fake.serve(f"twilio/{media_sid}", sample.data, content_type)
        media = {
            "NumMedia": "1",
            "MessageType": "image" if content_type.startswith("image/") else "document",
            "MediaUrl0": self.media_url(media_sid),
            "MediaContentType0": content_type,
        }
        return await self.turn(self.message("", **media))

    send_photo = send_document = send_media


class MessengerUser(ChannelUser):
    provider = "messenger"
    page = "104857600000001"

    async def post(self, body: Any, secret: str | None = providers.MESSENGER_APP_SECRET) -> int:
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        async with self.http.post(
            f"{self.rasa}/webhooks/facebook/webhook", data=raw, headers=headers
        ) as response:
            return response.status

    def event(self, message: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time() * 1000)
        return {
            "object": "page",
            "entry": [
                {
                    "id": self.page,
                    "time": now,
                    "messaging": [
                        {
                            "sender": {"id": self.user},
                            "recipient": {"id": self.page},
                            "timestamp": now,
                            "message": {"mid": f"m_{next(_ids)}", **message},
                        }
                    ],
                }
            ],
        }

    async def say(self, text: str) -> str:
        return await self.turn(self.event({"text": text}))

    async def press(self, title: str) -> str:
        option = self.option(title)
        return await self.turn(
            self.event({"text": option["title"], "quick_reply": {"payload": option["data"]}})
        )

    async def send_attachment(self, kind: str, sample: Sample, server: str = "cdn") -> str:
        path = f"v/t1.{next(_ids)}/{sample.filename}"
        content_type = mimetypes.guess_type(sample.filename)[0] or "application/octet-stream"
        self.fake.serve(path, sample.data, content_type)
        url = f"{self.fake.url(server)}/{path}?_nc_cat=1&oh=00_signed"
        return await self.turn(
            self.event({"attachments": [{"type": kind, "payload": {"url": url}}]})
        )

    async def send_photo(self, sample: Sample) -> str:
        return await self.send_attachment("image", sample)

    async def send_document(self, sample: Sample) -> str:
        return await self.send_attachment("file", sample)


def _extension(sample: Sample) -> str:
    return "." + sample.filename.rsplit(".", 1)[-1].lower() if "." in sample.filename else ""
