"""Tables of the account service."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import registry, relationship


class UtcDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


mapper_registry = registry()
metadata = mapper_registry.metadata


@mapper_registry.mapped
class Contract:
    """A line of the insurer's contract directory."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("contract_number", name="uq_contracts_contract_number"),)

    id: int = Column(Integer, primary_key=True)
    siren: str = Column(String(9), nullable=False, index=True)
    contract_number: str = Column(String(32), nullable=False)
    company_name: str = Column(String(200), nullable=False)
    updated_at: datetime = Column(UtcDateTime(), nullable=False)


@mapper_registry.mapped
class Account:
    """A registered company representative; pending until the activation link is used."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_accounts_idempotency_key"),
        UniqueConstraint("login", name="uq_accounts_login"),
        UniqueConstraint("email", "siren", name="uq_accounts_email_siren"),
        Index("ix_accounts_status_created_at", "status", "created_at"),
    )

    id: int = Column(Integer, primary_key=True)
    login: str = Column(String(16), nullable=False)
    status: str = Column(String(16), nullable=False, default="pending")
    idempotency_key: str = Column(String(128), nullable=False)
    request_fingerprint: str = Column(String(64), nullable=False)
    siren: str = Column(String(9), nullable=False)
    contract_number: str = Column(String(32), nullable=False)
    company_name: str = Column(String(200), nullable=False)
    civility: str = Column(String(8), nullable=False)
    last_name: str = Column(String(100), nullable=False)
    first_name: str = Column(String(100), nullable=False)
    birth_date: date = Column(Date, nullable=False)
    mobile_phone: str = Column(String(20), nullable=False)
    job_title: str = Column(String(100), nullable=False)
    email: str = Column(String(254), nullable=False, index=True)
    professional_phone: str = Column(String(20), nullable=False)
    cgu_version: str = Column(String(32), nullable=False)
    cgu_accepted_at: datetime = Column(UtcDateTime(), nullable=False)
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    activated_at: datetime | None = Column(UtcDateTime(), nullable=True)
    # The conversation (Rasa's sender id) that registered it, for the retention of its
    # transcript and the requests of the person (README, « Données personnelles »).
    conversation_id: str | None = Column(String(128), nullable=True, index=True)

    tokens = relationship(
        "ActivationToken",
        back_populates="account",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


@mapper_registry.mapped
class ActivationToken:
    """One activation link; only the SHA-256 of the token is stored."""

    __tablename__ = "activation_tokens"

    id: int = Column(Integer, primary_key=True)
    account_id: int = Column(
        Integer,
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    token_hash: str = Column(String(64), nullable=False, unique=True)
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    expires_at: datetime = Column(UtcDateTime(), nullable=False)
    used_at: datetime | None = Column(UtcDateTime(), nullable=True)
    revoked_at: datetime | None = Column(UtcDateTime(), nullable=True)

    account = relationship("Account", back_populates="tokens")


@mapper_registry.mapped
class Upload:
    """A file sent through the chat widget, kept encrypted until the assistant fetches it.

    Only the SHA-256 of the token of its URL is stored; `data` is a Fernet token.
    """

    __tablename__ = "uploads"

    id: int = Column(Integer, primary_key=True)
    token_hash: str = Column(String(64), nullable=False, unique=True)
    conversation_id: str = Column(String(128), nullable=False)
    filename: str = Column(String(100), nullable=False)
    content_type: str = Column(String(100), nullable=False)
    size: int = Column(Integer, nullable=False)
    data: bytes = Column(LargeBinary, nullable=False)
    created_at: datetime = Column(UtcDateTime(), nullable=False, index=True)


@mapper_registry.mapped
class Document:
    """An inspected identity document, encrypted; unclaimed until a registration uses it."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("reference", name="uq_documents_reference"),
        Index("ix_documents_account_id_created_at", "account_id", "created_at"),
    )

    id: int = Column(Integer, primary_key=True)
    reference: str = Column(String(64), nullable=False)
    conversation_id: str = Column(String(128), nullable=False)
    account_id: int | None = Column(
        Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    document_type: str = Column(String(32), nullable=False)
    country: str | None = Column(String(2), nullable=True)
    side: str = Column(String(8), nullable=False)
    content_type: str = Column(String(64), nullable=False)
    pages: int = Column(Integer, nullable=False)
    size: int = Column(Integer, nullable=False)
    data: bytes = Column(LargeBinary, nullable=False)
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    attached_at: datetime | None = Column(UtcDateTime(), nullable=True)


@mapper_registry.mapped
class Agent:
    """An advisor of the customer-space cell who may log in to the agent console."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("login", name="uq_agents_login"),)

    id: int = Column(Integer, primary_key=True)
    login: str = Column(String(64), nullable=False)
    display_name: str = Column(String(100), nullable=False)
    password_hash: str = Column(String(255), nullable=False)  # argon2id, with its parameters
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    disabled_at: datetime | None = Column(UtcDateTime(), nullable=True)


@mapper_registry.mapped
class AgentSession:
    """A console session; only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "agent_sessions"

    id: int = Column(Integer, primary_key=True)
    token_hash: str = Column(String(64), nullable=False, unique=True)
    agent_id: int = Column(
        Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    expires_at: datetime = Column(UtcDateTime(), nullable=False, index=True)


@mapper_registry.mapped
class Handoff:
    """A conversation handed to a human advisor.

    `status`: `waiting` (in the queue, an advisor is logged in within opening hours),
    `ticket` (the support cell was e-mailed: asked outside opening hours or while no
    advisor was logged in, or waited too long in the queue), `active` (an advisor took
    it), `closed` (with `outcome` `handed_back`, `closed_by_advisor` or `left`: the
    person left the queue). `summary` is what the assistant had gathered, masked by the
    action before it was sent.
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        UniqueConstraint("reference", name="uq_handoffs_reference"),
        # Equal to `conversation_id` while the handoff is open, NULL once closed: the
        # database itself keeps a conversation to one open handoff (NULLs never clash,
        # on SQLite as on PostgreSQL).
        UniqueConstraint("open_conversation_id", name="uq_handoffs_open_conversation_id"),
        Index("ix_handoffs_status_created_at", "status", "created_at"),
        Index("ix_handoffs_conversation_id", "conversation_id"),
    )

    id: int = Column(Integer, primary_key=True)
    reference: str = Column(String(32), nullable=False)
    conversation_id: str = Column(String(128), nullable=False)
    open_conversation_id: str | None = Column(String(128), nullable=True)
    channel: str | None = Column(String(64), nullable=True)
    reason: str = Column(String(32), nullable=False)
    status: str = Column(String(16), nullable=False)
    outcome: str | None = Column(String(32), nullable=True)
    summary: dict[str, Any] = Column(JSON, nullable=False)
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    taken_at: datetime | None = Column(UtcDateTime(), nullable=True)
    closed_at: datetime | None = Column(UtcDateTime(), nullable=True)
    agent_id: int | None = Column(
        Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )

    agent = relationship("Agent", lazy="joined")


@mapper_registry.mapped
class Feedback:
    """The answer to « Ces informations vous ont-elles été utiles ? » at the end of a
    conversation: one per conversation, a later answer replaces it. `comment` is free
    text and may hold personal data: the row goes after FEEDBACK_RETENTION_DAYS."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("conversation_id", name="uq_feedback_conversation_id"),
        Index("ix_feedback_answered_at", "answered_at"),
    )

    id: int = Column(Integer, primary_key=True)
    conversation_id: str = Column(String(128), nullable=False)
    useful: bool = Column(Boolean, nullable=False)
    comment: str | None = Column(String(1000), nullable=True)
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    answered_at: datetime = Column(UtcDateTime(), nullable=False)  # the latest answer


# Failed company verifications, resend requests and uploads, counted per key over a sliding
# window; kept in the database so that throttling survives a restart.
attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_attempts_kind_key_created_at", "kind", "key", "created_at"),
)


