"""The rolling restart: `scripts/prod roll` replaces the Rasa replicas one at a time.

For each replica in turn (after all of them answer):

1. it is taken out of nginx's upstreams (`down` in var/prod/nginx/upstreams.conf, then
   `nginx -s reload`): new requests go to the others, while nginx's old workers finish
   the requests they had sent it;
2. its turns in progress end: the launcher waits until no connection to its port is left
   (`DRAIN_SECONDS` at most; a socket.io connection is closed by nginx's old workers
   after `worker_shutdown_timeout`, and the widget reconnects to another replica);
3. `supervisorctl restart` stops it (SIGTERM) and starts it again: it loads the model
   file and the code as they are now;
4. once its `/status` answers with a model (Rasa binds its port only when the model is
   loaded), it is put back into the upstreams, and the next replica follows.

With one replica out at a time, nginx always has one to send a turn to, and no turn is
ever sent to a replica that is stopping.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from deploy.program import tcp_sockets
from deploy.render import NGINX, PYTHON, write_upstreams
from deploy.topology import LOOPBACK, Replica, Topology

SUPERVISORCTL = str(Path(PYTHON).with_name("supervisorctl"))
DRAIN_SECONDS = 60
# How long a restarted replica may take to load its model (1 to 3 minutes on 2 free cores).
READY_SECONDS = float(os.environ.get("ROLL_READY_SECONDS", "") or 900)
ESTABLISHED = "01"


class RollError(Exception):
    pass


def say(line: str) -> None:
    print(f"roll: {line}", flush=True)


def supervisorctl(
    topology: Topology, *args: str, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [SUPERVISORCTL, "-c", str(topology.supervisord_conf), *args]
    return subprocess.run(command, capture_output=capture, text=True)


def nginx_workers(topology: Topology) -> set[int]:
    """The processes of nginx's master (its workers, the old ones still finishing)."""
    try:
        master = (topology.run_dir / "nginx.pid").read_text().strip()
    except OSError:
        return set()
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == master:
                children.add(int(entry.name))
    return children


def reload_nginx(topology: Topology, timeout: float = 15) -> None:
    """Reload nginx's configuration and return once its new workers run: from then on the
    old ones accept no new request."""
    before = nginx_workers(topology)
    done = subprocess.run(
        [NGINX, "-c", str(topology.nginx_conf), "-p", f"{topology.nginx_dir}/", "-s", "reload"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RollError(f"nginx -s reload failed: {done.stderr.strip()}")
    deadline = time.monotonic() + timeout
    while not nginx_workers(topology) - before:
        if time.monotonic() > deadline:
            raise RollError(f"nginx started no new worker {timeout:.0f} s after a reload")
        time.sleep(0.1)
    time.sleep(0.5)  # the master signals the old workers right after starting the new ones


def connections_to(port: int) -> int:
    """Established TCP connections whose local port is `port` (Rasa's side of them)."""
    return sum(state == ESTABLISHED for state, _ in tcp_sockets(port))


def ready(replica: Replica, token: str) -> bool:
    """Whether the replica's /status answers with a loaded model."""
    url = f"http://{LOOPBACK}:{replica.port}/status?" + urlencode({"token": token})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = json.load(response)
    except (OSError, ValueError):
        return False
    return bool(status.get("model_id")) and bool(status.get("model_file"))


def wait_ready(replica: Replica, token: str, timeout: float = READY_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not ready(replica, token):
        if time.monotonic() > deadline:
            raise RollError(f"{replica.name} has not loaded its model after {timeout:.0f} s")
        time.sleep(1)


def drain(replica: Replica, timeout: float = DRAIN_SECONDS) -> int:
    """Wait until no connection to the replica is left; how many were left at the end."""
    deadline = time.monotonic() + timeout
    while (left := connections_to(replica.port)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def roll(topology: Topology, names: list[str] | None = None) -> None:
    token = topology.env["RASA_TOKEN"]
    replicas = [topology.replica(name) for name in names] if names else topology.replicas
    if len(topology.replicas) < 2:
        raise RollError("a rolling restart needs two replicas at least (RASA_PORTS)")
    state = supervisorctl(topology, "status")
    if state.returncode not in (0, 3):  # 3: some program is not running
        raise RollError(f"supervisord does not answer: is `make prod` running?\n{state.stdout}")
    say("waiting for every replica to answer before taking one out")
    for replica in topology.replicas:
        wait_ready(replica, token)
    try:
        for replica in replicas:
            say(f"{replica.name}: out of nginx's upstreams")
            write_upstreams(topology, down=[replica.name])
            reload_nginx(topology)
            left = drain(replica)
            if left:
                say(f"{replica.name}: {left} connection(s) still open after {DRAIN_SECONDS} s")
            say(f"{replica.name}: restarting")
            restarted = supervisorctl(topology, "restart", replica.name)
            if restarted.returncode != 0:
                raise RollError(f"supervisorctl restart {replica.name}: {restarted.stdout}")
            started = time.monotonic()
            wait_ready(replica, token)
            say(f"{replica.name}: model loaded in {time.monotonic() - started:.0f} s; back in")
            write_upstreams(topology)
            reload_nginx(topology)
    except BaseException:
        # Whatever happened, no replica stays out of nginx's upstreams.
        write_upstreams(topology)
        reload_nginx(topology)
        raise
    say("done: every replica runs the current model and code")
