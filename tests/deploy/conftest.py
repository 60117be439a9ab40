"""`make prod`'s topology, started once for the session by its own launcher
(`scripts/prod`) in production mode, on free loopback ports, in a folder of its own: its
PostgreSQL cluster, its Redis server, nginx, two Rasa replicas, the action server and the
web process under supervisord. SMTP is a loopback server of the test process.

nginx serves TLS with a certificate made here for the public name `PUBLIC_NAME`, which the
browser resolves to 127.0.0.1; the other clients reach https://127.0.0.1 and do not check
the certificate."""

from __future__ import annotations

import asyncio
import contextlib
import email
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import psycopg2
import pytest
from aiohttp.abc import AbstractCookieJar
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
PROD = ROOT / "scripts" / "prod"
# Two replicas load the model together on two busy cores.
STARTUP_TIMEOUT = 900
# A constant: pytest imports this module, and the tests import it again under its package
# name, so a random value would differ between the two.
RASA_TOKEN = "deploy-rasa-token-5e0c1d2f8a7b4c3e9d6f"
PUBLIC_NAME = "espace-client.assureur.test"
# Variables of the caller that would point the topology elsewhere.
FOREIGN = (
    "DATABASE_URL", "TRACKER_DB_HOST", "REDIS_HOST", "REDIS_PASSWORD", "SOCKETIO_REDIS_URL",
    "RASA_TOKEN_FILE", "ACTION_SERVER_TOKEN_FILE", "VAR_DIR", "OUTBOX_DIR", "RASA_URL",
    "TRUSTED_PROXIES", "FRONT_PROXIES", "TLS_CERT", "TLS_KEY", "WIDGET_ORIGINS",
)  # fmt: skip


@dataclass
class Inbox:
    """Messages received by the loopback SMTP server."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for message in self.messages if message["To"] == address]


@dataclass
class Topology:
    """The running topology: its addresses, and how to reach what is behind nginx."""

    base: str  # nginx, the one public entry
    env: dict[str, str]
    ports: dict[str, int]
    prod_dir: Path
    inbox: Inbox
    process: subprocess.Popen[bytes]

    @property
    def log_dir(self) -> Path:
        return self.prod_dir / "log"

    @property
    def replicas(self) -> dict[str, int]:
        return {"rasa-1": self.ports["rasa-1"], "rasa-2": self.ports["rasa-2"]}

    @property
    def public_base_url(self) -> str:
        return self.env["PUBLIC_BASE_URL"]

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """An HTTP client that takes nginx's certificate (made by the fixture) as it is."""
        async with https_client() as http:
            yield http

    def prod(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PROD), *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    def pid(self, program: str) -> int:
        done = self.prod("ctl", "pid", program)
        return int(done.stdout.strip() or 0)

    def state(self, program: str) -> str:
        done = self.prod("ctl", "status", program)
        words = done.stdout.split()
        return words[1] if len(words) > 1 else "UNKNOWN"

    def wait_restarted(self, program: str, old_pid: int, timeout: float = 120) -> int:
        """Wait until supervisord runs `program` again with another process; its pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid(program)
            if pid and pid != old_pid and self.state(program) == "RUNNING":
                return pid
            time.sleep(0.5)
        raise AssertionError(f"supervisord did not restart {program} within {timeout} s")

    def wait_answering(self, url: str, timeout: float = 120) -> None:
        """Wait until `url` answers 200 (a process's /health)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} does not answer after {timeout} s")
            time.sleep(0.5)

    def replica_ready(self, name: str) -> bool:
        url = f"http://127.0.0.1:{self.replicas[name]}/status?" + urlencode({"token": RASA_TOKEN})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bool(json.load(response).get("model_id"))
        except (OSError, ValueError):
            return False

    def wait_replica(self, name: str, timeout: float = STARTUP_TIMEOUT) -> float:
        started = time.monotonic()
        while not self.replica_ready(name):
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{name} has not loaded its model after {timeout} s")
            if self.process.poll() is not None:
                raise AssertionError(f"supervisord exited; see {self.log_dir}")
            time.sleep(1)
        return time.monotonic() - started

    def database(self, which: str) -> Any:
        """A psycopg2 connection to the account database or the tracker store."""
        secret = (self.prod_dir / "secrets" / f"postgres-{which}-password").read_text().strip()
        name = f"espace_{which}"
        return psycopg2.connect(
            host="127.0.0.1", port=self.ports["postgres"], user=name, password=secret,
            dbname=name,
        )  # fmt: skip

    def user_texts(self, conversation_id: str) -> list[str]:
        """The user's messages in the tracker store, in the order Rasa stored them."""
        connection = self.database("tracker")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT data FROM events WHERE sender_id = %s AND type_name = 'user' "
                    "ORDER BY id",
                    (conversation_id,),
                )
                return [json.loads(row[0]).get("text", "") for row in cursor.fetchall()]
        finally:
            connection.close()

    def upstream_log(self) -> list[dict[str, str]]:
        path = self.log_dir / "nginx-upstream.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextlib.asynccontextmanager
async def https_client(
    cookie_jar: AbstractCookieJar | None = None,
) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session that does not check certificates, closed for good on exit: its
    TLS connections finish closing after the session (aiohttp's "graceful shutdown")."""
    # One connection per request: no kept-alive TLS connection left for nginx to close
    # (a reload, a restart), whose transport aiohttp 3.9 would never close.
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=False, force_close=True), cookie_jar=cookie_jar
    )
    try:
        yield http
    finally:
        await http.close()
        await asyncio.sleep(0.25)


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key_file


