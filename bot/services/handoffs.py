"""Handoffs of conversations to human advisors: the queue, tickets, taking and closing.

A handoff is `waiting` in the queue when an advisor is logged in within opening hours,
else a `ticket` (the support cell is e-mailed): no live queue is promised when nobody
can answer. A waiting handoff becomes a ticket when it waited too long or the cell
closes (`to_ticket`), and the person may leave the queue (`leave`). An advisor takes a
handoff (`active`), then hands the conversation back to the assistant or closes it
(`closed`, with an `outcome`). Transcripts are not stored here: they stay in Rasa's
tracker store.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.errors import (
    AssistantUnavailable,
    HandoffConflict,
    NotFound,
    NotYourHandoff,
    TooManyAttempts,
)
from bot.models import Agent, Handoff, OutboxMessage
from bot.rasa_client import RasaClient
from bot.schemas import HandoffIn
from bot.services import throttle

log = logging.getLogger(__name__)

WAITING = "waiting"
TICKET = "ticket"
ACTIVE = "active"
CLOSED = "closed"
OPEN = (WAITING, TICKET, ACTIVE)
HANDED_BACK = "handed_back"
CLOSED_BY_ADVISOR = "closed_by_advisor"
LEFT = "left"  # the person left the queue before an advisor took it

REASONS = {
    "user_request": "Le client a demandé à parler à un conseiller",
    "repeated_failures": "Échecs répétés pendant l'inscription",
    "service_unavailable": "Service de création de compte indisponible",
    "misunderstanding": "L'assistant ne comprend pas la demande",
    "registration_refused": "Création du compte refusée par le service",
}
STATUSES = {
    WAITING: "En attente",
    TICKET: "Ticket",
    ACTIVE: "En cours",
    CLOSED: "Close",
}
OUTCOMES = {
    HANDED_BACK: "Rendue à l'assistant",
    CLOSED_BY_ADVISOR: "Close par le conseiller",
    LEFT: "Quittée par le client avant sa prise en charge",
}
# Why a handoff is a ticket, as the support cell's e-mail says it.
OUTSIDE_HOURS = "en dehors des horaires d'ouverture de la cellule dédiée aux espaces clients"
NO_ADVISOR = "alors qu'aucun conseiller n'était connecté"
WAITED_TOO_LONG = "et a attendu {minutes} min dans la file d'attente sans être pris en charge"
AT_CLOSING = "et attendait encore dans la file d'attente à la fermeture de la cellule"
FIGURES_PERIOD = timedelta(days=7)
RECENTLY_CLOSED = 20

HANDOFF = "handoff"  # kind of the throttle's rows


class TooManyHandoffs(TooManyAttempts):
    code = "too_many_handoffs"
    message = (
        "Vous avez demandé plusieurs fois un conseiller en peu de temps. Votre demande "
        "précédente a bien été transmise ; vous pouvez aussi joindre notre cellule "
        "dédiée aux espaces clients {contact}."
    )


@dataclass(frozen=True)
class HandoffLimits:
    """New handoffs per conversation and per client address within `window`."""

    per_conversation: int = 3
    per_address: int = 10
    window: timedelta = timedelta(hours=1)


NOT_FOUND = "Cette demande de mise en relation n'existe pas."
ALREADY_CLOSED = "Cette conversation est déjà close."
NOT_TAKEN = "Prenez d'abord cette conversation en charge."


def _new_reference() -> str:
    return "hof_" + secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Opened:
    """The answer to the assistant: the handoff, and whether this call created it."""

    handoff: Handoff
    created: bool
    position: int | None
    email: OutboxMessage | None = None  # the ticket's e-mail, queued with it


async def _open_for(session: AsyncSession, conversation_id: str) -> Handoff | None:
    return (
        await session.execute(
            select(Handoff).where(Handoff.open_conversation_id == conversation_id)
        )
    ).scalar_one_or_none()


async def position(session: AsyncSession, handoff: Handoff) -> int | None:
    """1 for the oldest waiting handoff; None when it is not waiting."""
    if handoff.status != WAITING:
        return None
    ahead = await session.execute(
        select(func.count())
        .select_from(Handoff)
        .where(
            Handoff.status == WAITING,
            or_(
                Handoff.created_at < handoff.created_at,
                and_(Handoff.created_at == handoff.created_at, Handoff.id < handoff.id),
            ),
        )
    )
    return ahead.scalar_one() + 1


async def open_handoff(
    session: AsyncSession,
    request: HandoffIn,
    *,
    advisors_open: bool,
    now: datetime,
    limits: HandoffLimits | None = None,
    ticket_message: Callable[[Handoff], EmailMessage] | None = None,
) -> Opened:
    """Queue the conversation for an advisor, or make a ticket when none can answer; a
    conversation with an open handoff (waiting, active or ticket) gets that one back,
    uncounted. A new ticket's e-mail to the support cell (`ticket_message`) is queued
    in the outbox in the ticket's transaction.

    Raises:
        TooManyHandoffs: too many handoffs opened lately by this conversation or from
            this client address.
    """
    existing = await _open_for(session, request.conversation_id)
    if existing is not None:
        return Opened(existing, False, await position(session, existing))
    limits = limits or HandoffLimits()
    # Per conversation, the handoffs themselves are counted: the database keeps a
    # conversation to one open handoff, so concurrent calls create one at most.
    created, oldest = (
        await session.execute(
            select(func.count(), func.min(Handoff.created_at)).where(
                Handoff.conversation_id == request.conversation_id,
                Handoff.created_at > now - limits.window,
            )
        )
    ).one()
    if created >= limits.per_conversation:
        wait = (oldest + limits.window - now).total_seconds()
        raise TooManyHandoffs(retry_after=max(1, math.ceil(wait)))
    keys = {}
    address = throttle.address_key(request.client_address)
    if address:
        keys[address] = limits.per_address
    reservation = await throttle.reserve(
        session, HANDOFF, keys, now, limits.window, TooManyHandoffs
    )
    handoff = Handoff(
        reference=_new_reference(),
        conversation_id=request.conversation_id,
        open_conversation_id=request.conversation_id,
        channel=request.channel,
        reason=request.reason,
        status=WAITING if advisors_open else TICKET,
        summary=request.summary.dict(),
        created_at=now,
    )
    session.add(handoff)
    email = None
    try:
        if ticket_message is not None and handoff.status == TICKET:
            await session.flush()
            email = outbox.enqueue(
                session, outbox.HANDOFF_TICKET, ticket_message(handoff), now, handoff_id=handoff.id
            )
        await session.commit()
    except IntegrityError:
        # The same conversation asked twice at once: the other call created it.
        await session.rollback()
        existing = await _open_for(session, request.conversation_id)
        if existing is None:
            raise
        await throttle.release(session, reservation)
        await session.commit()
        return Opened(existing, False, await position(session, existing))
    log.info("handoff %s opened: %s, %s", handoff.reference, handoff.reason, handoff.status)
    return Opened(handoff, True, await position(session, handoff), email)


async def get(session: AsyncSession, reference: str) -> Handoff:
    """Raises `NotFound` for an unknown reference."""
    handoff = None
    if len(reference) <= 32:
        handoff = (
            await session.execute(select(Handoff).where(Handoff.reference == reference))
        ).scalar_one_or_none()
    if handoff is None:
        raise NotFound(NOT_FOUND)
    return handoff


def _refusal(handoff: Handoff, agent: Agent) -> Exception:
    if handoff.status == CLOSED:
        return HandoffConflict(ALREADY_CLOSED)
    if handoff.status == ACTIVE and handoff.agent_id != agent.id:
        taker = handoff.agent.display_name if handoff.agent else "un autre conseiller"
        return HandoffConflict(f"Cette conversation a déjà été prise en charge par {taker}.")
    return HandoffConflict(NOT_TAKEN)


async def take(session: AsyncSession, reference: str, agent: Agent, now: datetime) -> str:
    """Give a waiting handoff or a ticket to `agent`; one advisor wins a race.

    Returns:
        The status it had (`waiting` or `ticket`), to undo with `release`.

    Raises:
        NotFound: unknown reference.
        HandoffConflict: already taken (by anyone) or closed.
    """
    handoff = await get(session, reference)
    previous = handoff.status
    if previous in (WAITING, TICKET):
        claimed = await session.execute(
            update(Handoff)
            .where(Handoff.id == handoff.id, Handoff.status == previous)
            .values(status=ACTIVE, agent_id=agent.id, taken_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        if claimed.rowcount == 1:
            log.info("handoff %s taken by agent %s", reference, agent.id)
            return previous
        await session.refresh(handoff)
    if handoff.status == ACTIVE and handoff.agent_id == agent.id:
        raise HandoffConflict("Vous avez déjà pris en charge cette conversation.")
    raise _refusal(handoff, agent)


async def release(session: AsyncSession, reference: str, agent: Agent, previous: str) -> None:
    """Undo `take` when the user could not be told (Rasa unreachable)."""
    await session.execute(
        update(Handoff)
        .where(
            Handoff.reference == reference,
            Handoff.status == ACTIVE,
            Handoff.agent_id == agent.id,
        )
        .values(status=previous, agent_id=None, taken_at=None)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def taken_by(session: AsyncSession, reference: str, agent: Agent) -> Handoff:
    """The active handoff `agent` took.

    Raises:
        NotFound: unknown reference.
        NotYourHandoff: another advisor took it.
        HandoffConflict: not taken yet, or closed.
    """
    handoff = await get(session, reference)
    if handoff.status == ACTIVE and handoff.agent_id == agent.id:
        return handoff
    if handoff.status == ACTIVE:
        raise NotYourHandoff()
    raise _refusal(handoff, agent)


async def close(
    session: AsyncSession, reference: str, agent: Agent, outcome: str, now: datetime
) -> None:
    """Close the handoff `agent` holds, with `outcome` (`handed_back` or
    `closed_by_advisor`); the conversation may then be handed off again.

    Raises:
        as `taken_by`.
    """
    handoff = await taken_by(session, reference, agent)
    closed = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.status == ACTIVE, Handoff.agent_id == agent.id)
        .values(status=CLOSED, outcome=outcome, closed_at=now, open_conversation_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if closed.rowcount != 1:
        raise HandoffConflict(ALREADY_CLOSED)
    log.info("handoff %s closed by agent %s: %s", reference, agent.id, outcome)


LEFT_TOO_LATE = "Un conseiller a déjà pris en charge cette conversation."
NOTHING_TO_LEAVE = "Cette conversation n'attend pas de conseiller."


async def leave(session: AsyncSession, conversation_id: str, now: datetime) -> Handoff:
    """The person left the queue: a waiting handoff is closed (`left`); a ticket stays
    open for the support cell, the person goes back to the assistant meanwhile.

    Raises:
        NotFound: the conversation has no open handoff.
        HandoffConflict: an advisor has taken it (the message goes to the advisor).
    """
    for _ in range(2):
        handoff = await _open_for(session, conversation_id)
        if handoff is None:
            raise NotFound(NOTHING_TO_LEAVE)
        if handoff.status == ACTIVE:
            raise HandoffConflict(LEFT_TOO_LATE)
        if handoff.status == TICKET:
            return handoff
        left = await session.execute(
            update(Handoff)
            .where(Handoff.id == handoff.id, Handoff.status == WAITING)
            .values(status=CLOSED, outcome=LEFT, closed_at=now, open_conversation_id=None)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        if left.rowcount == 1:
            await session.refresh(handoff)
            log.info("handoff %s left by the person", handoff.reference)
            return handoff
        session.expire_all()  # taken meanwhile, or turned into a ticket: look again
    raise HandoffConflict(LEFT_TOO_LATE)


async def overdue(
    session: AsyncSession, now: datetime, *, max_wait: timedelta, advisors_on_duty: bool
) -> list[Handoff]:
    """Waiting handoffs that must become tickets: all of them when no advisor can answer
    (closing time, nobody logged in), else those that waited `max_wait`."""
    query = select(Handoff).where(Handoff.status == WAITING)
    if advisors_on_duty:
        query = query.where(Handoff.created_at <= now - max_wait)
    return list((await session.execute(query.order_by(Handoff.created_at))).scalars())


async def to_ticket(session: AsyncSession, handoff: Handoff) -> bool:
    """Turn a waiting handoff into a ticket; False when it no longer waits (taken or
    left meanwhile). The caller tells the person, then queues the cell's e-mail
    (`queue_ticket_email`), or puts it back in the queue (`back_to_queue`)."""
    changed = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.status == WAITING)
        .values(status=TICKET)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if changed.rowcount != 1:
        return False
    log.info("handoff %s turned into a ticket", handoff.reference)
    return True


async def back_to_queue(session: AsyncSession, handoff: Handoff) -> None:
    """Undo `to_ticket` when the person could not be told (Rasa unreachable): the next
    run tries again."""
    await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.status == TICKET, Handoff.agent_id.is_(None))
        .values(status=WAITING)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def queue_ticket_email(
    session: AsyncSession,
    handoff: Handoff,
    now: datetime,
    ticket_message: Callable[[Handoff], EmailMessage],
) -> OutboxMessage:
    """The support cell's e-mail about a ticket, in the outbox."""
    email = outbox.enqueue(
        session, outbox.HANDOFF_TICKET, ticket_message(handoff), now, handoff_id=handoff.id
    )
    await session.commit()
    return email


