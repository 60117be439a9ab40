"""Advisors of the agent console: accounts, passwords (argon2id) and sessions.

A session is a random 256-bit token kept in the advisor's cookie; only its SHA-256 is
stored, with an expiry, so that sessions survive a restart and a stolen database
opens none. Failed logins are throttled per login and per client address.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import TooManyLogins
from bot.models import Agent, AgentSession
from bot.services import throttle

log = logging.getLogger(__name__)

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_TOKEN_LENGTH = 128
LOGIN_ATTEMPT = "agent_login"  # kind of the throttle's rows

_hasher = PasswordHasher()


class AgentError(ValueError):
    """A console account cannot be created or changed; the message says why."""


class InvalidCredentials(Exception):
    """Unknown login, wrong password or disabled account: the console says the same."""


@dataclass(frozen=True)
class LoginPolicy:
    max_failures_per_login: int
    max_failures_per_client: int
    window: timedelta
    session_ttl: timedelta


def normalise_login(login: str) -> str:
    """The login in lower case.

    Raises:
        AgentError: not 2 to 64 letters, digits, dots, dashes or underscores.
    """
    value = login.strip().lower()
    if not LOGIN.fullmatch(value):
        raise AgentError(
            "a login is 2 to 64 characters: letters, digits, '.', '-' or '_', "
            "starting with a letter or a digit"
        )
    return value


def check_password(password: str) -> None:
    """Raises `AgentError` for a password that is too short or too long."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AgentError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AgentError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """A hash to verify against for unknown logins, so that they take as long."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_agent(
    session: AsyncSession, login: str, display_name: str, password: str, now: datetime
) -> Agent:
    """Create an advisor's account.

    Args:
        login: what the advisor types to log in (stored in lower case).
        display_name: the name users read, e.g. "Claire Martin".
        password: at least 12 characters; only its argon2id hash is stored.

    Raises:
        AgentError: the login is invalid or taken, the name empty, the password weak.
    """
    login = normalise_login(login)
    display_name = " ".join(display_name.split())
    if not 1 <= len(display_name) <= 100:
        raise AgentError("the display name must be 1 to 100 characters long")
    check_password(password)
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    agent = Agent(
        login=login, display_name=display_name, password_hash=password_hash, created_at=now
    )
    session.add(agent)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise AgentError(f"the login {login!r} is already taken") from None
    log.info("agent %s created", agent.id)
    return agent


async def list_agents(session: AsyncSession) -> list[Agent]:
    return list((await session.execute(select(Agent).order_by(Agent.login))).scalars())


async def disable_agent(session: AsyncSession, login: str, now: datetime) -> Agent:
    """Disable an account: it can no longer log in and its sessions end at once.

    Raises:
        AgentError: no account has this login.
    """
    login = normalise_login(login)
    agent = (await session.execute(select(Agent).where(Agent.login == login))).scalar_one_or_none()
    if agent is None:
        raise AgentError(f"no agent has the login {login!r}")
    if agent.disabled_at is None:
        agent.disabled_at = now
    await session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    await session.commit()
    log.info("agent %s disabled", agent.id)
    return agent


async def log_in(
    session: AsyncSession,
    login: str,
    password: str,
    *,
    client_key: str,
    policy: LoginPolicy,
    now: datetime,
) -> str:
    """Check a login and password and open a session.

    Returns:
        The session token for the cookie (only its hash is stored).

    Raises:
        TooManyLogins: too many failures lately for this login or from this client.
        InvalidCredentials: unknown login, wrong password or disabled account.
    """
    login = login.strip().lower()[:64]
    login_key = f"login:{hashlib.sha256(login.encode()).hexdigest()}"
    keys = {
        login_key: policy.max_failures_per_login,
        client_key: policy.max_failures_per_client,
    }
    # Counted before the password is checked (and forgotten on success), so that
    # concurrent attempts never get more than the limit checked.
    reservation = await throttle.reserve(
        session, LOGIN_ATTEMPT, keys, now, policy.window, error=TooManyLogins
    )
    found = (await session.execute(select(Agent).where(Agent.login == login))).scalar_one_or_none()
    agent = found if found is not None and found.disabled_at is None else None
    stored_hash = agent.password_hash if agent is not None else _decoy_hash()
    valid = len(password) <= MAX_PASSWORD_LENGTH and await asyncio.to_thread(
        _verify, stored_hash, password
    )
    if agent is None or not valid:
        log.info("agent login refused")
        raise InvalidCredentials()
    await throttle.release(session, reservation)
    if _hasher.check_needs_rehash(agent.password_hash):
        agent.password_hash = await asyncio.to_thread(_hasher.hash, password)
    token = secrets.token_urlsafe(32)
    session.add(
        AgentSession(
            token_hash=_hash_token(token),
            agent_id=agent.id,
            created_at=now,
            expires_at=now + policy.session_ttl,
        )
    )
    await session.commit()
    log.info("agent %s logged in", agent.id)
    return token


async def agent_for_token(session: AsyncSession, token: str, now: datetime) -> Agent | None:
    """The enabled advisor whose unexpired session this token opens, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (
        await session.execute(
            select(Agent)
            .join(AgentSession, AgentSession.agent_id == Agent.id)
            .where(
                AgentSession.token_hash == _hash_token(token),
                AgentSession.expires_at > now,
                Agent.disabled_at.is_(None),
            )
        )
    ).scalar_one_or_none()


async def log_out(session: AsyncSession, token: str) -> None:
    if token and len(token) <= MAX_TOKEN_LENGTH:
        await session.execute(
            delete(AgentSession).where(AgentSession.token_hash == _hash_token(token))
        )
        await session.commit()


async def forget_expired_sessions(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(AgentSession).where(AgentSession.expires_at <= now))
    await session.commit()
    return result.rowcount or 0


async def any_logged_in(session: AsyncSession, now: datetime) -> bool:
    """Whether an enabled advisor has an unexpired console session: without one, no live
    queue is promised (a handoff is a ticket)."""
    found = await session.execute(
        select(AgentSession.id)
        .join(Agent, AgentSession.agent_id == Agent.id)
        .where(AgentSession.expires_at > now, Agent.disabled_at.is_(None))
        .limit(1)
    )
    return found.first() is not None
