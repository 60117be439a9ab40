"""The CRF's pieces of one value are joined into one entity. Rasa is imported inside the
tests, where its deprecation warnings are ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
Entities = list[dict[str, Any]]


@pytest.fixture
def join_pieces() -> Callable[[str, Entities], Entities]:
    from channels.entity_extractor import join_pieces

    return join_pieces


def entity(text: str, piece: str, name: str, confidence: float = 0.9) -> dict[str, Any]:
    start = text.index(piece)
    return {
        "entity": name,
        "start": start,
        "end": start + len(piece),
        "value": piece,
        "confidence_entity": confidence,
    }


def test_the_words_of_one_surname_are_one_surname(join_pieces: Callable) -> None:
    text = "Monsieur Yann Le Gall, né le 30/01/1972"
    pieces = [
        entity(text, "Yann", "first_name"),
        entity(text, "Le", "last_name", 0.6),
        entity(text, "Gall", "last_name", 0.8),
        entity(text, "30/01/1972", "date"),
    ]
    joined = join_pieces(text, pieces)
    assert [(found["entity"], found["value"]) for found in joined] == [
        ("first_name", "Yann"),
        ("last_name", "Le Gall"),
        ("date", "30/01/1972"),
    ]
    assert joined[1]["confidence_entity"] == 0.6


def test_values_apart_or_of_other_kinds_stay_apart(join_pieces: Callable) -> None:
    text = "Jean, Dupont et Martin"
    pieces = [entity(text, "Jean", "first_name"), entity(text, "Dupont", "first_name")]
    pieces.append(entity(text, "Martin", "last_name"))
    assert [found["value"] for found in join_pieces(text, pieces)] == ["Jean", "Dupont", "Martin"]
