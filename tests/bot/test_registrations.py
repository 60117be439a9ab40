"""Creating a registration: one account per idempotency key, refusals, the e-mail."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.models import Account
from bot.web.keys import SESSIONS
from tests.bot.payloads import (
    DEMO_COMPANY,
    OTHER_CONTRACT,
    OTHER_SIREN,
    registration,
    registration_with_document,
)
from tests.conftest import Service, SmtpInbox

REGISTRATIONS = "/api/v1/registrations"


async def create(service: Service, body: dict, key: str = "key-1") -> tuple[int, dict]:
    return await service.post(REGISTRATIONS, body, headers={"Idempotency-Key": key})


async def account_count(service: Service) -> int:
    async with service.app[SESSIONS]() as session:
        return (await session.execute(select(func.count()).select_from(Account))).scalar_one()


async def test_registration_creates_a_pending_account_and_emails_the_login(
    smtp_service: Service, smtp: SmtpInbox
) -> None:
    status, body = await create(smtp_service, await registration_with_document(smtp_service))

    assert status == 201
    assert body["status"] == "pending"
    assert body["login"].startswith("EC") and len(body["login"]) == 10
    assert body["email_masked"] == "e***e@exemple-industries.fr"
    assert body["activation_email_sent"] is True

    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "emilie.lefevre@exemple-industries.fr"
    assert message["Subject"] == "Activez votre espace client entreprise"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert body["login"] in part
        assert f"{smtp_service.base_url}/activate/" in part
        assert "30 jours" in part
        assert "pas à l'origine de cette demande" in part
        assert "espaces-clients@assureur.example" in part, "the support cell's address"
        assert "01 99 00 12 34" in part, "and its phone number"
        assert DEMO_COMPANY in part


async def test_normalised_values_are_stored(service: Service) -> None:
    status, body = await create(service, await registration_with_document(service))
    assert status == 201
    async with service.app[SESSIONS]() as session:
        account = await session.get(Account, body["registration_id"])
    assert account is not None
    assert (account.siren, account.contract_number) == ("552100554", "AB123456")
    assert account.civility == "Mme"
    assert account.mobile_phone == "+33612345678"
    assert account.professional_phone == "+33142685300"
    assert account.cgu_version == "2026-01"
    assert account.cgu_accepted_at.isoformat() == "2026-11-26T10:15:00+00:00"


async def test_a_retried_registration_creates_one_account(
    smtp_service: Service, smtp: SmtpInbox
) -> None:
    body = await registration_with_document(smtp_service)
    first = await create(smtp_service, body, key="retry-me")
    second = await create(smtp_service, body, key="retry-me")

    assert first[0] == 201 and second[0] == 200
    assert second[1]["login"] == first[1]["login"]
    assert second[1]["replayed"] is True
    assert await account_count(smtp_service) == 1
    assert len(smtp.messages) == 1, "a replay sends no second e-mail"


async def test_concurrent_retries_create_one_account(service: Service) -> None:
    body = await registration_with_document(service)
    answers = await asyncio.gather(*(create(service, body, key="same-key") for _ in range(5)))
    assert {status for status, _ in answers} <= {200, 201}
    assert len({body["login"] for _, body in answers}) == 1
    assert await account_count(service) == 1


async def test_a_key_reused_for_another_request_is_refused(service: Service) -> None:
    await create(service, await registration_with_document(service), key="k")
    status, body = await create(service, registration(person={"first_name": "Luc"}), key="k")
    assert status == 409
    assert body["error"]["code"] == "idempotency_conflict"


async def test_missing_idempotency_key_is_explained(service: Service) -> None:
    status, body = await service.post(REGISTRATIONS, registration())
    assert status == 400
    assert body["error"]["code"] == "missing_idempotency_key"
    assert "Idempotency-Key" in body["error"]["message"]


async def test_unknown_company_is_refused(service: Service) -> None:
    body = registration(company={"siren": OTHER_SIREN, "contract_number": "AB123456"})
    status, answer = await create(service, body)
    assert status == 422
    assert answer["error"]["code"] == "company_not_verified"
    assert await account_count(service) == 0


async def test_email_of_another_person_is_refused(service: Service) -> None:
    await create(service, await registration_with_document(service), key="a")
    other_person = registration(
        person={"first_name": "Marc", "birth_date": "1979-07-01"},
        company={"siren": OTHER_SIREN, "contract_number": OTHER_CONTRACT},
    )
    status, body = await create(service, other_person, key="b")
    assert status == 409
    assert body["error"]["code"] == "email_taken"
    assert "une seule personne" in body["error"]["message"]


async def test_same_person_may_register_another_company(service: Service) -> None:
    await create(service, await registration_with_document(service), key="a")
    same_person = await registration_with_document(
        service,
        person={"last_name": "LEFEVRE", "first_name": "emilie"},
        company={"siren": OTHER_SIREN, "contract_number": OTHER_CONTRACT},
    )
    status, _ = await create(service, same_person, key="b")
    assert status == 201


async def test_second_account_for_same_email_and_company_is_refused(service: Service) -> None:
    await create(service, await registration_with_document(service), key="a")
    status, body = await create(service, registration(conversation_id="other"), key="b")
    assert status == 409
    assert body["error"]["code"] == "already_registered"


@pytest.mark.parametrize(
    ("part", "values", "field", "expected"),
    [
        ("person", {"birth_date": "2015-01-01"}, "person.birth_date", "majeur"),
        ("person", {"birth_date": "2099-01-01"}, "person.birth_date", "date passée"),
        ("person", {"birth_date": "12/03/1984"}, "person.birth_date", "AAAA-MM-JJ"),
        ("person", {"mobile_phone": "01 42 68 53 00"}, "person.mobile_phone", "portable"),
        ("person", {"civility": "Docteur"}, "person.civility", "Madame"),
        ("person", {"last_name": "R2D2"}, "person.last_name", "lettres"),
        ("professional", {"email": "pas-une-adresse"}, "professional.email", "n'est pas valide"),
        ("professional", {"phone": "12"}, "professional.phone", "n'est pas valide"),
        ("cgu", {"accepted": False}, "cgu.accepted", "acceptées"),
        ("cgu", {"accepted_at": "hier"}, "cgu.accepted_at", "ISO 8601"),
    ],
)
async def test_each_invalid_field_is_explained_in_french(
    service: Service, part: str, values: dict, field: str, expected: str
) -> None:
    status, body = await create(service, registration(**{part: values}))
    assert status == 422
    fields = {item["field"]: item["message"] for item in body["error"]["fields"]}
    assert expected in fields[field]
    assert await account_count(service) == 0
