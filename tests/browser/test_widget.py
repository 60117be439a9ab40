"""The chat widget in a real browser: a whole registration with a file, refused files,
a reload, hostile text, a phone's screen, and the REST channel when socket.io fails."""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Page, Route, expect

from bot.documents import DocumentRefused, inspect_document
from tests.browser.widget import CORPUS, Widget, sample_file

EMAIL = "emilie.lefevre@exemple-industries.fr"
ASKED_AGAIN = "Envoyez une photo ou un scan de la page de votre passeport"


def refusal_of(name: str) -> str:
    sample = CORPUS[name]
    with pytest.raises(DocumentRefused) as refused:
        inspect_document(sample.data, sample.filename)
    return refused.value.message


def activation_link(outbox: Path, to: str) -> str:
    for eml in outbox.glob("*.eml"):
        message = message_from_bytes(eml.read_bytes(), policy=default_policy)
        if message["To"] == to:
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            found = re.search(r"https?://\S+/activate/\S+", text)
            assert found, text
            return found.group(0)
    raise AssertionError(f"no e-mail to {to} in {outbox}")


def record_dialogs(page: Page) -> list[str]:
    """Every alert, confirm or prompt the page opens (dismissed at once)."""
    opened: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        opened.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    return opened


async def test_a_whole_registration_in_the_widget(
    browser_stack: dict[str, str], page: Page, tmp_path: Path, screenshots: Path
) -> None:
    websockets: list[str] = []
    page.on("websocket", lambda websocket: websockets.append(websocket.url))
    widget = Widget(page)
    await widget.load(browser_stack["web"])
    assert any("/socket.io/?EIO=4&transport=websocket" in url for url in websockets)
    await page.get_by_role("button", name="Créer mon espace avec l'assistant").click()
    await expect(widget.panel).to_be_visible()
    await widget.reach_document_step()
    await page.screenshot(path=screenshots / "registration-1-document-step.png")

    await widget.choose("Carte nationale d'identité", "recto et verso")
    front = sample_file(tmp_path, "png_scan")
    back = sample_file(tmp_path, "jpeg_scan_uppercase_extension")
    answer = await widget.send_files("conditions générales", front, back)
    assert "bien reçue" in answer
    sent = widget.user_messages.last
    await expect(sent).to_contain_text("cni-recto.png")
    await expect(sent).to_contain_text("SCAN0001.JPEG")
    await expect(sent).to_contain_text("Fichiers envoyés")
    await expect(sent.locator("img.ecw-thumb")).to_have_count(2)
    cgu = widget.bot_messages.last.get_by_role("link")
    await expect(cgu).to_have_attribute("href", re.compile(r"/cgu$"))
    await expect(cgu).to_have_attribute("rel", "noopener noreferrer")
    await page.screenshot(path=screenshots / "registration-2-files-sent.png")

    await widget.choose("J'accepte les CGU", "récapitulatif")
    answer = await widget.choose("Oui, créer mon espace client", "e***e@exemple-industries.fr")
    assert "C'est fait" in answer
    await page.screenshot(path=screenshots / "registration-3-created.png")

    # Opening the link shows a button (a mail scanner's visit changes nothing); the
    # person's click activates.
    await page.goto(activation_link(Path(browser_stack["outbox"]), EMAIL))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Activez votre espace client")
    await page.screenshot(path=screenshots / "registration-4-activation-page.png")
    await page.get_by_role("button", name="Activer mon espace client").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Votre espace client est activé"
    )
    await page.screenshot(path=screenshots / "registration-5-activated.png")


