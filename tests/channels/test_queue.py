"""Leaving the advisor queue from the Rasa process (channels/queue.py): which messages
ask for it, and what the account service (the real web process on loopback) answers.
The whole path, through Rasa, is in tests/e2e/test_handoff_queue.py."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.french import PARIS
from bot.services import handoffs
from bot.web.keys import SESSIONS
from channels import queue
from tests.bot.test_handoffs import handoff, log_in_advisor
from tests.conftest import API_TOKEN, MovableClock, Service, free_port

OPEN = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS).astimezone(timezone.utc)
CLOSED = datetime(2026, 12, 4, 19, 0, tzinfo=PARIS).astimezone(timezone.utc)


@pytest.mark.parametrize(
    "text",
    [
        "/leave_queue",
        " /leave_queue{} ",
        "Revenir à l'assistant",
        "revenir a l assistant",
        "REVENIR À L’ASSISTANT !",
        "Finalement je préfère revenir à l'assistant, merci",
        "je veux retourner à l'assistant svp",
        "je ne veux plus attendre",
        "Je ne veux plus attendre.",
        "laissez tomber le conseiller",
        "quitter la file d'attente",
        "non, continuer avec l'assistant virtuel",
    ],
)
def test_these_ask_to_leave_the_queue(text: str) -> None:
    assert queue.is_leave_request(text)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "/restart",
        "/leave_queue_now",
        "12/03/1984",
        "je ne veux plus attendre, passez-moi quelqu'un vite",
        "l'assistant ne comprend rien, je veux un conseiller",
        "est-ce que je peux revenir à l'assistant plus tard si besoin ?",
        "revenir",
        "assistant",
        "revenir à l'assistant " * 10,
    ],
)
def test_these_do_not(text: str | None) -> None:
    assert not queue.is_leave_request(text)


async def leave(service: Service, conversation_id: str) -> str:
    client = queue.AccountService(service.base_url, API_TOKEN)
    try:
        return await client.leave_queue(conversation_id)
    finally:
        await client.close()


async def test_the_account_service_says_what_leaving_did(
    service: Service, clock: MovableClock
) -> None:
    clock.now = OPEN
    agent = await log_in_advisor(service, clock)
    await service.post("/api/v1/handoffs", handoff(conversation_id="waiting"))
    _, taken = await service.post("/api/v1/handoffs", handoff(conversation_id="taken"))
    async with service.app[SESSIONS]() as session:
        await handoffs.take(session, taken["id"], agent, clock())
    assert await leave(service, "waiting") == queue.LEFT
    assert await leave(service, "waiting") == queue.NO_HANDOFF
    assert await leave(service, "taken") == queue.WITH_ADVISOR
    assert await leave(service, "never") == queue.NO_HANDOFF
    clock.now = CLOSED
    await service.post("/api/v1/handoffs", handoff(conversation_id="ticket"))
    assert await leave(service, "ticket") == queue.TICKET


async def test_a_wrong_token_or_no_service_is_unavailable(service: Service) -> None:
    client = queue.AccountService(service.base_url, "not-the-token")
    assert await client.leave_queue("conv-1") == queue.UNAVAILABLE
    await client.close()
    nobody = queue.AccountService(f"http://127.0.0.1:{free_port()}", API_TOKEN)
    assert await nobody.leave_queue("conv-1") == queue.UNAVAILABLE
    await nobody.close()


def test_the_account_service_is_found_as_the_action_server_finds_it() -> None:
    configured = queue.AccountService.from_env(
        {"ACCOUNT_SERVICE_URL": "http://10.0.0.5:8000/", "ACCOUNT_API_TOKEN": "secret"}
    )
    assert configured.url == "http://10.0.0.5:8000/api/v1/handoffs/leave"
    local = queue.AccountService.from_env({"WEB_PORT": "8123"})
    assert local.url == "http://127.0.0.1:8123/api/v1/handoffs/leave"
