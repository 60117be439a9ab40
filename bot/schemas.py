"""Request bodies of the API, validated with pydantic; errors are turned into French."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    Extra,
    StrictBool,
    StrictStr,
    ValidationError,
    conlist,
    constr,
    validator,
)

from bot import identifiers
from bot.errors import InvalidField
from bot.services.throttle import normal_address

Model = TypeVar("Model", bound=BaseModel)

ShortText = constr(strict=True, min_length=1, max_length=100)
Key = constr(strict=True, min_length=1, max_length=100)
Reference = constr(strict=True, min_length=1, max_length=64)

_TYPE_MESSAGES = {
    "value_error.missing": "est obligatoire.",
    "type_error.none.not_allowed": "est obligatoire.",
    "type_error.str": "doit être une chaîne de caractères.",
    "type_error.bool": "doit valoir true ou false.",
    "type_error.dict": "doit être un objet JSON.",
    "value_error.extra": "n'est pas un champ attendu.",
    "value_error.any_str.min_length": "ne doit pas être vide.",
    "value_error.any_str.max_length": "est trop long.",
    "type_error.list": "doit être une liste.",
    "value_error.list.max_items": "contient trop d'éléments.",
}


def _field_message(error: dict[str, Any]) -> str:
    if error["type"] == "value_error":
        return str(error["msg"])
    return _TYPE_MESSAGES.get(error["type"], "est invalide.")


def parse(model: type[Model], payload: Any) -> Model:
    """Validate `payload` into `model`, or raise `InvalidField` listing every bad field."""
    if not isinstance(payload, dict):
        raise InvalidField("Le corps de la requête doit être un objet JSON.")
    try:
        return model.parse_obj(payload)
    except ValidationError as exc:
        fields = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"] if part != "__root__")
            fields.append({"field": name, "message": _field_message(error)})
        raise invalid_fields(fields) from None


def invalid_fields(fields: list[dict[str, str]]) -> InvalidField:
    """The `InvalidField` error listing `fields` (each a `{field, message}`)."""
    summary = " ".join(f"« {f['field']} » : {f['message']}" for f in fields if f["field"])
    return InvalidField(
        f"Certains champs sont absents ou invalides : {summary}".strip(), fields=fields
    )


class Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True


def to_client_address(value: Any) -> str | None:
    """The `client_address` the action server passes on (the user's IP address, for
    throttling only): canonical, or None when absent or not an IP address (ignored)."""
    return normal_address(value)


def client_address_field() -> Any:
    """The validator of an optional `client_address` field: invalid values are ignored."""
    return validator("client_address", pre=True, allow_reuse=True)(to_client_address)


class CompanyIn(Strict):
    siren: StrictStr
    contract_number: StrictStr

    _siren = validator("siren", allow_reuse=True)(identifiers.to_siren)
    _contract = validator("contract_number", allow_reuse=True)(identifiers.to_contract_number)


class VerifyCompanyIn(CompanyIn):
    conversation_id: Key | None = None
    client_address: Any = None

    _client_address = client_address_field()


def _check_birth_date(value: str) -> str:
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        raise ValueError("La date de naissance doit être au format AAAA-MM-JJ.")
    return identifiers.to_birth_date(value, date.today()).isoformat()


class PersonIn(Strict):
    civility: StrictStr
    last_name: StrictStr
    first_name: StrictStr
    birth_date: StrictStr
    mobile_phone: StrictStr

    _civility = validator("civility", allow_reuse=True)(identifiers.to_civility)
    _names = validator("last_name", "first_name", allow_reuse=True)(identifiers.to_name)
    _mobile = validator("mobile_phone", allow_reuse=True)(identifiers.to_mobile_phone)

    _born = validator("birth_date", allow_reuse=True)(_check_birth_date)


class EmailCheckIn(Strict):
    email: StrictStr
    last_name: StrictStr
    first_name: StrictStr
    birth_date: StrictStr
    conversation_id: Key | None = None
    client_address: Any = None

    _email = validator("email", allow_reuse=True)(identifiers.to_email)
    _names = validator("last_name", "first_name", allow_reuse=True)(identifiers.to_name)
    _born = validator("birth_date", allow_reuse=True)(_check_birth_date)
    _client_address = client_address_field()


class ProfessionalIn(Strict):
    job_title: ShortText  # type: ignore[valid-type]
    email: StrictStr
    phone: StrictStr

    _email = validator("email", allow_reuse=True)(identifiers.to_email)
    _phone = validator("phone", allow_reuse=True)(identifiers.to_any_phone)


class CguIn(Strict):
    version: constr(strict=True, min_length=1, max_length=32)  # type: ignore[valid-type]
    accepted: StrictBool
    accepted_at: StrictStr

    @validator("accepted")
    def _must_accept(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "Les conditions générales d'utilisation doivent être acceptées pour créer "
                "l'espace client."
            )
        return value

    @validator("accepted_at")
    def _timestamp(cls, value: str) -> str:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                "La date d'acceptation doit être au format ISO 8601 avec fuseau horaire "
                "(par exemple 2026-01-31T10:15:00Z)."
            ) from None
        if moment.tzinfo is None:
            raise ValueError("La date d'acceptation doit préciser son fuseau horaire.")
        return moment.astimezone(timezone.utc).isoformat()


def _check_references(references: list[str]) -> list[str]:
    if not 1 <= len(references) <= 2:
        raise ValueError(
            "Indiquez une ou deux références de pièce d'identité (le recto et le verso, "
            "ou le document complet)."
        )
    if len(set(references)) != len(references):
        raise ValueError("La même pièce d'identité est indiquée deux fois.")
    return references


class RegistrationIn(Strict):
    company: CompanyIn
    person: PersonIn
    professional: ProfessionalIn
    documents: list[Reference]  # type: ignore[valid-type]
    cgu: CguIn
    conversation_id: Key | None = None

    _documents = validator("documents", allow_reuse=True)(_check_references)


class ConversationEraseIn(Strict):
    """« Annuler »: what the service holds of an unfinished conversation goes."""

    conversation_id: constr(strict=True, min_length=1, max_length=128)  # type: ignore[valid-type]


class ResendIn(Strict):
    email: StrictStr

    _email = validator("email", allow_reuse=True)(identifiers.to_email)


DOCUMENT_TYPES = ("cni", "passport", "residence_permit")
DOCUMENT_SIDES = ("front", "back", "full")
# Member states of the European Union, ISO 3166-1 alpha-2 (Greece is GR, not EL).
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
_ISSUED_IN_FRANCE_ONLY = {
    "cni": "Seules les cartes nationales d'identité françaises sont acceptées.",
    "residence_permit": "Seuls les titres de séjour délivrés par la France sont acceptés.",
}


class DocumentIn(Strict):
    """The form fields sent with an identity document (the file comes apart)."""

    conversation_id: Key  # type: ignore[valid-type]
    document_type: StrictStr
    side: StrictStr
    country: StrictStr | None = None
    # The user's address as the channel saw it (contract 1); not used by this route.
    client_address: constr(strict=True, max_length=64) | None = None  # type: ignore[valid-type]

    @validator("document_type")
    def _known_type(cls, value: str) -> str:
        if value not in DOCUMENT_TYPES:
            raise ValueError(
                "Le type de pièce doit valoir « cni » (carte nationale d'identité), "
                "« passport » (passeport) ou « residence_permit » (titre de séjour)."
            )
        return value

    @validator("side")
    def _known_side(cls, value: str) -> str:
        if value not in DOCUMENT_SIDES:
            raise ValueError(
                "La face doit valoir « front » (recto), « back » (verso) ou « full » "
                "(document complet)."
            )
        return value

    @validator("country", always=True)
    def _issuing_country(cls, value: str | None, values: dict[str, Any]) -> str | None:
        document_type = values.get("document_type")
        if not value:
            value = None
        else:
            value = value.upper()
            if not re.fullmatch(r"[A-Z]{2}", value):
                raise ValueError(
                    "Le pays doit être un code ISO 3166 à deux lettres (par exemple FR)."
                )
        if document_type is None:
            return value  # the type is already refused
        if document_type == "passport":
            if value is None:
                raise ValueError(
                    "Indiquez le pays qui a délivré le passeport (code ISO à deux lettres, "
                    "par exemple FR)."
                )
            if value not in EU_COUNTRIES:
                raise ValueError(
                    "Seuls les passeports délivrés par un État membre de l'Union européenne "
                    "sont acceptés."
                )
            return value
        if value not in (None, "FR"):
            raise ValueError(_ISSUED_IN_FRANCE_ONLY[document_type])
        return "FR"


class DocumentClaimIn(DocumentIn):
    """The JSON body that claims a file of the upload store as an identity document."""

    upload: constr(strict=True, min_length=1, max_length=128)  # type: ignore[valid-type]


HANDOFF_REASONS = (
    "user_request",
    "repeated_failures",
    "service_unavailable",
    "misunderstanding",
    "registration_refused",
)


class SummaryFieldIn(Strict):
    """One piece of information the assistant had gathered, already masked."""

    label: constr(strict=True, min_length=1, max_length=60)  # type: ignore[valid-type]
    value: constr(strict=True, max_length=200)  # type: ignore[valid-type]


class HandoffSummaryIn(Strict):
    """What the advisor reads first: the company, what is done, what is blocking."""

    company: constr(strict=True, min_length=1, max_length=200) | None = None  # type: ignore[valid-type]
    done: constr(strict=True, max_length=1000)  # type: ignore[valid-type]
    blocking: constr(strict=True, max_length=1000)  # type: ignore[valid-type]
    fields: conlist(SummaryFieldIn, max_items=30) = []  # type: ignore[valid-type]


class HandoffIn(Strict):
    """A conversation the assistant hands to a human advisor."""

    conversation_id: constr(strict=True, min_length=1, max_length=128)  # type: ignore[valid-type]
    channel: constr(strict=True, min_length=1, max_length=64) | None = None  # type: ignore[valid-type]
    reason: StrictStr
    summary: HandoffSummaryIn
    client_address: Any = None

    _client_address = client_address_field()

    @validator("reason")
    def _known_reason(cls, value: str) -> str:
        if value not in HANDOFF_REASONS:
            raise ValueError("n'est pas un motif connu.")
        return value


class HandoffLeaveIn(Strict):
    """The person left the advisor queue (« Revenir à l'assistant »)."""

    conversation_id: constr(strict=True, min_length=1, max_length=128)  # type: ignore[valid-type]


FEEDBACK_COMMENT_MAX = 1000


class FeedbackIn(Strict):
    """The answer to « Ces informations vous ont-elles été utiles ? »; an empty comment
    is no comment."""

    conversation_id: constr(strict=True, min_length=1, max_length=128)  # type: ignore[valid-type]
    useful: StrictBool
    comment: constr(strict=True, max_length=FEEDBACK_COMMENT_MAX) | None = None  # type: ignore[valid-type]

    @validator("comment")
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class AdvisorReplyIn(Strict):
    """A message an advisor writes to the user from the console."""

    text: constr(strict=True, min_length=1, max_length=2000)  # type: ignore[valid-type]
