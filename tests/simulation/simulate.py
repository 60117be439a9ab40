"""The interpreter: a person talks to the running stack until their account is active."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import aiohttp

from tests.bot.test_activation import LINK, browser, click
from tests.corpus import build_corpus
from tests.e2e.chat import upload
from tests.simulation.dialogue import Question, is_created, is_not_understood, plain, question_of
from tests.simulation.person import AnswerForm, Later, Moment, Person, Style, Turn, Upload

CORPUS = build_corpus()
# Beyond this a person gives up (a loop, or an assistant that never gets there).
MAX_MESSAGES = 45
MAX_SAME_QUESTION = 5  # in a row
MAX_TIMES_ASKED = 7  # in all, with digressions and offers in between
MAX_AFTER_CREATION = 3
EMAIL_WAIT_SECONDS = 30
# How anyone rephrases an answer the assistant asked again: the bare value, « oui ».
PLAINLY = Style()
# Questions of the form proper (not an offer or a confirmation around it).
FORM_QUESTIONS = frozenset(Question) - {
    Question.INVITATION,
    Question.ADVISOR,
    Question.CANCEL_CONFIRM,
    Question.FEEDBACK,
    Question.FEEDBACK_COMMENT,
    Question.CREATED,
    Question.HANDED_OVER,
}


@dataclass(frozen=True)
class Exchange:
    """One message of the person and the assistant's answer to it."""

    asked: Question | None  # what the assistant had asked before the message
    typed: str
    answer: tuple[str, ...]
    scripted: bool  # a move of the script, not the style's answer to the question
    files: tuple[str, ...] = ()  # the corpus samples sent with the message

    @property
    def not_understood(self) -> bool:
        return is_not_understood("\n".join(self.answer))

    @property
    def silent(self) -> bool:
        return not self.answer

    @property
    def next_question(self) -> Question | None:
        return question_of(list(self.answer))


@dataclass
class Outcome:
    """What became of one person: their exchanges and whether they got an active account."""

    person: Person
    sender: str
    exchanges: list[Exchange] = field(default_factory=list)
    created_after: int | None = None  # messages sent when the assistant said it was done
    activated: bool = False
    problems: list[str] = field(default_factory=list)
    # Questions asked for a value given in an earlier message, and the exchange before.
    already_given: list[tuple[Question, Exchange]] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return len(self.exchanges)

    @property
    def misunderstandings(self) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.not_understood]

    @property
    def silences(self) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.silent]

    @property
    def asked_again(self) -> list[Exchange]:
        """Answers that the style gave to a question the assistant then asked again."""
        return [
            exchange
            for exchange in self.exchanges
            if not exchange.scripted
            and exchange.asked in FORM_QUESTIONS
            and exchange.next_question == exchange.asked
            and exchange.asked not in (Question.DOC_FILE, Question.DOC_BACK)
        ]

    @property
    def too_long(self) -> bool:
        limit = self.person.max_messages
        return limit is not None and (self.created_after or self.messages) > limit

    @property
    def summary(self) -> str:
        if self.activated and not self.problems and not self.too_long:
            return "activated"
        if self.activated and self.too_long:
            return f"activated in {self.created_after} messages (> {self.person.max_messages})"
        return "; ".join(self.problems) or "not activated"


def contains(text: str, value: str) -> bool:
    """`value` is in `text`: the same digits for a number (spaces and dots aside), the
    same words for a name (case and accents aside)."""
    if any(ch.isdigit() for ch in value):
        digits = "".join(ch for ch in value if ch.isdigit())
        return digits in "".join(ch for ch in text if ch.isdigit())
    return re.search(rf"(?<!\w){re.escape(plain(value))}(?!\w)", plain(text)) is not None


