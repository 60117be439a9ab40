"""The messaging providers' APIs, played on loopback by one aiohttp server.

It plays what the bot talks to, never the bot: Telegram's Bot API (methods and file
downloads), Twilio's Messages and Media resources (media answer with a redirect to a
media store, as Twilio's do), Messenger's Send API, a media store (Twilio's and
Facebook's CDN) and a stranger that no one should call. Each runs on its own port, as
each provider has its own host; every request is recorded. The server runs in a thread
with its own loop, so that it lives as long as the stack, across tests.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.conftest import free_port

TELEGRAM_TOKEN = "123456:TEST-telegram-bot-token"
TELEGRAM_SECRET = "test-telegram-secret_token"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
TWILIO_NUMBER = "whatsapp:+14155238886"
MESSENGER_APP_SECRET = "test-messenger-app-secret"
MESSENGER_PAGE_TOKEN = "test-messenger-page-token"
MESSENGER_VERIFY_TOKEN = "test-messenger-verify-token"
MESSENGER_API_VERSION = "v21.0"
SECRETS = (
    TELEGRAM_TOKEN,
    TELEGRAM_SECRET,
    TWILIO_AUTH_TOKEN,
    MESSENGER_APP_SECRET,
    MESSENGER_PAGE_TOKEN,
    MESSENGER_VERIFY_TOKEN,
)
SERVERS = ("telegram", "twilio", "messenger", "cdn", "stranger")


@dataclass
class Sent:
    """One message the bot sent through a provider's API."""

    provider: str
    to: str
    text: str
    options: list[dict[str, str]] = field(default_factory=list)  # title, data
    message_id: int = 0


