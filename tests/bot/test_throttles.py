"""Fair throttles: keyed on the conversation and the real client address (behind trusted
proxies only), atomic under concurrency, never turned against another user."""

from __future__ import annotations

import asyncio
import io
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.services import agents
from bot.web.keys import SESSIONS
from tests.bot.payloads import DEMO_CONTRACT, DEMO_SIREN
from tests.conftest import MovableClock, Service, start_service

VERIFY = "/api/v1/companies/verify"
HANDOFFS = "/api/v1/handoffs"
PASSWORD = "un mot de passe assez long"
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)
WRONG = {"siren": DEMO_SIREN, "contract_number": "ZZ999999"}
RIGHT = {"siren": DEMO_SIREN, "contract_number": DEMO_CONTRACT}


@pytest.fixture
async def proxied(database_url: str, clock: MovableClock, tmp_path: Path) -> AsyncIterator[Service]:
    """The web process behind a reverse proxy on loopback (TRUSTED_PROXIES=127.0.0.1)."""
    async with start_service(database_url, clock, tmp_path, trusted_proxies=LOOPBACK) as service:
        yield service


# ---- Company verification ---------------------------------------------------------------


async def test_rotated_conversations_never_lock_out_a_fresh_one_from_another_address(
    service: Service,
) -> None:
    attacker = "203.0.113.66"
    answers = [
        await service.post(
            VERIFY, {**WRONG, "conversation_id": f"web-{n:032x}", "client_address": attacker}
        )
        for n in range(40)
    ]
    statuses = [status for status, _ in answers]
    assert statuses[:20] == [422] * 20
    assert set(statuses[20:]) == {429}, "the attacker's address is throttled"

    fresh = {**RIGHT, "conversation_id": "web-" + "f" * 32, "client_address": "198.51.100.4"}
    status, body = await service.post(VERIFY, fresh)
    assert status == 200
    assert body["company_name"]
    # A messaging channel passes no address: its conversation alone is counted.
    status, _ = await service.post(VERIFY, {**RIGHT, "conversation_id": "whatsapp-abc"})
    assert status == 200


async def test_an_ipv6_client_cannot_escape_by_rotating_inside_its_block(
    service: Service,
) -> None:
    for n in range(20):
        body = {**WRONG, "conversation_id": f"c{n}", "client_address": f"2001:db8:1:2::{n + 1:x}"}
        assert (await service.post(VERIFY, body))[0] == 422
    same_block = {**RIGHT, "conversation_id": "c-new", "client_address": "2001:db8:1:2::ffff"}
    assert (await service.post(VERIFY, same_block))[0] == 429
    other_block = {**same_block, "client_address": "2001:db8:1:3::1"}
    assert (await service.post(VERIFY, other_block))[0] == 200


async def test_an_invalid_client_address_is_ignored(service: Service) -> None:
    for address in ("not an address", "1.2.3.4.5", 42, "x" * 100):
        body = {**RIGHT, "conversation_id": "c-1", "client_address": address}
        assert (await service.post(VERIFY, body))[0] == 200


async def test_concurrent_wrong_pairs_get_at_most_the_limit_checked(service: Service) -> None:
    body = {**WRONG, "conversation_id": "web-" + "1" * 32}
    answers = await asyncio.gather(*(service.post(VERIFY, body) for _ in range(25)))
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(422) == 5, statuses
    assert statuses.count(429) == 20
    status, _ = await service.post(VERIFY, {**RIGHT, "conversation_id": "web-" + "1" * 32})
    assert status == 429, "the attacked conversation stays locked"
    status, _ = await service.post(VERIFY, {**RIGHT, "conversation_id": "web-" + "2" * 32})
    assert status == 200


# ---- Agent console logins -----------------------------------------------------------------


async def _log_in(
    service: Service, http: aiohttp.ClientSession, login: str, password: str, address: str
) -> int:
    async with http.post(
        service.base_url + "/agent/login",
        data={"login": login, "password": password},
        headers={"Origin": service.base_url, "X-Forwarded-For": address},
        allow_redirects=False,
    ) as response:
        await response.read()
        return response.status


