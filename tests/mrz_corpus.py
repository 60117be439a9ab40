"""The corpus of drawn identity documents: every layout, scans and phone-like photos,
matching and mismatching holders, broken check digits, expired documents.

Each case says what the person typed (`declared`) and whether the document proves it
(`provable`): only the legible documents of a matching holder, with every check digit
right and not expired, are provable. The others must never be verified.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from PIL import Image

from bot.mrz import FR_CNI, TD1, TD3, Declared
from tests.document_images import draw, phone_like, photograph
from tests.mrz_zones import Card, Holder, broken, zone

TODAY = date(2026, 12, 1)

HOLDERS = (
    Holder("Dubois", ("Héloïse", "Claire"), date(1984, 3, 12)),
    Holder("Le Goff", ("Jean", "Pierre"), date(1975, 11, 2), sex="M"),
    Holder("Lefèvre", ("Zoé",), date(1992, 7, 30)),
    Holder("Bernard-Petit", ("Anne", "Marie"), date(1968, 1, 5)),
    Holder("Nguyen", ("Kévin",), date(2001, 12, 24), sex="M"),
    Holder("Moreau", ("Éric", "Louis"), date(1959, 5, 17), sex="M"),
    Holder("Da Silva Martins", ("Inès",), date(1988, 9, 9)),
    Holder("Rousseau", ("Mathilde", "Jeanne", "Alice"), date(1979, 2, 28)),
)


# Where each layout's check digits are: (line, position).
_CHECKS = {
    TD1: ((0, 14), (1, 6), (1, 14), (1, 29)),
    TD3: ((1, 9), (1, 19), (1, 27), (1, 43)),
    FR_CNI: ((1, 12), (1, 33), (1, 35)),
}


@dataclass(frozen=True)
class Case:
    name: str
    image: Image.Image
    declared: Declared
    provable: bool


def _card(layout: str, holder: Holder, index: int, *, expired: bool = False) -> Card:
    if layout == TD1:
        expiry = date(2025, 4, 1) if expired else date(2031, 5, 1 + index)
        return Card(TD1, holder, f"X4RTBPF{index:02d}", expiry=expiry)
    if layout == TD3:
        expiry = date(2024, 2, 10) if expired else date(2030, 2, 10 + index)
        return Card(TD3, holder, f"22AB1234{index}", expiry=expiry, code="P")
    # Issued in 2012 to an adult: valid 15 years, to 2027 (to a minor: 10 years, from
    # 2018); in 2009: expired in 2024.
    adult_in_2012 = holder.birth <= date(1994, 1, 1)
    issued = date(2009, 6, 1) if expired else date(2012 if adult_in_2012 else 2018, 6, 1)
    return Card(FR_CNI, holder, f"7510234{index}", issued=issued)


def _declared(card: Card, holder: Holder | None = None) -> Declared:
    holder = holder or card.holder
    kind = {"ID": "cni", "P": "passport"}[card.code]
    return Declared(
        document_type=kind,
        country="FR" if kind == "passport" else None,
        last_name=holder.surname,
        first_name=" ".join(holder.given_names),
        birth_date=holder.birth,
    )


def cases(seed: int = 7) -> Iterator[Case]:
    """Every case, its images drawn (and photographed) on the fly."""
    rng = random.Random(seed)
    for index, holder in enumerate(HOLDERS):
        for layout in (TD1, TD3, FR_CNI):
            card = _card(layout, holder, index)
            scan = draw(card)
            yield Case(f"{layout} {holder.surname} scan", scan, _declared(card), True)
            photo = photograph(scan, phone_like(rng.randrange(10**6)))
            yield Case(f"{layout} {holder.surname} photo", photo, _declared(card), True)
            # Someone else's document, or a typing error: never verified.
            other = HOLDERS[(index + 1) % len(HOLDERS)]
            name = f"{layout} {holder.surname}"
            yield Case(f"{name} typed {other.surname}", photo, _declared(card, other), False)
            line, position = _CHECKS[layout][index % len(_CHECKS[layout])]
            spoilt = draw(card, broken(zone(card), line, position))
            yield Case(f"{name} broken at {line}:{position}", spoilt, _declared(card), False)
            old = _card(layout, holder, index, expired=True)
            yield Case(f"{layout} {holder.surname} expired", draw(old), _declared(old), False)
