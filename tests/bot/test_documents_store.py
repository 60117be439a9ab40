"""Identity documents: inspected again, stored encrypted, claimed by a registration, purged.

The action server posts the document it accepted in the conversation; the service
inspects it again, keeps only the cleaned content, encrypted, and gives a reference that
the registration then names.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography.fernet import Fernet, InvalidToken
from pypdf import PdfReader
from sqlalchemy import func, select, text, update

from bot import identifiers
from bot.documents import DocumentRefused, inspect_document
from bot.models import Account, Document, Upload
from bot.settings import ROOT, Settings
from bot.web.app import run_purge
from bot.web.keys import SESSIONS
from tests.bot.payloads import (
    DOCUMENTS,
    OTHER_CONTRACT,
    OTHER_SIREN,
    document_form,
    registration,
    store_document,
)
from tests.conftest import DOCUMENT_KEY, MovableClock, Service
from tests.corpus import AUTHOR, build_corpus, expensive_png, pdf_with_metadata

CORPUS = build_corpus()
ACCEPTED = sorted(name for name, sample in CORPUS.items() if sample.code is None)
REFUSED = sorted(name for name, sample in CORPUS.items() if sample.code is not None)
REGISTRATIONS = "/api/v1/registrations"


async def post_document(service: Service, sample: str = "png_scan", **fields: str) -> tuple:
    async with await service.call(
        "POST", DOCUMENTS, data=document_form(sample, **fields)
    ) as answer:
        return answer.status, await answer.json()


async def raw_documents(service: Service) -> dict[str, bytes]:
    """The `data` column by reference, read with plain SQL as an intruder would."""
    async with service.app[SESSIONS]() as session:
        rows = await session.execute(text("SELECT reference, data FROM documents"))
        return {reference: bytes(data) for reference, data in rows}


async def documents_by_reference(service: Service) -> dict[str, Document]:
    async with service.app[SESSIONS]() as session:
        rows = (await session.execute(select(Document))).scalars()
        return {row.reference: row for row in rows}


async def register(service: Service, body: dict, key: str) -> tuple[int, dict]:
    return await service.post(REGISTRATIONS, body, headers={"Idempotency-Key": key})


async def test_an_accepted_png_is_stored_re_encoded(service: Service) -> None:
    sample = CORPUS["png_scan"]
    clean = inspect_document(sample.data, sample.filename)

    status, body = await post_document(service, side="front")

    assert status == 201
    assert body == {
        "reference": body["reference"],
        "document_type": "cni",
        "country": "FR",
        "side": "front",
        "content_type": "image/png",
        "pages": 1,
        "size": len(clean.content),
    }
    assert body["reference"].startswith("doc_") and len(body["reference"]) >= 36
    stored = Fernet(DOCUMENT_KEY.encode()).decrypt(
        (await raw_documents(service))[body["reference"]]
    )
    assert stored == clean.content, "the cleaned image, not the upload"
    assert stored != sample.data


@pytest.mark.parametrize("name", ACCEPTED)
async def test_every_accepted_kind_is_stored(service: Service, name: str) -> None:
    sample = CORPUS[name]
    clean = inspect_document(sample.data, sample.filename)
    status, body = await post_document(service, name)
    assert status == 201, body
    assert (body["content_type"], body["pages"], body["size"]) == (
        clean.content_type,
        clean.pages,
        len(clean.content),
    )


@pytest.mark.parametrize("name", REFUSED)
async def test_a_refused_document_is_explained_and_not_stored(service: Service, name: str) -> None:
    sample = CORPUS[name]
    with pytest.raises(DocumentRefused) as refusal:
        inspect_document(sample.data, sample.filename)

    status, body = await post_document(service, name)

    assert status == 422
    assert body["error"] == {
        "code": "document_refused",
        "message": refusal.value.message,
        "reason": sample.code,
    }
    assert await raw_documents(service) == {}


@pytest.mark.parametrize(
    ("fields", "country"),
    [
        ({"document_type": "cni"}, "FR"),
        ({"document_type": "cni", "country": "fr"}, "FR"),
        ({"document_type": "residence_permit"}, "FR"),
        ({"document_type": "passport", "country": "de"}, "DE"),
        ({"document_type": "passport", "country": "FR"}, "FR"),
    ],
)
async def test_the_issuing_country(service: Service, fields: dict, country: str) -> None:
    status, body = await post_document(service, **fields)
    assert status == 201, body
    assert body["country"] == country


@pytest.mark.parametrize(
    ("fields", "field", "expected"),
    [
        ({"document_type": "passport"}, "country", "pays qui a délivré"),
        ({"document_type": "passport", "country": "US"}, "country", "Union européenne"),
        ({"document_type": "passport", "country": "GB"}, "country", "Union européenne"),
        ({"document_type": "passport", "country": "France"}, "country", "deux lettres"),
        ({"document_type": "cni", "country": "BE"}, "country", "françaises"),
        ({"document_type": "residence_permit", "country": "IT"}, "country", "par la France"),
        ({"document_type": "permis"}, "document_type", "passport"),
        ({"side": "dos"}, "side", "verso"),
        ({"conversation_id": ""}, "conversation_id", "vide"),
        ({"siren": "552100554"}, "siren", "pas un champ attendu"),
    ],
)
async def test_invalid_fields_are_explained(
    service: Service, fields: dict, field: str, expected: str
) -> None:
    status, body = await post_document(service, **fields)
    assert status == 422
    assert body["error"]["code"] == "invalid_field"
    messages = {item["field"]: item["message"] for item in body["error"]["fields"]}
    assert expected in messages[field]
    assert await raw_documents(service) == {}


async def test_a_missing_file_is_named(service: Service) -> None:
    with aiohttp.MultipartWriter("form-data") as data:
        for name, value in {"conversation_id": "conv-1", "document_type": "cni"}.items():
            data.append(value).set_content_disposition("form-data", name=name)
    async with await service.call("POST", DOCUMENTS, data=data) as answer:
        status, body = answer.status, await answer.json()
    assert status == 422
    assert [item["field"] for item in body["error"]["fields"]] == ["side", "file"]


async def test_storing_a_document_needs_the_api_token(service: Service) -> None:
    async with service.http.post(service.base_url + DOCUMENTS, data=document_form()) as answer:
        assert answer.status == 401
    assert await raw_documents(service) == {}


async def test_documents_are_encrypted_at_rest(service: Service) -> None:
    sample = CORPUS["pdf_one_page"]  # a PDF keeps its pages' bytes: easy to look for
    _, body = await post_document(service, "pdf_one_page")

    raw = (await raw_documents(service))[body["reference"]]

    assert raw != sample.data
    for start in range(0, len(sample.data) - 48, len(sample.data) // 20):
        chunk = sample.data[start : start + 48]
        assert chunk not in raw
        assert base64.urlsafe_b64encode(chunk)[:32] not in raw
    assert b"%PDF" not in raw
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(raw)
    assert (
        Fernet(DOCUMENT_KEY.encode()).decrypt(raw)
        == inspect_document(sample.data, sample.filename).content
    )


async def test_a_replaced_document_is_deleted(service: Service) -> None:
    first = await store_document(service)
    second = await store_document(service)

    async with await service.call("DELETE", f"{DOCUMENTS}/{first['reference']}") as answer:
        assert answer.status == 204
    assert set(await raw_documents(service)) == {second["reference"]}
    for reference in (first["reference"], "doc_inconnue", "x" * 200):
        async with await service.call("DELETE", f"{DOCUMENTS}/{reference}") as answer:
            assert answer.status == 204, "deleting an unknown document is harmless"


async def test_a_document_of_an_account_cannot_be_deleted(service: Service) -> None:
    stored = await store_document(service)
    status, _ = await register(service, registration(documents=[stored["reference"]]), "k")
    assert status == 201

    async with await service.call("DELETE", f"{DOCUMENTS}/{stored['reference']}") as answer:
        assert answer.status == 409
        body = await answer.json()

    assert body["error"]["code"] == "document_attached"
    assert "rattachée à un espace client" in body["error"]["message"]
    assert stored["reference"] in await raw_documents(service)


async def test_a_registration_attaches_its_documents(service: Service, clock: MovableClock) -> None:
    front = await store_document(service, side="front")
    back = await store_document(service, side="back")
    other = await store_document(service)
    clock.advance(minutes=5)

    status, body = await register(
        service, registration(documents=[front["reference"], back["reference"]]), "k"
    )

    assert status == 201
    documents = await documents_by_reference(service)
    for stored in (front, back):
        assert documents[stored["reference"]].account_id == body["registration_id"]
        assert documents[stored["reference"]].attached_at == clock.now
    assert documents[other["reference"]].account_id is None


async def test_a_replayed_registration_still_works(service: Service) -> None:
    stored = await store_document(service)
    body = registration(documents=[stored["reference"]])

    first = await register(service, body, "same-key")
    second = await register(service, body, "same-key")

    assert (first[0], second[0]) == (201, 200)
    assert second[1]["replayed"] is True
    assert second[1]["registration_id"] == first[1]["registration_id"]


async def test_other_documents_under_the_same_key_are_a_conflict(service: Service) -> None:
    first, second = await store_document(service), await store_document(service)
    await register(service, registration(documents=[first["reference"]]), "k")
    status, body = await register(service, registration(documents=[second["reference"]]), "k")
    assert status == 409
    assert body["error"]["code"] == "idempotency_conflict"


async def _unavailable(service: Service, clock: MovableClock, case: str) -> list[str]:
    """The references of a registration whose document cannot be used, for each case."""
    if case == "unknown":
        return ["doc_inconnue"]
    if case == "deleted":
        stored = await store_document(service)
        async with await service.call("DELETE", f"{DOCUMENTS}/{stored['reference']}"):
            pass
        return [stored["reference"]]
    if case == "other conversation":
        return [(await store_document(service, conversation_id="conv-2"))["reference"]]
    if case == "expired":
        stored = await store_document(service)
        clock.advance(days=7)
        return [stored["reference"]]
    if case == "one of two unknown":
        return [(await store_document(service))["reference"], "doc_inconnue"]
    assert case == "used by another registration"
    stored = await store_document(service)
    other = registration(
        documents=[stored["reference"]],
        company={"siren": OTHER_SIREN, "contract_number": OTHER_CONTRACT},
        professional={"email": "luc.martin@exemple.fr"},
    )
    assert (await register(service, other, "other"))[0] == 201
    return [stored["reference"]]


@pytest.mark.parametrize(
    "case",
    [
        "unknown",
        "deleted",
        "other conversation",
        "expired",
        "one of two unknown",
        "used by another registration",
    ],
)
async def test_a_document_that_cannot_be_used_is_asked_again(
    service: Service, clock: MovableClock, case: str
) -> None:
    references = await _unavailable(service, clock, case)

    status, body = await register(service, registration(documents=references), "k")

    assert status == 422
    assert body["error"]["code"] == "document_unavailable"
    assert "Veuillez l'envoyer à nouveau" in body["error"]["message"]
    async with service.app[SESSIONS]() as session:
        emails = (await session.execute(select(Account.email))).scalars().all()
    assert "emilie.lefevre@exemple-industries.fr" not in emails, "no account was created"
    unclaimed = [d for d in (await documents_by_reference(service)).values() if not d.account_id]
    assert all(d.attached_at is None for d in unclaimed)


async def test_two_registrations_racing_for_one_document(service: Service) -> None:
    stored = await store_document(service)
    bodies = [
        registration(documents=[stored["reference"]]),
        registration(
            documents=[stored["reference"]],
            company={"siren": OTHER_SIREN, "contract_number": OTHER_CONTRACT},
            professional={"email": "luc.martin@exemple.fr"},
        ),
    ]

    answers = await asyncio.gather(
        *(register(service, body, f"k{i}") for i, body in enumerate(bodies))
    )

    assert sorted(status for status, _ in answers) == [201, 422]
    async with service.app[SESSIONS]() as session:
        assert (await session.execute(select(func.count()).select_from(Account))).scalar_one() == 1


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([], "une ou deux références"),
        (["doc_a", "doc_b", "doc_c"], "une ou deux références"),
        (["doc_a", "doc_a"], "deux fois"),
        ("doc_a", "liste"),
    ],
)
async def test_the_documents_field_is_checked(
    service: Service, documents: Any, expected: str
) -> None:
    status, body = await register(service, registration(documents=documents), "k")
    assert status == 422
    messages = {item["field"]: item["message"] for item in body["error"]["fields"]}
    assert expected in messages["documents"]


async def test_the_old_document_reference_field_is_refused(service: Service) -> None:
    body = registration()
    del body["documents"]
    body["document_reference"] = "doc_a"
    status, answer = await register(service, body, "k")
    assert status == 422
    messages = {item["field"]: item["message"] for item in answer["error"]["fields"]}
    assert messages == {
        "documents": "est obligatoire.",
        "document_reference": "n'est pas un champ attendu.",
    }


async def _registered(service: Service, key: str, email: str, **changes: Any) -> tuple[int, str]:
    """A registration with its own document: (account id, document reference)."""
    stored = await store_document(service)
    body = registration(documents=[stored["reference"]], professional={"email": email}, **changes)
    status, answer = await register(service, body, key)
    assert status == 201, answer
    return answer["registration_id"], stored["reference"]


async def _activate(service: Service, account_id: int, clock: MovableClock) -> None:
    async with service.app[SESSIONS]() as session:
        await session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(status="active", activated_at=clock.now)
        )
        await session.commit()


async def _upload(service: Service) -> str:
    form = document_form()  # any file will do: uploads are not inspected
    form.add_field("sender_id", "conv-1")
    async with service.http.post(service.base_url + "/uploads", data=form) as answer:
        assert answer.status == 201
        return (await answer.json())["url"].rsplit("/", 1)[1]


async def test_purge_removes_exactly_what_is_no_longer_needed(
    service: Service, clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    start = clock.now
    abandoned, abandoned_doc = await _registered(service, "a", "a.lefevre@exemple.fr")
    old_active, old_active_doc = await _registered(
        service,
        "b",
        "b.lefevre@exemple.fr",
        company={"siren": OTHER_SIREN, "contract_number": OTHER_CONTRACT},
    )
    await _activate(service, old_active, clock)
    clock.advance(days=10)
    young, young_doc = await _registered(service, "c", "c.lefevre@exemple.fr")
    new_active, new_active_doc = await _registered(service, "d", "d.lefevre@exemple.fr")
    await _activate(service, new_active, clock)
    purge_at = start + timedelta(days=30)
    clock.now = purge_at - timedelta(days=7)
    stale = (await store_document(service))["reference"]
    clock.now = purge_at - timedelta(days=7) + timedelta(hours=1)
    pending = (await store_document(service))["reference"]
    clock.now = purge_at - timedelta(hours=1)
    old_upload = await _upload(service)
    clock.now = purge_at - timedelta(minutes=59)
    fresh_upload = await _upload(service)
    clock.now = purge_at
    caplog.clear()

    with caplog.at_level(logging.INFO):
        assert await run_purge(service.app) == 1
    log = caplog.text

    async with service.app[SESSIONS]() as session:
        accounts = set((await session.execute(select(Account.id))).scalars())
        uploads = (await session.execute(select(func.count()).select_from(Upload))).scalar_one()
    assert accounts == {old_active, young, new_active}
    assert set(await raw_documents(service)) == {young_doc, new_active_doc, pending}
    assert {abandoned_doc, old_active_doc, stale}.isdisjoint(await raw_documents(service))
    assert uploads == 1
    for token, status in ((fresh_upload, 200), (old_upload, 404)):
        async with await service.call("GET", f"/uploads/{token}") as answer:
            assert answer.status == status
    assert abandoned not in accounts
    assert "1 upload(s), 1 unclaimed document(s), 1 document(s) of deleted accounts, " in log
    assert "1 document(s) past retention" in log
    for secret in ("cni-recto", "Lefèvre", "lefevre", "doc_", "conv-1"):
        assert secret not in log, "counts only in the logs"


async def widget_upload(
    service: Service, data: bytes, filename: str, sender_id: str = "conv-1"
) -> str:
    """Post a file as the widget does and return the token of its URL."""
    form = aiohttp.FormData()
    form.add_field("sender_id", sender_id)
    form.add_field("file", io.BytesIO(data), filename=filename)
    async with service.http.post(service.base_url + "/uploads", data=form) as answer:
        assert answer.status == 201
        return (await answer.json())["url"].rsplit("/", 1)[1]


def conversation(sender: str = "conv-1") -> str:
    """The conversation id Rasa's web channels give `sender`."""
    return identifiers.web_conversation_id(sender)


