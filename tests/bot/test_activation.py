"""Activation links: end to end from the outbox, single use, expiry, resend."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import select

from bot.models import Account, ActivationToken
from bot.web.keys import SESSIONS
from tests.bot.payloads import registration_with_document
from tests.conftest import MovableClock, Service

LINK = re.compile(r"https?://\S+/activate/[A-Za-z0-9_\-]+")
RESEND = "/api/v1/activations/resend"


async def register(service: Service, key: str = "key-1", **changes: dict) -> dict:
    status, body = await service.post(
        "/api/v1/registrations",
        await registration_with_document(service, **changes),
        headers={"Idempotency-Key": key},
    )
    assert status == 201, body
    return body


def links_in_outbox(service: Service) -> list[str]:
    return [
        LINK.findall(message.get_body(("plain",)).get_content())[0]
        for message in service.outbox_messages()
    ]


async def open_link(link: str) -> tuple[int, str]:
    """Follow a link as a browser would, with a fresh client (no API token)."""
    async with aiohttp.ClientSession() as browser, browser.get(link) as response:
        return response.status, await response.text()


async def test_the_link_in_the_eml_file_activates_the_account(service: Service) -> None:
    body = await register(service)
    (eml,) = service.outbox.glob("*.eml")
    message = service.outbox_messages()[0]
    assert message["To"] == "emilie.lefevre@exemple-industries.fr"
    assert eml.suffix == ".eml"
    (link,) = links_in_outbox(service)
    assert link.startswith(service.base_url + "/activate/"), "the link is absolute"

    status, page = await open_link(link)

    assert status == 200
    assert "Votre espace client est activé" in page
    async with service.app[SESSIONS]() as session:
        account = await session.get(Account, body["registration_id"])
    assert account is not None and account.status == "active"
    assert account.activated_at is not None


async def test_a_used_link_gets_a_clear_4xx_page(service: Service) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    assert (await open_link(link))[0] == 200

    status, page = await open_link(link)

    assert status == 410
    assert "déjà été utilisé" in page


async def test_an_unknown_token_gets_a_clear_4xx_page(service: Service) -> None:
    for token in ["inconnu", "x" * 43, "a" * 500]:
        status, page = await open_link(f"{service.base_url}/activate/{token}")
        assert status == 404
        assert "n'est pas valide" in page


async def test_an_expired_link_gets_a_clear_4xx_page(service: Service, clock: MovableClock) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    clock.advance(days=30, seconds=1)

    status, page = await open_link(link)

    assert status == 410
    assert "a expiré" in page
    assert "30 jours" in page


async def test_a_link_still_works_on_the_last_day(service: Service, clock: MovableClock) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    clock.advance(days=29, hours=23)
    assert (await open_link(link))[0] == 200


async def test_tokens_are_stored_hashed(service: Service) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 22, "at least 128 bits of randomness"
    async with service.app[SESSIONS]() as session:
        stored = (await session.execute(select(ActivationToken.token_hash))).scalars().all()
    assert stored and token not in stored
    assert all(len(value) == 64 for value in stored)


async def test_resend_replaces_the_previous_link(service: Service) -> None:
    await register(service)
    status, _ = await service.post(RESEND, {"email": "Emilie.Lefevre@exemple-industries.fr"})
    assert status == 202
    old, new = links_in_outbox(service)
    assert old != new

    status, page = await open_link(old)
    assert status == 410
    assert "remplacé" in page
    assert (await open_link(new))[0] == 200


async def test_resend_answers_the_same_for_unknown_addresses(service: Service) -> None:
    await register(service)
    known = await service.post(RESEND, {"email": "emilie.lefevre@exemple-industries.fr"})
    unknown = await service.post(RESEND, {"email": "personne@ailleurs.fr"})

    assert known == unknown
    assert known[0] == 202
    assert "Si un espace client" in known[1]["message"]
    assert len(service.outbox_messages()) == 2, "only the known address got a new e-mail"


async def test_resend_is_throttled_silently(service: Service) -> None:
    await register(service)
    answers = [
        await service.post(RESEND, {"email": "emilie.lefevre@exemple-industries.fr"})
        for _ in range(5)
    ]
    assert len({str(answer) for answer in answers}) == 1, "the answer never changes"
    assert len(service.outbox_messages()) == 1 + 3, "at most 3 resends an hour"


async def test_resend_of_an_active_account_sends_nothing(service: Service) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    await open_link(link)
    status, _ = await service.post(RESEND, {"email": "emilie.lefevre@exemple-industries.fr"})
    assert status == 202
    assert len(service.outbox_messages()) == 1


async def test_the_cgu_page_shows_the_current_version(service: Service) -> None:
    status, page = await open_link(f"{service.base_url}/cgu")
    assert status == 200
    assert "Conditions générales d'utilisation" in page
    assert "Version 2026-01" in page
