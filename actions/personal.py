"""Step 2: civility, names, birth date and mobile phone."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.form_base import BaseFormValidation
from bot import identifiers


def tidy_name(name: str) -> str:
    """'DUPONT' or 'dupont' → 'Dupont'; names typed with capitals are kept as typed."""
    return name.title() if name.islower() or name.isupper() else name


# Particles of a surname that the NLU leaves out of it: « Le Gall », « de La Tour », « d'Alembert ».
_PARTICLES_BEFORE = re.compile(
    r"(?:\b(?:le|la|les|de|du|des|van|von|der|den|ter|di|da|del|della|dos|ben|el|al|mac|"
    r"saint|sainte)\s+|\bd['’]\s*)+$",
    re.IGNORECASE,
)
# Words around a name typed as a sentence: « Alors, Mercier, s'il vous plaît. ».
_FILLER_START = re.compile(
    r"^(?:(?:alors|euh+|bah|donc|ok|voil[àa])\b[\s,.!:]*|(?:ben|bon|oui)\s*[,.!:]\s*)+(?=\w)",
    re.IGNORECASE,
)
_POLITE_END = re.compile(
    r"[\s,]*(?:s[’']il vous pla[iî]t|svp|merci(?: beaucoup)?)?[\s.!]*$", re.IGNORECASE
)


def tidy_name_answer(text: str) -> str:
    """« Alors, Mercier, s'il vous plaît. » → « Mercier »; « je m'appelle Luc » → « Luc »."""
    text = _FILLER_START.sub("", text.strip())
    text = BaseFormValidation.strip_lead_in(text)
    return _POLITE_END.sub("", text).strip(" ,.!")


def with_particles(message: dict[str, Any], name: str) -> str | None:
    """The `name` entity with the particles just before it that the NLU left out."""
    text = message.get("text") or ""
    for entity in message.get("entities") or []:
        if entity.get("entity") != name or "start" not in entity or "end" not in entity:
            continue
        particles = _PARTICLES_BEFORE.search(text[: entity["start"]])
        if particles:
            return text[particles.start() : entity["end"]]
    return None


class PersonalDetailsValidation(BaseFormValidation):
    """Validators of civility, names, birth date and mobile phone; abstract mixin."""

    async def extract_civility(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.text_answer("civility", tracker, entities=("civility",))

    async def validate_civility(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Normalise to 'M.' or 'Mme'. A word the NLU took for a civility in the answer to
        another question (« France », for a passport's country) leaves the civility as it
        was, with no refusal."""
        if value is None:
            return {"civility": None}
        try:
            return self.accept("civility", identifiers.to_civility(str(value)), tracker)
        except ValueError as problem:
            if tracker.get_slot("requested_slot") != "civility" and not self.corrects(
                "civility", tracker
            ):
                return {"civility": self.previous_value(tracker, "civility")}
            return self.refuse("civility", str(problem), dispatcher, tracker)

    async def extract_last_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        whole = with_particles(tracker.latest_message or {}, "last_name")
        if whole:
            return {"last_name": whole}
        return self.text_answer("last_name", tracker, ("last_name",), tidy_name_answer)

    async def extract_first_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.text_answer("first_name", tracker, ("first_name",), tidy_name_answer)

    async def validate_last_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Letters, spaces, hyphens and apostrophes only."""
        return self._validate_name("last_name", value, dispatcher, tracker)

    async def validate_first_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Letters, spaces, hyphens and apostrophes only."""
        return self._validate_name("first_name", value, dispatcher, tracker)

    def _validate_name(
        self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        if value is None:
            return {slot: None}
        if self.misread(slot, tracker):
            return {slot: self.previous_value(tracker, slot)}
        try:
            return self.accept(slot, tidy_name(identifiers.to_name(str(value))), tracker)
        except ValueError as problem:
            return self.refuse(slot, str(problem), dispatcher, tracker)

    async def extract_birth_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.text_answer("birth_date", tracker, entities=("date",))

    async def validate_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A real past date of an adult, stored as YYYY-MM-DD."""
        if value is None:
            return {"birth_date": None}
        try:
            born = identifiers.to_birth_date(str(value), date.today())
        except ValueError as problem:
            return self.refuse("birth_date", str(problem), dispatcher, tracker)
        return self.accept("birth_date", born.isoformat(), tracker)

    async def extract_mobile_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.phone_answer("mobile_phone", tracker)

    async def validate_mobile_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A French mobile number, stored in E.164 form."""
        if value is None:
            return {"mobile_phone": None}
        try:
            phone = identifiers.to_mobile_phone(str(value))
        except ValueError as problem:
            return self.refuse("mobile_phone", str(problem), dispatcher, tracker)
        metrics.step_completed("personal", tracker)
        return self.accept("mobile_phone", phone, tracker)
