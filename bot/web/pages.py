"""HTML pages of the web process: home, activation, the OpenAPI file and the chat widget's
static files."""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.services import accounts
from bot.services.accounts import Activation
from bot.web import agent_auth  # (a cycle: agent_auth imports `render`)
from bot.web.keys import CLOCK, PAGES, SESSIONS, SETTINGS
from bot.web.responses import json_response

log = logging.getLogger(__name__)

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.yaml"
WIDGET_DIR = Path(__file__).resolve().parent.parent / "static" / "widget"

# What the widget's folder may serve, and as what; anything else is a 404.
_WIDGET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
# widget.js is embedded under a fixed address: caches check it again after 5 minutes.
# Vendored files carry their version in their name: cached for a year.
_WIDGET_CACHE = "public, max-age=300"
_VENDOR_CACHE = "public, max-age=31536000, immutable"

_ACTIVATION_STATUS = {
    Activation.VALID: 200,
    Activation.ACTIVATED: 200,
    Activation.UNKNOWN: 404,
    Activation.USED: 410,
    Activation.SUPERSEDED: 410,
    Activation.EXPIRED: 410,
}


def render(
    request: web.Request, template: str, status: int = 200, **context: object
) -> web.Response:
    html = request.app[PAGES].get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


async def home(request: web.Request) -> web.Response:
    return render(request, "home.html", rasa_url=request.app[SETTINGS].rasa_url)


async def cgu(request: web.Request) -> web.Response:
    return render(request, "cgu.html", version=request.app[SETTINGS].cgu_version)


# The activation page's form token, also set as a cookie that a browser sends only from
# this site's own pages (SameSite=Strict): a POST carrying both, equal, comes from the page.
# Needed besides Origin: the page's `Referrer-Policy: no-referrer` makes browsers send
# `Origin: null` on its form.
FORM_COOKIE = "activation_form"
FORM_FIELD = "form_token"
_REFUSED = "refused"


def _activation_page(
    request: web.Request, outcome: str, status: int, **context: object
) -> web.Response:
    response = render(request, "activation.html", status=status, outcome=outcome, **context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _token(request: web.Request) -> str | None:
    token = request.match_info["token"]
    return token if len(token) <= 128 else None


async def activation_page(request: web.Request) -> web.Response:
    """GET of the e-mail's link: says what the link can do, and offers the button that
    activates. Changes nothing: mail scanners open links before the person does."""
    token = _token(request)
    outcome = Activation.UNKNOWN
    if token is not None:
        async with request.app[SESSIONS]() as session:
            outcome = await accounts.activation_state(session, token, request.app[CLOCK]())
    if outcome is not Activation.VALID:
        return _activation_page(request, outcome.value, _ACTIVATION_STATUS[outcome])
    form_token = request.cookies.get(FORM_COOKIE, "")
    if not 32 <= len(form_token) <= 64 or not form_token.isascii():
        form_token = secrets.token_urlsafe(32)  # else kept: another tab's form still works
    response = _activation_page(request, outcome.value, 200, token=token, form_token=form_token)
    response.set_cookie(
        FORM_COOKIE,
        form_token,
        max_age=3600,
        path="/activate/",
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].public_base_url.startswith("https://"),
    )
    return response


def _from_activation_page(request: web.Request, form_token: object) -> bool:
    if agent_auth.same_origin(request):
        return True
    cookie = request.cookies.get(FORM_COOKIE, "")
    return (
        isinstance(form_token, str)
        and bool(cookie)
        and hmac.compare_digest(cookie.encode(), form_token.encode())
    )


async def activate(request: web.Request) -> web.Response:
    """POST of the activation page's button: uses the token, once."""
    form = await request.post()
    if not _from_activation_page(request, form.get(FORM_FIELD)):
        log.warning("activation refused: foreign or missing origin and form token")
        return _activation_page(request, _REFUSED, 403)
    token = _token(request)
    outcome = Activation.UNKNOWN
    if token is not None:
        async with request.app[SESSIONS]() as session:
            outcome = await accounts.activate(session, token, request.app[CLOCK]())
    return _activation_page(request, outcome.value, _ACTIVATION_STATUS[outcome])


async def openapi(request: web.Request) -> web.FileResponse:
    return web.FileResponse(OPENAPI_FILE, headers={"Content-Type": "application/yaml"})


async def widget_file(request: web.Request) -> web.FileResponse:
    """A file of bot/static/widget/, with its type and caching; ETag and 304 by aiohttp."""
    try:
        path = (WIDGET_DIR / request.match_info["path"]).resolve()
        found = path.is_relative_to(WIDGET_DIR) and path.is_file()
    except (OSError, ValueError):  # e.g. a NUL byte in the name
        found = False
    content_type = _WIDGET_TYPES.get(path.suffix) if found else None
    if content_type is None:
        raise web.HTTPNotFound()
    vendored = path.parent.name == "vendor"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Cache-Control": _VENDOR_CACHE if vendored else _WIDGET_CACHE,
            "X-Content-Type-Options": "nosniff",
            # Loaded by the insurer's pages, from another origin.
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


async def health(request: web.Request) -> web.Response:
    """Ready when the database answers."""
    try:
        async with request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError):
        return json_response({"status": "unavailable"}, status=503)
    return json_response({"status": "ok"})