async def claim(service: Service, token: str, **fields: Any) -> tuple[int, dict]:
    body = {
        "upload": token,
        "conversation_id": conversation(),
        "document_type": "cni",
        "country": None,
        "side": "front",
        **fields,
    }
    return await service.post(DOCUMENTS, body)


async def upload_exists(service: Service, token: str) -> bool:
    async with await service.call("GET", f"/uploads/{token}") as answer:
        return answer.status == 200


async def test_a_claimed_upload_is_inspected_stored_and_consumed(service: Service) -> None:
    sample = CORPUS["png_scan"]
    token = await widget_upload(service, sample.data, sample.filename)

    status, body = await claim(service, token, client_address="203.0.113.7")

    assert status == 201, body
    assert (body["document_type"], body["country"], body["side"]) == ("cni", "FR", "front")
    stored = Fernet(DOCUMENT_KEY.encode()).decrypt(
        (await raw_documents(service))[body["reference"]]
    )
    assert stored == inspect_document(sample.data, sample.filename).content
    assert (await documents_by_reference(service))[body["reference"]].conversation_id == (
        conversation()
    )
    assert not await upload_exists(service, token), "single use"
    status, again = await claim(service, token)
    assert status == 404 and again["error"]["code"] == "upload_not_found"
    assert len(await raw_documents(service)) == 1


