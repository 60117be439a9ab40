"""Step 4 (second half): the terms of use (CGU), shown and explicitly accepted."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.config import CGU_URL, CGU_VERSION
from actions.form_base import BaseFormValidation
from actions.steps import announce_step


class ActionAskCguAccepted(Action):
    """Shows the current CGU version with its link and asks for acceptance."""

    def name(self) -> str:
        return "action_ask_cgu_accepted"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = announce_step("cgu_accepted", dispatcher, tracker)
        dispatcher.utter_message(
            response="utter_cgu_question", cgu_version=CGU_VERSION, cgu_url=CGU_URL
        )
        return events


class ConsentValidation(BaseFormValidation):
    """Validator of `cgu_accepted`; records version and time; abstract mixin."""

    async def extract_cgu_accepted(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.yes_or_no("cgu_accepted", tracker)

    async def validate_cgu_accepted(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A refusal is respected: nothing is lost and the user can accept later."""
        if value is True:
            metrics.step_completed("consent", tracker)
            return {
                "cgu_accepted": True,
                "cgu_accepted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        if value is False:
            metrics.refused("cgu_declined")
            dispatcher.utter_message(response="utter_cgu_refused")
        return {"cgu_accepted": None, "cgu_accepted_at": None}
