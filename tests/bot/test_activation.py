"""Activation links: end to end from the outbox, a page whose button activates (a GET
alone changes nothing), single use, expiry, resend, cross-site POSTs refused."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import select

from bot.models import Account, ActivationToken
from bot.web.keys import SESSIONS
from tests.bot.payloads import registration_with_document
from tests.conftest import MovableClock, Service

LINK = re.compile(r"https?://\S+/activate/[A-Za-z0-9_\-]+")
FORM = re.compile(
    r'<form method="post" action="([^"]+)">\s*'
    r'<input type="hidden" name="form_token" value="([^"]+)">'
)
RESEND = "/api/v1/activations/resend"
BUTTON = "Activer mon espace client"


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


def browser() -> aiohttp.ClientSession:
    """A fresh client with no API token that keeps cookies, even of 127.0.0.1."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def open_link(link: str) -> tuple[int, str]:
    """Open a link as a mail scanner or a browser does: a GET, nothing more."""
    async with browser() as client, client.get(link) as response:
        return response.status, await response.text()


async def click(client: aiohttp.ClientSession, link: str) -> tuple[int, str]:
    """Open the link, then press the page's button, as a browser does: the form's POST
    carries the page's cookie and form token, and `Origin: null` (the page's referrer
    policy is no-referrer)."""
    async with client.get(link) as response:
        page = await response.text()
    form = FORM.search(page)
    if form is None:  # no button to press: the page says why
        return response.status, page
    action, form_token = form.groups()
    async with client.post(
        link.split("/activate/")[0] + action,
        data={"form_token": form_token},
        headers={"Origin": "null"},
    ) as response:
        return response.status, await response.text()


async def activate_link(link: str) -> tuple[int, str]:
    async with browser() as client:
        return await click(client, link)


async def account_and_token(
    service: Service, registration_id: int
) -> tuple[Account, ActivationToken]:
    async with service.app[SESSIONS]() as session:
        account = await session.get(Account, registration_id)
        token = (
            await session.execute(
                select(ActivationToken).where(ActivationToken.account_id == registration_id)
            )
        ).scalar_one()
    assert account is not None
    return account, token


async def test_the_link_in_the_eml_file_activates_the_account(service: Service) -> None:
    body = await register(service)
    (eml,) = service.outbox.glob("*.eml")
    message = service.outbox_messages()[0]
    assert message["To"] == "emilie.lefevre@exemple-industries.fr"
    assert eml.suffix == ".eml"
    (link,) = links_in_outbox(service)
    assert link.startswith(service.base_url + "/activate/"), "the link is absolute"

    status, page = await activate_link(link)

    assert status == 200
    assert "Votre espace client est activé" in page
    account, _ = await account_and_token(service, body["registration_id"])
    assert account.status == "active"
    assert account.activated_at is not None


async def test_opening_the_link_does_not_activate(service: Service) -> None:
    body = await register(service)
    (link,) = links_in_outbox(service)

    for _ in range(2):  # a mail scanner, then the person
        async with browser() as client, client.get(link) as response:
            page = await response.text()
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers["Referrer-Policy"] == "no-referrer"
        assert BUTTON in page and FORM.search(page)
        account, token = await account_and_token(service, body["registration_id"])
        assert (account.status, account.activated_at) == ("pending", None)
        assert token.used_at is None


async def test_the_button_activates_once(service: Service) -> None:
    body = await register(service)
    (link,) = links_in_outbox(service)
    async with browser() as client:
        async with client.get(link) as response:
            action, form_token = FORM.search(await response.text()).groups()
        url = service.base_url + action
        answers = []
        for _ in range(2):
            async with client.post(
                url, data={"form_token": form_token}, headers={"Origin": "null"}
            ) as response:
                answers.append((response.status, await response.text()))
                assert response.headers["Cache-Control"] == "no-store"
                assert response.headers["Referrer-Policy"] == "no-referrer"

    (first, activated), (second, used) = answers
    assert first == 200 and "Votre espace client est activé" in activated
    assert second == 410 and "déjà été utilisé" in used
    account, token = await account_and_token(service, body["registration_id"])
    assert account.status == "active" and token.used_at is not None


