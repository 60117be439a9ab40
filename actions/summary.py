"""The summary before submission, and changing any answer at any time."""

from __future__ import annotations

from datetime import date
from typing import Any

import phonenumbers
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form_base import FIELD_ENTITIES, BaseFormValidation
from actions.identity import document_label
from actions.steps import announce_step

CHANGEABLE = FIELD_ENTITIES  # each field that can be changed at the summary


def readable_phone(e164: str | None) -> str:
    if not e164:
        return "—"
    number = phonenumbers.parse(e164, "FR")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def readable_date(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else "—"


def readable_siren(siren: str | None) -> str:
    return f"{siren[:3]} {siren[3:6]} {siren[6:]}" if siren else "—"


def readable_document(kind: str | None, country: str | None, references: list | None) -> str:
    if not references:
        return "—"
    files = "1 fichier" if len(references) == 1 else f"{len(references)} fichiers"
    return f"{document_label(kind, country)}, {files} reçu{'s' if len(references) > 1 else ''}"


class ActionAskSummaryConfirmed(Action):
    """Shows every answer and asks to confirm, change a line, or cancel."""

    def name(self) -> str:
        return "action_ask_summary_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slot = tracker.get_slot
        events = announce_step("summary_confirmed", dispatcher, tracker)
        dispatcher.utter_message(
            response="utter_summary",
            company_name=slot("company_name") or "—",
            siren=readable_siren(slot("siren")),
            contract_number=slot("contract_number") or "—",
            civility=slot("civility") or "",
            first_name=slot("first_name") or "",
            last_name=slot("last_name") or "",
            birth_date=readable_date(slot("birth_date")),
            mobile_phone=readable_phone(slot("mobile_phone")),
            job_title=slot("job_title") or "—",
            professional_email=slot("professional_email") or "—",
            professional_phone=readable_phone(slot("professional_phone")),
            document=readable_document(
                slot("id_document_type"), slot("id_document_country"), slot("id_document")
            ),
        )
        return events


class SummaryValidation(BaseFormValidation):
    """Extraction of `summary_confirmed` and of change requests; abstract mixin."""

    async def extract_summary_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """'Change my phone' clears that answer so the form asks it again; at the
        summary, 'yes' confirms and 'no' asks what to change."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        field = self.entity(tracker, "field")
        if intent == "change_field" or self._names_a_field(field, tracker):
            if field in CHANGEABLE and any(self.entity(tracker, e) for e in CHANGEABLE[field]):
                return {"summary_confirmed": None}  # the new value is validated as given
            if field in CHANGEABLE:
                # Its validator clears what depends on it (the company for a SIREN).
                return {field: None, "summary_confirmed": None}
            dispatcher.utter_message(response="utter_ask_field_to_change")
            return {"summary_confirmed": None}
        if tracker.get_slot("requested_slot") != "summary_confirmed":
            return {}
        if self.side_question_open(tracker) or self.already_answered(tracker):
            return {}  # a yes or a no to an advisor's offer, or to cancelling
        answer = self.yes_no(tracker)
        if answer is True:
            return {"summary_confirmed": True}
        if answer is False:
            dispatcher.utter_message(response="utter_ask_field_to_change")
            return {"summary_confirmed": None}
        return {}

    def _names_a_field(self, field: str | None, tracker: Tracker) -> bool:
        """« mon numéro de portable », to the summary or to « what to change? »: a field
        named without a yes or a no is the one to change, whatever the intent."""
        return (
            field in CHANGEABLE
            and tracker.get_slot("requested_slot") == "summary_confirmed"
            and not self.side_question_open(tracker)
            and not self.already_answered(tracker)
            and self.yes_no(tracker) is None
        )

    async def validate_summary_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Only an explicit 'yes' completes the form."""
        return {"summary_confirmed": True if value is True else None}
