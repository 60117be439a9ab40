"""The agent console through nginx: an advisor logs in on the public entry, finds the
handoff a person asked for, reads the conversation (the web process reaches Rasa's API
on nginx's loopback server, RASA_API_URL) and answers it; the person reads the answer."""

from __future__ import annotations

import os
import subprocess

import aiohttp

from tests.deploy.conftest import PROD, ROOT, Topology, https_client
from tests.deploy.conversation import Conversation

PASSWORD = "Un mot de passe assez long 2026"


async def test_an_advisor_reads_and_answers_a_conversation_through_nginx(
    topology: Topology,
) -> None:
    login = "claire" + os.urandom(3).hex()
    created = subprocess.run(
        [str(PROD), "bot", "agents", "create", login, "--name", "Claire Martin",
         "--password-stdin"],
        input=PASSWORD + "\n", cwd=ROOT, env=topology.env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr[-2000:]

    # unsafe=True: keep the cookies of an IP address (127.0.0.1), as browsers do.
    async with https_client(aiohttp.CookieJar(unsafe=True)) as advisor:
        # Logged in first: with no advisor logged in, a request is a ticket, not queued.
        origin = {"Origin": topology.public_base_url}
        async with advisor.post(
            f"{topology.base}/agent/login",
            data={"login": login, "password": PASSWORD, "next": ""},
            headers=origin, allow_redirects=False,
        ) as response:  # fmt: skip
            assert response.status == 303, await response.text()

        async with topology.session() as http:
            person = Conversation(http, topology.base, "deploy-console-" + os.urandom(4).hex())
            await person.answer("bonjour", "Bonjour")
            await person.answer("je voudrais parler à un conseiller s'il vous plaît", "conseiller")
            await person.answer("oui volontiers", "Je transmets votre demande à un conseiller")
        async with advisor.get(f"{topology.base}/agent/api/queue") as response:
            assert response.status == 200
            queue = await response.json()
        # The newest handoff waiting for an advisor: this person's.
        waiting = sorted(queue["waiting"], key=lambda handoff: handoff["created_at"])
        assert waiting, queue
        reference = waiting[-1]["id"]

        async with advisor.get(f"{topology.base}/agent/api/handoffs/{reference}") as response:
            assert response.status == 200
            detail = await response.json()
        assert detail["transcript_error"] is None
        said = [message["text"] for message in detail["transcript"]]
        assert any("conseiller s'il vous plaît" in text for text in said), said

        async with advisor.post(
            f"{topology.base}/agent/api/handoffs/{reference}/take", json={}, headers=origin
        ) as response:
            assert response.status == 200, await response.text()
        async with advisor.post(
            f"{topology.base}/agent/api/handoffs/{reference}/reply",
            json={"text": "Bonjour, je suis Claire : je regarde votre dossier."},
            headers=origin,
        ) as response:
            assert response.status == 200, await response.text()

    async with (
        topology.session() as http,
        http.get(
            f"http://127.0.0.1:{topology.ports['api']}/conversations/"
            f"{person.conversation_id}/tracker",
            params={"token": topology.env["RASA_TOKEN"]},
        ) as response,
    ):
        tracker = await response.json()
    bot_texts = [e.get("text") for e in tracker["events"] if e["event"] == "bot"]
    assert "Bonjour, je suis Claire : je regarde votre dossier." in bot_texts