async def test_an_upload_of_another_conversation_is_not_found_and_kept(service: Service) -> None:
    sample = CORPUS["png_scan"]
    token = await widget_upload(service, sample.data, sample.filename, sender_id="victime")

    status, body = await claim(service, token, conversation_id=conversation("attaquant"))

    assert status == 404
    assert body["error"]["code"] == "upload_not_found"
    assert await raw_documents(service) == {}
    assert await upload_exists(service, token), "still usable by its own conversation"
    status, body = await claim(service, token, conversation_id=conversation("victime"))
    assert status == 201, body


async def test_a_web_conversation_id_is_bound_as_is(service: Service) -> None:
    sender = identifiers.new_web_conversation_id()
    sample = CORPUS["png_scan"]
    token = await widget_upload(service, sample.data, sample.filename, sender_id=sender)
    status, body = await claim(service, token, conversation_id=sender)
    assert status == 201, body


async def test_unknown_expired_and_foreign_uploads_get_one_answer(
    service: Service, clock: MovableClock
) -> None:
    sample = CORPUS["png_scan"]
    expired = await widget_upload(service, sample.data, sample.filename)
    clock.advance(hours=1)
    foreign = await widget_upload(service, sample.data, sample.filename, sender_id="autre")
    answers = [
        await claim(service, "inconnu"),
        await claim(service, expired),
        await claim(service, foreign),
    ]
    assert {status for status, _ in answers} == {404}
    assert len({body["error"]["message"] for _, body in answers}) == 1
    assert "Envoyez-le de nouveau" in answers[0][1]["error"]["message"]


