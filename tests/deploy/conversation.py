"""Conversations through nginx's REST channel that record what the person saw."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.identifiers import web_conversation_id
from deploy.topology import UNAVAILABLE_TEXT
from tests.corpus import Sample, build_corpus
from tests.e2e.chat import FIRST_STEPS, upload

CORPUS = build_corpus()
RECONNECT_SECONDS = 30
EMAIL = "emilie.lefevre@exemple-industries.fr"


def first_steps(person: str) -> list[tuple[str, str]]:
    """tests/e2e's steps 1 to 3 for a person of their own (an e-mail nobody else uses)."""
    address = f"emilie.{person}@exemple-industries.fr"
    return [(typed.replace(EMAIL, address), expected) for typed, expected in FIRST_STEPS]


# Steps 4 and 5 (the masked e-mail is checked apart).
LAST_STEPS: list[tuple[str | Sample, str]] = [
    ('/inform{"document_type":"passport"}', "Quel pays a délivré votre passeport"),
    ("Italie", "page de votre passeport"),
    (CORPUS["jpeg_photo_with_exif"], "passeport (Italie)) est bien reçue"),
    ("j'accepte", "récapitulatif"),
    ("oui", "@exemple-industries.fr"),
]


@dataclass
class Conversation:
    """One person talking to nginx's REST channel."""

    http: aiohttp.ClientSession
    base: str
    sender: str
    said: list[str] = field(default_factory=list)  # every message sent, resent included
    answers: list[list[str]] = field(default_factory=list)
    # Whether nginx answered instead of Rasa (no replica could): Rasa never saw the message.
    by_nginx: list[bool] = field(default_factory=list)
    reconnections: int = 0

    @property
    def conversation_id(self) -> str:
        return web_conversation_id(self.sender)

    async def send(self, text: str, metadata: dict[str, Any] | None = None) -> list[str]:
        """One message; the texts of the answer (never an empty list: asserted).

        A connection that breaks before an answer (nginx restarting, a kept-alive
        connection that its killed worker took away) is tried again, as browsers do: the
        tracker store then shows whether a message was ever received twice.
        """
        payload: dict[str, Any] = {"sender": self.sender, "message": text}
        if metadata is not None:
            payload["metadata"] = metadata
        url = f"{self.base}/webhooks/rest/webhook"
        deadline = asyncio.get_running_loop().time() + RECONNECT_SECONDS
        while True:
            try:
                async with self.http.post(url, json=payload) as response:
                    assert response.status == 200, (text, response.status)
                    body = await response.json()
                break
            except aiohttp.ClientConnectionError:
                self.reconnections += 1
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
        texts = [str(reply.get("text", "")) for reply in body]
        self.said.append(text)
        self.answers.append(texts)
        self.by_nginx.append(all(not reply.get("recipient_id") for reply in body))
        assert any(texts), f"no answer at all to {text!r}: {body!r}"
        return texts

    async def answer(
        self, sent: str | Sample, expected: str, *, patience: float = 120, pause: float = 1
    ) -> str:
        """Send until the assistant answers `expected`: an « indisponible » answer is an
        answer, and the person sends the same message again, as it asks."""
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            if isinstance(sent, Sample):
                status, attachment = await upload(self.http, self.base, self.sender, sent)
                assert status == 201, attachment
                texts = await self.send("/send_document", {"attachments": [attachment]})
            else:
                texts = await self.send(sent)
            joined = "\n".join(texts)
            if expected in joined:
                return joined
            assert UNAVAILABLE_TEXT in joined, f"after {sent!r} the assistant said {joined!r}"
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"still unavailable after {patience} s: {sent!r}")
            await asyncio.sleep(pause)

    def reached_rasa(self) -> list[str]:
        """The messages Rasa received, in order: what its tracker store must hold."""
        return [text for text, nginx in zip(self.said, self.by_nginx, strict=True) if not nginx]

    def unavailable_count(self) -> int:
        return sum(UNAVAILABLE_TEXT in "\n".join(texts) for texts in self.answers)
