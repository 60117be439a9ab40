"""The whole stack, started from the Procfile as `make run` does, on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot import local_secrets
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
STARTUP_TIMEOUT = 600
SESSION_EVENTS = 30


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One stack for the session's tests, each using its own conversation ids."""
    with running_stack(tmp_path_factory.mktemp("stack")) as urls:
        yield urls


def stack_environment(
    tmp: Path, ports: Mapping[str, int], extra_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of the Procfile's processes on `ports` (`WEB_PORT`, `RASA_PORT`,
    `ACTIONS_PORT`), with their data, tokens and tracker store in `tmp`."""
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{ports['ACTIONS_PORT']}/webhook\n"
        "tracker_store:\n  type: channels.tracker_store.ErasingSQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {tmp / 'tracker.db'}\n"
        # A new session every few turns (endpoints.yml: 80 events), so that every test
        # of a conversation crosses several (channels/sessions.py).
        f"  max_session_events: {SESSION_EVENTS}\n"
    )
    return {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "RASA_ENDPOINTS": str(endpoints),
        "DATABASE_URL": f"sqlite:///{tmp / 'accounts.db'}",
        "TRACKER_DATABASE_URL": f"sqlite:///{tmp / 'tracker.db'}",
        "OUTBOX_DIR": str(tmp / "outbox"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['WEB_PORT']}",
        "RASA_URL": f"http://127.0.0.1:{ports['RASA_PORT']}",
        "ACCOUNT_SERVICE_URL": f"http://127.0.0.1:{ports['WEB_PORT']}",
        "ACCOUNT_API_TOKENS": "e2e-token",
        "ACCOUNT_API_TOKEN": "e2e-token",
        # Advisors are on duty whatever the time: a handoff is queued while one is logged in
        # to the console (a ticket otherwise).
        "ADVISOR_OPENING_HOURS": "mon-sun 00:00-24:00",
        "ADVISOR_HOLIDAYS": "none",
        # The queue is checked every second (a ticket once nobody can answer).
        "HANDOFF_QUEUE_POLL_SECONDS": "1",
        # Every test of the session uploads from 127.0.0.1: one address, like a big NAT.
        "UPLOAD_MAX_PER_ADDRESS": "1000",
        # The stack's own generated tokens (Rasa's API, the action server), not var/'s.
        "RASA_TOKEN_FILE": str(tmp / "secrets" / "rasa-api-token"),
        "ACTION_SERVER_TOKEN_FILE": str(tmp / "secrets" / "action-server-token"),
        **(extra_env or {}),
    }


@contextmanager
def running_stack(
    tmp: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """The Procfile's three processes on free ports, keeping their data in `tmp`;
    `extra_env` adds or overrides environment variables (a channel's settings…)."""
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` first (make test does)")
    ports = {"WEB_PORT": free_port(), "RASA_PORT": free_port(), "ACTIONS_PORT": free_port()}
    env = stack_environment(tmp, ports, extra_env)
    rasa_token = env.get(local_secrets.RASA_TOKEN_VARIABLE, "").strip() or (
        local_secrets.read_or_create(Path(env["RASA_TOKEN_FILE"]))
    )
    log = (tmp / "honcho.log").open("w")
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/honcho"), "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    urls = {
        "web": f"http://127.0.0.1:{ports['WEB_PORT']}",
        "rasa": f"http://127.0.0.1:{ports['RASA_PORT']}",
        "actions": f"http://127.0.0.1:{ports['ACTIONS_PORT']}",
        "log": str(tmp / "honcho.log"),
        "outbox": str(tmp / "outbox"),
        "accounts_db": str(tmp / "accounts.db"),
        "tracker_db": str(tmp / "tracker.db"),
        "rasa_token": rasa_token,
    }
    try:
        _wait_until_ready(urls, process)
        yield urls
    finally:
        try:
            stop(process)
        finally:
            log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop honcho's process group, which may already be gone (honcho exited early)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_ready(urls: dict[str, str], process: subprocess.Popen[bytes]) -> None:
    """Poll each health check in turn (blocking: callers may run inside an event loop)."""
    status = urls["rasa"] + "/status?" + urlencode({"token": urls["rasa_token"]})
    probes = [urls["web"] + "/health", urls["actions"] + "/health", status]
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while probes:
        if process.poll() is not None:
            raise RuntimeError(f"honcho exited early; see {urls['log']}")
        if time.monotonic() > deadline:
            waiting = [probe.split("?")[0] for probe in probes]  # never the token
            raise TimeoutError(f"not ready: {waiting}; see {urls['log']}")
        try:
            with urllib.request.urlopen(probes[0], timeout=5) as response:
                if response.status == 200:
                    probes.pop(0)
                    continue
        except OSError:
            pass
        time.sleep(1)
