"""One benchmark run, phase after phase; each phase's failure is recorded, not fatal.

Order: train the floor bot; start the stack and the floor (cold starts); warm up;
conversation load on both, levels and repeats interleaved so that both see the same
machine; capacity with human pauses; one long conversation; the soak up to `soak_turns`
turns (memory after); stop; the account service alone; the production topology (load and
capacity through nginx); NLU reports (full run). The quick run overlaps the
floor's training, the stack's start and the account service, to finish sooner.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bench.config import ROOT, BenchConfig
from bench.load import (
    TURNS_PER_CONVERSATION,
    UPLOAD,
    Conversation,
    Floor,
    Project,
    RunResult,
    Target,
    TurnError,
    registration_script,
    run_people,
    run_users,
)
from bench.load import _session as load_session
from bench.nlu import nlu_report
from bench.people import person
from bench.report import evaluate_targets, render
from bench.service import bench_service
from bench.stack import (
    Process,
    Stack,
    floor_process,
    project_stack,
    train_floor,
    tree_cpu,
)
from bench.stack import train_project as train_project_model
from bench.stats import median, ratio
from bench.topology import REPLICAS, ProdTopology

log = logging.getLogger("bench")
LATENCY_KEYS = ("p50_ms", "p95_ms", "p99_ms")
CpuTimes = dict[str, tuple[float | None, int]]


class Run:
    """The results of one benchmark run, filled phase by phase."""

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.run_dir = config.out / "run"
        self.results: dict[str, Any] = {"meta": machine(config), "problems": []}
        self.project_index = itertools.count()
        self.floor_index = itertools.count(1_000_000)
        self.started = time.monotonic()
        self.cpu_at_start = cpu_seconds()
        self.cpu_mark: dict[str, tuple[float | None, int]] = {}
        # Readings (before, after) around other workloads, left out of the CPU per turn of
        # the registrations: the long conversation, whose turns cost more and more, and
        # the bystander phase, whose expensive images are turns no bot counts.
        self.cpu_excluded: list[tuple[CpuTimes, CpuTimes]] = []

    def finish(self) -> None:
        """Duration, and how much CPU other work on the machine took meanwhile."""
        duration = time.monotonic() - self.started
        (busy_start, own_start), (busy_end, own_end) = self.cpu_at_start, cpu_seconds()
        others = max(0.0, (busy_end - busy_start) - (own_end - own_start))
        self.results["meta"].update(
            duration_s=duration,
            load_average_at_end=os.getloadavg(),
            other_cpu_s=others,
            other_cpu_share=others / (duration * (os.cpu_count() or 1)),
        )
        self.save()

    def save(self) -> None:
        """The report and results as they stand (after each phase, and at the end)."""
        self.results["targets"] = evaluate_targets(self.results)
        write(self.config.out, self.results)

    def problem(self, text: str) -> None:
        log.error(text)
        self.results["problems"].append(text)

    async def phase(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run one phase; a crash is recorded with its traceback in the run's log."""
        log.info("phase: %s", name)
        started = time.monotonic()
        try:
            await work()
        except Exception as error:  # noqa: BLE001  (any crash of a phase is reported)
            self.problem(f"{name} crashed: {type(error).__name__}: {error}")
            _append(self.run_dir / "logs" / "bench.log", traceback.format_exc())
        log.info("phase %s: %.0f s", name, time.monotonic() - started)
        self.save()

    def check_load(self, label: str, result: RunResult, always: bool = False) -> None:
        """Load errors break the harness in a strict run, or without concurrency."""
        if result.errors and (always or self.config.strict or result.users == 1):
            self.problem(f"{label}: {len(result.errors)} errors, e.g. {result.errors[0]}")


async def run(config: BenchConfig) -> dict[str, Any]:
    """Every phase of a run; the results, also written to `config.out`."""
    current = Run(config)
    shutil.rmtree(current.run_dir, ignore_errors=True)
    (current.run_dir / "logs").mkdir(parents=True)
    stack = current.phase("stack", lambda: measure_stack(current))
    service = current.phase("account service", lambda: measure_service(current))
    if config.start_together:
        await asyncio.gather(stack, service)  # the service is measured while Rasa loads
    else:
        await stack
        await service
    if config.topology_levels or config.topology_capacity_levels:
        await current.phase("production topology", lambda: measure_topology(current))
    if config.nlu:
        await current.phase("NLU reports", lambda: measure_nlu(current))
    current.finish()
    return current.results


