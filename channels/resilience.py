"""The assistant always answers, even when the action server cannot run an action.

Rasa 3.6 runs a custom action in `MessageProcessor._run_action`; when the action server
cannot be reached, times out, answers an error or an invalid response, it logs the
exception (with the response's body), drops the action's events and goes on predicting:
the REST channel answers an empty list, socket.io sends nothing, and the unvalidated
values that the turn extracted stay in the tracker as if they had been validated.

Two small hooks, installed by `install()` in Rasa's process (`channels.server`):

- `RemoteAction.run` (every custom action, including the form's validation action
  `validate_registration_form` that `FormAction` calls) turns any failure other than
  an `ActionExecutionRejection` (the action server's legitimate 400, which Rasa
  handles) into `ActionServerUnavailable`, logged as one line: the action's name and
  the kind of failure (`HTTP 500`, `ConnectionRefusedError`, `TimeoutError`,
  `ValidationError`…), never a body, a slot value or a tracker (Rasa's own line for a
  refused connection names the URL only). The call's timeout is
  `ACTION_SERVER_TIMEOUT_SECONDS` (120 s; Rasa's is 5 minutes).
- `MessageProcessor._run_action` runs the predicted action (a form, a custom action)
  through `_Guarded`: if it raises `ActionServerUnavailable`, its events are
  `unavailable_events()`: the turn is undone (`UserUtteranceReverted`: the slots, the
  form and its requested slot are as they were before the message), the user gets
  `UNAVAILABLE_TEXT` once, and the assistant listens (no more predictions this turn).
  Resending the message once the action server is back continues at the same question.

The slots that the turn had changed are also set back, explicitly, before the revert:
Rasa ignores these events (they are reverted too), but an action that reads the raw
event list (`previous_value`) then finds the value from before the failed turn.

Only `rasa.shared` is imported here, so `UNAVAILABLE_TEXT` can be imported without
loading Rasa's dialogue engine; `install()` imports the rest.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

log = logging.getLogger(__name__)

UNAVAILABLE_TEXT = (
    "Le service est momentanément indisponible. Vos réponses sont conservées : "
    "renvoyez votre dernier message dans quelques instants."
)

TIMEOUT_VARIABLE = "ACTION_SERVER_TIMEOUT_SECONDS"
# Above the longest legitimate action: two identity documents inspected by the account
# service (30 s each) plus its retries.
DEFAULT_TIMEOUT_SECONDS = 120.0


class ActionServerUnavailable(RasaException):
    """A custom action could not be run: the action server is down, slow or failing."""

    def __init__(self, action_name: str, reason: str) -> None:
        super().__init__(f"custom action '{action_name}' not run: {reason}")
        self.action_name = action_name
        self.reason = reason


def action_timeout(env: dict[str, str] | None = None) -> float:
    """The timeout of a call to the action server, in seconds."""
    raw = (os.environ if env is None else env).get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise SystemExit(f"{TIMEOUT_VARIABLE} must be a positive number of seconds")
    return seconds


def failure_reason(failure: BaseException) -> str:
    """What went wrong, without any text the action server sent: `HTTP <status>` or
    the type of the innermost error (Rasa wraps aiohttp's in a `RasaException`)."""
    innermost, seen = failure, {id(failure)}
    while True:
        inner = innermost.__cause__ or (
            None if innermost.__suppress_context__ else innermost.__context__
        )
        # A timeout's cancellation says less than the timeout itself.
        if inner is None or id(inner) in seen or isinstance(inner, asyncio.CancelledError):
            break
        innermost = inner
        seen.add(id(inner))
    status = getattr(innermost, "status", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    return type(innermost).__name__


def guard_remote_run(run: Callable[..., Awaitable[list[Event]]]) -> Callable[..., Any]:
    """`RemoteAction.run`, any failure but a rejection raised as `ActionServerUnavailable`."""
    from rasa.core.actions.action import ActionExecutionRejection

    @functools.wraps(run)
    async def run_remote_action(self: Any, *args: Any, **kwargs: Any) -> list[Event]:
        try:
            return await run(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except Exception as failure:  # noqa: BLE001 - whatever failed, the user is answered
            reason = failure_reason(failure)
            log.error(
                "custom action %s not run, action server unavailable: %s", self.name(), reason
            )
            raise ActionServerUnavailable(self.name(), reason) from None

    return run_remote_action


def unavailable_events(tracker: DialogueStateTracker, action_name: str) -> list[Event]:
    """The events of a turn whose action could not be run: the turn undone, the
    unavailable message, and the assistant listening.

    `ActionExecutionRejected` first, so that Rasa does not log the action as executed:
    a loop's execution would make Rasa drop the turn's user message from the applied
    events (it collapses a form's happy path), and the revert would then undo the
    turns before it too.
    """
    not_run = ActionExecutionRejected(action_name)
    said = BotUttered(UNAVAILABLE_TEXT)
    listen = ActionExecuted(ACTION_LISTEN_NAME)
    if not _user_turn_in_progress(tracker):  # an action run through the HTTP API
        return [not_run, said, listen]
    before = tracker.copy()
    before.update(UserUtteranceReverted())
    then, now = before.current_slot_values(), tracker.current_slot_values()
    restored: list[Event] = [
        SlotSet(name, then.get(name)) for name, value in now.items() if value != then.get(name)
    ]
    return [not_run, *restored, said, UserUtteranceReverted(), listen]


def _user_turn_in_progress(tracker: DialogueStateTracker) -> bool:
    """A user message was received after the assistant last listened."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return True
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
            return False
    return False


class _Guarded:
    """`action` for `MessageProcessor._run_action`, its `run` answering
    `unavailable_events()` when a custom action could not be run."""

    def __init__(self, action: Any) -> None:
        self._action = action
        self.unavailable = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._action, name)

    async def run(self, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list[Event]:
        try:
            return await self._action.run(output_channel, nlg, tracker, domain)
        except ActionServerUnavailable:
            self.unavailable = True
            return unavailable_events(tracker, self._action.name())


def guard_run_action(run_action: Callable[..., Awaitable[bool]]) -> Callable[..., Any]:
    """`MessageProcessor._run_action`; no further prediction after an unavailable action."""

    @functools.wraps(run_action)
    async def run_guarded_action(self: Any, action: Any, *args: Any, **kwargs: Any) -> bool:
        guarded = _Guarded(action)
        predict_again = await run_action(self, guarded, *args, **kwargs)
        return bool(predict_again) and not guarded.unavailable

    run_guarded_action.always_answers = True  # type: ignore[attr-defined]
    return run_guarded_action


def install() -> None:
    """Patch Rasa in this process (once; Rasa's heavy modules are imported here only)."""
    from rasa.core.actions import action
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor._run_action, "always_answers", False):
        return
    action.DEFAULT_REQUEST_TIMEOUT = action_timeout()
    action.RemoteAction.run = guard_remote_run(action.RemoteAction.run)
    MessageProcessor._run_action = guard_run_action(MessageProcessor._run_action)
