"""The assistant never stays silent (issue 18): at each question of the form, every kind
of message gets an answer, also right after an advisor's offer, a digression or a refusal.

Each combination is a fresh conversation put at its question through Rasa's API, with
the earlier answers as the validators store them (the company verified and the document
stored for real, as the e-mail check and the submission require); then one or two
messages on the REST channel. A test per question reports every silent combination.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from actions.steps import STEP_OF_SLOT
from bot.identifiers import new_web_conversation_id
from channels.resilience import UNAVAILABLE_TEXT
from tests.corpus import Sample, build_corpus
from tests.e2e.chat import say, send_files

CORPUS = build_corpus()
PASSPORT = CORPUS["png_scan"]
FORM = "registration_form"
ACCOUNT_API = {"Authorization": "Bearer e2e-token"}  # ACCOUNT_API_TOKENS of the e2e stack
CONCURRENCY = 6

# What a person types (or a file they send).
Message = str | Sample

# The form's answers before each question, as the validators store them, in its order.
STORED: dict[str, Any] = {
    "siren": "552100554",
    "contract_number": "AB123456",
    "company_confirmed": True,
    "civility": "Mme",
    "last_name": "Lefèvre",
    "first_name": "Émilie",
    "birth_date": "1984-03-12",
    "mobile_phone": "+33612345678",
    "job_title": "Directrice administrative",
    "professional_email": "emilie.lefevre@exemple-industries.fr",  # tagged per conversation
    "professional_phone": "+33142685300",
    "id_document_type": "passport",
    "id_document_country": "FR",
    "id_document": None,  # a passport stored for the conversation
    "cgu_accepted": True,
    "summary_confirmed": True,
}
QUESTIONS = list(STORED)

# Each question: its right answer, a value its validator refuses (neither yes nor no for
# a yes/no question), and the answer to another question.
ANSWERS: dict[str, tuple[Message, Message, Message]] = {
    "siren": ("552 100 554", "123", "mon numéro de contrat c'est AB123456"),
    "contract_number": ("AB123456", "AB", "Lefèvre"),
    "company_confirmed": ("oui c'est bien mon entreprise", "peut-être", "12/03/1984"),
    "civility": ("Madame", "Docteur", "06 12 34 56 78"),
    "last_name": ("Lefèvre", "L3f3vr3", "née le 12 mars 1984"),
    "first_name": ("Émilie", "Émilie2", "je suis directrice administrative"),
    "birth_date": ("12/03/1984", "45/13/2020", "mon portable : 06 12 34 56 78"),
    "mobile_phone": ("06 12 34 56 78", "01 42 68 53 00", "12/03/1984"),
    "job_title": ("Directrice administrative", "42", "mon fixe c'est le 01 42 68 53 00"),
    "professional_email": (
        "emilie.lefevre@exemple-industries.fr",
        "emilie.lefevre@@exemple",
        "01 42 68 53 00",
    ),
    "professional_phone": ("01 42 68 53 00", "0142", "emilie.lefevre@exemple-industries.fr"),
    "id_document_type": ("passeport", "ma carte vitale", PASSPORT),
    "id_document_country": ("France", "Japon", "Directrice administrative"),
    "id_document": (PASSPORT, CORPUS["gif"], "France"),
    "cgu_accepted": ("j'ai lu les conditions et je les accepte", "je verrai", "passeport"),
    "summary_confirmed": (
        "tout est bon, vous pouvez créer mon espace",
        "bof",
        "06 12 34 56 78",
    ),
}
# The other kinds of message, worded differently from one question to the next.
KINDS: dict[str, tuple[str, ...]] = {
    "oui": ("oui", "ouais", "oui bien sûr", "ok"),
    "non": ("non", "non merci", "nan", "pas du tout"),
    "question": ("pourquoi vous demandez ça ?", "c'est obligatoire ?", "ça sert à quoi ?"),
    "person": (
        "est-ce que je peux parler à quelqu'un ?",
        "je voudrais un conseiller",
        "passez-moi un humain svp",
    ),
    "small talk": ("merci", "il fait beau aujourd'hui", "vous êtes sympa", "ah bon"),
    "nonsense": ("zxqv plm", "azerty uiop", "???", "bla bla bla"),
}
# The message that started the registration: rules for a first message do not apply.
OPENING = "bonjour, je voudrais créer mon espace client"
DIGRESSION = "comment sont protégées mes données ?"
# A yes to the advisor's offer hands over for real: past the service's handoffs per
# address (10 an hour, all of these come from 127.0.0.1), the answer is that no advisor
# can be reached, an answer all the same.
INTERRUPTIONS = ("none", "advisor offer", "digression", "refusal")


def messages_of(question: str) -> dict[str, Message]:
    """Each kind of message at `question`, by kind."""
    index = QUESTIONS.index(question)
    right, _, other = ANSWERS[question]
    worded = {kind: variants[index % len(variants)] for kind, variants in KINDS.items()}
    return {"right answer": right, "other field": other, **worded}


def interruption(question: str, kind: str) -> list[Message]:
    """What is said just before the message: nothing, a request for a person (the
    advisor's offer), a digression, a value the question refuses."""
    before: dict[str, list[Message]] = {
        "none": [],
        "advisor offer": ["est-ce que je peux parler à quelqu'un ?"],
        "digression": [DIGRESSION],
        "refusal": [ANSWERS[question][1]],
    }
    return before[kind]


async def account_api(
    http: aiohttp.ClientSession, stack: dict[str, str], path: str, **request: Any
) -> dict[str, Any]:
    async with http.post(f"{stack['web']}{path}", headers=ACCOUNT_API, **request) as response:
        body = await response.json()
        assert response.status in (200, 201), body
        return dict(body)


async def stored_passport(
    http: aiohttp.ClientSession, stack: dict[str, str], conversation: str
) -> str:
    form = aiohttp.FormData()
    for name, value in (
        ("conversation_id", conversation),
        ("document_type", "passport"),
        ("country", "FR"),
        ("side", "full"),
    ):
        form.add_field(name, value)
    form.add_field("file", PASSPORT.data, filename=PASSPORT.filename, content_type="image/png")
    return str((await account_api(http, stack, "/api/v1/documents", data=form))["reference"])


async def put_at(
    http: aiohttp.ClientSession, stack: dict[str, str], conversation: str, question: str
) -> None:
    """Put `conversation` at the form's `question`, the earlier questions answered."""
    before = QUESTIONS[: QUESTIONS.index(question)]
    slots = {name: STORED[name] for name in before}
    if "contract_number" in before:
        company = {"siren": STORED["siren"], "contract_number": STORED["contract_number"]}
        verified = await account_api(
            http,
            stack,
            "/api/v1/companies/verify",
            json={**company, "conversation_id": conversation},
        )
        slots["company_name"] = verified["company_name"]
    if "professional_email" in before:  # its own address: a submission creates an account
        slots["professional_email"] = f"emilie.lefevre+{conversation[-12:]}@exemple-industries.fr"
    if "id_document" in before:
        slots["id_document"] = [await stored_passport(http, stack, conversation)]
    if "cgu_accepted" in before:
        slots["cgu_accepted_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    slots.update(requested_slot=question, announced_step=STEP_OF_SLOT[question])
    # From the session's start: events appended to a new conversation would otherwise
    # be older than the session Rasa starts for them, and ignored.
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": OPENING,
            "parse_data": {"intent": {"name": "start_registration"}},
        },
        {"event": "action", "name": FORM},
        {"event": "active_loop", "name": FORM},
        *({"event": "slot", "name": name, "value": value} for name, value in slots.items()),
        {"event": "action", "name": "action_listen"},
    ]
    url = f"{stack['rasa']}/conversations/{conversation}/tracker/events"
    async with http.post(url, params={"token": stack["rasa_token"]}, json=events) as response:
        assert response.status == 200, await response.text()


