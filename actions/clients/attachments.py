"""The files users attach: our own uploads by reference, providers' media downloaded.

A user message may carry `metadata.attachments` (see DESIGN.md). Its URLs come from
the user's side, so they are never trusted:

- a URL of our own upload store (`{PUBLIC_BASE_URL}/uploads/{token}` or the same under
  `ACCOUNT_SERVICE_URL`) is never fetched: `OwnUploads` extracts its token, which the
  account service claims for the conversation (it checks the owner and consumes it);
- any other file is fetched only when its origin (scheme, host and port) is on the
  allow-list, without following redirects, streamed with a size cap and a timeout. Each
  origin can carry its own request headers (a provider's credentials), a path the URL
  must stay under, and whether it may redirect to another allow-listed origin. Our own
  origins are not on that list: the account API's token is never sent with a download.

The messaging channels (channels/) put their providers' media URLs in the metadata;
their media hosts are allow-listed only when the channel is configured:

- Telegram: `TELEGRAM_API_URL/file/bot<TELEGRAM_TOKEN>/…` only (the token is in the
  path, so these URLs are never logged);
- WhatsApp through Twilio: `TWILIO_API_URL/2010-04-01/Accounts/<TWILIO_ACCOUNT_SID>/…`
  with HTTP basic auth, which answers with a redirect to the media store; only the
  redirects to `TWILIO_MEDIA_ORIGINS` are followed, without the credentials;
- Messenger: `MESSENGER_MEDIA_ORIGINS`, by default Facebook's CDN hosts
  (`https://*.fbcdn.net`, `https://*.fbsbx.com`: a `*.` matches any subdomain).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
TELEGRAM_API_URL = "https://api.telegram.org"
TWILIO_API_URL = "https://api.twilio.com"
TWILIO_MEDIA_ORIGINS = "https://media.twiliocdn.com,https://mms.twiliocdn.com"
MESSENGER_MEDIA_ORIGINS = "https://*.fbcdn.net,https://*.fbsbx.com"


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
    """The origin of a configured URL; `https://*.example.org` keeps its wildcard."""
    wildcard = "://*." in url
    origin = origin_of(url.replace("://*.", "://wildcard.", 1) if wildcard else url)
    if origin is None:
        raise ValueError(f"not an http(s) origin: {url!r}")
    return origin.replace("://wildcard.", "://*.", 1) if wildcard else origin


@dataclass(frozen=True)
class Access:
    """How one allow-listed origin is fetched.

    `headers` go with each request to this origin only; a URL must have a path under
    `path_prefix`; with `follow_redirects`, a redirect is followed when it leads to
    another allow-listed origin (with that origin's own headers, never these).
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    path_prefix: str = "/"
    follow_redirects: bool = False

    def admits(self, url: str) -> bool:
        path = urlsplit(url).path or "/"
        segments = unquote(path).split("/")
        return path.startswith(self.path_prefix) and not {".", ".."} & set(segments)


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _under(base_url: str, path: str) -> str:
    """The path of `base_url` (without its trailing slash) followed by `path`."""
    return urlsplit(base_url).path.rstrip("/") + path


NOT_ALLOWED = (
    "Je ne peux pas récupérer ce fichier : il ne provient pas de notre service d'envoi "
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
        origins: Mapping[str, Mapping[str, str] | Access],
        *,
        max_bytes: int,
        timeout: float = 20.0,
    ) -> None:
        self._origins = {
            _checked_origin(url): access if isinstance(access, Access) else Access(dict(access))
            for url, access in origins.items()
        }
        self._max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, max_bytes: int) -> AttachmentFetcher:
        """The media hosts of the configured messaging channels, plus any origin listed
        in ATTACHMENT_ORIGINS (fetched without credentials)."""
        origins: dict[str, Mapping[str, str] | Access] = {}
        for url in os.environ.get("ATTACHMENT_ORIGINS", "").split(","):
            if url.strip():
                origins.setdefault(url.strip(), {})
        return cls({**origins, **provider_origins(os.environ)}, max_bytes=max_bytes)

    def _access(self, url: str) -> Access | None:
        """The access of the URL's origin, if it is allow-listed and the path fits."""
        origin = origin_of(url)
        if origin is None:
            return None
        access = self._origins.get(origin)
        if access is None:
            scheme, rest = origin.split("://", 1)
            host, port = rest.rsplit(":", 1)
            for pattern, candidate in self._origins.items():
                if not pattern.startswith(f"{scheme}://*.") or not pattern.endswith(f":{port}"):
                    continue
                suffix = pattern[len(f"{scheme}://*.") : -len(port) - 1]
                if host.endswith("." + suffix):
                    access = candidate
                    break
        return access if access is not None and access.admits(url) else None

    def allows(self, url: str) -> bool:
        return self._access(url) is not None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> bytes:
        """The file's bytes, at most `max_bytes` + 1 (the account service refuses more).

        Raises:
            AttachmentRefused: `not_allowed` (never requested), `unreachable`.
        """
        access = self._access(url)
        if access is None:
            # Never the URL: a provider's may carry a token, a user's anything.
            log.warning("attachment refused: origin not allow-listed")
            raise AttachmentRefused("not_allowed", NOT_ALLOWED)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                async with self._http().get(
                    url, headers=access.headers, allow_redirects=False
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in REDIRECTS and access.follow_redirects and location:
                        url = urljoin(url, location)
                        followed = self._access(url)
                        if followed is None:
                            log.warning("attachment redirect refused: origin not allow-listed")
                            raise AttachmentRefused("unreachable", UNREACHABLE)
                        access = followed
                        continue
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
        log.warning("attachment fetch failed: too many redirects")
        raise AttachmentRefused("unreachable", UNREACHABLE)


def provider_origins(env: Mapping[str, str]) -> dict[str, Access]:
    """The media hosts of the messaging channels that are configured in `env`."""
    origins: dict[str, Access] = {}
    telegram_token = env.get("TELEGRAM_TOKEN")
    if telegram_token:
        api = env.get("TELEGRAM_API_URL") or TELEGRAM_API_URL
        origins[api] = Access(path_prefix=_under(api, f"/file/bot{telegram_token}/"))
    sid, auth_token = env.get("TWILIO_ACCOUNT_SID"), env.get("TWILIO_AUTH_TOKEN")
    if sid and auth_token:
        api = env.get("TWILIO_API_URL") or TWILIO_API_URL
        for url in (env.get("TWILIO_MEDIA_ORIGINS") or TWILIO_MEDIA_ORIGINS).split(","):
            if url.strip():
                origins[url.strip()] = Access()
        origins[api] = Access(
            headers=basic_auth(sid, auth_token),
            path_prefix=_under(api, f"/2010-04-01/Accounts/{sid}/"),
            follow_redirects=True,
        )
    if env.get("MESSENGER_PAGE_ACCESS_TOKEN"):
        for url in (env.get("MESSENGER_MEDIA_ORIGINS") or MESSENGER_MEDIA_ORIGINS).split(","):
            if url.strip():
                origins[url.strip()] = Access()
    return origins


# The token of an upload URL (secrets.token_urlsafe in the account service).
_UPLOAD_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")


class OwnUploads:
    """Recognises the URLs of our own upload store, whose files are never downloaded."""

    def __init__(self, base_urls: Iterable[str]) -> None:
        self._bases: set[tuple[str, str]] = set()
        for url in base_urls:
            origin = origin_of(url)
            if origin is None:
                raise ValueError(f"not an http(s) URL: {url!r}")
            self._bases.add((origin, urlsplit(url.strip()).path.rstrip("/") + "/uploads/"))

    @classmethod
    def from_env(cls) -> OwnUploads:
        """The web process by its public URL and by the URL the actions call it with."""
        return cls(
            [
                os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000"),
                os.environ.get("ACCOUNT_SERVICE_URL", "http://127.0.0.1:8000"),
            ]
        )

    def is_own(self, url: str) -> bool:
        """Whether the URL's origin is our own web process (an upload or not)."""
        origin = origin_of(url)
        return origin is not None and any(origin == own for own, _ in self._bases)

    def token_of(self, url: str) -> str | None:
        """The token of `…/uploads/{token}` on one of our bases, else None."""
        origin = origin_of(url)
        if origin is None:
            return None
        parts = urlsplit(url.strip())
        if parts.query or parts.fragment:
            return None
        for own, prefix in self._bases:
            if origin == own and parts.path.startswith(prefix):
                token = parts.path[len(prefix) :]
                if _UPLOAD_TOKEN.fullmatch(token):
                    return token
        return None
