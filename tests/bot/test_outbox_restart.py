"""The web process killed with SIGKILL right after the commit of a registration: its
activation e-mail leaves, once, after the restart. The real process (`python -m bot
serve`, as the Procfile starts it), a real SMTP server, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from tests.bot.payloads import registration_with_document
from tests.bot.test_outbox import eventually
from tests.conftest import API_TOKEN, DOCUMENT_KEY, Service, SmtpInbox, free_port

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "emilie.lefevre@exemple-industries.fr"


@contextmanager
def web_process(tmp: Path, database_url: str, port: int, smtp_port: int) -> Iterator[int]:
    """`python -m bot serve` on `port`, sending to `smtp_port`; yields its pid."""
    env = {
        **os.environ,
        "VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": database_url,
        "TRACKER_DATABASE_URL": f"sqlite:///{tmp / 'tracker.db'}",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ACCOUNT_API_TOKENS": API_TOKEN,
        "DOCUMENT_KEYS": DOCUMENT_KEY,
        "OUTBOX_DIR": str(tmp / "outbox"),
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        # A stalled SMTP server holds a send 1 s per step; its row's lease is 4 s.
        "SMTP_TIMEOUT_SECONDS": "1",
        "OUTBOX_RETRY_MIN_SECONDS": "1",
        "OUTBOX_POLL_SECONDS": "0.5",
        # The API answers right after the commit, without waiting for the e-mail.
        "OUTBOX_SEND_WAIT_SECONDS": "0",
    }
    log = (tmp / f"web-{port}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process.pid
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


async def healthy(base_url: str, pid: int) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(base_url + "/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"the web process {pid} did not start")


@asynccontextmanager
async def stalled_smtp(port: int) -> AsyncIterator[list[asyncio.StreamWriter]]:
    """Accepts connections and never answers (not even the greeting)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", port)
    try:
        yield held
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("smtp_state", ["stalled", "down"])
async def test_an_email_committed_before_a_sigkill_leaves_after_the_restart(
    database_url: str, tmp_path: Path, smtp_state: str
) -> None:
    port, smtp_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{port}"
    inbox = SmtpInbox(port=smtp_port)
    async with stalled_smtp(smtp_port) if smtp_state == "stalled" else _nothing() as held:
        with web_process(tmp_path, database_url, port, smtp_port) as pid:
            await healthy(base_url, pid)
            async with aiohttp.ClientSession() as http:
                client = Service(base_url, http, None, tmp_path / "outbox")  # type: ignore[arg-type]
                status, body = await client.post(
                    "/api/v1/registrations",
                    await registration_with_document(client),
                    headers={"Idempotency-Key": "key-1"},
                )
            os.kill(pid, signal.SIGKILL)  # right after the commit and the answer
            assert status == 201, body
            assert body["activation_email_sent"] is False
            if held is not None:
                assert len(held) <= 1, "the sender was at most connecting"

    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with web_process(tmp_path, database_url, port, smtp_port) as pid:
            await healthy(base_url, pid)
            await eventually(lambda: inbox.messages, timeout=30)
            (message,) = inbox.messages
            assert message["To"] == ADDRESS
            assert "/activate/" in message.get_body(("plain",)).get_content()
            await asyncio.sleep(3)  # past another lease and a few polls
            assert len(inbox.messages) == 1, "exactly one e-mail"
    finally:
        controller.stop()
    logs = b"".join(path.read_bytes() for path in tmp_path.glob("web-*.log")).decode()
    assert ADDRESS not in logs.lower()


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield None
