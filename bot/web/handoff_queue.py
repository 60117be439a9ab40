"""The advisor queue never traps anyone: a periodic job of the web process turns a
waiting handoff into a ticket once it waited HANDOFF_QUEUE_MAX_WAIT_MINUTES, at closing
time, or when no advisor is logged in any more; the conversation is resumed and the
assistant says that the request is recorded (the intent `EXTERNAL_handoff_ticket`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage

from aiohttp import web

from bot.errors import AssistantUnavailable
from bot.models import Handoff, OutboxMessage
from bot.opening_hours import opening_text
from bot.outbox import OUTBOX
from bot.services import agents, handoffs
from bot.web.api import ticket_message
from bot.web.keys import CLOCK, RASA, SESSIONS, SETTINGS

log = logging.getLogger(__name__)

QUEUE_STOP = web.AppKey("queue_stop", asyncio.Event)


async def expire_queue(app: web.Application) -> int:
    """Turn the overdue waiting handoffs into tickets and tell their conversations; how
    many. One that Rasa cannot be told about goes back to the queue, for the next run."""
    settings, now = app[SETTINGS], app[CLOCK]()
    hours = settings.opening_hours
    async with app[SESSIONS]() as session:
        within_hours = hours.is_open(now)
        on_duty = within_hours and await agents.any_logged_in(session, now)
        due = await handoffs.overdue(
            session, now, max_wait=settings.handoff_queue_max_wait, advisors_on_duty=on_duty
        )
    opens_at = None if within_hours else hours.next_opening(now)
    if not within_hours:
        why = handoffs.AT_CLOSING
    elif not on_duty:
        why = handoffs.NO_ADVISOR
    else:
        minutes = round(settings.handoff_queue_max_wait.total_seconds() / 60)
        why = handoffs.WAITED_TOO_LONG.format(minutes=minutes)
    # The entity the assistant's answer says (« dès lundi 7 décembre à 9 h »); none within
    # opening hours: an advisor comes back as soon as one can.
    entities = {"opens_at": opening_text(opens_at, now)} if opens_at else {}
    emails: list[OutboxMessage] = []
    for handoff in due:
        email = await _to_ticket(app, handoff, entities, ticket_message(app, now, opens_at, why))
        if email is not None:
            emails.append(email)
    if emails:
        await app[OUTBOX].deliver(emails, settings.outbox_send_wait)
    return len(emails)


async def _to_ticket(
    app: web.Application,
    handoff: Handoff,
    entities: dict[str, str],
    message: Callable[[Handoff], EmailMessage],
) -> OutboxMessage | None:
    async with app[SESSIONS]() as session:
        if not await handoffs.to_ticket(session, handoff):
            return None  # taken or left meanwhile
        try:
            await app[RASA].queue_timed_out(handoff.conversation_id, entities)
        except AssistantUnavailable:
            log.warning("handoff %s stays queued: the assistant cannot be told", handoff.reference)
            await handoffs.back_to_queue(session, handoff)
            return None
        return await handoffs.queue_ticket_email(session, handoff, app[CLOCK](), message)


async def stop_queue_check(app: web.Application) -> None:
    """At shutdown, before aiohttp waits for the tasks still running."""
    app[QUEUE_STOP].set()


async def periodic_queue_check(app: web.Application) -> AsyncIterator[None]:
    """Every HANDOFF_QUEUE_POLL_SECONDS (30 s), from start-up on."""
    stop = app[QUEUE_STOP]

    async def loop() -> None:
        while not stop.is_set():
            try:
                await expire_queue(app)
            except Exception:
                log.exception("queue check failed; retrying at the next interval")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), app[SETTINGS].handoff_queue_poll_interval.total_seconds()
                )

    task = asyncio.create_task(loop())
    yield
    stop.set()
    await task
