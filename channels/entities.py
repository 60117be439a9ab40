"""Entities as Rasa's NLU gives them (`entity`, `start`, `end`, `value`, `role`, `group`,
`confidence_*`), without importing Rasa: the CRF's pieces of one value joined."""

from __future__ import annotations

from typing import Any


def join_pieces(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`entities` with the neighbours of one type (and role and group) that only spaces
    separate joined into one entity, its value the text they span."""
    joined: list[dict[str, Any]] = []
    for entity in sorted(entities, key=lambda found: found["start"]):
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and all(previous.get(key) == entity.get(key) for key in ("entity", "role", "group"))
            and not text[previous["end"] : entity["start"]].strip()
        ):
            previous["end"] = entity["end"]
            previous["value"] = text[previous["start"] : entity["end"]]
            for key, value in entity.items():  # the lowest confidence of the pieces
                if key.startswith("confidence") and isinstance(value, float):
                    previous[key] = min(previous.get(key, value), value)
        else:
            joined.append(dict(entity))
    return joined
