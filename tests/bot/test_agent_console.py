"""The agent console: logging in, sessions, the CSRF check, the queue, taking a
conversation, replying, handing it back or closing it, and the `agents` command line.

Rasa is played by a small HTTP server on loopback that speaks the part of Rasa's API
the console uses (tracker, events, trigger_intent) and records every call.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.__main__ import main
from bot.french import PARIS
from bot.models import AgentSession, Handoff
from bot.rasa_client import RESUME_EVENTS
from bot.services import agents
from bot.settings import Settings
from bot.web.app import create_app
from bot.web.handoff_queue import expire_queue
from bot.web.keys import SESSIONS
from tests.conftest import MovableClock, Service, free_port, start_service

HANDOFFS = "/api/v1/handoffs"
RASA_TOKEN = "rasa-secret"
PASSWORD = "correct horse battery"
OPEN = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS).astimezone(timezone.utc)  # a Tuesday
CLOSED = datetime(2026, 12, 4, 19, 0, tzinfo=PARIS).astimezone(timezone.utc)  # Friday night
GREETING = (
    "Vous êtes maintenant en relation avec Claire Martin, de la cellule dédiée aux espaces clients."
)
SUMMARY = {
    "company": "Maison Démo Industries SA (SIREN 552 100 554)",
    "done": "Entreprise identifiée.",
    "blocking": "Le numéro de portable est refusé.",
    "fields": [{"label": "Nom", "value": "L*****e"}, {"label": "Portable", "value": "06 •• 78"}],
}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeRasa:
    """Rasa's HTTP API as the console uses it: trackers in memory, every call recorded."""

    token: str
    calls: list[Call] = field(default_factory=list)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failing: bool = False
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/conversations/{id}/tracker", self._tracker)
        app.router.add_post("/conversations/{id}/tracker/events", self._append)
        app.router.add_post("/conversations/{id}/trigger_intent", self._trigger)
        return app

    async def _record(self, request: web.Request) -> str:
        body = await request.json() if request.can_read_body else None
        self.calls.append(Call(request.method, request.path, dict(request.query), body))
        if request.query.get("token") != self.token:
            raise web.HTTPUnauthorized()
        if self.failing:
            raise web.HTTPInternalServerError()
        return request.match_info["id"]

    def _state(self, conversation_id: str) -> dict[str, Any]:
        events = self.events.setdefault(conversation_id, [])
        paused = False
        for event in events:
            paused = {"pause": True, "resume": False}.get(event["event"], paused)
        return {"sender_id": conversation_id, "paused": paused, "events": events}

    async def _tracker(self, request: web.Request) -> web.Response:
        return web.json_response(self._state(await self._record(request)))

    async def _append(self, request: web.Request) -> web.Response:
        conversation_id = await self._record(request)
        for event in await request.json():
            self.events.setdefault(conversation_id, []).append({**event, "timestamp": time.time()})
        return web.json_response(self._state(conversation_id))

    async def _trigger(self, request: web.Request) -> web.Response:
        conversation_id = await self._record(request)
        self.events.setdefault(conversation_id, []).append(
            {"event": "bot", "text": "Me revoilà ! Reprenons.", "timestamp": time.time()}
        )
        return web.json_response({"tracker": self._state(conversation_id), "messages": []})

    def said(self, conversation_id: str) -> list[Call]:
        """The calls that changed this conversation, in order."""
        prefix = f"/conversations/{conversation_id}/"
        return [c for c in self.calls if c.method == "POST" and c.path.startswith(prefix)]


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa(token=RASA_TOKEN)
    server = TestServer(fake.app(), host="127.0.0.1", port=free_port())
    await server.start_server()
    fake.url = f"http://127.0.0.1:{server.port}"
    yield fake
    await server.close()


@pytest.fixture
async def console(
    database_url: str, clock: MovableClock, tmp_path: Path, rasa: FakeRasa
) -> AsyncIterator[Service]:
    """The web process, talking to the fake Rasa, at a moment advisors are on duty."""
    clock.now = OPEN
    async with start_service(
        database_url, clock, tmp_path, rasa_url=rasa.url, rasa_token=RASA_TOKEN
    ) as service:
        yield service


@dataclass
class Browser:
    """An advisor's browser: a cookie jar, and the console's origin on every POST."""

    base_url: str
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, Any, aiohttp.ClientResponse]:
        async with self.http.get(self.base_url + path, allow_redirects=False) as response:
            body = await response.read()
        is_json = response.content_type == "application/json"
        return response.status, json.loads(body) if is_json else body.decode(), response

    async def post(
        self, path: str, payload: Any = None, origin: str | None = "same", **kwargs: Any
    ) -> tuple[int, Any]:
        headers = kwargs.pop("headers", {})
        if origin is not None:
            headers["Origin"] = self.base_url if origin == "same" else origin
        async with self.http.post(
            self.base_url + path,
            json=payload,
            headers=headers,
            allow_redirects=False,
            **kwargs,
        ) as response:
            body = await response.read()
            if response.content_type == "application/json":
                return response.status, json.loads(body)
            return response.status, body.decode()

    async def log_in(self, login: str, password: str = PASSWORD, next_url: str = "") -> int:
        status, _ = await self.post(
            "/agent/login", data={"login": login, "password": password, "next": next_url}
        )
        return status

    def session_token(self) -> str | None:
        cookie = self.http.cookie_jar.filter_cookies(self.base_url + "/agent")  # type: ignore[arg-type]
        morsel = cookie.get("agent_session")
        return morsel.value if morsel else None


