"""The account service alone: registrations and activations per second, per database.

The web process runs as in production (the Procfile's `web` line) on its own database;
the bench's client calls its API like the action server does. Each registration needs
an identity document stored first, and its own e-mail and idempotency key; the
activation links are read from the outbox, then opened and their button pressed once each.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from bench.config import ROOT, BenchConfig
from bench.people import person
from bench.stack import API_TOKEN, Process, base_env, free_port, procfile_commands
from bench.stats import median
from bot.db import run_outside_transaction
from tests.corpus import build_corpus

ACTIVATION_LINK = re.compile(r"/activate/([A-Za-z0-9_-]+)")
TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass
class Phase:
    """Calls of one kind: how many succeeded, in how long, and what failed."""

    count: int = 0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float | None:
        return self.count / self.wall_s if self.wall_s else None


async def concurrently(
    items: Sequence[Any], users: int, call: Callable[[Any], Awaitable[None]]
) -> Phase:
    """Run `call` on every item with `users` concurrent callers; each failure is kept."""
    phase, queue = Phase(), list(reversed(items))

    async def caller() -> None:
        while queue:
            item = queue.pop()
            try:
                await call(item)
            except (AssertionError, aiohttp.ClientError, asyncio.TimeoutError) as error:
                phase.errors.append(f"{type(error).__name__}: {error}")
            else:
                phase.count += 1

    started = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(users)))
    phase.wall_s = time.monotonic() - started
    return phase


class AccountService:
    """The web process serving one database, and a client of its API."""

    def __init__(self, backend: str, database_url: str, run_dir: Path) -> None:
        folder = run_dir / f"service-{backend}"
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.outbox = folder / "outbox"
        env = {
            **base_env(),
            "WEB_PORT": str(port),
            "VAR_DIR": str(folder),
            "DATABASE_URL": database_url,
            "OUTBOX_DIR": str(self.outbox),
            "DOCUMENT_KEYS": Fernet.generate_key().decode(),
            "PUBLIC_BASE_URL": self.base_url,
            "ACCOUNT_API_TOKENS": API_TOKEN,
        }
        self.process = Process(
            f"service-{backend}",
            procfile_commands()["web"],
            f"{self.base_url}/health",
            env,
            run_dir / "logs" / f"service-{backend}.log",
        )
        self.document = build_corpus()["jpeg_photo_with_exif"]
        self.seen_emails: set[str] = set()

    async def store_document(self, http: aiohttp.ClientSession, conversation_id: str) -> str:
        form = aiohttp.FormData()
        for name, value in (
            ("conversation_id", conversation_id),
            ("document_type", "passport"),
            ("country", "IT"),
            ("side", "full"),
        ):
            form.add_field(name, value)
        form.add_field(
            "file",
            io.BytesIO(self.document.data),
            filename="passeport.jpg",
            content_type="image/jpeg",
        )
        async with http.post(f"{self.base_url}/api/v1/documents", data=form) as response:
            body = await response.json()
        assert response.status == 201, f"document: HTTP {response.status} {body}"
        return str(body["reference"])

    async def register(
        self, http: aiohttp.ClientSession, index: int, conversation_id: str, reference: str
    ) -> None:
        who = person(index)
        payload = {
            "company": {"siren": who.company.siren, "contract_number": who.company.contract_number},
            "person": {
                "civility": "Mme",
                "last_name": who.last_name,
                "first_name": who.first_name,
                "birth_date": "1984-03-12",
                "mobile_phone": "+33612345678",
            },
            "professional": {
                "job_title": "Directrice administrative",
                "email": who.email,
                "phone": "+33142685300",
            },
            "documents": [reference],
            "cgu": {
                "version": "2026-01",
                "accepted": True,
                "accepted_at": datetime.now(timezone.utc).isoformat(),
            },
            "conversation_id": conversation_id,
        }
        headers = {"Idempotency-Key": f"{conversation_id}-registration"}
        async with http.post(
            f"{self.base_url}/api/v1/registrations", json=payload, headers=headers
        ) as response:
            body = await response.json()
        assert response.status == 201, f"registration: HTTP {response.status} {body}"

    async def activate(self, http: aiohttp.ClientSession, token: str) -> None:
        """Open the link (a page with a button), then press it: a POST from the site."""
        link = f"{self.base_url}/activate/{token}"
        async with http.get(link) as response:
            await response.read()
        assert response.status == 200, f"activation page: HTTP {response.status}"
        async with http.post(link, headers={"Origin": self.base_url}) as response:
            page = await response.text()
        assert response.status == 200 and "est activé" in page, (
            f"activation: HTTP {response.status}"
        )

    def new_activation_tokens(self) -> list[str]:
        """The tokens of the e-mails written to the outbox since the last call."""
        tokens = []
        for path in sorted(self.outbox.glob("*.eml")):
            if path.name in self.seen_emails:
                continue
            self.seen_emails.add(path.name)
            message = message_from_bytes(path.read_bytes(), policy=default_policy)
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            tokens.extend(ACTIVATION_LINK.findall(text)[:1])
        return tokens


async def one_round(
    service: AccountService, http: aiohttp.ClientSession, first: int, config: BenchConfig
) -> dict[str, Any]:
    """Store documents, then register, then activate `service_registrations` people."""
    indexes = list(range(first, first + config.service_registrations))
    references: dict[int, str] = {}

    async def store(index: int) -> None:
        references[index] = await service.store_document(http, f"bench-service-{index}")

    async def register(index: int) -> None:
        await service.register(http, index, f"bench-service-{index}", references[index])

    async def activate(token: str) -> None:
        await service.activate(http, token)

    users = config.service_users
    documents = await concurrently(indexes, users, store)
    registrations = await concurrently(sorted(references), users, register)
    activations = await concurrently(service.new_activation_tokens(), users, activate)
    phases = {"documents": documents, "registrations": registrations, "activations": activations}
    return {
        **{f"{name}_per_s": phase.per_s for name, phase in phases.items()},
        **{f"{name}_done": phase.count for name, phase in phases.items()},
        "errors": [error for phase in phases.values() for error in phase.errors][:5],
        "error_count": sum(len(phase.errors) for phase in phases.values()),
    }


async def bench_backend(
    backend: str, database_url: str, run_dir: Path, config: BenchConfig
) -> dict[str, Any]:
    """Start the service on `database_url`, run the rounds, stop it; medians and rounds."""
    service = AccountService(backend, database_url, run_dir)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    rounds = []
    try:
        # Closed before the service stops: aiohttp's shutdown waits for open connections.
        async with aiohttp.ClientSession(timeout=TIMEOUT, headers=headers) as http:
            cold_start = await service.process.start(http)
            for number in range(config.service_repeats):
                first = number * config.service_registrations
                rounds.append(await one_round(service, http, first, config))
            rss = service.process.rss_bytes()
    finally:
        service.process.stop()
    return {
        "backend": backend,
        "cold_start_s": cold_start,
        "rss_bytes": rss,
        "users": config.service_users,
        "registrations_per_round": config.service_registrations,
        **{
            key: median([round_[key] for round_ in rounds])
            for key in ("documents_per_s", "registrations_per_s", "activations_per_s")
        },
        "errors": sum(round_["error_count"] for round_ in rounds),
        "rounds": rounds,
    }


async def postgres_database(log_path: Path) -> tuple[str, str]:
    """A new database on the server of `scripts/postgres-test-server`: its URL and the
    server's own URL (to drop it afterwards)."""
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "scripts" / "postgres-test-server"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    _append(log_path, err.decode(errors="replace"))
    if process.returncode != 0:
        raise RuntimeError(f"scripts/postgres-test-server failed: {log_path}")
    server_url = out.decode().strip().splitlines()[-1]
    name = f"espace_bench_{os.getpid()}"
    await asyncio.to_thread(
        run_outside_transaction,
        server_url,
        f"DROP DATABASE IF EXISTS {name}",
        f"CREATE DATABASE {name}",
    )
    return server_url.rsplit("/", 1)[0] + "/" + name, server_url


async def drop_postgres_database(server_url: str, database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    await asyncio.to_thread(
        run_outside_transaction, server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as log:
        log.write(text)


async def bench_service(run_dir: Path, config: BenchConfig) -> dict[str, Any]:
    """The account service on SQLite, then (full run) on PostgreSQL."""
    results = {
        "sqlite": await bench_backend(
            "sqlite", f"sqlite:///{run_dir / 'service-sqlite.db'}", run_dir, config
        )
    }
    if config.postgres:
        database_url, server_url = await postgres_database(run_dir / "logs" / "postgres.log")
        try:
            results["postgresql"] = await bench_backend("postgresql", database_url, run_dir, config)
        finally:
            await drop_postgres_database(server_url, database_url)
    return results
