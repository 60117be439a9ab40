"""The conversation around the form: one-turn answers, misunderstanding, side questions.

- `action_fallback` (a message the NLU did not understand) and `action_default_fallback`
  (RulePolicy's choice when no rule applies) route the message: a yes or a no to a side
  question (an advisor's offer, « voulez-vous vraiment annuler ? », the feedback
  question, the greeting's invitation), an opening message that carries data, the form's
  question asked again after a digression. Only what nobody can answer is « not
  understood »: first a hint for what was asked, then that question's help, then an
  advisor. No turn is left silent, and the same sentence never comes twice in a row.
- `action_answer`: the one-turn answers (where to find the SIREN, why a field is
  needed, the contact details…). The same question twice running gets help and an
  advisor rather than the same paragraph.
- Cancelling asks first; « on continue ? » resumes; the feedback question; the advisor
  queue left by the person or turned into a ticket (intents sent by the web process).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.account_service import account_service
from actions.config import TUTORIAL_VIDEO_URL, support_contact
from actions.form_base import offer_advisor, slot_events
from actions.steps import STEP_OF_SLOT
from actions.yes_no import normalise, reply_yes_no

log = logging.getLogger(__name__)

FORM = "registration_form"
FALLBACKS = frozenset({"action_fallback", "action_default_fallback"})
# Entities that only a registration answer carries: a message with one starts it.
REGISTRATION_ENTITIES = frozenset(
    {"siren", "siret", "contract_number", "email", "phone", "date", "civility", "job_title"}
)
# Misunderstanding, step by step (the count of messages in a row not understood).
HINT, HELP, ADVISOR = 1, 2, 3
# Side questions waiting for a yes or a no outside the form.
YES_NO_SIDE_SLOTS = ("handoff_offered", "cancel_requested", "feedback_asked")
# The form's yes/no questions: their hint is « oui ou non », with buttons.
YES_NO_SLOTS = frozenset({"company_confirmed", "cgu_accepted", "summary_confirmed"})
HINTED_SLOTS = frozenset(
    {
        "siren",
        "contract_number",
        "civility",
        "birth_date",
        "mobile_phone",
        "professional_phone",
        "professional_email",
        "id_document_type",
        "id_document_country",
        "id_document",
    }
)
# Every question has its help (utter_help_<slot>) but the yes/no ones.
HELPED_SLOTS = frozenset(STEP_OF_SLOT) - YES_NO_SLOTS
# One-turn answers by intent (action_answer); ask_why_needed depends on the field.
ANSWERS = {
    "ask_contract_number": "utter_contract_number_location",
    "ask_siren_location": "utter_siren_location",
    "no_contract": "utter_no_contract",
    "ask_data_protection": "utter_data_protection",
    "ask_accepted_documents": "utter_accepted_documents",
    "ask_next_steps": "utter_next_steps",
    "ask_activation_delay": "utter_activation_delay",
    "email_not_received": "utter_email_not_received",
    "out_of_scope": "utter_out_of_scope",
    "ask_contact": "utter_contact",
    "speak_english": "utter_english",
    "leave_queue": "utter_back_with_assistant",
}
# The field an answer is about, for its help when the question comes again.
ANSWER_FIELDS = {
    "utter_contract_number_location": "contract_number",
    "utter_siren_location": "siren",
    "utter_no_contract": "contract_number",
    "utter_accepted_documents": "id_document_type",
}
# « Où le trouver ? »: the intents by the word that names the number.
WHERE_TO_FIND = {
    "siren": "ask_siren_location",
    "siret": "ask_siren_location",
    "contrat": "ask_contract_number",
}
FIELD_WORDS = {"siren": "siren", "contract_number": "contrat"}
# Why each field is asked; the document's questions share one answer.
WHY_FIELDS = {
    "siren": "siren",
    "siret": "siren",
    "contract_number": "contract_number",
    "company_confirmed": "company_confirmed",
    "civility": "civility",
    "last_name": "last_name",
    "first_name": "first_name",
    "birth_date": "birth_date",
    "mobile_phone": "mobile_phone",
    "job_title": "job_title",
    "professional_email": "professional_email",
    "professional_phone": "professional_phone",
    "id_document_type": "id_document",
    "id_document_country": "id_document",
    "id_document": "id_document",
    "cgu_accepted": "cgu_accepted",
}
# Answers that end with an advisor's offer.
OFFERING_ANSWERS = frozenset({"utter_no_contract"})
# Free text kept as a feedback comment, at most.
MAX_COMMENT = 1000


def since_latest_message(tracker: Tracker) -> list[dict[str, Any]]:
    """The events after the latest user message."""
    events = tracker.events
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            return events[index + 1 :]
    return list(events)


def previous_turn(tracker: Tracker) -> list[dict[str, Any]]:
    """The events between the user's previous message and the latest one.

    In a session that carries a long one over (channels/sessions.py), the previous
    message stayed in the session before: the turn before the first message is what
    follows the new session's first action (the last turn's slots and messages)."""
    events = tracker.events
    users = [i for i, event in enumerate(events) if event.get("event") == "user"]
    if len(users) >= 2:
        return events[users[-2] + 1 : users[-1]]
    if not users:
        return []
    starts = [i for i in range(users[0]) if events[i].get("event") == "session_started"]
    if not starts:
        return []
    acted = [i for i in range(starts[-1], users[0]) if events[i].get("event") == "action"]
    return events[acted[0] + 1 : users[0]] if acted else []


def slot_set_in(events: list[dict[str, Any]], name: str) -> Any:
    """The last value `events` give slot `name`, or None."""
    values = [e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == name]
    return values[-1] if values else None


def actions_in(events: list[dict[str, Any]]) -> list[str]:
    return [e.get("name") for e in events if e.get("event") == "action"]


def answered_this_turn(tracker: Tracker) -> bool:
    """Something was already said to the latest message."""
    return any(event.get("event") == "bot" for event in since_latest_message(tracker))


def latest_bot_response(tracker: Tracker) -> str | None:
    """The name of the assistant's latest response (Rasa records it with the message)."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action")
    return None


