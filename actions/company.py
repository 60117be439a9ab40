"""Step 1: identify the company with its SIREN (or SIRET) and a contract number."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.clients.account_service import (
    AccountServiceError,
    ServiceUnavailable,
    account_service,
    client_address,
)
from actions.form_base import BaseFormValidation, offer_advisor
from bot import identifiers

COMPANY_SLOTS = ("company_name", "company_confirmed")


class CompanyValidation(BaseFormValidation):
    """Validators of `siren`, `contract_number` and `company_confirmed`; abstract mixin."""

    async def extract_siren(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.text_answer("siren", tracker, entities=("siren", "siret"))

    async def validate_siren(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the SIREN (a SIRET is reduced to it), then the pair if a contract is known."""
        if value is None:
            return {"siren": None, **dict.fromkeys(COMPANY_SLOTS)}
        try:
            siren = identifiers.to_siren(str(value))
        except ValueError as problem:
            return self.refuse("siren", str(problem), dispatcher, tracker)
        result = {**self.accept("siren", siren, tracker), **dict.fromkeys(COMPANY_SLOTS)}
        contract = tracker.get_slot("contract_number")
        if contract and "contract_number" not in tracker.slots_to_validate():
            result.update(await self._verify(siren, contract, dispatcher, tracker))
        return result

    async def extract_contract_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.text_answer("contract_number", tracker, entities=("contract_number",))

    async def validate_contract_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the contract number's form, then the SIREN/contract pair with the service."""
        if value is None:
            return {"contract_number": None, **dict.fromkeys(COMPANY_SLOTS)}
        try:
            contract = identifiers.to_contract_number(str(value))
        except ValueError as problem:
            return self.refuse("contract_number", str(problem), dispatcher, tracker)
        result = {
            **self.accept("contract_number", contract, tracker),
            **dict.fromkeys(COMPANY_SLOTS),
        }
        try:
            siren = identifiers.to_siren(tracker.get_slot("siren") or "")
        except ValueError:
            return result  # no valid SIREN yet: the pair is checked when it comes
        result.update(await self._verify(siren, contract, dispatcher, tracker))
        return result

    async def _verify(
        self, siren: str, contract: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        try:
            name = await account_service().verify_company(
                siren, contract, tracker.sender_id, client_address(tracker.latest_message)
            )
        except ServiceUnavailable as outage:
            # The client has already retried: offer an advisor straight away.
            refused = self.refuse(
                "contract_number", outage.message, dispatcher, tracker, reason=outage.code
            )
            if refused.get("handoff_offered"):
                return {**refused, "handoff_reason": "service_unavailable"}
            return {**refused, **offer_advisor(dispatcher, "service_unavailable")}
        except AccountServiceError as refusal:
            return self.refuse(
                "contract_number", refusal.message, dispatcher, tracker, reason=refusal.code
            )
        return {"company_name": name, "company_confirmed": None}

    async def extract_company_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.yes_or_no("company_confirmed", tracker)

    async def validate_company_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A 'no' to the company read back starts step 1 again."""
        if value is True:
            metrics.step_completed("company", tracker)
            return {"company_confirmed": True}
        if value is False:
            dispatcher.utter_message(response="utter_company_not_confirmed")
            return {"siren": None, "contract_number": None, **dict.fromkeys(COMPANY_SLOTS)}
        return {"company_confirmed": None}
