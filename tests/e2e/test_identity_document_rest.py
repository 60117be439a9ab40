"""Step 4 on the running stack: every file of the corpus goes through the upload
store and the conversation; refusals are explained and nothing given is lost."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.documents import DocumentRefused, inspect_document
from bot.identifiers import web_conversation_id
from tests.corpus import build_corpus
from tests.e2e.chat import reach_document_step, say, send_files, slots_of, upload

CORPUS = build_corpus()
CARD = '/inform{"document_type":"cni"}'
ASKED_AGAIN = "recto et verso"


def refusal_of(name: str) -> str:
    sample = CORPUS[name]
    with pytest.raises(DocumentRefused) as refused:
        inspect_document(sample.data, sample.filename)
    return refused.value.message


async def test_each_refused_file_is_explained_and_the_form_goes_on(
    stack: dict[str, str],
) -> None:
    sender = "e2e-corpus"
    refused = sorted(name for name, sample in CORPUS.items() if sample.code)
    async with aiohttp.ClientSession() as http:
        await reach_document_step(http, stack["rasa"], sender)
        assert ASKED_AGAIN in await say(http, stack["rasa"], sender, CARD)
        for name in refused:
            if name == "empty":
                status, body = await upload(http, stack["web"], sender, CORPUS[name])
                assert status == 400 and "vide" in body["error"]["message"]
                continue
            answer = await send_files(http, stack, sender, CORPUS[name])
            assert refusal_of(name) in answer, f"{name}: the assistant said {answer!r}"
            assert ASKED_AGAIN in answer, f"{name}: the question is asked again"

        slots = await slots_of(http, stack, sender)
        assert slots["id_document"] is None
        assert (slots["last_name"], slots["siren"]) == ("Lefèvre", "552100554")

        answer = await send_files(http, stack, sender, CORPUS["png_scan"])
        assert "bien reçu le recto" in answer and "verso" in answer
        answer = await send_files(http, stack, sender, CORPUS["jpeg_scan_uppercase_extension"])
        assert "bien reçue" in answer and "conditions générales" in answer

    with sqlite3.connect(stack["accounts_db"]) as db:
        sides = db.execute(
            "SELECT side FROM documents WHERE conversation_id = ? ORDER BY id",
            (web_conversation_id(sender),),
        ).fetchall()
    assert sides == [("front",), ("back",)]


async def test_a_one_page_pdf_then_both_sides_in_one_pdf(stack: dict[str, str]) -> None:
    sender = "e2e-pdf"
    async with aiohttp.ClientSession() as http:
        await reach_document_step(http, stack["rasa"], sender)
        await say(http, stack["rasa"], sender, '/inform{"document_type":"residence_permit"}')
        answer = await send_files(http, stack, sender, CORPUS["pdf_one_page"])
        assert "bien reçu le recto de votre titre de séjour" in answer
        answer = await send_files(http, stack, sender, CORPUS["pdf_recto_verso"])
        assert "bien reçue" in answer


@pytest.fixture
async def stranger() -> AsyncIterator[tuple[TestServer, list[str]]]:
    """A server on loopback that is not allow-listed, recording what reaches it."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(body=CORPUS["png_scan"].data, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, seen
    await server.close()


async def test_an_attachment_outside_the_allow_list_is_never_fetched(
    stack: dict[str, str], stranger: tuple[TestServer, list[str]]
) -> None:
    server, seen = stranger
    sender = "e2e-stranger"
    attachment = {
        "url": str(server.make_url("/cni.png")),
        "filename": "cni.png",
        "content_type": "image/png",
    }
    async with aiohttp.ClientSession() as http:
        await reach_document_step(http, stack["rasa"], sender)
        await say(http, stack["rasa"], sender, CARD)
        answer = await say(
            http, stack["rasa"], sender, "/send_document", {"attachments": [attachment]}
        )
    assert "service d'envoi sécurisé" in answer
    assert seen == []


def test_the_logs_carry_no_personal_data_and_no_file_name(stack: dict[str, str]) -> None:
    log = Path(stack["log"]).read_text(encoding="utf-8", errors="replace")
    for secret in ("Lefèvre", "emilie.lefevre", "06 12 34 56 78", "cni-recto.png", "SCAN0001"):
        assert secret not in log, f"{secret!r} is in the logs"
