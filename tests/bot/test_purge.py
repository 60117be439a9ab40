"""The retention policy: accounts left unactivated for 30 days, conversations in Rasa's
tracker store, handoffs…, deleted by command and periodically."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select

from bot.models import Account, ActivationToken, AuditEntry, Handoff
from bot.retention import events
from bot.web.app import run_purge
from bot.web.keys import SESSIONS, SETTINGS
from tests.bot.payloads import OTHER_CONTRACT, OTHER_SIREN, registration_with_document
from tests.conftest import MovableClock, Service, start_service

ROOT = Path(__file__).resolve().parents[2]


async def register(service: Service, key: str, email: str, **changes: dict) -> int:
    body = await registration_with_document(service, professional={"email": email}, **changes)
    status, answer = await service.post(
        "/api/v1/registrations", body, headers={"Idempotency-Key": key}
    )
    assert status == 201, answer
    return answer["registration_id"]


async def logins(service: Service) -> set[int]:
    async with service.app[SESSIONS]() as session:
        return set((await session.execute(select(Account.id))).scalars())


async def test_purge_removes_exactly_the_accounts_past_30_days(
    service: Service, clock: MovableClock
) -> None:
    oldest = await register(service, "a", "a.lefevre@exemple.fr")
    clock.advance(days=1)
    younger = await register(service, "b", "b.lefevre@exemple.fr")
    activated = await register(
        service,
        "c",
        "c.lefevre@exemple.fr",
        company={"siren": OTHER_SIREN, "contract_number": OTHER_CONTRACT},
    )
    async with service.app[SESSIONS]() as session:
        account = await session.get(Account, activated)
        assert account is not None
        account.status = "active"
        await session.commit()

    clock.advance(days=29)  # oldest is now exactly 30 days old, younger 29
    assert await run_purge(service.app) == 1
    assert await logins(service) == {younger, activated}

    clock.advance(days=1)
    assert await run_purge(service.app) == 1
    assert await logins(service) == {activated}, "activated accounts are kept"
    async with service.app[SESSIONS]() as session:
        tokens = (await session.execute(select(ActivationToken.account_id))).scalars().all()
    assert set(tokens) == {activated}, "tokens go with their account"
    assert oldest not in tokens


async def test_the_web_process_purges_periodically(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    async with start_service(
        database_url, clock, tmp_path, purge_interval=timedelta(seconds=0.2)
    ) as service:
        await register(service, "a", "a.lefevre@exemple.fr")
        clock.advance(days=31)
        for _ in range(50):
            if not await logins(service):
                break
            await asyncio.sleep(0.1)
        assert await logins(service) == set()


async def test_purge_command(database_url: str, clock: MovableClock, tmp_path: Path) -> None:
    """The command uses the real clock: an account made 31 days ago goes, a new one stays."""
    clock.advance(days=-31)
    async with start_service(database_url, clock, tmp_path) as service:
        await register(service, "old", "a.lefevre@exemple.fr")
        clock.advance(days=31)
        fresh = await register(service, "new", "b.lefevre@exemple.fr")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'tracker.db'}",
        "LOAD_DEMO_CONTRACTS": "0",
    }

    done = subprocess.run(
        [sys.executable, "-m", "bot", "purge"], env=env, cwd=ROOT, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert " 1 accounts," in done.stdout
    async with start_service(database_url, clock, tmp_path) as service:
        assert await logins(service) == {fresh}


def tracker_db(service: Service) -> str:
    """Rasa's tracker store as the web process reaches it: the table Rasa creates."""
    url = service.app[SETTINGS].tracker_database_url
    path = url.split("///", 1)[1]
    engine = create_engine(f"sqlite:///{path}")
    events.metadata.create_all(engine)
    engine.dispose()
    return path


def say(path: str, sender: str, text: str, at: datetime) -> None:
    """An event of Rasa's: a user message at `at`."""
    data = {"event": "user", "timestamp": at.timestamp(), "text": text}
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            (sender, "user", at.timestamp(), json.dumps(data)),
        )


def senders(path: str) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT DISTINCT sender_id FROM events")}


async def test_the_purge_applies_the_retention_policy_to_the_tracker_store(
    service: Service, clock: MovableClock
) -> None:
    path = tracker_db(service)
    now = clock()
    say(path, "conv-abandoned", "Kerbrat", now - timedelta(days=7, minutes=1))
    say(path, "conv-recent", "Martin", now - timedelta(days=6))
    say(path, "conv-1", "Lefèvre", now - timedelta(days=8))  # registers, pending below
    await register(service, "a", "emilie.lefevre@exemple-industries.fr")

    await run_purge(service.app)
    assert senders(path) == {"conv-recent", "conv-1"}, "a pending account keeps its chat"
    assert b"Kerbrat" not in Path(path).read_bytes(), "deleted for real (secure_delete)"

    clock.advance(days=30)  # the account was never activated: it goes, its chat with it
    assert await run_purge(service.app) == 1
    assert senders(path) == set()
    async with service.app[SESSIONS]() as session:
        runs = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "purge"))
        ).scalars()
        details = [entry.details for entry in runs]
    assert [d["tracker_events"] for d in details][-2:] == [1, 2]  # after the start-up run
    assert details[-1]["accounts"] == 1 and details[-1]["documents"] == 1


async def test_activated_conversations_and_handoffs_go_after_their_retention(
    service: Service, clock: MovableClock
) -> None:
    path = tracker_db(service)
    account_id = await register(service, "a", "emilie.lefevre@exemple-industries.fr")
    say(path, "conv-1", "Lefèvre", clock() - timedelta(minutes=1))
    async with service.app[SESSIONS]() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        account.status, account.activated_at = "active", clock()
        session.add(
            Handoff(
                reference="H-1",
                conversation_id="conv-2",
                reason="asked",
                status="closed",
                outcome="closed_by_advisor",
                summary={"last_name": "L***e"},
                created_at=clock(),
                closed_at=clock(),
            )
        )
        await session.commit()

    clock.advance(days=7, seconds=-1)
    await run_purge(service.app)
    assert senders(path) == {"conv-1"}, "7 days after the activation"
    clock.advance(seconds=1)
    await run_purge(service.app)
    assert senders(path) == set()

    clock.advance(days=23, seconds=-1)
    await run_purge(service.app)
    async with service.app[SESSIONS]() as session:
        assert (await session.execute(select(Handoff.id))).scalars().all() != []
    clock.advance(seconds=1)
    await run_purge(service.app)
    async with service.app[SESSIONS]() as session:
        assert (await session.execute(select(Handoff.id))).scalars().all() == []
        assert await session.get(Account, account_id) is not None, "the account stays"
