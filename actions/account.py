"""Step 5 and after: create the account, cancel, resend the activation e-mail."""

from __future__ import annotations

import uuid
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.clients.account_service import (
    AccountServiceError,
    ServiceUnavailable,
    account_service,
)
from actions.config import CGU_VERSION
from actions.form_base import offer_advisor, slot_events

REGISTRATION_SLOTS = (
    "siren",
    "contract_number",
    "company_name",
    "company_confirmed",
    "civility",
    "last_name",
    "first_name",
    "birth_date",
    "mobile_phone",
    "job_title",
    "professional_email",
    "professional_phone",
    "id_document_type",
    "id_document_country",
    "id_document",
    "id_document_front",
    "pending_attachments",
    "cgu_accepted",
    "cgu_accepted_at",
    "summary_confirmed",
    "failed_attempts",
    "pending_role_email",
    "registration_key",
    "registration_login",
    "registration_status",
    "announced_step",
    "misunderstood",
    "last_answer",
    "cancel_requested",
    "handoff_offered",
    "handoff_reason",
    "feedback_asked",
    "feedback_useful",
    "feedback_comment_awaited",
)

# What to ask again when the service refuses a value at submission.
REASKED_ON = {
    "email_taken": ("professional_email",),
    "company_not_verified": ("contract_number", "company_name", "company_confirmed"),
    # The document was purged (a registration resumed after its retention): only it is
    # asked again, inside the form.
    "document_unavailable": ("id_document", "id_document_front", "pending_attachments"),
}
# Refusals answered with the assistant's own words rather than the service's message.
REFUSAL_RESPONSES = {"document_unavailable": "utter_document_asked_again"}


def registration_payload(tracker: Tracker) -> dict[str, Any]:
    slot = tracker.get_slot
    return {
        "company": {"siren": slot("siren"), "contract_number": slot("contract_number")},
        "person": {
            "civility": slot("civility"),
            "last_name": slot("last_name"),
            "first_name": slot("first_name"),
            "birth_date": slot("birth_date"),
            "mobile_phone": slot("mobile_phone"),
        },
        "professional": {
            "job_title": slot("job_title"),
            "email": slot("professional_email"),
            "phone": slot("professional_phone"),
        },
        "documents": slot("id_document") or [],
        "cgu": {"version": CGU_VERSION, "accepted": True, "accepted_at": slot("cgu_accepted_at")},
        "conversation_id": tracker.sender_id[:100],
    }


class ActionSubmitRegistration(Action):
    """Creates the account; a retry reuses the idempotency key, so one account at most."""

    def name(self) -> str:
        return "action_submit_registration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        key = tracker.get_slot("registration_key") or f"{tracker.sender_id[:60]}:{uuid.uuid4()}"
        events: list[EventType] = [SlotSet("registration_key", key)]
        try:
            created = await account_service().create_registration(
                registration_payload(tracker), key
            )
        except ServiceUnavailable:
            if tracker.get_slot("registration_status") != "unavailable":
                dispatcher.utter_message(response="utter_service_unavailable")
                return [*events, SlotSet("registration_status", "unavailable")]
            # The retry failed too: offer an advisor (a no keeps the retry possible).
            offer = offer_advisor(
                dispatcher, "service_unavailable", response="utter_offer_advisor_after_outage"
            )
            return [*events, SlotSet("registration_status", None), *slot_events(offer)]
        except AccountServiceError as refusal:
            metrics.refused(refusal.code)
            if refusal.code in REFUSAL_RESPONSES:
                dispatcher.utter_message(response=REFUSAL_RESPONSES[refusal.code])
            else:
                dispatcher.utter_message(text=refusal.message)
            reasked = REASKED_ON.get(refusal.code)
            if reasked is None:
                offer = offer_advisor(dispatcher, "registration_refused")
                return [*events, SlotSet("registration_status", "refused"), *slot_events(offer)]
            # A new key: the corrected request is a different registration.
            return [
                SlotSet("registration_key", None),
                SlotSet("registration_status", "refused"),
                SlotSet("summary_confirmed", None),
                *(SlotSet(slot, None) for slot in reasked),
                FollowupAction("registration_form"),
            ]
        dispatcher.utter_message(response="utter_registration_created", email=created.email_masked)
        dispatcher.utter_message(response="utter_ask_feedback")
        return [
            *events,
            SlotSet("registration_login", created.login),
            SlotSet("registration_status", "created"),
            SlotSet("feedback_asked", True),
        ]


class ActionRetryRegistration(ActionSubmitRegistration):
    """The same submission, retried after an outage (its own name: its rules differ)."""

    def name(self) -> str:
        return "action_retry_registration"


class ActionCancelRegistration(Action):
    """Stops the form and erases the conversation: the tracker store deletes its events
    (channels/tracker_store.py, on the marker below), the account service its unclaimed
    documents, uploads and closed handoffs. An account already created stays (the person
    may erase it on request, README « Données personnelles »). The message says what
    went."""

    def name(self) -> str:
        return "action_cancel_registration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        created = tracker.get_slot("registration_status") == "created"
        sent_document = bool(
            tracker.get_slot("id_document") or tracker.get_slot("id_document_front")
        )
        erased = await account_service().erase_conversation(tracker.sender_id)
        if created:
            what = (
                "vos réponses ; votre espace client déjà créé est conservé (sans activation, "
                "il est supprimé au bout de 30 jours)"
            )
        elif sent_document and erased is not None:
            what = "vos réponses et le document d'identité que vous aviez envoyé"
        elif sent_document:
            what = (
                "vos réponses ; le document d'identité envoyé sera supprimé automatiquement d'ici "
                "sept jours"
            )
        else:
            what = "vos réponses"
        dispatcher.utter_message(response="utter_registration_cancelled", erased=what)
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *(SlotSet(slot, None) for slot in REGISTRATION_SLOTS),
            # Rasa's `restart` event, marked: the tracker store then deletes every stored
            # event of the conversation, and Rasa starts a new session, as after /restart.
            {"event": "restart", "timestamp": None, "metadata": {"erase": True}},
        ]


class ActionResendActivation(Action):
    """Asks the service for a new activation e-mail, to the address given or registered."""

    def name(self) -> str:
        return "action_resend_activation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        email = next(tracker.get_latest_entity_values("email"), None) or tracker.get_slot(
            "professional_email"
        )
        if not email:
            dispatcher.utter_message(response="utter_ask_resend_email")
            return [SlotSet("resend_requested", True)]
        try:
            answer = await account_service().resend_activation(email)
        except ServiceUnavailable:
            dispatcher.utter_message(response="utter_service_unavailable_resend")
            return [SlotSet("resend_requested", False)]
        except AccountServiceError as refusal:
            dispatcher.utter_message(text=refusal.message)
            return [SlotSet("resend_requested", True)]
        dispatcher.utter_message(text=answer)
        dispatcher.utter_message(response="utter_resend_advice")
        return [SlotSet("resend_requested", False)]
