"""Shared machinery of form validation: failure counting, help, free-text answers."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import metrics

# Intents whose text never answers the question the form asked: digressions answered
# by a rule, and requests handled by the validators themselves.
DIGRESSIONS = frozenset(
    {
        "ask_contract_number",
        "ask_why_needed",
        "ask_data_protection",
        "ask_accepted_documents",
        "ask_next_steps",
        "ask_activation_delay",
        "email_not_received",
        "request_human",
        "bot_challenge",
        "cancel",
        "greet",
        "thank",
        "goodbye",
        "change_field",
        # A correction names the field it changes: its text answers no other question.
        "correct",
        "EXTERNAL_advisor_handback",
    }
)
# Answers to a yes-or-no question; while an advisor is offered, they answer the offer.
YES_NO = frozenset({"affirm", "deny"})
MAX_FAILURES = 3
# Questions answered with a document, a country or a yes: a name or a job title read in
# such an answer ("France" taken for a first name) is not one, unless the field is named.
NOT_A_PERSON_QUESTION = frozenset(
    {"id_document_type", "id_document_country", "id_document", "cgu_accepted"}
)
# Slots that the NLU fills from any message, and that such a misreading would overwrite.
PERSON_WORDS = ("first_name", "last_name", "job_title")
_LEAD_IN = re.compile(
    r"^(?:(?:c'est|c’est|je m'appelle|je m’appelle|je suis|mon nom est|mon prénom est|"
    r"nom|prénom|moi c'est|il s'agit de)\s*:?\s+)",
    re.IGNORECASE,
)


class BaseFormValidation(FormValidationAction, ABC):
    """Base of the form validators; abstract, so the executor does not register it.

    Subclasses call `refuse(slot, message, ...)` from a `validate_<slot>` method to
    explain the problem (and count it: `reason`, by default `invalid_<slot>`), keep every
    other slot, and after three failures on the same
    slot add the help for that field and the offer of a human advisor; `accept(slot,
    value, tracker)` clears the slot's failure count. While an advisor is offered, a
    yes or a no answers the offer (rules in data/rules/handoff.yml), not the form.
    """

    @abstractmethod
    def name(self) -> str:
        """The concrete form's validation action, `validate_<form name>`."""

    @staticmethod
    def failures(tracker: Tracker) -> dict[str, int]:
        return dict(tracker.get_slot("failed_attempts") or {})

    def refuse(
        self,
        slot: str,
        message: str,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        reason: str | None = None,
    ) -> dict[str, Any]:
        metrics.refused(reason or f"invalid_{slot}")  # a service's code, else the slot's
        counts = self.failures(tracker)
        counts[slot] = counts.get(slot, 0) + 1
        dispatcher.utter_message(text=message)
        if counts[slot] >= MAX_FAILURES:
            dispatcher.utter_message(response=f"utter_help_{slot}")
            return {
                slot: None,
                "failed_attempts": counts,
                **offer_advisor(dispatcher, "repeated_failures"),
            }
        return {slot: None, "failed_attempts": counts, **self.offer_dropped(tracker)}

    def accept(self, slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        counts = self.failures(tracker)
        counts.pop(slot, None)
        return {slot: value, "failed_attempts": counts, **self.offer_dropped(tracker)}

    @staticmethod
    def offer_dropped(tracker: Tracker) -> dict[str, Any]:
        """An answer to the form's question instead of to an advisor's offer ends the offer."""
        return {"handoff_offered": None} if tracker.get_slot("handoff_offered") else {}

    @staticmethod
    def yes_or_no(slot: str, tracker: Tracker) -> dict[str, Any]:
        """`slot` from a yes or a no to its own question (not to an advisor's offer)."""
        if tracker.get_slot("requested_slot") != slot or tracker.get_slot("handoff_offered"):
            return {}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent not in YES_NO:
            return {}
        return {slot: intent == "affirm"}

    @staticmethod
    def answer_text(slot: str, tracker: Tracker) -> str | None:
        """The raw text of the latest message when it answers `slot`'s question."""
        if tracker.get_slot("requested_slot") != slot:
            return None
        message = tracker.latest_message or {}
        text = (message.get("text") or "").strip()
        intent = (message.get("intent") or {}).get("name")
        if not text or text.startswith("/") or intent in DIGRESSIONS:
            return None
        if intent in YES_NO and tracker.get_slot("handoff_offered"):
            return None
        return text

    def text_answer(
        self,
        slot: str,
        tracker: Tracker,
        entities: Iterable[str],
        tidy: Callable[[str], str] | None = None,
    ) -> dict[str, Any]:
        """`slot` from the text of an answer to its question that carries none of `entities`.

        When one of those entities is in the message the domain's slot mapping fills
        the slot, so this gives nothing; `tidy` cleans the text ('je suis gérant' →
        'gérant').
        """
        if any(self.entity(tracker, name) for name in entities):
            return {}
        text = self.answer_text(slot, tracker)
        if not text:
            return {}
        return {slot: tidy(text) if tidy else text}

    @staticmethod
    def previous_value(tracker: Tracker, slot: str) -> Any:
        """`slot` as it was before this message (extraction has already changed it)."""
        before_message = False
        for event in reversed(tracker.events):
            before_message = before_message or event.get("event") == "user"
            if before_message and event.get("event") == "slot" and event.get("name") == slot:
                return event.get("value")
        return None

    def misread(self, slot: str, tracker: Tracker) -> bool:
        """`slot` (a name or a job title) was filled from a word of a message that does not
        give it: the answer to a document question that does not name the field, or one
        word read both as a name and as a job title ("Charlotte")."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if tracker.get_slot("requested_slot") == slot or intent in ("correct", "change_field"):
            return False
        if self.entity(tracker, "field") == slot:
            return False
        if tracker.get_slot("requested_slot") in NOT_A_PERSON_QUESTION:
            return True
        value = self.entity(tracker, slot)
        if value is None:
            return False
        asked = tracker.get_slot("requested_slot")
        whole_answer = (tracker.latest_message.get("text") or "").strip().casefold()
        return (asked in PERSON_WORDS and value.strip().casefold() == whole_answer) or any(
            other != slot and self.entity(tracker, other) == value for other in PERSON_WORDS
        )

    @staticmethod
    def entity(tracker: Tracker, name: str) -> str | None:
        return next(tracker.get_latest_entity_values(name), None)

    @staticmethod
    def strip_lead_in(text: str) -> str:
        """'je m'appelle Luc' → 'Luc'."""
        return _LEAD_IN.sub("", text.strip()).strip(" .!")

    def phone_answer(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        """A phone entity or the text, when asked for `slot` or when the user names it."""
        named = self.entity(tracker, "field") == slot
        if tracker.get_slot("requested_slot") != slot and not named:
            return {}
        phone = self.entity(tracker, "phone")
        if phone:
            return {slot: phone}
        text = self.answer_text(slot, tracker)
        return {slot: text} if text else {}


def offer_advisor(
    dispatcher: CollectingDispatcher, reason: str, response: str = "utter_offer_advisor"
) -> dict[str, Any]:
    """Offer a human advisor; a yes then hands over (`action_handoff`), a no carries on."""
    dispatcher.utter_message(response=response)
    return {"handoff_offered": True, "handoff_reason": reason}


def slot_events(values: dict[str, Any]) -> list[SlotSet]:
    """SlotSet events of a validator-style result, for a plain action."""
    return [SlotSet(slot, value) for slot, value in values.items()]