async def test_concurrent_wrong_passwords_get_at_most_five_checked(
    proxied: Service, clock: MovableClock
) -> None:
    async with proxied.app[SESSIONS]() as session:
        for login in ("claire", "marc"):
            await agents.create_agent(session, login, login.title(), PASSWORD, clock())
    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(
            *(_log_in(proxied, http, "claire", f"faux {n}", "203.0.113.5") for n in range(25))
        )
        assert sorted(statuses).count(401) <= 5, "each 401 is a password checked"
        assert statuses.count(429) >= 20
        # The attacked login is locked, even with its password, from anywhere...
        assert await _log_in(proxied, http, "claire", PASSWORD, "198.51.100.8") == 429
        # ...but another advisor, from another address, logs in.
        assert await _log_in(proxied, http, "marc", PASSWORD, "198.51.100.8") == 303
        clock.advance(minutes=16)
        assert await _log_in(proxied, http, "claire", PASSWORD, "198.51.100.8") == 303


# ---- Uploads behind a proxy ---------------------------------------------------------------


async def _upload(service: Service, forwarded_for: str | None, sender: str = "conv-1") -> int:
    with aiohttp.MultipartWriter("form-data") as body:
        body.append(sender).set_content_disposition("form-data", name="sender_id")
        part = body.append(io.BytesIO(b"x" * 100), {"Content-Type": "image/png"})
        part.set_content_disposition("form-data", name="file", filename="scan.png")
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with service.http.post(service.base_url + "/uploads", data=body, headers=headers) as r:
        await r.read()
        return r.status


async def test_clients_behind_a_trusted_proxy_have_their_own_upload_limits(
    proxied: Service,
) -> None:
    for n in range(30):
        assert await _upload(proxied, "203.0.113.10", f"conv-{n}") == 201
    assert await _upload(proxied, "203.0.113.10", "conv-new") == 429
    assert await _upload(proxied, "198.51.100.11", "conv-other") == 201, "another client"
    # The proxy appends the peer it saw: what the client wrote before is not trusted.
    assert await _upload(proxied, "198.51.100.99, 203.0.113.10", "conv-x") == 429


async def test_without_trusted_proxies_x_forwarded_for_is_ignored(service: Service) -> None:
    for n in range(30):
        assert await _upload(service, f"203.0.113.{n + 1}", f"conv-{n}") == 201
    assert await _upload(service, "198.51.100.11", "conv-new") == 429
    assert await _upload(service, None, "conv-new") == 429


async def test_an_untrusted_peer_cannot_forge_its_address(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    elsewhere = (ipaddress.ip_network("10.0.0.0/8"),)
    async with start_service(database_url, clock, tmp_path, trusted_proxies=elsewhere) as service:
        for n in range(30):
            assert await _upload(service, f"10.0.0.{n + 1}", f"conv-{n}") == 201
        assert await _upload(service, "10.9.9.9", "conv-new") == 429


# ---- Handoffs -----------------------------------------------------------------------------


def _handoff(conversation: str, address: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversation_id": conversation,
        "channel": "socketio",
        "reason": "user_request",
        "summary": {"done": "Rien encore.", "blocking": "Le client veut un conseiller."},
    }
    if address:
        body["client_address"] = address
    return body


async def _close_all(service: Service, clock: MovableClock) -> None:
    from sqlalchemy import update

    from bot.models import Handoff

    async with service.app[SESSIONS]() as session:
        await session.execute(
            update(Handoff).values(status="closed", open_conversation_id=None, closed_at=clock())
        )
        await session.commit()


async def test_handoffs_are_throttled_per_conversation(
    service: Service, clock: MovableClock
) -> None:
    for _ in range(3):
        status, _ = await service.post(HANDOFFS, _handoff("web-h1"))
        assert status == 201
        status, _ = await service.post(HANDOFFS, _handoff("web-h1"))
        assert status == 200, "the open handoff is given back, uncounted"
        await _close_all(service, clock)
    async with await service.call("POST", HANDOFFS, json=_handoff("web-h1")) as response:
        assert response.status == 429
        assert int(response.headers["Retry-After"]) == 3600
        body = await response.json()
    assert body["error"]["code"] == "too_many_handoffs"
    assert "conseiller" in body["error"]["message"]
    assert (await service.post(HANDOFFS, _handoff("web-h2")))[0] == 201
    clock.advance(hours=1, seconds=1)
    await _close_all(service, clock)
    assert (await service.post(HANDOFFS, _handoff("web-h1")))[0] == 201


async def test_handoffs_are_throttled_per_address(service: Service) -> None:
    for n in range(10):
        status, _ = await service.post(HANDOFFS, _handoff(f"web-a{n}", "203.0.113.20"))
        assert status == 201
    assert (await service.post(HANDOFFS, _handoff("web-a10", "203.0.113.20")))[0] == 429
    assert (await service.post(HANDOFFS, _handoff("web-a10", "198.51.100.3")))[0] == 201
    outbox = service.outbox_messages()
    assert len(outbox) <= 11, "no e-mail for a refused handoff"