def _environment(prod_dir: Path, ports: dict[str, int], smtp_port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN}
    public = f"https://{PUBLIC_NAME}:{ports['tls']}"
    cert, key = self_signed(prod_dir, PUBLIC_NAME)
    account_token = "deploy-account-token-" + os.urandom(8).hex()
    env.update(
        APP_ENV="production",
        PROD_DIR=str(prod_dir),
        PUBLIC_HOST="127.0.0.1",
        PUBLIC_PORT=str(ports["public"]),
        TLS_PORT=str(ports["tls"]),
        TLS_CERT=str(cert),
        TLS_KEY=str(key),
        RASA_API_PORT=str(ports["api"]),
        RASA_PORTS=f"{ports['rasa-1']},{ports['rasa-2']}",
        ACTIONS_PORT=str(ports["actions"]),
        WEB_PORT=str(ports["web"]),
        POSTGRES_PORT=str(ports["postgres"]),
        REDIS_PORT=str(ports["redis"]),
        NGINX_WORKERS="1",
        PUBLIC_BASE_URL=public,
        # The browser opens the public name; the socket.io client of the tests, loopback.
        WIDGET_ORIGINS=f"{public},https://127.0.0.1:{ports['tls']}",
        RASA_TOKEN=RASA_TOKEN,
        ACTION_SERVER_TOKEN="deploy-actions-token-" + os.urandom(8).hex(),
        ACCOUNT_API_TOKENS=account_token,
        DOCUMENT_KEYS=Fernet.generate_key().decode(),
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        LOAD_DEMO_CONTRACTS="0",
        # Advisors are always there, so that a handoff is queued whatever the time.
        ADVISOR_OPENING_HOURS="mon-sun 00:00-24:00",
        ADVISOR_HOLIDAYS="none",
        # Every test connects from 127.0.0.1: one address, like a big NAT.
        UPLOAD_MAX_PER_ADDRESS="1000",
        # A replica killed in the middle of a turn leaves its conversation's lock: the
        # next turn waits for it to expire (60 s by default).
        TICKET_LOCK_LIFETIME="20",
    )
    return env


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` first (make test does)")
    setup = subprocess.run([str(ROOT / "scripts" / "prod-setup")], capture_output=True, text=True)
    if setup.returncode != 0:
        pytest.fail(f"scripts/prod-setup failed:\n{setup.stderr}")
    # Not under pytest's folders (mode 0700): PostgreSQL runs as its own user when root.
    prod_dir = Path(tempfile.mkdtemp(prefix="espace-prod-"))
    prod_dir.chmod(0o755)
    names = ("public", "tls", "api", "rasa-1", "rasa-2", "actions", "web", "postgres", "redis")
    ports = {name: free_port() for name in names}
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env = _environment(prod_dir, ports, smtp_port)
    log = (prod_dir / "launcher.log").open("wb")
    process = subprocess.Popen(
        [str(PROD)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    topology = Topology(
        base=f"https://127.0.0.1:{ports['tls']}",
        env=env,
        ports=ports,
        prod_dir=prod_dir,
        inbox=inbox,
        process=process,
    )
    try:
        started = time.monotonic()
        for name in topology.replicas:
            topology.wait_replica(name)
        print(f"\nthe topology answers after {time.monotonic() - started:.0f} s")
        imported = topology.prod("bot", "contracts", "import", "bot/data/demo_contracts.csv")
        assert imported.returncode == 0, imported.stderr
        yield topology
    finally:
        stop(process)
        log.close()
        smtp.stop()
        # The logs stay with pytest's other files (the last runs are kept); the rest goes.
        shutil.copytree(prod_dir / "log", tmp_path_factory.mktemp("prod-log"), dirs_exist_ok=True)
        shutil.copy(prod_dir / "launcher.log", tmp_path_factory.getbasetemp())
        shutil.rmtree(prod_dir, ignore_errors=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl+C's way: supervisord stops every program, then exits. Whatever is left of the
    launcher's session afterwards (there should be nothing) is killed."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=240)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    for pid in session_members(process.pid):
        os.kill(pid, signal.SIGKILL)


def session_members(session: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[4]) == session and stat[0] != "Z":
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module", autouse=True)
def whole(request: pytest.FixtureRequest) -> None:
    """Each module of the topology's tests starts with every process in service, whatever
    the module before did (killed, restarted)."""
    if "topology" not in request.fixturenames:
        return
    topology: Topology = request.getfixturevalue("topology")
    for name in topology.replicas:
        topology.wait_replica(name)
    for program in ("nginx", "web", "actions", "postgres", "redis"):
        deadline = time.monotonic() + 120
        while topology.state(program) != "RUNNING":
            assert time.monotonic() < deadline, f"{program} is not running"
            time.sleep(0.5)


# The topology's tests in this order: those that disturb it (a rolling restart, processes
# killed) last, so that the others need not wait for Rasa to load its model again.
ORDER = [
    "test_configuration", "test_public_entry", "test_registration", "test_socketio",
    "test_widget", "test_rolling_restart", "test_failures",
]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Reorder this folder's tests among themselves, in the places they hold."""
    places = [index for index, item in enumerate(items) if Path(str(item.fspath)).parent == HERE]

    def rank(item: pytest.Item) -> int:
        module = Path(str(item.fspath)).stem
        return ORDER.index(module) if module in ORDER else len(ORDER)

    ordered = sorted((items[index] for index in places), key=rank)
    for index, item in zip(places, ordered, strict=True):
        items[index] = item


HERE = Path(__file__).resolve().parent
