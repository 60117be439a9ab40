"""The machine-readable zone (MRZ) of an identity document: parsed, checked, compared.

Pure code, no I/O: the OCR that reads the zone's text off a photo lives elsewhere.
Three layouts are understood:

- ICAO TD1, 3 lines of 30: the 2021 French identity card and the residence permit;
- ICAO TD3, 2 lines of 44: passports;
- the French identity card of 1995–2021, 2 lines of 36 (not ICAO): it carries the
  month of issue instead of an expiry date.

`parse` turns lines of text into an `Mrz` and records which check digits fail;
`verify` says what the zone proves about a declared document and a typed identity.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

TD1, TD3, FR_CNI = "td1", "td3", "fr_cni"
_LENGTHS = {TD1: (30, 3), TD3: (44, 2), FR_CNI: (36, 2)}
_ALPHABET = re.compile(r"[A-Z0-9<]+")

# The issuing states of the European Union as an MRZ writes them (ISO 3166-1 alpha-3,
# except Germany's "D"), keyed by the alpha-2 code the conversation records.
EU_STATES = {
    "AT": "AUT", "BE": "BEL", "BG": "BGR", "CY": "CYP", "CZ": "CZE", "DE": "D",
    "DK": "DNK", "EE": "EST", "ES": "ESP", "FI": "FIN", "FR": "FRA", "GR": "GRC",
    "HR": "HRV", "HU": "HUN", "IE": "IRL", "IT": "ITA", "LT": "LTU", "LU": "LUX",
    "LV": "LVA", "MT": "MLT", "NL": "NLD", "PL": "POL", "PT": "PRT", "RO": "ROU",
    "SE": "SWE", "SI": "SVN", "SK": "SVK",
}  # fmt: skip
_STATE_COUNTRY = {state: country for country, state in EU_STATES.items()}

# Document codes (the first two characters) of each declared document type.
_CODES = {
    "cni": frozenset({"ID", "I"}),
    "residence_permit": frozenset({"IR", "AR", "CR", "RP", "RT"}),
    "passport": frozenset({"P", "PP", "PO", "PE"}),
}
# The older card, issued to an adult from 2004 to 2013, is valid 15 years (decree of
# 2013-12-18), although it shows 10.
_EXTENDED_ISSUES = (date(2004, 1, 1), date(2013, 12, 31))


@dataclass(frozen=True)
class Mrz:
    """What a machine-readable zone says. Dates as written (YYMMDD or YYMM)."""

    layout: str
    document_code: str
    issuing_state: str
    document_number: str
    surname: str
    given_names: tuple[str, ...]
    birth_date: str
    sex: str
    expiry_date: str | None  # TD1 and TD3
    issue_month: str | None  # the older French card
    names_truncated: bool
    failed_checks: tuple[str, ...] = field(default=())

    @property
    def checks_pass(self) -> bool:
        return not self.failed_checks


def check_digit(text: str) -> str:
    """ICAO 9303's check digit: weights 7, 3, 1; A–Z count 10–35, the filler 0."""
    total = 0
    for index, char in enumerate(text):
        if char.isdigit():
            value = int(char)
        elif "A" <= char <= "Z":
            value = ord(char) - ord("A") + 10
        else:
            value = 0
        total += value * (7, 3, 1)[index % 3]
    return str(total % 10)


def find_zone(lines: Sequence[str]) -> tuple[str, list[str]] | None:
    """The layout and the lines of the first zone found among lines of OCR text.

    Spaces are dropped; a layout is recognised by its line count and length.
    """
    cleaned = [re.sub(r"\s+", "", line.upper()) for line in lines]
    cleaned = [line for line in cleaned if line and _ALPHABET.fullmatch(line)]
    for layout in (TD1, TD3, FR_CNI):
        length, count = _LENGTHS[layout]
        for start in range(len(cleaned) - count + 1):
            block = cleaned[start : start + count]
            if all(len(line) == length for line in block) and _plausible(layout, block):
                return layout, block
    return None


def _plausible(layout: str, block: list[str]) -> bool:
    first = block[0]
    if layout == TD3:
        return first[0] == "P"
    if layout == FR_CNI:
        return first.startswith("IDFRA")
    return first[0] in "IAC"


def parse(layout: str, lines: Sequence[str]) -> Mrz:
    """Read the fields of a zone whose layout is known (see `find_zone`)."""
    length, count = _LENGTHS[layout]
    if len(lines) != count or any(len(line) != length for line in lines):
        raise ValueError(f"a {layout} zone has {count} lines of {length} characters")
    if layout == TD1:
        return _parse_td1(*lines)
    if layout == TD3:
        return _parse_td3(*lines)
    return _parse_fr_cni(*lines)


