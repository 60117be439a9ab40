"""A whole registration through nginx over REST: the account in PostgreSQL, the e-mail
sent by SMTP, the turns of the conversation shared by both Rasa replicas and kept in
order, none lost, in the PostgreSQL tracker store (the Redis lock store serialises them),
and the web process's /metrics counting it."""

from __future__ import annotations

import asyncio
import urllib.request
from collections import Counter
from dataclasses import dataclass

import pytest

from tests.deploy.conftest import Topology
from tests.deploy.conversation import LAST_STEPS, Conversation, first_steps

EMAIL = "emilie.rest@exemple-industries.fr"


@dataclass
class Registration:
    person: Conversation
    upstreams: list[str]  # the replica that answered each turn, from nginx's log


@pytest.fixture(scope="module")
def registration(topology: Topology) -> Registration:
    """The registration, done once for the module's tests (the only REST traffic then)."""
    before = len(topology.upstream_log())

    async def register() -> Conversation:
        async with topology.session() as http:
            person = Conversation(http, topology.base, "deploy-registration")
            for sent, expected in [*first_steps("rest"), *LAST_STEPS]:
                await person.answer(sent, expected, patience=0)
            return person

    # A loop of its own, which leaves the tests' loop alone (asyncio.run would unset it).
    loop = asyncio.new_event_loop()
    try:
        person = loop.run_until_complete(register())
    finally:
        loop.close()
    rest = [line for line in topology.upstream_log()[before:] if line["route"] == "rest"]
    # The replica that answered: the last one tried (nginx tries another one only when
    # it could not connect).
    return Registration(person, [line["upstream"].split(", ")[-1] for line in rest])


async def test_a_full_registration_through_nginx_over_rest(
    topology: Topology, registration: Registration
) -> None:
    assert "e***t@exemple-industries.fr" in "\n".join(registration.person.answers[-1])
    connection = topology.database("accounts")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT login, status, siren FROM accounts WHERE email = %s", (EMAIL,))
            rows = cursor.fetchall()
    finally:
        connection.close()
    assert len(rows) == 1
    login, status, siren = rows[0]
    assert (status, siren) == ("pending", "552100554")
    (message,) = topology.inbox.to(EMAIL)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert login in text
    assert f"{topology.public_base_url}/activate/" in text


async def test_its_turns_went_to_both_replicas_in_order_none_lost(
    topology: Topology, registration: Registration
) -> None:
    person = registration.person
    served = Counter(registration.upstreams)
    assert sum(served.values()) == len(person.said), served
    replicas = {f"127.0.0.1:{port}" for port in topology.replicas.values()}
    assert set(served) == replicas, served
    # Every message reached Rasa once, in the order sent, whichever replica took it.
    assert person.reached_rasa() == person.said
    assert topology.user_texts(person.conversation_id) == person.said


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def sample_value(text: str, name: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    ]
    return sum(values)


async def test_the_web_process_metrics_count_the_registration(
    topology: Topology, registration: Registration
) -> None:
    assert registration.person.said
    assert sample_value(metrics(topology.ports["web"]), "assistant_accounts_created_total") >= 1
