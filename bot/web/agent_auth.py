"""Access to the agent console: log in and out, the session cookie, the CSRF check.

Every `/agent` address but the login page needs a session: pages redirect to the login
page, the console's JSON API (`/agent/api/…`) answers 401. Every POST must come from
the console's own origin (the `Origin` header, else the `Referer`).
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.errors import ForbiddenOrigin, LoginRequired, TooManyLogins
from bot.models import Agent
from bot.services import agents
from bot.web.keys import CLOCK, LOGIN_POLICY, SESSIONS, SETTINGS
from bot.web.middlewares import Handler, address_key, answers_json, page_error
from bot.web.pages import render

log = logging.getLogger(__name__)

CONSOLE = "/agent"
LOGIN_PATH = "/agent/login"
COOKIE = "agent_session"
AGENT = "agent"  # request key of the logged-in `Agent`
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
# The console's own scripts only; styles are inline in the page templates.
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def is_console(path: str) -> bool:
    return path == CONSOLE or path.startswith(CONSOLE + "/")


def current_agent(request: web.Request) -> Agent:
    agent: Agent = request[AGENT]
    return agent


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: web.Request) -> bool:
    """Whether a state-changing request comes from the console's own pages.

    Accepted: the origin of PUBLIC_BASE_URL, and the one the request was addressed to
    (so that http://127.0.0.1:8000 works as well as http://localhost:8000). A browser
    sends its page's origin, which a foreign site cannot forge, and no request without
    Origin or Referer is accepted.
    """
    claimed = request.headers.get("Origin")
    if claimed is None:
        referer = request.headers.get("Referer")
        claimed = _origin(referer) if referer else None
    else:
        claimed = _origin(claimed)
    if claimed is None:
        return False
    own = f"{request.scheme}://{request.host}".lower()
    allowed = {_origin(request.app[SETTINGS].public_base_url), own}
    return claimed in allowed


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a console address, never another site."""
    if (
        value
        and is_console(value.split("?", 1)[0])
        and not value.startswith(LOGIN_PATH)
        and "\\" not in value
        and value.isprintable()
    ):
        return value
    return CONSOLE


async def _logged_in_agent(request: web.Request) -> Agent | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    async with request.app[SESSIONS]() as session:
        return await agents.agent_for_token(session, token, request.app[CLOCK]())


@web.middleware
async def agent_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a console session on `/agent` (the login page aside) and the console's
    own origin on its POSTs."""
    if not is_console(request.path):
        return await handler(request)
    if request.method not in SAFE_METHODS and not same_origin(request):
        log.warning("console %s refused: foreign or missing origin", request.method)
        if answers_json(request.path):
            raise ForbiddenOrigin()
        return page_error(request, 403)
    if request.path != LOGIN_PATH:
        agent = await _logged_in_agent(request)
        if agent is None:
            if answers_json(request.path):
                raise LoginRequired()
            target = request.path_qs if request.method in SAFE_METHODS else CONSOLE
            raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={quote(target, safe='/')}")
        request[AGENT] = agent
    response = await handler(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _login_form(
    request: web.Request, *, next_url: str, error: str | None, status: int
) -> web.Response:
    return render(request, "agent_login.html", status=status, next_url=next_url, error=error)


async def login_page(request: web.Request) -> web.Response:
    return _login_form(
        request, next_url=safe_next(request.query.get("next")), error=None, status=200
    )


async def log_in(request: web.Request) -> web.Response:
    form = await request.post()
    login, password, next_field = (form.get(name) for name in ("login", "password", "next"))
    next_url = safe_next(next_field if isinstance(next_field, str) else None)
    if not isinstance(login, str) or not isinstance(password, str) or not login or not password:
        return _login_form(request, next_url=next_url, error=BAD_CREDENTIALS, status=401)
    policy = request.app[LOGIN_POLICY]
    try:
        async with request.app[SESSIONS]() as session:
            token = await agents.log_in(
                session,
                login,
                password,
                client_key=address_key(request),
                policy=policy,
                now=request.app[CLOCK](),
            )
    except agents.InvalidCredentials:
        return _login_form(request, next_url=next_url, error=BAD_CREDENTIALS, status=401)
    except TooManyLogins as refusal:
        response = _login_form(request, next_url=next_url, error=refusal.message, status=429)
        response.headers["Retry-After"] = str(refusal.details.get("retry_after", 60))
        return response
    response = web.Response(status=303, headers={"Location": next_url})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(policy.session_ttl.total_seconds()),
        path=CONSOLE,
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].public_base_url.startswith("https://"),
    )
    return response


async def log_out(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    if token:
        async with request.app[SESSIONS]() as session:
            await agents.log_out(session, token)
    response = web.Response(status=303, headers={"Location": LOGIN_PATH})
    response.del_cookie(COOKIE, path=CONSOLE)
    return response
