"""A whole registration over Rasa's REST channel ends with an account and an e-mail."""

from __future__ import annotations

import base64
import sqlite3
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import aiohttp
import pytest

from bot.documents import inspect_document
from tests.corpus import Sample, build_corpus
from tests.e2e.chat import reach_document_step, say, send_files

CORPUS = build_corpus()

# Steps 4 and 5 after the first steps: (what the user sends, words of the answer).
LAST_STEPS = [
    ('/inform{"document_type":"passport"}', "Quel pays a délivré votre passeport"),
    ("Italie", "page de votre passeport"),
    (CORPUS["jpeg_photo_with_exif"], "passeport (Italie)) est bien reçue"),
    ("j'accepte", "récapitulatif"),
    ("oui", "e***e@exemple-industries.fr"),
]


async def test_a_full_registration_over_rest(stack: dict[str, str]) -> None:
    sender = "e2e-registration"
    async with aiohttp.ClientSession() as http:
        await reach_document_step(http, stack["rasa"], sender)
        for sent, expected in LAST_STEPS:
            if isinstance(sent, Sample):
                answer = await send_files(http, stack, sender, sent)
            else:
                answer = await say(http, stack["rasa"], sender, sent)
            assert expected in answer, f"after {sent!r} the assistant said {answer!r}"

    with sqlite3.connect(stack["accounts_db"]) as db:
        rows = db.execute(
            "SELECT login, status, email, siren FROM accounts WHERE email = ?",
            ("emilie.lefevre@exemple-industries.fr",),
        ).fetchall()
    assert len(rows) == 1
    login, status, email, siren = rows[0]
    assert (status, email, siren) == (
        "pending",
        "emilie.lefevre@exemple-industries.fr",
        "552100554",
    )

    messages = [
        message_from_bytes(eml.read_bytes(), policy=default_policy)
        for eml in Path(stack["outbox"]).glob("*.eml")
    ]
    (message,) = [message for message in messages if message["To"] == email]
    assert login in message.get_body(("plain",)).get_content()
    assert list(message.iter_attachments()) == []
    assert_document_is_encrypted_and_only_in_the_account_database(stack)


def assert_document_is_encrypted_and_only_in_the_account_database(stack: dict[str, str]) -> None:
    photo = CORPUS["jpeg_photo_with_exif"]
    stored = inspect_document(photo.data, photo.filename).content
    with sqlite3.connect(stack["accounts_db"]) as db:
        rows = db.execute(
            "SELECT d.data, d.document_type, d.country FROM documents d "
            "JOIN accounts a ON a.id = d.account_id WHERE a.email = ?",
            ("emilie.lefevre@exemple-industries.fr",),
        ).fetchall()
    ((data, kind, country),) = rows
    assert (kind, country) == ("passport", "IT")
    for plain in (stored, photo.data):
        assert plain[2000:2064] not in data, "the document is encrypted at rest"
    tracker_store = Path(stack["tracker_db"]).read_bytes()
    assert stored[2000:2064] not in tracker_store
    assert base64.b64encode(stored[2000:2100])[:40] not in tracker_store


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("552 100 555", "clé de contrôle"), ("12345", "9 chiffres")],
)
async def test_a_bad_siren_is_explained_and_asked_again(
    stack: dict[str, str], typed: str, expected: str
) -> None:
    sender = f"e2e-bad-siren-{typed}"
    async with aiohttp.ClientSession() as http:
        await say(http, stack["rasa"], sender, "je veux créer mon espace client")
        answer = await say(http, stack["rasa"], sender, typed)
    assert expected in answer
    assert "Quel est le numéro SIREN" in answer
