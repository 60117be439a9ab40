"""The widget never stays deaf: after falling back to REST it goes back to socket.io by
itself, in the same conversation, so that an advisor's messages reach the person; and a
connection cut in the middle of a conversation loses no message."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from playwright.async_api import Page, expect

from bot.rasa_client import RasaClient
from tests.browser.test_widget import session_id
from tests.browser.widget import Widget
from tests.conftest import free_port

ADVISOR = "Claire Martin"
INTERRUPTED = (
    "La connexion a été interrompue. Renvoyez votre message si vous n'avez pas eu de réponse."
)
INTERRUPTED_MESSAGE = "je voudrais créer mon espace client"
UNAVAILABLE = "L'assistant est momentanément indisponible"
SOCKET_IO = re.compile(r"/socket\.io/")
# socket.io's backoff tops at 20 s between two attempts (widget.js's RETRY_MAX).
RECONNECT_TIMEOUT = 45_000
# What the widget shows of each message: its text, without what only screen readers get.
BUBBLE_TEXTS = """(bubbles) => bubbles.map((bubble) => {
    const copy = bubble.cloneNode(true);
    copy.querySelectorAll(".ecw-sr, .ecw-author").forEach((hidden) => hidden.remove());
    return copy.textContent.replace(/\\s+/g, " ").trim();
})"""


class Relay:
    """A TCP relay on loopback in front of Rasa, where nginx would be: it can hold back
    what Rasa sends, and cut every connection at once (refusing new ones until opened
    again), as when the proxy or a Rasa replica restarts."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.holding = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self.holding = False
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream = await asyncio.open_connection(*self.target)
            self._writers.add(upstream)
            pumps = [
                asyncio.ensure_future(self._pump(reader, upstream, downstream=False)),
                asyncio.ensure_future(self._pump(up_reader, writer, downstream=True)),
            ]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
        except OSError:
            pass
        finally:
            for end in (writer, upstream):
                if end is not None:
                    end.close()
                    self._writers.discard(end)
                    try:
                        await end.wait_closed()
                    except OSError:
                        pass
            self._handlers.discard(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, downstream: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if downstream and self.holding:
                    continue  # lost on the way, as when the connection dies
                writer.write(data)
                await writer.drain()
        except OSError:
            pass


# Run in the page before its own scripts: once the page is parsed, before deferred
# scripts (the widget), its tag points at another Rasa, as a site sets `data-rasa-url`.
POINT_AT = """document.addEventListener("readystatechange", () => {
    const tag = document.querySelector('script[src*="/widget/widget.js"]');
    if (document.readyState === "interactive" && tag) tag.dataset.rasaUrl = RASA;
});"""


async def through(page: Page, rasa: str) -> None:
    """Point the demo page's widget at `rasa` instead of the stack's Rasa."""
    await page.add_init_script(f"const RASA = {json.dumps(rasa)};\n{POINT_AT}")


async def bubble_texts(page: Page, kind: str) -> list[str]:
    texts = await page.locator(f".ecw-row.ecw-{kind} .ecw-bubble").evaluate_all(BUBBLE_TEXTS)
    return [str(text) for text in texts]


async def tracker_events(stack: dict[str, str], session: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(
            f"{stack['rasa']}/conversations/{session}/tracker",
            params={"token": stack["rasa_token"]},
        ) as response:
            assert response.status == 200
            events = (await response.json())["events"]
    return [event for event in events if isinstance(event, dict)]


def answers(events: list[dict[str, Any]]) -> list[tuple[str | None, list[str]]]:
    """Each message of the user in a tracker, with the assistant's answer, one entry per
    bubble as both channels split them (the advisors' messages left out)."""
    turns: list[tuple[str | None, list[str]]] = [(None, [])]
    for event in events:
        if event.get("event") == "user":
            turns.append((event.get("text"), []))
        elif (
            event.get("event") == "bot"
            and event.get("text")
            and not (event.get("metadata") or {}).get("advisor")
        ):
            turns[-1][1].extend(" ".join(part.split()) for part in event["text"].split("\n\n"))
    return turns


async def send_as_advisor(stack: dict[str, str], session: str, text: str) -> None:
    """What the agent console does when an advisor replies (bot/services/handoffs.py)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        await RasaClient(stack["rasa"], stack["rasa_token"], http).send_advisor_message(
            session, text, ADVISOR
        )


async def fall_back_to_rest(page: Page, stack: dict[str, str]) -> Widget:
    """The widget loaded while socket.io is unreachable: it falls back to REST, and talks."""
    await page.route(SOCKET_IO, lambda route: route.abort())
    widget = Widget(page)
    await widget.load(stack["web"], transport="rest")
    await widget.open()
    await widget.say("bonjour", "Bonjour")
    return widget


async def test_after_falling_back_to_rest_the_widget_goes_back_to_socket_io_and_hears_the_advisor(
    browser_stack: dict[str, str], page: Page
) -> None:
    widget = await fall_back_to_rest(page, browser_stack)
    session = await session_id(page)

    # socket.io is reachable again: the widget goes back to it on its own, same session.
    started = time.monotonic()
    await page.unroute(SOCKET_IO)
    await expect(widget.host).to_have_attribute(
        "data-transport", "socketio", timeout=RECONNECT_TIMEOUT
    )
    assert time.monotonic() - started < RECONNECT_TIMEOUT / 1000
    assert await session_id(page) == session
    await widget.say("je voudrais créer mon espace client", "SIREN")
    events = await tracker_events(browser_stack, session)
    channels = [event.get("input_channel") for event in events if event.get("event") == "user"]
    assert channels == ["rest", "socketio"], "one conversation, over both channels in turn"

    # An advisor's message comes live, once, signed.
    await send_as_advisor(browser_stack, session, "Bonjour, je suis là si besoin.")
    advisor = page.locator(".ecw-row.ecw-advisor")
    await expect(advisor).to_have_count(1)
    await expect(advisor).to_contain_text("Bonjour, je suis là si besoin.")
    await expect(advisor).to_contain_text(f"{ADVISOR} · conseiller")

    # Every message of the assistant shown once, none missing, in order.
    shown = (await bubble_texts(page, "bot"))[1:]  # after the widget's own introduction
    said = answers(await tracker_events(browser_stack, session))
    assert shown == [bubble for _, bubbles in said for bubble in bubbles]
    await expect(widget.notices).to_have_count(0)


async def test_a_connection_cut_mid_conversation_loses_no_message(
    browser_stack: dict[str, str], page: Page
) -> None:
    relay = Relay(browser_stack["rasa"])
    await relay.open()
    try:
        await through(page, relay.url)
        widget = Widget(page)
        await widget.load(browser_stack["web"])
        await widget.open()
        await widget.say("bonjour", "Bonjour")
        session = await session_id(page)

        # The connection dies while Rasa answers: the answer is lost, the person is told.
        relay.holding = True
        await widget.input.fill(INTERRUPTED_MESSAGE)
        await widget.input.press("Enter")
        await answered_in_tracker(browser_stack, session, INTERRUPTED_MESSAGE)
        await relay.cut()
        await expect(widget.notices).to_have_text([INTERRUPTED])
        await expect(widget.typing).to_be_hidden()

        # A message sent while the connection is down is kept, then sent once it is back.
        await widget.input.fill("SIREN 552 100 554, contrat AB123456")
        await widget.input.press("Enter")
        await expect(widget.user_messages.last).to_contain_text("SIREN 552 100 554")
        await asyncio.sleep(1)
        await relay.open()
        await expect(widget.bot_messages.last).to_contain_text("Maison Démo Industries SA")
        await expect(widget.host).to_have_attribute(
            "data-transport", "socketio", timeout=RECONNECT_TIMEOUT
        )
        await widget.choose("Oui, c'est bien elle", "civilité")

        # The lost answer aside, every message of the assistant shown once, in order.
        shown = (await bubble_texts(page, "bot"))[1:]
        said = answers(await tracker_events(browser_stack, session))
        assert [user for user, _ in said].count(INTERRUPTED_MESSAGE) == 1, "sent once"
        assert shown == [
            bubble for user, bubbles in said if user != INTERRUPTED_MESSAGE for bubble in bubbles
        ]
        await expect(widget.notices).to_have_text([INTERRUPTED])
        assert not [text for text in await bubble_texts(page, "notice") if UNAVAILABLE in text]
    finally:
        await relay.cut()


async def answered_in_tracker(stack: dict[str, str], session: str, text: str) -> None:
    """Wait until Rasa has answered the user's `text` (a bot event after it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = await tracker_events(stack, session)
        said = [index for index, event in enumerate(events) if event.get("text") == text]
        if said and any(event.get("event") == "bot" for event in events[said[-1] :]):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"Rasa never answered {text!r}")


async def test_an_advisor_reaches_a_widget_back_on_socket_io_before_the_person_writes(
    browser_stack: dict[str, str], page: Page
) -> None:
    widget = await fall_back_to_rest(page, browser_stack)
    session = await session_id(page)
    await page.unroute(SOCKET_IO)
    await expect(widget.host).to_have_attribute(
        "data-transport", "socketio", timeout=RECONNECT_TIMEOUT
    )
    await send_as_advisor(browser_stack, session, "Bonjour, ici votre conseillère.")
    await expect(page.locator(".ecw-row.ecw-advisor")).to_contain_text(
        "ici votre conseillère", timeout=10_000
    )