def waiting_time(handoff: Handoff, now: datetime) -> timedelta:
    """How long the user waited for an advisor (still waiting: until `now`)."""
    return (handoff.taken_at or handoff.closed_at or now) - handoff.created_at


@dataclass(frozen=True)
class Queue:
    waiting: list[Handoff]
    active: list[Handoff]
    tickets: list[Handoff]
    closed: list[Handoff]
    by_outcome: dict[str, int]
    median_wait: timedelta | None


async def queue(session: AsyncSession, now: datetime) -> Queue:
    """Open handoffs (oldest first), the recently closed ones, and the figures of the
    last 7 days: handoffs opened by outcome, median waiting time of those taken."""
    open_rows = (
        (
            await session.execute(
                select(Handoff)
                .where(Handoff.status.in_(OPEN))
                .order_by(Handoff.created_at, Handoff.id)
            )
        )
        .scalars()
        .all()
    )
    since = now - FIGURES_PERIOD
    closed = (
        (
            await session.execute(
                select(Handoff)
                .where(Handoff.status == CLOSED, Handoff.closed_at > since)
                .order_by(Handoff.closed_at.desc())
                .limit(RECENTLY_CLOSED)
            )
        )
        .scalars()
        .all()
    )
    recent = (
        await session.execute(
            select(Handoff.status, Handoff.outcome).where(Handoff.created_at > since)
        )
    ).all()
    by_outcome = {HANDED_BACK: 0, CLOSED_BY_ADVISOR: 0, LEFT: 0, "open": 0}
    for status, outcome in recent:
        key = outcome if status == CLOSED and outcome in by_outcome else "open"
        by_outcome[key] += 1
    waits = [
        (taken - created).total_seconds()
        for created, taken in (
            await session.execute(
                select(Handoff.created_at, Handoff.taken_at).where(Handoff.taken_at > since)
            )
        ).all()
    ]
    return Queue(
        waiting=[h for h in open_rows if h.status == WAITING],
        active=[h for h in open_rows if h.status == ACTIVE],
        tickets=[h for h in open_rows if h.status == TICKET],
        closed=list(closed),
        by_outcome=by_outcome,
        median_wait=timedelta(seconds=statistics.median(waits)) if waits else None,
    )


