"""Requests of a person about their data (GDPR articles 15 and 17): export and erase
everything held about an e-mail address, in the account database and in Rasa's tracker
store. Each request is recorded in the audit log, under a hash of the address.

The person's conversations are those that registered their accounts
(`accounts.conversation_id`), that sent their accounts' documents, and any whose events
hold the address (an abandoned registration, a typed e-mail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import reclaim
from bot.models import (
    Account,
    ActivationToken,
    Document,
    Feedback,
    Handoff,
    OutboxMessage,
    Upload,
)
from bot.retention import TrackerStore
from bot.services import audit, handoffs


@dataclass
class Holdings:
    """What the databases hold about one person."""

    accounts: list[Account] = field(default_factory=list)
    conversations: set[str] = field(default_factory=set)
    documents: list[Document] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    emails: list[OutboxMessage] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)


async def find(session: AsyncSession, store: TrackerStore, email: str) -> Holdings:
    email = email.strip().lower()
    held = Holdings()
    held.accounts = list(
        (await session.execute(select(Account).where(func.lower(Account.email) == email)))
        .scalars()
        .all()
    )
    account_ids = [account.id for account in held.accounts]
    held.conversations = {a.conversation_id for a in held.accounts if a.conversation_id}
    if account_ids:
        of_accounts = select(Document.conversation_id).where(Document.account_id.in_(account_ids))
        held.conversations.update((await session.execute(of_accounts)).scalars())
    held.conversations.update(await store.conversations_mentioning(email))
    conversations = sorted(held.conversations)
    held.documents = list(
        (
            await session.execute(
                select(Document)
                .where(
                    or_(
                        Document.account_id.in_(account_ids),
                        Document.conversation_id.in_(conversations),
                    )
                )
                .order_by(Document.id)
            )
        )
        .scalars()
        .all()
    )
    held.uploads = list(
        (
            await session.execute(
                select(Upload).where(Upload.conversation_id.in_(conversations)).order_by(Upload.id)
            )
        )
        .scalars()
        .all()
    )
    held.handoffs = list(
        (
            await session.execute(
                select(Handoff)
                .where(Handoff.conversation_id.in_(conversations))
                .order_by(Handoff.id)
            )
        )
        .scalars()
        .all()
    )
    held.feedback = list(
        (
            await session.execute(
                select(Feedback)
                .where(Feedback.conversation_id.in_(conversations))
                .order_by(Feedback.id)
            )
        )
        .scalars()
        .all()
    )
    handoff_ids = [handoff.id for handoff in held.handoffs]
    held.emails = list(
        (
            await session.execute(
                select(OutboxMessage)
                .where(
                    or_(
                        func.lower(OutboxMessage.recipient) == email,
                        OutboxMessage.account_id.in_(account_ids),
                        OutboxMessage.handoff_id.in_(handoff_ids),
                    )
                )
                .order_by(OutboxMessage.id)
            )
        )
        .scalars()
        .all()
    )
    return held


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export(
    session: AsyncSession, store: TrackerStore, email: str, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Everything held about the person, as JSON-ready data (never a document's bytes,
    nor an e-mail's text: its kind, recipient and dates)."""
    held = await find(session, store, email)
    logins = {account.id: account.login for account in held.accounts}
    result = {
        "email": email.strip().lower(),
        "generated_at": now.isoformat(),
        "accounts": [
            {
                "login": a.login,
                "status": a.status,
                "siren": a.siren,
                "contract_number": a.contract_number,
                "company_name": a.company_name,
                "civility": a.civility,
                "last_name": a.last_name,
                "first_name": a.first_name,
                "birth_date": a.birth_date.isoformat(),
                "mobile_phone": a.mobile_phone,
                "job_title": a.job_title,
                "email": a.email,
                "professional_phone": a.professional_phone,
                "consent": {"cgu_version": a.cgu_version, "accepted_at": _at(a.cgu_accepted_at)},
                "created_at": _at(a.created_at),
                "activated_at": _at(a.activated_at),
                "conversation_id": a.conversation_id,
            }
            for a in held.accounts
        ],
        "documents": [
            {
                "reference": d.reference,
                "account": logins.get(d.account_id) if d.account_id else None,
                "conversation_id": d.conversation_id,
                "document_type": d.document_type,
                "country": d.country,
                "side": d.side,
                "content_type": d.content_type,
                "pages": d.pages,
                "size": d.size,
                "created_at": _at(d.created_at),
                "attached_at": _at(d.attached_at),
            }
            for d in held.documents
        ],
        "uploads": [
            {
                "conversation_id": u.conversation_id,
                "filename": u.filename,
                "content_type": u.content_type,
                "size": u.size,
                "created_at": _at(u.created_at),
            }
            for u in held.uploads
        ],
        "handoffs": [
            {
                "reference": h.reference,
                "conversation_id": h.conversation_id,
                "channel": h.channel,
                "reason": h.reason,
                "status": h.status,
                "outcome": h.outcome,
                "summary": h.summary,
                "created_at": _at(h.created_at),
                "taken_at": _at(h.taken_at),
                "closed_at": _at(h.closed_at),
            }
            for h in held.handoffs
        ],
        "emails": [
            {
                "kind": m.kind,
                "recipient": m.recipient,
                "created_at": _at(m.created_at),
                "sent_at": _at(m.sent_at),
                "attempts": m.attempts,
            }
            for m in held.emails
        ],
        "feedback": [
            {
                "conversation_id": f.conversation_id,
                "useful": f.useful,
                "comment": f.comment,
                "created_at": _at(f.created_at),
                "answered_at": _at(f.answered_at),
            }
            for f in held.feedback
        ],
        "conversations": [
            {"conversation_id": sender, "transcript": await store.transcript(sender)}
            for sender in sorted(held.conversations)
        ],
    }
    audit.record(
        session,
        actor,
        audit.PRIVACY_EXPORT,
        audit.email_subject(email),
        _counts(held),
        now,
    )
    await session.commit()
    return result


