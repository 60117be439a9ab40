"""The machine-readable zone: parsed, its check digits checked, compared with the typed
identity. ICAO's own specimens anchor the check digits; the other zones are written by
tests/mrz_zones.py, as the OCR corpus draws them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.mrz import FR_CNI, TD1, TD3, Declared, check_digit, find_zone, parse, verify
from tests.mrz_zones import Card, Holder, broken, zone

TODAY = date(2026, 12, 3)
ANNE = Holder("Dubois", ("Anne", "Marie"), date(1985, 4, 12))
CARDS = {
    "cni_2021": Card(TD1, ANNE, "X4RTBPFW4", expiry=date(2031, 5, 1)),
    "residence_permit": Card(TD1, ANNE, "IR1234567", expiry=date(2028, 1, 31), code="IR"),
    "passport": Card(TD3, ANNE, "22AB12345", expiry=date(2030, 2, 10), state="FRA", code="P"),
    "cni_older": Card(FR_CNI, ANNE, "75102345", issued=date(2012, 6, 1)),
}
DOCUMENT_TYPE = {
    "cni_2021": "cni",
    "residence_permit": "residence_permit",
    "passport": "passport",
    "cni_older": "cni",
}


def declared(kind: str, **changes: object) -> Declared:
    fields: dict[str, object] = {
        "document_type": DOCUMENT_TYPE[kind],
        "country": "FR" if kind == "passport" else None,
        "last_name": "Dubois",
        "first_name": "Anne",
        "birth_date": date(1985, 4, 12),
    }
    fields.update(changes)
    return Declared(**fields)  # type: ignore[arg-type]


def read(card: Card):
    layout, lines = find_zone(zone(card)) or (None, None)
    assert layout == card.layout
    return parse(layout, lines)


SPECIMEN_TD1 = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]
SPECIMEN_TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]


@pytest.mark.parametrize("lines", [SPECIMEN_TD1, SPECIMEN_TD3], ids=["td1", "td3"])
def test_icao_specimens_pass_their_check_digits(lines: list[str]) -> None:
    layout, found = find_zone(lines)
    mrz = parse(layout, found)
    assert mrz.checks_pass, mrz.failed_checks
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", ("ANNA", "MARIA"))
    assert (mrz.birth_date, mrz.expiry_date) == ("740812", "120415")


def test_check_digit_matches_icao_examples() -> None:
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("ZE184226B<<<<<") == "1"


@pytest.mark.parametrize("kind", CARDS)
def test_a_matching_holder_is_verified(kind: str) -> None:
    result = verify(read(CARDS[kind]), declared(kind), TODAY)
    assert result.outcome == "verified", result


@pytest.mark.parametrize("kind", CARDS)
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"last_name": "Dupuis"}, "last_name"),
        ({"last_name": "Dubos"}, "last_name"),
        ({"first_name": "Anna"}, "first_name"),
        ({"first_name": "Marie"}, "first_name"),
        ({"birth_date": date(1985, 4, 21)}, "birth_date"),
        ({"birth_date": date(1958, 4, 12)}, "birth_date"),
    ],
)
def test_a_mismatching_holder_names_the_typed_field(
    kind: str, changes: dict[str, object], field: str
) -> None:
    result = verify(read(CARDS[kind]), declared(kind, **changes), TODAY)
    assert (result.outcome, result.mismatched) == ("mismatch", (field,))


@pytest.mark.parametrize("kind", CARDS)
@pytest.mark.parametrize(
    ("surname", "given", "typed_last", "typed_first"),
    [
        ("Dubois", ("Maëlys", "Gaëlle"), "DUBOIS", "maëlys"),
        ("Dubois", ("Maëlys", "Gaëlle"), "dubois", "Maelys Gaelle"),
        ("Le Goff", ("Jean", "Pierre"), "Le-Goff", "Jean-Pierre"),
        ("D'Argent", ("Héloïse",), "d'Argent", "Heloise"),
        ("Lefèvre Martin", ("Zoé",), "Lefèvre-Martin", "Zoé"),
    ],
)
def test_accents_case_hyphens_and_compound_names_are_tolerated(
    kind: str, surname: str, given: tuple[str, ...], typed_last: str, typed_first: str
) -> None:
    card = CARDS[kind].with_holder(surname=surname, given_names=given)
    result = verify(read(card), declared(kind, last_name=typed_last, first_name=typed_first), TODAY)
    assert result.outcome == "verified", result


def test_german_umlauts_may_be_written_as_two_letters() -> None:
    card = Card(
        TD3,
        Holder("Mueller", ("Jürgen",), date(1980, 1, 2), "M"),
        "C01X00T47",
        expiry=date(2029, 3, 4),
        state="D",
        code="P",
    )
    typed = Declared("passport", "DE", "Müller", "Jürgen", date(1980, 1, 2))
    assert verify(read(card), typed, TODAY).outcome == "verified"
    assert (
        verify(
            read(card), Declared("passport", "DE", "Muller", "Jurgen", date(1980, 1, 2)), TODAY
        ).outcome
        == "mismatch"
    )


def test_truncated_given_names_match_their_full_typed_form() -> None:
    holder = {"surname": "Montmorency-Laval", "given_names": ("Anne", "Charlotte", "Éléonore")}
    card = CARDS["cni_2021"].with_holder(**holder)
    mrz = read(card)
    assert mrz.names_truncated and mrz.given_names == ("ANNE", "CHARLO")
    for typed in ("Anne", "Anne Charlotte", "Anne-Charlotte"):
        typed_holder = declared("cni_2021", last_name="Montmorency Laval", first_name=typed)
        assert verify(mrz, typed_holder, TODAY).outcome == "verified", typed
    for typed in ("Charlotte", "Anne Charlie", "Annie"):
        typed_holder = declared("cni_2021", last_name="Montmorency Laval", first_name=typed)
        assert verify(mrz, typed_holder, TODAY).outcome == "mismatch", typed


def _check_positions(layout: str) -> list[tuple[int, int]]:
    return {
        TD1: [(0, 14), (1, 6), (1, 14), (1, 29)],
        TD3: [(1, 9), (1, 19), (1, 27), (1, 43)],
        FR_CNI: [(1, 12), (1, 33), (1, 35)],
    }[layout]


@pytest.mark.parametrize("kind", CARDS)
def test_a_broken_check_digit_is_never_verified(kind: str) -> None:
    card = CARDS[kind]
    for line, position in _check_positions(card.layout):
        mrz = parse(card.layout, broken(zone(card), line, position))
        assert not mrz.checks_pass
        assert verify(mrz, declared(kind), TODAY).outcome == "unreadable"


@pytest.mark.parametrize(
    ("card", "kind"),
    [
        (Card(TD1, ANNE, "X4RTBPFW4", expiry=date(2026, 12, 2)), "cni_2021"),
        (Card(TD3, ANNE, "22AB12345", expiry=date(2025, 1, 1), code="P"), "passport"),
        # Issued in 2016: 10 years, up to November 2026.
        (Card(FR_CNI, ANNE, "75102345", issued=date(2016, 12, 1)), "cni_older"),
        # Issued in 2012 to a minor: 10 years only.
        (
            Card(
                FR_CNI,
                Holder("Dubois", ("Anne",), date(1998, 3, 1)),
                "75102345",
                issued=date(2012, 6, 1),
            ),
            "cni_older",
        ),
    ],
)
def test_an_expired_document_is_never_verified(card: Card, kind: str) -> None:
    typed = declared(kind, birth_date=card.holder.birth)
    assert verify(read(card), typed, TODAY).outcome == "expired"


def test_the_older_card_issued_to_an_adult_from_2004_to_2013_lasts_fifteen_years() -> None:
    issued_2012 = Card(FR_CNI, ANNE, "75102345", issued=date(2012, 6, 1))
    result = verify(read(issued_2012), declared("cni_older"), TODAY)
    assert (result.outcome, result.expires) == ("verified", date(2027, 5, 31))
    issued_2017 = Card(FR_CNI, ANNE, "75102345", issued=date(2017, 1, 1))
    assert verify(read(issued_2017), declared("cni_older"), TODAY).expires == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("card", "typed", "field"),
    [
        (CARDS["cni_2021"], declared("passport"), "id_document_type"),
        (CARDS["passport"], declared("cni_2021"), "id_document_type"),
        (CARDS["cni_2021"], declared("residence_permit"), "id_document_type"),
        (
            Card(TD1, ANNE, "B12345678", expiry=date(2030, 1, 1), state="BEL"),
            declared("cni_2021"),
            "id_document_country",
        ),
        (
            Card(TD3, ANNE, "YA1234567", expiry=date(2030, 1, 1), state="ITA", code="P"),
            declared("passport", country="DE"),
            "id_document_country",
        ),
        (
            Card(TD3, ANNE, "123456789", expiry=date(2030, 1, 1), state="GBR", code="P"),
            declared("passport", country=None),
            "id_document_country",
        ),
    ],
)
def test_the_document_type_and_issuing_state_must_be_the_declared_ones(
    card: Card, typed: Declared, field: str
) -> None:
    result = verify(read(card), typed, TODAY)
    assert (result.outcome, result.mismatched) == ("mismatch", (field,))


def test_the_zone_is_found_among_other_lines_of_text() -> None:
    lines = [
        "CARTE NATIONALE D'IDENTITE",
        "Nom : DUBOIS",
        *(" ".join(line[i : i + 10] for i in range(0, 30, 10)) for line in zone(CARDS["cni_2021"])),
        "Signature",
    ]
    assert find_zone(lines) == (TD1, zone(CARDS["cni_2021"]))
    assert find_zone(["IDFRAX4RTBPFW46<<<", "bonjour"]) is None
