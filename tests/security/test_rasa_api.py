"""Rasa's HTTP API always needs the token; CORS does not open it to the widget's origin."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.security.helpers import Stack, Victims

WRONG = {"Authorization": "Bearer not-the-token"}
NONE: dict[str, str] = {}


def calls(victim: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", f"/conversations/{victim}/tracker", None),
        ("PUT", "/model", {"model_file": "/tmp/attaquant.tar.gz"}),
        ("DELETE", "/model", None),
        (
            "POST",
            f"/conversations/{victim}/tracker/events",
            {"event": "slot", "name": "professional_email", "value": "pirate@exemple.com"},
        ),
        ("POST", "/model/parse", {"text": "bonjour"}),
        ("GET", f"/conversations/{victim}/story", None),
        (
            "POST",
            f"/conversations/{victim}/trigger_intent",
            {"intent": "affirm"},
        ),
    ]


@pytest.mark.parametrize("headers", [NONE, WRONG], ids=["no-token", "wrong-token"])
@pytest.mark.parametrize("index", range(7), ids=lambda i: f"call{i}")
async def test_api_refuses_callers_without_the_token(
    stack: Stack,
    http: aiohttp.ClientSession,
    victims: Victims,
    index: int,
    headers: dict[str, str],
) -> None:
    victim = victims.ids["whatsapp"]
    before = await stack.snapshot(http, victim)
    method, path, body = calls(victim)[index]
    async with http.request(method, stack.rasa + path, json=body, headers=headers) as response:
        assert response.status == 401, f"{method} {path}: {response.status}"
        text = await response.text()
    assert "Marchetti" not in text and "professional_email" not in text
    await stack.assert_untouched(http, before)
    assert (await stack.status(http))["model_file"]


@pytest.mark.parametrize("path", ["/conversations/x/tracker", "/model", "/model/parse", "/status"])
async def test_cors_preflight_from_the_widget_origin_is_not_allowed_on_the_api(
    stack: Stack, http: aiohttp.ClientSession, path: str
) -> None:
    headers = {
        "Origin": stack.web,
        "Access-Control-Request-Method": "PUT" if path == "/model" else "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with http.options(stack.rasa + path, headers=headers) as response:
        assert "Access-Control-Allow-Origin" not in response.headers, path


async def test_cors_still_allows_the_widget_on_the_rest_channel(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    headers = {
        "Origin": stack.web,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with http.options(stack.rasa + "/webhooks/rest/webhook", headers=headers) as response:
        assert response.headers.get("Access-Control-Allow-Origin") == stack.web
