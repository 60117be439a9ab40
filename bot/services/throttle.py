"""Sliding-window counters of attempts (failures, resends, uploads), kept in the database."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ServiceError, TooManyAttempts
from bot.models import attempts


async def count(
    session: AsyncSession, kind: str, key: str, now: datetime, window: timedelta
) -> int:
    return (
        await session.execute(
            select(func.count())
            .select_from(attempts)
            .where(
                attempts.c.kind == kind,
                attempts.c.key == key,
                attempts.c.created_at > now - window,
            )
        )
    ).scalar_one()


async def ensure_allowed(
    session: AsyncSession,
    kind: str,
    limits: dict[str, int],
    now: datetime,
    window: timedelta,
    error: type[ServiceError] = TooManyAttempts,
) -> None:
    """Raise `error` (`TooManyAttempts` by default) when any key has reached its limit
    within the window.

    `retry_after` is the time until the oldest counted attempt leaves the window.
    """
    for key, limit in limits.items():
        recent = (
            and_(attempts.c.kind == kind, attempts.c.key == key),
            attempts.c.created_at > now - window,
        )
        counted, oldest = (
            await session.execute(
                select(func.count(), func.min(attempts.c.created_at)).where(*recent)
            )
        ).one()
        if counted >= limit:
            wait = (oldest + window - now).total_seconds() if oldest else window.total_seconds()
            raise error(retry_after=max(1, math.ceil(wait)))


async def record(session: AsyncSession, kind: str, keys: list[str], now: datetime) -> None:
    """Count one attempt against each key (committed by the caller)."""
    for key in keys:
        await session.execute(insert(attempts).values(kind=kind, key=key, created_at=now))


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    result = await session.execute(delete(attempts).where(attempts.c.created_at < cutoff))
    return result.rowcount or 0
