"""Attachments are fetched from allow-listed origins only, with a size cap; our own
uploads are recognised by their URL and never fetched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from actions.clients.attachments import (
    AttachmentFetcher,
    AttachmentRefused,
    OwnUploads,
    attachments_of,
)


@dataclass
class FileHost:
    """A real HTTP server on loopback that records every request it gets."""

    server: TestServer
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


async def start_host() -> FileHost:
    app = web.Application()
    host = FileHost(TestServer(app, host="127.0.0.1"))

    async def serve(request: web.Request) -> web.StreamResponse:
        host.requests.append(
            f"{request.method} {request.path} {request.headers.get('Authorization')}"
        )
        name = request.match_info["name"]
        if name == "redirect":
            raise web.HTTPFound("/files/photo.png")
        if name == "big":
            return web.Response(body=b"x" * 300_000)
        if name == "missing":
            raise web.HTTPNotFound()
        return web.Response(body=b"\x89PNG" + b"0" * 1000)

    app.router.add_route("*", "/files/{name}", serve)
    await host.server.start_server()
    return host


@pytest.fixture
async def hosts() -> AsyncIterator[tuple[FileHost, FileHost]]:
    allowed, stranger = await start_host(), await start_host()
    yield allowed, stranger
    await allowed.server.close()
    await stranger.server.close()


@pytest.fixture
async def fetcher(hosts: tuple[FileHost, FileHost]) -> AsyncIterator[AttachmentFetcher]:
    allowed, _ = hosts
    origin = allowed.url("/")
    fetcher = AttachmentFetcher({origin: {"Authorization": "Bearer s3cret"}}, max_bytes=100_000)
    yield fetcher
    await fetcher.close()


async def test_a_file_from_an_allowed_origin_is_fetched_with_its_credentials(
    hosts: tuple[FileHost, FileHost], fetcher: AttachmentFetcher
) -> None:
    allowed, _ = hosts
    data = await fetcher.fetch(allowed.url("/files/photo.png"))
    assert data.startswith(b"\x89PNG")
    assert allowed.requests == ["GET /files/photo.png Bearer s3cret"]


@pytest.mark.parametrize(
    "url",
    [
        "{stranger}/files/photo.png",
        "file:///etc/passwd",
        "ftp://127.0.0.1/photo.png",
        "http://user:pass@{allowed_host}/files/photo.png",
        "not a url",
    ],
)
async def test_any_other_url_is_never_requested(
    hosts: tuple[FileHost, FileHost], fetcher: AttachmentFetcher, url: str
) -> None:
    allowed, stranger = hosts
    url = url.format(
        stranger=stranger.url("").rstrip("/"),
        allowed_host=allowed.url("").split("//")[1].rstrip("/"),
    )
    with pytest.raises(AttachmentRefused) as refused:
        await fetcher.fetch(url)
    assert refused.value.code == "not_allowed"
    assert "bouton trombone" in refused.value.message
    assert stranger.requests == [] and allowed.requests == []


async def test_redirects_are_not_followed(
    hosts: tuple[FileHost, FileHost], fetcher: AttachmentFetcher
) -> None:
    allowed, _ = hosts
    with pytest.raises(AttachmentRefused) as refused:
        await fetcher.fetch(allowed.url("/files/redirect"))
    assert refused.value.code == "unreachable"
    assert allowed.requests == ["GET /files/redirect Bearer s3cret"]


async def test_the_download_stops_past_the_size_cap(
    hosts: tuple[FileHost, FileHost], fetcher: AttachmentFetcher
) -> None:
    allowed, _ = hosts
    data = await fetcher.fetch(allowed.url("/files/big"))
    assert len(data) == 100_001  # enough for the account service to say it is too large


async def test_a_missing_file_asks_to_send_it_again(
    hosts: tuple[FileHost, FileHost], fetcher: AttachmentFetcher
) -> None:
    allowed, _ = hosts
    with pytest.raises(AttachmentRefused) as refused:
        await fetcher.fetch(allowed.url("/files/missing"))
    assert "Envoyez-le de nouveau" in refused.value.message


TOKEN = "Zq3_kX9-" + "a" * 35


@pytest.mark.parametrize(
    ("url", "token"),
    [
        (f"https://assistant.example.org/espace/uploads/{TOKEN}", TOKEN),
        (f"https://ASSISTANT.example.org:443/espace/uploads/{TOKEN}", TOKEN),
        (f"http://127.0.0.1:8000/uploads/{TOKEN}", TOKEN),
        (f"https://assistant.example.org/uploads/{TOKEN}", None),  # outside the base path
        (f"https://assistant.example.org/espace/uploads/{TOKEN}?x=1", None),
        (f"https://assistant.example.org/espace/uploads/{TOKEN}/x", None),
        ("https://assistant.example.org/espace/uploads/..%2Fapi", None),
        ("https://assistant.example.org/espace/uploads/", None),
        (f"http://127.0.0.1:8001/uploads/{TOKEN}", None),  # another port
        (f"https://evil.example/espace/uploads/{TOKEN}", None),
        (f"http://user:pw@127.0.0.1:8000/uploads/{TOKEN}", None),
    ],
)
def test_our_own_uploads_are_recognised_by_their_url(url: str, token: str | None) -> None:
    uploads = OwnUploads(["https://assistant.example.org/espace/", "http://127.0.0.1:8000"])
    assert uploads.token_of(url) == token


def test_our_own_origin_is_known_even_outside_the_upload_store() -> None:
    uploads = OwnUploads(["http://127.0.0.1:8000"])
    assert uploads.is_own("http://127.0.0.1:8000/api/v1/registrations")
    assert not uploads.is_own("http://127.0.0.1:8001/uploads/x")


def test_malformed_attachment_objects_are_ignored() -> None:
    metadata = {
        "attachments": [
            {
                "url": "http://localhost:8000/uploads/a",
                "filename": "a.png",
                "content_type": "image/png",
            },
            {"url": 42},
            "http://example.org/x",
        ]
    }
    assert [a.url for a in attachments_of(metadata)] == ["http://localhost:8000/uploads/a"]
    assert attachments_of({"attachments": "nope"}) == []
    assert attachments_of(None) == []
