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
from actions.steps import STEP_OF_SLOT
from actions.yes_no import lexical_yes_no, reply_yes_no, yes_no_answer

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
        "EXTERNAL_queue_left",
        "EXTERNAL_handoff_ticket",
        "ask_siren_location",
        "no_contract",
        "continue_registration",
        "start_registration",
        "speak_english",
        "leave_queue",
        "ask_video",
        "ask_contact",
    }
)
# Answers to a yes-or-no question; while an advisor is offered or a cancellation is to be
# confirmed, they answer that question instead.
YES_NO = frozenset({"affirm", "deny"})
# Questions put between the form's questions, each waiting for its own yes or no.
SIDE_QUESTIONS = ("handoff_offered", "cancel_requested")
# What may be said to a message before the form reads it: the registration's start (an
# opening message that gives data is read by the form it starts). After any other
# answer (a digression, an advisor's ticket), the form asks its question again and does
# not read the message a second time: a « oui » to an advisor is not a « oui » to the CGU.
SAID_BEFORE_READING = frozenset({"utter_start_registration"})
MAX_FAILURES = 3
# Each field, with the entities that carry a value for it (a field that can be changed).
FIELD_ENTITIES = {
    "siren": ("siren", "siret"),
    "contract_number": ("contract_number",),
    "civility": ("civility",),
    "last_name": ("last_name",),
    "first_name": ("first_name",),
    "birth_date": ("date",),
    "mobile_phone": ("phone",),
    "job_title": ("job_title",),
    "professional_email": ("email",),
    "professional_phone": ("phone",),
    # Changing the document starts step 4 again (its validator clears it all).
    "id_document": (),
}
# Questions answered with a document, a country or a yes: a name or a job title read in
# such an answer ("France" taken for a first name) is not one, unless the field is named.
NOT_A_PERSON_QUESTION = frozenset(
    {"id_document_type", "id_document_country", "id_document", "cgu_accepted"}
)
# Slots that the NLU fills from any message, and that such a misreading would overwrite.
PERSON_WORDS = ("first_name", "last_name", "job_title")
PHONE_SLOTS = frozenset({"mobile_phone", "professional_phone"})
# Words that are never a name on their own. The NLU may read a capitalised word that
# starts a sentence as a name: « Notre numéro de contrat est le … » gave the first name
# « Notre » and the surname « Le ».
NOT_A_NAME = frozenset(
    """le la les l un une des du de d au aux mon ma mes ton ta tes son sa ses notre nos
    votre vos leur leurs ce cet cette ces ça cela je j tu il elle on nous vous ils elles
    moi toi lui et ou mais donc car ni or à a en dans par pour sur avec sans sous chez
    vers est c qui que qu quel quelle oui non bonjour bonsoir merci alors voici voilà
    madame monsieur mme mr m mlle""".split()
)
_NAME_WORDS = re.compile(r"[\s'’-]+")
_LEAD_IN = re.compile(
    r"^(?:(?:c'est|c’est|je m'appelle|je m’appelle|je suis|mon nom est|mon prénom est|"
    r"nom|prénom|moi c'est|il s'agit de)\s*:?\s+)",
    re.IGNORECASE,
)


