"""`POST /api/v1/handoffs`: the assistant hands a conversation to a human advisor; queued
while an advisor is logged in within opening hours, else a ticket e-mailed to the
support cell. `POST /api/v1/handoffs/leave`: the person leaves the queue."""

from __future__ import annotations

import asyncio
import copy
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from bot.db import alembic_config, make_engine, migrate
from bot.french import PARIS
from bot.models import Agent, Handoff
from bot.services import agents, handoffs
from bot.web.keys import LOGIN_POLICY, SESSIONS
from tests.conftest import MovableClock, Service, start_service

HANDOFFS = "/api/v1/handoffs"
LEAVE = "/api/v1/handoffs/leave"
PASSWORD = "correct horse battery"
# A Tuesday morning, within the default hours (mon-fri 09:00-18:00), and a Friday evening.
OPEN = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS).astimezone(timezone.utc)
CLOSED = datetime(2026, 12, 4, 19, 0, tzinfo=PARIS).astimezone(timezone.utc)

_HANDOFF: dict[str, Any] = {
    "conversation_id": "conv-handoff-1",
    "channel": "socketio",
    "reason": "repeated_failures",
    "summary": {
        "company": "Maison Démo Industries SA (SIREN 552 100 554)",
        "done": "Entreprise identifiée, coordonnées personnelles saisies.",
        "blocking": "L'adresse e-mail professionnelle est refusée à plusieurs reprises.",
        "fields": [
            {"label": "Nom", "value": "L*****e"},
            {"label": "Prénom", "value": "É****e"},
            {"label": "E-mail professionnel", "value": "e***e@exemple-industries.fr"},
            {"label": "Portable", "value": "06 •• •• •• 78"},
        ],
    },
}