@pytest.mark.parametrize(
    "name",
    [
        "pdf_unknown_filter",
        "pdf_jbig2_object_stream",
        "pdf_open_uri",
        "pdf_open_gotor_unc",
        "pdf_page_aa",
        "pdf_open_launch",
        "pdf_open_named",
        "pdf_acroform",
        "pdf_link_uri",
        "png_zip_polyglot",
    ],
)
async def test_a_refused_upload_is_explained_and_deleted(service: Service, name: str) -> None:
    sample = CORPUS[name]
    token = await widget_upload(service, sample.data, sample.filename)

    status, body = await claim(service, token)

    assert status == 422, body
    assert body["error"]["code"] == "document_refused"
    assert body["error"]["reason"] == sample.code
    assert "pièce d'identité" in body["error"]["message"]
    assert await raw_documents(service) == {}
    assert not await upload_exists(service, token), "a refused upload is gone"


async def test_a_two_page_pdf_sent_as_a_front_is_the_full_document(service: Service) -> None:
    sample = CORPUS["pdf_recto_verso"]
    token = await widget_upload(service, sample.data, sample.filename)
    status, body = await claim(service, token, side="front")
    assert status == 201, body
    assert (body["side"], body["pages"]) == ("full", 2)
    status, body = await post_document(service, "pdf_recto_verso", side="front")
    assert (status, body["side"]) == (201, "full"), "the multipart branch too"
    status, body = await post_document(service, "pdf_one_page", side="front")
    assert body["side"] == "front"


