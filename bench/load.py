"""The load generator: simulated users talking to a Rasa server over the REST channel.

Each simulated conversation opens its own HTTP connections from its own loopback
address (127.x.y.z), as distinct users would: the web process throttles uploads per
client address. Every webhook call is one turn, timed from request to full answer.
"""

from __future__ import annotations

import asyncio
import io
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import aiohttp

from bench.people import Person, person
from bench.stats import latency_summary, median
from tests.corpus import Sample, build_corpus

TIMEOUT = aiohttp.ClientTimeout(total=120)
UPLOAD = object()  # in a script: upload the passport photo, then send /send_document
FLOOR_MESSAGES = ("bonjour", "salut", "bonsoir", "coucou")
# Questions answered inside the form, which then asks for the SIREN again.
DIGRESSIONS = (
    "pourquoi le siren ?",
    "où trouver mon numéro de contrat ?",
    "comment sont protégées mes données ?",
)
SIREN_QUESTION = "Quel est le numéro SIREN"


class TurnError(Exception):
    """The server failed a turn or answered something the script did not expect."""


def registration_script(who: Person) -> list[tuple[Any, str]]:
    """A whole registration: (what the user sends, words expected in the answer)."""
    company = who.company
    return [
        ("bonjour, je voudrais créer mon espace client", "SIREN"),
        (f"SIREN {company.spaced_siren}, contrat {company.contract_number}", company.name),
        ("oui c'est bien ça", "civilité"),
        ('/inform{"civility":"Mme"}', "nom de famille"),
        (who.last_name, "prénom"),
        (who.first_name, "date de naissance"),
        ("12/03/1984", "portable"),
        ("06 12 34 56 78", "fonction"),
        ("Directrice administrative", "adresse e-mail professionnelle"),
        (who.email, "téléphone professionnel"),
        ("01 42 68 53 00", "Quel document allez-vous envoyer"),
        ('/inform{"document_type":"passport"}', "Quel pays a délivré votre passeport"),
        ("Italie", "page de votre passeport"),
        (UPLOAD, "bien reçue"),
        ("j'accepte", "récapitulatif"),
        ("oui", "@" + company.domain),
    ]


TURNS_PER_CONVERSATION = len(registration_script(person(0)))


def source_address(index: int) -> str:
    """A loopback address of its own for the `index`-th conversation of a run."""
    host = 1 + index % 254
    rest = index // 254
    return f"127.{10 + (rest // 256) % 200}.{rest % 256}.{host}"


@dataclass
class RunResult:
    """What one run of simulated users measured."""

    users: int
    wall_s: float = 0.0
    turns: list[float] = field(default_factory=list)
    uploads: list[float] = field(default_factory=list)
    completed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        wall = self.wall_s or float("nan")
        return {
            "users": self.users,
            **latency_summary(self.turns),
            "upload_p50_ms": None if not self.uploads else median(self.uploads) * 1000,
            "turns": len(self.turns),
            "turns_per_s": len(self.turns) / wall,
            "conversations_completed": self.completed,
            "registrations_per_min": self.completed * 60 / wall,
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "wall_s": self.wall_s,
        }


class Target(Protocol):
    name: str
    turns_sent: int

    async def converse(self, index: int, result: RunResult) -> None: ...


Think = tuple[float, float] | None


