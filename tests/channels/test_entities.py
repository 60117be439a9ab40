"""The CRF's pieces of one value are joined into one entity."""

from __future__ import annotations

from typing import Any

from channels.entities import join_pieces


def entity(text: str, piece: str, name: str, confidence: float = 0.9) -> dict[str, Any]:
    start = text.index(piece)
    return {
        "entity": name,
        "start": start,
        "end": start + len(piece),
        "value": piece,
        "confidence_entity": confidence,
    }


def test_the_words_of_one_surname_are_one_surname() -> None:
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


def test_values_apart_or_of_other_kinds_stay_apart() -> None:
    text = "Jean, Dupont et Martin"
    pieces = [entity(text, "Jean", "first_name"), entity(text, "Dupont", "first_name")]
    pieces.append(entity(text, "Martin", "last_name"))
    assert [found["value"] for found in join_pieces(text, pieces)] == ["Jean", "Dupont", "Martin"]
