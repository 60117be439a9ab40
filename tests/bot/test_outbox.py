"""The e-mail outbox against a real SMTP server (aiosmtpd) that is down, refuses, then
answers: every e-mail is written with what causes it, leaves once SMTP answers, with
retries spaced by a doubling delay, exactly once, and is never lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.metrics import METRICS, WebMetrics
from bot.models import OutboxMessage
from bot.outbox import KINDS, OUTBOX, Outbox, RetryPolicy, enqueue
from bot.web.keys import MAILER, SESSIONS
from tests.bot.payloads import registration_with_document
from tests.bot.test_handoffs import CLOSED, HANDOFFS, handoff
from tests.conftest import MovableClock, Service, SmtpInbox, free_port, start_service

ADDRESS = "emilie.lefevre@exemple-industries.fr"
RESEND = "/api/v1/activations/resend"


@dataclass
class FlakySmtp(SmtpInbox):
    """The loopback SMTP server, stopped until `start`; refuses the first `refusals`
    messages with a temporary error (451)."""

    refusals: int = 0
    attempts: int = 0
    controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.refusals:
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_down() -> Iterator[FlakySmtp]:
    server = FlakySmtp(port=free_port())
    yield server
    server.stop()


@pytest.fixture
async def service(
    database_url: str, clock: MovableClock, tmp_path: Path, smtp_down: FlakySmtp
) -> AsyncIterator[Service]:
    async with start_service(database_url, clock, tmp_path, smtp_url=smtp_down.url) as running:
        yield running


async def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not within the timeout")
        await asyncio.sleep(0.05)


async def rows(service: Service) -> list[OutboxMessage]:
    async with service.app[SESSIONS]() as session:
        found = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(found.scalars())


def all_sent(service: Service) -> Callable[[], Any]:
    async def check() -> bool:
        return all(row.sent_at is not None for row in await rows(service))

    return check


async def register(service: Service, body: dict | None = None) -> tuple[int, dict]:
    return await service.post(
        "/api/v1/registrations",
        body or await registration_with_document(service),
        headers={"Idempotency-Key": "key-1"},
    )


def outcomes(service: Service) -> int:
    """How many attempts the sender has recorded, sent or failed (its metrics, counted
    once the outcome is written: a claimed row's attempt is not over yet)."""
    registry = service.app[METRICS].registry
    return sum(
        registry.get_sample_value(name, {"kind": kind}) or 0
        for name in ("assistant_emails_sent_total", "assistant_email_failures_total")
        for kind in KINDS
    )


async def tried(service: Service, attempts: int) -> list[OutboxMessage]:
    """Wake the sender; return the rows once `attempts` attempts have their outcome
    written."""
    service.app[OUTBOX].wake()
    await eventually(lambda: outcomes(service) >= attempts)
    return await rows(service)


def no_address_in(caplog: pytest.LogCaptureFixture) -> None:
    """What the web process logged (not the test's SMTP server) names no address."""
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert ours, "the sender logged its attempts"
    assert "@" not in ours


async def test_a_registration_made_while_smtp_is_down_gets_its_email_once_it_is_back(
    service: Service,
    smtp_down: FlakySmtp,
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    registration = await registration_with_document(service)
    status, body = await register(service, registration)

    assert status == 201, body
    assert body["activation_email_sent"] is False, "the API says it has not left yet"
    (row,) = await tried(service, 1)
    assert (row.kind, row.sent_at, row.attempts) == ("activation", None, 1)
    assert row.last_error == "SMTPConnectError"
    assert row.message and ADDRESS.encode() in row.message.lower()

    smtp_down.start()
    clock.advance(seconds=30)
    (row,) = await tried(service, 2)
    await eventually(lambda: smtp_down.messages)
    (message,) = smtp_down.messages
    assert message["To"] == ADDRESS
    assert "/activate/" in message.get_body(("plain",)).get_content()
    assert (row.sent_at, row.message, row.last_error) == (clock.now, None, None)

    # Later wake-ups and a replay of the registration send nothing more.
    assert (await register(service, registration))[0] == 200
    for _ in range(3):
        clock.advance(hours=1)
        service.app[OUTBOX].wake()
        await asyncio.sleep(0.2)
    assert len(smtp_down.messages) == 1
    no_address_in(caplog)


async def test_an_email_leaves_before_the_answer_when_smtp_answers(
    service: Service, smtp_down: FlakySmtp
) -> None:
    smtp_down.start()
    status, body = await register(service)
    assert (status, body["activation_email_sent"]) == (201, True)
    assert len(smtp_down.messages) == 1
    (row,) = await rows(service)
    assert row.sent_at is not None and row.message is None


async def test_resend_and_ticket_go_through_the_outbox_too(
    service: Service, smtp_down: FlakySmtp, clock: MovableClock
) -> None:
    clock.now = CLOSED  # outside opening hours: a handoff is a ticket e-mailed to support
    assert (await register(service))[0] == 201
    status, answer = await service.post(RESEND, {"email": ADDRESS})
    assert status == 202 and "lui est envoyé" in answer["message"]
    status, ticket = await service.post(HANDOFFS, handoff())
    assert (status, ticket["status"]) == (201, "ticket")
    queued = await tried(service, 3)
    assert [row.kind for row in queued] == ["activation", "resend", "handoff_ticket"]
    assert all(row.sent_at is None for row in queued)

    smtp_down.start()
    clock.advance(minutes=1)
    service.app[OUTBOX].wake()
    await eventually(lambda: len(smtp_down.messages) == 3)
    activation, resend, support = smtp_down.messages
    assert activation["To"] == resend["To"] == ADDRESS
    assert support["To"] == "espaces-clients@assureur.example"
    assert ticket["id"] in support["Subject"]
    old_link, new_link = (
        m.get_body(("plain",)).get_content().split("/activate/")[1].split()[0]
        for m in (activation, resend)
    )
    assert old_link != new_link, "the resend carries the new link"
    # The SMTP server has the message a moment before the sender records it as sent.
    await eventually(all_sent(service))


async def test_a_refused_send_is_retried_with_a_doubling_delay_and_never_duplicated(
    service: Service, smtp_down: FlakySmtp, clock: MovableClock
) -> None:
    smtp_down.refusals = 3
    smtp_down.start()
    start = clock.now
    status, body = await register(service)
    assert (status, body["activation_email_sent"]) == (201, False)

    waits = []
    for attempt in (1, 2, 3):
        (row,) = await tried(service, attempt)
        assert row.last_error == "SMTPDataError"
        waits.append(row.next_attempt_at - clock.now)
        # Not before it is due.
        clock.advance(seconds=waits[-1].total_seconds() - 1)
        service.app[OUTBOX].wake()
        await asyncio.sleep(0.2)
        assert (await rows(service))[0].attempts == attempt
        clock.advance(seconds=1)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]

    (row,) = await tried(service, 4)
    await eventually(lambda: smtp_down.messages)
    assert row.sent_at == start + timedelta(seconds=30 + 60 + 120)
    clock.advance(hours=1)
    service.app[OUTBOX].wake()
    await asyncio.sleep(0.3)
    assert (smtp_down.attempts, len(smtp_down.messages)) == (4, 1)


async def test_an_email_failing_for_days_is_kept_not_tried_forever(
    database_url: str,
    clock: MovableClock,
    tmp_path: Path,
    smtp_down: FlakySmtp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_service(
        database_url,
        clock,
        tmp_path,
        smtp_url=smtp_down.url,
        outbox_give_up_after=timedelta(hours=48),
    ) as service:
        await register(service)
        (row,) = await tried(service, 1)
        clock.advance(hours=48)
        (row,) = await tried(service, 2)
        assert (row.sent_at, row.next_attempt_at) == (None, None), "given up"
        assert row.message is not None, "kept, with its message"
        assert f"outbox row {row.id} (activation) given up after 2 attempts" in caplog.text
        clock.advance(days=3)
        service.app[OUTBOX].wake()
        await asyncio.sleep(0.3)
        assert (await rows(service))[0].attempts == 2
        no_address_in(caplog)


async def test_concurrent_senders_deliver_each_email_once(
    service: Service, smtp_down: FlakySmtp, clock: MovableClock
) -> None:
    smtp_down.start()
    app = service.app
    async with app[SESSIONS]() as session:
        for number in range(30):
            enqueue(session, "handoff_ticket", _message(number), clock.now)
        await session.commit()
    others = [
        Outbox(
            app[SESSIONS], app[MAILER], WebMetrics(), clock, RetryPolicy(), timedelta(seconds=30)
        )
        for _ in range(2)
    ]
    app[OUTBOX].wake()
    sent = await asyncio.gather(*(sender.deliver_due() for sender in others))
    await eventually(lambda: len(smtp_down.messages) >= 30)
    await asyncio.sleep(0.3)
    subjects = sorted(str(m["Subject"]) for m in smtp_down.messages)
    assert subjects == sorted(f"Message {n}" for n in range(30)), "each once"
    assert sum(sent) <= 30
    # The SMTP server has the message a moment before the sender records it as sent.
    await eventually(all_sent(service))


def _message(number: int) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Message {number}"
    message["From"] = "ne-pas-repondre@espace-client.example"
    message["To"] = f"destinataire{number}@exemple.fr"
    message.set_content("Bonjour.")
    return message
