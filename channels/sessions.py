"""A bounded conversation session: the tracker store starts a new one once the current
one holds `max_events` events, at the end of a turn, carrying everything over.

Rasa reads, replays and sends to the action server the whole current session on every
turn, and its policies compute the states of the whole history: a turn costs more and
more as a conversation lasts. Rasa's SQL store loads only the events from the latest
`session_started` on, so a new session bounds that cost, as Rasa's own session
expiry does, but without waiting a week and without losing anything:

    action_session_start · session_started   as Rasa starts a session
    slots                                    every slot not at its initial value
    active_loop                              the form, if one is active
    the turn's last action                   what the assistant did before listening
    the turn's slots                         the slots the last turn set
    the turn's bot messages, without text    their response names and buttons
    action_listen

Policies then see the same last states as before (the rules that follow a question of
the assistant, the form's loop), and no conversation start. The action server's
helpers read the last turn's slots and messages from it (`actions/conversation.py`).
The texts stay in the session before, so a transcript (the console, an export) holds
each message once. Never for a paused conversation (an advisor has it), nor for a turn
that did anything but talk, fill slots and run the form (an undone turn, an erasure, a
session that just started): the next turn will.
"""

from __future__ import annotations

import time
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    Event,
    LoopInterrupted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

# About 8 registration turns: turn 200 then costs what turn 5 does.
DEFAULT_MAX_EVENTS = 80
# What a turn may hold for its session to be carried over.
_TALK = (
    UserUttered,
    ActionExecuted,
    ActionExecutionRejected,
    SlotSet,
    BotUttered,
    ActiveLoop,
    LoopInterrupted,
    DefinePrevUserUtteredFeaturization,
)
_STEP = 1e-6  # seconds between the new events: Rasa's store orders a session by time


def session_length(events: list[Event]) -> int:
    """The events since the latest `session_started` (all of them if none)."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], SessionStarted):
            return len(events) - index
    return len(events)


def last_turn(events: list[Event]) -> list[Event] | None:
    """The events from the latest user message on, or None if there is none since the
    latest `session_started`."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index:]
        if isinstance(events[index], SessionStarted):
            return None
    return None


def carry_over(tracker: DialogueStateTracker, max_events: int) -> list[Event]:
    """The events that start a new session carrying this one over, or none when the
    session is short enough or cannot be carried over now."""
    events = list(tracker.events)
    if max_events <= 0 or session_length(events) <= max_events or tracker.is_paused():
        return []
    if not events or not _is_listen(events[-1]):
        return []
    turn = last_turn(events)
    if turn is None or not all(isinstance(event, _TALK) for event in turn):
        return []
    acted = [e for e in turn if isinstance(e, ActionExecuted) and not _is_listen(e)]
    turn_slots = list(dict.fromkeys(e.key for e in turn if isinstance(e, SlotSet)))
    earlier_slots = [
        name
        for name, slot in tracker.slots.items()
        if name not in turn_slots and slot.value != slot.initial_value
    ]
    carried: list[Event] = [
        ActionExecuted(ACTION_SESSION_START_NAME),
        SessionStarted(),
        *(SlotSet(name, tracker.get_slot(name)) for name in earlier_slots),
    ]
    if tracker.active_loop_name:
        carried.append(ActiveLoop(tracker.active_loop_name))
    if acted:
        carried.append(ActionExecuted(acted[-1].action_name))
        carried += [SlotSet(name, tracker.get_slot(name)) for name in turn_slots]
        carried += [_without_text(e) for e in turn if isinstance(e, BotUttered)]
    else:
        carried += [SlotSet(name, tracker.get_slot(name)) for name in turn_slots]
    carried.append(ActionExecuted(ACTION_LISTEN_NAME))
    start = max(time.time(), max((e.timestamp for e in events), default=0.0) + _STEP)
    for index, event in enumerate(carried):
        event.timestamp = start + index * _STEP
    return carried


def _is_listen(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME


def _without_text(message: BotUttered) -> BotUttered:
    """A bot message as the helpers read it (its response's name, its buttons), without
    its text: the transcript shows the original once."""
    data: dict[str, Any] = {key: value for key, value in (message.data or {}).items()}
    return BotUttered(None, data, dict(message.metadata or {}))