async def send(
    http: aiohttp.ClientSession, stack: dict[str, str], conversation: str, message: Message
) -> str:
    if isinstance(message, Sample):
        return await send_files(http, stack, conversation, message)
    return await say(http, stack["rasa"], conversation, message)


def shown(message: Message) -> str:
    return f"[file {message.filename}]" if isinstance(message, Sample) else repr(message)


async def silence_in(
    http: aiohttp.ClientSession, stack: dict[str, str], question: str, said: list[Message]
) -> str | None:
    """Say `said` in turn at `question` in a new conversation; the first unanswered one."""
    conversation = new_web_conversation_id()
    await put_at(http, stack, conversation, question)
    for message in said:
        answer = await send(http, stack, conversation, message)
        if not answer.strip() or UNAVAILABLE_TEXT in answer:  # the channel's, not an answer
            return f"no answer to {shown(message)}: {answer!r} (conversation {conversation})"
    return None


@pytest.mark.parametrize("question", QUESTIONS)
async def test_every_message_gets_an_answer(stack: dict[str, str], question: str) -> None:
    combinations = list(itertools.product(INTERRUPTIONS, messages_of(question).items()))
    limit = asyncio.Semaphore(CONCURRENCY)

    async def probe(before: str, message: Message) -> str | None:
        async with limit:
            return await silence_in(
                http, stack, question, [*interruption(question, before), message]
            )

    async with aiohttp.ClientSession() as http:
        silences = await asyncio.gather(
            *(probe(before, message) for before, (_, message) in combinations)
        )
    silent = [
        f"after {before}, {kind}: {silence}"
        for (before, (kind, _)), silence in zip(combinations, silences, strict=True)
        if silence
    ]
    assert not silent, f"silent at {question} ({len(silent)} of {len(combinations)}):\n" + (
        "\n".join(silent)
    )
