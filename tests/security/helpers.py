"""What every scenario of the security suite needs: the stack's addresses and tokens,
clients of the public channels (each with its own address, given to the trusted proxy by
X-Forwarded-For), victims prepared once, and the two checks every scenario ends with:
`assert_no_leak` (no personal value nor token in any process's log) and
`assert_healthy` (a greeting still gets the greeting)."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.identifiers import new_web_conversation_id
from tests.channels.providers import SECRETS, FakeProviders
from tests.channels.users import ChannelUser, MessengerUser, TelegramUser, WhatsAppUser

GREETING = "Je suis l'assistant de création d'espace client entreprise"
_addresses = itertools.count(1)


def new_client_address() -> str:
    """A public address of its own for one client of a scenario (TEST-NET ranges)."""
    number = next(_addresses)
    return f"198.51.{100 + number // 250}.{number % 250 + 1}"


# Personal values typed by the victims and the scenarios, looked for in the logs.
PERSONAL_VALUES: set[str] = set()


@dataclass(frozen=True)
class Person:
    civility: str
    last_name: str
    first_name: str
    birth_date: str  # as typed
    birth_date_iso: str
    mobile: str  # as typed
    mobile_e164: str
    job_title: str
    email: str
    phone: str = "01 42 68 53 00"

    def values(self) -> list[str]:
        return [
            self.last_name,
            self.first_name,
            self.birth_date,
            self.birth_date_iso,
            self.mobile,
            self.mobile_e164,
            self.email,
        ]

    def steps(self) -> list[tuple[str, str, str]]:
        """Steps 1 to 3: (how, what, words of the next question)."""
        return [
            ("say", "bonjour, je voudrais créer mon espace client", "SIREN"),
            ("say", "SIREN 552 100 554, contrat AB123456", "Maison Démo Industries SA"),
            ("press", "Oui, c'est bien elle", "civilité"),
            ("press", self.civility, "nom de famille"),
            ("say", self.last_name, "prénom"),
            ("say", self.first_name, "date de naissance"),
            ("say", self.birth_date, "portable"),
            ("say", self.mobile, "fonction"),
            ("say", self.job_title, "adresse e-mail professionnelle"),
            ("say", self.email, "téléphone professionnel"),
            ("say", self.phone, "Quel document allez-vous envoyer"),
        ]


PEOPLE = {
    "web": Person(
        "Madame", "Vasseur", "Bérénice", "14/02/1981", "1981-02-14", "06 11 22 33 01",
        "+33611223301", "Directrice financière", "berenice.vasseur@exemple-industries.fr",
    ),
    "whatsapp": Person(
        "Madame", "Marchetti", "Sophie", "03/09/1986", "1986-09-03", "06 12 34 56 78",
        "+33612345678", "Comptable", "sophie.marchetti@exemple-industries.fr",
    ),
    "telegram": Person(
        "Monsieur", "Quéméner", "Gwenaël", "27/06/1972", "1972-06-27", "06 45 67 89 02",
        "+33645678902", "Gérant", "gwenael.quemener@exemple-industries.fr",
    ),
    "messenger": Person(
        "Monsieur", "Benali", "Yanis", "09/12/1990", "1990-12-09", "06 87 65 43 03",
        "+33687654303", "DRH", "yanis.benali@exemple-industries.fr",
    ),
}  # fmt: skip
for _person in PEOPLE.values():
    PERSONAL_VALUES.update(_person.values())
# The company and contract the victims typed.
PERSONAL_VALUES.update(["AB123456", "552100554", "552 100 554"])

MESSAGING_IDS = {
    "whatsapp": "whatsapp:+33612345678",
    "telegram": "712345678",
    "messenger": "6712345678901234",
}
MESSAGING_USERS: dict[str, type[ChannelUser]] = {
    "whatsapp": WhatsAppUser,
    "telegram": TelegramUser,
    "messenger": MessengerUser,
}


# What a web user sends for the buttons that messaging users press.
WEB_PAYLOADS = {
    "Oui, c'est bien elle": "oui c'est bien ça",
    "Madame": '/inform{"civility":"Mme"}',
    "Monsieur": '/inform{"civility":"M."}',
}


def replies_text(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(reply.get("text", "")) for reply in replies)


@dataclass
class Stack:
    urls: dict[str, str]
    rasa_token: str
    action_token: str
    account_token: str
    checked_log_bytes: int = 0

    @property
    def web(self) -> str:
        return self.urls["web"]

    @property
    def rasa(self) -> str:
        return self.urls["rasa"]

    @property
    def actions(self) -> str:
        return self.urls["actions"]

    @property
    def log(self) -> Path:
        return Path(self.urls["log"])

    def account_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.account_token}"}

    async def tracker(self, http: aiohttp.ClientSession, conversation_id: str) -> dict[str, Any]:
        """The conversation as Rasa's API gives it to the token's holder."""
        async with http.get(
            f"{self.rasa}/conversations/{conversation_id}/tracker",
            params={"include_events": "ALL", "token": self.rasa_token},
        ) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    async def snapshot(self, http: aiohttp.ClientSession, conversation_id: str) -> Snapshot:
        tracker = await self.tracker(http, conversation_id)
        return Snapshot(conversation_id, len(tracker["events"]), dict(tracker["slots"]))

    async def assert_untouched(self, http: aiohttp.ClientSession, before: Snapshot) -> None:
        """Nothing was written to the conversation since `before`."""
        after = await self.snapshot(http, before.conversation_id)
        assert after.slots == before.slots, f"{before.conversation_id}: its slots changed"
        assert after.events == before.events, f"{before.conversation_id}: events were added"

    async def status(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(f"{self.rasa}/status", params={"token": self.rasa_token}) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    async def assert_healthy(self, http: aiohttp.ClientSession) -> None:
        """The stack still answers normally: the model is loaded, a greeting is greeted."""
        status = await self.status(http)
        assert status.get("model_file"), f"no model loaded any more: {status}"
        replies = await WebClient(self, http).say("bonjour")
        assert GREETING in replies_text(replies), f"a greeting got {replies!r}"

    def secrets(self) -> list[str]:
        return [self.rasa_token, self.action_token, *SECRETS]

    def assert_no_leak(self, *values: str) -> None:
        """No personal value (the victims', the scenario's `values`) nor token in any log."""
        PERSONAL_VALUES.update(values)
        text = self.log.read_text(errors="replace")
        for value in sorted(PERSONAL_VALUES) + self.secrets():
            assert value not in text, f"{value!r} appears in the processes' log {self.log}"


@dataclass(frozen=True)
class Snapshot:
    conversation_id: str
    events: int
    slots: dict[str, Any]


@dataclass
class WebClient:
    """One person on the public REST channel, from an address of their own."""

    stack: Stack
    http: aiohttp.ClientSession
    sender: str = field(default_factory=new_web_conversation_id)
    address: str = field(default_factory=new_client_address)

    def headers(self) -> dict[str, str]:
        return {"X-Forwarded-For": self.address}

    async def post(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        async with self.http.post(
            f"{self.stack.rasa}/webhooks/rest/webhook", json=payload, headers=self.headers()
        ) as response:
            assert response.status == 200, await response.text()
            return list(await response.json())

    async def say(
        self, text: str, metadata: dict[str, Any] | None = None, sender: str | None = None
    ) -> list[dict[str, Any]]:
        """Send one message; the answers, which are never empty and have text."""
        payload: dict[str, Any] = {"sender": sender or self.sender, "message": text}
        if metadata is not None:
            payload["metadata"] = metadata
        replies = await self.post(payload)
        assert_answered(replies)
        return replies

    async def text(self, text: str, metadata: dict[str, Any] | None = None) -> str:
        return replies_text(await self.say(text, metadata))

    async def walk(self, steps: Iterable[tuple[str, str, str]]) -> None:
        """Answer the steps of `Person.steps`, buttons sent as their payloads."""
        for _how, typed, expected in steps:
            typed = WEB_PAYLOADS.get(typed, typed)
            answer = await self.text(typed)
            assert expected in answer, f"after {typed!r} the assistant said {answer!r}"

    async def upload(
        self,
        data: bytes,
        filename: str,
        content_type: str,
        sender: str | None = None,
        address: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST the file to the upload store, as the chat widget does."""
        form = aiohttp.FormData()
        form.add_field("sender_id", sender or self.sender)
        form.add_field("file", data, filename=filename, content_type=content_type)
        async with self.http.post(
            f"{self.stack.web}/uploads",
            data=form,
            headers={"X-Forwarded-For": address or self.address},
        ) as response:
            return response.status, dict(await response.json())

    async def send_document(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload the file, then send the message that carries it; the answer."""
        status, attachment = await self.upload(data, filename, content_type)
        assert status == 201, attachment
        return await self.text("/send_document", {"attachments": [attachment]})


def assert_answered(replies: list[dict[str, Any]]) -> None:
    assert replies, "the user got no answer"
    assert any(str(reply.get("text") or "").strip() for reply in replies), (
        f"no text in the answer {replies!r}"
    )


@dataclass
class Victims:
    """Conversation ids of the prepared victims, by channel (web, whatsapp, telegram…)."""

    ids: dict[str, str]


async def _prepare(stack: Stack, fake: FakeProviders) -> Victims:
    async with aiohttp.ClientSession() as http:
        web = WebClient(stack, http)

        async def messaging(channel: str) -> None:
            user = MESSAGING_USERS[channel](http, stack.rasa, fake, MESSAGING_IDS[channel])
            for how, what, expected in PEOPLE[channel].steps():
                answer = await (user.say(what) if how == "say" else user.press(what))
                assert expected in answer, f"{channel}: after {what!r} the bot said {answer!r}"

        await asyncio.gather(web.walk(PEOPLE["web"].steps()), *map(messaging, MESSAGING_IDS))
        ids = {"web": web.sender, **MESSAGING_IDS}
        for channel, conversation_id in ids.items():
            slots = (await stack.tracker(http, conversation_id))["slots"]
            assert slots["last_name"] == PEOPLE[channel].last_name, (channel, conversation_id)
        return Victims(ids)


def prepare_victims(stack: Stack, fake: FakeProviders) -> Victims:
    return asyncio.run(_prepare(stack, fake))


async def median_turn_seconds(client_factory: Any, turns: int = 5) -> float:
    """The median time of `turns` first turns, each in a conversation of its own."""
    durations = []
    for _ in range(turns):
        client = client_factory()
        started = time.perf_counter()
        await client.say("bonjour, je voudrais créer mon espace client")
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)
