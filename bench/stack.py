"""The processes under test: the Procfile's three, the floor's Rasa server, and training.

Each process is spawned alone from its Procfile line (as honcho runs it, with
`/bin/sh -c`) on a free loopback port, with its data in the run's folder, so that its
cold start (spawn to health check OK) and its memory (RSS of its process tree) can be
read one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml
from cryptography.fernet import Fernet

from bench.config import ROOT

BIN = ROOT / ".venv" / "bin"
PROJECT_MODEL = ROOT / "models" / "current.tar.gz"
FLOOR_SOURCES = ROOT / "bench" / "floor"
READY_TIMEOUT = 300
STOP_GRACE = 5  # `python -m bot serve` takes a minute to exit on SIGTERM
API_TOKEN = "bench-token"
# The project's tracker store as endpoints.yml sets it (its class, its session bound), on
# the run's own SQLite file; the floor keeps Rasa's own store.
PROJECT_TRACKER_STORE: dict[str, object] = yaml.safe_load((ROOT / "endpoints.yml").read_text())[
    "tracker_store"
]
# Rasa's API always needs a token (channels/server.py): the probes of `/status` send it.
RASA_TOKEN = secrets.token_urlsafe(32)
QUIET = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore",
    "TQDM_DISABLE": "1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def procfile_commands(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """The Procfile's command lines by process name, each run with `exec` after its
    variable assignments: the shell becomes the server, so that its pid is the server's
    (stopping waits for the server itself, whose CPU time then counts as the bench's)."""
    commands = {}
    for line in path.read_text().splitlines():
        name, separator, command = line.partition(":")
        if separator and name.strip() and not name.startswith("#"):
            assignments, program = _LEADING_ASSIGNMENTS.match(command.strip()).groups()  # type: ignore[union-attr]
            commands[name.strip()] = f"{assignments}exec {program}"
    return commands


_LEADING_ASSIGNMENTS = re.compile(r"((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)(.*)", re.DOTALL)


def base_env() -> dict[str, str]:
    """This environment without the caller's Rasa API token (each stack sets its own)."""
    env = {**os.environ, **QUIET}
    env.pop("RASA_TOKEN", None)
    return env


@dataclass
class Process:
    """One server process: spawned, probed until healthy, measured, stopped."""

    name: str
    command: str
    probe: str
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    spawned_at: float = 0.0

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.spawned_at = time.monotonic()
            self.popen = subprocess.Popen(
                ["/bin/sh", "-c", self.command],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    async def start(self, http: aiohttp.ClientSession) -> float:
        """Spawn, then wait for the health check; the cold start in seconds."""
        self.spawn()
        return await self.wait_ready(http)

    async def wait_ready(self, http: aiohttp.ClientSession) -> float:
        """Poll the health check until it answers 200; seconds since the spawn."""
        deadline = self.spawned_at + READY_TIMEOUT
        while True:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited while starting; see {self.log_path}")
            if await healthy(http, self.probe):
                return time.monotonic() - self.spawned_at
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready in {READY_TIMEOUT} s: {self.log_path}")
            await asyncio.sleep(0.1)

    def rss_bytes(self) -> int | None:
        """Resident memory of the process and its children, from /proc."""
        if not self.alive or self.popen is None:
            return None
        return tree_rss(self.popen.pid)

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by the process and its children."""
        if not self.alive or self.popen is None:
            return None
        return tree_cpu(self.popen.pid)

    def terminate(self) -> None:
        """SIGTERM to the process group (the server and anything it started)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if self.popen is None:
            return
        self.terminate()
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        self.popen = None


async def healthy(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def tree_rss(root: int) -> int:
    """The summed VmRSS, in bytes, of `root` and all its descendants."""
    total = 0
    for pid in descendants(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def tree_cpu(root: int) -> float:
    """CPU seconds (user and system) used so far by `root` and all its descendants."""
    ticks = 0
    for pid in descendants(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Stack:
    """The Procfile's three processes (web, actions, rasa), in their start order."""

    processes: dict[str, Process]
    web: str
    rasa: str
    accounts_db: Path

    async def start(self, http: aiohttp.ClientSession, together: bool = False) -> dict[str, float]:
        """Start each process once the previous one is healthy, or all at once as honcho
        does (`together`: quicker, but they compete for the CPU); cold starts by name."""
        if not together:
            return {name: await process.start(http) for name, process in self.processes.items()}
        for process in self.processes.values():
            process.spawn()
        seconds = await asyncio.gather(*(p.wait_ready(http) for p in self.processes.values()))
        return dict(zip(self.processes, seconds, strict=True))

    def stop(self) -> None:
        """Signal every process, then wait for each."""
        for process in self.processes.values():
            process.terminate()
        for process in reversed(self.processes.values()):
            process.stop()

    def dead(self) -> list[str]:
        return [name for name, process in self.processes.items() if not process.alive]


def project_stack(run_dir: Path, model: Path = PROJECT_MODEL) -> Stack:
    """The stack on free ports, keeping its databases, outbox and keys in `run_dir`."""
    ports = {"WEB_PORT": free_port(), "RASA_PORT": free_port(), "ACTIONS_PORT": free_port()}
    web, rasa, actions = (
        f"http://127.0.0.1:{ports[name]}" for name in ("WEB_PORT", "RASA_PORT", "ACTIONS_PORT")
    )
    endpoints = run_dir / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: {actions}/webhook\n"
        + _tracker_store(run_dir / "tracker.db", PROJECT_TRACKER_STORE)
    )
    env = {
        **base_env(),
        **{name: str(port) for name, port in ports.items()},
        "RASA_MODEL": str(model),
        "RASA_ENDPOINTS": str(endpoints),
        "VAR_DIR": str(run_dir),
        "DATABASE_URL": f"sqlite:///{run_dir / 'accounts.db'}",
        "TRACKER_DATABASE_URL": f"sqlite:///{run_dir / 'tracker.db'}",
        "OUTBOX_DIR": str(run_dir / "outbox"),
        "DOCUMENT_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_BASE_URL": web,
        "RASA_URL": rasa,
        "ACCOUNT_SERVICE_URL": web,
        "ACCOUNT_API_TOKENS": API_TOKEN,
        "ACCOUNT_API_TOKEN": API_TOKEN,
        "RASA_TOKEN": RASA_TOKEN,
    }
    commands = procfile_commands()
    status = f"{rasa}/status?token={RASA_TOKEN}"
    probes = {"web": f"{web}/health", "actions": f"{actions}/health", "rasa": status}
    processes = {
        name: Process(name, commands[name], probes[name], env, run_dir / "logs" / f"{name}.log")
        for name in ("web", "actions", "rasa")
    }
    return Stack(processes, web=web, rasa=rasa, accounts_db=run_dir / "accounts.db")


def floor_process(run_dir: Path, model: Path) -> tuple[Process, str]:
    """The Procfile's Rasa line serving the floor model, without an action server."""
    port = free_port()
    endpoints = run_dir / "floor-endpoints.yml"
    endpoints.write_text(_tracker_store(run_dir / "floor-tracker.db"))
    env = {
        **base_env(),
        "RASA_PORT": str(port),
        "RASA_MODEL": str(model),
        "RASA_ENDPOINTS": str(endpoints),
        "RASA_TOKEN": RASA_TOKEN,
    }
    url = f"http://127.0.0.1:{port}"
    command = procfile_commands()["rasa"]
    status = f"{url}/status?token={RASA_TOKEN}"
    return Process("floor", command, status, env, run_dir / "logs" / "floor.log"), url


def _tracker_store(path: Path, settings: dict[str, object] | None = None) -> str:
    """A tracker store on SQLite at `path`: the project's (`endpoints.yml`'s settings), or
    Rasa's own SQL store for the floor bot."""
    store = {**(settings or {"type": "SQL"}), "dialect": "sqlite", "db": str(path)}
    return yaml.safe_dump({"tracker_store": store}, sort_keys=False)


async def train(
    run_dir: Path, out: Path, name: str, config: Path, domain: Path, data: Path
) -> float:
    """`rasa train` into `out/<name>.tar.gz` with an empty cache; its duration in seconds."""
    env = {**base_env(), "RASA_CACHE_DIRECTORY": str(run_dir / f"cache-{name}")}
    log_path = run_dir / "logs" / f"train-{name}.log"
    _make_folders(out, log_path.parent)
    command = [
        str(BIN / "rasa"),
        "train",
        "--config",
        str(config),
        "--domain",
        str(domain),
        "--data",
        str(data),
        "--out",
        str(out),
        "--fixed-model-name",
        name,
    ]
    started = time.monotonic()
    await run_logged(command, env, log_path)
    return time.monotonic() - started


async def train_floor(run_dir: Path, out: Path) -> float:
    return await train(
        run_dir,
        out,
        "floor",
        FLOOR_SOURCES / "config.yml",
        FLOOR_SOURCES / "domain.yml",
        FLOOR_SOURCES / "data",
    )


async def train_project(run_dir: Path) -> float:
    """The project's model trained again, into the run folder (models/ is left alone)."""
    return await train(
        run_dir,
        run_dir / "project-model",
        "project",
        ROOT / "config.yml",
        ROOT / "domain.yml",
        ROOT / "data",
    )


async def run_logged(command: list[str], env: dict[str, str], log_path: Path) -> str:
    """Run `command` to completion, its output appended to `log_path`; its stdout.

    Raises:
        RuntimeError: the command failed.
    """
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await process.communicate()
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace")
    _append(log_path, text)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed ({process.returncode}): {log_path}")
    return text


def _append(path: Path, text: str) -> None:
    with path.open("a") as log:
        log.write(text)


def _make_folders(*folders: Path) -> None:
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
