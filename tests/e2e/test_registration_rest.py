"""A whole registration over Rasa's REST channel ends with an account and an e-mail."""

from __future__ import annotations

import sqlite3
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import aiohttp
import pytest

# (what the user types, words the assistant's answer must contain)
REGISTRATION = [
    ("bonjour, je voudrais créer mon espace client", "SIREN"),
    ("SIREN 552 100 554, contrat AB123456", "Maison Démo Industries SA"),
    ("oui c'est bien ça", "civilité"),
    ('/inform{"civility":"Mme"}', "nom de famille"),
    ("Lefèvre", "prénom"),
    ("Émilie", "date de naissance"),
    ("12/03/1984", "portable"),
    ("06 12 34 56 78", "fonction"),
    ("Directrice administrative", "adresse e-mail professionnelle"),
    ("emilie.lefevre@exemple-industries.fr", "téléphone professionnel"),
    ("01 42 68 53 00", "conditions générales d'utilisation"),
    ("j'accepte", "récapitulatif"),
    ("oui", "e***e@exemple-industries.fr"),
]


async def say(http: aiohttp.ClientSession, rasa: str, sender: str, text: str) -> str:
    async with http.post(
        f"{rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text}
    ) as response:
        assert response.status == 200
        return "\n".join(reply.get("text", "") for reply in await response.json())


async def test_a_full_registration_over_rest(stack: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        for typed, expected in REGISTRATION:
            answer = await say(http, stack["rasa"], "e2e-registration", typed)
            assert expected in answer, f"after {typed!r} the assistant said {answer!r}"

    with sqlite3.connect(stack["accounts_db"]) as db:
        rows = db.execute("SELECT login, status, email, siren FROM accounts").fetchall()
    assert len(rows) == 1
    login, status, email, siren = rows[0]
    assert (status, email, siren) == (
        "pending",
        "emilie.lefevre@exemple-industries.fr",
        "552100554",
    )

    (eml,) = Path(stack["outbox"]).glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=default_policy)
    assert message["To"] == email
    assert login in message.get_body(("plain",)).get_content()


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