@pytest.fixture
async def browsers(console: Service) -> AsyncIterator[Any]:
    """`await browsers()` opens a fresh browser on the console."""
    opened: list[aiohttp.ClientSession] = []

    async def open_browser() -> Browser:
        # unsafe=True: keep cookies of an IP address (127.0.0.1), as browsers do.
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(http)
        return Browser(console.base_url, http)

    yield open_browser
    for http in opened:
        await http.close()


async def create_agent(service: Service, login: str, name: str, password: str = PASSWORD) -> None:
    async with service.app[SESSIONS]() as session:
        await agents.create_agent(session, login, name, password, OPEN)


async def advisor(service: Service, browsers: Any, login: str, name: str) -> Browser:
    """A logged-in advisor (the account is created first)."""
    await create_agent(service, login, name)
    browser = await browsers()
    assert await browser.log_in(login) == 303
    return browser


async def hand_off(service: Service, conversation: str = "conv-1", **changes: Any) -> str:
    body = {
        "conversation_id": conversation,
        "channel": "socketio",
        "reason": "user_request",
        "summary": SUMMARY,
        **changes,
    }
    status, answer = await service.post(HANDOFFS, body)
    assert status in (200, 201), answer
    return str(answer["id"])


async def row(service: Service, reference: str) -> Handoff:
    async with service.app[SESSIONS]() as session:
        return (
            await session.execute(select(Handoff).where(Handoff.reference == reference))
        ).scalar_one()


# ---- Access ---------------------------------------------------------------------------


def console_routes(service: Service) -> list[tuple[str, str]]:
    """Every console route but the login page, with its placeholders filled."""
    routes = []
    for route in service.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or not path.startswith("/agent") or path == "/agent/login":
            continue
        routes.append((route.method, path.replace("{reference}", "hof_whatever")))
    return routes


async def test_every_console_route_needs_a_session(console: Service, browsers: Any) -> None:
    browser = await browsers()
    routes = console_routes(console)
    assert len(routes) >= 10
    for method, path in routes:
        if method == "GET":
            status, body, response = await browser.get(path)
        else:
            status, body = await browser.post(path, {})
        if path.startswith("/agent/api/"):
            assert status == 401, path
            assert body["error"]["code"] == "login_required"
            assert "reconnectez-vous" in body["error"]["message"]
        else:
            assert status == 303, path
            if method == "GET":
                assert response.headers["Location"] == f"/agent/login?next={path}"


