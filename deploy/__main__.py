"""`scripts/prod`: the launcher of the production topology (see `deploy/__init__.py`).

scripts/prod [run]           check, render, prepare the databases, exec supervisord
scripts/prod check           check the configuration only (exit 78 on a refusal)
scripts/prod roll [NAME…]    rolling restart of the Rasa replicas (all by default)
scripts/prod ctl ARGS…       supervisorctl ARGS on the running topology
scripts/prod bot ARGS…       python -m bot ARGS with the topology's environment
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from deploy import postgres, render, roll
from deploy.topology import ROOT, ConfigurationError, Topology, load

EX_CONFIG = 78


def fail(lines: list[str], status: int = EX_CONFIG) -> int:
    for line in lines:
        print(f"scripts/prod: {line}", file=sys.stderr)
    return status


def refusals(topology: Topology) -> list[str]:
    """What stops the launcher before anything starts."""
    if topology.production and topology.would_refuse:
        return [
            "production mode (APP_ENV=production) refuses to start on these settings:",
            *(f"  - {line}" for line in topology.would_refuse),
        ]
    if not topology.model.exists():
        return [f"no trained model at {topology.model}: run `make train` (make prod does)"]
    return []


def already_running(topology: Topology) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(topology.run_dir / "supervisor.sock"))
        except OSError:
            return False
    return True


def announce(topology: Topology, starting: bool = True) -> None:
    if topology.production:
        print("Production mode (APP_ENV=production): the configuration was checked.")
    else:
        print(
            "Local trial (APP_ENV is not production): nginx listens on 127.0.0.1 only; "
            "secrets missing from the environment are generated into "
            f"{topology.secrets_dir}, e-mails go to {topology.env.get('OUTBOX_DIR')}."
        )
        if topology.would_refuse:
            print("A production run (APP_ENV=production) would refuse:")
            for line in topology.would_refuse:
                print(f"  - {line}")
    for notice in topology.notices:
        print(notice)
    if not starting:
        print("The configuration is complete.")
        return
    replicas = ", ".join(f"{r.name} 127.0.0.1:{r.port}" for r in topology.replicas)
    tls = f", https on port {topology.tls_port}" if topology.tls_cert else ""
    print(
        f"Starting: nginx on {topology.public_host}:{topology.public_port}{tls} "
        f"({topology.public_base_url}), Rasa's API for the web process on "
        f"127.0.0.1:{topology.api_port}; {replicas}; actions 127.0.0.1:{topology.actions_port}; "
        f"web 127.0.0.1:{topology.web_port}"
        + (f"; PostgreSQL 127.0.0.1:{topology.postgres.port}" if topology.postgres else "")
        + (f"; Redis 127.0.0.1:{topology.redis_port}" if topology.redis_port else "")
        + f". Logs: {topology.log_dir}/. Ctrl+C stops everything.",
        flush=True,
    )


def migrate(topology: Topology) -> None:
    done = subprocess.run(
        [render.PYTHON, "-m", "bot", "migrate"], cwd=ROOT, env=topology.env, capture_output=True,
        text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise postgres.PostgresError(f"python -m bot migrate failed:\n{done.stderr[-3000:]}")


def run(topology: Topology) -> int:
    if already_running(topology):
        return fail(
            [f"the topology of {topology.prod_dir} is already running (scripts/prod ctl)"], 1
        )
    announce(topology)
    render.render_all(topology)
    try:
        with postgres.running_for_setup(topology):
            migrate(topology)
    except postgres.PostgresError as error:
        return fail(str(error).splitlines(), 1)
    supervisord = str(Path(render.PYTHON).with_name("supervisord"))
    os.execve(supervisord, [supervisord, "-c", str(topology.supervisord_conf)], topology.env)
    return 0  # not reached


def main(argv: list[str]) -> int:
    action, arguments = (argv[0], argv[1:]) if argv else ("run", [])
    if action not in ("run", "check", "roll", "ctl", "bot"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        topology = load(generate=action in ("run", "check"))
    except ConfigurationError as error:
        return fail(error.lines)
    if action in ("run", "check") and (lines := refusals(topology)):
        return fail(lines)
    if action == "check":
        announce(topology, starting=False)
        return 0
    if action == "run":
        return run(topology)
    if action == "roll":
        try:
            roll.roll(topology, arguments or None)
        except (roll.RollError, KeyError) as error:
            return fail([f"roll: {error}"], 1)
        return 0
    if action == "ctl":
        return roll.supervisorctl(topology, *arguments, capture=False).returncode
    command = [render.PYTHON, "-m", "bot", *arguments]
    return subprocess.run(command, cwd=ROOT, env=topology.env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