def summary_of(handoff: Handoff) -> dict[str, Any]:
    """The masked summary as stored, with its parts always present."""
    summary = handoff.summary if isinstance(handoff.summary, dict) else {}
    return {
        "company": summary.get("company"),
        "done": summary.get("done") or "",
        "blocking": summary.get("blocking") or "",
        "fields": [f for f in summary.get("fields") or [] if isinstance(f, dict)],
    }


# What the user reads when an advisor joins or leaves the conversation.
GREETING = "Vous êtes maintenant en relation avec {name}, de la cellule dédiée aux espaces clients."
FAREWELL = "{name} vous remet en relation avec l'assistant virtuel."


async def take_conversation(
    session: AsyncSession, rasa: RasaClient, reference: str, agent: Agent, now: datetime
) -> Handoff:
    """Take a waiting handoff or a ticket and greet the user; a ticket's conversation is
    paused first (a queued one was paused by the assistant when it handed off).

    When Rasa cannot be reached the handoff goes back to where it was.

    Raises:
        NotFound, HandoffConflict: as `take`.
        AssistantUnavailable: Rasa did not answer or refused.
    """
    previous = await take(session, reference, agent, now)
    handoff = await get(session, reference)
    await session.refresh(handoff)
    paused = False
    try:
        if previous == TICKET:
            await rasa.pause(handoff.conversation_id)
            paused = True
        await rasa.send_advisor_message(
            handoff.conversation_id, GREETING.format(name=agent.display_name), agent.display_name
        )
    except AssistantUnavailable:
        if paused:
            with contextlib.suppress(AssistantUnavailable):
                await rasa.resume(handoff.conversation_id)
        await release(session, reference, agent, previous)
        raise
    return handoff