class Conversation:
    """One user's conversation with one Rasa server; every turn is timed into `turns`.
    With `think` (shortest, longest seconds), the user reads and types for a random
    while before each message but the first."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        rasa: str,
        sender: str,
        turns: list[float],
        think: Think = None,
    ) -> None:
        self.http, self.rasa, self.sender, self.turns = http, rasa, sender, turns
        self.think = think
        self.said = 0

    async def say(self, text: str, expected: str, metadata: dict[str, Any] | None = None) -> str:
        """Send `text`; the answer, which must contain `expected`."""
        if self.think and self.said:
            await asyncio.sleep(random.uniform(*self.think))
        self.said += 1
        payload: dict[str, Any] = {"sender": self.sender, "message": text}
        if metadata is not None:
            payload["metadata"] = metadata
        started = time.monotonic()
        async with self.http.post(f"{self.rasa}/webhooks/rest/webhook", json=payload) as response:
            body = await response.json() if response.status == 200 else None
        self.turns.append(time.monotonic() - started)
        if body is None:
            raise TurnError(f"HTTP {response.status} after {text!r}")
        answer = "\n".join(reply.get("text", "") for reply in body)
        if expected not in answer:
            raise TurnError(f"after {text!r}, expected {expected!r}, got {answer[:160]!r}")
        return answer


def _session(index: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(source_address(index), 0))
    return aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)


async def _guarded(result: RunResult, what: str, talk: Awaitable[None]) -> None:
    """Run one conversation; a failure is counted, and the conversation abandoned."""
    try:
        await talk
    except (TurnError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        result.errors.append(f"{what}: {type(error).__name__}: {error}")
    else:
        result.completed += 1


class Project:
    """Our assistant: each conversation is a whole registration, file upload included."""

    name = "project"

    def __init__(self, rasa: str, web: str, run_id: str, think: Think = None) -> None:
        self.rasa, self.web, self.run_id = rasa, web, run_id
        self.think = think
        self.turns_sent = 0

    @cached_property
    def document(self) -> Sample:
        return build_corpus()["jpeg_photo_with_exif"]

    async def converse(self, index: int, result: RunResult) -> None:
        sender = f"bench-{self.run_id}-{index}"
        await _guarded(result, sender, self._register(index, sender, result))

    async def _register(self, index: int, sender: str, result: RunResult) -> None:
        async with _session(index) as http:
            chat = Conversation(http, self.rasa, sender, result.turns, self.think)
            for sent, expected in registration_script(person(index)):
                self.turns_sent += 1
                if sent is UPLOAD:
                    attachment = await self._upload(http, sender, result.uploads)
                    await chat.say("/send_document", expected, {"attachments": [attachment]})
                else:
                    await chat.say(sent, expected)

    async def _upload(
        self, http: aiohttp.ClientSession, sender: str, timings: list[float]
    ) -> dict[str, Any]:
        """POST the passport photo to the upload store, as the chat widget does."""
        form = aiohttp.FormData()
        form.add_field("sender_id", sender)
        form.add_field(
            "file",
            io.BytesIO(self.document.data),
            filename=self.document.filename,
            content_type="image/jpeg",
        )
        started = time.monotonic()
        async with http.post(f"{self.web}/uploads", data=form) as response:
            body = await response.json()
        timings.append(time.monotonic() - started)
        if response.status != 201:
            raise TurnError(f"upload refused: HTTP {response.status} {body}")
        return dict(body)

    async def long_conversation(self, index: int, turns: int) -> list[float]:
        """One conversation of `turns` turns that stays in the form: after the opening,
        questions the assistant answers before asking for the SIREN again."""
        timings: list[float] = []
        async with _session(index) as http:
            chat = Conversation(http, self.rasa, f"bench-{self.run_id}-long-{index}", timings)
            await chat.say("bonjour, je voudrais créer mon espace client", SIREN_QUESTION)
            for turn in range(turns - 1):
                await chat.say(DIGRESSIONS[turn % len(DIGRESSIONS)], SIREN_QUESTION)
        self.turns_sent += turns
        return timings


class Floor:
    """Rasa's floor: as many greetings per conversation as a registration has turns."""

    name = "floor"

    def __init__(self, rasa: str, run_id: str) -> None:
        self.rasa, self.run_id = rasa, run_id
        self.turns_sent = 0

    async def converse(self, index: int, result: RunResult) -> None:
        sender = f"bench-floor-{self.run_id}-{index}"
        await _guarded(result, sender, self._greet(index, sender, result))

    async def _greet(self, index: int, sender: str, result: RunResult) -> None:
        async with _session(index) as http:
            chat = Conversation(http, self.rasa, sender, result.turns)
            for turn in range(TURNS_PER_CONVERSATION):
                self.turns_sent += 1
                await chat.say(FLOOR_MESSAGES[turn % len(FLOOR_MESSAGES)], "Bonjour")


async def run_users(
    target: Target, users: int, conversations: int, next_index: Callable[[], int]
) -> RunResult:
    """`users` concurrent simulated users complete `conversations` conversations in all,
    each starting the next one as soon as theirs ends (no think time)."""
    result = RunResult(users=users)
    remaining = conversations

    async def user() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await target.converse(next_index(), result)

    started = time.monotonic()
    await asyncio.gather(*(user() for _ in range(min(users, conversations))))
    result.wall_s = time.monotonic() - started
    return result


async def run_people(target: Target, people: int, next_index: Callable[[], int]) -> RunResult:
    """`people` simulated people registering at once, one registration each; with a
    target that thinks between messages, they arrive over one think time, not at once."""
    result = RunResult(users=people)
    think = getattr(target, "think", None)

    async def one() -> None:
        if think:
            await asyncio.sleep(random.uniform(0, think[1]))
        await target.converse(next_index(), result)

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(people)))
    result.wall_s = time.monotonic() - started
    return result
