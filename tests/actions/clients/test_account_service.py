"""The actions' client against the real account service on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actions.clients.account_service import (
    AccountServiceClient,
    AccountServiceError,
    ServiceUnavailable,
)
from tests.bot.payloads import DEMO_COMPANY, registration, registration_with_document
from tests.conftest import API_TOKEN, MovableClock, Service, free_port, start_service


@pytest.fixture
async def client(service: Service) -> AsyncIterator[AccountServiceClient]:
    client = AccountServiceClient(service.base_url, API_TOKEN, timeout=2, backoff=0.01)
    yield client
    await client.close()


async def test_verify_company_returns_the_name(client: AccountServiceClient) -> None:
    assert await client.verify_company("552 100 554", "AB123456", "conv") == DEMO_COMPANY


async def test_a_refusal_carries_the_french_message(client: AccountServiceClient) -> None:
    with pytest.raises(AccountServiceError) as refused:
        await client.verify_company("552100554", "ZZ999999", "conv")
    assert refused.value.code == "company_not_verified"
    assert refused.value.status == 422
    assert "numéro de contrat" in refused.value.message


async def test_check_email_flags_role_mailboxes(client: AccountServiceClient) -> None:
    # The service answers only a conversation whose company is verified.
    await client.verify_company("552100554", "AB123456", "conv")
    check = await client.check_email(
        "contact@exemple.fr", "Martin", "Luc", "1980-01-01", conversation_id="conv"
    )
    assert check.available is True
    assert check.role_mailbox is True
    assert check.reason is None


async def test_a_retried_registration_gives_the_same_account(
    client: AccountServiceClient, service: Service
) -> None:
    body = await registration_with_document(service)
    first = await client.create_registration(body, "conv-7:1")
    again = await client.create_registration(body, "conv-7:1")
    assert again.login == first.login
    assert (first.replayed, again.replayed) == (False, True)
    assert first.email_masked == "e***e@exemple-industries.fr"
    assert len(service.outbox_messages()) == 1


async def test_a_wrong_token_is_an_error_not_an_outage(service: Service) -> None:
    client = AccountServiceClient(service.base_url, "wrong", timeout=2, backoff=0.01)
    try:
        with pytest.raises(AccountServiceError) as refused:
            await client.verify_company("552100554", "AB123456")
        assert refused.value.status == 401
    finally:
        await client.close()


async def test_service_down_then_back_up(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    port = free_port()
    client = AccountServiceClient(f"http://127.0.0.1:{port}", API_TOKEN, timeout=1, backoff=0.01)
    try:
        with pytest.raises(ServiceUnavailable) as down:
            await client.create_registration(registration(), "conv-9:1")
        assert "momentanément indisponible" in down.value.message

        async with start_service(database_url, clock, tmp_path, port=port) as service:
            body = await registration_with_document(service)
            created = await client.create_registration(body, "conv-9:1")
            assert created.login.startswith("EC")
            assert len(service.outbox_messages()) == 1
    finally:
        await client.close()
