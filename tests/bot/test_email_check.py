"""E-mail availability: one address belongs to one natural person; role mailboxes flagged."""

from __future__ import annotations

import pytest

from tests.bot.payloads import DEMO_CONTRACT, DEMO_SIREN, registration_with_document
from tests.conftest import MovableClock, Service

CHECK = "/api/v1/emails/check"
VERIFY = "/api/v1/companies/verify"
CONVERSATION = "web-" + "a" * 32
PERSON = {
    "last_name": "Lefèvre",
    "first_name": "Émilie",
    "birth_date": "1984-03-12",
    "conversation_id": CONVERSATION,
}


@pytest.fixture(autouse=True)
async def verified(service: Service) -> None:
    """The conversation of the checks has its company verified, as in the assistant."""
    company = {"siren": DEMO_SIREN, "contract_number": DEMO_CONTRACT}
    assert (await service.post(VERIFY, {**company, "conversation_id": CONVERSATION}))[0] == 200


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
    other = {
        "last_name": "Martin",
        "first_name": "Luc",
        "birth_date": "1970-01-01",
        "conversation_id": CONVERSATION,
    }

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
    same = {**PERSON, "last_name": "LEFEVRE", "first_name": "emilie"}
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
    status, body = await service.post(
        CHECK, {"email": "luc.martin@exemple.fr", "conversation_id": CONVERSATION}
    )
    assert status == 422
    assert {item["field"] for item in body["error"]["fields"]} == {
        "last_name",
        "first_name",
        "birth_date",
    }


async def test_only_a_conversation_whose_company_is_verified_may_check(service: Service) -> None:
    """An address registered by someone cannot be probed from outside a registration."""
    status, _ = await service.post(
        "/api/v1/registrations",
        await registration_with_document(service),
        headers={"Idempotency-Key": "k"},
    )
    assert status == 201
    probe = {**PERSON, "email": "emilie.lefevre@exemple-industries.fr", "last_name": "Martin"}
    for body in (
        {k: v for k, v in probe.items() if k != "conversation_id"},
        {**probe, "conversation_id": "web-" + "b" * 32},
    ):
        status, answer = await service.post(CHECK, body)
        assert status == 403
        assert answer["error"]["code"] == "company_verification_required"
        assert "SIREN" in answer["error"]["message"]
        assert "available" not in answer

    wrong = {"siren": DEMO_SIREN, "contract_number": "ZZ999999", "conversation_id": "web-c"}
    assert (await service.post(VERIFY, wrong))[0] == 422
    status, _ = await service.post(CHECK, {**probe, "conversation_id": "web-c"})
    assert status == 403, "a failed verification verifies nothing"


async def test_email_checks_are_throttled_per_conversation_and_per_address(
    service: Service, clock: MovableClock
) -> None:
    for n in range(10):
        status, _ = await service.post(CHECK, {**PERSON, "email": f"luc{n}@exemple.fr"})
        assert status == 200
    async with await service.call(
        "POST", CHECK, json={**PERSON, "email": "luc@exemple.fr"}
    ) as response:
        assert response.status == 429
        assert int(response.headers["Retry-After"]) == 15 * 60
        body = await response.json()
    assert body["error"]["code"] == "too_many_email_checks"
    assert "réessayer" in body["error"]["message"]

    # Per address: many verified conversations from one address.
    for n in range(30):
        conversation = f"web-{n:032x}"
        company = {"siren": DEMO_SIREN, "contract_number": DEMO_CONTRACT}
        await service.post(VERIFY, {**company, "conversation_id": conversation})
        status, _ = await service.post(
            CHECK,
            {
                **PERSON,
                "email": f"x{n}@exemple.fr",
                "conversation_id": conversation,
                "client_address": "203.0.113.9",
            },
        )
        assert status == (200 if n < 30 else 429)
    extra = f"web-{99:032x}"
    company = {"siren": DEMO_SIREN, "contract_number": DEMO_CONTRACT}
    await service.post(VERIFY, {**company, "conversation_id": extra})
    attacker = {**PERSON, "email": "y@exemple.fr", "conversation_id": extra}
    assert (await service.post(CHECK, {**attacker, "client_address": "203.0.113.9"}))[0] == 429
    assert (await service.post(CHECK, {**attacker, "client_address": "198.51.100.1"}))[0] == 200

    clock.advance(minutes=16)
    assert (await service.post(CHECK, {**PERSON, "email": "luc@exemple.fr"}))[0] == 200