async def test_a_refused_file_is_explained_and_another_one_is_accepted(
    browser_stack: dict[str, str], page: Page, tmp_path: Path, screenshots: Path
) -> None:
    widget = Widget(page)
    await widget.load(browser_stack["web"])
    await widget.open()
    await widget.reach_document_step()
    await widget.choose("Passeport (Union européenne)", "Quel pays")
    await widget.say("Italie", ASKED_AGAIN)

    # The widget's own checks: a GIF or a file over 10 Mo is not sent at all.
    before = await widget.user_messages.count()
    await widget.file_input.set_input_files(sample_file(tmp_path, "gif"))
    await expect(widget.notices.last).to_contain_text("« carte.gif » n'est pas dans un format")
    await widget.file_input.set_input_files(sample_file(tmp_path, "oversize"))
    await expect(widget.notices.last).to_contain_text("dépasse la taille maximale de 10 Mo")
    await expect(widget.user_messages).to_have_count(before)

    # A PNG named .pdf passes that check; the assistant refuses it and says why.
    answer = await widget.send_files(ASKED_AGAIN, sample_file(tmp_path, "png_named_pdf"))
    assert refusal_of("png_named_pdf") in answer
    await page.screenshot(path=screenshots / "refused-file.png")

    # Another one, dropped onto the panel.
    answer = await widget.answer_to(
        lambda: widget.drop(CORPUS["jpeg_photo_with_exif"]), "conditions générales"
    )
    assert "passeport (Italie)) est bien reçue" in answer
    await expect(widget.user_messages.last).to_contain_text("IMG_20260114_101532.jpg")


async def test_a_reload_keeps_the_conversation_which_goes_on(
    browser_stack: dict[str, str], page: Page, screenshots: Path
) -> None:
    widget = Widget(page)
    await widget.load(browser_stack["web"])
    await widget.open()
    await widget.say("je veux créer mon espace client", "SIREN")
    await widget.say("SIREN 552 100 554, contrat AB123456", "Maison Démo Industries SA")
    await widget.choose("Oui, c'est bien elle", "civilité")
    await widget.choose("Monsieur", "nom de famille")
    await widget.say("Durand", "prénom")
    session = await session_id(page)
    shown = await widget.log.inner_text()

    await page.reload()
    await expect(widget.host).to_have_attribute("data-transport", "socketio")
    await expect(widget.panel).to_be_visible()
    assert await widget.log.inner_text() == shown
    await expect(widget.bot_messages.last).to_contain_text("Quel est votre prénom")
    # The latest message is in view, not the top of the conversation.
    log = await widget.log.element_handle()
    assert await log.evaluate("log => log.scrollHeight > log.clientHeight"), "longer than the panel"
    await page.wait_for_function(
        "log => log.scrollHeight - log.scrollTop - log.clientHeight < 2", arg=log
    )
    await expect(widget.bot_messages.last).to_be_in_viewport()
    await expect(widget.bot_messages.first).not_to_be_in_viewport()
    await expect(page.locator(".ecw-reply")).to_have_count(0)  # answered before the reload
    await page.screenshot(path=screenshots / "reload.png")
    await widget.say("Paul", "date de naissance")
    assert await session_id(page) == session

    await page.get_by_role("button", name="Nouvelle conversation").click()
    await expect(widget.user_messages).to_have_count(0)
    assert await session_id(page) != session
    await expect(widget.input).to_be_focused()
    answer = await widget.say("bonjour", "Bonjour")
    assert "Poursuivons" not in answer, "a new conversation, not the form of the last one"


async def session_id(page: Page) -> str:
    """The conversation id the widget keeps in localStorage."""
    stored = await page.evaluate("Object.entries(localStorage)")
    (value,) = [value for key, value in stored if key.endswith(":session")]
    return str(value)


async def test_the_widget_is_usable_with_the_keyboard_alone(
    browser_stack: dict[str, str], page: Page
) -> None:
    widget = Widget(page)
    await widget.load(browser_stack["web"])
    await widget.launcher.focus()
    await page.keyboard.press("Enter")
    await expect(widget.panel).to_be_visible()
    await expect(widget.input).to_be_focused()
    await expect(widget.log).to_have_attribute("aria-live", "polite")

    start = page.get_by_role("button", name="Créer mon espace client", exact=True)
    attach = page.get_by_role("button", name=re.compile("^Joindre un fichier"))
    new = page.get_by_role("button", name="Nouvelle conversation")
    close = page.get_by_role("button", name="Fermer la discussion")
    for control in (attach, start, widget.log, close, new):
        await page.keyboard.press("Shift+Tab")
        await expect(control).to_be_focused()
        assert await control.evaluate("node => getComputedStyle(node).outlineStyle") == "solid"
    for control in (close, widget.log, start):
        await page.keyboard.press("Tab")
        await expect(control).to_be_focused()

    await widget.answer_to(lambda: page.keyboard.press("Enter"), "SIREN")
    await expect(widget.user_messages.last).to_contain_text("Créer mon espace client")
    await expect(widget.input).to_be_focused()
    await widget.answer_to(lambda: page.keyboard.type("552 100 554\n"), "contrat")
    await page.keyboard.press("Escape")
    await expect(widget.panel).to_be_hidden()
    await expect(widget.launcher).to_be_focused()