class Conversation:
    """Drives one person: answers what is asked, in their style, following their script."""

    def __init__(
        self, person: Person, stack: dict[str, str], http: aiohttp.ClientSession, address: str
    ):
        self.person = person
        self.address = address  # where the person writes from, behind the reverse proxy
        self.stack = stack
        self.http = http
        self.outcome = Outcome(person, f"sim-{person.key}-{uuid.uuid4().hex[:8]}")
        self.scripts = {question: deque(turns) for question, turns in person.script.items()}
        self.files = deque(person.files)
        self.sent_files: list[tuple[str, ...]] = []
        self.later: deque[Turn] = deque()
        self.form_question: Question | None = None
        self.asked_before: set[Question] = set()

    async def run(self) -> Outcome:
        try:
            await self._talk()
            if self.outcome.created_after is not None:
                await self._activate()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            self.outcome.problems.append(f"the stack failed: {str(error)[:120] or type(error)}")
        return self.outcome

    async def _talk(self) -> None:
        outcome = self.outcome
        opening: deque[Turn] = deque(self.person.opening)
        asked: Question | None = None
        answer: tuple[str, ...] = ()
        same, lost, after_creation = 0, 0, 0
        times_asked: Counter[Question] = Counter()
        while outcome.messages < MAX_MESSAGES:
            if opening:
                turn: Turn | None = opening.popleft()
                scripted = True
            elif outcome.created_after is not None:
                if asked not in (Question.FEEDBACK, Question.FEEDBACK_COMMENT):
                    return
                after_creation += 1
                if after_creation > MAX_AFTER_CREATION:
                    return
                turn, scripted = self._next_turn(asked, answer)
            elif asked is Question.HANDED_OVER:
                outcome.problems.append("handed over to an advisor")
                return
            elif asked is None:
                lost += 1
                if lost > 2:
                    outcome.problems.append("lost: the assistant asks nothing")
                    return
                turn, scripted = self.person.style.resume(self.person.me), False
            else:
                lost = 0
                turn, scripted = self._next_turn(asked, answer)
            if turn is None:
                return
            exchange = await self._send(turn, asked, scripted)
            if exchange is None:
                return
            outcome.exchanges.append(exchange)
            if exchange.silent and outcome.created_after is None:
                if len(outcome.exchanges) > 1 and outcome.exchanges[-2].silent:
                    outcome.problems.append("silent twice in a row")
                    return
                # As a person does: say it again.
                if exchange.files:
                    self.files.appendleft(exchange.files)
                opening.appendleft(Upload() if exchange.files else exchange.typed)
                continue
            answer = exchange.answer
            if outcome.created_after is None and is_created(list(answer)):
                outcome.created_after = outcome.messages
            following = exchange.next_question
            same = same + 1 if following == asked and following is not None else 0
            if asked is not None:
                self.asked_before.add(asked)
            if following in FORM_QUESTIONS:
                self._note_if_already_given(following, exchange)
                self.form_question = following
                times_asked[following] += 1
            if following is not None and (
                same >= MAX_SAME_QUESTION or times_asked[following] > MAX_TIMES_ASKED
            ):
                outcome.problems.append(f"stuck at « {following.value} »")
                return
            asked = following
        outcome.problems.append(f"gave up after {MAX_MESSAGES} messages")

    def _next_turn(self, asked: Question, answer: tuple[str, ...]) -> tuple[Turn | None, bool]:
        """The person's next move: a pending correction, their script, else their answer."""
        if self.later:
            return self.later.popleft(), True
        script = self.scripts.get(asked, deque())
        turn: Turn | None = None
        while script and turn is None:
            turn = script.popleft()
            if isinstance(turn, Later):
                self.later.append(turn.turn)
                turn = None
        while script and isinstance(script[0], Later):  # said at the next answer
            pending = script.popleft()
            if isinstance(pending, Later):
                self.later.append(pending.turn)
        if turn is not None:
            return turn, True
        return self._answer(asked, answer), False

    def _answer(self, asked: Question, answer: tuple[str, ...]) -> Turn:
        if asked in (Question.DOC_FILE, Question.DOC_BACK):
            return Upload()
        if asked is Question.FIELD_TO_CHANGE and Question.FIELD_TO_CHANGE not in self.scripts:
            self.outcome.problems.append("asked what to change without having asked to")
        if asked is Question.SUMMARY:
            self._check_summary("\n".join(answer))
        last = self.outcome.exchanges[-1] if self.outcome.exchanges else None
        if last and not last.scripted and last.asked == asked and asked in FORM_QUESTIONS:
            # Asked again after answering: rephrase as plainly as one can, the bare value.
            return PLAINLY.answer(asked, self.person.me)
        return self.person.answer(asked, frozenset(self.asked_before))

    def _note_if_already_given(self, question: Question, exchange: Exchange) -> None:
        """The assistant asks for a value the person typed in this message or an earlier
        one (not right after asking to change it, nor again after the same question)."""
        value = self.person.me.value(question)
        if value is None or exchange.scripted or exchange.asked == question:
            return
        typed = [e.typed for e in self.outcome.exchanges if not e.files]
        if any(contains(text, value) for text in typed):
            self.outcome.already_given.append((question, exchange))

    def _check_summary(self, summary: str) -> None:
        me = self.person.me
        shown = plain(summary)
        expected = {
            "SIREN": me.company.siren_spaced,
            "nom": me.last_name,
            "prénom": me.first_name,
            "date de naissance": me.birth_slashes,
            "portable": me.mobile,
            "fonction": me.job,
            "e-mail": me.email,
            "téléphone professionnel": me.phone,
        }
        wrong = [name for name, value in expected.items() if plain(value) not in shown]
        if wrong:
            self.outcome.problems.append(f"the summary is wrong ({', '.join(wrong)})")

    async def _send(self, turn: Turn, asked: Question | None, scripted: bool) -> Exchange | None:
        if isinstance(turn, Upload):
            if self.files:
                names = self.files.popleft()
            elif self.sent_files:
                self.outcome.problems.append("asked again for a document already sent")
                names = self.sent_files[-1]
            else:
                self.outcome.problems.append("asked for a file the person does not have")
                return None
            self.sent_files.append(names)
            answer = await self._send_files(names)
            return Exchange(asked, f"[fichier {', '.join(names)}]", answer, scripted, names)
        if isinstance(turn, AnswerForm):
            if self.form_question is None:
                return None
            return await self._send(self._answer(self.form_question, ()), asked, scripted)
        if isinstance(turn, Later):  # _next_turn keeps them for later; said now in an opening
            turn = turn.turn
        text = turn if isinstance(turn, str) else turn(self._moment(asked))
        return Exchange(asked, text, await self._say(text), scripted)

    def _moment(self, asked: Question | None) -> Moment:
        last = self.outcome.exchanges[-1].answer if self.outcome.exchanges else ()
        return Moment(self.person.me, "\n".join(last), asked, self.form_question)

    async def _say(self, text: str, metadata: dict[str, Any] | None = None) -> tuple[str, ...]:
        payload: dict[str, Any] = {"sender": self.outcome.sender, "message": text}
        if metadata is not None:
            payload["metadata"] = metadata
        url = f"{self.stack['rasa']}/webhooks/rest/webhook"
        headers = {"X-Forwarded-For": self.address}
        async with self.http.post(url, json=payload, headers=headers) as response:
            response.raise_for_status()
            replies = await response.json()
        return tuple(reply["text"] for reply in replies if reply.get("text"))

    async def _send_files(self, names: Sequence[str]) -> tuple[str, ...]:
        attachments = []
        for name in names:
            status, attachment = await upload(
                self.http, self.stack["web"], self.outcome.sender, CORPUS[name]
            )
            if status != 201:
                self.outcome.problems.append(f"upload of {name} refused: {attachment}")
                return ()
            attachments.append(attachment)
        return await self._say("/send_document", {"attachments": attachments})

    async def _activate(self) -> None:
        """Open the link of the activation e-mail and press its button, as a browser does."""
        email = self.person.me.email
        link = await self._activation_link(email)
        if link is None:
            self.outcome.problems.append(f"no activation e-mail for {email}")
            return
        async with browser() as client:
            status, _page = await click(client, link)
        status_in_database = await asyncio.to_thread(self._account_status, email)
        if status != 200 or status_in_database != "active":
            self.outcome.problems.append(
                f"activation failed: HTTP {status}, account {status_in_database}"
            )
            return
        self.outcome.activated = True

    async def _activation_link(self, email: str) -> str | None:
        outbox = Path(self.stack["outbox"])
        for _ in range(EMAIL_WAIT_SECONDS * 4):
            for eml in outbox.glob("*.eml"):
                message = message_from_bytes(eml.read_bytes(), policy=default_policy)
                if str(message["To"]).strip().lower() == email:
                    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                    found = LINK.findall(body)
                    if found:
                        return str(found[0])
            await asyncio.sleep(0.25)
        return None

    def _account_status(self, email: str) -> str | None:
        with sqlite3.connect(self.stack["accounts_db"]) as db:
            row = db.execute("SELECT status FROM accounts WHERE email = ?", (email,)).fetchone()
        return row[0] if row else None


async def simulate(
    people: Sequence[Person], stack: dict[str, str], concurrency: int = 4
) -> list[Outcome]:
    """Every person's outcome, `concurrency` conversations at a time, each person from an
    address of their own (X-Forwarded-For: the stack must trust 127.0.0.1 as its proxy)."""
    gate = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=180)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def one(number: int, person: Person) -> Outcome:
            address = f"198.51.100.{number % 254 + 1}"  # documentation addresses
            async with gate:
                return await Conversation(person, stack, http, address).run()

        return list(await asyncio.gather(*(one(n, person) for n, person in enumerate(people))))
