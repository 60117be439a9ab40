"""`GET /metrics` of the action server (`python -m actions.server`), counting the calls
Rasa makes to `/webhook`; and its JSON logs, which never carry a tracker's value."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actions.metrics import REFUSAL_REASONS
from bot.identifiers import new_web_conversation_id
from tests.actions.conftest import slot, user
from tests.bot.payloads import DEMO_COMPANY, DEMO_CONTRACT, DEMO_SIREN
from tests.conftest import API_TOKEN, MovableClock, Service, free_port, start_service
from tests.corpus import build_corpus
from tests.e2e.chat import upload

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-action-server-token"
FORM = "registration_form"
SECRET = "Lefèvre-Ségolène-0612345678"  # personal data that must never be logged


@dataclass
class ActionServer:
    url: str
    service_port: int  # where the server expects the account service
    stderr: Path

    def logged(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    """The action server as in production: JSON logs, the account service on a port that
    the tests that need it start a real one on."""
    tmp = tmp_path_factory.mktemp("actions-metrics")
    port, service_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("APP_ENV", "LOG_LEVEL")},
        "ACTION_SERVER_TOKEN": TOKEN,
        "ACCOUNT_SERVICE_URL": f"http://127.0.0.1:{service_port}",
        "ACCOUNT_API_TOKEN": API_TOKEN,
        "LOG_FORMAT": "json",
        "VAR_DIR": str(tmp / "var"),
        "PYTHONWARNINGS": "ignore",
    }
    stderr = tmp / "actions.stderr"
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "actions.server", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    running = ActionServer(f"http://127.0.0.1:{port}", service_port, stderr)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, running.logged()
            try:
                with urllib.request.urlopen(running.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, running.logged()
            time.sleep(0.3)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def account_service(
    server: ActionServer, clock: MovableClock, tmp_path: Path
) -> AsyncIterator[Service]:
    """The real account service, where the action server calls it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    async with start_service(url, clock, tmp_path, port=server.service_port) as service:
        yield service


def action(name: str | None) -> dict[str, Any]:
    return {"event": "action", "name": name}


def loop(name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "name": name}


def call(name: str, *events: dict[str, Any], sender: str, domain: dict) -> dict[str, Any]:
    """What Rasa sends to run `name` on a tracker made of `events`."""
    slots: dict[str, Any] = {}
    latest: dict[str, Any] = {}
    active: dict[str, Any] = {}
    for event in events:
        if event["event"] == "slot":
            slots[event["name"]] = event["value"]
        elif event["event"] == "user":
            latest = event["parse_data"]
        elif event["event"] == "active_loop":
            active = {"name": event["name"]} if event["name"] else {}
    return {
        "next_action": name,
        "sender_id": sender,
        "version": "3.6.21",
        "domain": domain,
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": latest,
            "events": list(events),
            "paused": False,
            "followup_action": None,
            "active_loop": active,
            "latest_action_name": "action_listen",
        },
    }


def form_turn(*before: dict[str, Any], message: dict[str, Any], candidates=()) -> list:
    """The tracker Rasa sends to validate a message in the form: the history, the
    message, the form's own `action` event, then the slots extracted from the message."""
    return [loop(FORM), *before, action("action_listen"), message, action(FORM), *candidates]