def _parse_td1(line1: str, line2: str, line3: str) -> Mrz:
    failed = []
    number, number_check = line1[5:14], line1[14]
    if number_check == "<" and line1[15] != "<":
        # A number of more than 9 characters goes on in the optional data, its check
        # digit last.
        extra = line1[15:30].split("<", 1)[0]
        number, number_check = number + extra[:-1], extra[-1]
    if check_digit(number) != number_check:
        failed.append("document_number")
    failed += _dates_checks(line2[0:6], line2[6], line2[8:14], line2[14])
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    if check_digit(composite) != line2[29]:
        failed.append("composite")
    surname, given = _names(line3)
    return Mrz(
        layout=TD1,
        document_code=line1[0:2].rstrip("<"),
        issuing_state=line1[2:5].rstrip("<"),
        document_number=number.rstrip("<"),
        surname=surname,
        given_names=given,
        birth_date=line2[0:6],
        sex=line2[7],
        expiry_date=line2[8:14],
        issue_month=None,
        names_truncated=not line3.endswith("<"),
        failed_checks=tuple(failed),
    )


def _parse_td3(line1: str, line2: str) -> Mrz:
    failed = []
    if check_digit(line2[0:9]) != line2[9]:
        failed.append("document_number")
    failed += _dates_checks(line2[13:19], line2[19], line2[21:27], line2[27])
    personal, personal_check = line2[28:42], line2[42]
    if not (personal.strip("<") == "" and personal_check in "<0") and (
        check_digit(personal) != personal_check
    ):
        failed.append("personal_number")
    if check_digit(line2[0:10] + line2[13:20] + line2[21:43]) != line2[43]:
        failed.append("composite")
    surname, given = _names(line1[5:44])
    return Mrz(
        layout=TD3,
        document_code=line1[0:2].rstrip("<"),
        issuing_state=line1[2:5].rstrip("<"),
        document_number=line2[0:9].rstrip("<"),
        surname=surname,
        given_names=given,
        birth_date=line2[13:19],
        sex=line2[20],
        expiry_date=line2[21:27],
        issue_month=None,
        names_truncated=not line1.endswith("<"),
        failed_checks=tuple(failed),
    )


def _parse_fr_cni(line1: str, line2: str) -> Mrz:
    failed = []
    if check_digit(line2[0:12]) != line2[12]:
        failed.append("document_number")
    if check_digit(line2[27:33]) != line2[33]:
        failed.append("birth_date")
    if check_digit(line1 + line2[0:35]) != line2[35]:
        failed.append("composite")
    given_field = line2[13:27]
    return Mrz(
        layout=FR_CNI,
        document_code="ID",
        issuing_state="FRA",
        document_number=line2[0:12],
        surname=line1[5:30].replace("<", " ").strip(),
        given_names=tuple(name.replace("<", " ") for name in given_field.split("<<") if name),
        birth_date=line2[27:33],
        sex=line2[34],
        expiry_date=None,
        issue_month=line2[0:4],
        names_truncated=not line1[5:30].endswith("<") or not given_field.endswith("<"),
        failed_checks=tuple(failed),
    )


def _dates_checks(birth: str, birth_check: str, expiry: str, expiry_check: str) -> list[str]:
    failed = []
    if check_digit(birth) != birth_check:
        failed.append("birth_date")
    if check_digit(expiry) != expiry_check:
        failed.append("expiry_date")
    return failed


def _names(zone: str) -> tuple[str, tuple[str, ...]]:
    """`DUBOIS<MARTIN<<ANNE<MARIE<<<` → ("DUBOIS MARTIN", ("ANNE", "MARIE"))."""
    surname, _, given = zone.partition("<<")
    return surname.replace("<", " ").strip(), tuple(_words(given))


def _words(zone: str) -> list[str]:
    return [word for word in zone.split("<") if word]


Outcome = Literal["verified", "mismatch", "expired", "unreadable"]


@dataclass(frozen=True)
class Declared:
    """What the person typed and chose: the document and the holder."""

    document_type: str  # cni, passport, residence_permit
    country: str | None  # alpha-2 code, for a passport
    last_name: str
    first_name: str
    birth_date: date


@dataclass(frozen=True)
class Verification:
    """What the zone proves about the declared document and holder.

    `mismatched` names the declared fields that disagree with the document (their slot
    names), never what the document says instead.
    """

    outcome: Outcome
    mismatched: tuple[str, ...] = ()
    expires: date | None = None


