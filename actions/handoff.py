"""Handing a conversation to a human advisor of the support cell, and taking it back.

An offer comes first (`action_offer_handoff` when the user asks; the validators after
three failures or an outage; `actions.conversation` after repeated misunderstanding); a yes
runs `action_handoff`, which sends the account service a summary with personal data
masked (never the document) and either pauses the conversation for an advisor or,
outside opening hours, leaves a ticket. The agent console hands back with the external
intent `EXTERNAL_advisor_handback`, answered by `action_advisor_handback`.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.clients.account_service import AccountServiceError, account_service, client_address
from actions.config import support_contact
from actions.form_base import offer_advisor, slot_events
from actions.identity import document_label
from actions.summary import readable_siren
from bot.identifiers import mask_email

log = logging.getLogger(__name__)

# What each question asks, in the advisor's summary.
FIELD_LABELS = {
    "siren": "SIREN",
    "contract_number": "Numéro de contrat",
    "company_confirmed": "Confirmation de l'entreprise",
    "civility": "Civilité",
    "last_name": "Nom",
    "first_name": "Prénom",
    "birth_date": "Date de naissance",
    "mobile_phone": "Téléphone portable",
    "job_title": "Fonction",
    "professional_email": "E-mail professionnel",
    "professional_phone": "Téléphone professionnel",
    "id_document_type": "Type de pièce d'identité",
    "id_document_country": "Pays de délivrance",
    "id_document": "Pièce d'identité",
    "cgu_accepted": "Acceptation des CGU",
    "summary_confirmed": "Récapitulatif",
}
# The five steps, each done once its last slot is filled.
STEPS = (
    ("1 (entreprise)", "company_confirmed"),
    ("2 (identité)", "mobile_phone"),
    ("3 (coordonnées professionnelles)", "professional_phone"),
    ("4 (pièce d'identité et CGU)", "cgu_accepted"),
    ("5 (création du compte)", "registration_login"),
)
BLOCKING = {
    "user_request": "Le représentant a demandé à parler à un conseiller",
    "repeated_failures": "Réponse refusée plusieurs fois",
    "service_unavailable": "Le service d'inscription ne répondait pas",
    "misunderstanding": "L'assistant n'a pas compris plusieurs messages de suite",
    "registration_refused": "Le service a refusé la création du compte",
}


def mask_name(name: str) -> str:
    """'Durand' → 'D•••••': enough to recognise a person named by the user, no more."""
    return name[:1] + "•" * max(len(name) - 1, 2)


def mask_phone(e164: str) -> str:
    """'+33612345678' → '+33 •• •• •• 78'."""
    return f"{e164[:3]} •• •• •• {e164[-2:]}"


def mask_contract(number: str) -> str:
    return number[:2] + "•" * max(len(number) - 4, 2) + number[-2:]


def masked_fields(tracker: Tracker) -> list[dict[str, str]]:
    """The answers given so far, with personal data masked; the document by its type only."""
    slot = tracker.get_slot
    shown: list[tuple[str, str | None]] = [
        ("siren", readable_siren(slot("siren")) if slot("siren") else None),
        ("contract_number", slot("contract_number") and mask_contract(slot("contract_number"))),
        ("civility", slot("civility")),
        ("last_name", slot("last_name") and mask_name(slot("last_name"))),
        ("first_name", slot("first_name") and mask_name(slot("first_name"))),
        ("birth_date", "renseignée" if slot("birth_date") else None),
        ("mobile_phone", slot("mobile_phone") and mask_phone(slot("mobile_phone"))),
        ("job_title", slot("job_title")),
        (
            "professional_email",
            slot("professional_email") and mask_email(slot("professional_email")),
        ),
        (
            "professional_phone",
            slot("professional_phone") and mask_phone(slot("professional_phone")),
        ),
        (
            "id_document",
            f"{document_label(slot('id_document_type'), slot('id_document_country'))} reçue"
            if slot("id_document")
            else None,
        ),
        ("cgu_accepted", "acceptées" if slot("cgu_accepted") else None),
    ]
    return [{"label": FIELD_LABELS[name], "value": value} for name, value in shown if value]


def progress(tracker: Tracker) -> str:
    done = [label for label, last_slot in STEPS if tracker.get_slot(last_slot)]
    if not done:
        return "Aucune étape terminée."
    return "Étapes terminées : " + ", ".join(done) + "."


def blocking(tracker: Tracker, reason: str) -> str:
    """What stopped the user, in the advisor's words."""
    text = BLOCKING.get(reason, BLOCKING["user_request"])
    if reason == "repeated_failures":
        failures = tracker.get_slot("failed_attempts") or {}
        if failures:
            field, count = max(failures.items(), key=lambda item: item[1])
            return f"{text} : « {FIELD_LABELS.get(field, field)} » ({count} essais)."
    asked = tracker.get_slot("requested_slot")
    if asked in FIELD_LABELS and tracker.active_loop.get("name"):
        return f"{text}, à la question « {FIELD_LABELS[asked]} »."
    return f"{text}."