async def measure_stack(current: Run) -> None:
    config, results = current.config, current.results
    floor_dir = config.out / "floor"
    results["training"] = {
        "project_s": await train_project_model(current.run_dir) if config.train_project else None,
        "project_model": str(config.model),
        "project_model_bytes": config.model.stat().st_size,
    }
    stack = project_stack(current.run_dir, config.model)
    floor, floor_url = floor_process(current.run_dir, floor_dir / "floor.tar.gz")
    training = asyncio.create_task(train_floor(current.run_dir, floor_dir))
    # No keep-alive for the health checks: servers would wait for those connections to
    # close before stopping.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        try:
            if not config.start_together:
                await training  # alone, before anything starts
            await cold_starts(current, http, stack, floor, training)
            results["training"]["floor_model_bytes"] = (floor_dir / "floor.tar.gz").stat().st_size
            run_id = datetime.now().strftime("%H%M%S")
            project, base = Project(stack.rasa, stack.web, run_id), Floor(floor_url, run_id)
            await warm_up(current, stack, floor, project, base)
            pids = [p.popen.pid for p in (*stack.processes.values(), floor) if p.popen]
            await conversation_load(current, project, base, pids)
            current.results["capacity"] = await capacity(
                current, project, pids, config.capacity_levels
            )
            await long_conversation(current, stack, floor, project, base)
            await bystander(current, stack, floor, project, base)
            await soak(current, stack, floor, project, base)
            if dead := stack.dead() + ([] if floor.alive else ["floor"]):
                current.problem(f"processes died during the run: {dead}")
        finally:
            stopping = time.monotonic()
            training.cancel()
            floor.terminate()
            stack.stop()
            floor.stop()
            log.info("stack stopped in %.1f s", time.monotonic() - stopping)


async def cold_starts(
    current: Run,
    http: aiohttp.ClientSession,
    stack: Stack,
    floor: Process,
    training: asyncio.Task[float],
) -> None:
    """Start (and restart) the processes, spawn to health check OK; the floor's Rasa
    server once its model is trained, after the stack or (quick run) meanwhile."""
    repeats = current.config.cold_start_repeats
    together = current.config.start_together

    async def stack_starts() -> list[dict[str, float]]:
        runs = []
        for attempt in range(repeats):
            if attempt:
                stack.stop()
            started = await stack.start(http, together=together)
            runs.append({**started, "load_average_1min": os.getloadavg()[0]})
        return runs

    async def floor_starts() -> list[dict[str, float]]:
        current.results["training"]["floor_s"] = await training
        runs = []
        for attempt in range(repeats):
            if attempt:
                floor.stop()
            runs.append({"floor": await floor.start(http), "load_average_1min": os.getloadavg()[0]})
        return runs

    if together:
        runs, floor_runs = await all_or_none(stack_starts(), floor_starts())
    else:
        runs, floor_runs = await stack_starts(), await floor_starts()
    every = runs + floor_runs
    names = ("web", "actions", "rasa", "floor")
    current.results["cold_start"] = {
        "together": together,
        "runs": every,
        "median_s": {name: median([run.get(name) for run in every]) for name in names},
    }


async def all_or_none(*work: Awaitable[Any]) -> list[Any]:
    """Run concurrently; if one fails, cancel the others before raising."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def memory(stack: Stack, floor: Process) -> dict[str, int | None]:
    return {
        **{name: process.rss_bytes() for name, process in stack.processes.items()},
        "floor": floor.rss_bytes(),
    }


async def warm_up(
    current: Run, stack: Stack, floor: Process, project: Project, base: Floor
) -> None:
    """One conversation each, checked: if these fail, the harness or the stack is broken."""
    for target, counter in ((project, current.project_index), (base, current.floor_index)):
        result = await run_users(target, 1, 1, counter.__next__)
        current.check_load(f"warm-up ({target.name})", result, always=True)
    current.results["memory"] = {"after_warmup": memory(stack, floor)}
    current.cpu_mark = cpu_times(stack, floor, project, base)


def cpu_times(
    stack: Stack, floor: Process, project: Project, base: Floor
) -> dict[str, tuple[float | None, int]]:
    """Each process's CPU seconds so far, with the turns its bot has had so far."""
    return {
        **{
            name: (process.cpu_seconds(), project.turns_sent)
            for name, process in stack.processes.items()
        },
        "floor": (floor.cpu_seconds(), base.turns_sent),
    }


