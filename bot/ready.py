"""`make run`'s watcher (the Procfile's `ready` entry): says when the assistant is ready,
and when one of its processes stops answering.

    .venv/bin/python -m bot.ready

It polls the web process's `/health`, the action server's `/health` and Rasa's `/status`
(with Rasa's API token, `bot.local_secrets.rasa_token()`), on the Procfile's ports
(`WEB_PORT`, `ACTIONS_HOST`/`ACTIONS_PORT`, `RASA_PORT`). It prints one line when all three
answer ("… ready: open http://localhost:8000/"), then keeps watching: a process that fails
`FAILURES` probes in a row is reported as stopped answering (hung, stopped, restarting),
and again when it answers. It never exits on its own, since honcho stops every process
as soon as one exits; when honcho stops it (Ctrl+C, or a process that exited), it says
where to look. Nothing but the three addresses (without the token) is printed.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass
from types import FrameType
from urllib.parse import urlencode

from bot.local_secrets import rasa_token

INTERVAL = 2.0  # seconds between two rounds of probes, until the assistant is ready
WATCH_INTERVAL = 5.0  # then (each probe of the web process is a line of its access log)
TIMEOUT = 5.0  # seconds a probe waits for its answer
FAILURES = 2  # failed probes in a row before a process is reported as not answering
REMINDER = 60.0  # seconds between two "still waiting" lines before the first ready


@dataclass
class Probe:
    """One process's health check, and what the watcher last saw of it."""

    label: str  # as people call it, e.g. "Rasa"
    process: str  # honcho's name, as the log lines' prefix
    url: str  # without any token: printed
    needs_token: bool = False
    up: bool | None = None  # None until it first answers
    failures: int = 0

    def answers(self) -> bool:
        url = self.url
        if self.needs_token:
            try:
                url += "?" + urlencode({"token": rasa_token()})
            except OSError:
                return False
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                return bool(response.status == 200)
        except (OSError, http.client.HTTPException):
            return False


def probes_from(env: dict[str, str]) -> list[Probe]:
    """The three processes, on the ports the Procfile gives them."""
    web_host = _reachable(env.get("WEB_HOST", "127.0.0.1"))
    actions_host = _reachable(env.get("ACTIONS_HOST", "127.0.0.1"))
    web_port = env.get("WEB_PORT", "8000")
    actions_port = env.get("ACTIONS_PORT", "5055")
    rasa_port = env.get("RASA_PORT", "5005")
    return [
        Probe("the web process", "web.1", f"http://{web_host}:{web_port}/health"),
        Probe("the action server", "actions.1", f"http://{actions_host}:{actions_port}/health"),
        Probe("Rasa", "rasa.1", f"http://127.0.0.1:{rasa_port}/status", needs_token=True),
    ]


def _reachable(host: str) -> str:
    """A host to probe a server bound to `host`: loopback for the wildcard addresses."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def public_url(env: dict[str, str]) -> str:
    """Where people open the assistant, as the web process says it (PUBLIC_BASE_URL)."""
    base = env.get("PUBLIC_BASE_URL") or f"http://localhost:{env.get('WEB_PORT', '8000')}"
    return base.rstrip("/") + "/"


def say(line: str) -> None:
    print(line, flush=True)


def names(probes: list[Probe]) -> str:
    labels = [probe.label for probe in probes]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def watch(probes: list[Probe], url: str) -> None:
    """Probe forever, printing the changes."""
    started = reminded = time.monotonic()
    announced = was_ready = False
    say(f"Waiting for {names(probes)} to answer (Rasa loads its model first: about 2 minutes)...")
    while True:
        for probe in probes:
            if probe.answers():
                probe.failures = 0
                if probe.up is None:
                    elapsed = time.monotonic() - started
                    say(f"{probe.label} ({probe.process}) answers, after {elapsed:.0f} s.")
                elif not probe.up:
                    say(f"{probe.label} ({probe.process}) answers again.")
                probe.up = True
            else:
                probe.failures += 1
                if probe.up and probe.failures >= FAILURES:
                    probe.up = False
                    say(
                        f"*** {probe.label} ({probe.process}) STOPPED ANSWERING at {probe.url}: "
                        f"the assistant cannot work without it. See the {probe.process} lines."
                    )
        ready = all(probe.up for probe in probes)
        now = time.monotonic()
        if ready and not was_ready:
            if announced:
                say(f"The assistant is ready again: open {url}")
            else:
                say(f"The assistant is ready (after {now - started:.0f} s): open {url}")
                announced = True
        elif not ready and not announced and now - reminded >= REMINDER:
            reminded = now
            waiting = names([probe for probe in probes if not probe.up])
            say(f"Still waiting for {waiting}, after {now - started:.0f} s...")
        was_ready = ready
        time.sleep(WATCH_INTERVAL if announced else INTERVAL)


def stop(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGTERM:
        say(
            "Stopping. Without a Ctrl+C, a process exited: honcho's first "
            "'stopped (rc=...)' line above names it, and honcho stops all the others."
        )
    sys.exit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    env = dict(os.environ)
    watch(probes_from(env), public_url(env))


if __name__ == "__main__":
    main()
