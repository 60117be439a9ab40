"""Step 5 actions against the real account service: create, retry, cancel, resend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from actions.account import (
    ActionCancelRegistration,
    ActionResendActivation,
    ActionSubmitRegistration,
)
from actions.clients import account_service as client_module
from actions.clients.account_service import AccountServiceClient
from bot.web import keys
from tests.actions.conftest import said, slot, slot_events, tracker, user
from tests.bot.payloads import store_document
from tests.conftest import API_TOKEN, MovableClock, Service, free_port, start_service


def filled(document: str) -> list[dict[str, Any]]:
    """Every answer of the form, with `document` as the stored identity document."""
    return [*ANSWERS, slot("id_document", [document])]


ANSWERS = [
    slot("siren", "552100554"),
    slot("contract_number", "AB123456"),
    slot("company_name", "Maison Démo Industries SA"),
    slot("company_confirmed", True),
    slot("civility", "Mme"),
    slot("last_name", "Lefèvre"),
    slot("first_name", "Émilie"),
    slot("birth_date", "1984-03-12"),
    slot("mobile_phone", "+33612345678"),
    slot("job_title", "Directrice administrative"),
    slot("professional_email", "emilie.lefevre@exemple-industries.fr"),
    slot("professional_phone", "+33142685300"),
    slot("id_document_type", "cni"),
    slot("id_document_country", "FR"),
    slot("cgu_accepted", True),
    slot("cgu_accepted_at", "2026-11-26T10:15:00+00:00"),
    slot("summary_confirmed", True),
]


async def stored(service: Service) -> str:
    """The reference of an identity document stored for the test conversation."""
    return str((await store_document(service, conversation_id="conv-test"))["reference"])


async def run(action: Any, *events: dict[str, Any]) -> tuple[list[dict], list[str], Any]:
    dispatcher = CollectingDispatcher()
    result = await action.run(dispatcher, tracker(*events), {})
    return result, said(dispatcher), dispatcher


async def test_submission_creates_the_account_and_masks_the_email(
    live_client: AccountServiceClient, service: Service
) -> None:
    document = await stored(service)
    events, messages, dispatcher = await run(
        ActionSubmitRegistration(), *filled(document), user("oui")
    )
    slots = slot_events(events)
    assert slots["registration_status"] == "created"
    assert slots["registration_login"].startswith("EC")
    assert messages == ["utter_registration_created", "utter_ask_feedback"]
    assert dispatcher.messages[0]["email"] == "e***e@exemple-industries.fr"
    assert len(service.outbox_messages()) == 1


async def test_a_retried_submission_creates_one_account(
    live_client: AccountServiceClient, service: Service
) -> None:
    answers = filled(await stored(service))
    first, _, _ = await run(ActionSubmitRegistration(), *answers, user("oui"))
    key = slot_events(first)["registration_key"]
    again, _, _ = await run(
        ActionSubmitRegistration(), *answers, slot("registration_key", key), user("oui")
    )
    assert slot_events(again)["registration_login"] == slot_events(first)["registration_login"]
    assert len(service.outbox_messages()) == 1


async def test_service_down_keeps_everything_and_a_retry_works(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    port = free_port()
    client = AccountServiceClient(f"http://127.0.0.1:{port}", API_TOKEN, timeout=1, backoff=0.01)
    previous, client_module._client = client_module._client, client
    try:
        down, messages, _ = await run(
            ActionSubmitRegistration(), *filled("doc_pas_encore_envoye"), user("oui")
        )
        slots = slot_events(down)
        assert slots["registration_status"] == "unavailable"
        assert messages == ["utter_service_unavailable"]
        assert set(slots) == {"registration_key", "registration_status"}, "no answer lost"

        async with start_service(database_url, clock, tmp_path, port=port) as service:
            up, messages, _ = await run(
                ActionSubmitRegistration(),
                *filled(await stored(service)),
                slot("registration_key", slots["registration_key"]),
                user("oui"),
            )
            assert slot_events(up)["registration_status"] == "created"
    finally:
        client_module._client = previous
        await client.close()


async def test_an_email_taken_at_submission_is_asked_again(
    live_client: AccountServiceClient, service: Service
) -> None:
    await run(ActionSubmitRegistration(), *filled(await stored(service)), user("oui"))
    other = [*filled(await stored(service))]
    other += [slot("first_name", "Luc"), slot("birth_date", "1970-01-01")]
    other += [slot("siren", "534640974"), slot("contract_number", "AX258176")]
    events, messages, _ = await run(ActionSubmitRegistration(), *other, user("oui"))
    slots = slot_events(events)
    assert slots["professional_email"] is None and slots["summary_confirmed"] is None
    assert "une seule personne" in messages[0]
    assert any(e["event"] == "followup" and e["name"] == "registration_form" for e in events)


async def test_cancel_forgets_every_answer_and_the_document(
    live_client: AccountServiceClient, service: Service
) -> None:
    answers = filled(await stored(service))
    events, messages, _ = await run(ActionCancelRegistration(), *answers, user("annuler"))
    slots = slot_events(events)
    assert all(slots[event["name"]] is None for event in answers)
    async with service.app[keys.ENGINE].connect() as db:
        assert (await db.execute(text("SELECT count(*) FROM documents"))).scalar() == 0
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert messages == ["utter_registration_cancelled"]


async def test_resend_uses_the_registered_address(
    live_client: AccountServiceClient, service: Service
) -> None:
    answers = filled(await stored(service))
    await run(ActionSubmitRegistration(), *answers, user("oui"))
    _, messages, _ = await run(
        ActionResendActivation(), *answers, user("je n'ai pas reçu le mail", "email_not_received")
    )
    assert "Si un espace client" in messages[0]
    assert len(service.outbox_messages()) == 2


async def test_resend_asks_the_address_when_unknown(live_client: AccountServiceClient) -> None:
    events, messages, _ = await run(
        ActionResendActivation(), user("pas reçu de mail", "email_not_received")
    )
    assert messages == ["utter_ask_resend_email"]
    assert slot_events(events) == {"resend_requested": True}
