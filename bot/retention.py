"""Retention of personal data: the periodic purge of every table and of Rasa's tracker
store, which the web process reads and erases through its table `events`.

Counts only are logged and audited, never a conversation id's content.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine, reclaim
from bot.models import Account, AuditEntry, Document, Feedback, Handoff, OutboxMessage, Upload
from bot.services import accounts, audit, handoffs

log = logging.getLogger(__name__)

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py), as Rasa creates it.
events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

_BATCH = 500  # conversation ids per statement (SQLite's limit of bound parameters)


@dataclass(frozen=True)
class Retention:
    """How long each kind of personal data is kept (README, « Données personnelles »)."""

    conversation: timedelta = timedelta(days=7)
    completed_conversation: timedelta = timedelta(days=7)
    handoff: timedelta = timedelta(days=30)
    sent_email: timedelta = timedelta(days=30)
    audit: timedelta = timedelta(days=365)
    feedback: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Any) -> Retention:
        return cls(
            conversation=settings.conversation_retention,
            completed_conversation=settings.completed_conversation_retention,
            handoff=settings.handoff_retention,
            sent_email=settings.sent_email_retention,
            audit=settings.audit_retention,
            feedback=settings.feedback_retention,
        )


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(set(values))
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]


class TrackerStore:
    """Rasa's tracker store, from the web process; empty when Rasa has not created it."""

    def __init__(self, engine: AsyncEngine | None) -> None:
        self.engine = engine

    async def conversations_idle_since(self, cutoff: datetime) -> list[str]:
        """The conversations whose latest event is older than `cutoff`."""
        if self.engine is None:
            return []
        query = (
            select(events.c.sender_id)
            .group_by(events.c.sender_id)
            .having(func.max(events.c.timestamp) < cutoff.timestamp())
        )
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).scalars())

    async def delete(self, sender_ids: Iterable[str], *, idle_before: datetime | None) -> int:
        """Delete the events of these conversations; with `idle_before`, only of those
        still without an event since then (checked in the same statement: a turn that
        began meanwhile keeps its conversation)."""
        if self.engine is None:
            return 0
        deleted = 0
        async with self.engine.begin() as connection:
            for chunk in _chunks(sender_ids):
                statement = delete(events).where(events.c.sender_id.in_(chunk))
                if idle_before is not None:
                    recent = select(events.c.sender_id).where(
                        events.c.sender_id.in_(chunk),
                        events.c.timestamp >= idle_before.timestamp(),
                    )
                    statement = statement.where(events.c.sender_id.not_in(recent))
                deleted += (await connection.execute(statement)).rowcount or 0
        return deleted

    async def conversations_mentioning(self, needle: str) -> set[str]:
        """The conversations with an event whose JSON holds `needle` (any case)."""
        if self.engine is None or not needle:
            return set()
        escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(events.c.sender_id)
            .where(func.lower(events.c.data).like(f"%{escaped}%", escape="\\"))
            .distinct()
        )
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    async def transcript(self, sender_id: str) -> list[dict[str, Any]]:
        """What the user and the assistant said in a conversation, in order."""
        if self.engine is None:
            return []
        query = (
            select(events.c.data)
            .where(events.c.sender_id == sender_id, events.c.type_name.in_(("user", "bot")))
            .order_by(events.c.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).scalars()
            lines = []
            for data in rows:
                event = json.loads(data)
                if not event.get("text"):
                    continue  # a message of buttons alone, or one a new session carried over
                lines.append(
                    {
                        "at": _iso(event.get("timestamp")),
                        "from": "user" if event.get("event") == "user" else "assistant",
                        "text": event.get("text"),
                    }
                )
        return lines

    async def reclaim(self, *, full: bool = False) -> None:
        if self.engine is not None:
            await reclaim(self.engine, ["events"], full=full)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


@asynccontextmanager
async def tracker_store(url: str) -> AsyncIterator[TrackerStore]:
    """The tracker store at `url`; a missing SQLite file is not created (Rasa's job)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (
        parsed.database and await asyncio.to_thread(Path(parsed.database).exists)
    ):
        yield TrackerStore(None)
        return
    engine = make_engine(url, wal=False)
    try:
        async with engine.connect() as connection:
            present = await connection.run_sync(lambda sync: inspect(sync).has_table("events"))
        yield TrackerStore(engine if present else None)
    finally:
        await engine.dispose()


@dataclass
class PurgeReport:
    """What one purge run deleted, per kind (the audit entry's details)."""

    accounts: int = 0
    documents: int = 0
    uploads: int = 0
    handoffs: int = 0
    sent_emails: int = 0
    feedback: int = 0
    audit_entries: int = 0
    conversations: int = 0
    tracker_events: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def details(self) -> dict[str, int]:
        values = asdict(self)
        values.update(values.pop("extra"))
        return values


async def _kept_conversations(session: Any, retention: Retention, now: datetime) -> set[str]:
    """Conversations still needed whatever their idleness: of an account pending
    activation (the person may ask for the e-mail again), of an account activated less
    than the completed retention ago, of an open handoff."""
    recently_activated = and_(
        Account.status == "active",
        Account.activated_at > now - retention.completed_conversation,
    )
    of_accounts = select(Account.conversation_id).where(
        Account.conversation_id.is_not(None),
        or_(Account.status == "pending", recently_activated),
    )
    of_handoffs = select(Handoff.conversation_id).where(Handoff.status != handoffs.CLOSED)
    kept = set((await session.execute(of_accounts)).scalars())
    kept.update((await session.execute(of_handoffs)).scalars())
    return kept


async def purge(
    sessions: sessionmaker,
    engine: AsyncEngine,
    tracker_url: str,
    *,
    policy: accounts.Policy,
    retention: Retention,
    now: datetime,
) -> PurgeReport:
    """Apply the whole retention policy once, record it in the audit log, and reclaim the
    space of what went (README, « Données personnelles »)."""
    report = PurgeReport()
    counts: dict[str, int] = {}
    async with sessions() as session:
        await accounts.purge(session, policy=policy, now=now, counts=counts)
        report.accounts = counts.get("accounts", 0)
        report.documents = counts.get("documents", 0)
        report.uploads = counts.get("uploads", 0)

        closed_long_ago = and_(
            Handoff.status == handoffs.CLOSED, Handoff.closed_at <= now - retention.handoff
        )
        never_closed = and_(
            Handoff.status != handoffs.CLOSED, Handoff.created_at <= now - retention.handoff
        )
        expired_handoffs = select(Handoff.id).where(or_(closed_long_ago, never_closed))
        await session.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.handoff_id.in_(expired_handoffs))
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(
            delete(Handoff)
            .where(Handoff.id.in_(expired_handoffs))
            .execution_options(synchronize_session=False)
        )
        report.handoffs = result.rowcount or 0
        result = await session.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.sent_at <= now - retention.sent_email)
            .execution_options(synchronize_session=False)
        )
        report.sent_emails = result.rowcount or 0
        result = await session.execute(
            delete(Feedback)
            .where(Feedback.answered_at <= now - retention.feedback)
            .execution_options(synchronize_session=False)
        )
        report.feedback = result.rowcount or 0
        report.audit_entries = await audit.forget_before(session, now - retention.audit)
        kept = await _kept_conversations(session, retention, now)
        await session.commit()

    async with tracker_store(tracker_url) as store:
        idle_before = now - retention.conversation
        idle = await store.conversations_idle_since(idle_before)
        expired = [sender for sender in idle if sender not in kept]
        report.tracker_events = await store.delete(expired, idle_before=idle_before)
        report.conversations = len(expired) if report.tracker_events else 0
        if report.tracker_events:
            await store.reclaim()

    async with sessions() as session:
        audit.record(session, "purge", audit.PURGE, None, report.details(), now)
        await session.commit()
    await reclaim(engine, _PURGED_TABLES)
    if report.tracker_events or report.handoffs or report.sent_emails or report.feedback:
        log.info(
            "purged %d conversation(s) (%d tracker events), %d handoff(s), %d sent e-mail(s), "
            "%d feedback answer(s)",
            report.conversations,
            report.tracker_events,
            report.handoffs,
            report.sent_emails,
            report.feedback,
        )
    return report


_PURGED_TABLES = [
    Account.__tablename__,
    "activation_tokens",
    Document.__tablename__,
    Upload.__tablename__,
    Handoff.__tablename__,
    OutboxMessage.__tablename__,
    Feedback.__tablename__,
    AuditEntry.__tablename__,
    "attempts",
]