async def test_the_login_page_and_a_successful_login(console: Service, browsers: Any) -> None:
    await create_agent(console, "claire", "Claire Martin")
    browser = await browsers()
    status, page, _ = await browser.get("/agent/login?next=/agent/handoffs/hof_x")
    assert status == 200
    assert 'name="password"' in page and 'value="/agent/handoffs/hof_x"' in page

    async with browser.http.post(
        console.base_url + "/agent/login",
        data={"login": "Claire", "password": PASSWORD, "next": "/agent/handoffs/hof_x"},
        headers={"Origin": console.base_url},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/agent/handoffs/hof_x"
        cookie = SimpleCookie(response.headers["Set-Cookie"])["agent_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
    assert cookie["path"] == "/agent" and cookie["max-age"] == "43200"
    assert len(cookie.value) >= 43, "256 bits"

    async with console.app[SESSIONS]() as session:
        [stored] = (await session.execute(select(AgentSession))).scalars().all()
    assert stored.token_hash == hashlib.sha256(cookie.value.encode()).hexdigest()
    assert stored.expires_at == OPEN.replace(hour=OPEN.hour + 12)

    status, page, response = await browser.get("/agent")
    assert status == 200
    assert "Claire Martin" in page and "File d'attente" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_the_cookie_is_secure_behind_https(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        public_base_url="https://console.example",  # TLS ends at a proxy in front
        outbox_dir=tmp_path / "outbox",
        document_key_file=tmp_path / "document.key",
    )
    server = TestServer(create_app(settings, clock=clock), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"http://127.0.0.1:{server.port}/agent/login",
                data={"login": "claire", "password": PASSWORD},
                headers={"Origin": "https://console.example"},
                allow_redirects=False,
            ) as response:
                assert response.status == 401, "the proxy's origin is the console's"
            async with server.app[SESSIONS]() as session:
                await agents.create_agent(session, "claire", "Claire Martin", PASSWORD, OPEN)
            async with http.post(
                f"http://127.0.0.1:{server.port}/agent/login",
                data={"login": "claire", "password": PASSWORD},
                headers={"Origin": "https://console.example"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
                assert SimpleCookie(response.headers["Set-Cookie"])["agent_session"]["secure"]
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("login", "password"),
    [("claire", "wrong password!"), ("nobody", PASSWORD), ("", PASSWORD), ("claire", "")],
)
async def test_wrong_credentials_get_one_message(
    console: Service, browsers: Any, login: str, password: str
) -> None:
    await create_agent(console, "claire", "Claire Martin")
    browser = await browsers()
    status, page = await browser.post("/agent/login", data={"login": login, "password": password})
    assert status == 401
    assert "Identifiant ou mot de passe incorrect." in page
    assert browser.session_token() is None


async def test_logins_are_throttled(console: Service, browsers: Any, clock: MovableClock) -> None:
    await create_agent(console, "claire", "Claire Martin")
    browser = await browsers()
    for _ in range(5):
        assert await browser.log_in("claire", "not the password") == 401
    status, page = await browser.post(
        "/agent/login", data={"login": "claire", "password": PASSWORD}
    )
    assert status == 429
    assert "Trop de tentatives de connexion" in page
    clock.advance(minutes=16)
    assert await browser.log_in("claire") == 303


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/agent", "/agent/login", "/ailleurs"]
)
async def test_login_never_redirects_elsewhere(
    console: Service, browsers: Any, next_url: str
) -> None:
    await create_agent(console, "claire", "Claire Martin")
    browser = await browsers()
    async with browser.http.post(
        console.base_url + "/agent/login",
        data={"login": "claire", "password": PASSWORD, "next": next_url},
        headers={"Origin": console.base_url},
        allow_redirects=False,
    ) as response:
        assert response.headers["Location"] == "/agent"


async def test_a_disabled_agent_cannot_log_in_and_loses_its_sessions(
    console: Service, browsers: Any
) -> None:
    browser = await advisor(console, browsers, "claire", "Claire Martin")
    assert (await browser.get("/agent/api/queue"))[0] == 200
    async with console.app[SESSIONS]() as session:
        await agents.disable_agent(session, "claire", OPEN)
    assert (await browser.get("/agent/api/queue"))[0] == 401
    assert await (await browsers()).log_in("claire") == 401


async def test_sessions_expire_after_12_hours(
    console: Service, browsers: Any, clock: MovableClock
) -> None:
    browser = await advisor(console, browsers, "claire", "Claire Martin")
    clock.advance(hours=11, minutes=59)
    assert (await browser.get("/agent/api/queue"))[0] == 200
    clock.advance(minutes=1)
    assert (await browser.get("/agent/api/queue"))[0] == 401
    assert (await browser.get("/agent"))[0] == 303


async def test_sessions_survive_a_restart(
    database_url: str, clock: MovableClock, tmp_path: Path, browsers: Any, console: Service
) -> None:
    browser = await advisor(console, browsers, "claire", "Claire Martin")
    token = browser.session_token()
    async with start_service(database_url, clock, tmp_path) as other:
        async with aiohttp.ClientSession(cookies={"agent_session": token or ""}) as http:
            async with http.get(other.base_url + "/agent/api/queue") as response:
                assert response.status == 200


async def test_logging_out_ends_the_session(console: Service, browsers: Any) -> None:
    browser = await advisor(console, browsers, "claire", "Claire Martin")
    token = browser.session_token()
    status, _ = await browser.post("/agent/logout")
    assert status == 303
    async with aiohttp.ClientSession(cookies={"agent_session": token or ""}) as http:
        async with http.get(console.base_url + "/agent/api/queue") as response:
            assert response.status == 401


@pytest.mark.parametrize(
    ("origin", "referer", "allowed"),
    [
        ("https://evil.example", None, False),
        ("null", None, False),
        (None, None, False),
        (None, "https://evil.example/agent", False),
        (None, "same", True),
        ("same", None, True),
    ],
)
async def test_posts_from_another_origin_are_refused(
    console: Service, browsers: Any, origin: str | None, referer: str | None, allowed: bool
) -> None:
    browser = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    headers = {}
    if referer is not None:
        headers["Referer"] = (
            f"{console.base_url}/agent/handoffs/{reference}" if referer == "same" else referer
        )
    status, body = await browser.post(
        f"/agent/api/handoffs/{reference}/take", origin=origin, headers=headers
    )
    if allowed:
        assert status == 200
        return
    assert status == 403
    assert body["error"]["code"] == "forbidden_origin"
    assert (await row(console, reference)).status == "waiting"


async def test_a_login_form_posted_from_another_site_is_refused(
    console: Service, browsers: Any
) -> None:
    await create_agent(console, "claire", "Claire Martin")
    browser = await browsers()
    status, page = await browser.post(
        "/agent/login",
        data={"login": "claire", "password": PASSWORD},
        origin="https://evil.example",
    )
    assert status == 403
    assert "Action refusée" in page
    assert browser.session_token() is None


# ---- Queue and conversation pages -----------------------------------------------------


async def test_the_queue_lists_and_counts_handoffs(
    console: Service, browsers: Any, clock: MovableClock
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    first = await hand_off(console, "conv-1")
    clock.advance(minutes=1)
    second = await hand_off(console, "conv-2", reason="service_unavailable")
    clock.advance(minutes=2)
    assert (await claire.post(f"/agent/api/handoffs/{first}/take"))[0] == 200
    clock.advance(minutes=1)
    status, queue, _ = await claire.get("/agent/api/queue")
    assert status == 200
    assert [item["id"] for item in queue["waiting"]] == [second]
    assert queue["waiting"][0]["waiting_text"] == "3 min"
    assert queue["waiting"][0]["reason_text"] == "Service de création de compte indisponible"
    assert queue["waiting"][0]["company"] == SUMMARY["company"]
    [active] = queue["active"]
    assert (active["id"], active["agent"], active["waiting_text"]) == (
        first,
        "Claire Martin",
        "3 min",
    )
    assert queue["tickets"] == [] and queue["closed"] == []

    assert (await claire.post(f"/agent/api/handoffs/{first}/handback"))[0] == 200
    clock.advance(minutes=1)
    assert (await claire.post(f"/agent/api/handoffs/{second}/take"))[0] == 200
    assert (await claire.post(f"/agent/api/handoffs/{second}/close"))[0] == 200
    clock.now = datetime(2026, 12, 1, 18, 30, tzinfo=PARIS)  # closed, the session still valid
    ticket = await hand_off(console, "conv-3")
    status, queue, _ = await claire.get("/agent/api/queue")
    assert [item["id"] for item in queue["tickets"]] == [ticket]
    assert [item["id"] for item in queue["closed"]] == [second, first]
    assert queue["closed"][0]["outcome_text"] == "Close par le conseiller"
    figures = queue["figures"]
    assert figures["by_outcome"] == {
        "handed_back": 1,
        "closed_by_advisor": 1,
        "left": 0,
        "open": 1,
    }
    # Waits of 3 and 4 minutes.
    assert (figures["median_wait_seconds"], figures["median_wait_text"]) == (210, "3 min 30 s")

    clock.advance(days=8)
    assert await claire.log_in("claire") == 303
    status, queue, _ = await claire.get("/agent/api/queue")
    assert queue["closed"] == [] and queue["figures"]["median_wait_seconds"] is None


async def test_the_conversation_page_shows_the_masked_summary(
    console: Service, browsers: Any
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    status, page, _ = await claire.get(f"/agent/handoffs/{reference}")
    assert status == 200
    for text in ("Maison Démo Industries SA (SIREN 552 100 554)", "L*****e", "06 •• 78"):
        assert text in page
    assert "Le client a demandé à parler à un conseiller" in page
    for element in ('id="take"', 'id="reply-text"', 'id="reply-send"', 'id="handback"'):
        assert element in page
    assert 'id="close"' in page and 'id="transcript"' in page
    assert '<script src="/agent/console.js"' in page
    status, script, _ = await claire.get("/agent/console.js")
    assert status == 200 and "#transcript" not in script and "transcript" in script

    status, page, _ = await claire.get("/agent/handoffs/hof_unknown")
    assert status == 404 and "Page introuvable" in page
    status, body, _ = await claire.get("/agent/api/handoffs/hof_unknown")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_the_transcript_never_shows_a_file(
    console: Service, browsers: Any, rasa: FakeRasa
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    secret_url = "http://127.0.0.1:8000/uploads/tok_abcdef"
    attachment = {"url": secret_url, "filename": "cni-dupont.png", "content_type": "image/png"}
    rasa.events["conv-1"] = [
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
        {"event": "bot", "text": "Bonjour ! Quel est votre SIREN ?", "timestamp": 2.0},
        {"event": "user", "text": "552 100 554", "timestamp": 3.0, "metadata": {}},
        {"event": "bot", "text": "Envoyez votre pièce.", "timestamp": 4.0, "data": {}},
        {
            "event": "user",
            "text": "/send_document",
            "timestamp": 5.0,
            "metadata": {"attachments": [attachment]},
        },
        {"event": "user", "text": "voici ma carte", "metadata": {"attachments": [attachment]}},
        {"event": "user", "text": f"/send_document{json.dumps(attachment)}", "timestamp": 6.0},
        {"event": "slot", "name": "id_document", "value": "doc_x", "timestamp": 7.0},
        {"event": "bot", "text": "Un instant.", "metadata": {"advisor": "Claire Martin"}},
        {"event": "user", "text": "je voudrais parler à quelqu'un", "timestamp": 8.0},
    ]
    status, body, _ = await claire.get(f"/agent/api/handoffs/{reference}")
    assert status == 200
    assert [(m["kind"], m["text"]) for m in body["transcript"]] == [
        ("bot", "Bonjour ! Quel est votre SIREN ?"),
        ("user", "552 100 554"),
        ("bot", "Envoyez votre pièce."),
        ("user", "📎 Fichier envoyé (non affiché)"),
        ("user", "📎 Fichier envoyé (non affiché)"),
        ("user", "📎 Fichier envoyé (non affiché)"),
        ("advisor", "Un instant."),
        ("user", "je voudrais parler à quelqu'un"),
    ]
    assert body["transcript"][0]["timestamp"] == "1970-01-01T00:00:02+00:00"
    assert body["transcript"][6]["advisor"] == "Claire Martin"
    assert body["transcript"][6]["kind"] == "advisor"
    raw = json.dumps(body)
    for secret in (secret_url, "tok_abcdef", "cni-dupont", "doc_x", "image/png"):
        assert secret not in raw
    [read] = [c for c in rasa.calls if c.method == "GET"]
    assert read.path == "/conversations/conv-1/tracker" and read.query == {"token": RASA_TOKEN}


async def test_the_transcript_shows_buttons_by_their_title_and_hides_the_handback(
    console: Service, browsers: Any, rasa: FakeRasa
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    offer = {"payload": "/affirm", "title": "Oui, parler à un conseiller"}
    rasa.events["conv-1"] = [
        {"event": "bot", "text": "Le souhaitez-vous ?", "data": {"buttons": [offer]}},
        {"event": "user", "text": "/affirm"},
        {"event": "user", "text": "/affirm"},  # typed: no button offered right before
        {"event": "user", "text": "EXTERNAL: EXTERNAL_advisor_handback"},
    ]
    status, body, _ = await claire.get(f"/agent/api/handoffs/{reference}")
    assert status == 200
    assert [(m["kind"], m["text"]) for m in body["transcript"]] == [
        ("bot", "Le souhaitez-vous ?"),
        ("user", "🔘 Oui, parler à un conseiller"),
        ("user", "/affirm"),
    ]


async def test_rasa_being_down_is_said_on_the_page(
    console: Service, browsers: Any, rasa: FakeRasa
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    rasa.failing = True
    status, body, _ = await claire.get(f"/agent/api/handoffs/{reference}")
    assert status == 200
    assert body["transcript"] == []
    assert "l'assistant virtuel ne répond pas" in body["transcript_error"]
    assert body["handoff"]["status"] == "waiting"


# ---- Actions ----------------------------------------------------------------------------


def bot_event(text: str, advisor: str = "Claire Martin") -> list[dict[str, Any]]:
    return [{"event": "bot", "text": text, "metadata": {"advisor": advisor}}]


LIVE = {"execute_side_effects": "true", "output_channel": "latest", "token": RASA_TOKEN}


async def test_taking_a_queued_conversation_greets_the_user(
    console: Service, browsers: Any, rasa: FakeRasa, clock: MovableClock
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    clock.advance(minutes=4, seconds=5)
    status, body = await claire.post(f"/agent/api/handoffs/{reference}/take")
    assert status == 200
    handoff = body["handoff"]
    assert (handoff["status"], handoff["agent"], handoff["mine"]) == (
        "active",
        "Claire Martin",
        True,
    )
    assert handoff["waiting_text"] == "4 min 05 s"

    [greeting] = rasa.said("conv-1")
    assert greeting.path == "/conversations/conv-1/tracker/events"
    assert greeting.query == LIVE
    assert greeting.body == bot_event(GREETING)
    stored = await row(console, reference)
    assert stored.status == "active" and stored.agent is not None
    assert stored.agent.login == "claire"
    assert stored.taken_at == OPEN.replace(minute=4, second=5)


async def test_taking_a_ticket_pauses_the_conversation_first(
    console: Service, browsers: Any, rasa: FakeRasa, clock: MovableClock
) -> None:
    clock.now = CLOSED
    reference = await hand_off(console)
    clock.now = OPEN.replace(day=7)
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    assert (await claire.post(f"/agent/api/handoffs/{reference}/take"))[0] == 200
    pause, greeting = rasa.said("conv-1")
    assert (pause.body, pause.query) == ([{"event": "pause"}], {"token": RASA_TOKEN})
    assert (greeting.body, greeting.query) == (bot_event(GREETING), LIVE)


async def test_one_advisor_takes_a_conversation(console: Service, browsers: Any) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    marc = await advisor(console, browsers, "marc", "Marc Petit")
    reference = await hand_off(console)
    assert (await claire.post(f"/agent/api/handoffs/{reference}/take"))[0] == 200
    status, body = await marc.post(f"/agent/api/handoffs/{reference}/take")
    assert status == 409
    assert body["error"]["code"] == "handoff_conflict"
    assert "déjà été prise en charge par Claire Martin" in body["error"]["message"]
    status, body, _ = await marc.get(f"/agent/api/handoffs/{reference}")
    assert body["handoff"]["mine"] is False and body["handoff"]["agent"] == "Claire Martin"


async def test_only_the_advisor_who_took_it_replies(
    console: Service, browsers: Any, rasa: FakeRasa
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    marc = await advisor(console, browsers, "marc", "Marc Petit")
    reference = await hand_off(console)
    status, body = await claire.post(f"/agent/api/handoffs/{reference}/reply", {"text": "Bonjour"})
    assert status == 409 and "Prenez d'abord" in body["error"]["message"]
    await claire.post(f"/agent/api/handoffs/{reference}/take")

    text = "Je regarde votre numéro de portable, un instant."
    status, body = await claire.post(f"/agent/api/handoffs/{reference}/reply", {"text": text})
    assert (status, body) == (200, {"sent": True})
    assert rasa.said("conv-1")[-1].body == bot_event(text)
    assert rasa.said("conv-1")[-1].query == LIVE

    for action, payload in (("reply", {"text": "Moi aussi"}), ("handback", None), ("close", None)):
        status, body = await marc.post(f"/agent/api/handoffs/{reference}/{action}", payload)
        assert status == 403
        assert body["error"]["code"] == "not_your_handoff"
    assert len(rasa.said("conv-1")) == 2

    status, body = await claire.post(f"/agent/api/handoffs/{reference}/reply", {"text": " "})
    assert status == 422
    status, body = await claire.post(f"/agent/api/handoffs/{reference}/reply", {"text": "x" * 2001})
    assert status == 422


async def test_handing_back_resumes_and_triggers_the_assistant(
    console: Service, browsers: Any, rasa: FakeRasa, clock: MovableClock
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    await claire.post(f"/agent/api/handoffs/{reference}/take")
    clock.advance(minutes=10)
    status, body = await claire.post(f"/agent/api/handoffs/{reference}/handback")
    assert status == 200
    assert (body["handoff"]["status"], body["handoff"]["outcome"]) == ("closed", "handed_back")

    _, farewell, resume, trigger = rasa.said("conv-1")
    assert farewell.body == bot_event(
        "Claire Martin vous remet en relation avec l'assistant virtuel."
    )
    assert farewell.query == LIVE
    assert (resume.body, resume.query) == (RESUME_EVENTS, {"token": RASA_TOKEN})
    assert trigger.path == "/conversations/conv-1/trigger_intent"
    assert trigger.body == {"name": "EXTERNAL_advisor_handback"}
    assert trigger.query == {"output_channel": "latest", "token": RASA_TOKEN}
    stored = await row(console, reference)
    assert (stored.status, stored.outcome) == ("closed", "handed_back")
    assert stored.closed_at == OPEN.replace(minute=10)

    status, body = await claire.post(f"/agent/api/handoffs/{reference}/handback")
    assert status == 409 and "déjà close" in body["error"]["message"]
    assert await hand_off(console) != reference, "the conversation may be handed off again"


async def test_closing_resumes_without_the_assistant_speaking(
    console: Service, browsers: Any, rasa: FakeRasa
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    await claire.post(f"/agent/api/handoffs/{reference}/take")
    status, body = await claire.post(f"/agent/api/handoffs/{reference}/close")
    assert status == 200
    assert body["handoff"]["outcome"] == "closed_by_advisor"
    _, resume = rasa.said("conv-1")
    assert resume.body == RESUME_EVENTS
    assert not any(c.path.endswith("trigger_intent") for c in rasa.calls)
    assert (await row(console, reference)).outcome == "closed_by_advisor"


async def test_when_rasa_fails_the_conversation_goes_back_to_the_queue(
    console: Service, browsers: Any, rasa: FakeRasa
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    rasa.failing = True
    status, body = await claire.post(f"/agent/api/handoffs/{reference}/take")
    assert status == 502
    assert body["error"]["code"] == "assistant_unavailable"
    assert "L'assistant virtuel ne répond pas" in body["error"]["message"]
    stored = await row(console, reference)
    assert (stored.status, stored.agent_id, stored.taken_at) == ("waiting", None, None)

    rasa.failing = False
    assert (await claire.post(f"/agent/api/handoffs/{reference}/take"))[0] == 200
    rasa.failing = True
    assert (await claire.post(f"/agent/api/handoffs/{reference}/handback"))[0] == 502
    assert (await row(console, reference)).status == "active", "retry once Rasa is back"


async def test_rasa_unreachable_is_a_clear_error(
    database_url: str, clock: MovableClock, tmp_path: Path, browsers: Any
) -> None:
    async with start_service(
        database_url, clock, tmp_path, rasa_url=f"http://127.0.0.1:{free_port()}"
    ) as service:
        await create_agent(service, "claire", "Claire Martin")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            browser = Browser(service.base_url, http)
            assert await browser.log_in("claire") == 303
            reference = await hand_off(service)
            status, body = await browser.post(f"/agent/api/handoffs/{reference}/take")
            assert status == 502 and body["error"]["code"] == "assistant_unavailable"


async def test_logs_carry_no_personal_data(
    console: Service, browsers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="bot"):
        claire = await advisor(console, browsers, "claire", "Claire Martin")
        reference = await hand_off(console)
        await claire.post(f"/agent/api/handoffs/{reference}/take")
        await claire.post(f"/agent/api/handoffs/{reference}/reply", {"text": "Votre SIREN ?"})
        await claire.post(f"/agent/api/handoffs/{reference}/handback")
    assert f"handoff {reference} taken" in caplog.text
    for secret in ("Claire Martin", "Votre SIREN", "L*****e", "Maison Démo", "conv-1", PASSWORD):
        assert secret not in caplog.text


async def test_a_wait_of_zero_is_a_figure_too(console: Service, browsers: Any) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    assert (await claire.post(f"/agent/api/handoffs/{reference}/take"))[0] == 200
    _, queue, _ = await claire.get("/agent/api/queue")
    assert queue["figures"]["median_wait_seconds"] == 0
    assert queue["figures"]["median_wait_text"] == "0 s"


async def test_the_figures_show_the_satisfaction_of_the_same_7_days(
    console: Service, browsers: Any, clock: MovableClock
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    _, queue, _ = await claire.get("/agent/api/queue")
    assert queue["figures"]["satisfaction_rate"] is None
    assert queue["figures"]["satisfaction_text"] is None
    await console.post("/api/v1/feedback", {"conversation_id": "old", "useful": False})
    clock.advance(days=7, seconds=1)  # out of the figures' period
    for conversation, useful in (("a", True), ("b", True), ("c", False)):
        body = {"conversation_id": conversation, "useful": useful}
        assert (await console.post("/api/v1/feedback", body))[0] == 201
    assert await claire.log_in("claire") == 303  # the first session has expired
    _, queue, _ = await claire.get("/agent/api/queue")
    figures = queue["figures"]
    assert (figures["feedback_answered"], figures["feedback_useful"]) == (3, 2)
    assert figures["satisfaction_rate"] == pytest.approx(2 / 3)
    assert figures["satisfaction_text"] == "67\u00a0% (2 sur 3)"
    status, page, _ = await claire.get("/agent")
    assert status == 200 and 'id="figure-satisfaction"' in page and 'id="figure-left"' in page
    _, script, _ = await claire.get("/agent/console.js")
    assert "satisfaction_text" in script


# ---- The queue never traps anyone -----------------------------------------------------


TICKET_INTENT = {"name": "EXTERNAL_handoff_ticket"}


async def test_a_handoff_waiting_10_minutes_becomes_a_ticket_and_the_assistant_resumes(
    console: Service, browsers: Any, rasa: FakeRasa, clock: MovableClock
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    clock.advance(minutes=9, seconds=59)
    assert await expire_queue(console.app) == 0
    assert rasa.said("conv-1") == [] and (await row(console, reference)).status == "waiting"

    clock.advance(seconds=1)
    assert await expire_queue(console.app) == 1
    resume, trigger = rasa.said("conv-1")
    assert (resume.body, resume.query) == (RESUME_EVENTS, {"token": RASA_TOKEN})
    assert trigger.path == "/conversations/conv-1/trigger_intent"
    # Within opening hours no time is given: an advisor calls back as soon as one can.
    assert (trigger.body, trigger.query) == (
        TICKET_INTENT,
        {"output_channel": "latest", "token": RASA_TOKEN},
    )
    assert (await row(console, reference)).status == "ticket"
    [message] = console.outbox_messages()
    assert reference in message["Subject"]
    assert "a attendu 10 min dans la file d'attente" in message.get_content()
    assert await expire_queue(console.app) == 0, "once"

    # The ticket is in the console, and an advisor may still take it.
    _, queue, _ = await claire.get("/agent/api/queue")
    assert queue["waiting"] == [] and [t["id"] for t in queue["tickets"]] == [reference]
    assert (await claire.post(f"/agent/api/handoffs/{reference}/take"))[0] == 200
    assert rasa.said("conv-1")[-2].body == [{"event": "pause"}]


async def test_at_closing_time_the_queue_becomes_tickets_that_say_when_advisors_return(
    console: Service, browsers: Any, rasa: FakeRasa, clock: MovableClock
) -> None:
    await advisor(console, browsers, "claire", "Claire Martin")
    clock.now = datetime(2026, 12, 1, 17, 58, tzinfo=PARIS)  # a Tuesday
    first = await hand_off(console, "conv-1")
    second = await hand_off(console, "conv-2")
    assert await expire_queue(console.app) == 0
    clock.advance(minutes=2)
    assert await expire_queue(console.app) == 2
    for conversation in ("conv-1", "conv-2"):
        _, trigger = rasa.said(conversation)
        assert trigger.body == {**TICKET_INTENT, "entities": {"opens_at": "demain à 9 h"}}
    assert {(await row(console, ref)).status for ref in (first, second)} == {"ticket"}
    texts = [message.get_content() for message in console.outbox_messages()]
    assert len(texts) == 2
    assert all("à la fermeture de la cellule" in text for text in texts)
    reopens = "La cellule ouvre à nouveau le mercredi 2 décembre 2026 à 9 h"
    assert all(reopens in text for text in texts)


async def test_when_the_last_advisor_logs_out_the_queue_becomes_tickets(
    console: Service, browsers: Any, rasa: FakeRasa
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    assert await expire_queue(console.app) == 0
    assert (await claire.post("/agent/logout"))[0] in (200, 303)
    assert await expire_queue(console.app) == 1
    assert (await row(console, reference)).status == "ticket"
    [message] = console.outbox_messages()
    assert "alors qu'aucun conseiller n'était connecté" in message.get_content()


async def test_a_handoff_taken_or_left_meanwhile_is_not_turned_into_a_ticket(
    console: Service, browsers: Any, rasa: FakeRasa, clock: MovableClock
) -> None:
    claire = await advisor(console, browsers, "claire", "Claire Martin")
    taken = await hand_off(console, "conv-1")
    left = await hand_off(console, "conv-2")
    assert (await claire.post(f"/agent/api/handoffs/{taken}/take"))[0] == 200
    assert (await console.post("/api/v1/handoffs/leave", {"conversation_id": "conv-2"}))[0] == 200
    clock.advance(minutes=30)
    assert await expire_queue(console.app) == 0
    assert (await row(console, taken)).status == "active"
    assert (await row(console, left)).outcome == "left"
    assert not any(call.path.endswith("trigger_intent") for call in rasa.calls)


async def test_when_rasa_cannot_be_told_the_handoff_stays_queued_until_it_can(
    console: Service, browsers: Any, rasa: FakeRasa, clock: MovableClock
) -> None:
    await advisor(console, browsers, "claire", "Claire Martin")
    reference = await hand_off(console)
    clock.advance(minutes=10)
    rasa.failing = True
    assert await expire_queue(console.app) == 0
    assert (await row(console, reference)).status == "waiting"
    assert console.outbox_messages() == [], "no ticket e-mail for a person not told"
    rasa.failing = False
    assert await expire_queue(console.app) == 1
    assert (await row(console, reference)).status == "ticket"
    assert len(console.outbox_messages()) == 1


async def test_the_web_process_checks_the_queue_on_its_own(
    database_url: str, clock: MovableClock, tmp_path: Path, rasa: FakeRasa
) -> None:
    assert Settings.from_env({}).handoff_queue_max_wait == timedelta(minutes=10)
    settings = Settings.from_env({"HANDOFF_QUEUE_MAX_WAIT_MINUTES": "3"})
    assert settings.handoff_queue_max_wait == timedelta(minutes=3)
    clock.now = OPEN
    async with start_service(
        database_url,
        clock,
        tmp_path,
        rasa_url=rasa.url,
        rasa_token=RASA_TOKEN,
        handoff_queue_max_wait=settings.handoff_queue_max_wait,
        handoff_queue_poll_interval=timedelta(seconds=0.1),
    ) as service:
        await create_agent(service, "claire", "Claire Martin")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            assert await Browser(service.base_url, http).log_in("claire") == 303
            reference = await hand_off(service)
            clock.advance(minutes=3)
            for _ in range(100):
                if (await row(service, reference)).status == "ticket":
                    break
                await asyncio.sleep(0.05)
            assert (await row(service, reference)).status == "ticket"
            assert rasa.said("conv-1")[-1].body == TICKET_INTENT


# ---- Command line -------------------------------------------------------------------------


async def run_cli(
    monkeypatch: pytest.MonkeyPatch, database_url: str, *argv: str, stdin: str = ""
) -> int:
    """`python -m bot ARGV` in a thread: its `asyncio.run` needs a loop of its own."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return await asyncio.to_thread(main, list(argv))


async def test_agents_command_line(
    monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create = ("agents", "create", "claire", "--name", "Claire  Martin", "--password-stdin")
    assert await run_cli(monkeypatch, database_url, *create, stdin=PASSWORD + "\n") == 0
    assert "Agent claire (Claire Martin) created." in capsys.readouterr().out
    assert await run_cli(monkeypatch, database_url, *create, stdin=PASSWORD + "\n") == 1
    assert "already taken" in capsys.readouterr().err

    prompts = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(prompts))
    assert (
        await run_cli(monkeypatch, database_url, "agents", "create", "marc", "--name", "Marc") == 0
    )
    capsys.readouterr()

    assert await run_cli(monkeypatch, database_url, "agents", "list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "claire\tClaire Martin\tactive",
        "marc\tMarc\tactive",
    ]
    assert await run_cli(monkeypatch, database_url, "agents", "disable", "Claire") == 0
    assert "Agent claire disabled" in capsys.readouterr().out
    assert await run_cli(monkeypatch, database_url, "agents", "list") == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == "claire\tClaire Martin\tdisabled 2026-12-01" or listed[0].startswith(
        "claire\tClaire Martin\tdisabled "
    )
    assert await run_cli(monkeypatch, database_url, "agents", "disable", "nobody") == 1
    assert "no agent" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "stdin", "prompts", "error"),
    [
        (("--password-stdin",), "short\n", [], "at least 12"),
        ((), "", [PASSWORD, PASSWORD + "!"], "differ"),
        (("--password-stdin", "--name", "  "), PASSWORD, [], "display name"),
    ],
)
async def test_agents_create_refuses_bad_input(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    stdin: str,
    prompts: list[str],
    error: str,
) -> None:
    answers = iter(prompts)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    args = ["agents", "create", "claire", "--name", "Claire Martin", *argv]
    assert await run_cli(monkeypatch, database_url, *args, stdin=stdin) == 1
    assert error in capsys.readouterr().err
