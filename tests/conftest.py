"""Shared fixtures: a real database (SQLite file or PostgreSQL), a real SMTP server, a
movable clock, and the web process served on a loopback port."""

from __future__ import annotations

import contextlib
import email
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from bot.db import run_outside_transaction
from bot.settings import Settings
from bot.web.app import create_app

API_TOKEN = "test-token"
# The documents of a test service are encrypted with this key unless a test says otherwise.
DOCUMENT_KEY = Fernet.generate_key().decode()
BACKENDS = ["sqlite", "postgresql"]


class MovableClock:
    """A clock that tests move forward by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime.now(timezone.utc).replace(microsecond=0))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A database of this test run's own on the server of TEST_POSTGRES_URL, so that
    concurrent runs on one machine do not meet."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        yield None
        return
    name = f"espace_test_run_{os.getpid()}"
    run_outside_transaction(url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    yield url.rsplit("/", 1)[0] + "/" + name
    run_outside_transaction(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> str:
    """A fresh, empty database on each backend; PostgreSQL comes from TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    if postgres_url is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("TEST_POSTGRES_URL is not set but REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL tests need TEST_POSTGRES_URL (make test starts a server)")
    run_outside_transaction(postgres_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
    return postgres_url


@dataclass
class SmtpInbox:
    """Messages received by the loopback SMTP server."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[SmtpInbox]:
    inbox = SmtpInbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@dataclass
class Service:
    """The web process on a loopback port, with an authenticated client."""

    base_url: str
    http: aiohttp.ClientSession
    app: web.Application
    outbox: Path

    async def call(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {API_TOKEN}", **kwargs.pop("headers", {})}
        return await self.http.request(method, self.base_url + path, headers=headers, **kwargs)

    async def post(self, path: str, payload: Any, **kwargs: Any) -> tuple[int, Any]:
        async with await self.call("POST", path, json=payload, **kwargs) as response:
            return response.status, await response.json()

    def outbox_messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(path.read_bytes(), policy=default_policy)  # type: ignore[misc]
            for path in sorted(self.outbox.glob("*.eml"))
        ]


@contextlib.asynccontextmanager
async def start_service(
    database_url: str,
    clock: MovableClock,
    tmp_path: Path,
    port: int | None = None,
    **overrides: Any,
) -> AsyncIterator[Service]:
    port = port or free_port()
    overrides.setdefault("document_keys", (DOCUMENT_KEY,))
    overrides.setdefault("document_key_file", tmp_path / "document.key")
    # Never the developer's var/rasa/tracker.db: the purge would delete from it.
    overrides.setdefault("tracker_database_url", f"sqlite+aiosqlite:///{tmp_path / 'tracker.db'}")
    settings = Settings(
        database_url=database_url,
        public_base_url=f"http://127.0.0.1:{port}",
        api_tokens=(API_TOKEN,),
        outbox_dir=tmp_path / "outbox",
        **overrides,
    )
    app = create_app(settings, clock=clock)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    # Closed even when the test fails: a leaked service would keep its sender loop and its
    # database connections into the next tests.
    try:
        async with aiohttp.ClientSession() as http:
            yield Service(settings.public_base_url, http, app, settings.outbox_dir)
    finally:
        await server.close()


@pytest.fixture
async def service(database_url: str, clock: MovableClock, tmp_path: Path) -> AsyncIterator[Service]:
    """The web process writing e-mails to an outbox folder."""
    async with start_service(database_url, clock, tmp_path) as running:
        yield running


@pytest.fixture
async def smtp_service(
    database_url: str, clock: MovableClock, tmp_path: Path, smtp: SmtpInbox
) -> AsyncIterator[Service]:
    """The web process sending e-mails to the loopback SMTP server."""
    async with start_service(database_url, clock, tmp_path, smtp_url=smtp.url) as running:
        yield running
