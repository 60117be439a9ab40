"""Handlers of the agent console: the queue and conversation pages, their JSON API, and
the advisor's actions (take, reply, hand back, close). `agent_auth` has already checked
the session and the origin."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.errors import AssistantUnavailable, NotFound
from bot.french import french_duration
from bot.models import Agent, Handoff
from bot.schemas import AdvisorReplyIn, parse
from bot.services import audit, feedback, handoffs
from bot.web.agent_auth import current_agent
from bot.web.api import read_json
from bot.web.keys import CLOCK, RASA, SESSIONS
from bot.web.middlewares import page_error
from bot.web.pages import render
from bot.web.responses import json_response

CONSOLE_SCRIPT = Path(__file__).resolve().parent.parent / "static" / "agent" / "console.js"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def handoff_json(handoff: Handoff, agent: Agent, now: datetime) -> dict[str, Any]:
    """What the console shows of a handoff (the summary apart)."""
    waited = handoffs.waiting_time(handoff, now)
    return {
        "id": handoff.reference,
        "status": handoff.status,
        "status_text": handoffs.STATUSES.get(handoff.status, handoff.status),
        "reason": handoff.reason,
        "reason_text": handoffs.REASONS.get(handoff.reason, handoff.reason),
        "channel": handoff.channel,
        "company": handoffs.summary_of(handoff)["company"],
        "created_at": _iso(handoff.created_at),
        "taken_at": _iso(handoff.taken_at),
        "closed_at": _iso(handoff.closed_at),
        "waiting_seconds": int(waited.total_seconds()),
        "waiting_text": french_duration(waited),
        "agent": handoff.agent.display_name if handoff.agent else None,
        "mine": handoff.agent_id == agent.id,
        "outcome": handoff.outcome,
        "outcome_text": handoffs.OUTCOMES.get(handoff.outcome or ""),
    }


async def queue_page(request: web.Request) -> web.Response:
    return render(request, "agent_queue.html", agent=current_agent(request))


async def handoff_page(request: web.Request) -> web.Response:
    agent, now = current_agent(request), request.app[CLOCK]()
    try:
        async with request.app[SESSIONS]() as session:
            handoff = await handoffs.get(session, request.match_info["reference"])
    except NotFound:
        return page_error(request, 404)
    return render(
        request,
        "agent_handoff.html",
        agent=agent,
        handoff=handoff_json(handoff, agent, now),
        summary=handoffs.summary_of(handoff),
    )


async def console_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        CONSOLE_SCRIPT, headers={"Content-Type": "text/javascript; charset=utf-8"}
    )


async def queue_json(request: web.Request) -> web.Response:
    agent, now = current_agent(request), request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        queue = await handoffs.queue(session, now)
        satisfaction = await feedback.satisfaction(session, now - handoffs.FIGURES_PERIOD)
    median = queue.median_wait
    return json_response(
        {
            "now": now.isoformat(),
            "waiting": [handoff_json(h, agent, now) for h in queue.waiting],
            "active": [handoff_json(h, agent, now) for h in queue.active],
            "tickets": [handoff_json(h, agent, now) for h in queue.tickets],
            "closed": [handoff_json(h, agent, now) for h in queue.closed],
            "figures": {
                "period_days": handoffs.FIGURES_PERIOD.days,
                "by_outcome": queue.by_outcome,
                "median_wait_seconds": int(median.total_seconds()) if median is not None else None,
                "median_wait_text": french_duration(median) if median is not None else None,
                "feedback_answered": satisfaction.answered,
                "feedback_useful": satisfaction.useful,
                "satisfaction_rate": satisfaction.rate,
                "satisfaction_text": satisfaction.text(),
            },
        }
    )


async def handoff_detail_json(request: web.Request) -> web.Response:
    """The handoff and its live transcript; Rasa being down is said, not a failure."""
    agent, now = current_agent(request), request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        handoff = await handoffs.get(session, request.match_info["reference"])
        await audit.record_view(
            session,
            f"agent:{agent.login}",
            audit.TRANSCRIPT_VIEWED,
            handoff.reference,
            {"conversation_id": handoff.conversation_id},
            now,
        )
    transcript_error = None
    try:
        messages = await request.app[RASA].transcript(handoff.conversation_id)
    except AssistantUnavailable:
        messages, transcript_error = (
            [],
            (
                "La conversation ne peut pas être lue : l'assistant virtuel ne répond pas. "
                "Nouvel essai dans quelques secondes."
            ),
        )
    return json_response(
        {
            "handoff": handoff_json(handoff, agent, now),
            "transcript": [message.to_json() for message in messages],
            "transcript_error": transcript_error,
        }
    )


async def _answer(request: web.Request, reference: str) -> web.Response:
    agent, now = current_agent(request), request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        handoff = await handoffs.get(session, reference)
    return json_response({"handoff": handoff_json(handoff, agent, now)})


async def _change(request: web.Request, change: Any) -> web.Response:
    """Take, hand back or close the handoff of the URL as the agent logged in; the
    handoff as it now stands."""
    reference = request.match_info["reference"]
    async with request.app[SESSIONS]() as session:
        await change(
            session, request.app[RASA], reference, current_agent(request), request.app[CLOCK]()
        )
    return await _answer(request, reference)


async def take(request: web.Request) -> web.Response:
    return await _change(request, handoffs.take_conversation)


async def reply(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    payload = parse(AdvisorReplyIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        await handoffs.reply(
            session, request.app[RASA], reference, current_agent(request), payload.text
        )
    return json_response({"sent": True})


async def hand_back(request: web.Request) -> web.Response:
    return await _change(request, handoffs.hand_back)


async def close(request: web.Request) -> web.Response:
    return await _change(request, handoffs.close_conversation)
