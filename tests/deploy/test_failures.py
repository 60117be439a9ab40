"""Each process killed with SIGKILL in the middle of a registration: a Rasa replica (in the
middle of a turn when the test catches one in flight), the action server, the web
process, nginx. supervisord restarts each; the person gets an answer to every message
(« indisponible » counts: they send the message again, as it asks); nothing they gave is
lost: the registration ends with their account, and Rasa's tracker store holds every
message Rasa received, once and in order."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp

from deploy.program import holders, listening_inodes
from tests.deploy.conftest import Topology
from tests.deploy.conversation import LAST_STEPS, Conversation, first_steps
from tests.deploy.processes import children, connected_ports, group_members

EMAIL = "emilie.kill@exemple-industries.fr"


def kill(topology: Topology, program: str) -> int:
    pid = topology.pid(program)
    assert pid, f"{program} is not running"
    os.kill(pid, signal.SIGKILL)
    return pid


def no_orphaned_nginx(topology: Topology, master: int, patience: float = 15) -> bool:
    """Whether the nginx processes that hold the topology's listening sockets are `master`
    and its workers only (soon: the workers that outlived the killed master are asked to
    finish what they were doing first)."""
    ports = (topology.ports["public"], topology.ports["tls"], topology.ports["api"])
    deadline = time.monotonic() + patience
    while True:
        holding = holders(set().union(*(listening_inodes(port) for port in ports)))
        if holding <= {master} | children(master):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


async def send_killing_its_replica(
    topology: Topology, person: Conversation, text: str, expected: str
) -> tuple[str, bool]:
    """Send `text` and kill the replica that nginx sent it to while the turn runs (if the
    turn ends first, the replica that served it is killed after); which one, and whether
    the kill caught the turn in flight."""
    ports = {port: name for name, port in topology.replicas.items()}
    workers = children(int((topology.prod_dir / "run" / "nginx.pid").read_text()))
    before = len(topology.upstream_log())
    turn = asyncio.create_task(person.send(text))
    victim = None
    while not turn.done():
        serving = connected_ports(workers) & set(ports)
        if serving:
            victim = ports[serving.pop()]
            kill(topology, victim)
            break
        await asyncio.sleep(0.002)
    answer = "\n".join(await turn)
    if victim is None:
        served = topology.upstream_log()[before:][-1]["upstream"]
        victim = ports[int(served.rsplit(":", 1)[1])]
        kill(topology, victim)
        assert expected in answer
        return victim, False
    if expected not in answer:  # nginx answered « indisponible »: the person sends it again
        await person.answer(text, expected)
    return victim, True


async def test_each_process_killed_mid_conversation_comes_back_and_nothing_is_lost(
    topology: Topology,
) -> None:
    steps = [*first_steps("kill"), *LAST_STEPS]
    timings: dict[str, float] = {}
    async with topology.session() as http:
        person = Conversation(http, topology.base, "deploy-sigkill")
        await person.answer(*steps[0])

        # A Rasa replica, while it runs the turn that checks the company (a call to the
        # account service): nginx answers « indisponible »; sent again, the other replica
        # answers once the killed one's lock on the conversation expires.
        replica_pid = {name: topology.pid(name) for name in topology.replicas}
        typed, expected = first_steps("kill")[1]  # text, not a file
        victim, in_flight = await send_killing_its_replica(topology, person, typed, expected)
        print(f"\n{victim} killed {'during' if in_flight else 'after'} a turn")
        await person.answer(*steps[2])
        topology.wait_restarted(victim, replica_pid[victim])

        # The action server: Rasa answers « indisponible » until it is back.
        started = time.monotonic()
        old = kill(topology, "actions")
        await person.answer(*steps[3], patience=180)
        topology.wait_restarted("actions", old)
        timings["actions"] = time.monotonic() - started

        # The web process (the account service): an upload meanwhile gets a French refusal
        # (nginx's), the next answer needs no account service; once restarted, nothing is
        # left of the killed process (its inspection workers).
        started = time.monotonic()
        old = kill(topology, "web")
        form = aiohttp.FormData()
        form.add_field("sender_id", person.sender)
        form.add_field("file", b"%PDF-1.4", filename="cni.pdf", content_type="application/pdf")
        async with http.post(topology.base + "/uploads", data=form) as response:
            assert response.status == 503
            refusal = await response.json()
        assert refusal["error"]["message"] == "le service d'envoi est momentanément indisponible."
        await person.answer(*steps[4])
        topology.wait_restarted("web", old)
        topology.wait_answering(f"http://127.0.0.1:{topology.ports['web']}/health")
        assert not group_members(old), "the killed web process left processes behind"
        timings["web"] = time.monotonic() - started

        # nginx's master: its orphaned worker still answers until the restarted nginx
        # stops it. The person's message may meet no server for a moment (the browser
        # sends it again, as `Conversation.send` does).
        started = time.monotonic()
        old = kill(topology, "nginx")
        await person.answer(*steps[5])
        assert no_orphaned_nginx(topology, topology.wait_restarted("nginx", old))
        timings["nginx"] = time.monotonic() - started

        for sent, expected in steps[6:]:
            await person.answer(sent, expected)

    print(f"back after: {timings}; connections tried again: {person.reconnections}")
    print(f"« indisponible » answers: {person.unavailable_count()} of {len(person.said)}")
    assert "e***l@exemple-industries.fr" in "\n".join(person.answers[-1])
    connection = topology.database("accounts")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT status, civility, last_name, first_name, birth_date::text, "
                "mobile_phone, job_title, professional_phone FROM accounts WHERE email = %s",
                (EMAIL,),
            )
            rows = cursor.fetchall()
    finally:
        connection.close()
    # Everything given before, between and after the kills is in the account.
    assert rows == [
        (
            "pending", "Mme", "Lefèvre", "Émilie", "1984-03-12", "+33612345678",
            "Directrice administrative", "+33142685300",
        )
    ]  # fmt: skip
    assert topology.user_texts(person.conversation_id) == person.reached_rasa()
    # The killed replica was restarted (above); it loads its model again, as a rolling
    # restart shows, while the session ends.