async def reply(
    session: AsyncSession, rasa: RasaClient, reference: str, agent: Agent, text: str
) -> None:
    """Send the advisor's message to the user, signed with the advisor's name.

    Raises:
        NotFound, NotYourHandoff, HandoffConflict: as `taken_by`.
        AssistantUnavailable: Rasa did not answer or refused.
    """
    handoff = await taken_by(session, reference, agent)
    await rasa.send_advisor_message(handoff.conversation_id, text, agent.display_name)
    log.info("handoff %s: agent %s replied", reference, agent.id)


async def hand_back(
    session: AsyncSession, rasa: RasaClient, reference: str, agent: Agent, now: datetime
) -> None:
    """Say goodbye, resume the conversation and let the assistant go on where it stopped.

    Raises:
        as `reply`.
    """
    handoff = await taken_by(session, reference, agent)
    await rasa.send_advisor_message(
        handoff.conversation_id, FAREWELL.format(name=agent.display_name), agent.display_name
    )
    await rasa.hand_back(handoff.conversation_id)
    await close(session, reference, agent, HANDED_BACK, now)


async def close_conversation(
    session: AsyncSession, rasa: RasaClient, reference: str, agent: Agent, now: datetime
) -> None:
    """Close without handing back: the conversation is resumed (the assistant answers the
    user's next message) but the assistant says nothing now.

    Raises:
        as `reply`.
    """
    handoff = await taken_by(session, reference, agent)
    await rasa.resume(handoff.conversation_id)
    await close(session, reference, agent, CLOSED_BY_ADVISOR, now)
