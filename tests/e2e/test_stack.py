"""`make run`'s Procfile brings up the three processes, and the assistant answers."""

from __future__ import annotations

from pathlib import Path

import aiohttp


async def test_three_processes_answer_their_health_checks(stack: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        status = stack["rasa"] + "/status"
        async with http.get(status, params={"token": stack["rasa_token"]}) as response:
            assert (await response.json())["model_file"].endswith("current.tar.gz")
        async with http.get(stack["web"] + "/") as response:
            page = await response.text()
            assert "Créer mon espace client entreprise" in page
            assert stack["rasa"] in page, "the page talks to this stack's Rasa server"


async def test_the_assistant_greets_in_french(stack: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            stack["rasa"] + "/webhooks/rest/webhook", json={"sender": "e2e-1", "message": "bonjour"}
        ) as response:
            replies = await response.json()
    assert replies, "the assistant said nothing"
    assert "Bonjour" in replies[0]["text"]
    assert "espace client" in replies[0]["text"]


async def test_logs_are_prefixed_by_process(stack: dict[str, str]) -> None:
    prefixes = {
        line.split("|")[0].split()[-1]
        for line in Path(stack["log"]).read_text().splitlines()
        if "|" in line
    }
    assert {"web.1", "actions.1", "rasa.1"} <= prefixes
