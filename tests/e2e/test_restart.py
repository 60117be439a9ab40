"""Stopping every process mid-registration loses nothing: the form resumes where it was."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.e2e.chat import say, slots_of
from tests.e2e.conftest import running_stack


async def test_a_restart_mid_form_loses_no_answer(tmp_path: Path) -> None:
    sender = "e2e-restart"
    with running_stack(tmp_path) as stack:
        async with aiohttp.ClientSession() as http:
            await say(http, stack["rasa"], sender, "je souhaite créer mon espace client")
            await say(http, stack["rasa"], sender, "siren 552100554 et contrat AB123456")
            answer = await say(http, stack["rasa"], sender, "oui")
    assert "civilité" in answer

    with running_stack(tmp_path) as stack:
        async with aiohttp.ClientSession() as http:
            answer = await say(http, stack["rasa"], sender, "Monsieur")
            assert "nom de famille" in answer, "the form resumed at the next question"
            slots = await slots_of(http, stack, sender)
    assert slots["siren"] == "552100554"
    assert slots["company_name"] == "Maison Démo Industries SA"
    assert slots["civility"] == "M."
