"""The patterns of data/nlu/regexes.yml, as the NLU's features see them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REGEXES = yaml.safe_load((ROOT / "data" / "nlu" / "regexes.yml").read_text(encoding="utf-8"))


def patterns() -> dict[str, list[str]]:
    return {
        block["regex"]: [line[2:] for line in block["examples"].splitlines() if line.strip()]
        for block in REGEXES["nlu"]
    }


def test_each_name_has_one_pattern() -> None:
    """Rasa 3.6 gives the CRF only the last pattern of a name as a token feature: a second
    pattern of the same name would hide the matches of the first."""
    assert {name: len(found) for name, found in patterns().items() if len(found) != 1} == {}


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("date", "je suis née le 12/03/1984", "12/03/1984"),
        ("date", "12-03-1984", "12-03-1984"),
        ("date", "12.03.1984", "12.03.1984"),
        ("date", "12 03 1984", "12 03 1984"),
        ("date", "12/03/84", "12/03/84"),
        ("date", "1984-03-12", "1984-03-12"),
        ("date", "12031984", "12031984"),
        ("date", "le 12 mars 1984", "12 mars 1984"),
        ("date", "né le 1er janvier 1975", "1er janvier 1975"),
        ("date", "3 fevr. 1975", "3 fevr. 1975"),
        ("contract_number", "contrat AB123456", "AB123456"),
        ("contract_number", "contrat ab-123456", "ab-123456"),
        ("contract_number", "AB 123 456", "AB 123 456"),
        ("contract_number", "le PA-2024-0099", "PA-2024-0099"),
        ("siren", "SIREN 732 829 320", "732 829 320"),
        ("phone", "mon portable 06 12 34 56 78", "06 12 34 56 78"),
        ("phone", "+33 6 12 34 56 78", "+33 6 12 34 56 78"),
    ],
)
def test_every_documented_format_is_matched_whole(name: str, text: str, value: str) -> None:
    (pattern,) = patterns()[name]
    assert [match.group(0) for match in re.finditer(pattern, text, re.IGNORECASE)] == [value]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("siren", "SIRET 732 829 320 00074"),
        ("date", "06.12.34.56.78"),
        ("phone", "SIRET 73282932000074"),
        ("contract_number", "jean.dupont@garage.fr"),
    ],
)
def test_no_pattern_fires_inside_a_longer_value(name: str, text: str) -> None:
    (pattern,) = patterns()[name]
    assert re.search(pattern, text, re.IGNORECASE) is None
