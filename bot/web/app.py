"""The app factory of the web process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from bot.clock import Clock, utc_now
from bot.crypto import DocumentCipher, development_key
from bot.db import make_engine, make_session_factory, migrate
from bot.inspection import inspection_pool
from bot.mailer import Mailer
from bot.metrics import METRICS, WebMetrics
from bot.outbox import OUTBOX, OUTBOX_STOP, Outbox, RetryPolicy
from bot.rasa_client import RasaClient
from bot.schemas import HANDOFF_REASONS
from bot.services import accounts, agents, contracts, handoffs
from bot.settings import DEFAULT_DEV_TOKEN, Settings
from bot.web import agent_auth, handoff_queue, middlewares
from bot.web.keys import (
    CIPHER,
    CLOCK,
    ENGINE,
    LOGIN_POLICY,
    MAILER,
    PAGES,
    POLICY,
    RASA,
    SESSIONS,
    SETTINGS,
)
from bot.web.routes import setup_routes

log = logging.getLogger(__name__)
# Set at shutdown: the purge loop stops, and the process exits at once on SIGTERM.
PURGE_STOP = web.AppKey("purge_stop", asyncio.Event)


def policy_from(settings: Settings) -> accounts.Policy:
    return accounts.Policy(
        activation_period=settings.activation_period,
        verify_window=settings.verify_window,
        verify_max_failures_per_conversation=settings.verify_max_failures,
        verify_max_failures_per_address=settings.verify_max_failures_per_address,
        verified_conversation_ttl=settings.verified_conversation_ttl,
        email_check_window=settings.email_check_window,
        email_check_max_per_conversation=settings.email_check_max_per_conversation,
        email_check_max_per_address=settings.email_check_max_per_address,
        resend_window=settings.resend_window,
        resend_max_per_window=settings.resend_max_per_window,
        upload_ttl=settings.upload_ttl,
        unclaimed_document_ttl=settings.unclaimed_document_ttl,
        document_retention=settings.document_retention,
        upload_window=settings.upload_window,
        upload_max_per_window=settings.upload_max_per_window,
        handoff_limits=handoffs.HandoffLimits(
            per_conversation=settings.handoff_max_per_conversation,
            per_address=settings.handoff_max_per_address,
            window=settings.handoff_window,
        ),
    )


def login_policy_from(settings: Settings) -> agents.LoginPolicy:
    return agents.LoginPolicy(
        max_failures_per_login=settings.agent_login_max_failures,
        max_failures_per_client=settings.agent_login_max_failures_per_client,
        window=settings.agent_login_window,
        session_ttl=settings.agent_session_ttl,
    )


def document_cipher(settings: Settings) -> DocumentCipher:
    """The cipher of DOCUMENT_KEYS, or of the local development key file when unset."""
    return DocumentCipher(settings.document_keys or (development_key(settings.document_key_file),))


def create_app(settings: Settings | None = None, clock: Clock = utc_now) -> web.Application:
    """Build the web application; the database and background tasks start with it."""
    settings = settings or Settings.from_env()
    # Bodies read whole are JSON, capped at 64 KiB; uploads are streamed with their own
    # cap (`max_upload_bytes`, see bot/web/forms.py).
    app = web.Application(
        middlewares=[
            middlewares.errors,
            # Before anything reads `request.remote`: the real client behind the proxies.
            middlewares.real_client(settings.trusted_proxies),
            middlewares.bearer_auth,
            agent_auth.agent_session,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CIPHER] = document_cipher(settings)
    app[CLOCK] = clock
    app[POLICY] = policy_from(settings)
    app[LOGIN_POLICY] = login_policy_from(settings)
    app[METRICS] = WebMetrics(handoff_reasons=tuple(HANDOFF_REASONS))
    app[MAILER] = Mailer(
        settings.smtp_url,
        settings.outbox_dir,
        settings.mail_from,
        timeout=settings.smtp_timeout.total_seconds(),
        support_contact=settings.support_contact,
    )
    app[PAGES] = Environment(
        loader=PackageLoader("bot", "templates/pages"), autoescape=select_autoescape()
    )
    app[PAGES].globals["support_contact"] = settings.support_contact
    setup_routes(app)
    app[PURGE_STOP] = asyncio.Event()
    app[OUTBOX_STOP] = asyncio.Event()
    app[handoff_queue.QUEUE_STOP] = asyncio.Event()
    app.on_shutdown.append(_stop_purge)
    app.on_shutdown.append(_stop_outbox)
    app.on_shutdown.append(handoff_queue.stop_queue_check)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_rasa_client)
    app.cleanup_ctx.append(_outbox_sender)
    app.cleanup_ctx.append(_periodic_purge)
    app.cleanup_ctx.append(handoff_queue.periodic_queue_check)
    app.cleanup_ctx.append(inspection_pool)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = make_engine(settings.database_url)
    await migrate(engine)
    app[ENGINE] = engine
    app[SESSIONS] = make_session_factory(engine)
    if settings.load_demo_contracts:
        async with app[SESSIONS]() as session:
            loaded = await contracts.load_demo_if_empty(session, app[CLOCK]())
        if loaded:
            log.info("loaded %d demo contracts into an empty directory", loaded)
    if DEFAULT_DEV_TOKEN in settings.api_tokens:
        log.warning("ACCOUNT_API_TOKENS is not set: the API accepts the development token")
    if not settings.document_keys:
        log.warning(
            "DOCUMENT_KEYS is not set: documents are encrypted with the local development "
            "key of %s",
            settings.document_key_file,
        )
    yield
    await engine.dispose()


async def _rasa_client(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session, with a timeout, for every call of the console to Rasa."""
    settings = app[SETTINGS]
    timeout = aiohttp.ClientTimeout(total=settings.rasa_timeout.total_seconds())
    async with aiohttp.ClientSession(timeout=timeout) as http:
        app[RASA] = RasaClient(
            settings.rasa_api_url or settings.rasa_url, settings.rasa_token, http
        )
        yield


