"""The action server is closed: loopback only, a token on every call, bounded bodies."""

from __future__ import annotations

import ipaddress
import sqlite3
import subprocess
import zlib
from typing import Any

import aiohttp
import pytest

from tests.security.helpers import Stack, Victims


def forged_call(victim: str) -> dict[str, Any]:
    """What Rasa would send to run `action_handoff` in the victim's conversation."""
    return {
        "next_action": "action_handoff",
        "sender_id": victim,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": victim,
            "slots": {"professional_email": "pirate@exemple.com"},
            "latest_message": {"text": "oui", "intent": {"name": "affirm"}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
            "latest_input_channel": "twilio",
        },
    }


def handoffs_of(stack: Stack, conversation_id: str) -> int:
    with sqlite3.connect(stack.urls["accounts_db"]) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM handoffs WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
        )


@pytest.mark.parametrize("token", [None, "not-the-token", ""], ids=["none", "wrong", "empty"])
@pytest.mark.parametrize("route", ["POST /webhook", "GET /actions"])
async def test_calls_without_the_token_are_refused(
    stack: Stack, http: aiohttp.ClientSession, victims: Victims, route: str, token: str | None
) -> None:
    victim = victims.ids["whatsapp"]
    before = await stack.snapshot(http, victim)
    handoffs = handoffs_of(stack, victim)
    method, path = route.split()
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    body = forged_call(victim) if method == "POST" else None
    async with http.request(method, stack.actions + path, json=body, headers=headers) as response:
        assert response.status == 401
        text = await response.text()
    assert "action_handoff" not in text and "utter_" not in text
    assert handoffs_of(stack, victim) == handoffs, "the forged call created a handoff"
    await stack.assert_untouched(http, before)


async def test_health_stays_open(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.get(stack.actions + "/health") as response:
        assert response.status == 200


def deflate_bomb(size: int = 1 << 30) -> bytes:
    """1 GiB of zeros in about a megabyte."""
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    return b"".join(compressor.compress(block) for _ in range(size >> 20)) + compressor.flush()


@pytest.mark.parametrize("authenticated", [True, False], ids=["with-token", "no-token"])
async def test_a_deflate_bomb_is_refused_without_being_inflated(
    stack: Stack, http: aiohttp.ClientSession, authenticated: bool
) -> None:
    headers = {"Content-Encoding": "deflate", "Content-Type": "application/json"}
    if authenticated:
        headers["Authorization"] = f"Bearer {stack.action_token}"
    async with http.post(
        stack.actions + "/webhook", data=deflate_bomb(), headers=headers
    ) as response:
        assert response.status == (413 if authenticated else 401)
    async with http.get(stack.actions + "/health") as response:
        assert response.status == 200


def listening_addresses(port: int) -> list[str]:
    output = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    addresses = []
    for line in output.splitlines():
        local = line.split()[3]
        host = local.rsplit(":", 1)[0].strip("[]")
        addresses.append(host.split("%")[0])
    return addresses


async def test_the_action_server_listens_on_loopback_only(stack: Stack) -> None:
    addresses = listening_addresses(int(stack.actions.rsplit(":", 1)[1]))
    assert addresses, "nothing listens on the action server's port"
    for address in addresses:
        assert address != "*" and ipaddress.ip_address(address).is_loopback, addresses


async def test_rasa_listens_on_loopback_only(stack: Stack) -> None:
    addresses = listening_addresses(int(stack.rasa.rsplit(":", 1)[1]))
    assert addresses
    for address in addresses:
        assert address != "*" and ipaddress.ip_address(address).is_loopback, addresses
