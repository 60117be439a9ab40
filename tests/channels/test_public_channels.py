"""What the public web channels let an attacker do (issue 13): name another channel's
conversation, call Rasa's API without its token, call it from a browser page, or write
into another socket.io session."""

from __future__ import annotations

import aiohttp

from bot.identifiers import WEB_CONVERSATION_ID, new_web_conversation_id, web_conversation_id
from tests.browser.test_socketio_channel import socketio
from tests.channels.providers import FakeProviders
from tests.channels.users import WhatsAppUser


async def _tracker(http: aiohttp.ClientSession, stack: dict[str, str], conversation: str) -> dict:
    url = f"{stack['rasa']}/conversations/{conversation}/tracker"
    async with http.get(url, params={"token": stack["rasa_token"]}) as response:
        assert response.status == 200
        return dict(await response.json())


def _user_texts(tracker: dict) -> list[str]:
    return [event.get("text") for event in tracker["events"] if event["event"] == "user"]


async def test_a_rest_sender_naming_a_whatsapp_number_stays_in_the_web_channel(
    channel_stack: dict[str, str], fake: FakeProviders
) -> None:
    number = "whatsapp:+33600000201"
    async with aiohttp.ClientSession() as http:
        whatsapp = WhatsAppUser(http, channel_stack["rasa"], fake, number)
        await whatsapp.say("bonjour, je voudrais créer mon espace client")
        before = _user_texts(await _tracker(http, channel_stack, number))
        body = {"sender": number, "message": "SIREN 552 100 554, contrat AB123456"}
        async with http.post(
            f"{channel_stack['rasa']}/webhooks/rest/webhook", json=body
        ) as response:
            assert response.status == 200
            answers = await response.json()
        assert answers and {answer["recipient_id"] for answer in answers} == {
            web_conversation_id(number)
        }
        assert WEB_CONVERSATION_ID.fullmatch(answers[0]["recipient_id"])
        assert _user_texts(await _tracker(http, channel_stack, number)) == before
    assert all("Maison Démo" not in sent.text for sent in whatsapp.received())


async def test_the_rest_channel_refuses_malformed_messages_in_french(
    channel_stack: dict[str, str],
) -> None:
    url = f"{channel_stack['rasa']}/webhooks/rest/webhook"
    async with aiohttp.ClientSession() as http:
        for body in (
            {"sender": 42, "message": "bonjour"},
            {"sender": "x" * 129, "message": "bonjour"},
            {"sender": "user-empty", "message": ""},
            ["pas", "un", "objet"],
        ):
            async with http.post(url, json=body) as response:
                assert response.status == 400
                error = (await response.json())["error"]
            assert error["message"].startswith(("Le ", "L’", "L'")), error


async def test_the_client_cannot_choose_its_channel_nor_its_address(
    channel_stack: dict[str, str],
) -> None:
    sender = "rest-forged-address"
    body = {
        "sender": sender,
        "message": "bonjour",
        "input_channel": "twilio",
        "metadata": {"client_address": "203.0.113.9", "langue": "fr"},
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{channel_stack['rasa']}/webhooks/rest/webhook",
            json=body,
            headers={"X-Forwarded-For": "198.51.100.7"},
        ) as response:
            assert response.status == 200
        tracker = await _tracker(http, channel_stack, web_conversation_id(sender))
    latest = tracker["latest_message"]
    assert latest["metadata"] == {"client_address": "127.0.0.1", "langue": "fr"}
    assert tracker["latest_input_channel"] == "rest"


async def test_rasa_api_answers_401_without_its_token(channel_stack: dict[str, str]) -> None:
    rasa = channel_stack["rasa"]
    async with aiohttp.ClientSession() as http:
        for method, path in (
            ("GET", f"/conversations/{new_web_conversation_id()}/tracker"),
            ("GET", "/status"),
            ("PUT", "/model"),
            ("DELETE", "/model"),
        ):
            for params in ({}, {"token": "not-the-token"}):
                async with http.request(method, rasa + path, params=params, json={}) as response:
                    assert response.status == 401, (method, path, params)
        async with http.get(rasa + "/status", params={"token": channel_stack["rasa_token"]}) as ok:
            assert ok.status == 200


async def test_cors_covers_the_chat_channels_only(channel_stack: dict[str, str]) -> None:
    rasa, origin = channel_stack["rasa"], channel_stack["web"]
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "content-type",
    }
    async with aiohttp.ClientSession() as http:
        async with http.options(f"{rasa}/conversations/x/tracker", headers=preflight) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
        async with http.get(f"{rasa}/status", headers={"Origin": origin}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
        post = {**preflight, "Access-Control-Request-Method": "POST"}
        async with http.options(f"{rasa}/webhooks/rest/webhook", headers=post) as response:
            assert response.headers.get("Access-Control-Allow-Origin") == origin


async def test_a_socketio_message_lands_in_the_sockets_own_session(
    channel_stack: dict[str, str],
) -> None:
    mine, victim = new_web_conversation_id(), new_web_conversation_id()
    async with socketio(channel_stack["rasa"]) as client:
        # Without a confirmed session, a message goes nowhere.
        await client.emit("user_uttered", {"message": "bonjour", "session_id": victim})
        await client.emit("session_request", {"session_id": mine})
        assert await client.receive("session_confirm") == mine
        await client.emit(
            "user_uttered",
            {"message": "bonjour", "session_id": victim, "metadata": {"client_address": "::1"}},
        )
        assert "Bonjour" in (await client.receive("bot_uttered"))["text"]
    async with aiohttp.ClientSession() as http:
        assert _user_texts(await _tracker(http, channel_stack, victim)) == []
        tracker = await _tracker(http, channel_stack, mine)
    assert _user_texts(tracker) == ["bonjour"]
    assert tracker["latest_message"]["metadata"] == {"client_address": "127.0.0.1"}
    assert tracker["latest_input_channel"] == "socketio"
