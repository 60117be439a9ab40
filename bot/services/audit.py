"""The audit log of personal data: who did what to it, and when. Identifiers only."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditEntry

# The actions the log records (AuditEntry.action).
TRANSCRIPT_VIEWED = "transcript_viewed"
PRIVACY_EXPORT = "privacy_export"
PRIVACY_ERASE = "privacy_erase"
PURGE = "purge"
REGISTRATION_CANCELLED = "registration_cancelled"


def email_subject(email: str) -> str:
    """The subject naming a person known by e-mail only: a hash, never the address."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"email-sha256:{digest}"


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any] | None,
    now: datetime,
) -> AuditEntry:
    """Add an entry to the session; the caller commits it with the work it records."""
    entry = AuditEntry(
        at=now,
        actor=actor[:100],
        action=action[:32],
        subject=subject[:160] if subject else None,
        details=dict(details or {}),
    )
    session.add(entry)
    return entry


async def record_view(
    session: AsyncSession,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None,
    now: datetime,
    *,
    within: timedelta = timedelta(minutes=30),
) -> None:
    """Record that `actor` viewed `subject`, once per `within` (a console polls the
    same transcript every few seconds), and commit."""
    recent = await session.execute(
        select(AuditEntry.id)
        .where(
            AuditEntry.actor == actor[:100],
            AuditEntry.action == action,
            AuditEntry.subject == subject[:160],
            AuditEntry.at > now - within,
        )
        .limit(1)
    )
    if recent.first() is None:
        record(session, actor, action, subject, details, now)
        await session.commit()


async def entries(session: AsyncSession, since: datetime | None = None) -> list[AuditEntry]:
    """The entries, oldest first, from `since` on when given."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return list((await session.execute(query)).scalars())


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete the entries older than `cutoff` (committed by the caller)."""
    result = await session.execute(
        delete(AuditEntry)
        .where(AuditEntry.at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": entry.details,
    }
