"""The form's questions, each preceded by its step's announcement the first time.

« Étape 2 sur 5 — vos coordonnées personnelles. », with the numbering of the insurer's
page: the terms of use belong to step 4, and step 5 is the activation e-mail (announced
with the account's creation). A step is announced once, when the form first reaches
it; going back to correct an answer announces nothing.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

STEP_OF_SLOT = {
    "siren": 1,
    "contract_number": 1,
    "company_confirmed": 1,
    "civility": 2,
    "last_name": 2,
    "first_name": 2,
    "birth_date": 2,
    "mobile_phone": 2,
    "job_title": 3,
    "professional_email": 3,
    "professional_phone": 3,
    "id_document_type": 4,
    "id_document_country": 4,
    "id_document": 4,
    "cgu_accepted": 4,
    "summary_confirmed": 4,
}
# Questions with an ask action of their own (actions/identity.py, consent.py, summary.py);
# the others are asked by their plain response.
OWN_ASK_ACTION = frozenset({"id_document", "cgu_accepted", "summary_confirmed"})
PLAIN_QUESTIONS = tuple(slot for slot in STEP_OF_SLOT if slot not in OWN_ASK_ACTION)


def announce_step(slot: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """« Étape N sur 5 — … » when `slot`'s question opens a step not yet announced."""
    step = STEP_OF_SLOT.get(slot)
    if step is None or step <= int(tracker.get_slot("announced_step") or 0):
        return []
    dispatcher.utter_message(response=f"utter_step_{step}")
    return [SlotSet("announced_step", step)]


class AskQuestion(Action):
    """`action_ask_<slot>` of a question asked by its response `utter_ask_<slot>`."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = announce_step(self.slot, dispatcher, tracker)
        dispatcher.utter_message(response=f"utter_ask_{self.slot}")
        return events


# One action per question (rasa-sdk registers every subclass of Action).
QUESTIONS = {
    slot: type(f"Ask_{slot}", (AskQuestion,), {"slot": slot, "__module__": __name__})
    for slot in PLAIN_QUESTIONS
}
