"""`make prod`'s topology under load: nginx in front of two Rasa replicas, PostgreSQL,
Redis, the action server and the web process under supervisord, started by its own
launcher (`scripts/prod`) as a local trial on free loopback ports.

The benchmark talks to it as the public does, through nginx only: the REST channel and
the chat's uploads. Its data lives in a folder of its own outside the repository (when
run as root, PostgreSQL runs as its own user and must be able to reach it); the logs are
copied into the run's folder when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.config import ROOT
from bench.stack import (
    RASA_TOKEN,
    READY_TIMEOUT,
    base_env,
    free_port,
    healthy,
    tree_cpu,
    tree_rss,
)

PROD = ROOT / "scripts" / "prod"
REPLICAS = ("rasa-1", "rasa-2")
PROGRAMS = (*REPLICAS, "actions", "web", "nginx", "postgres", "redis")
# Variables of the caller that would point the topology elsewhere.
FOREIGN = (
    "APP_ENV", "DATABASE_URL", "TRACKER_DB_HOST", "REDIS_HOST", "REDIS_PASSWORD",
    "SOCKETIO_REDIS_URL", "RASA_TOKEN_FILE", "ACTION_SERVER_TOKEN_FILE", "VAR_DIR",
    "OUTBOX_DIR", "RASA_URL", "PUBLIC_BASE_URL", "WIDGET_ORIGINS", "TLS_CERT", "TLS_KEY",
)  # fmt: skip
STOP_TIMEOUT = 240


@dataclass
class ProdTopology:
    """One run of `scripts/prod`: started, measured, stopped."""

    log_dir: Path
    prod_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-prod-")))
    ports: dict[str, int] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prod_dir.chmod(0o755)
        names = ("public", "api", *REPLICAS, "actions", "web", "postgres", "redis")
        self.ports = {name: free_port() for name in names}
        env = {name: value for name, value in base_env().items() if name not in FOREIGN}
        env.update(
            PROD_DIR=str(self.prod_dir),
            PUBLIC_PORT=str(self.ports["public"]),
            RASA_API_PORT=str(self.ports["api"]),
            RASA_PORTS=",".join(str(self.ports[name]) for name in REPLICAS),
            ACTIONS_PORT=str(self.ports["actions"]),
            WEB_PORT=str(self.ports["web"]),
            POSTGRES_PORT=str(self.ports["postgres"]),
            REDIS_PORT=str(self.ports["redis"]),
            RASA_TOKEN=RASA_TOKEN,
            # One nginx worker per core, as `auto` would choose on the production machine.
            NGINX_WORKERS="auto",
        )
        self.env = env

    @property
    def base(self) -> str:
        """nginx, the one public entry."""
        return f"http://127.0.0.1:{self.ports['public']}"

    def spawn(self) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "launcher.log").open("ab") as log:
            return subprocess.Popen(
                [str(PROD)], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    async def start(self, http: aiohttp.ClientSession) -> float:
        """Launch, then wait until both replicas have loaded the model and nginx reaches
        the web process; seconds since the launch."""
        started = time.monotonic()
        self.popen = self.spawn()
        probes = [
            *(
                f"http://127.0.0.1:{self.ports[name]}/status?token={RASA_TOKEN}"
                for name in REPLICAS
            ),
            f"{self.base}/health",
        ]
        deadline = started + 2 * READY_TIMEOUT  # two replicas load the model at once
        for probe in probes:
            while not await healthy(http, probe):
                if self.popen.poll() is not None:
                    raise RuntimeError(f"scripts/prod exited; see {self.log_dir}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the topology did not start; see {self.log_dir}")
                await asyncio.sleep(0.5)
        return time.monotonic() - started

    def pid(self, program: str) -> int | None:
        """The pid supervisord runs `program` as, or None."""
        done = subprocess.run(
            [str(PROD), "ctl", "pid", program], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        text = done.stdout.strip()
        return int(text) if text.isdigit() and int(text) > 0 else None

    def pids(self) -> dict[str, int]:
        return {name: pid for name in PROGRAMS if (pid := self.pid(name)) is not None}

    def rss_bytes(self, pids: dict[str, int]) -> dict[str, int]:
        return {name: tree_rss(pid) for name, pid in pids.items()}

    def cpu_seconds(self, pids: dict[str, int]) -> dict[str, float]:
        return {name: tree_cpu(pid) for name, pid in pids.items()}

    def stop(self) -> None:
        """Ctrl+C's way (supervisord stops every program), then whatever is left is
        killed; the logs are kept in the run's folder, the data deleted."""
        if self.popen is not None:
            if self.popen.poll() is None:
                os.kill(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            for pid in session_members(self.popen.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.popen.wait()
            self.popen = None
        if (self.prod_dir / "log").is_dir():
            shutil.copytree(self.prod_dir / "log", self.log_dir, dirs_exist_ok=True)
        shutil.rmtree(self.prod_dir, ignore_errors=True)


def session_members(session: int) -> list[int]:
    """The live processes of a session (the launcher's: supervisord and its programs)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(stat.parent.name))
    return found
