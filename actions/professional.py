"""Step 3: job title, professional e-mail and professional phone."""

from __future__ import annotations

import re
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
from actions.form_base import BaseFormValidation
from actions.steps import STEP_OF_SLOT
from bot import identifiers

# Entities of other fields: a message with one gives several answers at once.
OTHER_FIELDS = ("email", "phone", "date", "siren", "siret", "contract_number", "civility")
_JOB_LEAD_IN = re.compile(
    r"^(?:j[’']occupe (?:le poste|la fonction) (?:de |d[’'])|je travaille (?:comme|en tant que) |"
    r"en tant que |(?:mon poste|ma fonction)(?: c[’']est| est)?\s*:?\s*)",
    re.IGNORECASE,
)
_PARTS = re.compile(r"[^,;\n]+")
# Parts that name a field or greet rather than give a job title.
_NOT_A_TITLE = re.compile(
    r"\b(?:bonjour|bonsoir|merci|mail|courriel|t[ée]l[ée]phone|t[ée]l|ligne|num[ée]ro|"
    r"portable|fixe|standard)\b",
    re.IGNORECASE,
)
_POLITE_END = re.compile(r"[\s,]*(?:s[’']il vous pla[iî]t|svp|merci)?[\s.!]*$", re.IGNORECASE)


def tidy_job_title(text: str) -> str:
    """« J'occupe le poste de chargée de clientèle, s'il vous plaît. » → « chargée de
    clientèle »."""
    text = BaseFormValidation.strip_lead_in(text)
    return _POLITE_END.sub("", _JOB_LEAD_IN.sub("", text.strip())).strip()


def _looks_like_a_value(entity: dict[str, Any]) -> bool:
    """An e-mail with its @, a number with digits, a civility: not a word the NLU took
    for one (« Pharmacienne » read as an e-mail)."""
    value = str(entity.get("value") or "")
    if entity.get("entity") == "civility":
        return True
    if entity.get("entity") == "email":
        return "@" in value
    return any(ch.isdigit() for ch in value)


def job_title_apart(message: dict[str, Any]) -> str | None:
    """The job title of a message that gives other fields too, when it stands apart:
    « Gérant, yann.le-gall@garage-petit.fr, ligne directe 02 98 12 34 56 » → « Gérant ».
    The first part between commas (or semicolons) that holds none of the other fields'
    values; None when every part holds one (the NLU's reading then stands)."""
    text = message.get("text") or ""
    spans = [
        (entity["start"], entity["end"])
        for entity in message.get("entities") or []
        if entity.get("entity") in OTHER_FIELDS
        and "start" in entity
        and "end" in entity
        and _looks_like_a_value(entity)
    ]
    for part in _PARTS.finditer(text):
        if any(start < part.end() and part.start() < end for start, end in spans):
            continue
        title = tidy_job_title(part.group())
        if sum(ch.isalpha() for ch in title) >= 2 and not _NOT_A_TITLE.search(title):
            return title
    return None


class ProfessionalDetailsValidation(BaseFormValidation):
    """Validators of `job_title`, `professional_email`, `professional_phone`; abstract mixin."""

    async def extract_job_title(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The whole answer when the job title is asked (« responsable administratif et
        financier », not the one word the NLU marked). When the message gives other fields
        too, at any question of step 3: the part between commas that holds none of them
        (`job_title_apart`), else the words the NLU marked."""
        asked = tracker.get_slot("requested_slot")
        message = tracker.latest_message or {}
        title: str | None = None
        if asked == "job_title" and (text := self.answer_text("job_title", tracker)):
            title = tidy_job_title(text)
            if any(self.entity(tracker, name) for name in OTHER_FIELDS):
                title = job_title_apart(message)
        elif (
            STEP_OF_SLOT.get(asked) == STEP_OF_SLOT["job_title"]
            and self.entity(tracker, "job_title")
            and self.answer_text(asked, tracker)
        ):
            # The whole step at another of its questions: « DRH, a.roux@…, ligne directe
            # 01 … », where the NLU also took « directe » for a job title.
            title = job_title_apart(message)
        if not title:
            return {}
        # A word of the title that the NLU also took for a name (« pharmacienne
        # titulaire »: first name « Titulaire ») leaves the name as it was.
        names = {
            name: self.previous_value(tracker, name)
            for name in ("first_name", "last_name")
            if (self.entity(tracker, name) or "").casefold() in title.casefold().split()
        }
        return {"job_title": title, **names}

    async def validate_job_title(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A few words with letters, at most 100 characters."""
        if value is None:
            return {"job_title": None}
        if self.misread("job_title", tracker):
            return {"job_title": self.previous_value(tracker, "job_title")}
        title = " ".join(str(value).split())
        if len(title) > 100 or sum(ch.isalpha() for ch in title) < 2:
            return self.refuse(
                "job_title",
                "Indiquez votre fonction en quelques mots (100 caractères au plus), "
                "par exemple « gérant » ou « directrice financière ».",
                dispatcher,
                tracker,
            )
        return self.accept("job_title", title[0].upper() + title[1:], tracker)

    async def extract_professional_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A 'yes' after the role-mailbox warning keeps the address given."""
        pending = tracker.get_slot("pending_role_email")
        if pending and self.yes_or_no("professional_email", tracker).get("professional_email"):
            return {"professional_email": pending}
        return self.text_answer("professional_email", tracker, entities=("email",))

    async def validate_professional_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Syntax, a second chance for role mailboxes, and one address per person."""
        if value is None:
            return {"professional_email": None}
        try:
            email = identifiers.to_email(str(value))
        except ValueError as problem:
            return self.refuse("professional_email", str(problem), dispatcher, tracker)
        if identifiers.is_role_mailbox(email) and tracker.get_slot("pending_role_email") != email:
            dispatcher.utter_message(
                response="utter_role_mailbox_warning", pending_role_email=email
            )
            return {"professional_email": None, "pending_role_email": email}
        taken_reason = await self._taken_reason(email, tracker)
        if taken_reason:
            return self.refuse(
                "professional_email", taken_reason, dispatcher, tracker, reason="email_refused"
            )
        return {**self.accept("professional_email", email, tracker), "pending_role_email": None}

    @staticmethod
    async def _taken_reason(email: str, tracker: Tracker) -> str | None:
        """Why the service refuses the address, if it does; re-checked at submission."""
        person = [tracker.get_slot(s) for s in ("last_name", "first_name", "birth_date")]
        if not all(person):
            return None
        try:
            check = await account_service().check_email(
                email,
                *person,
                conversation_id=tracker.sender_id,
                client_address=client_address(tracker.latest_message),
            )
        except ServiceUnavailable:
            return None
        except AccountServiceError as refusal:
            return refusal.message
        return None if check.available else check.reason

    async def extract_professional_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.phone_answer("professional_phone", tracker)

    async def validate_professional_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A French landline or mobile number, stored in E.164 form."""
        if value is None:
            return {"professional_phone": None}
        try:
            phone = identifiers.to_any_phone(str(value))
        except ValueError as problem:
            return self.refuse("professional_phone", str(problem), dispatcher, tracker)
        metrics.step_completed("professional", tracker)
        return self.accept("professional_phone", phone, tracker)
