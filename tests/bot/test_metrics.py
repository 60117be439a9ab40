"""`GET /metrics` of the web process: what it counts, who may read it, and the JSON logs
of production, which carry no value a user typed."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.french import PARIS
from bot.logs import JsonFormatter, json_logs
from bot.settings import Settings, parse_trusted_proxies
from bot.web.app import create_app
from tests.bot.payloads import DEMO_SIREN, registration, registration_with_document
from tests.bot.test_handoffs import HANDOFFS, handoff
from tests.conftest import API_TOKEN, MovableClock, Service, free_port, start_service

ROOT = Path(__file__).resolve().parents[2]
REGISTRATIONS = "/api/v1/registrations"
VERIFY = "/api/v1/companies/verify"
CLOSED = datetime(2026, 12, 4, 19, 0, tzinfo=PARIS).astimezone(timezone.utc)  # a Friday night


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(service: Service, **headers: str) -> dict:
    async with service.http.get(service.base_url + "/metrics", headers=headers) as answer:
        assert answer.status == 200, await answer.text()
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(await answer.text())


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_registration_counts_its_account_and_its_email(
    smtp_service: Service,
) -> None:
    before = await scrape(smtp_service)
    assert value(before, "assistant_emails_queued_total", kind="activation") == 0
    body = await registration_with_document(smtp_service)
    status, _ = await smtp_service.post(
        REGISTRATIONS, body, headers={"Idempotency-Key": "metrics-1"}
    )
    assert status == 201
    # The same request again is a replay: no second account.
    status, _ = await smtp_service.post(
        REGISTRATIONS, body, headers={"Idempotency-Key": "metrics-1"}
    )
    assert status == 200

    after = await scrape(smtp_service)
    assert value(after, "assistant_accounts_created_total") == 1
    assert value(after, "assistant_emails_queued_total", kind="activation") == 1
    assert value(after, "assistant_emails_sent_total", kind="activation") == 1
    assert value(after, "assistant_emails_sent_total", kind="handoff_ticket") == 0


async def test_an_email_that_fails_is_queued_not_sent(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    closed = f"smtp://127.0.0.1:{free_port()}"  # nobody listens there
    async with start_service(database_url, clock, tmp_path, smtp_url=closed) as service:
        status, answer = await service.post(
            REGISTRATIONS,
            await registration_with_document(service),
            headers={"Idempotency-Key": "metrics-2"},
        )
        assert (status, answer["activation_email_sent"]) == (201, False)
        scraped = await scrape(service)
        assert value(scraped, "assistant_accounts_created_total") == 1
        assert value(scraped, "assistant_emails_queued_total", kind="activation") == 1
        assert value(scraped, "assistant_emails_sent_total", kind="activation") == 0


async def test_refusals_are_counted_by_error_code_never_by_value(service: Service) -> None:
    typed = "98765432"  # a SIREN too short, as a user could type it
    status, _ = await service.post(VERIFY, {"siren": typed, "contract_number": "AB123456"})
    assert status == 422
    for _ in range(2):
        status, answer = await service.post(
            VERIFY, {"siren": DEMO_SIREN, "contract_number": "ZZ999999"}
        )
        assert (status, answer["error"]["code"]) == (422, "company_not_verified")
    status, _ = await service.post(REGISTRATIONS, registration(), headers={})
    assert status == 400  # no Idempotency-Key

    async with service.http.get(service.base_url + "/metrics") as answer:
        text = await answer.text()
    scraped = samples(text)
    assert value(scraped, "assistant_refusals_total", reason="invalid_field") == 1
    assert value(scraped, "assistant_refusals_total", reason="company_not_verified") == 2
    assert value(scraped, "assistant_refusals_total", reason="missing_idempotency_key") == 1
    assert value(scraped, "assistant_accounts_created_total") == 0
    assert typed not in text and "ZZ999999" not in text


async def test_handoffs_and_their_ticket_emails_are_counted_by_reason(
    service: Service, clock: MovableClock
) -> None:
    clock.now = CLOSED
    status, body = await service.post(HANDOFFS, handoff())
    assert (status, body["status"]) == (201, "ticket")
    status, _ = await service.post(HANDOFFS, handoff())  # the same one, answered again
    assert status == 200

    scraped = await scrape(service)
    assert value(scraped, "assistant_handoffs_total", reason="repeated_failures") == 1
    assert value(scraped, "assistant_handoffs_total", reason="user_request") == 0
    assert value(scraped, "assistant_emails_queued_total", kind="handoff_ticket") == 1
    assert value(scraped, "assistant_emails_sent_total", kind="handoff_ticket") == 1


async def test_each_app_counts_in_its_own_registry(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    async with start_service(database_url, clock, tmp_path / "a") as first:
        status, _ = await first.post(VERIFY, {"siren": "1", "contract_number": "AB123456"})
        assert status == 422
        async with start_service(database_url, clock, tmp_path / "b") as second:
            scraped = await scrape(second)
            assert value(scraped, "assistant_refusals_total", reason="invalid_field") == 0
        assert value(await scrape(first), "assistant_refusals_total", reason="invalid_field") == 1


@pytest.mark.parametrize(
    "forwarded",
    [
        {"X-Forwarded-For": "203.0.113.7"},
        {"Forwarded": "for=203.0.113.7"},
        {"X-Real-IP": "203.0.113.7"},
    ],
    ids=["x-forwarded-for", "forwarded", "x-real-ip"],
)
async def test_a_request_relayed_by_a_proxy_is_refused(
    database_url: str, clock: MovableClock, tmp_path: Path, forwarded: dict[str, str]
) -> None:
    """nginx on this machine is a loopback peer: what it relays is still refused, even
    from a trusted proxy, unless it carries METRICS_TOKEN."""
    async with start_service(
        database_url,
        clock,
        tmp_path,
        trusted_proxies=parse_trusted_proxies("127.0.0.1"),
        metrics_token="a-scraper-token",
    ) as service:
        url = service.base_url + "/metrics"
        for headers in (
            forwarded,
            {**forwarded, "Authorization": "Bearer a-wrong-token"},
            {**forwarded, "Authorization": f"Bearer {API_TOKEN}"},
        ):
            async with service.http.get(url, headers=headers) as answer:
                assert answer.status == 403
                assert "assistant_" not in await answer.text()
        scraped = await scrape(service, **forwarded, Authorization="Bearer a-scraper-token")
        assert ("assistant_accounts_created_total", ()) in scraped


def outward_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # no packet is sent
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_a_peer_off_loopback_needs_the_token(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    settings = Settings(
        database_url=database_url,
        api_tokens=(API_TOKEN,),
        outbox_dir=tmp_path / "outbox",
        document_key_file=tmp_path / "document.key",
        metrics_token="a-scraper-token",
    )
    server = TestServer(create_app(settings, clock=clock), host=address, port=free_port())
    await server.start_server()
    try:
        url = f"http://{address}:{server.port}/metrics"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as answer:
                assert answer.status == 403
            async with http.get(url, headers={"Authorization": "Bearer nope"}) as answer:
                assert answer.status == 403
            async with http.get(url, headers={"Authorization": "Bearer a-scraper-token"}) as ok:
                assert ok.status == 200
                assert "assistant_accounts_created_total 0.0" in await ok.text()
            async with http.get(f"http://{address}:{server.port}/health") as health:
                assert health.status == 200, "only /metrics is restricted"
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"LOG_FORMAT": "json"}, True),
        ({"APP_ENV": "production"}, True),
        ({"APP_ENV": "production", "LOG_FORMAT": "text"}, False),
    ],
)
def test_json_in_production_or_when_asked(env: dict[str, str], expected: bool) -> None:
    assert json_logs(env) is expected


def test_a_json_record_keeps_an_exception_s_type_and_places_not_its_message() -> None:
    typed = "Ségolène-0612345678"
    logger = logging.getLogger("tests.metrics")
    try:
        raise ValueError(f"« {typed} » n'est pas valide")
    except ValueError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "refused: %s", ("ValueError",), sys.exc_info()
        )
    line = JsonFormatter("web").format(record)
    parsed = json.loads(line)
    assert set(parsed) == {
        "time",
        "level",
        "logger",
        "process",
        "pid",
        "message",
        "exception",
        "traceback",
    }
    assert (parsed["level"], parsed["logger"], parsed["process"]) == (
        "ERROR",
        "tests.metrics",
        "web",
    )
    assert parsed["message"] == "refused: ValueError"
    assert parsed["exception"] == "ValueError"
    assert parsed["traceback"][0].startswith("tests/bot/test_metrics.py:")
    assert typed not in line and "\n" not in line


@pytest.fixture
def json_web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`python -m bot serve` with LOG_FORMAT=json, its e-mails sent to a closed port."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("APP_ENV", "LOG_LEVEL")},
        "LOG_FORMAT": "json",
        "VAR_DIR": str(tmp_path / "var"),
        "WEB_PORT": str(port),
        "ACCOUNT_API_TOKENS": API_TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'accounts.db'}",
        "SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "PYTHONWARNINGS": "ignore",
    }
    stderr = tmp_path / "web.stderr"
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, stderr.read_text()
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.3)
        yield url, stderr
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_json_logs_of_the_web_process_carry_no_typed_value(
    json_web: tuple[str, Path], tmp_path: Path
) -> None:
    url, stderr = json_web
    async with aiohttp.ClientSession() as http:
        service = Service(url, http, None, tmp_path / "unused")  # type: ignore[arg-type]
        body = await registration_with_document(
            service,
            person={"last_name": "Zébulon-Quatremare", "first_name": "Ysolde"},
            professional={"email": "ysolde.zebulon@quatremare-industries.fr"},
        )
        status, answer = await service.post(
            REGISTRATIONS, body, headers={"Idempotency-Key": "json-logs"}
        )
        assert (status, answer["activation_email_sent"]) == (201, False)
    await asyncio.sleep(0.3)  # the access log line is written after the answer
    lines = stderr.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {record["process"] for record in records} == {"web"}
    # The e-mail waits in the outbox; its failure is logged by kind, never by address.
    failure = next(r for r in records if "(activation) not sent" in r["message"])
    assert failure["level"] == "WARNING" and failure["logger"] == "bot.outbox"
    access = [r["message"] for r in records if r["logger"] == "aiohttp.access"]
    assert access and all(line.startswith("127.0.0.0/24 ") for line in access), access
    for typed in ("Zébulon", "Quatremare", "quatremare", "Ysolde", "ysolde", "0612345678"):
        assert typed not in "\n".join(lines)
