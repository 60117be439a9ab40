"""The transactional outbox: every e-mail is a row of `outbox`, written in the transaction
of what causes it, and delivered by the sender loop of the web process.

- `enqueue` adds the row to the caller's session; the caller commits it with the account,
  the new activation link or the ticket. A crash or an SMTP failure after that commit
  loses nothing: the row waits.
- `Outbox.run` is the sender loop: it delivers due rows oldest first, one at a time. A row
  is claimed in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a
  conditional UPDATE everywhere) that moves its `next_attempt_at` past the SMTP timeouts
  (the lease): no other sender takes it meanwhile, and a sender killed mid-send leaves it
  to be tried again once the lease is over. Once sent, `sent_at` is set and the message
  dropped. A failure is retried after a delay doubled each time (OUTBOX_RETRY_MIN_SECONDS
  up to OUTBOX_RETRY_MAX_SECONDS); after OUTBOX_GIVE_UP_HOURS since the row was written,
  it is no longer tried (`next_attempt_at` NULL): kept, counted and logged by id and kind.
- `Outbox.deliver` wakes the loop right after the commit and waits, a little, for the
  rows to leave: the normal case is instant, and the request knows whether they left.

Exactly once per row, except in one case no outbox avoids: a sender killed after the
SMTP server accepted the message and before `sent_at` was written sends it again after
the lease (at least once, never zero).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import sessionmaker

from bot.clock import Clock
from bot.mailer import Mailer
from bot.models import OutboxMessage

if TYPE_CHECKING:
    from bot.metrics import WebMetrics

log = logging.getLogger(__name__)

# The kinds of e-mail (rows' `kind`, and the label of the e-mail metrics).
ACTIVATION, RESEND, HANDOFF_TICKET = "activation", "resend", "handoff_ticket"
KINDS = (ACTIVATION, RESEND, HANDOFF_TICKET)


def enqueue(
    session: AsyncSession,
    kind: str,
    message: EmailMessage,
    now: datetime,
    *,
    account_id: int | None = None,
    handoff_id: int | None = None,
) -> OutboxMessage:
    """Add the e-mail to the session, due at once; the caller's commit writes it."""
    row = OutboxMessage(
        kind=kind,
        recipient=parseaddr(str(message["To"]))[1],
        message=message.as_bytes(),
        account_id=account_id,
        handoff_id=handoff_id,
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again, and when to stop."""

    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=10)
    give_up_after: timedelta = timedelta(hours=48)
    # How long a claimed row is left to its sender: longer than a slow SMTP exchange.
    lease: timedelta = timedelta(seconds=60)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failure: first_delay, doubled each time."""
        return min(self.first_delay * 2 ** min(max(attempts - 1, 0), 30), self.max_delay)


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    recipient: str
    message: bytes
    attempts: int
    created_at: datetime


class Outbox:
    """The sender of one web process."""

    def __init__(
        self,
        sessions: sessionmaker,
        mailer: Mailer,
        metrics: WebMetrics,
        clock: Clock,
        retry: RetryPolicy,
        poll_interval: timedelta,
    ) -> None:
        self._sessions = sessions
        self._mailer = mailer
        self._metrics = metrics
        self._clock = clock
        self._retry = retry
        self._poll = poll_interval.total_seconds()
        self._wake = asyncio.Event()
        # Requests waiting for rows to be tried: row id -> whether it left.
        self._waiting: dict[int, asyncio.Future[bool]] = {}

    def wake(self) -> None:
        """Look for due rows now (after a commit that enqueued some)."""
        self._wake.set()

    def queued(self, rows: Iterable[OutboxMessage]) -> list[int]:
        """Count committed rows as queued, wake the loop; return their ids."""
        ids = []
        for row in rows:
            self._metrics.emails_queued.labels(row.kind).inc()
            ids.append(row.id)
        if ids:
            self.wake()
        return ids

    async def deliver(self, rows: Iterable[OutboxMessage], wait: timedelta) -> bool:
        """After the commit of `rows`: wake the loop and wait up to `wait` for each to
        be tried once; True when all of them left, False when some are still queued."""
        ids = self.queued(rows)
        if not ids:
            return True
        loop = asyncio.get_running_loop()
        futures = [self._waiting.setdefault(i, loop.create_future()) for i in ids]
        try:
            await asyncio.wait(futures, timeout=wait.total_seconds())
        finally:
            for i in ids:
                self._waiting.pop(i, None)
        if all(f.done() and f.result() for f in futures):
            return True
        # Tried before this request started waiting, or still being tried: ask the table.
        async with self._sessions() as session:
            sent = await session.execute(
                select(OutboxMessage.id).where(
                    OutboxMessage.id.in_(ids), OutboxMessage.sent_at.is_not(None)
                )
            )
            return len(sent.all()) == len(ids)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver due rows until `stop` is set; woken by `wake` or every poll interval."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.deliver_due(stop)
            except Exception:
                log.exception("outbox sender failed; trying again at the next interval")
            waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
            _, pending = await asyncio.wait(
                waits, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def deliver_due(self, stop: asyncio.Event | None = None) -> int:
        """Send every row due now, oldest first; return how many left."""
        sent = 0
        while stop is None or not stop.is_set():
            claimed = await self._claim()
            if claimed is None:
                return sent
            sent += await self._attempt(claimed)
        return sent

    async def _claim(self) -> _Claimed | None:
        now = self._clock()
        async with self._sessions() as session:
            while True:
                due = (
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.sent_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .order_by(OutboxMessage.created_at, OutboxMessage.id)
                    .limit(1)
                )
                if session.bind.dialect.name == "postgresql":
                    due = due.with_for_update(skip_locked=True)
                row_id = (await session.execute(due)).scalar_one_or_none()
                if row_id is None:
                    await session.rollback()
                    return None
                taken = await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == row_id,
                        OutboxMessage.sent_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .values(
                        attempts=OutboxMessage.attempts + 1,
                        next_attempt_at=now + self._retry.lease,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # another sender took it: look again
                    await session.rollback()
                    continue
                kind, recipient, message, attempts, created_at = (
                    await session.execute(
                        select(
                            OutboxMessage.kind,
                            OutboxMessage.recipient,
                            OutboxMessage.message,
                            OutboxMessage.attempts,
                            OutboxMessage.created_at,
                        ).where(OutboxMessage.id == row_id)
                    )
                ).one()
                await session.commit()
                return _Claimed(row_id, kind, recipient, message or b"", attempts, created_at)

    async def _attempt(self, row: _Claimed) -> int:
        try:
            await self._mailer.send_bytes(row.message, row.recipient)
        except Exception as exc:  # noqa: BLE001  (SMTP, network and file errors alike)
            await self._failed(row, type(exc).__name__)
            self._settle(row.id, False)
            return 0
        now = self._clock()
        async with self._sessions() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(sent_at=now, message=None, last_error=None, next_attempt_at=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        self._metrics.emails_sent.labels(row.kind).inc()
        log.info("outbox row %s (%s) sent after %d attempt(s)", row.id, row.kind, row.attempts)
        self._settle(row.id, True)
        return 1

    async def _failed(self, row: _Claimed, error: str) -> None:
        now = self._clock()
        give_up = now - row.created_at >= self._retry.give_up_after
        delay = self._retry.delay(row.attempts)
        async with self._sessions() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(last_error=error[:100], next_attempt_at=None if give_up else now + delay)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        self._metrics.email_failures.labels(row.kind).inc()
        if give_up:
            self._metrics.emails_given_up.labels(row.kind).inc()
            log.warning(
                "outbox row %s (%s) given up after %d attempts: %s; kept, not tried again",
                row.id,
                row.kind,
                row.attempts,
                error,
            )
        else:
            log.warning(
                "outbox row %s (%s) not sent (attempt %d): %s; retrying in %ds",
                row.id,
                row.kind,
                row.attempts,
                error,
                delay.total_seconds(),
            )

    def _settle(self, row_id: int, sent: bool) -> None:
        future = self._waiting.get(row_id)
        if future is not None and not future.done():
            future.set_result(sent)


OUTBOX = web.AppKey("outbox", Outbox)
# Set at shutdown: the sender stops between two e-mails.
OUTBOX_STOP = web.AppKey("outbox_stop", asyncio.Event)
