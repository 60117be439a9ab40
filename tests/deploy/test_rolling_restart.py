"""`scripts/prod roll` while people register: each Rasa replica is taken out of nginx,
drained, restarted and put back in turn, and no turn is dropped: every message gets its
normal answer (never « indisponible »), and the tracker store holds them all, in order."""

from __future__ import annotations

import asyncio
import subprocess

from deploy.topology import UNAVAILABLE_TEXT
from tests.deploy.conftest import PROD, ROOT, Topology
from tests.deploy.conversation import Conversation, first_steps

PAUSE = 0.5  # between two messages of a person
# Up to the job title: the e-mail check is throttled per client address (30 in 15 minutes),
# and every conversation of the tests comes from 127.0.0.1.
STEPS = 9


async def test_a_rolling_restart_during_conversations_drops_no_turn(topology: Topology) -> None:
    for name in topology.replicas:
        topology.wait_replica(name)
    pids = {name: topology.pid(name) for name in topology.replicas}
    before = len(topology.upstream_log())
    roll = await asyncio.create_subprocess_exec(
        str(PROD), "roll", cwd=ROOT, env=topology.env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    rolled = asyncio.create_task(roll.communicate())
    people: list[Conversation] = []
    async with topology.session() as http:
        while not rolled.done():
            person = Conversation(http, topology.base, f"deploy-roll-{len(people)}")
            people.append(person)
            for sent, expected in first_steps(f"roll{len(people)}")[:STEPS]:
                answer = "\n".join(await person.send(sent))
                assert UNAVAILABLE_TEXT not in answer, f"dropped during the roll: {sent!r}"
                assert expected in answer, f"after {sent!r} the assistant said {answer!r}"
                await asyncio.sleep(PAUSE)
    output = (await rolled)[0].decode()
    print(f"\n{output}turns during the roll: {sum(len(p.said) for p in people)}")
    assert roll.returncode == 0, output
    for name in topology.replicas:
        assert f"{name}: model loaded" in output
        assert topology.pid(name) != pids[name], f"{name} was not restarted"
        assert topology.replica_ready(name)
    for person in people:
        assert topology.user_texts(person.conversation_id) == person.said
    served = [line for line in topology.upstream_log()[before:] if line["route"] == "rest"]
    assert all(line["upstream_status"] == "200" for line in served), served
    # Both replicas served turns during the roll, each while the other was out.
    assert {line["upstream"] for line in served} == {
        f"127.0.0.1:{port}" for port in topology.replicas.values()
    }
