"""Where a turn's time goes: py-spy on the stack as `make bench` starts it.

`python -m bench.profile` (py-spy is not a project dependency: install it anywhere, e.g.
`python3 -m venv /tmp/pyspy && /tmp/pyspy/bin/pip install py-spy`, and pass
`--py-spy /tmp/pyspy/bin/py-spy`). It starts web, actions and rasa alone, one after
the other, records the Rasa server's cold start, then `--users` simulated registrations
for `--seconds` (Rasa and action servers recorded), then one long conversation (its
first 40 turns and the 40 up to `--long-turns` recorded apart). Profiles are py-spy's
raw collapsed stacks (`*.txt`: open them in https://www.speedscope.app or feed them to
flamegraph.pl); `summary.md` puts each sample of the Rasa server in a bucket (tracker
store, NLU, policies, action server call…) with its share and milliseconds per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bench.config import ROOT
from bench.load import (
    DIGRESSIONS,
    SIREN_QUESTION,
    Conversation,
    Project,
    RunResult,
    _session,
    run_users,
)
from bench.stack import PROJECT_MODEL, project_stack, tree_cpu, tree_rss

RATE = 50  # samples per second
# A sample goes to the first bucket whose test matches its whole stack (outermost first).
BUCKETS: list[tuple[str, Callable[[str], bool]]] = [
    (
        "action-server response validation (jsonschema.validate, schema re-checked each call)",
        lambda s: "jsonschema/" in s,
    ),
    (
        "tracker store: retrieve (SQL, json.loads, replay of every event of the session)",
        lambda s: "tracker_store.py" in s and "retrieve" in s,
    ),
    ("tracker store: save (count query, inserts, commit)", lambda s: "tracker_store.py" in s),
    (
        "NLU: classifier and entity extractor (logistic regression, CRF)",
        lambda s: (
            "parse_message" in s
            and ("logistic_regression_classifier.py" in s or "entity_extractor.py" in s)
        ),
    ),
    ("NLU: tokenizer, featurizers, other", lambda s: "parse_message" in s),
    ("RulePolicy (states of the whole history)", lambda s: "rule_policy.py" in s),
    ("MemoizationPolicy (states of the whole history)", lambda s: "memoization.py" in s),
    ("policy graph, other (dask, ensemble)", lambda s: "rasa/engine/" in s),
    (
        "action server call (whole tracker JSON-encoded, HTTP; no keep-alive)",
        lambda s: "rasa/utils/endpoints.py" in s,
    ),
    ("forms and actions in Rasa, other", lambda s: "rasa/core/actions/" in s),
    ("tracker events (apply, applied_events)", lambda s: "trackers.py" in s or "events.py" in s),
    ("processor, other", lambda s: "rasa/core/processor.py" in s),
    (
        "event loop and HTTP (sanic; idle waits on the action server included)",
        lambda s: "sanic/" in s,
    ),
]

COLD_START_BUCKETS: list[tuple[str, Callable[[str], bool]]] = [
    ("model load: other (archive, graph, other components)", lambda s: "load_agent" in s),
    ("imports (TensorFlow, scikit-learn, SQLAlchemy…)", lambda s: "importlib._bootstrap" in s),
]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class Profiler:
    """py-spy recordings into `out`, and a log of what was measured under what load."""

    def __init__(self, py_spy: str, out: Path) -> None:
        self.py_spy, self.out = py_spy, out
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} (load average {load_average()}) {text}"
        print(line, flush=True)
        self.lines.append(line)

    def record(self, pid: int, name: str, seconds: int = 600) -> subprocess.Popen[bytes]:
        """py-spy in raw (collapsed) format, without pausing the process."""
        command = [self.py_spy, "record", "--nonblocking", "-r", str(RATE), "-d", str(seconds)]
        command += ["-p", str(pid), "-f", "raw", "-o", str(self.out / f"{name}.txt")]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @staticmethod
    def stop(*recorders: subprocess.Popen[bytes]) -> None:
        """SIGINT: py-spy writes its file and exits."""
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            recorder.wait()


def buckets(
    path: Path, turns: int | None, rules: list[tuple[str, Callable[[str], bool]]] = BUCKETS
) -> list[str]:
    """The Markdown table of one Rasa profile: share and ms per turn of each bucket
    (the main thread's time while not idle: on a busy machine, waits for a CPU too)."""
    counts: Counter[str] = Counter()
    total = truncated = 0
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack:
            continue
        count = int(number)
        total += count
        truncated += 0 if stack.startswith("<module>") else count
        name = next((name for name, test in rules if test(stack)), None)
        counts[name or "other: " + re.sub(r" \(.*", "", stack.split(";")[-1])] += count
    if not total:
        return [f"{path.name}: no samples", ""]
    rows, rest = [], 0
    for name, count in counts.most_common():
        if name.startswith("other: ") and count / total < 0.01:
            rest += count
            continue
        rows.append((name, count))
    rows.append(("other (each under 1 %)", rest))
    per_turn = "ms per turn" if turns else "seconds"
    lines = [
        f"`{path.name}`: {total} samples at {RATE} Hz"
        + (f", {turns} turns" if turns else "")
        + f"; {truncated / total:.0%} of stacks cut by py-spy (bucketed by the frames kept).",
        "",
        f"| where | share | {per_turn} |",
        "|---|---|---|",
    ]
    for name, count in rows:
        ms = f"{count * 1000 / RATE / turns:.0f}" if turns else f"{count / RATE:.1f}"
        lines.append(f"| {name} | {count / total:.1%} | {ms} |")
    if turns:
        lines.append(f"| total | 100% | {total * 1000 / RATE / turns:.0f} |")
    return [*lines, ""]


async def users_for(project: Project, users: int, seconds: float, first: int) -> RunResult:
    """`users` users registering one after another until `seconds` have passed."""
    result = RunResult(users=users)
    deadline = time.monotonic() + seconds
    indexes = iter(range(first, first + 1_000_000))

    async def user() -> None:
        while time.monotonic() < deadline:
            await project.converse(next(indexes), result)

    started = time.monotonic()
    await asyncio.gather(*(user() for _ in range(users)))
    result.wall_s = time.monotonic() - started
    return result


async def profile(args: argparse.Namespace) -> None:
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    (out / "run" / "logs").mkdir(parents=True)
    spy = Profiler(args.py_spy, out)
    stack = project_stack(out / "run", args.model)
    turn_counts: dict[str, int] = {}
    rasa, actions = stack.processes["rasa"], stack.processes["actions"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        try:
            for name in ("web", "actions"):
                spy.note(f"{name} ready in {await stack.processes[name].start(http):.1f} s")
            rasa.spawn()
            await asyncio.sleep(0.5)  # the shell has exec'ed Python
            assert rasa.popen is not None and actions.popen is not None
            cold = spy.record(rasa.popen.pid, "rasa-cold-start")
            spy.note(f"rasa ready in {await rasa.wait_ready(http):.1f} s (py-spy from 0.5 s)")
            spy.stop(cold)
            pid = rasa.popen.pid
            project = Project(stack.rasa, stack.web, "profile")
            warm = await run_users(project, 1, 1, iter(range(1_000_000)).__next__)
            if warm.errors:
                raise RuntimeError(f"warm-up failed: {warm.errors}")

            recorders = [
                spy.record(pid, "rasa-load"),
                spy.record(actions.popen.pid, "actions-load"),
            ]
            cpu, turns = tree_cpu(pid), project.turns_sent
            result = await users_for(project, args.users, args.seconds, 1000)
            spy.stop(*recorders)
            turn_counts["rasa-load"] = project.turns_sent - turns
            figures = result.summary()
            spy.note(
                f"{args.users} users for {result.wall_s:.0f} s: {turn_counts['rasa-load']} turns, "
                f"{figures['turns_per_s']:.1f} turns/s, p50 {figures['p50_ms']:.0f} ms, "
                f"p95 {figures['p95_ms']:.0f} ms, {figures['errors']} errors; Rasa CPU "
                f"{(tree_cpu(pid) - cpu) * 1000 / turn_counts['rasa-load']:.0f} ms per turn"
            )

            late = args.long_turns
            windows = {"rasa-long-early": (2, 42), "rasa-long-late": (late - 39, late + 1)}
            timings: list[float] = []
            async with _session(999_999) as session:
                chat = Conversation(session, stack.rasa, "profile-long", timings)
                await chat.say("bonjour, je voudrais créer mon espace client", SIREN_QUESTION)
                recorder, cpu = None, 0.0
                for turn in range(2, late + 2):
                    for name, (start, end) in windows.items():
                        if turn == start:
                            recorder, cpu = spy.record(pid, name), tree_cpu(pid)
                        elif turn == end and recorder is not None:
                            spy.stop(recorder)
                            turn_counts[name] = end - start
                            mean = sum(timings[start - 1 : end - 1]) / (end - start) * 1000
                            used = (tree_cpu(pid) - cpu) * 1000 / (end - start)
                            spy.note(
                                f"long conversation, turns {start}-{end - 1}: {mean:.0f} ms "
                                f"per turn, Rasa CPU {used:.0f} ms per turn"
                            )
                    await chat.say(DIGRESSIONS[turn % len(DIGRESSIONS)], SIREN_QUESTION)
            spy.note(f"Rasa server RSS {tree_rss(pid) / 1e6:.0f} MB")
        finally:
            stack.stop()
    summary = ["# Profile", "", *(f"    {line}" for line in spy.lines), ""]
    for name in ("rasa-load", "rasa-long-early", "rasa-long-late", "rasa-cold-start"):
        rules = COLD_START_BUCKETS if name == "rasa-cold-start" else BUCKETS
        if (out / f"{name}.txt").exists():
            path = out / f"{name}.txt"
            summary += [f"## {name}", "", *buckets(path, turn_counts.get(name), rules)]
    (out / "summary.md").write_text("\n".join(summary))
    print(f"Profiles and summary.md in {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--long-turns", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "profile")
    parser.add_argument("--model", type=Path, default=PROJECT_MODEL)
    args = parser.parse_args(argv)
    if not Path(args.py_spy).exists() and not shutil.which(args.py_spy):
        parser.error(f"py-spy not found ({args.py_spy}): see --help")
    if args.long_turns < 81:
        parser.error("--long-turns: at least 81 (two windows of 40 turns apart)")
    print(f"Model: {args.model}")
    asyncio.run(profile(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