def handoff(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(_HANDOFF)
    for key, value in changes.items():
        if key in body["summary"]:
            body["summary"][key] = value
        else:
            body[key] = value
    return body


async def stored(service: Service, reference: str) -> Handoff:
    async with service.app[SESSIONS]() as session:
        row = (
            await session.execute(select(Handoff).where(Handoff.reference == reference))
        ).scalar_one()
    return row


async def log_in_advisor(service: Service, clock: MovableClock, login: str = "claire") -> Agent:
    """An advisor logged in to the console, as the login form does it."""
    async with service.app[SESSIONS]() as session:
        agent = await agents.create_agent(session, login, "Claire Martin", PASSWORD, clock())
        await agents.log_in(
            session,
            login,
            PASSWORD,
            client_key="client:test",
            policy=service.app[LOGIN_POLICY],
            now=clock(),
        )
    return agent


async def test_within_opening_hours_the_conversation_is_queued(
    service: Service, clock: MovableClock
) -> None:
    clock.now = OPEN
    await log_in_advisor(service, clock)
    status, body = await service.post(HANDOFFS, handoff())
    assert status == 201
    assert body["id"].startswith("hof_")
    assert body == {
        "id": body["id"],
        "status": "queued",
        "position": 1,
        "opens_at": None,
        "opens_at_text": None,
    }
    clock.advance(seconds=30)
    status, second = await service.post(HANDOFFS, handoff(conversation_id="conv-handoff-2"))
    assert (status, second["status"], second["position"]) == (201, "queued", 2)

    row = await stored(service, body["id"])
    assert (row.status, row.reason, row.channel) == ("waiting", "repeated_failures", "socketio")
    assert row.created_at == OPEN
    assert row.summary == _HANDOFF["summary"]
    assert service.outbox_messages() == [], "no e-mail while advisors are on duty"


async def test_outside_opening_hours_a_ticket_is_emailed(
    service: Service, clock: MovableClock
) -> None:
    clock.now = CLOSED
    status, body = await service.post(HANDOFFS, handoff())
    assert status == 201
    assert body["status"] == "ticket"
    assert body["position"] is None
    assert body["opens_at"] == "2026-12-07T09:00:00+01:00"
    assert body["opens_at_text"] == "lundi 7 décembre à 9 h"
    assert (await stored(service, body["id"])).status == "ticket"

    [message] = service.outbox_messages()
    assert message["To"] == "espaces-clients@assureur.example"
    assert body["id"] in message["Subject"]
    assert not message.is_multipart(), "one text part: never an attachment"
    text = message.get_content()
    assert f"{service.base_url}/agent/handoffs/{body['id']}" in text
    assert "Échecs répétés pendant l'inscription" in text
    assert "Maison Démo Industries SA (SIREN 552 100 554)" in text
    assert "L'adresse e-mail professionnelle est refusée" in text
    for field in _HANDOFF["summary"]["fields"]:
        assert f"- {field['label']} : {field['value']}" in text
    assert "lundi 7 décembre 2026 à 9 h" in text
    assert "vendredi 4 décembre 2026 à 19 h" in text
    assert "en dehors des horaires d'ouverture de la cellule" in text
    for absent in ("conv-handoff-1", "/uploads/", "Lefèvre", "emilie.lefevre"):
        assert absent not in text


@pytest.mark.parametrize("advisor", ["none", "session_expired", "disabled"])
async def test_within_opening_hours_without_an_advisor_logged_in_a_ticket_is_emailed(
    service: Service, clock: MovableClock, advisor: str
) -> None:
    if advisor == "session_expired":
        clock.now = OPEN - timedelta(hours=12, seconds=1)  # sessions last 12 hours
        await log_in_advisor(service, clock)
    if advisor == "disabled":
        clock.now = OPEN - timedelta(hours=1)
        agent = await log_in_advisor(service, clock)
        async with service.app[SESSIONS]() as session:
            await agents.disable_agent(session, agent.login, clock())
    clock.now = OPEN
    status, body = await service.post(HANDOFFS, handoff())
    assert status == 201
    # No time to give: an advisor comes back as soon as one logs in.
    assert (body["status"], body["position"], body["opens_at"], body["opens_at_text"]) == (
        "ticket",
        None,
        None,
        None,
    )
    assert (await stored(service, body["id"])).status == "ticket"
    [message] = service.outbox_messages()
    text = message.get_content()
    assert "alors qu'aucun conseiller n'était connecté" in text
    assert "ouvre à nouveau" not in text
    assert f"{service.base_url}/agent/handoffs/{body['id']}" in text


async def test_a_logged_in_advisor_outside_opening_hours_gets_a_ticket(
    service: Service, clock: MovableClock
) -> None:
    clock.now = CLOSED
    await log_in_advisor(service, clock)
    status, body = await service.post(HANDOFFS, handoff())
    assert (status, body["status"]) == (201, "ticket")
    assert body["opens_at_text"] == "lundi 7 décembre à 9 h"


async def test_the_support_address_is_a_setting(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    clock.now = CLOSED
    async with start_service(
        database_url, clock, tmp_path, support_email="support@assureur.example"
    ) as service:
        status, _ = await service.post(HANDOFFS, handoff())
        assert status == 201
        assert [m["To"] for m in service.outbox_messages()] == ["support@assureur.example"]


async def test_a_ticket_is_stored_even_when_the_email_fails(
    database_url: str, clock: MovableClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock.now = CLOSED
    (tmp_path / "outbox").write_text("a file where the outbox folder should be")
    async with start_service(database_url, clock, tmp_path) as service:
        status, body = await service.post(HANDOFFS, handoff())
        assert (status, body["status"]) == (201, "ticket")
    assert "not sent" in caplog.text


async def test_an_open_handoff_is_answered_again_not_duplicated(
    service: Service, clock: MovableClock
) -> None:
    clock.now = CLOSED
    first_status, first = await service.post(HANDOFFS, handoff())
    clock.now = OPEN.replace(day=7)  # the ticket is still open on Monday morning
    second_status, second = await service.post(HANDOFFS, handoff(reason="user_request"))
    assert (first_status, second_status) == (201, 200)
    assert second["id"] == first["id"]
    assert second["status"] == "ticket"
    assert len(service.outbox_messages()) == 1


async def test_concurrent_calls_for_one_conversation_open_one_handoff(
    service: Service, clock: MovableClock
) -> None:
    clock.now = OPEN
    await log_in_advisor(service, clock)
    answers = await asyncio.gather(*(service.post(HANDOFFS, handoff()) for _ in range(5)))
    assert sorted(status for status, _ in answers) == [200, 200, 200, 200, 201]
    assert len({body["id"] for _, body in answers}) == 1
    assert {body["position"] for _, body in answers} == {1}


async def test_an_unknown_reason_is_a_400_in_french(service: Service) -> None:
    status, body = await service.post(HANDOFFS, handoff(reason="bored"))
    assert status == 400
    assert body["error"]["code"] == "unknown_reason"
    assert "user_request" in body["error"]["message"]
    assert "motif" in body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (handoff(reason=3), "reason"),
        (handoff(conversation_id=""), "conversation_id"),
        (handoff(conversation_id="c" * 129), "conversation_id"),
        (handoff(channel="c" * 65), "channel"),
        (handoff(done="x" * 1001), "summary.done"),
        (handoff(blocking=None), "summary.blocking"),
        (handoff(company=""), "summary.company"),
        (handoff(fields=[{"label": "Nom", "value": "D****"}] * 31), "summary.fields"),
        (handoff(fields=[{"label": "N" * 61, "value": "D****"}]), "summary.fields.0.label"),
        (handoff(fields=[{"label": "Nom", "value": "v" * 201}]), "summary.fields.0.value"),
        (handoff(fields=[{"label": "Nom"}]), "summary.fields.0.value"),
        (handoff(fields="Nom"), "summary.fields"),
        (handoff(summary="tout va bien"), "summary"),
        (handoff(document="https://example.org/id.png"), "document"),
        ({k: v for k, v in _HANDOFF.items() if k != "summary"}, "summary"),
    ],
)
async def test_invalid_requests_are_explained(service: Service, body: Any, field: str) -> None:
    status, answer = await service.post(HANDOFFS, body)
    assert status == 422
    assert answer["error"]["code"] == "invalid_field"
    assert field in {item["field"] for item in answer["error"]["fields"]}


async def test_the_api_token_is_required(service: Service) -> None:
    async with service.http.post(service.base_url + HANDOFFS, json=handoff()) as response:
        assert response.status == 401


async def test_logs_carry_no_summary(
    service: Service, clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.now = CLOSED
    with caplog.at_level(logging.DEBUG, logger="bot"):
        status, _ = await service.post(HANDOFFS, handoff())
    assert status == 201
    assert "handoff hof_" in caplog.text
    for secret in ("Maison Démo", "L*****e", "e***e@", "refusée", "conv-handoff-1"):
        assert secret not in caplog.text


def _alembic(connection: Connection, command_name: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, command_name)(config, revision)


async def test_migration_0003_up_and_down(database_url: str) -> None:
    engine = make_engine(database_url)
    tables = {"handoffs", "agents", "agent_sessions"}
    try:
        await migrate(engine)
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "downgrade", "0002")
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert tables.isdisjoint(names)
        assert {"accounts", "documents", "uploads"} <= names
        await migrate(engine)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert tables <= names
    finally:
        await engine.dispose()


# ---- Leaving the queue ----------------------------------------------------------------


async def test_leaving_the_queue_closes_the_waiting_handoff(
    service: Service, clock: MovableClock
) -> None:
    clock.now = OPEN
    await log_in_advisor(service, clock)
    _, first = await service.post(HANDOFFS, handoff())
    _, second = await service.post(HANDOFFS, handoff(conversation_id="conv-handoff-2"))
    assert second["position"] == 2
    clock.advance(minutes=3)
    status, body = await service.post(LEAVE, {"conversation_id": "conv-handoff-1"})
    assert (status, body) == (200, {"id": first["id"], "status": "left"})
    row = await stored(service, first["id"])
    assert (row.status, row.outcome, row.closed_at) == ("closed", "left", clock())
    assert row.agent_id is None
    # The next one moves up, and the conversation may ask for an advisor again.
    _, again = await service.post(HANDOFFS, handoff(conversation_id="conv-handoff-2"))
    assert (again["id"], again["position"]) == (second["id"], 1)
    _, new = await service.post(HANDOFFS, handoff())
    assert new["id"] != first["id"] and new["status"] == "queued"
    assert service.outbox_messages() == []


async def test_leaving_twice_or_without_a_handoff_is_a_404(
    service: Service, clock: MovableClock
) -> None:
    clock.now = OPEN
    await log_in_advisor(service, clock)
    await service.post(HANDOFFS, handoff())
    assert (await service.post(LEAVE, {"conversation_id": "conv-handoff-1"}))[0] == 200
    for conversation in ("conv-handoff-1", "conv-never-handed-off"):
        status, body = await service.post(LEAVE, {"conversation_id": conversation})
        assert (status, body["error"]["code"]) == (404, "not_found")
        assert "n'attend pas de conseiller" in body["error"]["message"]


async def test_a_ticket_stays_for_the_support_cell_when_the_person_leaves(
    service: Service, clock: MovableClock
) -> None:
    clock.now = CLOSED
    _, ticket = await service.post(HANDOFFS, handoff())
    status, body = await service.post(LEAVE, {"conversation_id": "conv-handoff-1"})
    assert (status, body) == (200, {"id": ticket["id"], "status": "ticket"})
    assert (await stored(service, ticket["id"])).status == "ticket"


async def test_a_conversation_an_advisor_took_is_not_left(
    service: Service, clock: MovableClock
) -> None:
    clock.now = OPEN
    agent = await log_in_advisor(service, clock)
    _, body = await service.post(HANDOFFS, handoff())
    async with service.app[SESSIONS]() as session:
        await handoffs.take(session, body["id"], agent, clock())
    status, answer = await service.post(LEAVE, {"conversation_id": "conv-handoff-1"})
    assert (status, answer["error"]["code"]) == (409, "handoff_conflict")
    assert "déjà pris en charge" in answer["error"]["message"]
    assert (await stored(service, body["id"])).status == "active"


async def test_leaving_needs_the_token_and_a_conversation_id(service: Service) -> None:
    body = {"conversation_id": "conv-handoff-1"}
    async with service.http.post(service.base_url + LEAVE, json=body) as response:
        assert response.status == 401
    for invalid in ({}, {"conversation_id": ""}, {"conversation_id": 3}):
        status, answer = await service.post(LEAVE, invalid)
        assert (status, answer["error"]["code"]) == (422, "invalid_field")