def cpu_per_turn(
    before: CpuTimes, after: CpuTimes, excluded: Sequence[tuple[CpuTimes, CpuTimes]] = ()
) -> dict[str, float | None]:
    """CPU milliseconds each process spent per turn of its bot between two readings,
    less the CPU time and turns of the `excluded` intervals between them."""
    result: dict[str, float | None] = {}
    for name, (cpu_before, turns_before) in before.items():
        cpu_after, turns_after = after[name]
        cpu_out, turns_out = 0.0, 0
        for start, end in excluded:
            (cpu_from, turns_from), (cpu_to, turns_to) = start[name], end[name]
            if cpu_from is None or cpu_to is None:
                cpu_after = None  # the process restarted or died: no figure
            else:
                cpu_out += cpu_to - cpu_from
                turns_out += turns_to - turns_from
        turns = turns_after - turns_before - turns_out
        if cpu_before is None or cpu_after is None or turns <= 0:
            result[name] = None
        else:
            result[name] = (cpu_after - cpu_before - cpu_out) * 1000 / turns
    return result


def machine_cpu(pids: list[int]) -> tuple[float, float, float]:
    """Now: the machine's busy CPU seconds, those of the processes under test (with
    their children) and of this process, and the monotonic clock."""
    own = os.times()
    ours = sum(tree_cpu(pid) for pid in pids) + own.user + own.system
    return cpu_seconds()[0], ours, time.monotonic()


def machine_share(before: tuple[float, float, float], pids: list[int]) -> dict[str, float]:
    """Since `before`: the share of the machine's CPU that other work took, and the load
    average (1 min, which counts the processes under test too)."""
    busy_before, ours_before, started = before
    busy, ours, now = machine_cpu(pids)
    others = max(0.0, (busy - busy_before) - (ours - ours_before))
    return {
        "other_cpu_share": others / (max(now - started, 1e-9) * (os.cpu_count() or 1)),
        "load_average_1min": os.getloadavg()[0],
    }


async def conversation_load(
    current: Run, project: Project, base: Floor, stack_pids: list[int]
) -> None:
    """Each level on the project then on the floor, every repeat, in one run; with each
    run, the load average and the share of the CPU other work took meanwhile."""
    config = current.config
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {"project": {}, "floor": {}}
    counters = {"project": current.project_index, "floor": current.floor_index}
    targets: tuple[Target, ...] = (project, base)
    for repeat in range(config.repeats):
        for users in config.levels:
            for target in targets:
                log.info("load: %s, %d users, repeat %d", target.name, users, repeat + 1)
                conversations = config.conversations_at(users)
                machine_before = machine_cpu(stack_pids)
                result = await run_users(
                    target, users, conversations, counters[target.name].__next__
                )
                current.check_load(f"{target.name} at {users} users", result)
                summary = {**result.summary(), **machine_share(machine_before, stack_pids)}
                runs[target.name].setdefault(users, []).append(summary)
    current.results["load"] = {
        name: {str(users): summarize(summaries) for users, summaries in levels.items()}
        for name, levels in runs.items()
    }
    current.results["load"]["ratios"] = {
        str(users): {
            key: ratio(
                current.results["load"]["project"][str(users)]["median"][key],
                current.results["load"]["floor"][str(users)]["median"][key],
            )
            for key in (*LATENCY_KEYS, "turns_per_s")
        }
        for users in config.levels
    }


async def capacity(
    current: Run, project: Project, stack_pids: list[int], levels: tuple[int, ...]
) -> dict[str, Any]:
    """People pausing as humans do between messages (`think_s`), more and more of them at
    once: the p95 per turn of each level, and the largest number served within
    `capacity_p95_ms` without an error."""
    config = current.config
    figures: dict[str, dict[str, Any]] = {}
    served = None
    project.think = config.think_s
    try:
        for people in levels:
            log.info("capacity: %d people, think time %s s", people, config.think_s)
            machine_before = machine_cpu(stack_pids)
            result = await run_people(project, people, current.project_index.__next__)
            current.check_load(f"capacity at {people} people", result)
            summary = {**result.summary(), **machine_share(machine_before, stack_pids)}
            figures[str(people)] = summary
            p95 = summary["p95_ms"]
            if summary["errors"] or p95 is None or p95 > config.capacity_p95_ms:
                break
            served = people
    finally:
        project.think = None
    return {
        "think_s": list(config.think_s),
        "p95_limit_ms": config.capacity_p95_ms,
        "levels": figures,
        "largest_served": served,
    }


