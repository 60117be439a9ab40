"""Talking to the running stack as a channel does: text, buttons and files."""

from __future__ import annotations

import io
import mimetypes
from typing import Any

import aiohttp

from bot.identifiers import web_conversation_id
from tests.corpus import Sample

# Steps 1 to 3, one answer at a time: (what the user types, words of the next question).
FIRST_STEPS = [
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
    ("01 42 68 53 00", "Quel document allez-vous envoyer"),
]
FIRST_STEPS_EMAIL = "emilie.lefevre@exemple-industries.fr"


async def say(
    http: aiohttp.ClientSession,
    rasa: str,
    sender: str,
    text: str,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Send one message on the REST channel; the assistant's answers, joined."""
    payload: dict[str, Any] = {"sender": sender, "message": text}
    if metadata is not None:
        payload["metadata"] = metadata
    async with http.post(f"{rasa}/webhooks/rest/webhook", json=payload) as response:
        assert response.status == 200
        return "\n".join(reply.get("text", "") for reply in await response.json())


async def upload(
    http: aiohttp.ClientSession, web: str, sender: str, sample: Sample
) -> tuple[int, dict[str, Any]]:
    """POST the file to the web process's upload store, as the chat widget does."""
    form = aiohttp.FormData()
    form.add_field("sender_id", sender)
    form.add_field(
        "file",
        io.BytesIO(sample.data),
        filename=sample.filename,
        content_type=mimetypes.guess_type(sample.filename)[0] or "application/octet-stream",
    )
    async with http.post(f"{web}/uploads", data=form) as response:
        return response.status, await response.json()


async def send_files(
    http: aiohttp.ClientSession, stack: dict[str, str], sender: str, *samples: Sample
) -> str:
    """Upload the files, then send the message that carries them; the answer."""
    attachments = []
    for sample in samples:
        status, attachment = await upload(http, stack["web"], sender, sample)
        assert status == 201, attachment
        attachments.append(attachment)
    return await say(http, stack["rasa"], sender, "/send_document", {"attachments": attachments})


async def reach_document_step(
    http: aiohttp.ClientSession, rasa: str, sender: str, email: str = FIRST_STEPS_EMAIL
) -> None:
    """Answer steps 1 to 3, checking each next question; `email`: the person's own."""
    for typed, expected in FIRST_STEPS:
        typed = typed.replace(FIRST_STEPS_EMAIL, email)
        answer = await say(http, rasa, sender, typed)
        assert expected in answer, f"after {typed!r} the assistant said {answer!r}"


async def tracker_of(
    http: aiohttp.ClientSession, stack: dict[str, str], sender: str
) -> dict[str, Any]:
    """The tracker of the REST conversation of `sender`, through Rasa's API (its token)."""
    url = f"{stack['rasa']}/conversations/{web_conversation_id(sender)}/tracker"
    async with http.get(url, params={"token": stack["rasa_token"]}) as response:
        assert response.status == 200, response.status
        return dict(await response.json())


async def slots_of(
    http: aiohttp.ClientSession, stack: dict[str, str], sender: str
) -> dict[str, Any]:
    return dict((await tracker_of(http, stack, sender))["slots"])
