"""Prometheus metrics of the action server, served at `GET /metrics`.

`ActionMetrics` holds one registry per app (never prometheus-client's global one), made
by `actions.server.build_app`. The action server sets the app's metrics as `CURRENT` for
each call of `/webhook`, so the actions count with one line (`step_completed`,
`refused`, `handed_off`) and count nothing when run outside a server (unit tests).
Labels take values from fixed sets only, never an id or a value a user gave.

What counts:

- a registration is started the first time a conversation enters the registration
  form (a form started again after a cancel is not a new registration);
- a step is completed the first time the form accepts its last answer (`STEP_SLOTS`); a
  correction accepted later is not counted again;
- a refusal is an answer the form refuses (`invalid_<slot>`), a code the account service
  refused it with, or the terms of use declined (`REFUSAL_REASONS`);
- a handoff is one the account service recorded (queued or as a ticket).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from rasa_sdk import Tracker

FORM = "registration_form"
# The five steps, in order, and the slot whose acceptance completes each.
STEP_SLOTS = {
    "company": "company_confirmed",
    "personal": "mobile_phone",
    "professional": "professional_phone",
    "document": "id_document",
    "consent": "cgu_accepted",
}
# Slots the form validates and may refuse: `invalid_<slot>`.
VALIDATED_SLOTS = (
    "siren",
    "contract_number",
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
)
# Codes of the account service's refusals, of the attachment fetcher, and our own.
SERVICE_REFUSALS = (
    "company_not_verified",
    "company_verification_required",
    "too_many_attempts",
    "too_many_email_checks",
    "email_refused",
    "email_taken",
    "already_registered",
    "idempotency_conflict",
    "invalid_field",
    "document_refused",
    "document_unavailable",
    "upload_not_found",
    "too_many_uploads",
    "not_allowed",
    "unreachable",
    "service_unavailable",
    "cgu_declined",
)
OTHER = "other"
REFUSAL_REASONS = frozenset(
    {*(f"invalid_{slot}" for slot in VALIDATED_SLOTS), *SERVICE_REFUSALS, OTHER}
)
HANDOFF_REASONS = frozenset(
    {
        "user_request",
        "repeated_failures",
        "service_unavailable",
        "misunderstanding",
        "registration_refused",
        OTHER,
    }
)
UNKNOWN_ACTION = "unknown"
# From a quick validation to a document inspected by the account service (15 s at most).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)


class ActionMetrics:
    """The metrics of one action server app, in their own registry."""

    def __init__(self, action_names: frozenset[str] = frozenset()) -> None:
        self.action_names = action_names
        self.registry = CollectorRegistry(auto_describe=True)
        self.registrations_started = Counter(
            "assistant_registrations_started",
            "Conversations that entered the registration form for the first time.",
            registry=self.registry,
        )
        self.steps_completed = Counter(
            "assistant_registration_steps_completed",
            "Registration steps completed (the first acceptance of their last answer).",
            ["step"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "assistant_refusals",
            "Answers refused by the registration form, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.handoffs = Counter(
            "assistant_handoffs",
            "Conversations handed to an advisor, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.action_duration = Histogram(
            "assistant_action_duration_seconds",
            "Time to answer a call of /webhook, by action.",
            ["action"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Every series exists from the start, at 0.
        for step in STEP_SLOTS:
            self.steps_completed.labels(step)

    def action_label(self, name: Any) -> str:
        """`name` if it is one of the executor's actions, else `unknown`: a bounded set."""
        return name if isinstance(name, str) and name in self.action_names else UNKNOWN_ACTION

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the scraper accepts (`Accept`), and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


CURRENT: ContextVar[ActionMetrics | None] = ContextVar("action_metrics", default=None)


def _is_form_run(event: dict[str, Any]) -> bool:
    return event.get("event") == "action" and event.get("name") == FORM


def _latest_user_index(events: list[dict[str, Any]]) -> int:
    return max((i for i, event in enumerate(events) if event.get("event") == "user"), default=-1)


def entered_form_first_time(tracker: Tracker) -> bool:
    """Whether this call validates the form's activation, the first in the conversation.

    At activation Rasa sends the form's `active_loop` event after the latest user
    message; any earlier entry left its own `active_loop` event in the history.
    """
    entries = [
        i
        for i, event in enumerate(tracker.events)
        if event.get("event") == "active_loop" and event.get("name") == FORM
    ]
    return len(entries) == 1 and entries[0] > _latest_user_index(tracker.events)


def accepted_before(tracker: Tracker, slot: str) -> bool:
    """Whether the form accepted a value of `slot` before this call.

    Rasa logs an action and then its events: a filled `slot` event that follows the
    form's own `action` event is one its validation accepted, as is one a new session
    carried over. The events after the
    form's latest `action` event are this call's candidates, not yet validated.
    """
    events = tracker.events
    starts = [i for i, event in enumerate(events) if _is_form_run(event)]
    actor = None
    for event in events[: starts[-1] if starts else 0]:
        kind = event.get("event")
        if kind in ("action", "user"):
            actor = event.get("name") if kind == "action" else None
        elif kind == "session_started":
            actor = FORM  # the slots it carries over were accepted in the session before
        elif kind == "slot" and actor == FORM and event.get("name") == slot:
            if event.get("value") not in (None, False, [], ""):
                return True
    return False


def registration_started(tracker: Tracker) -> None:
    metrics = CURRENT.get()
    if metrics is not None and entered_form_first_time(tracker):
        metrics.registrations_started.inc()


def step_completed(step: str, tracker: Tracker) -> None:
    """Count `step` (a key of STEP_SLOTS) once per conversation, when its last slot is
    accepted for the first time."""
    metrics = CURRENT.get()
    if metrics is not None and not accepted_before(tracker, STEP_SLOTS[step]):
        metrics.steps_completed.labels(step).inc()


def refused(reason: str) -> None:
    metrics = CURRENT.get()
    if metrics is not None:
        metrics.refusals.labels(reason if reason in REFUSAL_REASONS else OTHER).inc()


def handed_off(reason: Any) -> None:
    metrics = CURRENT.get()
    if metrics is not None:
        metrics.handoffs.labels(reason if reason in HANDOFF_REASONS else OTHER).inc()
