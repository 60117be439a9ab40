"""The upload store: the chat widget posts a file, the action server fetches it once.

Files are stored encrypted as they came; only the token of their URL opens them, and
only for the action server (bearer token), for an hour.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from bot.identifiers import web_conversation_id
from bot.settings import Settings
from bot.web.access_log import loggable_address, loggable_path
from bot.web.keys import SESSIONS
from tests.conftest import DOCUMENT_KEY, MovableClock, Service, start_service
from tests.corpus import build_corpus

UPLOADS = "/uploads"
PNG = build_corpus()["png_scan"]


async def upload(
    service: Service,
    data: bytes = PNG.data,
    filename: str | None = PNG.filename,
    content_type: str = "image/png",
    sender_id: str | None = "conv-1",
) -> tuple[int, dict, Any]:
    """Post a file as the chat widget does: multipart/form-data, no bearer token."""
    with aiohttp.MultipartWriter("form-data") as body:
        if sender_id is not None:
            body.append(sender_id).set_content_disposition("form-data", name="sender_id")
        if filename is not None:
            part = body.append(io.BytesIO(data), {"Content-Type": content_type})
            part.set_content_disposition("form-data", name="file", filename=filename)
    async with service.http.post(service.base_url + UPLOADS, data=body) as response:
        return response.status, await response.json(), response.headers


async def fetch(service: Service, url: str, **kwargs: Any) -> tuple[int, bytes, Any]:
    async with await service.call("GET", url.removeprefix(service.base_url), **kwargs) as answer:
        return answer.status, await answer.read(), answer.headers


async def stored_uploads(service: Service) -> list[bytes]:
    """The raw `data` column, as anyone reading the database would see it."""
    async with service.app[SESSIONS]() as session:
        rows = await session.execute(text("SELECT data FROM uploads ORDER BY id"))
        return [bytes(row[0]) for row in rows]


async def test_an_upload_is_fetched_by_the_action_server_then_deleted(service: Service) -> None:
    status, attachment, _ = await upload(service)

    assert status == 201
    assert set(attachment) == {"url", "filename", "content_type", "size"}
    assert attachment["url"].startswith(f"{service.base_url}/uploads/")
    assert len(attachment["url"].rsplit("/", 1)[1]) >= 43, "256 bits of token"
    assert attachment["filename"] == "cni-recto.png"
    assert attachment["content_type"] == "image/png"
    assert attachment["size"] == len(PNG.data)

    status, body, headers = await fetch(service, attachment["url"])
    assert status == 200
    assert body == PNG.data
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == "attachment"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"

    path = attachment["url"].removeprefix(service.base_url)
    async with await service.call("DELETE", path) as deleted:
        assert deleted.status == 204
    status, body, _ = await fetch(service, attachment["url"])
    assert status == 404
    async with await service.call("DELETE", path) as again:
        assert again.status == 204, "deleting twice is harmless"


async def test_only_the_action_server_may_read_or_delete_an_upload(service: Service) -> None:
    _, attachment, _ = await upload(service)

    async with aiohttp.ClientSession() as stranger:
        for method in ("GET", "DELETE"):
            async with stranger.request(method, attachment["url"]) as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "unauthorized"
        async with stranger.get(
            attachment["url"], headers={"Authorization": "Bearer wrong"}
        ) as response:
            assert response.status == 401
    assert (await fetch(service, attachment["url"]))[0] == 200, "still there"


async def test_an_upload_expires_after_an_hour(service: Service, clock: MovableClock) -> None:
    _, attachment, _ = await upload(service)
    clock.advance(minutes=59)
    assert (await fetch(service, attachment["url"]))[0] == 200

    clock.advance(minutes=1)
    status, body, headers = await fetch(service, attachment["url"])

    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "not_found"
    assert "envoyé de nouveau" in error["message"]


@pytest.mark.parametrize("token", ["inconnu", "x" * 43, "a" * 500])
async def test_an_unknown_token_is_not_found(service: Service, token: str) -> None:
    status, _, _ = await fetch(service, f"{service.base_url}/uploads/{token}")
    assert status == 404


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("C:\\Users\\Émilie\\Documents\\cni recto.png", "cni recto.png"),
        ("../../etc/passwd", "passwd"),
        ("/tmp/../scan.pdf", "scan.pdf"),
        ("carte\x00\x1b[31m\u202egnp.exe", "carte[31mgnp.exe"),
        ("  photo.jpg  ", "photo.jpg"),
        ("..", "fichier"),
        ("", "fichier"),
        ("é" * 300 + ".jpeg", "é" * 95 + ".jpeg"),
        ("x" * 300, "x" * 100),
    ],
)
async def test_the_file_name_is_cleaned(service: Service, sent: str, kept: str) -> None:
    status, attachment, _ = await upload(service, filename=sent)
    assert status == 201
    assert attachment["filename"] == kept
    assert len(attachment["filename"]) <= 100


@pytest.mark.parametrize(
    ("declared", "kept"),
    [
        ("image/jpeg", "image/jpeg"),
        ("Application/PDF; name=cni.pdf", "application/pdf"),
        ("n'importe quoi", "application/octet-stream"),
    ],
)
async def test_the_declared_type_is_kept_not_trusted(
    service: Service, declared: str, kept: str
) -> None:
    status, attachment, _ = await upload(service, content_type=declared)
    assert status == 201
    assert attachment["content_type"] == kept
    _, _, headers = await fetch(service, attachment["url"])
    assert headers["Content-Type"] == "application/octet-stream", "never served as declared"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"data": b"", "filename": None}, "Aucun fichier"),
        ({"data": b"", "filename": "vide.png"}, "vide"),
        ({"sender_id": None}, "sender_id"),
        ({"sender_id": "   "}, "sender_id"),
        ({"sender_id": "c" * 129}, "sender_id"),
    ],
)
async def test_missing_parts_are_explained(service: Service, changes: dict, expected: str) -> None:
    status, body, _ = await upload(service, **changes)
    assert status == 400
    assert body["error"]["code"] == "invalid_upload"
    assert expected in body["error"]["message"]
    assert await stored_uploads(service) == []


async def test_a_body_that_is_not_multipart_is_refused(service: Service) -> None:
    async with service.http.post(
        service.base_url + UPLOADS, json={"sender_id": "conv-1", "file": "aGVsbG8="}
    ) as response:
        assert response.status == 415
        body = await response.json()
    assert body["error"]["code"] == "unsupported_media_type"
    assert "multipart/form-data" in body["error"]["message"]


async def test_an_oversize_upload_is_refused_with_the_limit_in_mo(service: Service) -> None:
    limit = Settings().max_upload_bytes
    assert limit == 11 * 1024 * 1024

    status, body, _ = await upload(service, data=b"\xff" * (limit + 1), filename="scan.jpg")

    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert "10 Mo" in body["error"]["message"], "the size a file may have"
    assert await stored_uploads(service) == []


async def test_an_oversize_upload_without_length_is_cut_short(service: Service) -> None:
    """A chunked body announces no size: it is counted as it comes."""
    boundary = "frontiere"

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="sender_id"\r\n\r\n'
            f'conv-1\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="scan.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        for _ in range(12 * 16):
            yield b"\xff" * (64 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    async with service.http.post(
        service.base_url + UPLOADS, data=body(), headers=headers
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "payload_too_large"
    assert await stored_uploads(service) == []


async def test_json_routes_keep_their_64_kib_cap(service: Service) -> None:
    huge = {"siren": "552100554", "contract_number": "AB123456", "conversation_id": "x" * 70_000}
    status, body = await service.post("/api/v1/companies/verify", huge)
    assert status == 413
    assert "64 Kio" in body["error"]["message"]


async def test_uploads_are_throttled_per_client(service: Service, clock: MovableClock) -> None:
    for _ in range(30):
        assert (await upload(service, data=b"x" * 100))[0] == 201

    status, body, headers = await upload(service, data=b"x" * 100)

    assert status == 429
    assert body["error"]["code"] == "too_many_uploads"
    assert "quelques minutes" in body["error"]["message"]
    assert 1 <= int(headers["Retry-After"]) <= 15 * 60
    clock.advance(minutes=15)
    assert (await upload(service, data=b"x" * 100))[0] == 201, "the window slides"


def test_the_upload_limit_per_address_is_a_setting() -> None:
    settings = Settings.from_env({"UPLOAD_MAX_PER_ADDRESS": "200", "UPLOAD_WINDOW_SECONDS": "60"})

    assert settings.upload_max_per_window == 200
    assert settings.upload_window.total_seconds() == 60
    assert Settings.from_env({}).upload_max_per_window == 30


async def test_uploads_are_encrypted_at_rest(service: Service) -> None:
    _, attachment, _ = await upload(service)

    (raw,) = await stored_uploads(service)

    assert raw != PNG.data
    for start in range(0, len(PNG.data) - 48, len(PNG.data) // 20):
        chunk = PNG.data[start : start + 48]
        assert chunk not in raw
        assert base64.urlsafe_b64encode(chunk)[:32] not in raw, "encrypted, not just encoded"
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(raw)
    assert Fernet(DOCUMENT_KEY.encode()).decrypt(raw) == PNG.data
    assert (await fetch(service, attachment["url"]))[1] == PNG.data


async def test_an_old_key_listed_second_still_decrypts(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with start_service(database_url, clock, tmp_path, document_keys=(old,)) as service:
        _, before, _ = await upload(service)
    settings = Settings.from_env({"DOCUMENT_KEYS": f" {new} , {old} "})
    assert settings.document_keys == (new, old)

    async with start_service(
        database_url, clock, tmp_path, document_keys=settings.document_keys
    ) as service:
        path = "/uploads/" + before["url"].rsplit("/", 1)[1]
        status, body, _ = await fetch(service, service.base_url + path)
        assert (status, body) == (200, PNG.data)
        await upload(service)
        _, raw = await stored_uploads(service)
    assert Fernet(new.encode()).decrypt(raw) == PNG.data, "the first key encrypts"
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(raw)


async def test_without_keys_a_local_key_is_made_once_and_reused(
    database_url: str, clock: MovableClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "var" / "document.key"
    with caplog.at_level(logging.WARNING, logger="bot.web.app"):
        async with start_service(
            database_url, clock, tmp_path, document_keys=(), document_key_file=key_file
        ) as service:
            _, attachment, _ = await upload(service)
    assert "DOCUMENT_KEYS is not set" in caplog.text
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert Settings.from_env({}).document_keys == (), "unset: the local key is used"

    async with start_service(
        database_url, clock, tmp_path, document_keys=(), document_key_file=key_file
    ) as service:
        path = "/uploads/" + attachment["url"].rsplit("/", 1)[1]
        status, body, _ = await fetch(service, service.base_url + path)
    assert (status, body) == (200, PNG.data), "the next start reuses the key"
    assert key_file.read_text() == key


def test_upload_tokens_never_reach_the_access_log() -> None:
    assert loggable_path("/uploads/abcDEF123_-") == "/uploads/***"
    assert loggable_path("/activate/abcDEF123_-") == "/activate/***"
    assert loggable_path("/uploads") == "/uploads"


@pytest.mark.parametrize(
    ("remote", "logged"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("::ffff:192.0.2.77", "192.0.2.0/24"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::/48"),
        (None, "-"),
        ("not an address", "-"),
    ],
)
def test_the_access_log_keeps_a_clients_network_not_its_address(
    remote: str | None, logged: str
) -> None:
    assert loggable_address(remote) == logged


@pytest.mark.parametrize("sender", ["conv-1", "whatsapp:+33612345678"])
async def test_an_upload_is_bound_to_the_web_conversation_of_its_sender(
    service: Service, sender: str
) -> None:
    """The conversation Rasa's web channels give that sender, never another channel's."""
    status, _, _ = await upload(service, sender_id=sender)
    assert status == 201
    async with service.app[SESSIONS]() as session:
        (bound,) = (await session.execute(text("SELECT conversation_id FROM uploads"))).scalars()
    assert bound == web_conversation_id(sender)
    assert bound.startswith("web-") and bound != sender
