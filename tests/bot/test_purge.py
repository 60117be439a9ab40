"""Accounts left unactivated for 30 days are deleted, by command and periodically."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.models import Account, ActivationToken
from bot.web.app import run_purge
from bot.web.keys import SESSIONS
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
    async for service in start_service(
        database_url, clock, tmp_path, purge_interval=timedelta(seconds=0.2)
    ):
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
    async for service in start_service(database_url, clock, tmp_path):
        await register(service, "old", "a.lefevre@exemple.fr")
        clock.advance(days=31)
        fresh = await register(service, "new", "b.lefevre@exemple.fr")
    env = {**os.environ, "DATABASE_URL": database_url, "LOAD_DEMO_CONTRACTS": "0"}

    done = subprocess.run(
        [sys.executable, "-m", "bot", "purge"], env=env, cwd=ROOT, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert "Purged 1 account(s)" in done.stdout
    async for service in start_service(database_url, clock, tmp_path):
        assert await logins(service) == {fresh}
