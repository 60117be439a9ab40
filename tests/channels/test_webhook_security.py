"""Webhooks are authenticated as each provider specifies; media are fetched from the
provider's hosts only."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.channels import providers
from tests.channels.providers import FakeProviders
from tests.channels.test_registration import PEOPLE, USERS, Person, first_steps, play
from tests.channels.users import ChannelUser, MessengerUser, TelegramUser, WhatsAppUser
from tests.corpus import build_corpus
from tests.e2e.chat import reach_document_step, say

CORPUS = build_corpus()
FORGED = "message-forge-7f3a"  # must not reach the assistant, nor the logs


async def user_events(
    http: aiohttp.ClientSession, stack: dict[str, str], conversation_id: str
) -> list[dict]:
    """The user messages of a conversation, read through Rasa's API with its token."""
    url = f"{stack['rasa']}/conversations/{conversation_id}/tracker"
    async with http.get(url, params={"token": stack["rasa_token"]}) as response:
        assert response.status == 200, response.status
        events = (await response.json())["events"]
    return [event for event in events if event["event"] == "user"]


@pytest.mark.parametrize(
    "forgery",
    [
        "telegram: no secret header",
        "telegram: wrong secret",
        "whatsapp: no signature",
        "whatsapp: signed with another auth token",
        "whatsapp: body changed after signing",
        "messenger: no signature",
        "messenger: SHA-1 signature only",
        "messenger: signed with another secret",
    ],
)
async def test_an_unsigned_or_forged_webhook_is_refused(
    forgery: str, channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    rasa = channel_stack["rasa"]
    user: ChannelUser
    async with aiohttp.ClientSession() as http:
        if forgery.startswith("telegram"):
            telegram = user = TelegramUser(http, rasa, fake, "700000100")
            secret = None if "no secret" in forgery else "not-the-secret"
            status = await telegram.post(telegram.message(text=FORGED), secret=secret)
        elif forgery.startswith("whatsapp"):
            whatsapp = user = WhatsAppUser(http, rasa, fake, "whatsapp:+33600000100")
            if "changed" in forgery:
                signed = whatsapp.message("bonjour")
                headers = {"X-Twilio-Signature": _twilio_signature(whatsapp.url(), signed)}
                async with http.post(
                    whatsapp.url(), data={**signed, "Body": FORGED}, headers=headers
                ) as response:
                    status = response.status
            else:
                token = None if "no signature" in forgery else "another-auth-token"
                status = await whatsapp.post(whatsapp.message(FORGED), auth_token=token)
        else:
            messenger = user = MessengerUser(http, rasa, fake, "6000000000000100")
            body = messenger.event({"text": FORGED})
            if "SHA-1" in forgery:
                status = await _post_with_sha1(http, rasa, body)
            else:
                secret = None if "no signature" in forgery else "another-app-secret"
                status = await messenger.post(body, secret=secret)
        assert status == 403
        assert await user_events(http, channel_stack, user.user) == []
    assert user.received() == []
    log = Path(channel_stack["log"]).read_text(encoding="utf-8", errors="replace")
    assert "webhook refused" in log
    assert FORGED not in log


def _twilio_signature(url: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(providers.TWILIO_AUTH_TOKEN).compute_signature(url, params)


async def _post_with_sha1(http: aiohttp.ClientSession, rasa: str, body: dict) -> int:
    import hashlib
    import hmac
    import json

    raw = json.dumps(body).encode()
    digest = hmac.new(providers.MESSENGER_APP_SECRET.encode(), raw, hashlib.sha1).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": f"sha1={digest}"}
    async with http.post(
        f"{rasa}/webhooks/facebook/webhook", data=raw, headers=headers
    ) as response:
        return response.status


async def test_messenger_subscription_needs_the_verify_token(channel_stack: dict[str, str]) -> None:
    url = f"{channel_stack['rasa']}/webhooks/facebook/webhook"
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params={**query, "hub.verify_token": "guess"}) as response:
            assert response.status == 403
        good = {**query, "hub.verify_token": providers.MESSENGER_VERIFY_TOKEN}
        async with http.get(url, params=good) as response:
            assert (response.status, await response.text()) == (200, "1158201444")


def someone(n: int) -> Person:
    return Person(
        "Madame", "Lemoine", "Claire", "02/02/1982", "06 55 44 33 22", "Gérante",
        f"claire.lemoine{n}@exemple-industries.fr",
    )  # fmt: skip


CARD = "Carte nationale d'identité"
NOT_OURS = "service d'envoi sécurisé"
UNREACHABLE = "Je n'ai pas pu récupérer votre fichier"


async def test_whatsapp_media_outside_twilio_is_never_fetched(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    async with aiohttp.ClientSession() as http:
        user = WhatsAppUser(http, channel_stack["rasa"], fake, "whatsapp:+33600000200")
        await play(user, [*first_steps(someone(1)), ("press", CARD, "recto et verso")])
        fake.serve("cni.png", CORPUS["png_scan"].data, "image/png")
        elsewhere = {
            "NumMedia": "1",
            "MediaUrl0": f"{fake.url('stranger')}/cni.png",
            "MediaContentType0": "image/png",
        }
        assert NOT_OURS in await user.turn(user.message("", **elsewhere))
        # Another account's media on Twilio's host: the path is not ours.
        other = user.media_url("ME" + "1" * 32).replace(providers.TWILIO_SID, "AC" + "f" * 32)
        assert NOT_OURS in await user.turn(
            user.message("", NumMedia="1", MediaUrl0=other, MediaContentType0="image/png")
        )
        # Twilio redirecting elsewhere than its media store: the redirect is not followed.
        assert UNREACHABLE in await user.send_media(CORPUS["png_scan"], "MEstranger" + "0" * 24)
    assert fake.requests_to("stranger") == []


async def test_messenger_media_outside_facebook_cdn_is_never_fetched(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    async with aiohttp.ClientSession() as http:
        user = MessengerUser(http, channel_stack["rasa"], fake, "6000000000000200")
        await play(user, [*first_steps(someone(2)), ("press", CARD, "recto et verso")])
        answer = await user.send_attachment("image", CORPUS["png_scan"], server="stranger")
        assert NOT_OURS in answer
    assert fake.requests_to("stranger") == []


async def test_provider_looking_urls_sent_on_another_channel_are_never_fetched(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    """A Telegram file of another bot, Twilio media of another account: refused
    without a request, whoever sends them."""
    sender = "channels-rest-forger"
    urls = [
        f"{fake.url('telegram')}/file/bot999:other-bot/photos/file_1.jpg",
        f"{fake.url('telegram')}/file/bot{providers.TELEGRAM_TOKEN}/../../bot{providers.TELEGRAM_TOKEN}/getMe",
        f"{fake.url('twilio')}/2010-04-01/Accounts/AC{'f' * 32}/Messages/MM1/Media/ME1",
    ]
    before = len(fake.requests_to("telegram")), len(fake.requests_to("twilio"))
    async with aiohttp.ClientSession() as http:
        rasa = channel_stack["rasa"]
        await reach_document_step(http, rasa, sender)
        assert "recto et verso" in await say(http, rasa, sender, '/inform{"document_type":"cni"}')
        for url in urls:
            attachment = {"url": url, "filename": "cni.jpg", "content_type": "image/jpeg"}
            answer = await say(http, rasa, sender, "/send_document", {"attachments": [attachment]})
            assert NOT_OURS in answer, url
    assert (len(fake.requests_to("telegram")), len(fake.requests_to("twilio"))) == before


def test_the_logs_carry_no_secret_and_no_personal_data(channel_stack: dict[str, str]) -> None:
    log = Path(channel_stack["log"]).read_text(encoding="utf-8", errors="replace")
    for secret in providers.SECRETS:
        assert secret not in log, "a provider secret is in the logs"
    for person in PEOPLE.values():
        for value in (person.last_name, person.email, person.mobile):
            assert value not in log, f"{value!r} is in the logs"
    for _, user_id in USERS.values():  # a WhatsApp conversation is named by a phone number
        assert user_id not in log, f"{user_id!r} is in the logs"
