"""Driving the chat widget as a user does: typing, buttons and files."""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.corpus import Sample, build_corpus
from tests.e2e.chat import FIRST_STEPS

CORPUS = build_corpus()
ANSWER_TIMEOUT = 30.0
# What a user clicks in the widget instead of typing the payload of FIRST_STEPS.
BUTTONS = {'/inform{"civility":"Mme"}': "Madame"}


def sample_file(folder: Path, name: str) -> Path:
    """The corpus sample `name`, written under its own file name in a folder of its own."""
    sample = CORPUS[name]
    path = folder / name / sample.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sample.data)
    return path


class Widget:
    """The widget on a page of the web process."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.host = page.locator("#espace-client-widget")
        self.launcher = page.locator(".ecw-launcher")
        self.panel = page.get_by_role("dialog", name="Assistant Espace client")
        self.log = page.get_by_role("log")
        self.input = page.get_by_role("textbox", name="Votre message")
        self.send_button = page.get_by_role("button", name="Envoyer", exact=True)
        self.bot_messages = page.locator(".ecw-row.ecw-bot")
        self.user_messages = page.locator(".ecw-row.ecw-user")
        self.notices = page.locator(".ecw-row.ecw-notice")
        self.file_input = page.locator("input.ecw-file-input")
        self.typing = page.locator(".ecw-typing")

    async def load(self, web: str, transport: str = "socketio") -> None:
        await self.page.goto(web + "/")
        await expect(self.host).to_have_attribute("data-transport", transport)

    async def open(self) -> None:
        await self.launcher.click()
        await expect(self.panel).to_be_visible()
        await expect(self.input).to_be_focused()

    async def answer_to(self, act: Callable[[], Awaitable[object]], expected: str) -> str:
        """Do `act`, then wait for the assistant's new messages to contain `expected` and
        to stop coming; their text."""
        before = await self.bot_messages.count()
        await act()
        deadline = time.monotonic() + ANSWER_TIMEOUT
        said = ""
        while time.monotonic() < deadline:
            texts = await self.bot_messages.all_inner_texts()
            said = "\n".join(texts[before:])
            if len(texts) > before and expected in said:
                await self._settle()
                return "\n".join((await self.bot_messages.all_inner_texts())[before:])
            await asyncio.sleep(0.2)
        raise AssertionError(f"expected {expected!r}, the assistant said {said!r}")

    async def _settle(self) -> None:
        """Wait until no message came for half a second and nothing is awaited."""
        count = await self.bot_messages.count()
        while True:
            await asyncio.sleep(0.5)
            now = await self.bot_messages.count()
            if now == count:
                break
            count = now
        await expect(self.typing).to_be_hidden()

    async def say(self, text: str, expected: str) -> str:
        async def type_and_send() -> None:
            await self.input.fill(text)
            await self.input.press("Enter")

        return await self.answer_to(type_and_send, expected)

    async def choose(self, title: str, expected: str) -> str:
        """Click the quick reply `title`; the widget shows it as the user's message."""
        choice = self.page.get_by_role("group", name="Réponses proposées").get_by_role(
            "button", name=title, exact=True
        )
        answer = await self.answer_to(choice.click, expected)
        await expect(self.user_messages.last).to_contain_text(title)
        return answer

    async def send_files(self, expected: str, *paths: Path) -> str:
        return await self.answer_to(lambda: self.file_input.set_input_files(list(paths)), expected)

    async def drop(self, sample: Sample) -> None:
        """Drag `sample` from the desktop and drop it onto the panel."""
        files = await self.page.evaluate_handle(
            """([name, type, data]) => {
                const bytes = Uint8Array.from(atob(data), (char) => char.charCodeAt(0));
                const files = new DataTransfer();
                files.items.add(new File([bytes], name, { type }));
                return files;
            }""",
            [
                sample.filename,
                mimetypes.guess_type(sample.filename)[0],
                base64.b64encode(sample.data).decode(),
            ],
        )
        await self.panel.dispatch_event("dragenter", {"dataTransfer": files})
        await expect(self.page.get_by_text("Déposez votre fichier ici")).to_be_visible()
        await self.panel.dispatch_event("drop", {"dataTransfer": files})
        await expect(self.page.get_by_text("Déposez votre fichier ici")).to_be_hidden()

    async def reach_document_step(self) -> None:
        """Answer steps 1 to 3 as tests/e2e does, with the buttons where there are some."""
        for typed, expected in FIRST_STEPS:
            if typed in BUTTONS:
                await self.choose(BUTTONS[typed], expected)
            else:
                await self.say(typed, expected)
