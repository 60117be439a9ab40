"""The registration form's validation action: every step's validators together."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.company import CompanyValidation
from actions.consent import ConsentValidation
from actions.identity import IdentityDocumentValidation
from actions.personal import PersonalDetailsValidation
from actions.professional import ProfessionalDetailsValidation
from actions.summary import SummaryValidation


class ValidateRegistrationForm(
    CompanyValidation,
    PersonalDetailsValidation,
    ProfessionalDetailsValidation,
    IdentityDocumentValidation,
    ConsentValidation,
    SummaryValidation,
):
    """Validates and normalises each slot of `registration_form` (see the mixins)."""

    def name(self) -> str:
        return "validate_registration_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        metrics.registration_started(tracker)  # the first entry of the conversation only
        events: list[dict[str, Any]] = await super().run(dispatcher, tracker, domain)
        return events
