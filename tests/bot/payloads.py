"""Request bodies for the account API, with demo contracts that exist on first run."""

from __future__ import annotations

import copy
from typing import Any

DEMO_SIREN = "552100554"
DEMO_CONTRACT = "AB123456"
DEMO_COMPANY = "Maison Démo Industries SA"
OTHER_SIREN = "534640974"  # holds contract AX258176
OTHER_CONTRACT = "AX258176"

_REGISTRATION: dict[str, Any] = {
    "company": {"siren": "552 100 554", "contract_number": "ab-123456"},
    "person": {
        "civility": "Madame",
        "last_name": "Lefèvre",
        "first_name": "Émilie",
        "birth_date": "1984-03-12",
        "mobile_phone": "06 12 34 56 78",
    },
    "professional": {
        "job_title": "Directrice administrative",
        "email": "Emilie.Lefevre@Exemple-Industries.fr",
        "phone": "01 42 68 53 00",
    },
    "document_reference": None,
    "cgu": {"version": "2026-01", "accepted": True, "accepted_at": "2026-11-26T10:15:00Z"},
    "conversation_id": "conv-1",
}


def registration(**changes: dict[str, Any]) -> dict[str, Any]:
    """A valid registration; `person={"first_name": "Luc"}` changes one field of a part."""
    body = copy.deepcopy(_REGISTRATION)
    for part, values in changes.items():
        if isinstance(body.get(part), dict):
            body[part].update(values)
        else:
            body[part] = values
    return body
