"""Normalisation of the identifiers users type, shared by the service and the actions.

Each function returns the canonical form or raises `ValueError` with a French message
that can be shown to the user as is.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import secrets
import unicodedata
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import ValidationError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

_SEPARATORS = re.compile(r"[\s.\-_/]+")
_CONTRACT_NUMBER = re.compile(r"^[A-Z0-9]{6,20}$")
_NAME = re.compile(r"^[^\W\d_]+(?:[ '’\-][^\W\d_]+)*$")

CIVILITIES = {
    "m": "M.",
    "m.": "M.",
    "mr": "M.",
    "monsieur": "M.",
    "mme": "Mme",
    "madame": "Mme",
    "mme.": "Mme",
    "mademoiselle": "Mme",
    "mlle": "Mme",
}

MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
    "janv": 1,
    "fev": 2,
    "avr": 4,
    "juil": 7,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WORDED_DATE = re.compile(r"^(?:le\s+)?(\d{1,2})(?:er)?\s+([a-z]+)\.?\s+(\d{4})$")


def to_siren(value: str) -> str:
    """Return the 9-digit SIREN of a SIREN or SIRET typed with any separators."""
    digits = _SEPARATORS.sub("", value)
    if not digits.isdigit():
        raise ValueError("Le numéro SIREN ne doit contenir que des chiffres (9 chiffres).")
    if len(digits) == 14:
        try:
            return stdnum_siret.to_siren(stdnum_siret.validate(digits))
        except ValidationError:
            raise ValueError(
                "Ce numéro SIRET n'est pas valide (la clé de contrôle ne correspond pas). "
                "Vérifiez les 14 chiffres, ou indiquez plutôt votre SIREN à 9 chiffres."
            ) from None
    if len(digits) != 9:
        raise ValueError(
            f"Un numéro SIREN compte 9 chiffres (ou 14 pour un SIRET) : j'en ai lu {len(digits)}."
        )
    try:
        return stdnum_siren.validate(digits)
    except ValidationError:
        raise ValueError(
            "Ce numéro SIREN n'est pas valide (la clé de contrôle ne correspond pas). "
            "Vérifiez les 9 chiffres sur votre extrait Kbis ou votre avis de situation INSEE."
        ) from None


def to_contract_number(value: str) -> str:
    """Return a contract number in upper case without separators."""
    compact = _SEPARATORS.sub("", value).upper()
    if not _CONTRACT_NUMBER.match(compact):
        raise ValueError(
            "Un numéro de contrat compte de 6 à 20 lettres et chiffres, sans autre caractère "
            "(par exemple AB123456). Il figure sur vos conditions particulières."
        )
    return compact


def to_email(value: str) -> str:
    """Return the e-mail address in its normalised, lower-case form."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(
            "Cette adresse e-mail n'est pas valide. Elle doit ressembler à "
            "prenom.nom@entreprise.fr."
        ) from None
    return result.normalized.lower()


def to_phone(value: str, *, mobile: bool = False) -> str:
    """Return a French phone number in E.164 form (+33…)."""
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(
            "Ce numéro de téléphone n'est pas valide. Indiquez un numéro à 10 chiffres "
            "(par exemple 06 12 34 56 78) ou au format international (+33 6 12 34 56 78)."
        )
    if mobile and phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValueError(
            "Ce numéro n'est pas un numéro de téléphone portable. Indiquez votre numéro de "
            "mobile (par exemple 06 12 34 56 78)."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_mobile_phone(value: str) -> str:
    """Return a French mobile number in E.164 form."""
    return to_phone(value, mobile=True)


def to_any_phone(value: str) -> str:
    """Return a French landline or mobile number in E.164 form."""
    return to_phone(value)


def fix_typos(words: list[str], vocabulary: frozenset[str] | set[str]) -> list[str]:
    """Each word of five letters or more that is one typo away from a word of
    `vocabulary` (a swapped, missing or doubled letter: « crate », « madmae ») becomes
    that word; the others are kept."""
    fixed = []
    for word in words:
        if len(word) >= 5 and word not in vocabulary:
            close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.8)
            word = close[0] if close else word
        fixed.append(word)
    return fixed


def to_civility(value: str) -> str:
    """Return "M." or "Mme"; a typo is forgiven (« madmae », « monsieru »)."""
    typed = value.strip().lower()
    civility = CIVILITIES.get(typed) or CIVILITIES.get(" ".join(fix_typos([typed], CIVILITIES)))
    if civility is None:
        raise ValueError("La civilité doit être « Monsieur » (M.) ou « Madame » (Mme).")
    return civility


