"""A whole registration on each messaging channel, the identity document included, on
the running stack with the providers played on loopback."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import aiohttp
import pytest

from bot.identifiers import mask_email
from tests.channels import providers
from tests.channels.providers import FakeProviders
from tests.channels.users import ChannelUser, MessengerUser, TelegramUser, WhatsAppUser
from tests.corpus import Sample, build_corpus

CORPUS = build_corpus()
PHOTO = CORPUS["jpeg_photo_with_exif"]
SCAN = CORPUS["png_scan"]


@dataclass(frozen=True)
class Person:
    civility: str
    last_name: str
    first_name: str
    birth_date: str
    mobile: str
    job_title: str
    email: str


PEOPLE = {
    "telegram": Person(
        "Monsieur", "Garnier", "Lucas", "05/11/1979", "06 23 45 67 89", "Gérant",
        "lucas.garnier@exemple-industries.fr",
    ),
    "whatsapp": Person(
        "Madame", "Rousseau", "Sophie", "21/07/1988", "06 71 22 33 44", "Comptable",
        "sophie.rousseau@exemple-industries.fr",
    ),
    "messenger": Person(
        "Monsieur", "Haddad", "Karim", "30/01/1975", "06 98 76 54 32", "DRH",
        "karim.haddad@exemple-industries.fr",
    ),
}  # fmt: skip
USERS: dict[str, tuple[type[ChannelUser], str]] = {
    "telegram": (TelegramUser, "700000001"),
    "whatsapp": (WhatsAppUser, "whatsapp:+33600000001"),
    "messenger": (MessengerUser, "6000000000000001"),
}


def first_steps(person: Person) -> list[tuple[str, str, str]]:
    """Steps 1 to 3: (how, what, words of the next question); buttons are pressed as
    each app offers them."""
    return [
        ("say", "bonjour, je voudrais créer mon espace client", "SIREN"),
        ("say", "SIREN 552 100 554, contrat AB123456", "Maison Démo Industries SA"),
        ("press", "Oui, c'est bien elle", "civilité"),
        ("press", person.civility, "nom de famille"),
        ("say", person.last_name, "prénom"),
        ("say", person.first_name, "date de naissance"),
        ("say", person.birth_date, "portable"),
        ("say", person.mobile, "fonction"),
        ("say", person.job_title, "adresse e-mail professionnelle"),
        ("say", person.email, "téléphone professionnel"),
        ("say", "01 42 68 53 00", "Quel document allez-vous envoyer"),
    ]


def last_steps(channel: str, person: Person) -> list[tuple[str, object, str]]:
    """Step 4 (a different document on each app, a photo on each) and step 5."""
    document = {
        # A card: its front as a photo, its back as a document (a PNG scan).
        "telegram": [
            ("press", "Carte nationale d'identité", "recto et verso"),
            ("photo", PHOTO, "bien reçu le recto"),
            ("document", SCAN, "conditions générales"),
        ],
        # A passport: its photo page, taken with the phone.
        "whatsapp": [
            ("press", "Passeport (Union européenne)", "Quel pays a délivré votre passeport"),
            ("say", "Italie", "page de votre passeport"),
            ("photo", PHOTO, "passeport (Italie)) est bien reçue"),
        ],
        # A residence permit: its front as a photo, its back as a file.
        "messenger": [
            ("press", "Titre de séjour français", "recto et verso"),
            ("photo", PHOTO, "bien reçu le recto"),
            ("document", SCAN, "conditions générales"),
        ],
    }[channel]
    return [
        *document,
        ("press", "J'accepte les CGU", "récapitulatif"),
        ("press", "Oui, créer mon espace client", mask_email(person.email)),
    ]


async def play(user: ChannelUser, steps: list[tuple[str, object, str]]) -> None:
    for how, what, expected in steps:
        if how == "say":
            answer = await user.say(str(what))
        elif how == "press":
            answer = await user.press(str(what))
        elif how == "photo":
            assert isinstance(what, Sample)
            answer = await user.send_photo(what)
        else:
            assert isinstance(what, Sample)
            answer = await user.send_document(what)
        assert expected in answer, f"after {how} {what!r} the bot sent {answer!r}"


@pytest.mark.parametrize("channel", ["telegram", "whatsapp", "messenger"])
async def test_a_whole_registration_with_the_id_photo(
    channel: str, channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    person = PEOPLE[channel]
    kind, user_id = USERS[channel]
    async with aiohttp.ClientSession() as http:
        user = kind(http, channel_stack["rasa"], fake, user_id)
        await play(user, [*first_steps(person), *last_steps(channel, person)])

    with sqlite3.connect(channel_stack["accounts_db"]) as db:
        rows = db.execute(
            "SELECT a.status, a.siren, d.document_type, d.side FROM accounts a "
            "JOIN documents d ON d.account_id = a.id WHERE a.email = ? ORDER BY d.id",
            (person.email,),
        ).fetchall()
    expected = {
        "telegram": [("cni", "front"), ("cni", "back")],
        "whatsapp": [("passport", "full")],
        "messenger": [("residence_permit", "front"), ("residence_permit", "back")],
    }[channel]
    assert [(kind, side) for _, _, kind, side in rows] == expected
    assert {(status, siren) for status, siren, _, _ in rows} == {("pending", "552100554")}
    assert any(
        message_from_bytes(eml.read_bytes(), policy=default_policy)["To"] == person.email
        for eml in Path(channel_stack["outbox"]).glob("*.eml")
    )


def test_each_provider_was_called_as_it_specifies(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    """After the registrations: how the bot used each provider's API and media hosts."""
    telegram = fake.requests_to("telegram")
    assert any(
        call.startswith("setWebhook") and providers.TELEGRAM_SECRET in call for call in telegram
    )
    assert any(call.startswith("answerCallbackQuery") for call in telegram)
    fetched = {(server, auth is not None) for server, _, auth in fake.fetches}
    # Telegram: the largest size of the photo, by the URL getFile gave; never the thumbnail.
    assert ("telegram", False) in fetched
    assert not any("thumbnail" in call for call in telegram)
    # Twilio: the media URL with the account's credentials, then its media store without.
    assert ("twilio", True) in fetched and ("cdn", False) in fetched
    assert ("cdn", True) not in fetched
    assert fake.requests_to("stranger") == []


