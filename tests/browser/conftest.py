"""Browser tests: the chat widget in Debian's headless Chromium, driven by Playwright,
against the whole stack started from the Procfile."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.e2e.conftest import ROOT, running_stack

SCREENSHOTS = ROOT / "var" / "screenshots"
# As root, without a sandbox; no background connections (this machine's network is closed).
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Rasa and the action server answer within a few seconds, slower on a busy machine.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed by scripts/browser-test-setup the first time."""
    setup = subprocess.run(
        [str(ROOT / "scripts" / "browser-test-setup")],
        capture_output=True,
        text=True,
        check=False,
    )
    if setup.returncode != 0:
        pytest.fail(f"scripts/browser-test-setup failed:\n{setup.stderr}")
    return setup.stdout.strip()


@pytest.fixture(scope="package")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A stack of these tests' own (tests/e2e's `stack` counts the accounts and e-mails
    of its own), stopped once the browser tests are done."""
    with running_stack(tmp_path_factory.mktemp("browser-stack")) as urls:
        yield urls


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    # Playwright's objects belong to one event loop, and each test has its own.
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A desktop page, in a new profile (empty localStorage)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    yield await context.new_page()
    await context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