class BaseFormValidation(FormValidationAction, ABC):
    """Base of the form validators; abstract, so the executor does not register it.

    Subclasses call `refuse(slot, message, ...)` from a `validate_<slot>` method to
    explain the problem (and count it: `reason`, by default `invalid_<slot>`), keep every
    other slot, add the help for that field at the second failure on the same slot and
    the offer of a human advisor from the third; `accept(slot,
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
        if counts[slot] == MAX_FAILURES - 1:
            dispatcher.utter_message(response=f"utter_help_{slot}")
        if counts[slot] >= MAX_FAILURES:
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
        """An answer to the form's question instead of to an advisor's offer (or to « do
        you really want to cancel? ») ends that side question."""
        return {name: None for name in SIDE_QUESTIONS if tracker.get_slot(name)}

    @staticmethod
    def side_question_open(tracker: Tracker) -> bool:
        return any(tracker.get_slot(name) for name in SIDE_QUESTIONS)

    @staticmethod
    def already_answered(tracker: Tracker) -> bool:
        """The latest message got its answer before the form ran (see SAID_BEFORE_READING)."""
        for event in reversed(tracker.events):
            if event.get("event") == "user":
                return False
            said = (event.get("metadata") or {}).get("utter_action")
            if event.get("event") == "bot" and said not in SAID_BEFORE_READING:
                return True
        return False

    def yes_or_no(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        """`slot` from a yes or a no to its own question (not to a side question): the
        intent, or the words when they say it clearly (actions/yes_no.py)."""
        if tracker.get_slot("requested_slot") != slot or self.side_question_open(tracker):
            return {}
        if self.already_answered(tracker):
            return {}
        answer = self.yes_no(tracker)
        return {} if answer is None else {slot: answer}

    @staticmethod
    def yes_no(tracker: Tracker) -> bool | None:
        """The latest message's yes or no (actions/yes_no.py)."""
        return reply_yes_no(tracker.latest_message or {})

    @staticmethod
    def answer_text(slot: str, tracker: Tracker) -> str | None:
        """The raw text of the latest message when it answers `slot`'s question."""
        if tracker.get_slot("requested_slot") != slot:
            return None
        if BaseFormValidation.already_answered(tracker):
            return None
        message = tracker.latest_message or {}
        text = (message.get("text") or "").strip()
        intent = (message.get("intent") or {}).get("name")
        if not text or text.startswith("/"):
            return None
        if intent in DIGRESSIONS and not BaseFormValidation.corrects_the_answer(slot, message):
            return None
        if BaseFormValidation.side_question_open(tracker) and (
            intent in YES_NO or yes_no_answer(message) is not None
        ):
            return None  # the answer to an advisor's offer or to cancelling
        if lexical_yes_no(text) is not None:
            return None  # « oui », « non merci » answer no question asking for a text
        return text

    @staticmethod
    def corrects_the_answer(slot: str, message: dict[str, Any]) -> bool:
        """A « correction » that names no other field and gives no other field's value
        answers the question asked: « je suis office manager » to the job title's."""
        intent = (message.get("intent") or {}).get("name")
        fields = {
            entity.get("value")
            for entity in message.get("entities") or []
            if entity.get("entity") == "field"
        }
        values = {
            entity.get("entity")
            for entity in message.get("entities") or []
            if entity.get("entity") != "field"
        }
        own = set(FIELD_ENTITIES.get(slot, ()))
        return intent == "correct" and fields <= {slot} and values <= own

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
        word read both as a name and as a job title ("Charlotte"), or words that are never
        a name ("Notre")."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        asked = tracker.get_slot("requested_slot")
        if asked == slot:
            return False
        value = self.entity(tracker, slot)
        if self._only_common_words(value):
            return True
        if intent in ("correct", "change_field") or self.entity(tracker, "field") == slot:
            return False
        if asked in NOT_A_PERSON_QUESTION:
            return True
        if value is None:
            return False
        text = tracker.latest_message.get("text") or ""
        # « Mon prénom est Chantal. », to the first name's question: the whole answer is
        # that name, whatever else the NLU read it as.
        whole_answer = {text.strip().casefold(), self.strip_lead_in(text).casefold()}
        return (asked in PERSON_WORDS and value.strip().casefold() in whole_answer) or any(
            other != slot and self.entity(tracker, other) == value for other in PERSON_WORDS
        )

    @staticmethod
    def _only_common_words(value: str | None) -> bool:
        words = [word for word in _NAME_WORDS.split((value or "").casefold()) if word]
        return bool(words) and all(word in NOT_A_NAME for word in words)

    def corrects(self, slot: str, tracker: Tracker) -> bool:
        """The message names `slot`, or says it corrects an answer."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        named = slot in set(tracker.get_latest_entity_values("field"))
        return named or intent in ("correct", "change_field")

    @staticmethod
    def entity(tracker: Tracker, name: str) -> str | None:
        return next(tracker.get_latest_entity_values(name), None)

    @staticmethod
    def strip_lead_in(text: str) -> str:
        """'je m'appelle Luc' → 'Luc'."""
        return _LEAD_IN.sub("", text.strip()).strip(" .!")

    def phone_answer(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        """A phone entity or the text, when asked for `slot` or when the user names it."""
        fields = set(tracker.get_latest_entity_values("field"))
        named = slot in fields  # « je me suis trompée de numéro, mon portable … »
        phone = self.entity(tracker, "phone")
        asked = tracker.get_slot("requested_slot")
        # A step given in one message (« gérant, …, ligne directe 02 … »): the number
        # belongs to the step's phone, even though another of its questions was asked.
        same_step = (
            phone is not None
            and STEP_OF_SLOT.get(asked) == STEP_OF_SLOT[slot]
            and tracker.get_slot(slot) is None
            and not self.already_answered(tracker)
            and not fields & (PHONE_SLOTS - {slot})
        )
        if asked != slot and not named and not same_step:
            return {}
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