def _counts(held: Holdings) -> dict[str, int]:
    return {
        "accounts": len(held.accounts),
        "documents": len(held.documents),
        "uploads": len(held.uploads),
        "handoffs": len(held.handoffs),
        "emails": len(held.emails),
        "feedback": len(held.feedback),
        "conversations": len(held.conversations),
    }


async def erase(
    session: AsyncSession, store: TrackerStore, email: str, *, actor: str, now: datetime
) -> dict[str, int]:
    """Delete everything held about the person, then make it unrecoverable from the
    database files (README, « Données personnelles »); return the counts deleted."""
    held = await find(session, store, email)
    counts = _counts(held)
    counts["tracker_events"] = await store.delete(held.conversations, idle_before=None)
    account_ids = [account.id for account in held.accounts]

    async def remove(model: Any, ids: list[int]) -> None:
        if ids:
            await session.execute(
                delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
            )

    await remove(OutboxMessage, [m.id for m in held.emails])
    await remove(Document, [d.id for d in held.documents])
    await remove(Upload, [u.id for u in held.uploads])
    await remove(Handoff, [h.id for h in held.handoffs])
    await remove(Feedback, [f.id for f in held.feedback])
    if account_ids:
        await session.execute(
            delete(ActivationToken)
            .where(ActivationToken.account_id.in_(account_ids))
            .execution_options(synchronize_session=False)
        )
    await remove(Account, account_ids)
    audit.record(session, actor, audit.PRIVACY_ERASE, audit.email_subject(email), counts, now)
    await session.commit()
    bind = session.bind
    await reclaim(
        bind,  # type: ignore[arg-type]
        [
            "outbox",
            "documents",
            "uploads",
            "handoffs",
            "feedback",
            "activation_tokens",
            "accounts",
        ],
        full=True,
    )
    await store.reclaim(full=True)
    return counts


async def erase_conversation(
    session: AsyncSession, conversation_id: str, *, actor: str, now: datetime
) -> dict[str, int]:
    """« Annuler »: delete what the service holds of a conversation that registered
    nothing: its unclaimed documents, its uploads, its closed handoffs (an open one
    stays with its advisor) and its feedback. The tracker store erases its own rows (channels/
    tracker_store.py)."""

    async def remove(statement: Any) -> int:
        result = await session.execute(statement.execution_options(synchronize_session=False))
        return result.rowcount or 0

    closed = select(Handoff.id).where(
        Handoff.conversation_id == conversation_id, Handoff.status == handoffs.CLOSED
    )
    await remove(delete(OutboxMessage).where(OutboxMessage.handoff_id.in_(closed)))
    counts = {
        "documents": await remove(
            delete(Document).where(
                Document.conversation_id == conversation_id, Document.account_id.is_(None)
            )
        ),
        "uploads": await remove(delete(Upload).where(Upload.conversation_id == conversation_id)),
        "handoffs": await remove(delete(Handoff).where(Handoff.id.in_(closed))),
        "feedback": await remove(
            delete(Feedback).where(Feedback.conversation_id == conversation_id)
        ),
    }
    audit.record(session, actor, audit.REGISTRATION_CANCELLED, conversation_id, counts, now)
    await session.commit()
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        # PostgreSQL: the periodic purge VACUUMs these tables.
        await reclaim(session.bind, [])  # type: ignore[arg-type]
    return counts