def yes_no_of(tracker: Tracker) -> bool | None:
    """The latest message's yes or no (actions/yes_no.py)."""
    return reply_yes_no(tracker.latest_message or {})


# « il est marqué où ? »: the words of a « where is it » question about a number.
WHERE_WORDS = frozenset({"trouve", "trouver", "marque", "ecrit", "indique", "figure", "note"})


def asks_where(tracker: Tracker) -> bool:
    """A « where is it? » question about the number asked (the SIREN, the contract), in
    whatever words the NLU did not recognise: the answer says where to find it."""
    if tracker.get_slot("requested_slot") not in FIELD_WORDS:
        return False
    text = (tracker.latest_message or {}).get("text") or ""
    words = set(normalise(text).split())
    return "ou" in words and ("?" in text or bool(words & WHERE_WORDS))


def intent_of(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def contact_values() -> dict[str, str]:
    """What responses naming the support cell fill in."""
    return {"contact": support_contact(), "video_url": TUTORIAL_VIDEO_URL}


def registration_started(tracker: Tracker) -> bool:
    return bool(tracker.active_loop.get("name")) or tracker.get_slot("requested_slot") is not None


class ActionFallback(Action):
    """A message not understood: routed if it answers something, else the ladder."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        in_form = tracker.active_loop.get("name") == FORM
        turn = since_latest_message(tracker)
        if FALLBACKS.intersection(actions_in(turn)) or answered_this_turn(tracker):
            # The message was answered (a side question, a rule): the form asks its
            # question again, or the assistant listens.
            return [FollowupAction(FORM if in_form else "action_listen")]
        routed = await self.route(dispatcher, tracker, in_form)
        if routed is not None:
            return routed
        return self.not_understood(dispatcher, tracker, in_form)

    async def route(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, in_form: bool
    ) -> list[EventType] | None:
        """The message answers a side question, or starts the registration."""
        answer = yes_no_of(tracker)
        slot = tracker.get_slot
        if slot("handoff_offered") and answer is not None:
            return [FollowupAction("action_handoff" if answer else "action_decline_handoff")]
        if slot("cancel_requested") and answer is not None:
            chosen = "action_cancel_registration" if answer else "action_keep_registration"
            return [FollowupAction(chosen)]
        if slot("feedback_asked") and answer is not None:
            return [FollowupAction("action_record_feedback")]
        if slot("feedback_comment_awaited"):
            return await record_comment(dispatcher, tracker, answer)
        if in_form and asks_where(tracker):
            return [FollowupAction("action_answer")]
        if in_form or slot("registration_status") == "created":
            return None
        invited = latest_bot_response(tracker) in ("utter_greet", "utter_rephrase")
        carries_data = any(
            entity.get("entity") in REGISTRATION_ENTITIES
            for entity in tracker.latest_message.get("entities") or []
        )
        if (invited and answer is True) or carries_data:
            dispatcher.utter_message(response="utter_start_registration")
            return [FollowupAction(FORM)]
        return None

    def not_understood(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, in_form: bool
    ) -> list[EventType]:
        """A hint for what was asked, then its help, then an advisor; then again."""
        before = slot_set_in(previous_turn(tracker), "misunderstood")
        count = int(before) + 1 if before else 1
        step = (count - 1) % ADVISOR + 1
        asked = tracker.get_slot("requested_slot") if in_form else None
        events: list[EventType] = [SlotSet("misunderstood", count)]
        if step == HINT:
            pending = any(tracker.get_slot(name) for name in YES_NO_SIDE_SLOTS)
            dispatcher.utter_message(response=hint_for(asked, in_form, pending))
        elif step == HELP and (not in_form or asked in HELPED_SLOTS):
            dispatcher.utter_message(
                response=f"utter_help_{asked}" if in_form else "utter_help_outside_form"
            )
            offer_video(dispatcher)
        else:
            response = "utter_offer_advisor_after_misunderstanding"
            offer = offer_advisor(dispatcher, "misunderstanding", response=response)
            events += slot_events(offer)
        log.info("not understood (%s in a row)", count)
        if in_form:
            # The form reads the next message again (it had rejected this one).
            events.append(ActiveLoop(FORM))
        return [*events, FollowupAction("action_listen")]


class ActionDefaultFallback(ActionFallback):
    """RulePolicy's choice when no rule applies: the same routing."""

    def name(self) -> str:
        return "action_default_fallback"


def offer_video(dispatcher: CollectingDispatcher) -> None:
    """The insurer's tutorial video, where its page offers it (« Pour en savoir plus »),
    when one is configured."""
    if TUTORIAL_VIDEO_URL:
        dispatcher.utter_message(response="utter_video", video_url=TUTORIAL_VIDEO_URL)


def hint_for(asked: str | None, in_form: bool, yes_no_pending: bool = False) -> str:
    if not in_form:
        return "utter_rephrase_yes_no" if yes_no_pending else "utter_rephrase"
    if asked in YES_NO_SLOTS:
        return "utter_rephrase_yes_no"
    if asked in HINTED_SLOTS:
        return f"utter_rephrase_{asked}"
    return "utter_rephrase_field"


async def record_comment(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: bool | None
) -> list[EventType]:
    """The optional comment after the feedback question (a plain no: none)."""
    text = (tracker.latest_message.get("text") or "").strip()
    done: list[EventType] = [SlotSet("feedback_comment_awaited", None)]
    if answer is False or not text or text.startswith("/"):
        dispatcher.utter_message(response="utter_feedback_no_comment")
        return [*done, FollowupAction("action_listen")]
    useful = tracker.get_slot("feedback_useful")
    await account_service().send_feedback(
        tracker.sender_id, bool(useful), comment=text[:MAX_COMMENT]
    )
    dispatcher.utter_message(response="utter_feedback_comment_saved")
    return [*done, FollowupAction("action_listen")]


class ActionAnswer(Action):
    """One-turn answers; the same one twice running gives way to help and an advisor."""

    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = intent_of(tracker)
        if tracker.get_slot("feedback_comment_awaited") and intent == "out_of_scope":
            return await record_comment(dispatcher, tracker, None)
        response = self.response_for(intent, tracker)
        field = ANSWER_FIELDS.get(response) or response.removeprefix("utter_why_needed_")
        repeated = slot_set_in(previous_turn(tracker), "last_answer") == response
        events: list[EventType] = [SlotSet("last_answer", response)]
        if repeated and not tracker.get_slot("handoff_offered"):
            # Asked again: the answer did not help; help, and a person.
            dispatcher.utter_message(response="utter_asked_again")
            if field in HELPED_SLOTS:
                dispatcher.utter_message(response=f"utter_help_{field}")
            offer_video(dispatcher)
            offer = offer_advisor(dispatcher, "user_request")
            return [*events, *slot_events(offer)]
        dispatcher.utter_message(response=response, **contact_values())
        if response == "utter_english":
            dispatcher.utter_message(response="utter_english_french")
        if response in OFFERING_ANSWERS:
            offer = offer_advisor(dispatcher, "user_request")
            events += slot_events(offer)
        return events

    @staticmethod
    def response_for(intent: str | None, tracker: Tracker) -> str:
        if intent == "ask_why_needed":
            named = next(tracker.get_latest_entity_values("field"), None)
            field = WHY_FIELDS.get(named or tracker.get_slot("requested_slot") or "")
            return f"utter_why_needed_{field}" if field else "utter_why_needed"
        if intent == "ask_video":
            return "utter_video" if TUTORIAL_VIDEO_URL else "utter_no_video"
        if intent in WHERE_TO_FIND.values() or (intent not in ANSWERS and asks_where(tracker)):
            # « il est marqué où ? »: the number asked, unless the message names one.
            words = normalise(tracker.latest_message.get("text") or "").split()
            named = [intent for word, intent in WHERE_TO_FIND.items() if word in words]
            asked = WHERE_TO_FIND.get(FIELD_WORDS.get(tracker.get_slot("requested_slot"), ""))
            intent = named[0] if named else asked or intent
        return ANSWERS.get(intent or "", "utter_out_of_scope")


class ActionConfirmCancel(Action):
    """« Annuler »: asked first, nothing is erased yet."""

    def name(self) -> str:
        return "action_confirm_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_confirm_cancel")
        return [SlotSet("cancel_requested", True), SlotSet("handoff_offered", None)]


