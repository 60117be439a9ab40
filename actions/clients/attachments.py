"""Download of the files users attach, from allow-listed origins only.

A user message may carry `metadata.attachments` (see DESIGN.md). Its URLs come from
the user's side, so they are never trusted: a file is fetched only when its origin
(scheme, host and port) is on the allow-list, without following redirects, streamed
with a size cap and a timeout. Each origin can carry its own request headers (the
bearer token of our own upload store, a provider's credentials).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024


class AttachmentRefused(Exception):
    """The file cannot be fetched; `message` is French and can be shown to the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Attachment:
    url: str
    filename: str | None
    content_type: str | None

    @classmethod
    def from_metadata(cls, item: object) -> Attachment | None:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            return None
        filename = item.get("filename")
        content_type = item.get("content_type")
        return cls(
            url=item["url"],
            filename=filename if isinstance(filename, str) else None,
            content_type=content_type if isinstance(content_type, str) else None,
        )


def attachments_of(metadata: Mapping[str, object] | None) -> list[Attachment]:
    """The well-formed attachment objects of a user message's metadata."""
    items = (metadata or {}).get("attachments")
    if not isinstance(items, list):
        return []
    found = (Attachment.from_metadata(item) for item in items)
    return [attachment for attachment in found if attachment is not None]


def origin_of(url: str) -> str | None:
    """'https://Example.org/x' → 'https://example.org:443'; None when not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def _checked_origin(url: str) -> str:
    origin = origin_of(url)
    if origin is None:
        raise ValueError(f"not an http(s) origin: {url!r}")
    return origin


NOT_ALLOWED = (
    "Je ne peux pas récupérer ce fichier : il ne provient pas de notre service d'envoi "
    "sécurisé. Envoyez-le directement dans la conversation, avec le bouton trombone."
)
UNREACHABLE = (
    "Je n'ai pas pu récupérer votre fichier (il a peut-être expiré). "
    "Envoyez-le de nouveau, s'il vous plaît."
)


class AttachmentFetcher:
    """Fetches attachments from the origins it is given, with their headers."""

    def __init__(
        self,
        origins: Mapping[str, Mapping[str, str]],
        *,
        max_bytes: int,
        own_store: Iterable[str] = (),
        timeout: float = 20.0,
    ) -> None:
        self._origins = {_checked_origin(url): dict(headers) for url, headers in origins.items()}
        self._own_store = {_checked_origin(url) for url in own_store}
        self._max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, max_bytes: int) -> AttachmentFetcher:
        """Our own upload store (the web process, by its public and internal URLs),
        plus any origin listed in ATTACHMENT_ORIGINS."""
        token = os.environ.get("ACCOUNT_API_TOKEN", "dev-local-token")
        own = {"Authorization": f"Bearer {token}"}
        origins: dict[str, dict[str, str]] = {
            os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000"): own,
            os.environ.get("ACCOUNT_SERVICE_URL", "http://127.0.0.1:8000"): own,
        }
        for url in os.environ.get("ATTACHMENT_ORIGINS", "").split(","):
            if url.strip():
                origins.setdefault(url.strip(), {})
        return cls(origins, max_bytes=max_bytes, own_store=list(origins)[:2])

    def allows(self, url: str) -> bool:
        origin = origin_of(url)
        return origin is not None and origin in self._origins

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> bytes:
        """The file's bytes, at most `max_bytes` + 1 (the inspection refuses more).

        Raises:
            AttachmentRefused: `not_allowed` (never requested), `unreachable`.
        """
        origin = origin_of(url)
        if origin is None or origin not in self._origins:
            log.warning("attachment refused: origin not allow-listed")
            raise AttachmentRefused("not_allowed", NOT_ALLOWED)
        try:
            async with self._http().get(
                url, headers=self._origins[origin], allow_redirects=False
            ) as response:
                if response.status != 200:
                    log.warning("attachment fetch answered %s", response.status)
                    raise AttachmentRefused("unreachable", UNREACHABLE)
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    data.extend(chunk)
                    if len(data) > self._max_bytes:
                        break  # enough to know it is too large
                return bytes(data[: self._max_bytes + 1])
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("attachment fetch failed: %s", type(exc).__name__)
            raise AttachmentRefused("unreachable", UNREACHABLE) from None

    async def discard(self, url: str) -> None:
        """Delete the file from our own upload store once it has been read; best effort."""
        origin = origin_of(url)
        if origin is None or origin not in self._own_store:
            return
        try:
            async with self._http().delete(url, headers=self._origins[origin]):
                pass
        except (aiohttp.ClientError, asyncio.TimeoutError):
            log.info("uploaded file not deleted; the purge will remove it")