async def test_a_stored_pdf_has_no_metadata(service: Service) -> None:
    source = pdf_with_metadata(CORPUS["pdf_one_page"].data)
    token = await widget_upload(service, source, "cni.pdf")

    status, body = await claim(service, token)

    assert status == 201, body
    stored = Fernet(DOCUMENT_KEY.encode()).decrypt(
        (await raw_documents(service))[body["reference"]]
    )
    assert AUTHOR.encode() not in stored and b"xmpmeta" not in stored
    reader = PdfReader(io.BytesIO(stored))
    assert reader.metadata is None and reader.xmp_metadata is None
    assert len(reader.pages) == 1


async def test_the_claim_body_is_checked(service: Service) -> None:
    status, body = await service.post(DOCUMENTS, {"upload": "x", "conversation_id": "c"})
    assert status == 422
    fields = {item["field"] for item in body["error"]["fields"]}
    assert {"document_type", "side"} <= fields


async def test_the_web_process_answers_while_an_expensive_image_is_inspected(
    service: Service,
) -> None:
    data = expensive_png()
    assert len(data) < 400_000
    token = await widget_upload(service, data, "cni.png")

    inspection = asyncio.create_task(claim(service, token))
    latencies = []
    while not inspection.done():
        started = time.perf_counter()
        async with service.http.get(service.base_url + "/health") as answer:
            assert answer.status == 200
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    status, body = await inspection

    assert status == 201, body
    assert len(latencies) >= 3, "the inspection took a while"
    assert max(latencies) < 0.5, latencies


def test_an_unused_document_is_kept_as_long_as_the_conversation_it_belongs_to() -> None:
    """A registration resumed within its session (Rasa's session expiry) finds its
    document: the two lengths are one."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    session = timedelta(minutes=domain["session_config"]["session_expiration_time"])
    assert Settings.from_env({}).unclaimed_document_ttl == session
