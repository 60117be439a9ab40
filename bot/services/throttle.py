"""Sliding-window counters of attempts (failures, resends, uploads, checks), kept in the
database so that throttling survives a restart.

Check-and-record is atomic: `reserve` records the attempt first, then counts, so that
concurrent attempts can never all pass the check. On PostgreSQL each key is locked for
the transaction (`pg_advisory_xact_lock`); SQLite has one writer at a time, and the
insert takes the write lock before the count.

Keys name who is counted (a conversation, a client address, a login), always hashed:
the table keeps no conversation id, address or login in clear.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, and_, delete, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ServiceError, TooManyAttempts
from bot.models import attempts

# Kind of the rows that record a verified company for a conversation (not an attempt).
VERIFIED = "verified"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def conversation_key(conversation_id: str) -> str:
    return f"conversation:{_digest(conversation_id)}"


def normal_address(value: object) -> str | None:
    """`value` as a canonical IP address string, or None when it is not one.

    IPv4-mapped IPv6 addresses are given as IPv4.
    """
    if not isinstance(value, str) or not 2 <= len(value.strip()) <= 64:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def address_key(address: str | None) -> str | None:
    """The throttling key of a client address, hashed; None when it is no IP address.

    An IPv6 client is keyed by its /64, the block one subscriber usually gets, so that
    rotating addresses inside it does not escape the limits.
    """
    normal = normal_address(address)
    if normal is None:
        return None
    ip = ipaddress.ip_address(normal)
    if isinstance(ip, ipaddress.IPv6Address):
        normal = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return f"address:{_digest(normal)}"


def _lock_id(kind: str, key: str) -> int:
    """A signed 64-bit id of (kind, key) for PostgreSQL's advisory locks."""
    return int.from_bytes(
        hashlib.sha256(f"{kind}\0{key}".encode()).digest()[:8], "big", signed=True
    )


async def _lock(session: AsyncSession, kind: str, keys: Sequence[str]) -> None:
    """Lock the keys until the transaction ends (PostgreSQL; SQLite serialises writers)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):  # always in the same order: no deadlock between two calls
        lock_id = literal(_lock_id(kind, key), BigInteger)
        await session.execute(select(func.pg_advisory_xact_lock(lock_id)))


@dataclass(frozen=True)
class Reservation:
    """Attempts recorded by `reserve`; `release` deletes them (e.g. on a success)."""

    ids: tuple[int, ...]


async def reserve(
    session: AsyncSession,
    kind: str,
    limits: Mapping[str, int],
    now: datetime,
    window: timedelta,
    error: type[ServiceError] = TooManyAttempts,
) -> Reservation:
    """Record one attempt against each key, then refuse it if a key is over its limit.

    Committed before returning, so that the attempt counts for concurrent calls at once.

    Raises:
        error (`TooManyAttempts` by default): a key already had `limit` attempts within
            the window; nothing is recorded. `retry_after` is the time until the oldest
            counted attempt leaves the window.
    """
    keys = sorted(limits)
    await _lock(session, kind, keys)
    ids = []
    for key in keys:
        result = await session.execute(insert(attempts).values(kind=kind, key=key, created_at=now))
        ids.append(result.inserted_primary_key[0])
    wait = 0.0
    for key in keys:
        counted, oldest = (
            await session.execute(
                select(func.count(), func.min(attempts.c.created_at)).where(
                    and_(attempts.c.kind == kind, attempts.c.key == key),
                    attempts.c.created_at > now - window,
                )
            )
        ).one()
        if counted > limits[key]:
            wait = max(wait, (oldest + window - now).total_seconds(), 1)
    if wait:
        await session.execute(delete(attempts).where(attempts.c.id.in_(ids)))
        await session.commit()
        raise error(retry_after=max(1, math.ceil(wait)))
    await session.commit()
    return Reservation(tuple(ids))


async def release(session: AsyncSession, reservation: Reservation) -> None:
    """Forget reserved attempts (committed by the caller): only failures are counted."""
    if reservation.ids:
        await session.execute(delete(attempts).where(attempts.c.id.in_(reservation.ids)))


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


async def record(session: AsyncSession, kind: str, keys: list[str], now: datetime) -> None:
    """Count one attempt against each key (committed by the caller)."""
    for key in keys:
        await session.execute(insert(attempts).values(kind=kind, key=key, created_at=now))


async def mark_verified(session: AsyncSession, conversation_id: str, now: datetime) -> None:
    """Remember that this conversation's company was verified (committed by the caller)."""
    await record(session, VERIFIED, [conversation_key(conversation_id)], now)


async def is_verified(
    session: AsyncSession, conversation_id: str, now: datetime, ttl: timedelta
) -> bool:
    return await count(session, VERIFIED, conversation_key(conversation_id), now, ttl) > 0


async def forget_before(
    session: AsyncSession, cutoff: datetime, verified_cutoff: datetime | None = None
) -> int:
    """Delete attempts older than `cutoff`, and verified marks older than
    `verified_cutoff` (the same cutoff when not given)."""
    verified_cutoff = verified_cutoff or cutoff
    result = await session.execute(
        delete(attempts).where(
            or_(
                and_(attempts.c.kind != VERIFIED, attempts.c.created_at < cutoff),
                and_(attempts.c.kind == VERIFIED, attempts.c.created_at < verified_cutoff),
            )
        )
    )
    return result.rowcount or 0