async def measure_topology(current: Run) -> None:
    """`make prod`'s topology through nginx: its start, a warm-up, the conversation load
    at `topology_levels` users without pause, then capacity with human pauses; the CPU
    per turn and the memory of each of its programs."""
    config = current.config
    topology = ProdTopology(current.run_dir / "logs" / "prod")
    figures: dict[str, Any] = {"replicas": len(REPLICAS)}
    current.results["topology"] = figures
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        try:
            figures["start_s"] = await topology.start(http)
            pids = topology.pids()
            watched = list(pids.values())
            project = Project(topology.base, topology.base, datetime.now().strftime("p%H%M%S"))
            result = await run_users(project, 1, 1, current.project_index.__next__)
            current.check_load("warm-up (production topology)", result, always=True)
            figures["rss_after_warmup"] = topology.rss_bytes(pids)
            cpu_before, turns_before = topology.cpu_seconds(pids), project.turns_sent
            runs: dict[int, list[dict[str, Any]]] = {}
            for repeat in range(config.repeats):
                for users in config.topology_levels:
                    log.info("topology load: %d users, repeat %d", users, repeat + 1)
                    machine_before = machine_cpu(watched)
                    result = await run_users(
                        project, users, config.conversations_at(users),
                        current.project_index.__next__,
                    )  # fmt: skip
                    current.check_load(f"production topology at {users} users", result)
                    summary = {**result.summary(), **machine_share(machine_before, watched)}
                    runs.setdefault(users, []).append(summary)
            turns = project.turns_sent - turns_before
            cpu_after = topology.cpu_seconds(pids)
            figures["load"] = {str(users): summarize(level) for users, level in runs.items()}
            figures["cpu_per_turn_ms"] = {
                name: (cpu_after[name] - cpu_before[name]) * 1000 / turns if turns else None
                for name in pids
            }
            figures["capacity"] = await capacity(
                current, project, watched, config.topology_capacity_levels
            )
            figures["rss_after_load"] = topology.rss_bytes(pids)
            if gone := [name for name, pid in pids.items() if topology.pid(name) != pid]:
                current.problem(f"production topology: restarted during the run: {gone}")
        finally:
            stopping = time.monotonic()
            await asyncio.to_thread(topology.stop)
            log.info("production topology stopped in %.1f s", time.monotonic() - stopping)


