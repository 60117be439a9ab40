"""Request bodies for the account API, with demo contracts that exist on first run."""

from __future__ import annotations

import copy
import io
from typing import TYPE_CHECKING, Any

import aiohttp

from tests.corpus import build_corpus

if TYPE_CHECKING:
    from tests.conftest import Service

DEMO_SIREN = "552100554"
DEMO_CONTRACT = "AB123456"
DEMO_COMPANY = "Maison Démo Industries SA"
OTHER_SIREN = "534640974"  # holds contract AX258176
OTHER_CONTRACT = "AX258176"
DOCUMENTS = "/api/v1/documents"

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
    # Well formed but stored nowhere: `registration_with_document` stores a real one.
    "documents": ["doc_inconnue"],
    "cgu": {"version": "2026-01", "accepted": True, "accepted_at": "2026-11-26T10:15:00Z"},
    "conversation_id": "conv-1",
}


def registration(**changes: Any) -> dict[str, Any]:
    """A valid registration; `person={"first_name": "Luc"}` changes one field of a part."""
    body = copy.deepcopy(_REGISTRATION)
    for part, values in changes.items():
        if isinstance(body.get(part), dict):
            body[part].update(values)
        else:
            body[part] = values
    return body


def document_form(sample: str = "png_scan", **fields: str) -> aiohttp.FormData:
    """The multipart body of `POST /api/v1/documents` with a file of the test corpus."""
    values = {"conversation_id": "conv-1", "document_type": "cni", "side": "full", **fields}
    form = aiohttp.FormData()
    for name, value in values.items():
        form.add_field(name, value)
    chosen = build_corpus()[sample]
    form.add_field("file", io.BytesIO(chosen.data), filename=chosen.filename)
    return form


async def store_document(service: Service, sample: str = "png_scan", **fields: str) -> dict:
    """Store an identity document through the API and return the 201 answer."""
    async with await service.call(
        "POST", DOCUMENTS, data=document_form(sample, **fields)
    ) as answer:
        body = await answer.json()
        assert answer.status == 201, body
        return body


async def registration_with_document(service: Service, **changes: Any) -> dict[str, Any]:
    """A valid registration whose identity document is stored in its conversation."""
    body = registration(**changes)
    stored = await store_document(service, conversation_id=body["conversation_id"])
    body["documents"] = [stored["reference"]]
    return body