def retry_policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        first_delay=settings.outbox_retry_min,
        max_delay=settings.outbox_retry_max,
        give_up_after=settings.outbox_give_up_after,
        # Longer than the slowest SMTP exchange (connect, EHLO, MAIL, RCPT, DATA, QUIT).
        lease=max(settings.smtp_timeout * 4, timedelta(seconds=1)),
    )


async def _stop_outbox(app: web.Application) -> None:
    app[OUTBOX_STOP].set()


async def _outbox_sender(app: web.Application) -> AsyncIterator[None]:
    """Deliver the outbox's e-mails from start-up on; at shutdown, an e-mail being sent
    gets a few seconds, then is left to the next start (its row is not marked sent)."""
    settings = app[SETTINGS]
    outbox = Outbox(
        app[SESSIONS],
        app[MAILER],
        app[METRICS],
        app[CLOCK],
        retry_policy_from(settings),
        settings.outbox_poll_interval,
    )
    app[OUTBOX] = outbox
    task = asyncio.create_task(outbox.run(app[OUTBOX_STOP]))
    yield
    app[OUTBOX_STOP].set()
    try:
        await asyncio.wait_for(task, timeout=5)
    except asyncio.TimeoutError:
        log.warning("outbox sender stopped mid-send; the e-mail is tried again at the next start")


async def run_purge(app: web.Application) -> int:
    """Apply the retention policy to every table and to Rasa's tracker store; return
    how many accounts went."""
    from bot import retention

    settings, now = app[SETTINGS], app[CLOCK]()
    report = await retention.purge(
        app[SESSIONS],
        app[ENGINE],
        settings.tracker_database_url,
        policy=app[POLICY],
        retention=retention.Retention.from_settings(settings),
        now=now,
    )
    async with app[SESSIONS]() as session:
        await agents.forget_expired_sessions(session, now)
    return report.accounts


async def _stop_purge(app: web.Application) -> None:
    """At shutdown, before aiohttp waits (up to 60 s) for the tasks still running."""
    app[PURGE_STOP].set()


async def _periodic_purge(app: web.Application) -> AsyncIterator[None]:
    """Purge at start-up, then every `purge_interval`; stop between runs, never mid-query."""
    stop = app[PURGE_STOP]

    async def loop() -> None:
        while not stop.is_set():
            try:
                await run_purge(app)
            except Exception:
                log.exception("periodic purge failed; retrying at the next interval")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), app[SETTINGS].purge_interval.total_seconds())

    task = asyncio.create_task(loop())
    yield
    stop.set()
    await task