def summarize(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the repeats, errors added up, and every repeat."""
    numbers = [
        key
        for key, value in summaries[0].items()
        if isinstance(value, (int, float)) and key != "errors"
    ]
    return {
        "median": {
            **{key: median([summary[key] for summary in summaries]) for key in numbers},
            "errors": sum(summary["errors"] for summary in summaries),
        },
        "runs": summaries,
    }


async def long_conversation(
    current: Run, stack: Stack, floor: Process, project: Project, base: Floor
) -> None:
    """Latency around turn 5 and around turn `long_turns` of conversations that last."""
    late = current.config.long_turns
    before = cpu_times(stack, floor, project, base)
    series = [
        await project.long_conversation(next(current.project_index), late + 1)
        for _ in range(current.config.long_repeats)
    ]
    after = cpu_times(stack, floor, project, base)
    current.cpu_excluded.append((before, after))
    # Turns t-1, t and t+1: one of each digression of the rotation.
    early_ms = median([s * 1000 for timings in series for s in timings[3:6]])
    late_ms = median([s * 1000 for timings in series for s in timings[late - 2 : late + 1]])
    current.results["long"] = {
        "late_turn": late,
        "repeats": len(series),
        "turn5_ms": early_ms,
        "late_ms": late_ms,
        "ratio": ratio(late_ms, early_ms),
        "series_ms": [[round(s * 1000, 1) for s in timings] for timings in series],
        "rasa_cpu_per_turn_ms": cpu_per_turn(before, after).get("rasa"),
        "load_average_at_end": os.getloadavg(),
    }


BYSTANDER_TURNS = 9


async def bystander(
    current: Run, stack: Stack, floor: Process, project: Project, base: Floor
) -> None:
    """A bystander's turns alone, then while another conversation keeps sending an
    image that is cheap to send and expensive to decode (about 40 Mpx in a few dozen KB).
    Its inspection runs in the account service's worker processes, at low priority, so
    the bystander's median should stay within 1.5x of its median alone."""
    before = cpu_times(stack, floor, project, base)
    alone = await project.long_conversation(next(current.project_index), BYSTANDER_TURNS)
    ready, stop = asyncio.Event(), asyncio.Event()
    replays: list[float] = []
    attacker = asyncio.create_task(
        replay_expensive_image(project, next(current.project_index), ready, stop, replays)
    )
    try:
        # Until the other conversation reaches the document step and sends its first image.
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([attacker, waiter], timeout=300, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        loaded = await project.long_conversation(next(current.project_index), BYSTANDER_TURNS)
    finally:
        stop.set()
        try:
            await attacker
        except (TurnError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            current.problem(f"bystander phase: the expensive images failed: {error!r}"[:300])
    current.cpu_excluded.append((before, cpu_times(stack, floor, project, base)))
    alone_ms = median([s * 1000 for s in alone[1:]])
    loaded_ms = median([s * 1000 for s in loaded[1:]])
    current.results["bystander"] = {
        "turns": BYSTANDER_TURNS - 1,
        "alone_p50_ms": alone_ms,
        "during_expensive_images_p50_ms": loaded_ms,
        "ratio": ratio(loaded_ms, alone_ms),
        "expensive_images_sent": len(replays),
        "expensive_image_turn_p50_ms": median([s * 1000 for s in replays]) if replays else None,
    }


def expensive_image() -> bytes:
    """A PNG of 6,300 x 6,300 pixels of one grey: tiny on the wire, costly to decode."""
    buffer = io.BytesIO()
    Image.new("L", (6300, 6300), 200).save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


async def replay_expensive_image(
    project: Project, index: int, ready: asyncio.Event, stop: asyncio.Event, timings: list[float]
) -> None:
    """Reach the document step, then send the expensive image again and again."""
    sender = f"bench-{project.run_id}-attacker-{index}"
    data = await asyncio.to_thread(expensive_image)
    script = registration_script(person(index))
    document_step = next(i for i, (sent, _) in enumerate(script) if sent is UPLOAD)
    async with load_session(index) as http:
        chat = Conversation(http, project.rasa, sender, [])
        for sent, expected in script[:document_step]:
            await chat.say(sent, expected)
        while not stop.is_set() and len(timings) < 25:
            form = aiohttp.FormData()
            form.add_field("sender_id", sender)
            form.add_field("file", data, filename="passeport.png", content_type="image/png")
            async with http.post(f"{project.web}/uploads", data=form) as response:
                attachment = await response.json()
            if response.status != 201:
                break  # throttled: the replay is stopped
            started = time.monotonic()
            ready.set()
            await chat.say("/send_document", "", {"attachments": [attachment]})
            timings.append(time.monotonic() - started)


async def soak(current: Run, stack: Stack, floor: Process, project: Project, base: Floor) -> None:
    """Registrations until the project's Rasa server has had `soak_turns` turns."""
    config = current.config
    results: list[dict[str, Any]] = []
    for _ in range(3):  # failing conversations end early: top up, a few times at most
        missing = config.soak_turns - project.turns_sent
        if missing <= 0:
            break
        conversations = math.ceil(missing / TURNS_PER_CONVERSATION)
        log.info("soak: %d registrations, %d users", conversations, config.soak_users)
        result = await run_users(
            project, config.soak_users, conversations, current.project_index.__next__
        )
        current.check_load("soak", result)
        results.append({**result.summary(), "load_average_1min": os.getloadavg()[0]})
    current.results["soak"] = {"users": config.soak_users, "runs": results}
    current.results["memory"]["after_soak"] = memory(stack, floor)
    current.results["memory"]["turns"] = project.turns_sent
    current.results["cpu_per_turn_ms"] = cpu_per_turn(
        current.cpu_mark, cpu_times(stack, floor, project, base), current.cpu_excluded
    )


async def measure_service(current: Run) -> None:
    current.results["service"] = await bench_service(current.run_dir, current.config)
    for backend, figures in current.results["service"].items():
        if figures["errors"]:
            current.problem(f"account service on {backend}: {figures['errors']} errors")


async def measure_nlu(current: Run) -> None:
    current.results["nlu"] = await nlu_report(
        current.run_dir / "logs" / "nlu-report.log", rerun=current.config.nlu_rerun
    )


def machine(config: BenchConfig) -> dict[str, Any]:
    """Where and when: the figures only compare within one machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "mode": config.name,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "config": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(config).items()
        },
    }


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by the whole machine (/proc/stat), and by this process
    with the children it waited for (the stack's processes once stopped)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    own = os.times()
    return busy, own.user + own.system + own.children_user + own.children_system


def _append(path: Path, text: str) -> None:
    with path.open("a") as log_file:
        log_file.write(text)


def write(out: Path, results: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(render(results))


def main(config: BenchConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    results = asyncio.run(run(config))
    print(f"Report: {config.out / 'report.md'}")
    for target in results["targets"]:
        print(f"  {target['status']:<13} {target['name']}: {target['measured_text']}")
    for problem in results["problems"]:
        print(f"  PROBLEM: {problem}")
    return 1 if results["problems"] else 0
