"""Trackers built from a few events, the real domain, and the real account service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients import account_service as client_module
from actions.clients.account_service import AccountServiceClient
from tests.conftest import API_TOKEN, Service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def user(
    text: str,
    intent: str = "inform",
    entities: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A user message as NLU parsed it; `entities` maps entity names to values, each
    found at its place in `text` when it is there as typed."""
    found = []
    for name, value in (entities or {}).items():
        entity: dict[str, Any] = {"entity": name, "value": value}
        start = text.find(value) if isinstance(value, str) else -1
        if start >= 0:
            entity.update(start=start, end=start + len(value))
        found.append(entity)
    parsed = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": found,
        "metadata": metadata or {},
    }
    return {"event": "user", "text": text, "parse_data": parsed}


def slot(name: str, value: Any) -> dict[str, Any]:
    return SlotSet(name, value)


def tracker(*events: dict[str, Any], sender: str = "conv-test") -> Tracker:
    """A tracker whose slots and latest message follow from `events`."""
    slots: dict[str, Any] = {}
    latest: dict[str, Any] = {}
    for event in events:
        if event["event"] == "slot":
            slots[event["name"]] = event["value"]
        elif event["event"] == "user":
            latest = event["parse_data"]
    return Tracker(
        sender,
        slots,
        latest,
        list(events),
        False,
        None,
        {"name": "registration_form"},
        "action_listen",
    )


def said(dispatcher: CollectingDispatcher) -> list[str]:
    """What the bot says: texts, and response names for domain responses."""
    return [message.get("text") or message.get("response") for message in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.fixture
async def live_client(service: Service) -> AsyncIterator[AccountServiceClient]:
    """The actions' process-wide client, pointed at the account service on loopback."""
    client = AccountServiceClient(service.base_url, API_TOKEN, timeout=2, backoff=0.01)
    previous, client_module._client = client_module._client, client
    yield client
    client_module._client = previous
    await client.close()


@pytest.fixture
async def unreachable_client() -> AsyncIterator[AccountServiceClient]:
    """The actions' client pointed at a closed port: every call fails after its retries."""
    client = AccountServiceClient("http://127.0.0.1:9", "token", timeout=0.5, retries=1, backoff=0)
    previous, client_module._client = client_module._client, client
    yield client
    client_module._client = previous
    await client.close()
