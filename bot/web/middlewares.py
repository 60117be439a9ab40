"""Error mapping, the real client address behind trusted proxies, bearer-token
authentication."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp_remotes import XForwardedFiltered

from bot.errors import (
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
)
from bot.metrics import METRICS
from bot.services import throttle
from bot.web.access_log import loggable_path
from bot.web.keys import PAGES, SETTINGS
from bot.web.responses import json_response

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/"
PUBLIC_API_PATHS = {"/api/v1/openapi.yaml"}
# POST /uploads is public (the chat widget); reading or deleting an upload is not.
UPLOADS = "/uploads"
AGENT_API_PREFIX = "/agent/api/"
CLIENT_ID = "client_id"


def answers_json(path: str) -> bool:
    """The APIs and the upload store answer errors in JSON; pages answer in HTML."""
    return (
        path.startswith((API_PREFIX, AGENT_API_PREFIX))
        or path == UPLOADS
        or path.startswith(UPLOADS + "/")
    )


def address_key(request: web.Request) -> str:
    """The client's address as a throttling key, hashed: the database keeps no IP.

    `request.remote` is the real client: the peer, or the address a trusted proxy
    forwarded (see `real_client`).
    """
    return throttle.address_key(request.remote) or "address:unknown"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def real_client(trusted: Sequence[Network]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware making `request.remote` (and the scheme and host) what the trusted
    proxies in front of the process forwarded in `X-Forwarded-For` (`-Proto`, `-Host`).

    The headers are honoured only when the peer itself is one of `trusted`; from any
    other peer they are ignored, so that no client can choose its own address. Behind
    the proxies, the address is the right-most one that is not a trusted proxy
    (aiohttp-remotes' `XForwardedFiltered`).
    """
    networks = tuple(trusted)
    forwarded = XForwardedFiltered(set(networks)) if networks else None

    def from_proxy(request: web.Request) -> bool:
        peer = throttle.normal_address(request.remote)
        if peer is None:
            return False
        ip = ipaddress.ip_address(peer)
        return any(ip in network for network in networks)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if forwarded is not None and from_proxy(request):
            return await forwarded.middleware(request, handler)
        return await handler(request)

    return middleware


def needs_token(path: str) -> bool:
    if path.startswith(API_PREFIX):
        return path not in PUBLIC_API_PATHS
    return path.startswith(UPLOADS + "/")


_HTTP_ERRORS: dict[int, type[ServiceError]] = {
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def error_response(error: ServiceError, contact: str = "") -> web.Response:
    response = json_response(error.to_json(contact), status=error.status)
    if "retry_after" in error.details:
        response.headers["Retry-After"] = str(error.details["retry_after"])
        # Refused before its body was read (a throttled upload): the connection cannot
        # carry another request, whose start would be read in the rest of this body.
        response.force_close()
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = 'Bearer realm="espace-client"'
    return response


def page_error(request: web.Request, status: int) -> web.Response:
    template = request.app[PAGES].get_template("error.html")
    return web.Response(
        text=template.render(status=status), status=status, content_type="text/html"
    )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer API errors as JSON with a stable code and a French message; never a bare 500."""
    is_api = answers_json(request.path)
    try:
        return await handler(request)
    except ServiceError as error:
        request.app[METRICS].refused(error)
        return error_response(error, request.app[SETTINGS].support_contact)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if is_api:
            return error_response(_HTTP_ERRORS.get(exc.status, ServiceError)())
        if exc.status in (404, 405):
            return page_error(request, exc.status)
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, loggable_path(request.path))
        if is_api:
            return error_response(InternalError())
        return page_error(request, 500)


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require `Authorization: Bearer <token>` on the API and to read or delete uploads;
    the token names the client."""
    if needs_token(request.path):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        valid = scheme.lower() == "bearer" and any(
            hmac.compare_digest(token.encode(), known.encode())
            for known in request.app[SETTINGS].api_tokens
        )
        if not valid:
            raise Unauthorized()
        request[CLIENT_ID] = hashlib.sha256(token.encode()).hexdigest()[:16]
    return await handler(request)
