"""Handing a conversation to an advisor, in two real browser pages: the user's widget and
the agent console. The advisor, logged in, takes the conversation, replies live, and hands
back; the user finishes the registration with the assistant. A person may also leave the
queue with the button of the queued message."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.browser.widget import Widget, sample_file
from tests.e2e.conftest import ROOT

AGENT_LOGIN = "claire.martin"
AGENT_NAME = "Claire Martin"
AGENT_PASSWORD = "correct horse battery staple 42"
EMAIL = "paul.moreau@exemple-industries.fr"
LOGIN_PAGE = re.compile(r"/agent/login(\?next=\S*)?$")
# Steps 1 to 3 of a person of this test's own (the widget tests register others).
STEPS = [
    ("bonjour, je voudrais créer mon espace client", "SIREN"),
    ("SIREN 552 100 554, contrat AB123456", "Maison Démo Industries SA"),
    ("oui c'est bien ça", "civilité"),
    ("Monsieur", "nom de famille"),
    ("Moreau", "prénom"),
    ("Paul", "date de naissance"),
    ("23/06/1981", "portable"),
    ("06 98 76 54 32", "fonction"),
    ("Responsable des achats", "adresse e-mail professionnelle"),
    (EMAIL, "téléphone professionnel"),
    ("01 42 68 53 00", "Quel document allez-vous envoyer"),
]


def create_agent(stack: dict[str, str]) -> None:
    """`python -m bot agents create`, as the support team's administrator does (once per
    stack: a second time, the login is taken)."""
    created = subprocess.run(
        [
            str(ROOT / ".venv/bin/python"),
            "-m",
            "bot",
            "agents",
            "create",
            AGENT_LOGIN,
            "--name",
            AGENT_NAME,
            "--password-stdin",
        ],
        input=AGENT_PASSWORD + "\n",
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{stack['accounts_db']}"},
        capture_output=True,
    )
    assert created.returncode == 0 or "already taken" in created.stderr, created.stderr


async def log_in(page: Page, web: str) -> None:
    await page.goto(web + "/agent")
    await expect(page).to_have_url(LOGIN_PAGE)
    await page.get_by_label("Identifiant").fill(AGENT_LOGIN)
    await page.get_by_label("Mot de passe").fill(AGENT_PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(web + "/agent")


async def test_the_console_refuses_access_without_a_login(
    browser_stack: dict[str, str], page: Page
) -> None:
    web = browser_stack["web"]
    for path in ("/agent", "/agent/handoffs/hof_inconnu"):
        await page.goto(web + path)
        await expect(page).to_have_url(LOGIN_PAGE)
    response = await page.request.get(web + "/agent/api/handoffs")
    assert response.status == 401
    await page.get_by_label("Identifiant").fill(AGENT_LOGIN)
    await page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("alert")).to_contain_text("incorrect")
    await expect(page).to_have_url(LOGIN_PAGE)


async def test_an_advisor_takes_the_conversation_replies_and_hands_back(
    browser_stack: dict[str, str], browser: Browser, page: Page, tmp_path: Path, screenshots: Path
) -> None:
    web = browser_stack["web"]
    create_agent(browser_stack)
    # The advisor is logged in first: without one, the request would be a ticket.
    console = await (await browser.new_context(locale="fr-FR")).new_page()
    await log_in(console, web)
    widget = Widget(page)
    await widget.load(web)
    await widget.open()
    for typed, expected in STEPS:
        await widget.say(typed, expected)
    await widget.choose("Passeport (Union européenne)", "Quel pays")
    passport = sample_file(tmp_path, "jpeg_photo_with_exif")
    await widget.say("France", "Envoyez une photo")
    await widget.send_files("conditions générales", passport)

    # The user asks for a person at the terms of use, and confirms.
    await widget.say("je préfère parler à un conseiller", "mettre en relation")
    answer = await widget.choose("Oui, parler à un conseiller", "file d'attente")
    assert "Vous êtes le prochain" in answer

    # The advisor finds the conversation in the queue and opens it.
    await console.reload()
    waiting = console.locator("#waiting tbody tr[data-handoff]")
    await expect(waiting).to_have_count(1)
    await expect(waiting.first).to_contain_text("Maison Démo Industries SA")
    await waiting.first.get_by_role("link").click()
    transcript = console.locator("#transcript")
    await expect(transcript.locator(".message.user").last).to_contain_text(
        "🔘 Oui, parler à un conseiller"
    )
    await expect(transcript).to_contain_text("je préfère parler à un conseiller")
    # The document is never shown: not its name, not its address.
    await expect(transcript).to_contain_text("Fichier envoyé (non affiché)")
    shown = await console.content()
    assert "IMG_20260114_101532" not in shown and "/uploads/" not in shown
    await expect(console.locator("body")).to_contain_text("M••••")  # the masked last name
    assert "Moreau" not in await console.locator("#summary-fields").inner_text()
    await console.screenshot(path=screenshots / "handoff-1-console.png")

    # Taking it and replying: the user sees who is there, live, and answers.
    await console.locator("#take").click()
    advisor = page.locator(".ecw-row.ecw-advisor")
    await expect(advisor.last).to_contain_text(f"en relation avec {AGENT_NAME}")
    await console.locator("#reply-text").fill("Bonjour, que puis-je faire pour vous ?")
    await console.locator("#reply-send").click()
    await expect(advisor.last).to_contain_text("que puis-je faire pour vous")
    await expect(advisor.last).to_contain_text(f"{AGENT_NAME} · conseiller")
    await widget.input.fill("Que deviennent mes données si j'accepte les CGU ?")
    await widget.input.press("Enter")
    await expect(transcript.locator(".message.user").last).to_contain_text(
        "Que deviennent mes données"
    )
    await console.locator("#reply-text").fill("Elles servent uniquement à votre espace client.")
    await console.locator("#reply-send").click()
    await expect(advisor.last).to_contain_text("uniquement à votre espace client")
    await page.screenshot(path=screenshots / "handoff-2-widget.png")

    # Handing back: the assistant says so and asks its question again.
    await widget.answer_to(lambda: console.locator("#handback").click(), "conditions générales")
    await expect(widget.bot_messages.filter(has_text="de nouveau avec l'assistant")).to_have_count(
        1
    )
    await widget.choose("J'accepte les CGU", "récapitulatif")
    answer = await widget.choose("Oui, créer mon espace client", "p***u@exemple-industries.fr")
    assert "C'est fait" in answer

    # The console keeps the handoff, its outcome and its waiting time.
    await console.goto(web + "/agent")
    closed = console.locator("#closed")
    await expect(closed).to_contain_text("Rendue à l'assistant")


async def test_a_person_leaves_the_queue_with_its_button(
    browser_stack: dict[str, str], browser: Browser, page: Page
) -> None:
    web = browser_stack["web"]
    create_agent(browser_stack)
    console = await (await browser.new_context(locale="fr-FR")).new_page()
    await log_in(console, web)
    widget = Widget(page)
    await widget.load(web)
    await widget.open()
    await widget.say("bonjour, je voudrais créer mon espace client", "SIREN")
    await widget.say("je veux parler à un conseiller", "mettre en relation")
    await widget.choose("Oui, parler à un conseiller", "file d'attente")
    waiting = console.locator("#waiting tbody tr[data-handoff]")
    await expect(waiting).to_have_count(1)

    # The paused assistant answers this button: the person is back with it.
    answer = await widget.choose("Revenir à l'assistant", "SIREN")
    assert "Le service est momentanément indisponible" not in answer
    await expect(waiting).to_have_count(0)
    await expect(console.locator("#closed")).to_contain_text("Quittée par le client")
    await widget.say("SIREN 552 100 554, contrat AB123456", "Maison Démo Industries SA")