@mapper_registry.mapped
class OutboxMessage:
    """An e-mail to send, written in the transaction of what causes it (the transactional
    outbox); the sender loop delivers it and marks it sent.

    `kind`: `activation`, `resend` or `handoff_ticket`. `message` holds the whole RFC 5322
    message until it is sent, then NULL: a sent e-mail is not kept. `last_error` names the
    failure's kind only (e.g. `SMTPConnectError`), never an address or a text.
    `next_attempt_at` NULL while `sent_at` is NULL: given up after OUTBOX_GIVE_UP_HOURS of
    failures; the row stays, with its message, for an operator to see or to re-queue.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_sent_at_next_attempt_at", "sent_at", "next_attempt_at"),)

    id: int = Column(Integer, primary_key=True)
    kind: str = Column(String(32), nullable=False)
    recipient: str = Column(String(254), nullable=False, index=True)
    message: bytes | None = Column(LargeBinary, nullable=True)
    account_id: int | None = Column(
        Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    handoff_id: int | None = Column(
        Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: datetime = Column(UtcDateTime(), nullable=False)
    attempts: int = Column(Integer, nullable=False, default=0)
    next_attempt_at: datetime | None = Column(UtcDateTime(), nullable=True)
    sent_at: datetime | None = Column(UtcDateTime(), nullable=True)
    last_error: str | None = Column(String(100), nullable=True)


@mapper_registry.mapped
class AuditEntry:
    """Who did what to personal data, and when; identifiers only, never the data itself.

    `actor`: `agent:<login>`, `cli`, `purge` or `assistant`. `action`: e.g.
    `transcript_viewed`, `document_viewed`, `privacy_export`, `privacy_erase`, `purge`,
    `registration_cancelled`. `subject`: a conversation id, a handoff reference, an
    account login, or `email-sha256:<hex>` for a person known by e-mail only. `details`:
    counts and kinds (e.g. {"accounts": 1, "tracker_events": 42}).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int = Column(Integer, primary_key=True)
    at: datetime = Column(UtcDateTime(), nullable=False)
    actor: str = Column(String(100), nullable=False)
    action: str = Column(String(32), nullable=False)
    subject: str | None = Column(String(160), nullable=True)
    details: dict[str, Any] = Column(JSON, nullable=False, default=dict)
