"""Offering a human advisor and handing over, run as the action server runs them."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionSubmitRegistration
from actions.clients.account_service import AccountServiceClient
from actions.handoff import (
    ActionAdvisorHandback,
    ActionDeclineHandoff,
    ActionHandoff,
    ActionOfferHandoff,
    handoff_request,
)
from actions.registration_form import ValidateRegistrationForm
from tests.actions.conftest import said, slot, slot_events, tracker, user

# Answers given before the user asked for an advisor, at the terms of use.
ANSWERS = {
    "siren": "552100554",
    "contract_number": "AB123456",
    "company_name": "Maison Démo Industries SA",
    "company_confirmed": True,
    "civility": "Mme",
    "last_name": "Lefèvre",
    "first_name": "Claire",
    "birth_date": "1979-05-14",
    "mobile_phone": "+33645127893",
    "job_title": "Gérante",
    "professional_email": "claire.lefevre@demo-industries.fr",
    "professional_phone": "+33142685300",
    "id_document_type": "cni",
    "id_document_country": "FR",
    "id_document": ["doc_recto_secret", "doc_verso_secret"],
}
PERSONAL = ("Lefèvre", "Claire", "1979", "+33645127893", "45127893", "claire.lefevre", "doc_")


def answered(**changes: Any) -> list[dict[str, Any]]:
    return [slot(name, value) for name, value in {**ANSWERS, **changes}.items()]


async def validate(domain: dict, *events: dict[str, Any]) -> tuple[dict, list[str]]:
    dispatcher = CollectingDispatcher()
    result = await ValidateRegistrationForm().run(dispatcher, tracker(*events), domain)
    return slot_events(result), said(dispatcher)


async def run(action: Any, domain: dict, *events: dict[str, Any]) -> tuple[list, list[str]]:
    dispatcher = CollectingDispatcher()
    result = await action.run(dispatcher, tracker(*events), domain)
    return result, said(dispatcher)


# The offer, and a yes or a no that answers it rather than the form.


async def test_asking_for_a_person_is_confirmed_first(domain: dict) -> None:
    events, messages = await run(
        ActionOfferHandoff(), domain, user("un humain svp", "request_human")
    )
    assert messages == ["utter_confirm_handoff"]
    assert slot_events(events) == {"handoff_offered": True, "handoff_reason": "user_request"}


@pytest.mark.parametrize("question", ["cgu_accepted", "company_confirmed", "summary_confirmed"])
async def test_a_yes_to_the_offer_is_not_a_yes_to_the_form(domain: dict, question: str) -> None:
    slots, messages = await validate(
        domain,
        *answered(),
        slot("requested_slot", question),
        slot("handoff_offered", True),
        user("oui", "affirm"),
    )
    assert question not in slots  # nothing extracted: the form lets the handoff rules answer
    assert messages == []


async def test_without_an_offer_a_yes_accepts_the_terms(domain: dict) -> None:
    slots, _ = await validate(
        domain, *answered(), slot("requested_slot", "cgu_accepted"), user("oui", "affirm")
    )
    assert slots["cgu_accepted"] is True


async def test_a_yes_to_the_offer_is_not_a_last_name(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        slot("requested_slot", "last_name"),
        slot("handoff_offered", True),
        user("oui d'accord", "affirm"),
    )
    assert "last_name" not in slots


async def test_answering_the_question_instead_drops_the_offer(domain: dict) -> None:
    slots, messages = await validate(
        domain,
        slot("requested_slot", "siren"),
        slot("failed_attempts", {"siren": 3}),
        slot("handoff_offered", True),
        user("552 100 554", entities={"siren": "552 100 554"}),
        slot("siren", "552 100 554"),
    )
    assert slots["siren"] == "552100554"
    assert slots["handoff_offered"] is None
    assert messages == []


async def test_third_failure_offers_an_advisor(domain: dict) -> None:
    slots, messages = await validate(
        domain, slot("failed_attempts", {"siren": 2}), slot("requested_slot", "siren"), user("123")
    )
    assert messages[1:] == ["utter_offer_advisor"]
    assert (slots["handoff_offered"], slots["handoff_reason"]) == (True, "repeated_failures")


async def test_contract_check_with_the_service_down_offers_an_advisor(
    domain: dict, unreachable_client: AccountServiceClient
) -> None:
    slots, messages = await validate(
        domain,
        slot("siren", "552100554"),
        slot("requested_slot", "contract_number"),
        user("AB123456", entities={"contract_number": "AB123456"}),
        slot("contract_number", "AB123456"),
    )
    assert slots["contract_number"] is None
    assert "siren" not in slots  # the SIREN given is kept
    assert "indisponible" in messages[0]
    assert messages[1:] == ["utter_offer_advisor"]
    assert (slots["handoff_offered"], slots["handoff_reason"]) == (True, "service_unavailable")


# The outage at submission.


async def test_a_failed_retry_at_submission_offers_an_advisor(
    domain: dict, unreachable_client: AccountServiceClient
) -> None:
    first, first_said = await run(ActionSubmitRegistration(), domain, *answered())
    retry, retry_said = await run(
        ActionSubmitRegistration(), domain, *answered(), *first, user("oui", "affirm")
    )
    assert first_said == ["utter_service_unavailable"]
    assert slot_events(first)["registration_status"] == "unavailable"
    assert retry_said == ["utter_offer_advisor_after_outage"]
    assert slot_events(retry)["handoff_offered"] is True
    assert slot_events(retry)["registration_status"] is None
    declined, declined_said = await run(
        ActionDeclineHandoff(),
        domain,
        *answered(summary_confirmed=True),
        *retry,
        user("non", "deny"),
    )
    assert declined_said == ["utter_handoff_declined_outage"]
    assert slot_events(declined)["registration_status"] == "unavailable"  # a yes retries


async def test_a_no_inside_the_form_carries_on(domain: dict) -> None:
    events, messages = await run(
        ActionDeclineHandoff(), domain, slot("handoff_offered", True), user("non", "deny")
    )
    assert messages == ["utter_handoff_declined"]
    assert slot_events(events) == {"handoff_offered": None, "handoff_reason": None}


# The summary sent to the support cell.


def test_summary_masks_personal_data_and_never_names_the_document() -> None:
    request = handoff_request(
        tracker(*answered(), slot("requested_slot", "cgu_accepted"), user("un humain")),
        "user_request",
    )
    text = repr(request)
    for value in PERSONAL:
        assert value not in text
    fields = {field["label"]: field["value"] for field in request["summary"]["fields"]}
    assert fields["Nom"] == "L••••••"
    assert fields["E-mail professionnel"] == "c***e@demo-industries.fr"
    assert fields["Téléphone portable"] == "+33 •• •• •• 93"
    assert fields["Pièce d'identité"] == "carte nationale d'identité reçue"
    assert request["summary"]["company"] == "Maison Démo Industries SA (SIREN 552 100 554)"
    assert (
        "1 (entreprise), 2 (identité), 3 (coordonnées professionnelles)"
        in (request["summary"]["done"])
    )
    assert "Acceptation des CGU" in request["summary"]["blocking"]


async def test_handback_inside_the_form_says_the_assistant_is_back(domain: dict) -> None:
    events, messages = await run(
        ActionAdvisorHandback(),
        domain,
        slot("handoff_status", "queued"),
        user("", "EXTERNAL_advisor_handback"),
    )
    assert messages == ["utter_back_with_assistant_in_form"]
    assert slot_events(events) == {"handoff_status": None}


async def test_handoff_with_the_service_down_gives_the_support_address(
    domain: dict, unreachable_client: AccountServiceClient
) -> None:
    events, messages = await run(
        ActionHandoff(), domain, slot("handoff_offered", True), user("oui", "affirm")
    )
    assert messages == ["utter_handoff_unavailable"]
    assert slot_events(events) == {"handoff_offered": None, "handoff_status": "unavailable"}
    assert not any(event["event"] == "pause" for event in events)
