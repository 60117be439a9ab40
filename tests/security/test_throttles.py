"""Throttles keyed on the conversation and the real client address: one person's
failures never block another, and what was unthrottled is throttled."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.identifiers import new_web_conversation_id
from tests.corpus import build_corpus
from tests.security.helpers import Stack, WebClient, new_client_address, replies_text

SCAN = build_corpus()["png_scan"]
WRONG_CONTRACT = "SIREN 552 100 554, contrat ZZ999999"


async def test_rotated_conversations_failing_the_company_check_do_not_block_another_user(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    attacker_address = new_client_address()
    # The service's own limit per caller was 1000 failures: the attacker goes past it,
    # each time from a new conversation, straight at the account service as the actions do.
    semaphore = asyncio.Semaphore(8)

    async def fail(index: int) -> int:
        async with (
            semaphore,
            http.post(
                f"{stack.web}/api/v1/companies/verify",
                json={
                    "siren": "552100554",
                    "contract_number": f"ZZ{index:06d}",
                    "conversation_id": new_web_conversation_id(),
                    "client_address": attacker_address,
                },
                headers=stack.account_auth(),
            ) as response,
        ):
            return response.status

    statuses = await asyncio.gather(*(fail(index) for index in range(1010)))
    assert 429 in statuses, "the attacker's failures were never throttled"
    # The attacker also types wrong contracts in the chat, from several conversations.
    for _ in range(3):
        attacker = WebClient(stack, http, address=attacker_address)
        await attacker.say("bonjour, je voudrais créer mon espace client")
        await attacker.say(WRONG_CONTRACT)

    user = WebClient(stack, http)
    await user.say("bonjour, je voudrais créer mon espace client")
    assert "Maison Démo Industries SA" in await user.text("SIREN 552 100 554, contrat AB123456")


async def test_uploads_behind_a_proxy_are_counted_per_client(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    flooder = WebClient(stack, http)
    statuses = [(await flooder.upload(SCAN.data, SCAN.filename, "image/png"))[0] for _ in range(31)]
    assert statuses[0] == 201 and statuses[-1] == 429, statuses
    other = WebClient(stack, http)
    status, attachment = await other.upload(SCAN.data, SCAN.filename, "image/png")
    assert status == 201, attachment


async def test_a_spoofed_forwarded_address_from_an_untrusted_peer_is_ignored(
    stack: Stack,
) -> None:
    """A client that is not the proxy (127.0.0.2) cannot pick its key with X-Forwarded-For."""
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        spoofer = WebClient(stack, http)
        statuses = []
        for _ in range(31):
            statuses.append(
                (
                    await spoofer.upload(
                        SCAN.data, SCAN.filename, "image/png", address=new_client_address()
                    )
                )[0]
            )
        assert statuses[0] == 201 and statuses[-1] == 429, statuses
    async with aiohttp.ClientSession() as http:
        status, _ = await WebClient(stack, http).upload(SCAN.data, SCAN.filename, "image/png")
        assert status == 201


async def test_the_email_check_is_refused_before_the_company_is_verified(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{stack.web}/api/v1/emails/check",
        json={
            "email": "berenice.vasseur@exemple-industries.fr",
            "last_name": "Vasseur",
            "first_name": "Bérénice",
            "birth_date": "1981-02-14",
            "conversation_id": new_web_conversation_id(),
            "client_address": new_client_address(),
        },
        headers=stack.account_auth(),
    ) as response:
        text = await response.text()
        assert response.status in (403, 409, 422, 429), (response.status, text)
    assert "taken" not in text and "available" not in text


async def test_the_email_check_is_throttled(stack: Stack, http: aiohttp.ClientSession) -> None:
    """Even inside a verified conversation, addresses cannot be probed in bulk."""
    user = WebClient(stack, http)
    await user.say("bonjour, je voudrais créer mon espace client")
    assert "Maison Démo Industries SA" in await user.text("SIREN 552 100 554, contrat AB123456")
    statuses = []
    for index in range(40):
        async with http.post(
            f"{stack.web}/api/v1/emails/check",
            json={
                "email": f"sonde.{index}@exemple-industries.fr",
                "last_name": "Sonde",
                "first_name": "Paul",
                "birth_date": "1980-01-01",
                "conversation_id": user.sender,
                "client_address": user.address,
            },
            headers=stack.account_auth(),
        ) as response:
            statuses.append(response.status)
    assert 429 in statuses, statuses


def handoff(conversation_id: str, address: str) -> dict[str, object]:
    return {
        "conversation_id": conversation_id,
        "channel": "rest",
        "reason": "user_request",
        "summary": {"company": None, "done": "rien", "blocking": "aucun", "fields": []},
        "client_address": address,
    }


async def test_a_handoff_flood_is_throttled_per_conversation_and_per_address(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    async def create(conversation_id: str, address: str) -> int:
        async with http.post(
            f"{stack.web}/api/v1/handoffs",
            json=handoff(conversation_id, address),
            headers=stack.account_auth(),
        ) as response:
            return response.status

    one_conversation, address = new_web_conversation_id(), new_client_address()
    same = [await create(one_conversation, address) for _ in range(10)]
    # The same conversation gets its one handoff back (200) or is throttled (429).
    assert same[0] == 201 and set(same[1:]) <= {200, 429}, same
    rotated = [await create(new_web_conversation_id(), address) for _ in range(40)]
    assert rotated[-1] == 429, rotated
    assert await create(new_web_conversation_id(), new_client_address()) in (200, 201)


async def test_a_handoff_asked_in_the_chat_is_still_queued(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    user = WebClient(stack, http)
    await user.say("je veux parler à un conseiller")
    answer = replies_text(await user.say("oui"))
    assert "conseiller" in answer or "file d'attente" in answer, answer
