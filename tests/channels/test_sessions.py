"""Bounded sessions (channels/sessions.py): the tracker store of endpoints.yml starts a
new session once one is long, carrying everything over; what a person said is stored
once, and what the next turn reads of the last one is still there."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.tracker_store import create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker

from actions.conversation import latest_bot_response, previous_turn, slot_set_in
from channels.tracker_store import ErasingSQLTrackerStore

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Slot auto-fill:UserWarning"),
]
MAX_EVENTS = 20
FORM = "registration_form"
BUTTONS = [{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}]


def domain() -> Domain:
    text = {"type": "text", "mappings": [{"type": "custom"}]}
    return Domain.from_dict(
        {
            "slots": {"last_name": text, "misunderstood": {**text, "type": "any"}},
            "forms": {FORM: {"required_slots": ["last_name"]}},
        }
    )


def store_at(db: Path, max_events: int = MAX_EVENTS) -> ErasingSQLTrackerStore:
    config = EndpointConfig(
        type="channels.tracker_store.ErasingSQLTrackerStore",
        dialect="sqlite",
        db=str(db),
        max_session_events=max_events,
    )
    store = create_tracker_store(config, domain())
    inner = getattr(store, "_tracker_store", store)
    assert isinstance(inner, ErasingSQLTrackerStore)
    return inner


def opening() -> list[Event]:
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("je veux créer mon espace", {"name": "start_registration"}),
        ActionExecuted(FORM),
        ActiveLoop(FORM),
        SlotSet("requested_slot", "last_name"),
        BotUttered("Quel est votre nom ?", metadata={"utter_action": "utter_ask_last_name"}),
        ActionExecuted("action_listen"),
    ]


def question(number: int) -> list[Event]:
    """A question answered inside the form, which then asks its question again."""
    return [
        UserUttered(f"question {number}", {"name": "ask_why"}),
        ActionExecuted("utter_why"),
        BotUttered("Parce que.", metadata={"utter_action": "utter_why"}),
        ActionExecuted(FORM),
        SlotSet("requested_slot", "last_name"),
        BotUttered(
            "Quel est votre nom ?",
            {"buttons": BUTTONS},
            {"utter_action": "utter_ask_last_name"},
        ),
        ActionExecuted("action_listen"),
    ]


def not_understood(count: int) -> list[Event]:
    return [
        UserUttered(f"blabla {count}", {"name": "nlu_fallback"}),
        ActionExecuted("action_not_understood"),
        SlotSet("misunderstood", count),
        BotUttered("Je n'ai pas compris.", metadata={"utter_action": "utter_hint"}),
        ActionExecuted(FORM),
        BotUttered("Quel est votre nom ?", metadata={"utter_action": "utter_ask_last_name"}),
        ActionExecuted("action_listen"),
    ]


async def turn(store: ErasingSQLTrackerStore, events: list[Event]) -> DialogueStateTracker:
    """One turn as Rasa runs it: load the session, add the turn's events, save."""
    tracker = await store.get_or_create_tracker("conv")
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    stored = await store.retrieve("conv")
    assert stored is not None
    return stored


async def test_a_long_session_is_carried_over_and_each_message_stored_once(
    tmp_path: Path,
) -> None:
    store = store_at(tmp_path / "tracker.db")
    await turn(store, opening())
    await turn(store, [UserUttered("Le Gall", {"name": "inform"}), SlotSet("last_name", "Le Gall")])
    lengths = []
    for number in range(30):
        session = await turn(store, question(number))
        lengths.append(len(session.events))
    assert max(lengths) <= MAX_EVENTS + len(question(0)), "each session stays short"
    assert min(lengths) < 10, "a new session started"
    # Nothing is lost: the slots, the form, what it asks.
    assert session.get_slot("last_name") == "Le Gall"
    assert session.active_loop_name == FORM
    assert session.get_slot("requested_slot") == "last_name"
    # The policies see what they saw: the form asked, then the assistant listened.
    actions = [e.action_name for e in session.events if isinstance(e, ActionExecuted)]
    assert actions[-2:] == [FORM, "action_listen"]
    last_bot = [e for e in session.events if isinstance(e, BotUttered)][-1]
    assert last_bot.data.get("buttons") == BUTTONS, "a messaging user can still answer 1 or 2"
    # Every message once, in order, in the whole conversation (the console, an export).
    full = await store.retrieve_full_tracker("conv")
    assert full is not None
    said = [e.text for e in full.events if isinstance(e, UserUttered)]
    assert said == ["je veux créer mon espace", "Le Gall", *(f"question {n}" for n in range(30))]
    answers = [e.text for e in full.events if isinstance(e, BotUttered) and e.text]
    assert answers.count("Parce que.") == 30


async def test_the_next_turn_reads_the_last_turn_in_a_new_session(tmp_path: Path) -> None:
    """« Not understood twice in a row » and the latest response survive the new session."""
    store = store_at(tmp_path / "tracker.db", max_events=0)
    await turn(store, opening())
    await turn(store, question(1))
    store.max_session_events = 1  # this turn ends its session
    session = await turn(store, not_understood(1))
    assert not any(isinstance(e, UserUttered) for e in session.events), "a new session"
    session.update(UserUttered("blabla 2", {"name": "nlu_fallback"}))
    seen = Tracker.from_dict(session.current_state(EventVerbosity.ALL))
    assert slot_set_in(previous_turn(seen), "misunderstood") == 1
    assert latest_bot_response(seen) == "utter_ask_last_name"


async def test_without_a_new_session_the_previous_turn_is_unchanged(tmp_path: Path) -> None:
    store = store_at(tmp_path / "tracker.db", max_events=0)
    await turn(store, opening())
    session = await turn(store, not_understood(1))
    session.update(UserUttered("blabla 2", {"name": "nlu_fallback"}))
    seen = Tracker.from_dict(session.current_state(EventVerbosity.ALL))
    assert slot_set_in(previous_turn(seen), "misunderstood") == 1
    session = await turn(store, question(1))
    session.update(UserUttered("blabla 3", {"name": "nlu_fallback"}))
    seen = Tracker.from_dict(session.current_state(EventVerbosity.ALL))
    assert slot_set_in(previous_turn(seen), "misunderstood") is None, "not in a row"


async def test_a_paused_conversation_keeps_its_session(tmp_path: Path) -> None:
    """An advisor has it: its session is never cut."""
    store = store_at(tmp_path / "tracker.db")
    await turn(store, [*opening(), ConversationPaused()])
    for number in range(10):
        session = await turn(
            store, [UserUttered(f"message {number}"), ActionExecuted("action_listen")]
        )
    assert sum(isinstance(e, SessionStarted) for e in session.events) == 1
    assert len(session.events) > MAX_EVENTS


async def test_an_undone_turn_is_not_carried_over(tmp_path: Path) -> None:
    store = store_at(tmp_path / "tracker.db", max_events=1)
    await turn(store, opening())
    undone = [
        UserUttered("Le Gall", {"name": "inform"}),
        BotUttered("Le service est indisponible."),
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
    ]
    session = await turn(store, undone)
    assert any(isinstance(e, UserUttered) for e in session.events), "not carried over"
    session = await turn(store, question(1))
    assert not any(isinstance(e, UserUttered) for e in session.events), "the next turn is"