async def run(
    http: aiohttp.ClientSession, server: ActionServer, body: dict[str, Any]
) -> dict[str, Any]:
    async with http.post(
        server.url + "/webhook", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as answer:
        result = await answer.json()
        assert answer.status == 200, result
    return result


def set_slots(result: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}


async def scrape(http: aiohttp.ClientSession, server: ActionServer) -> dict:
    async with http.get(server.url + "/metrics") as answer:  # no token: open like /health
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await answer.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_are_open_and_every_step_starts_at_zero(
    server: ActionServer, http: aiohttp.ClientSession
) -> None:
    scraped = await scrape(http, server)
    steps = {labels for name, labels in scraped if name.endswith("steps_completed_total")}
    assert steps == {
        (("step", step),) for step in ("company", "personal", "professional", "document", "consent")
    }
    assert ("assistant_registrations_started_total", ()) in scraped
    async with http.get(server.url + "/actions") as answer:
        assert answer.status == 401, "the other routes still need the token"


async def test_each_call_is_timed_by_action_and_unknown_names_are_not_labels(
    server: ActionServer, http: aiohttp.ClientSession, domain: dict
) -> None:
    before = await scrape(http, server)
    await run(http, server, call("action_offer_handoff", sender="conv-m-time", domain=domain))
    body = call("action_made_up_by_a_caller", sender="conv-m-time", domain=domain)
    async with http.post(
        server.url + "/webhook", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as answer:
        assert answer.status == 404
    after = await scrape(http, server)

    name = "assistant_action_duration_seconds_count"
    for label in ("action_offer_handoff", "unknown"):
        assert value(after, name, action=label) == value(before, name, action=label) + 1
    assert not any("action_made_up" in str(labels) for _, labels in after)
    total = value(after, "assistant_action_duration_seconds_sum", action="action_offer_handoff")
    assert 0 < total < 5


async def test_a_registration_starts_once_per_conversation(
    server: ActionServer, http: aiohttp.ClientSession, domain: dict
) -> None:
    start = user("je veux créer mon espace client", "start_registration")
    sender = "conv-m-start"
    turns = [
        # The activation: Rasa sends the form's entry after the message.
        [start, loop(FORM), slot("requested_slot", None), action(FORM)],
        # The same turn validated again once activated (nothing was pre-filled).
        [start, slot("requested_slot", None), action(FORM)],
        # The next message, in the form.
        form_turn(
            start,
            action(FORM),
            slot("requested_slot", "siren"),
            message=user("je ne sais pas", "inform"),
        ),
        # After a cancel, the form entered again: not a new registration.
        [
            start,
            action(FORM),
            loop(FORM),
            action("action_cancel_registration"),
            loop(None),
            user("je veux recommencer", "start_registration"),
            loop(FORM),
            slot("requested_slot", None),
            action(FORM),
        ],
    ]
    before = await scrape(http, server)
    for events in turns:
        await run(
            http, server, call("validate_registration_form", *events, sender=sender, domain=domain)
        )
    after = await scrape(http, server)
    name = "assistant_registrations_started_total"
    assert value(after, name) == value(before, name) + 1


STEPS = [
    (
        "company",
        "company_confirmed",
        [slot("siren", DEMO_SIREN), slot("contract_number", DEMO_CONTRACT)],
        user("oui", "affirm"),
        [],
        True,
    ),
    (
        "personal",
        "mobile_phone",
        [slot("birth_date", "1984-03-12")],
        user("06 12 34 56 78", entities={"phone": "06 12 34 56 78"}),
        [slot("mobile_phone", "06 12 34 56 78")],
        "+33612345678",
    ),
    (
        "professional",
        "professional_phone",
        [slot("professional_email", "emilie.lefevre@exemple-industries.fr")],
        user("01 42 68 53 00", entities={"phone": "01 42 68 53 00"}),
        [slot("professional_phone", "01 42 68 53 00")],
        "+33142685300",
    ),
    ("consent", "cgu_accepted", [slot("id_document", ["doc_x"])], user("oui", "affirm"), [], True),
]


@pytest.mark.parametrize(
    ("step", "last_slot", "history", "message", "candidates", "accepted"),
    STEPS,
    ids=[step[0] for step in STEPS],
)
async def test_a_step_is_completed_once_when_its_last_answer_is_accepted(
    server: ActionServer,
    http: aiohttp.ClientSession,
    domain: dict,
    step: str,
    last_slot: str,
    history: list,
    message: dict,
    candidates: list,
    accepted: Any,
) -> None:
    sender = f"conv-m-step-{step}"
    asked = slot("requested_slot", last_slot)
    first = form_turn(*history, asked, message=message, candidates=candidates)
    # The same answer given again later (a correction at the summary): the form had
    # accepted it in an earlier turn, so the step is not completed twice.
    earlier = [action(FORM), slot(last_slot, accepted), slot("requested_slot", None)]
    again = form_turn(*history, *earlier, asked, message=message, candidates=candidates)

    before = await scrape(http, server)
    result = await run(
        http, server, call("validate_registration_form", *first, sender=sender, domain=domain)
    )
    assert set_slots(result)[last_slot] == accepted
    middle = await scrape(http, server)
    result = await run(
        http, server, call("validate_registration_form", *again, sender=sender, domain=domain)
    )
    assert set_slots(result)[last_slot] == accepted
    after = await scrape(http, server)

    name = "assistant_registration_steps_completed_total"
    assert value(middle, name, step=step) == value(before, name, step=step) + 1
    assert value(after, name, step=step) == value(middle, name, step=step)
    calls = "assistant_action_duration_seconds_count"
    label = {"action": "validate_registration_form"}
    assert value(after, calls, **label) == value(before, calls, **label) + 2


async def test_a_document_step_completes_with_the_real_account_service(
    server: ActionServer, http: aiohttp.ClientSession, domain: dict, account_service: Service
) -> None:
    sender = new_web_conversation_id()
    status, attachment = await upload(
        http, account_service.base_url, sender, build_corpus()["png_scan"]
    )
    assert status == 201, attachment
    events = form_turn(
        slot("id_document_type", "passport"),
        slot("id_document_country", "FR"),
        slot("requested_slot", "id_document"),
        message=user("/send_document", "send_document", metadata={"attachments": [attachment]}),
    )
    before = await scrape(http, server)
    result = await run(
        http, server, call("validate_registration_form", *events, sender=sender, domain=domain)
    )
    [reference] = set_slots(result)["id_document"]
    assert reference.startswith("doc_")
    after = await scrape(http, server)
    name = "assistant_registration_steps_completed_total"
    assert value(after, name, step="document") == value(before, name, step="document") + 1


def contract_answer(siren: str, contract: str) -> list:
    return form_turn(
        slot("siren", siren),
        slot("requested_slot", "contract_number"),
        message=user(contract, entities={"contract_number": contract}),
        candidates=[slot("contract_number", contract)],
    )


async def test_refusals_are_counted_by_reason_never_by_value(
    server: ActionServer, http: aiohttp.ClientSession, domain: dict, account_service: Service
) -> None:
    typed_siren = "12345"
    bad_siren = form_turn(
        slot("requested_slot", "siren"),
        message=user(typed_siren),
        candidates=[slot("siren", typed_siren)],
    )
    before = await scrape(http, server)
    result = await run(
        http,
        server,
        call("validate_registration_form", *bad_siren, sender="conv-m-refusal", domain=domain),
    )
    assert set_slots(result)["siren"] is None
    unknown = contract_answer(DEMO_SIREN, "ZZ999999")
    result = await run(
        http,
        server,
        call("validate_registration_form", *unknown, sender="conv-m-refusal", domain=domain),
    )
    assert set_slots(result)["company_name"] is None
    known = contract_answer(DEMO_SIREN, DEMO_CONTRACT)
    result = await run(
        http,
        server,
        call("validate_registration_form", *known, sender="conv-m-refusal", domain=domain),
    )
    assert set_slots(result)["company_name"] == DEMO_COMPANY

    async with http.get(server.url + "/metrics") as answer:
        text = await answer.text()
    after = await scrape(http, server)
    name = "assistant_refusals_total"
    for reason, more in (("invalid_siren", 1), ("company_not_verified", 1), ("other", 0)):
        assert value(after, name, reason=reason) == value(before, name, reason=reason) + more
    assert typed_siren not in text and "ZZ999999" not in text
    reasons = {dict(labels)["reason"] for sample, labels in after if sample == name + "_total"}
    assert reasons <= REFUSAL_REASONS


async def test_an_outage_is_a_refusal_and_an_unrecorded_handoff_is_not_counted(
    server: ActionServer, http: aiohttp.ClientSession, domain: dict
) -> None:
    """Nobody listens where the account service should be."""
    before = await scrape(http, server)
    outage = contract_answer(DEMO_SIREN, DEMO_CONTRACT)
    result = await run(
        http,
        server,
        call("validate_registration_form", *outage, sender="conv-m-outage", domain=domain),
    )
    assert set_slots(result)["handoff_reason"] == "service_unavailable"
    handoff = call(
        "action_handoff",
        slot("handoff_reason", "service_unavailable"),
        sender="conv-m-outage",
        domain=domain,
    )
    assert set_slots(await run(http, server, handoff))["handoff_status"] == "unavailable"
    after = await scrape(http, server)
    reason = {"reason": "service_unavailable"}
    assert value(after, "assistant_refusals_total", **reason) == (
        value(before, "assistant_refusals_total", **reason) + 1
    )
    assert value(after, "assistant_handoffs_total", **reason) == value(
        before, "assistant_handoffs_total", **reason
    )


async def test_a_recorded_handoff_is_counted_by_reason(
    server: ActionServer, http: aiohttp.ClientSession, domain: dict, account_service: Service
) -> None:
    before = await scrape(http, server)
    body = call(
        "action_handoff",
        slot("handoff_reason", "user_request"),
        user("je veux parler à quelqu'un", "affirm"),
        sender="conv-m-handoff",
        domain=domain,
    )
    assert set_slots(await run(http, server, body))["handoff_status"] in ("queued", "ticket")
    after = await scrape(http, server)
    reason = {"reason": "user_request"}
    assert value(after, "assistant_handoffs_total", **reason) == (
        value(before, "assistant_handoffs_total", **reason) + 1
    )


async def test_json_logs_are_one_object_per_line_without_the_tracker(
    server: ActionServer, http: aiohttp.ClientSession
) -> None:
    body = call(
        "validate_registration_form",
        slot("last_name", SECRET),
        user(f"je m'appelle {SECRET}"),
        sender="conv-m-logs",
        domain={},
    )
    body["tracker"]["events"].append(42)  # the action fails on it
    async with http.post(
        server.url + "/webhook", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as answer:
        assert answer.status == 500
    await asyncio.sleep(0.3)  # the log line is written after the answer
    logged = server.logged()
    records = [json.loads(line) for line in logged.splitlines()]
    assert {record["process"] for record in records} == {"actions"}
    [failure] = [r for r in records if "action validate_registration_form failed" in r["message"]]
    assert failure["level"] == "ERROR"
    assert sum("Registered function for 'action_handoff'" in r["message"] for r in records) == 1
    assert SECRET not in logged and "je m'appelle" not in logged
