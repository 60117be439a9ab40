"""Machine-readable zones written from a holder's fields, for the tests' documents.

`zone(...)` writes the lines of a TD1, TD3 or older French card with correct check
digits; `broken` spoils one check digit. The OCR corpus draws these lines on cards.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import date

from bot.mrz import FR_CNI, TD1, TD3, check_digit


@dataclass(frozen=True)
class Holder:
    surname: str
    given_names: tuple[str, ...]
    birth: date
    sex: str = "F"


@dataclass(frozen=True)
class Card:
    layout: str
    holder: Holder
    number: str
    expiry: date | None = None  # TD1 and TD3
    issued: date | None = None  # the older French card
    state: str = "FRA"
    code: str = "ID"

    def with_holder(self, **changes: object) -> Card:
        return replace(self, holder=replace(self.holder, **changes))


def _field(text: str, length: int) -> str:
    decomposed = unicodedata.normalize("NFKD", text.upper())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    written = "".join(ch if ch.isalnum() else "<" for ch in plain)
    return written[:length].ljust(length, "<")


def _names(holder: Holder, length: int) -> str:
    return _field(f"{holder.surname}<<{'<'.join(holder.given_names)}", length)


def _day(value: date) -> str:
    return value.strftime("%y%m%d")


def zone(card: Card) -> list[str]:
    """The lines of the card's zone, every check digit right."""
    holder = card.holder
    if card.layout == TD1:
        assert card.expiry is not None
        line1 = f"{card.code:<<2}{card.state:<<3}{_field(card.number, 9)}"
        line1 += check_digit(_field(card.number, 9)) + "<" * 15
        birth, expiry = _day(holder.birth), _day(card.expiry)
        line2 = f"{birth}{check_digit(birth)}{holder.sex}{expiry}{check_digit(expiry)}FRA"
        line2 += "<" * 11
        composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
        return [line1, line2 + check_digit(composite), _names(holder, 30)]
    if card.layout == TD3:
        assert card.expiry is not None
        line1 = f"P<{card.state:<<3}" + _names(holder, 39)
        number = _field(card.number, 9)
        birth, expiry = _day(holder.birth), _day(card.expiry)
        line2 = f"{number}{check_digit(number)}{card.state:<<3}{birth}{check_digit(birth)}"
        line2 += f"{holder.sex}{expiry}{check_digit(expiry)}" + "<" * 14 + "<"
        composite = line2[0:10] + line2[13:20] + line2[21:43]
        return [line1, line2 + check_digit(composite)]
    assert card.layout == FR_CNI and card.issued is not None
    number = card.issued.strftime("%y%m") + _field(card.number, 8)
    line1 = "IDFRA" + _field(holder.surname, 25) + number[4:7] + "012"
    given = _field("<<".join(holder.given_names), 14)
    birth = _day(holder.birth)
    line2 = f"{number}{check_digit(number)}{given}{birth}{check_digit(birth)}{holder.sex}"
    return [line1, line2 + check_digit(line1 + line2)]


def broken(lines: list[str], line: int, position: int) -> list[str]:
    """The zone with the check digit at (line, position) made wrong."""
    spoilt = list(lines)
    digit = spoilt[line][position]
    wrong = str((int(digit) + 1) % 10) if digit.isdigit() else "1"
    spoilt[line] = spoilt[line][:position] + wrong + spoilt[line][position + 1 :]
    return spoilt