def to_name(value: str) -> str:
    """Return a person's name with surrounding and repeated spaces removed."""
    name = " ".join(value.split())
    if not name or len(name) > 100 or not _NAME.match(name):
        raise ValueError(
            "Un nom ou un prénom ne peut contenir que des lettres, des espaces, des traits "
            "d'union et des apostrophes."
        )
    return name


def to_birth_date(value: str, today: date) -> date:
    """Read a birth date typed in French (12/03/1984, 12 mars 1984, 1984-03-12) and check
    that it is a real past date of an adult."""
    text = comparable(value).strip().rstrip(".")
    parts: tuple[int, int, int] | None = None
    if match := _ISO_DATE.match(text):
        parts = (int(match[3]), int(match[2]), int(match[1]))
    elif match := _NUMERIC_DATE.match(text):
        year = int(match[3])
        if len(match[3]) == 2:
            year += 2000 if year <= today.year % 100 else 1900
        parts = (int(match[1]), int(match[2]), year)
    elif (match := _WORDED_DATE.match(text)) and match[2] in MONTHS:
        parts = (int(match[1]), MONTHS[match[2]], int(match[3]))
    if parts is None:
        raise ValueError(
            "Je n'ai pas reconnu cette date. Indiquez-la au format jour/mois/année, "
            "par exemple 12/03/1984."
        )
    try:
        born = date(parts[2], parts[1], parts[0])
    except ValueError:
        raise ValueError(
            "Cette date n'existe pas. Vérifiez le jour et le mois (par exemple 12/03/1984)."
        ) from None
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if born >= today:
        raise ValueError("La date de naissance doit être une date passée.")
    if age < 18:
        raise ValueError(
            "Le représentant de l'entreprise doit être majeur pour créer l'espace client."
        )
    if age > 120:
        raise ValueError("Cette date de naissance n'est pas plausible : vérifiez l'année.")
    return born


def comparable(value: str) -> str:
    """Fold case and accents, for comparing names typed in different ways."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


def mask_email(email: str) -> str:
    """Return the e-mail with most of the local part hidden: j***n@example.fr."""
    local, _, domain = email.partition("@")
    if len(local) <= 2:
        hidden = local[:1] + "***"
    else:
        hidden = local[0] + "***" + local[-1]
    return f"{hidden}@{domain}"


ROLE_MAILBOXES = frozenset(
    {
        "accueil",
        "admin",
        "administration",
        "bonjour",
        "comptabilite",
        "compta",
        "contact",
        "commercial",
        "direction",
        "facturation",
        "gestion",
        "hello",
        "info",
        "infos",
        "juridique",
        "mail",
        "no-reply",
        "noreply",
        "office",
        "paie",
        "rh",
        "sales",
        "secretariat",
        "service-client",
        "serviceclient",
        "support",
    }
)


def is_role_mailbox(email: str) -> bool:
    """Tell whether the address looks like a shared mailbox (contact@, rh@, info@…)."""
    local = comparable(email.partition("@")[0])
    return local in ROLE_MAILBOXES or local.split("+")[0] in ROLE_MAILBOXES


# Conversations of the public web channels (REST, socket.io): `web-` and 128 random bits
# in hexadecimal. The messaging channels' ids (a Telegram chat id, `whatsapp:+33…`, a
# Messenger page-scoped id) never have this form, so no web id can reach them.
WEB_CONVERSATION_ID = re.compile(r"web-[0-9a-f]{32}")
_WEB_ID_DOMAIN = b"espace-client web conversation\x00"


def new_web_conversation_id() -> str:
    """A fresh, unguessable conversation id of the web channels."""
    return "web-" + secrets.token_hex(16)


def web_conversation_id(requested: str) -> str:
    """The conversation of the web channels that a client's `sender` designates.

    A well-formed web id is itself; anything else (a test's `user-1`, a forged
    `whatsapp:+33…`) is hashed into the web namespace, so that the same sender keeps
    its conversation without ever naming another channel's.
    """
    if WEB_CONVERSATION_ID.fullmatch(requested):
        return requested
    digest = hashlib.sha256(_WEB_ID_DOMAIN + requested.encode("utf-8", "surrogatepass"))
    return "web-" + digest.hexdigest()[:32]