def verify(mrz: Mrz, declared: Declared, today: date) -> Verification:
    """Check digits, document type, issuing state, expiry and holder, in that order.

    A zone whose check digits fail proves nothing: it is unreadable, never verified.
    """
    if not mrz.checks_pass:
        return Verification("unreadable")
    expires = expiry(mrz)
    if expires is None:
        return Verification("unreadable")
    mismatched: list[str] = []
    if mrz.document_code not in _CODES.get(declared.document_type, frozenset()):
        mismatched.append("id_document_type")
    elif not _issued_by_expected_state(mrz, declared):
        mismatched.append("id_document_country")
    if not _same_name(mrz.surname, declared.last_name, mrz.names_truncated):
        mismatched.append("last_name")
    if not _same_given_names(mrz.given_names, declared.first_name, mrz.names_truncated):
        mismatched.append("first_name")
    if not _same_birth_date(mrz.birth_date, declared.birth_date):
        mismatched.append("birth_date")
    if mismatched:
        return Verification("mismatch", tuple(mismatched), expires)
    if expires < today:
        return Verification("expired", expires=expires)
    return Verification("verified", expires=expires)


def _issued_by_expected_state(mrz: Mrz, declared: Declared) -> bool:
    if declared.document_type == "passport":
        if mrz.issuing_state not in _STATE_COUNTRY:
            return False
        return declared.country is None or _STATE_COUNTRY[mrz.issuing_state] == declared.country
    return mrz.issuing_state == "FRA"


def expiry(mrz: Mrz) -> date | None:
    """The last day of validity, or None when the zone's dates are not dates."""
    if mrz.expiry_date is not None:
        return _full_date(mrz.expiry_date, century=2000)
    issued = _month(mrz.issue_month or "")
    born = _past_date(mrz.birth_date, issued)
    if issued is None or born is None:
        return None
    adult = _years_after(born, 18) <= issued
    years = 15 if adult and _EXTENDED_ISSUES[0] <= issued <= _EXTENDED_ISSUES[1] else 10
    # Only the month of issue is written: the earliest day of it, so that an expired
    # card is never taken for a valid one.
    return date.fromordinal(_years_after(issued, years).toordinal() - 1)


def _month(text: str) -> date | None:
    if not re.fullmatch(r"\d{4}", text):
        return None
    # The older card was issued from 1995 to 2021.
    year, month = int(text[:2]), int(text[2:])
    if not 1 <= month <= 12:
        return None
    return date(year + (1900 if year >= 90 else 2000), month, 1)


def _full_date(text: str, century: int) -> date | None:
    if not re.fullmatch(r"\d{6}", text):
        return None
    try:
        return date(century + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _past_date(text: str, before: date | None) -> date | None:
    """A birth date: the century that puts it before `before`."""
    parsed = _full_date(text, century=2000)
    if parsed is not None and before is not None and parsed > before:
        parsed = _full_date(text, century=1900)
    return parsed


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _same_birth_date(written: str, typed: date) -> bool:
    expected = typed.strftime("%y%m%d")
    # An unknown day or month is written as fillers: compare what is written.
    return len(written) == 6 and all(w in ("<", e) for w, e in zip(written, expected, strict=True))


def transliterations(name: str) -> set[str]:
    """The ways an MRZ may write a typed name, letters only (ICAO 9303 part 3).

    Accents are dropped (É → E); Ä, Ö, Ü may also be written AE, OE, UE, and ß SS;
    Æ and Œ are AE and OE. Spaces, hyphens and apostrophes become fillers or vanish,
    so they are left out of the comparison altogether.
    """
    upper = unicodedata.normalize("NFC", name.strip()).upper()
    ligatures = upper.replace("Æ", "AE").replace("Œ", "OE").replace("ẞ", "SS").replace("ß", "SS")
    variants = {ligatures}
    variants.add(ligatures.replace("Ä", "AE").replace("Ö", "OE").replace("Ü", "UE"))
    return {_letters(variant) for variant in variants}


def _letters(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^A-Z0-9]", "", plain.upper())


def _same_name(written: str, typed: str, truncated: bool) -> bool:
    zone = _letters(written)
    if not zone:
        return False
    for variant in transliterations(typed):
        if variant == zone or (truncated and len(zone) >= 3 and variant.startswith(zone)):
            return True
    return False


def _same_given_names(written: Sequence[str], typed: str, truncated: bool) -> bool:
    """The typed first name(s) must be the document's first given names, in order."""
    if not written:
        return False
    for count in range(1, len(written) + 1):
        last_may_be_cut = truncated and count == len(written)
        if _same_name(" ".join(written[:count]), typed, last_may_be_cut):
            return True
    return False
