"""A whole registration in the real browser, on the demo page of the public https address:
the widget talks to the Rasa replicas over socket.io through nginx (a WebSocket, no REST
fallback), sends the identity document through nginx to the web process, and the
activation link of the e-mail opens through nginx too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.browser.conftest import CHROMIUM_ARGS, chromium  # noqa: F401 (a fixture)
from tests.browser.widget import BUTTONS, Widget, sample_file
from tests.deploy.conftest import PUBLIC_NAME, Topology
from tests.deploy.conversation import first_steps

EMAIL = "emilie.browser@exemple-industries.fr"


@pytest.fixture
async def public_page(chromium: str, topology: Topology) -> AsyncIterator[Page]:  # noqa: F811
    """A desktop page that resolves the public name to this machine, and accepts the
    fixture's certificate."""
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {PUBLIC_NAME} 127.0.0.1"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=args)
        context = await browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="fr-FR", ignore_https_errors=True
        )
        yield await context.new_page()
        await context.close()
        await browser.close()


async def test_a_whole_registration_in_the_browser_over_socket_io(
    topology: Topology, public_page: Page, tmp_path: Path
) -> None:
    page = public_page
    before = len(topology.upstream_log())
    websockets: list[str] = []
    page.on("websocket", lambda websocket: websockets.append(websocket.url))
    widget = Widget(page)
    await widget.load(topology.public_base_url)
    await page.get_by_role("button", name="Créer mon espace avec l'assistant").click()
    await expect(widget.panel).to_be_visible()
    for typed, expected in first_steps("browser"):
        if typed in BUTTONS:
            await widget.choose(BUTTONS[typed], expected)
        else:
            await widget.say(typed, expected)
    await widget.choose("Carte nationale d'identité", "recto et verso")
    front = sample_file(tmp_path, "png_scan")
    back = sample_file(tmp_path, "jpeg_scan_uppercase_extension")
    assert "bien reçue" in await widget.send_files("conditions générales", front, back)
    await widget.choose("J'accepte les CGU", "récapitulatif")
    answer = await widget.choose("Oui, créer mon espace client", "e***r@exemple-industries.fr")
    assert "C'est fait" in answer

    host = topology.public_base_url.split("://", 1)[1]
    assert any(url.startswith(f"wss://{host}/socket.io/") for url in websockets), websockets
    routes = [line["route"] for line in topology.upstream_log()[before:]]
    assert "socketio" in routes
    assert "rest" not in routes, "the widget fell back to REST"

    (message,) = topology.inbox.to(EMAIL)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://\S+/activate/\S+", text)
    assert link and link.group(0).startswith(topology.public_base_url + "/activate/")
    await page.goto(link.group(0))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Activez votre espace client")
    await page.get_by_role("button", name="Activer mon espace client").click()  # a POST
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Votre espace client est activé"
    )