@dataclass
class FakeProviders:
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in SERVERS})
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (server, "METHOD /path")
    fetches: list[tuple[str, str, str | None]] = field(default_factory=list)  # server, path, auth
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    telegram_files: dict[str, str] = field(default_factory=dict)  # file_id → file_path
    lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None

    def url(self, server: str) -> str:
        return f"http://127.0.0.1:{self.ports[server]}"

    def env(self) -> dict[str, str]:
        """The settings of the three channels, pointed at this server."""
        return {
            "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": self.url("telegram"),
            "TELEGRAM_WEBHOOK_URL": "https://bot.example/webhooks/telegram/webhook",
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "TWILIO_WHATSAPP_NUMBER": TWILIO_NUMBER,
            "TWILIO_API_URL": self.url("twilio"),
            "TWILIO_MEDIA_ORIGINS": self.url("cdn"),
            "MESSENGER_APP_SECRET": MESSENGER_APP_SECRET,
            "MESSENGER_PAGE_ACCESS_TOKEN": MESSENGER_PAGE_TOKEN,
            "MESSENGER_VERIFY_TOKEN": MESSENGER_VERIFY_TOKEN,
            "MESSENGER_API_URL": f"{self.url('messenger')}/{MESSENGER_API_VERSION}",
            "MESSENGER_MEDIA_ORIGINS": self.url("cdn"),
        }

    def serve(self, path: str, data: bytes, content_type: str) -> None:
        """Make a file downloadable at `path` (on whichever server is asked)."""
        with self.lock:
            self.media[path] = (data, content_type)

    def telegram_file(self, file_id: str, file_path: str, data: bytes, content_type: str) -> None:
        """A file a Telegram user sent: `getFile` gives its path, then it is downloadable."""
        with self.lock:
            self.telegram_files[file_id] = file_path
        self.serve(file_path, data, content_type)

    def sent_to(self, provider: str, to: str) -> list[Sent]:
        with self.lock:
            return [sent for sent in self.sent if sent.provider == provider and sent.to == to]

    def requests_to(self, server: str) -> list[str]:
        with self.lock:
            return [call for name, call in self.calls if name == server]

    # The server.

    def start(self) -> None:
        ready = threading.Event()
        thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        thread.start()
        if not ready.wait(10):
            raise TimeoutError("the fake providers did not start")

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        for port in self.ports.values():
            await web.TCPSite(self._runner, "127.0.0.1", port).start()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        local_port = request.transport.get_extra_info("sockname")[1]
        server = next(name for name, port in self.ports.items() if port == local_port)
        with self.lock:
            self.calls.append((server, f"{request.method} {request.path}"))
        handler = getattr(self, f"_{server}")
        return await handler(request)

    def _file(self, server: str, request: web.Request, path: str) -> web.StreamResponse:
        with self.lock:
            self.fetches.append((server, request.path, request.headers.get("Authorization")))
            found = self.media.get(path)
        if found is None:
            raise web.HTTPNotFound()
        data, content_type = found
        return web.Response(body=data, content_type=content_type)

    async def _telegram(self, request: web.Request) -> web.StreamResponse:
        prefix = f"/file/bot{TELEGRAM_TOKEN}/"
        if request.method == "GET" and request.path.startswith(prefix):
            return self._file("telegram", request, request.path[len(prefix) :])
        method = request.path.rsplit("/", 1)[-1]
        if not request.path.startswith(f"/bot{TELEGRAM_TOKEN}/"):
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        payload: dict[str, Any] = await request.json()
        if method == "getFile":
            file_path = self.telegram_files.get(payload["file_id"])
            if file_path is None:
                return web.json_response({"ok": False, "error_code": 400}, status=400)
            found = {"file_id": payload["file_id"], "file_path": file_path}
            return web.json_response({"ok": True, "result": found})
        result: Any = True
        if method == "sendMessage":
            keyboard = (payload.get("reply_markup") or {}).get("inline_keyboard") or []
            options = [
                {"title": b["text"], "data": b["callback_data"]} for row in keyboard for b in row
            ]
            with self.lock:
                message_id = len(self.sent) + 1
                self.sent.append(
                    Sent("telegram", str(payload["chat_id"]), payload["text"], options, message_id)
                )
            result = {"message_id": message_id, "chat": {"id": payload["chat_id"]}}
        with self.lock:
            self.calls.append(("telegram", f"{method} {payload}"))
        return web.json_response({"ok": True, "result": result})

    async def _twilio(self, request: web.Request) -> web.StreamResponse:
        expected = (
            "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_AUTH_TOKEN}".encode()).decode()
        )
        if request.headers.get("Authorization") != expected:
            raise web.HTTPUnauthorized()
        account = f"/2010-04-01/Accounts/{TWILIO_SID}"
        if request.method == "POST" and request.path == f"{account}/Messages.json":
            form = await request.post()
            with self.lock:
                self.sent.append(Sent("twilio", str(form["To"]), str(form.get("Body", ""))))
            return web.json_response({"sid": "SM" + "0" * 32, "status": "queued"}, status=201)
        if request.method == "GET" and "/Media/" in request.path:
            with self.lock:
                self.fetches.append(("twilio", request.path, request.headers.get("Authorization")))
            media_sid = request.path.rsplit("/", 1)[-1]
            if media_sid.startswith("MEstranger"):
                raise web.HTTPTemporaryRedirect(f"{self.url('stranger')}/{media_sid}")
            # Twilio answers with a short-lived URL on its media store.
            raise web.HTTPTemporaryRedirect(f"{self.url('cdn')}/twilio/{media_sid}?Expires=1")
        raise web.HTTPNotFound()

    async def _messenger(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("access_token") != MESSENGER_PAGE_TOKEN:
            return web.json_response({"error": {"code": 190}}, status=400)
        payload = await request.json()
        message = payload["message"]
        options = [
            {"title": reply["title"], "data": reply["payload"]}
            for reply in message.get("quick_replies") or []
        ]
        with self.lock:
            self.sent.append(
                Sent("messenger", payload["recipient"]["id"], message.get("text", ""), options)
            )
        return web.json_response({"recipient_id": payload["recipient"]["id"], "message_id": "m_1"})

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        return self._file("cdn", request, request.path.lstrip("/"))

    async def _stranger(self, request: web.Request) -> web.StreamResponse:
        return self._file("stranger", request, request.path.lstrip("/"))
