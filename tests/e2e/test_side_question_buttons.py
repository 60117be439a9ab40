"""A button answers only the question it belongs to, through the whole stack.

Inside the form, an advisor's offer or « voulez-vous vraiment annuler ? » is followed by
the form's question again. Both are yes-or-no questions, and their buttons would send the
same « /affirm »: the question asked again comes without buttons, so the only « Oui »
button on screen is the side question's, and it answers that question.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from tests.e2e.chat import slots_of

COMPANY_QUESTION = "S'agit-il bien de votre entreprise"


async def replies(
    http: aiohttp.ClientSession, rasa: str, sender: str, text: str
) -> list[dict[str, Any]]:
    async with http.post(
        f"{rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text}
    ) as response:
        assert response.status == 200
        return list(await response.json())


def titles(answer: list[dict[str, Any]]) -> list[str]:
    return [button["title"] for reply in answer for button in reply.get("buttons") or []]


async def at_the_company_question(http: aiohttp.ClientSession, rasa: str, sender: str) -> None:
    await replies(http, rasa, sender, "bonjour, je voudrais créer mon espace client")
    answer = await replies(http, rasa, sender, "SIREN 552 100 554, contrat AB123456")
    assert titles(answer) == ["Oui, c'est bien elle", "Non"]


async def test_under_a_cancel_confirmation_only_its_buttons_are_shown(
    stack: dict[str, str],
) -> None:
    sender = "e2e-side-" + uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:
        await at_the_company_question(http, stack["rasa"], sender)

        answer = await replies(http, stack["rasa"], sender, "annuler")
        assert titles(answer) == ["Oui, tout annuler", "Non, continuer"]
        assert COMPANY_QUESTION in answer[-1]["text"], "the form's question, asked again"

        # « Non, continuer »: nothing is erased and the company is still to be confirmed.
        answer = await replies(http, stack["rasa"], sender, "/deny")
        assert any(COMPANY_QUESTION in reply.get("text", "") for reply in answer), answer
        slots = await slots_of(http, stack, sender)
        assert slots["siren"] == "552100554"
        assert slots["company_confirmed"] is None
        assert not slots["cancel_requested"]


async def test_under_an_advisor_offer_the_form_question_has_no_buttons(
    stack: dict[str, str],
) -> None:
    sender = "e2e-side-" + uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:
        await at_the_company_question(http, stack["rasa"], sender)

        answer = await replies(http, stack["rasa"], sender, "je peux parler à quelqu'un ?")
        assert titles(answer) == [
            "Oui, parler à un conseiller",
            "Non, je continue avec l'assistant",
        ]
        assert COMPANY_QUESTION in answer[-1]["text"]

        # « Non, je continue avec l'assistant », then the company's own buttons are back.
        answer = await replies(http, stack["rasa"], sender, "/deny")
        assert titles(answer)[-2:] == ["Oui, c'est bien elle", "Non"], answer
        answer = await replies(http, stack["rasa"], sender, "/affirm")
        assert (await slots_of(http, stack, sender))["company_confirmed"] is True
        assert "civilité" in " ".join(reply.get("text", "") for reply in answer)