async def test_a_post_from_the_sites_own_origin_activates(service: Service) -> None:
    body = await register(service)
    (link,) = links_in_outbox(service)
    async with (
        browser() as client,
        client.post(link, headers={"Origin": service.base_url}) as response,
    ):
        assert response.status == 200
    account, _ = await account_and_token(service, body["registration_id"])
    assert account.status == "active"


async def test_a_cross_site_post_is_refused_and_does_not_activate(service: Service) -> None:
    body = await register(service)
    (link,) = links_in_outbox(service)
    # The page read by a scanner or another site: its form token, without its cookie.
    _, page = await open_link(link)
    _, form_token = FORM.search(page).groups()
    attempts = [
        {"headers": {"Origin": "https://site-malveillant.example"}},
        {"headers": {"Referer": "https://site-malveillant.example/page"}},
        {"headers": {"Origin": "null"}, "data": {"form_token": form_token}},
        {"headers": {"Origin": "null"}, "data": {"form_token": ""}},
        {},
    ]
    for attempt in attempts:
        async with browser() as client, client.post(link, **attempt) as response:
            page = await response.text()
            assert response.status == 403, attempt
            assert "Cette demande d'activation a été refusée" in page
            assert "n'a pas été activé" in page
    account, token = await account_and_token(service, body["registration_id"])
    assert (account.status, token.used_at) == ("pending", None)
    # The person's own click still works afterwards.
    assert (await activate_link(link))[0] == 200


async def test_a_link_that_cannot_work_offers_no_button(
    service: Service, clock: MovableClock
) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    clock.advance(days=30, seconds=1)
    status, page = await open_link(link)
    assert status == 410 and "a expiré" in page
    assert BUTTON not in page and "<form" not in page
    status, page = await open_link(f"{service.base_url}/activate/inconnu")
    assert status == 404 and "<form" not in page


async def test_a_used_link_gets_a_clear_4xx_page(service: Service) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    assert (await activate_link(link))[0] == 200

    for opened in (open_link, activate_link):  # the page says so before any button
        status, page = await opened(link)
        assert status == 410
        assert "déjà été utilisé" in page


async def test_an_unknown_token_gets_a_clear_4xx_page(service: Service) -> None:
    for token in ["inconnu", "x" * 43, "a" * 500]:
        status, page = await open_link(f"{service.base_url}/activate/{token}")
        assert status == 404
        assert "n'est pas valide" in page
        # « contactez notre cellule dédiée » comes with its address and phone number.
        assert "espaces-clients@assureur.example" in page
        assert "01 99 00 12 34" in page


async def test_an_expired_link_gets_a_clear_4xx_page(service: Service, clock: MovableClock) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    clock.advance(days=30, seconds=1)

    status, page = await activate_link(link)

    assert status == 410
    assert "a expiré" in page
    assert "30 jours" in page


async def test_a_link_still_works_on_the_last_day(service: Service, clock: MovableClock) -> None:
    await register(service)
    (link,) = links_in_outbox(service)
    clock.advance(days=29, hours=23)
    status, page = await activate_link(link)
    assert status == 200 and "Votre espace client est activé" in page


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

    status, page = await activate_link(old)
    assert status == 410
    assert "remplacé" in page
    assert (await activate_link(new))[0] == 200


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
    assert (await activate_link(link))[0] == 200
    status, _ = await service.post(RESEND, {"email": "emilie.lefevre@exemple-industries.fr"})
    assert status == 202
    assert len(service.outbox_messages()) == 1


async def test_the_cgu_page_shows_the_current_version(service: Service) -> None:
    status, page = await open_link(f"{service.base_url}/cgu")
    assert status == 200
    assert "Conditions générales d'utilisation" in page
    assert "Version 2026-01" in page
