"""The web process serves the widget's files with their types and caching, and nothing
else from its folders."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.web.pages import WIDGET_DIR
from tests.conftest import MovableClock, Service, start_service

VENDORED = "vendor/socket.io-4.8.4.min.js"


@pytest.fixture
async def service(clock: MovableClock, tmp_path: Path) -> AsyncIterator[Service]:
    """The web process on SQLite: static files do not depend on the database."""
    async with start_service(
        f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}", clock, tmp_path
    ) as running:
        yield running


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("widget.js", "text/javascript; charset=utf-8", "public, max-age=300"),
        ("widget.css", "text/css; charset=utf-8", "public, max-age=300"),
        (VENDORED, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"),
        ("vendor/socket.io-LICENSE.txt", "text/plain; charset=utf-8", None),
    ],
)
async def test_widget_files_are_served_with_their_type_and_caching(
    service: Service, path: str, content_type: str, cache: str | None
) -> None:
    url = f"{service.base_url}/widget/{path}"
    async with service.http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if cache:
            assert response.headers["Cache-Control"] == cache
        assert await response.read() == (WIDGET_DIR / path).read_bytes()
        etag = response.headers["ETag"]
    async with service.http.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "missing.js",
        "vendor/README.md",
        "..%2F..%2Fopenapi.yaml",
        "%2E%2E/%2E%2E/web/pages.py",
        "vendor/..%2F..%2Fsettings.py",
        "widget.js%00.css",
    ],
)
async def test_nothing_else_is_served(service: Service, path: str) -> None:
    async with service.http.get(f"{service.base_url}/widget/{path}") as response:
        assert response.status == 404


def test_the_vendored_client_is_the_recorded_one() -> None:
    readme = (WIDGET_DIR / "vendor" / "README.md").read_text()
    digest = hashlib.sha256((WIDGET_DIR / VENDORED).read_bytes()).hexdigest()
    assert re.search(rf"`{re.escape(VENDORED.split('/')[1])}`: SHA-256\s+`{digest}`", readme)
    assert f'"{VENDORED}"' in (WIDGET_DIR / "widget.js").read_text()
