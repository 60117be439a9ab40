"""`make run`'s watcher (`bot/ready.py`, the Procfile's `ready` entry), read in the honcho
log of the session's stack: it says the assistant is ready only once Rasa answers, then
says when a process stops answering and when it is back, and keeps running."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

READY = "ready.1"
RASA_UP = "Rasa server is up and running"
STOPPED = "*** the action server (actions.1) STOPPED ANSWERING"
BACK = "the action server (actions.1) answers again."
# The watcher sees a stopped process after FAILURES probes of TIMEOUT seconds, at most
# WATCH_INTERVAL apart (bot/ready.py).
REPORT_TIMEOUT = 60.0


def log_lines(stack: dict[str, str]) -> list[tuple[str, str]]:
    """The honcho log as (process, text) pairs; "system" is honcho's own."""
    lines = []
    for line in Path(stack["log"]).read_text(errors="replace").splitlines():
        prefix, separator, text = line.partition(" | ")
        if separator:
            lines.append((prefix.split()[-1], text.strip()))
    return lines


def index_of(lines: list[tuple[str, str]], process: str, text: str) -> int:
    for index, (name, said) in enumerate(lines):
        if name == process and text in said:
            return index
    raise AssertionError(f"no {process} line with {text!r}")


def wait_for_line(stack: dict[str, str], process: str, text: str, after: int) -> int:
    deadline = time.monotonic() + REPORT_TIMEOUT
    while time.monotonic() < deadline:
        lines = log_lines(stack)
        for index in range(after, len(lines)):
            if lines[index][0] == process and text in lines[index][1]:
                return index
        time.sleep(0.5)
    raise AssertionError(f"{process} never said {text!r}")


def test_the_ready_line_comes_once_rasa_answers(stack: dict[str, str]) -> None:
    # The fixture may see the stack answer a round of probes before the watcher does.
    wait_for_line(stack, READY, "The assistant is ready (after", 0)
    lines = log_lines(stack)
    ready = [
        index
        for index, (name, text) in enumerate(lines)
        if name == READY and text.startswith("The assistant is ready (after")
    ]
    assert len(ready) == 1, "said once"
    assert lines[ready[0]][1].endswith(f"open {stack['web']}/")
    # Rasa logs that it is up just before it starts listening: the web process and the
    # action server answer a long time before.
    assert index_of(lines, "rasa.1", RASA_UP) < ready[0]
    assert index_of(lines, READY, "Rasa (rasa.1) answers") < ready[0]
    assert index_of(lines, READY, "the web process (web.1) answers") < ready[0]
    assert index_of(lines, READY, "the action server (actions.1) answers") < ready[0]
    assert stack["rasa_token"] not in Path(stack["log"]).read_text()


def test_a_process_that_stops_answering_is_reported_and_its_return_too(
    stack: dict[str, str],
) -> None:
    started = re.search(r"actions\.1 started \(pid=(\d+)\)", Path(stack["log"]).read_text())
    assert started, "honcho logs each process's pid"
    group = int(started.group(1))  # honcho starts each process in a session of its own
    after = len(log_lines(stack))
    os.killpg(group, signal.SIGSTOP)  # hung: honcho sees nothing, only the watcher can tell
    try:
        stopped = wait_for_line(stack, READY, STOPPED, after)
    finally:
        os.killpg(group, signal.SIGCONT)
    back = wait_for_line(stack, READY, BACK, stopped)
    wait_for_line(stack, READY, "The assistant is ready again", back)
    assert not [text for name, text in log_lines(stack) if name == "system" and "stopped" in text]
