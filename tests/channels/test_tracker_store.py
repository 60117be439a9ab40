"""The tracker store of endpoints.yml: Rasa's SQL store that erases a conversation on the
marker of « Annuler », and never writes back a conversation the purge deleted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from rasa.core.tracker_store import create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from channels.tracker_store import ErasingSQLTrackerStore, erase_marker

ROOT = Path(__file__).resolve().parents[2]
# Rasa warns of its own dependencies' deprecations, and of a 2.x feature at any slot.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Slot auto-fill:UserWarning"),
]


def domain() -> Domain:
    slots = {
        name: {"type": "text", "mappings": [{"type": "from_text"}]}
        for name in ("last_name", "professional_email")
    }
    return Domain.from_dict({"slots": slots})


EMAIL = "solange.kerbrat@exemple.fr"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tracker.db"


def store_at(db: Path) -> ErasingSQLTrackerStore:
    config = EndpointConfig(
        type="channels.tracker_store.ErasingSQLTrackerStore", dialect="sqlite", db=str(db)
    )
    store = create_tracker_store(config, domain())
    inner = getattr(store, "_tracker_store", store)
    assert isinstance(inner, ErasingSQLTrackerStore), "Rasa loads the class of endpoints.yml"
    return inner


def session_start(at: float | None = None) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]


def answer(text: str, slot: str, at: float | None = None) -> list[Event]:
    return [
        UserUttered(text, {"name": "inform"}, timestamp=at),
        SlotSet(slot, text, timestamp=at),
        BotUttered("Question suivante ?", timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]


def test_the_endpoints_files_name_the_erasing_store() -> None:
    for name in ("endpoints.yml", "endpoints.prod.yml"):
        config = yaml.safe_load((ROOT / name).read_text())
        assert config["tracker_store"]["type"] == "channels.tracker_store.ErasingSQLTrackerStore"
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    assert config is not None and config.type.endswith("ErasingSQLTrackerStore")


async def test_the_erase_marker_deletes_every_stored_answer(db: Path) -> None:
    store = store_at(db)
    tracker = await store.get_or_create_tracker("conv-1")
    for event in [
        *session_start(),
        *answer("Kerbrat", "last_name"),
        *answer(EMAIL, "professional_email"),
    ]:
        tracker.update(event)
    await store.save(tracker)
    assert EMAIL.encode() in db.read_bytes()

    # The turn of « Annuler »: the action's events, the marker, Rasa's new session.
    tracker = await store.retrieve("conv-1")
    assert tracker is not None and tracker.get_slot("last_name") == "Kerbrat"
    tracker.update(UserUttered("annuler", {"name": "cancel"}))
    tracker.update(ActionExecuted("action_cancel_registration"))
    tracker.update(BotUttered("J'ai annulé votre inscription"))
    tracker.update(Event.from_parameters(erase_marker()))
    for event in session_start():
        tracker.update(event)
    await store.save(tracker)

    data = db.read_bytes()
    assert EMAIL.encode() not in data and b"Kerbrat" not in data, "not even in free pages"
    again = await store.retrieve("conv-1")
    assert again is not None and again.get_slot("last_name") is None
    assert [e.type_name for e in again.events][-2:] == ["session_started", "action"]

    # Saved again in the same turn (more events): nothing old comes back.
    tracker.update(UserUttered("je veux créer mon espace client", {"name": "register"}))
    await store.save(tracker)
    assert b"Kerbrat" not in db.read_bytes()
    full = await store.retrieve_full_tracker("conv-1")
    assert full is not None
    kinds = [e.type_name for e in full.events]
    assert kinds == ["restart", "action", "session_started", "action", "user"]


async def test_a_conversation_purged_during_a_turn_stays_purged(db: Path) -> None:
    store = store_at(db)
    week_ago = time.time() - 8 * 24 * 3600
    tracker = store.init_tracker("conv-2")  # as Rasa loaded it, before the purge
    for event in [*session_start(week_ago), *answer("Kerbrat", "last_name", week_ago)]:
        tracker.update(event)
    # The purge deleted its rows meanwhile (none are stored): the turn writes nothing.
    tracker.update(UserUttered("bonjour", {"name": "greet"}))
    await store.save(tracker)
    assert await store.retrieve("conv-2") is None
    assert b"Kerbrat" not in db.read_bytes()

    fresh = await store.get_or_create_tracker("conv-3")
    for event in [*session_start(), *answer("Martin", "last_name")]:
        fresh.update(event)
    await store.save(fresh)
    stored = await store.retrieve("conv-3")
    assert stored is not None and stored.get_slot("last_name") == "Martin", "new ones are kept"
