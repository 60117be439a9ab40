"""Company verification: a name on a match, one generic refusal otherwise, throttling."""

from __future__ import annotations

import pytest

from tests.bot.payloads import DEMO_COMPANY, DEMO_CONTRACT, DEMO_SIREN, OTHER_CONTRACT
from tests.conftest import MovableClock, Service

VERIFY = "/api/v1/companies/verify"


@pytest.mark.parametrize(
    "siren",
    [
        "552100554",
        "552 100 554",
        "552.100.554",
        "552-100-554",
        "55210055400013",
        "552 100 554 00013",
    ],
)
async def test_matching_pair_gives_the_company_name(service: Service, siren: str) -> None:
    status, body = await service.post(VERIFY, {"siren": siren, "contract_number": "ab 123 456"})
    assert status == 200
    assert body == {
        "siren": DEMO_SIREN,
        "contract_number": DEMO_CONTRACT,
        "company_name": DEMO_COMPANY,
    }


async def test_unknown_siren_unknown_contract_and_mismatch_get_the_same_refusal(
    service: Service,
) -> None:
    answers = []
    for siren, contract in [
        ("732829320", DEMO_CONTRACT),  # valid checksum, not in the directory
        (DEMO_SIREN, "ZZ999999"),  # unknown contract
        (DEMO_SIREN, OTHER_CONTRACT),  # both exist, but not together
    ]:
        answers.append(await service.post(VERIFY, {"siren": siren, "contract_number": contract}))
    assert answers[0] == answers[1] == answers[2]
    status, body = answers[0]
    assert status == 422
    assert body["error"]["code"] == "company_not_verified"
    assert "numéro de contrat" in body["error"]["message"]


@pytest.mark.parametrize(
    ("siren", "expected"),
    [
        ("552100555", "clé de contrôle"),
        ("55210055", "9 chiffres"),
        ("55210055400014", "SIRET n'est pas valide"),
        ("ABC", "que des chiffres"),
    ],
)
async def test_malformed_siren_is_explained(service: Service, siren: str, expected: str) -> None:
    status, body = await service.post(VERIFY, {"siren": siren, "contract_number": DEMO_CONTRACT})
    assert status == 422
    assert body["error"]["code"] == "invalid_field"
    assert body["error"]["fields"][0]["field"] == "siren"
    assert expected in body["error"]["fields"][0]["message"]


async def test_repeated_failures_from_a_conversation_are_throttled(
    service: Service, clock: MovableClock
) -> None:
    wrong = {"siren": DEMO_SIREN, "contract_number": "ZZ999999", "conversation_id": "c-42"}
    right = {"siren": DEMO_SIREN, "contract_number": DEMO_CONTRACT, "conversation_id": "c-42"}
    for _ in range(5):
        assert (await service.post(VERIFY, wrong))[0] == 422

    status, body = await service.post(VERIFY, right)
    assert status == 429, "even the right pair is refused while throttled"
    assert body["error"]["code"] == "too_many_attempts"
    assert "réessayer" in body["error"]["message"]
    # Sent to the support cell, with its contact details (the embedded defaults).
    assert "espaces-clients@assureur.example" in body["error"]["message"]
    assert "01 99 00 12 34" in body["error"]["message"]
    assert "{contact}" not in body["error"]["message"]
    clock.advance(minutes=5)
    async with await service.call("POST", VERIFY, json=right) as response:
        assert int(response.headers["Retry-After"]) == 10 * 60, "until the first failure expires"

    other = dict(right, conversation_id="c-43")
    assert (await service.post(VERIFY, other))[0] == 200, "other conversations are not blocked"

    clock.advance(minutes=10)
    assert (await service.post(VERIFY, right))[0] == 200, "the window slides"


async def test_an_address_is_throttled_across_conversations(
    database_url: str, clock: MovableClock, tmp_path
) -> None:
    """Rotating conversation ids does not escape the limit of the address; another
    address, in a fresh conversation, is not blocked."""
    from tests.conftest import start_service

    async with start_service(
        database_url, clock, tmp_path, verify_max_failures_per_address=3
    ) as service:
        for n in range(3):
            wrong = {
                "siren": DEMO_SIREN,
                "contract_number": "ZZ999999",
                "conversation_id": f"{n}",
                "client_address": "203.0.113.7",
            }
            assert (await service.post(VERIFY, wrong))[0] == 422
        fresh = {"siren": DEMO_SIREN, "contract_number": DEMO_CONTRACT, "conversation_id": "new"}
        assert (await service.post(VERIFY, {**fresh, "client_address": "203.0.113.7"}))[0] == 429
        other = {**fresh, "client_address": "198.51.100.20"}
        assert (await service.post(VERIFY, other))[0] == 200
