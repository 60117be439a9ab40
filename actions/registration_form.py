"""The registration form's validation action: every step's validators together."""

from __future__ import annotations

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
