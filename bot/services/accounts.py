"""Company verification, e-mail availability, registration, activation and purge."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from enum import Enum

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import identifiers, outbox
from bot.errors import (
    AlreadyRegistered,
    CompanyNotVerified,
    DocumentUnavailable,
    EmailTaken,
    IdempotencyConflict,
    ServiceError,
    TooManyAttempts,
)
from bot.mailer import ActivationEmail
from bot.models import Account, ActivationToken, OutboxMessage
from bot.schemas import RegistrationIn
from bot.services import contracts, documents, handoffs, throttle

log = logging.getLogger(__name__)

VERIFY = "verify"
RESEND = "resend"
EMAIL_CHECK = "email_check"

# Builds the activation e-mail of an account with its new token (the link's secret).
ActivationMessage = Callable[[Account, str], EmailMessage]


class CompanyVerificationRequired(ServiceError):
    """An e-mail check outside a conversation whose company was verified."""

    status = 403
    code = "company_verification_required"
    message = (
        "Nous devons d'abord retrouver votre entreprise avant de vérifier une adresse "
        "e-mail : indiquez votre numéro SIREN et votre numéro de contrat."
    )


class TooManyEmailChecks(TooManyAttempts):
    code = "too_many_email_checks"
    message = (
        "Vous avez vérifié beaucoup d'adresses e-mail en peu de temps. Par sécurité, "
        "veuillez réessayer dans quelques minutes."
    )


@dataclass(frozen=True)
class Policy:
    """Limits and durations the service applies; built from the settings."""

    activation_period: timedelta
    verify_window: timedelta
    verify_max_failures_per_conversation: int
    verify_max_failures_per_address: int
    verified_conversation_ttl: timedelta
    email_check_window: timedelta
    email_check_max_per_conversation: int
    email_check_max_per_address: int
    resend_window: timedelta
    resend_max_per_window: int
    upload_ttl: timedelta
    unclaimed_document_ttl: timedelta
    document_retention: timedelta
    upload_window: timedelta
    upload_max_per_window: int
    handoff_limits: handoffs.HandoffLimits = field(default_factory=handoffs.HandoffLimits)

    @property
    def handoff_window(self) -> timedelta:
        return self.handoff_limits.window


@dataclass(frozen=True)
class Registered:
    """What the caller gets back about a registration (first call or replay)."""

    account_id: int
    login: str
    status: str
    email: str
    created_at: datetime
    activation_deadline: datetime
    replayed: bool


def _keys(
    conversation_id: str | None,
    client_address: str | None,
    client_id: str,
    per_conversation: int,
    per_address: int,
) -> dict[str, int]:
    """The throttling keys of a call: its conversation and its client's address. A call
    naming neither is counted against its API client, with the per-conversation limit."""
    keys = {}
    if conversation_id:
        keys[throttle.conversation_key(conversation_id)] = per_conversation
    address = throttle.address_key(client_address)
    if address:
        keys[address] = per_address
    return keys or {f"client:{client_id}": per_conversation}


async def verify_company(
    session: AsyncSession,
    siren: str,
    contract_number: str,
    *,
    conversation_id: str | None,
    client_address: str | None = None,
    client_id: str,
    policy: Policy,
    now: datetime,
) -> str:
    """Return the company name for a matching SIREN/contract pair, and remember that
    the conversation's company is verified.

    Failures are counted per conversation and per client address; the attempt is
    counted before the pair is looked up, so that concurrent calls never exceed the
    limits, and forgotten when it succeeds.

    Raises:
        TooManyAttempts: too many failures lately from this conversation or address.
        CompanyNotVerified: unknown SIREN, unknown contract or mismatched pair alike.
    """
    keys = _keys(
        conversation_id,
        client_address,
        client_id,
        policy.verify_max_failures_per_conversation,
        policy.verify_max_failures_per_address,
    )
    reservation = await throttle.reserve(session, VERIFY, keys, now, policy.verify_window)
    name = await contracts.company_name(session, siren, contract_number)
    if name is None:
        raise CompanyNotVerified()  # the reserved attempt stays: a failure
    await throttle.release(session, reservation)
    if conversation_id:
        await throttle.mark_verified(session, conversation_id, now)
    await session.commit()
    return name


async def admit_email_check(
    session: AsyncSession,
    *,
    conversation_id: str | None,
    client_address: str | None,
    client_id: str,
    policy: Policy,
    now: datetime,
) -> None:
    """Let an e-mail check through only inside a conversation whose company was
    verified, within the limits per conversation and per client address.

    Raises:
        CompanyVerificationRequired: no conversation, or its company is not verified.
        TooManyEmailChecks: too many checks lately from this conversation or address.
    """
    if not conversation_id or not await throttle.is_verified(
        session, conversation_id, now, policy.verified_conversation_ttl
    ):
        raise CompanyVerificationRequired()
    keys = _keys(
        conversation_id,
        client_address,
        client_id,
        policy.email_check_max_per_conversation,
        policy.email_check_max_per_address,
    )
    await throttle.reserve(
        session, EMAIL_CHECK, keys, now, policy.email_check_window, TooManyEmailChecks
    )


def _same_person(account: Account, last_name: str, first_name: str, birth_date: date) -> bool:
    return (
        identifiers.comparable(account.last_name) == identifiers.comparable(last_name)
        and identifiers.comparable(account.first_name) == identifiers.comparable(first_name)
        and account.birth_date == birth_date
    )


async def email_taken_by_other(
    session: AsyncSession, email: str, last_name: str, first_name: str, birth_date: date
) -> bool:
    """Tell whether `email` already belongs to an account of another natural person."""
    holders = (await session.execute(select(Account).where(Account.email == email))).scalars()
    return any(not _same_person(a, last_name, first_name, birth_date) for a in holders)


def _fingerprint(registration: RegistrationIn) -> str:
    canonical = json.dumps(registration.dict(exclude={"conversation_id"}), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _result(account: Account, policy: Policy, replayed: bool) -> Registered:
    return Registered(
        account_id=account.id,
        login=account.login,
        status=account.status,
        email=account.email,
        created_at=account.created_at,
        activation_deadline=account.created_at + policy.activation_period,
        replayed=replayed,
    )


async def _replay(
    session: AsyncSession, key: str, fingerprint: str, policy: Policy
) -> Registered | None:
    account = (
        await session.execute(select(Account).where(Account.idempotency_key == key))
    ).scalar_one_or_none()
    if account is None:
        return None
    if account.request_fingerprint != fingerprint:
        raise IdempotencyConflict()
    return _result(account, policy, replayed=True)


async def _new_login(session: AsyncSession) -> str:
    while True:
        login = f"EC{secrets.randbelow(10**8):08d}"
        taken = await session.execute(select(Account.id).where(Account.login == login))
        if taken.first() is None:
            return login


def _new_token(created_at: datetime, policy: Policy, now: datetime) -> tuple[ActivationToken, str]:
    """A fresh token and its row; every link of an account expires with the account."""
    token = secrets.token_urlsafe(32)
    row = ActivationToken(
        token_hash=_hash_token(token),
        created_at=now,
        expires_at=created_at + policy.activation_period,
    )
    return row, token


def activation_email(account: Account, link: str, policy: Policy) -> ActivationEmail:
    return ActivationEmail(
        to=account.email,
        first_name=account.first_name,
        last_name=account.last_name,
        civility=account.civility,
        company_name=account.company_name,
        login=account.login,
        link=link,
        deadline=account.created_at + policy.activation_period,
    )


async def register(
    session: AsyncSession,
    registration: RegistrationIn,
    idempotency_key: str,
    *,
    activation_message: ActivationMessage,
    client_id: str,
    policy: Policy,
    now: datetime,
) -> tuple[Registered, OutboxMessage | None]:
    """Create a pending account, or return the one this idempotency key already created.

    The account, the attachment of its documents and its activation e-mail (a row of
    the outbox) are committed together.

    Returns:
        The registration, and its activation e-mail, queued (None on a replay).

    Raises:
        IdempotencyConflict: the key was used for a different request.
        TooManyAttempts, CompanyNotVerified: as `verify_company`.
        EmailTaken: the e-mail belongs to another person.
        AlreadyRegistered: this person already has an account for this company.
        DocumentUnavailable: a document is unknown, expired, of another conversation or
            already attached to another account.
    """
    fingerprint = _fingerprint(registration)
    replay = await _replay(session, idempotency_key, fingerprint, policy)
    if replay is not None:
        return replay, None
    try:
        account, email = await _create(
            session,
            registration,
            idempotency_key,
            fingerprint,
            activation_message,
            client_id,
            policy,
            now,
        )
    except (IntegrityError, AlreadyRegistered, DocumentUnavailable) as refusal:
        # A concurrent retry with the same key may have created the account (and taken
        # the documents) since the replay check: answer as a replay then.
        await session.rollback()
        replay = await _replay(session, idempotency_key, fingerprint, policy)
        if replay is not None:
            return replay, None
        if isinstance(refusal, IntegrityError):
            raise AlreadyRegistered() from None
        raise
    log.info("registration created: account %s", account.id)
    return _result(account, policy, replayed=False), email


async def _create(
    session: AsyncSession,
    registration: RegistrationIn,
    idempotency_key: str,
    fingerprint: str,
    activation_message: ActivationMessage,
    client_id: str,
    policy: Policy,
    now: datetime,
) -> tuple[Account, OutboxMessage]:
    company, person, pro = registration.company, registration.person, registration.professional
    company_name = await verify_company(
        session,
        company.siren,
        company.contract_number,
        conversation_id=registration.conversation_id,
        client_id=client_id,
        policy=policy,
        now=now,
    )
    birth_date = date.fromisoformat(person.birth_date)
    if await email_taken_by_other(
        session, pro.email, person.last_name, person.first_name, birth_date
    ):
        raise EmailTaken()
    duplicate = await session.execute(
        select(Account.id).where(Account.email == pro.email, Account.siren == company.siren)
    )
    if duplicate.first() is not None:
        raise AlreadyRegistered()
    references, conversation_id = registration.documents, registration.conversation_id
    ttl = policy.unclaimed_document_ttl
    await documents.ensure_claimable(session, references, conversation_id, ttl=ttl, now=now)

    account = Account(
        login=await _new_login(session),
        status="pending",
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        siren=company.siren,
        contract_number=company.contract_number,
        company_name=company_name,
        civility=person.civility,
        last_name=person.last_name,
        first_name=person.first_name,
        birth_date=birth_date,
        mobile_phone=person.mobile_phone,
        job_title=pro.job_title,
        email=pro.email,
        professional_phone=pro.phone,
        cgu_version=registration.cgu.version,
        cgu_accepted_at=datetime.fromisoformat(registration.cgu.accepted_at),
        created_at=now,
        conversation_id=registration.conversation_id,
        tokens=[],
    )
    row, token = _new_token(now, policy, now)
    account.tokens.append(row)
    session.add(account)
    await session.flush()
    # Checked again in the same statement that claims them: another registration may
    # have taken one since.
    if not await documents.attach(
        session, references, account.id, conversation_id, ttl=ttl, now=now
    ):
        raise DocumentUnavailable()
    email = outbox.enqueue(
        session, outbox.ACTIVATION, activation_message(account, token), now, account_id=account.id
    )
    await session.commit()
    return account, email


class Activation(Enum):
    VALID = "valid"  # can be used: what the link's page offers, before the click
    ACTIVATED = "activated"
    UNKNOWN = "unknown"
    USED = "used"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


async def _token_row(session: AsyncSession, token: str) -> ActivationToken | None:
    return (
        await session.execute(
            select(ActivationToken).where(ActivationToken.token_hash == _hash_token(token))
        )
    ).scalar_one_or_none()


def _state(row: ActivationToken | None, now: datetime) -> Activation:
    if row is None:
        return Activation.UNKNOWN
    if row.used_at is not None:
        return Activation.USED
    if row.revoked_at is not None:
        return Activation.SUPERSEDED
    if row.expires_at <= now:
        return Activation.EXPIRED
    return Activation.VALID


async def activation_state(session: AsyncSession, token: str, now: datetime) -> Activation:
    """What using the token would do now; reads only (opening the link changes nothing)."""
    return _state(await _token_row(session, token), now)


async def activate(session: AsyncSession, token: str, now: datetime) -> Activation:
    """Use an activation token once; the token row is claimed atomically."""
    row = await _token_row(session, token)
    state = _state(row, now)
    if row is None or state is not Activation.VALID:
        return state
    claimed = await session.execute(
        update(ActivationToken)
        .where(
            ActivationToken.id == row.id,
            ActivationToken.used_at.is_(None),
            ActivationToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        await session.rollback()
        return Activation.USED
    await session.execute(
        update(Account)
        .where(Account.id == row.account_id)
        .values(status="active", activated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    log.info("account %s activated", row.account_id)
    return Activation.ACTIVATED


async def reissue_tokens(
    session: AsyncSession,
    email: str,
    *,
    activation_message: ActivationMessage,
    policy: Policy,
    now: datetime,
) -> list[OutboxMessage]:
    """Revoke the pending links of `email` and issue new ones (none when throttled); the
    new links' e-mails are queued in the outbox in the same transaction.

    Returns:
        The e-mail queued for each pending account of that address; empty when the
        address is unknown, already active or asked too often, so the caller answers
        the same.
    """
    key = f"email:{hashlib.sha256(email.encode()).hexdigest()}"
    if await throttle.count(session, RESEND, key, now, policy.resend_window) >= (
        policy.resend_max_per_window
    ):
        return []
    await throttle.record(session, RESEND, [key], now)
    accounts = (
        (
            await session.execute(
                select(Account).where(
                    Account.email == email,
                    Account.status == "pending",
                    Account.created_at > now - policy.activation_period,
                )
            )
        )
        .scalars()
        .all()
    )
    issued = []
    for account in accounts:
        await session.execute(
            update(ActivationToken)
            .where(
                ActivationToken.account_id == account.id,
                ActivationToken.used_at.is_(None),
                ActivationToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        row, token = _new_token(account.created_at, policy, now)
        row.account_id = account.id
        session.add(row)
        message = activation_message(account, token)
        issued.append(outbox.enqueue(session, outbox.RESEND, message, now, account_id=account.id))
    await session.commit()
    return issued


async def purge(
    session: AsyncSession,
    *,
    policy: Policy,
    now: datetime,
    counts: dict[str, int] | None = None,
) -> int:
    """Delete accounts left unactivated for the activation period, with their documents,
    and the uploads and documents no longer needed; return how many accounts went.

    `counts`, when given, receives the number of rows deleted per kind (for the audit
    log)."""
    cutoff = now - policy.activation_period
    unactivated = (Account.status == "pending", Account.created_at <= cutoff)
    purged_documents = await documents.purge(
        session,
        deleted_accounts=select(Account.id).where(*unactivated),
        upload_ttl=policy.upload_ttl,
        unclaimed_ttl=policy.unclaimed_document_ttl,
        retention=policy.document_retention,
        now=now,
    )
    result = await session.execute(
        delete(Account).where(*unactivated).execution_options(synchronize_session=False)
    )
    windows = (
        policy.verify_window,
        policy.resend_window,
        policy.upload_window,
        policy.email_check_window,
        policy.handoff_window,
    )
    await throttle.forget_before(
        session, now - max(windows), now - policy.verified_conversation_ttl
    )
    await session.commit()
    purged = result.rowcount or 0
    if purged:
        log.info("purged %d account(s) left unactivated", purged)
    if counts is not None:
        counts["accounts"] = purged
        counts["uploads"] = purged_documents.uploads
        counts["documents"] = (
            purged_documents.unclaimed
            + purged_documents.of_deleted_accounts
            + purged_documents.past_retention
        )
    return purged
