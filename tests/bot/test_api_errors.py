"""Bad requests get a 4xx with a stable code and a clear French message, never a 500."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.bot.payloads import registration
from tests.conftest import API_TOKEN, Service

ENDPOINTS = [
    "/api/v1/companies/verify",
    "/api/v1/emails/check",
    "/api/v1/registrations",
    "/api/v1/activations/resend",
]


async def raw_post(
    service: Service, path: str, data: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    headers = {
        "Authorization": f"Bearer {API_TOKEN}",
        "Content-Type": "application/json",
        "Idempotency-Key": "k",
        **(headers or {}),
    }
    async with service.http.post(service.base_url + path, data=data, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("data", [b"{", b"not json", b"\xff\xfe", b""])
async def test_malformed_json_is_refused(service: Service, path: str, data: bytes) -> None:
    status, body = await raw_post(service, path, data)
    assert status == 400
    assert body["error"]["code"] == "invalid_json"
    assert "JSON" in body["error"]["message"]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("payload", [[], "texte", 42, None, {"inattendu": True}])
async def test_wrong_shapes_are_refused(service: Service, path: str, payload: object) -> None:
    status, body = await raw_post(service, path, json.dumps(payload).encode())
    assert status == 422
    assert body["error"]["code"] == "invalid_field"
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        ({"siren": 552100554, "contract_number": "AB123456"}, "siren", "chaîne de caractères"),
        ({"siren": "552100554", "contract_number": None}, "contract_number", "obligatoire"),
        ({"siren": "552100554"}, "contract_number", "obligatoire"),
        ({"siren": ["552100554"], "contract_number": "AB123456"}, "siren", "chaîne"),
        ({"siren": "552100554", "contract_number": "AB"}, "contract_number", "6 à 20"),
    ],
)
async def test_wrong_types_name_the_field(
    service: Service, payload: dict, field: str, expected: str
) -> None:
    status, body = await service.post("/api/v1/companies/verify", payload)
    assert status == 422
    fields = {item["field"]: item["message"] for item in body["error"]["fields"]}
    assert expected in fields[field]
    assert f"« {field} »" in body["error"]["message"]


async def test_wrong_types_deep_in_a_registration(service: Service) -> None:
    body = registration(person={"birth_date": 19840312}, cgu={"accepted": "oui"})
    status, answer = await service.post(
        "/api/v1/registrations", body, headers={"Idempotency-Key": "k"}
    )
    assert status == 422
    fields = {item["field"] for item in answer["error"]["fields"]}
    assert fields == {"person.birth_date", "cgu.accepted"}


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_oversize_bodies_are_refused(service: Service, path: str) -> None:
    huge = json.dumps({"email": "a" * 200_000}).encode()
    status, body = await raw_post(service, path, huge)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert "taille maximale" in body["error"]["message"]


async def test_oversize_chunked_body_is_refused(service: Service) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b" " * 1024

    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    async with service.http.post(
        service.base_url + ENDPOINTS[0], data=chunks(), headers=headers
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer wrong", f"Basic {API_TOKEN}"]
)
async def test_missing_or_wrong_auth_is_refused(
    service: Service, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with service.http.post(service.base_url + path, json={}, headers=headers) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert "Authentification requise" in body["error"]["message"]


async def test_a_non_json_content_type_is_refused(service: Service) -> None:
    status, body = await raw_post(
        service, ENDPOINTS[0], b"siren=552100554", {"Content-Type": "text/plain"}
    )
    assert status == 415
    assert body["error"]["code"] == "unsupported_media_type"


async def test_unknown_api_routes_and_methods_answer_json(service: Service) -> None:
    async with await service.call("GET", "/api/v1/nowhere") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    async with await service.call("GET", ENDPOINTS[0]) as response:
        assert response.status == 405
        assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_unknown_pages_answer_a_french_page(service: Service) -> None:
    async with aiohttp.ClientSession() as browser:
        async with browser.get(service.base_url + "/nulle-part") as response:
            assert response.status == 404
            assert "Page introuvable" in await response.text()


async def test_a_body_sent_in_slow_pieces_is_read_whole(service: Service) -> None:
    body = json.dumps({"siren": "552100554", "contract_number": "AB123456"}).encode()

    async def slowly():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 8):
            await asyncio.sleep(0.01)
            yield body[start : start + 8]

    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    async with service.http.post(
        service.base_url + ENDPOINTS[0], data=slowly(), headers=headers
    ) as response:
        assert response.status == 200
        assert (await response.json())["company_name"]


async def test_deeply_nested_json_is_a_client_error(service: Service) -> None:
    status, body = await raw_post(service, ENDPOINTS[0], b"[" * 30_000 + b"]" * 30_000)
    assert status == 400
    assert body["error"]["code"] == "invalid_json"