def handoff_request(tracker: Tracker, reason: str) -> dict[str, Any]:
    company = tracker.get_slot("company_name")
    siren = tracker.get_slot("siren")
    return {
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel(),
        "reason": reason,
        "summary": {
            "company": f"{company} (SIREN {readable_siren(siren)})" if company and siren else None,
            "done": progress(tracker),
            "blocking": blocking(tracker, reason),
            "fields": masked_fields(tracker),
        },
    }


def queue_position(position: int | None) -> str:
    if not position or position <= 1:
        return "Vous êtes le prochain dans la file d'attente."
    if position == 2:
        return "Une personne attend avant vous."
    return f"{position - 1} personnes attendent avant vous."


class ActionOfferHandoff(Action):
    """The user asks for a person: confirm before handing over (asking again is a yes)."""

    def name(self) -> str:
        return "action_offer_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("handoff_offered"):
            # Asked again while the offer is open: that is a yes.
            return [FollowupAction("action_handoff")]
        offer = offer_advisor(dispatcher, "user_request", response="utter_confirm_handoff")
        return slot_events(offer)


class ActionHandoff(Action):
    """A yes to the offer: queue for an advisor and pause, or leave a ticket."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = tracker.get_slot("handoff_reason") or "user_request"
        done: list[EventType] = [SlotSet("handoff_offered", None)]
        try:
            handoff = await account_service().create_handoff(
                handoff_request(tracker, reason),
                client_address=client_address(tracker.latest_message),
            )
        except AccountServiceError as problem:
            log.warning("handoff not recorded: %s", problem.code)
            dispatcher.utter_message(
                response="utter_handoff_unavailable", contact=support_contact()
            )
            return [*done, SlotSet("handoff_status", "unavailable")]
        log.info("handoff %s: %s (%s)", handoff.reference, handoff.status, reason)
        metrics.handed_off(reason)
        if handoff.status in ("queued", "active"):  # active: an advisor already has it
            dispatcher.utter_message(
                response="utter_handoff_queued", position_text=queue_position(handoff.position)
            )
            return [*done, SlotSet("handoff_status", "queued"), ConversationPaused()]
        dispatcher.utter_message(
            response="utter_handoff_ticket", opens_at=handoff.opens_at_text or "que possible"
        )
        return [*done, SlotSet("handoff_status", "ticket")]


class ActionDeclineHandoff(Action):
    """A no to the offer: carry on; after an outage at submission, a retry stays possible."""

    def name(self) -> str:
        return "action_decline_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [
            SlotSet("handoff_offered", None),
            SlotSet("handoff_reason", None),
        ]
        # Only the submission has a confirmed summary behind it: a no keeps its retry.
        submitted = tracker.get_slot("summary_confirmed")
        if tracker.get_slot("handoff_reason") == "service_unavailable" and submitted:
            dispatcher.utter_message(response="utter_handoff_declined_outage")
            return [*events, SlotSet("registration_status", "unavailable")]
        dispatcher.utter_message(response="utter_handoff_declined")
        return events


class ActionAdvisorHandback(Action):
    """The advisor handed back (the console resumed the conversation): say so."""

    def name(self) -> str:
        return "action_advisor_handback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        in_form = bool(tracker.active_loop.get("name"))
        dispatcher.utter_message(
            response="utter_back_with_assistant_in_form" if in_form else "utter_back_with_assistant"
        )
        return [SlotSet("handoff_status", None)]
