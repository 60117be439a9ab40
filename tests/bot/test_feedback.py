"""`POST /api/v1/feedback`: the answer to « Ces informations vous ont-elles été utiles ? »,
one per conversation, kept FEEDBACK_RETENTION_DAYS, in a person's export and erase, and
gone with « Annuler »."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from bot import privacy, retention
from bot.db import alembic_config, make_engine, migrate
from bot.models import Feedback
from bot.settings import Settings
from bot.web.app import run_purge
from bot.web.keys import SESSIONS, SETTINGS
from tests.bot.test_privacy import EMILIE, two_people
from tests.conftest import MovableClock, Service, start_service

FEEDBACK = "/api/v1/feedback"


async def rows(service: Service) -> list[Feedback]:
    async with service.app[SESSIONS]() as session:
        return list((await session.execute(select(Feedback).order_by(Feedback.id))).scalars())


async def test_an_answer_is_stored_and_a_second_one_replaces_it(
    service: Service, clock: MovableClock
) -> None:
    first_at = clock()
    status, body = await service.post(FEEDBACK, {"conversation_id": "conv-1", "useful": False})
    assert status == 201
    assert isinstance(body["id"], int)
    clock.advance(minutes=2)
    status, again = await service.post(
        FEEDBACK,
        {"conversation_id": "conv-1", "useful": True, "comment": "  Très clair, merci !  "},
    )
    assert (status, again) == (200, {"id": body["id"]})
    (row,) = await rows(service)
    assert (row.conversation_id, row.useful, row.comment) == ("conv-1", True, "Très clair, merci !")
    assert (row.created_at, row.answered_at) == (first_at, clock())


async def test_concurrent_first_answers_keep_one_row(service: Service) -> None:
    answers = await asyncio.gather(
        *(service.post(FEEDBACK, {"conversation_id": "conv-2", "useful": True}) for _ in range(4))
    )
    assert sorted(status for status, _ in answers) == [200, 200, 200, 201]
    assert len({body["id"] for _, body in answers}) == 1
    assert len(await rows(service)) == 1


@pytest.mark.parametrize("comment", ["", "   ", None])
async def test_a_blank_comment_is_no_comment(service: Service, comment: str | None) -> None:
    status, _ = await service.post(
        FEEDBACK, {"conversation_id": "conv-3", "useful": True, "comment": comment}
    )
    assert status == 201
    assert (await rows(service))[0].comment is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"useful": True}, "conversation_id"),
        ({"conversation_id": "", "useful": True}, "conversation_id"),
        ({"conversation_id": "c" * 129, "useful": True}, "conversation_id"),
        ({"conversation_id": "conv-4"}, "useful"),
        ({"conversation_id": "conv-4", "useful": "oui"}, "useful"),
        ({"conversation_id": "conv-4", "useful": 1}, "useful"),
        ({"conversation_id": "conv-4", "useful": True, "comment": "x" * 1001}, "comment"),
        ({"conversation_id": "conv-4", "useful": True, "comment": 5}, "comment"),
        ({"conversation_id": "conv-4", "useful": True, "rating": 5}, "rating"),
    ],
)
async def test_invalid_answers_are_explained(
    service: Service, body: dict[str, Any], field: str
) -> None:
    status, answer = await service.post(FEEDBACK, body)
    assert status == 422
    assert answer["error"]["code"] == "invalid_field"
    assert field in {item["field"] for item in answer["error"]["fields"]}
    assert await rows(service) == []


async def test_a_comment_of_1000_characters_is_kept_whole(service: Service) -> None:
    comment = "é" * 1000
    body = {"conversation_id": "conv-5", "useful": False, "comment": comment}
    assert (await service.post(FEEDBACK, body))[0] == 201
    assert (await rows(service))[0].comment == comment


async def test_the_api_token_is_required(service: Service) -> None:
    body = {"conversation_id": "conv-6", "useful": True}
    async with service.http.post(service.base_url + FEEDBACK, json=body) as response:
        assert response.status == 401
    assert await rows(service) == []


async def test_answers_go_after_their_retention(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    assert Settings.from_env({}).feedback_retention.days == 30
    assert Settings.from_env({"FEEDBACK_RETENTION_DAYS": "3"}).feedback_retention.days == 3
    async with start_service(database_url, clock, tmp_path) as service:
        await service.post(FEEDBACK, {"conversation_id": "old", "useful": True, "comment": "ok"})
        clock.advance(days=20)
        await service.post(FEEDBACK, {"conversation_id": "recent", "useful": False})
        clock.advance(days=10)  # "old" answered 30 days ago, "recent" 10
        await run_purge(service.app)
        assert [row.conversation_id for row in await rows(service)] == ["recent"]
        # Answering again counts from the new answer.
        await service.post(FEEDBACK, {"conversation_id": "recent", "useful": True})
        clock.advance(days=25)
        await run_purge(service.app)
        assert [row.conversation_id for row in await rows(service)] == ["recent"]


async def test_a_person_s_export_and_erase_include_their_feedback(
    service: Service, clock: MovableClock
) -> None:
    await two_people(service, clock)
    for conversation, comment in (("conv-1", "Émilie : très clair"), ("conv-2", "Luc : bof")):
        body = {"conversation_id": conversation, "useful": True, "comment": comment}
        assert (await service.post(FEEDBACK, body))[0] == 201
    url = service.app[SETTINGS].tracker_database_url
    async with service.app[SESSIONS]() as session, retention.tracker_store(url) as store:
        exported = await privacy.export(session, store, EMILIE, actor="cli", now=clock())
    assert [(f["conversation_id"], f["comment"]) for f in exported["feedback"]] == [
        ("conv-1", "Émilie : très clair")
    ]
    async with service.app[SESSIONS]() as session, retention.tracker_store(url) as store:
        counts = await privacy.erase(session, store, EMILIE, actor="cli", now=clock())
    assert counts["feedback"] == 1
    assert [row.conversation_id for row in await rows(service)] == ["conv-2"]


async def test_a_cancel_erases_the_conversation_s_feedback(service: Service) -> None:
    await service.post(FEEDBACK, {"conversation_id": "conv-7", "useful": False, "comment": "x"})
    await service.post(FEEDBACK, {"conversation_id": "conv-8", "useful": True})
    status, answer = await service.post(
        "/api/v1/conversations/erase", {"conversation_id": "conv-7"}
    )
    assert (status, answer["erased"]["feedback"]) == (200, 1)
    assert [row.conversation_id for row in await rows(service)] == ["conv-8"]


def _alembic(connection: Connection, command_name: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, command_name)(config, revision)


async def test_migration_0005_up_and_down(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await migrate(engine)
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "downgrade", "0004")
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "feedback" not in names and {"handoffs", "outbox", "audit_log"} <= names
        await migrate(engine)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "feedback" in names
    finally:
        await engine.dispose()