class ActionKeepRegistration(Action):
    """A no to « voulez-vous vraiment annuler ? »: everything is kept."""

    def name(self) -> str:
        return "action_keep_registration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_cancel_withdrawn")
        return [SlotSet("cancel_requested", None)]


class ActionResumeRegistration(Action):
    """« On continue ? »: back to where the person was (the form asks next)."""

    def name(self) -> str:
        return "action_resume_registration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        started = registration_started(tracker) or tracker.get_slot("siren")
        if started:
            dispatcher.utter_message(response="utter_resume")
        else:
            dispatcher.utter_message(response="utter_start_registration")
        return [SlotSet("cancel_requested", None), SlotSet("handoff_offered", None)]


class ActionRecordFeedback(Action):
    """« Ces informations vous ont-elles été utiles ? »: recorded, a comment invited."""

    def name(self) -> str:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        useful = yes_no_of(tracker)
        recorded = await account_service().send_feedback(tracker.sender_id, bool(useful))
        if not recorded:
            log.info("feedback not recorded: the service did not answer")
        dispatcher.utter_message(response="utter_feedback_comment")
        return [
            SlotSet("feedback_asked", None),
            SlotSet("feedback_useful", bool(useful)),
            SlotSet("feedback_comment_awaited", True),
        ]


class ActionQueueLeft(Action):
    """The person left the advisor queue (the web process closed the request)."""

    def name(self) -> str:
        return "action_queue_left"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_queue_left")
        return [SlotSet("handoff_status", None)]


class ActionHandoffTicket(Action):
    """Nobody took the queued request in time: it is a ticket, the assistant resumes."""

    def name(self) -> str:
        return "action_handoff_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        opens_at = next(tracker.get_latest_entity_values("opens_at"), None) or "que possible"
        dispatcher.utter_message(response="utter_handoff_ticket_from_queue", opens_at=opens_at)
        return [SlotSet("handoff_status", "ticket")]