async def test_markup_typed_by_the_user_is_shown_as_text(
    browser_stack: dict[str, str], page: Page
) -> None:
    dialogs = record_dialogs(page)
    widget = Widget(page)
    await widget.load(browser_stack["web"])
    await widget.open()
    for hostile in ("<script>alert(1)</script>", '<img src="x" onerror="alert(2)">'):
        await widget.say(hostile, "")
        await expect(widget.user_messages.last).to_contain_text(hostile)
    await expect(page.locator(".ecw-log script, .ecw-log img")).to_have_count(0)
    assert dialogs == []


async def test_on_a_phone_the_panel_fills_the_screen_without_horizontal_scroll(
    browser_stack: dict[str, str], browser: Browser, screenshots: Path
) -> None:
    context = await browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    page = await context.new_page()
    widget = Widget(page)
    await widget.load(browser_stack["web"])
    assert await no_horizontal_scroll(page)
    await widget.launcher.tap()
    await expect(widget.panel).to_be_visible()
    assert await widget.panel.bounding_box() == {"x": 0, "y": 0, "width": 360, "height": 740}

    await widget.input.tap()
    await widget.say("bonjour, je voudrais créer mon espace client", "SIREN")
    await widget.input.fill("SIREN 552 100 554, contrat AB123456")
    await widget.send_button.tap()
    await expect(widget.bot_messages.last).to_contain_text("Maison Démo Industries SA")
    await widget.choose("Oui, c'est bien elle", "civilité")
    await page.screenshot(path=screenshots / "mobile-360.png")
    long_text = "https://www.exemple.fr/" + "tres-long-chemin-sans-espace-" * 6
    await widget.say(long_text, "")
    await widget.log.evaluate("log => log.scrollTo(0, log.scrollHeight)")
    for control in (widget.input, widget.send_button, widget.log):
        await expect(control).to_be_in_viewport()
    assert await no_horizontal_scroll(page)
    assert await widget.log.evaluate("log => log.scrollWidth <= log.clientWidth")
    await context.close()


async def no_horizontal_scroll(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
            " && document.body.scrollWidth <= window.innerWidth"
        )
    )


async def test_without_socket_io_the_widget_talks_over_rest_and_shows_bot_text_as_text(
    browser_stack: dict[str, str], page: Page
) -> None:
    dialogs = record_dialogs(page)
    await page.route(re.compile(r"/socket\.io/"), lambda route: route.abort())
    widget = Widget(page)
    await widget.load(browser_stack["web"], transport="rest")
    await widget.open()
    await widget.say("bonjour", "Bonjour")

    hostile: list[dict[str, Any]] = [
        {"text": "<b>gras</b> <img src=x onerror=alert(1)> javascript:alert(2)"},
        {"text": "Lien : https://exemple.fr/a?b=1.\nDeuxième ligne", "buttons": []},
    ]

    async def fulfil(route: Route) -> None:
        cors = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
        }
        if route.request.method == "OPTIONS":
            await route.fulfill(status=204, headers=cors)
            return
        await route.fulfill(
            status=200,
            headers=cors,
            content_type="application/json",
            body=json.dumps([{"recipient_id": "x", **reply} for reply in hostile]),
        )

    await page.route("**/webhooks/rest/webhook", fulfil)
    await widget.say("encore", "Deuxième ligne")
    await expect(widget.bot_messages.filter(has_text="javascript:")).to_contain_text(
        hostile[0]["text"]
    )
    link = widget.bot_messages.last.get_by_role("link")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://exemple.fr/a?b=1")
    await expect(page.locator(".ecw-log img, .ecw-log b")).to_have_count(0)
    assert dialogs == []