async def test_an_advisor_message_reaches_the_app_with_the_advisor_name(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    """The agent console writes through Rasa's HTTP API to the conversation's channel."""
    async with aiohttp.ClientSession() as http:
        user = TelegramUser(http, channel_stack["rasa"], fake, "700000009")
        assert "SIREN" in await user.say("bonjour, je voudrais créer mon espace client")
        event = {
            "event": "bot",
            "text": "Bonjour, je regarde votre dossier.",
            "metadata": {"advisor": "Claire Martin"},
        }
        async with http.post(
            f"{channel_stack['rasa']}/conversations/{user.user}/tracker/events",
            params={
                "execute_side_effects": "true",
                "output_channel": "latest",
                "token": channel_stack["rasa_token"],
            },
            json=[event],
        ) as response:
            assert response.status == 200
    assert user.new_answer() == "Claire Martin\u00a0: Bonjour, je regarde votre dossier."


async def test_telegram_start_command_greets(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    """Opening the bot in Telegram sends `/start`: the assistant greets."""
    async with aiohttp.ClientSession() as http:
        user = TelegramUser(http, channel_stack["rasa"], fake, "700000010")
        answer = await user.say("/start")
    assert "Bonjour" in answer and "espace client" in answer


async def test_whatsapp_options_can_be_answered_by_their_title(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    async with aiohttp.ClientSession() as http:
        user = WhatsAppUser(http, channel_stack["rasa"], fake, "whatsapp:+33600000011")
        await user.say("bonjour, je voudrais créer mon espace client")
        answer = await user.say("SIREN 552 100 554, contrat AB123456")
        assert "1. Oui, c'est bien elle\n2. Non" in answer
        assert "Répondez par le numéro de votre choix." in answer
        assert "civilité" in await user.say("oui, c'est bien elle")
        assert "nom de famille" in await user.say("Madame")
