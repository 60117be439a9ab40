"""E-mail availability: one address belongs to one natural person; role mailboxes flagged."""

from __future__ import annotations

import pytest

from tests.bot.payloads import registration_with_document
from tests.conftest import Service

CHECK = "/api/v1/emails/check"
PERSON = {"last_name": "Lefèvre", "first_name": "Émilie", "birth_date": "1984-03-12"}


async def test_a_new_address_is_available(service: Service) -> None:
    status, body = await service.post(CHECK, {"email": "Luc.Martin@Exemple.fr", **PERSON})
    assert status == 200
    assert body == {"email": "luc.martin@exemple.fr", "available": True, "role_mailbox": False}


async def test_an_address_of_another_person_is_refused_with_a_reason(service: Service) -> None:
    status, _ = await service.post(
        "/api/v1/registrations",
        await registration_with_document(service),
        headers={"Idempotency-Key": "k"},
    )
    assert status == 201
    other = {"last_name": "Martin", "first_name": "Luc", "birth_date": "1970-01-01"}

    status, body = await service.post(
        CHECK, {"email": "emilie.lefevre@exemple-industries.fr", **other}
    )

    assert status == 200
    assert body["available"] is False
    assert body["reason"]["code"] == "email_taken"
    assert "une seule personne physique" in body["reason"]["message"]


async def test_the_same_person_keeps_the_address(service: Service) -> None:
    await service.post(
        "/api/v1/registrations",
        await registration_with_document(service),
        headers={"Idempotency-Key": "k"},
    )
    same = {"last_name": "LEFEVRE", "first_name": "emilie", "birth_date": "1984-03-12"}
    status, body = await service.post(
        CHECK, {"email": "emilie.lefevre@exemple-industries.fr", **same}
    )
    assert (status, body["available"]) == (200, True)


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("contact@exemple.fr", True),
        ("RH@exemple.fr", True),
        ("info@exemple.fr", True),
        ("compta@exemple.fr", True),
        ("comptabilité@exemple.fr", True),
        ("jean.dupont@exemple.fr", False),
        ("rh.dupont@exemple.fr", False),
    ],
)
async def test_role_mailboxes_are_flagged(service: Service, email: str, role: bool) -> None:
    status, body = await service.post(CHECK, {"email": email, **PERSON})
    assert status == 200
    assert body["role_mailbox"] is role


async def test_person_fields_are_required(service: Service) -> None:
    status, body = await service.post(CHECK, {"email": "luc.martin@exemple.fr"})
    assert status == 422
    assert {item["field"] for item in body["error"]["fields"]} == {
        "last_name",
        "first_name",
        "birth_date",
    }
