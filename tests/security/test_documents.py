"""Documents through the real chat flow: hostile PDFs get a French refusal (never an
empty answer), an upload serves once and only the conversation that sent it."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiohttp
import pytest

from tests.corpus import build_corpus
from tests.security.helpers import PEOPLE, Stack, WebClient, replies_text
from tests.security.hostile import HOSTILE_PDFS, hostile_pdf

CARD = '/inform{"document_type":"cni"}'
ASKED_AGAIN = "recto et verso"
SCAN = build_corpus()["png_scan"]
# One conversation at the document step serves the scenarios that leave it there.
_waiting: dict[str, str] = {}


async def at_document_step(stack: Stack, http: aiohttp.ClientSession) -> WebClient:
    """A web conversation asked for both sides of an identity card."""
    if _waiting:
        return WebClient(stack, http, sender=_waiting["sender"], address=_waiting["address"])
    client = WebClient(stack, http)
    await client.walk(PEOPLE["web"].steps())
    assert ASKED_AGAIN in await client.text(CARD)
    _waiting.update(sender=client.sender, address=client.address)
    return client


def documents_of(stack: Stack, conversation_id: str) -> int:
    with sqlite3.connect(stack.urls["accounts_db"]) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM documents WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
        )


async def upload_exists(stack: Stack, http: aiohttp.ClientSession, url: str) -> bool:
    async with http.get(url, headers=stack.account_auth()) as response:
        assert response.status in (200, 404), response.status
        return response.status == 200


def assert_refused(replies: list[dict[str, Any]]) -> None:
    """A refusal in French, then the question again; the file was not taken."""
    texts = [str(reply.get("text") or "") for reply in replies if reply.get("text")]
    answer = "\n".join(texts)
    assert len(texts) >= 2, f"no explanation in {answer!r}"
    assert ASKED_AGAIN in answer and "bien reçu" not in answer, answer
    assert any(char in answer for char in "éèàçù"), answer


@pytest.mark.parametrize("name", HOSTILE_PDFS)
async def test_a_hostile_pdf_is_refused_in_french_and_its_upload_deleted(
    stack: Stack, http: aiohttp.ClientSession, name: str
) -> None:
    client = await at_document_step(stack, http)
    status, attachment = await client.upload(hostile_pdf(name), "cni.pdf", "application/pdf")
    assert status == 201, attachment
    replies = await client.say("/send_document", {"attachments": [attachment]})
    assert_refused(replies)
    assert (await stack.tracker(http, client.sender))["slots"]["id_document"] is None
    assert documents_of(stack, client.sender) == 0
    assert not await upload_exists(stack, http, attachment["url"]), "a refused upload is kept"


async def test_an_upload_of_one_conversation_is_refused_in_another(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    owner = WebClient(stack, http)
    status, attachment = await owner.upload(SCAN.data, SCAN.filename, "image/png")
    assert status == 201, attachment
    thief = await at_document_step(stack, http)
    replies = await thief.say("/send_document", {"attachments": [attachment]})
    assert_refused(replies)
    assert documents_of(stack, thief.sender) == 0, "the other conversation's file was stored"
    assert documents_of(stack, owner.sender) == 0
    assert (await stack.tracker(http, thief.sender))["slots"]["id_document"] is None


async def test_an_upload_serves_once(stack: Stack, http: aiohttp.ClientSession) -> None:
    client = await at_document_step(stack, http)
    status, attachment = await client.upload(SCAN.data, SCAN.filename, "image/png")
    assert status == 201, attachment
    _waiting.clear()  # the front is taken: this conversation moves on
    first = replies_text(await client.say("/send_document", {"attachments": [attachment]}))
    assert "bien reçu le recto" in first, first
    assert not await upload_exists(stack, http, attachment["url"]), "a used upload is kept"
    replies = await client.say("/send_document", {"attachments": [attachment]})
    second = replies_text(replies)
    assert "bien reçu" not in second and "verso" in second, second
    assert documents_of(stack, client.sender) == 1
