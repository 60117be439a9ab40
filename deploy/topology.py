"""The topology of `make prod`, read from the environment once, and the environment of
each process it runs.

Two modes, as everywhere in the project:

- `APP_ENV=production`: the configuration is checked before anything starts
  (`bot.production.topology_problems`); every secret that guards data or leaves the
  machine (tokens, document keys, SMTP) must be given, and any problem stops the launcher
  with one English line per variable (exit 78).
- otherwise, a **local trial**: what is missing is generated into `var/prod/secrets/`
  (files of mode 0600) or takes its development default (e-mails in var/prod/outbox, the
  demo contracts, `http://localhost:8080`), nginx listens on loopback only, and the
  launcher lists what a production run would refuse.

In both modes the passwords of the PostgreSQL cluster and the Redis server that the
launcher runs itself are generated into `var/prod/secrets/` unless given: they guard
services of this machine that nothing else uses.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from bot.production import is_production, topology_problems

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
DEFAULT_RASA_PORTS = "5005,5006"
ACCOUNTS_DATABASE = "espace_accounts"
TRACKER_DATABASE = "espace_tracker"
# The text Rasa answers when an action cannot run (channels.resilience.UNAVAILABLE_TEXT):
# nginx answers it too on the REST channel when no replica does.
UNAVAILABLE_TEXT = (
    "Le service est momentanément indisponible. Vos réponses sont conservées : "
    "renvoyez votre dernier message dans quelques instants."
)


class ConfigurationError(Exception):
    """The environment cannot describe a topology; each line names a variable."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Replica:
    name: str
    port: int


@dataclass(frozen=True)
class LocalPostgres:
    """The cluster of the project's own, in `data_dir`, run by `bin_dir/postgres`."""

    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    accounts: bool  # it holds the account database (no DATABASE_URL given)
    tracker: bool  # it holds Rasa's tracker store (no TRACKER_DB_HOST given)

    @property
    def settings(self) -> list[str]:
        """`postgres -c` settings: loopback only, and no statement ever written to its log
        (Rasa's driver puts the values, personal data, in the statements' text)."""
        return [
            f"listen_addresses={LOOPBACK}",
            f"port={self.port}",
            f"unix_socket_directories={self.socket_dir}",
            "log_min_error_statement=panic",
            "log_error_verbosity=terse",
            "log_line_prefix=%m [%p] ",
            "logging_collector=off",
        ]


@dataclass
class Topology:
    production: bool
    prod_dir: Path
    public_host: str
    public_port: int
    public_base_url: str
    tls_port: int
    tls_cert: str | None
    tls_key: str | None
    api_port: int
    replicas: list[Replica]
    actions_port: int
    web_port: int
    model: Path
    nginx_workers: str
    front_proxies: list[str]
    agent_allow: list[str]
    widget_origins: list[str]
    postgres: LocalPostgres | None
    redis_port: int | None  # the local Redis server's port, or None when REDIS_HOST is given
    # Filled by `environment()`: what every process receives, and what was generated.
    env: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    would_refuse: list[str] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.prod_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.prod_dir / "log"

    @property
    def nginx_dir(self) -> Path:
        return self.prod_dir / "nginx"

    @property
    def secrets_dir(self) -> Path:
        return self.prod_dir / "secrets"

    @property
    def redis_dir(self) -> Path:
        return self.prod_dir / "redis"

    @property
    def supervisord_conf(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def nginx_conf(self) -> Path:
        return self.nginx_dir / "nginx.conf"

    @property
    def upstreams_conf(self) -> Path:
        return self.nginx_dir / "upstreams.conf"

    def replica(self, name: str) -> Replica:
        for replica in self.replicas:
            if replica.name == name:
                return replica
        raise KeyError(name)


def load(env: Mapping[str, str] | None = None, *, generate: bool = True) -> Topology:
    """The topology that `env` describes, with the processes' environment filled in.

    `generate=False` (roll, ctl) reads the secrets generated before and creates none.
    """
    env = dict(os.environ if env is None else env)
    production = is_production(env)
    errors: list[str] = []

    def port(name: str, default: int) -> int:
        raw = env.get(name, "").strip() or str(default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            errors.append(f"{name} must be a TCP port (1-65535), got {raw!r}")
            return default
        return int(raw)

    prod_dir = Path(env.get("PROD_DIR", "").strip() or ROOT / "var" / "prod").resolve()
    public_port = port("PUBLIC_PORT", 8080)
    public_host = env.get("PUBLIC_HOST", "").strip() or ("0.0.0.0" if production else LOOPBACK)
    if not production and public_host != LOOPBACK:
        errors.append(
            f"PUBLIC_HOST={public_host} needs APP_ENV=production: a local trial runs on "
            "development defaults and listens on 127.0.0.1 only"
        )
    raw_ports = env.get("RASA_PORTS", "").strip() or DEFAULT_RASA_PORTS
    replicas = []
    for index, item in enumerate(raw_ports.split(","), start=1):
        if not item.strip().isdigit():
            errors.append(f"RASA_PORTS must list TCP ports separated by commas, got {raw_ports!r}")
            break
        replicas.append(Replica(f"rasa-{index}", int(item)))
    tls_cert = env.get("TLS_CERT", "").strip() or None
    tls_key = env.get("TLS_KEY", "").strip() or None
    default_base = f"http://localhost:{public_port}"
    public_base_url = env.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    if not public_base_url and not production:
        public_base_url = default_base

    needs_postgres = (
        not env.get("DATABASE_URL", "").strip() or not env.get("TRACKER_DB_HOST", "").strip()
    )
    postgres = None
    if needs_postgres:
        bin_dir = postgres_bin_dir(env)
        if bin_dir is None:
            errors.append(
                "no PostgreSQL server found (POSTGRES_BIN_DIR, or Debian's "
                "/usr/lib/postgresql/*/bin): run scripts/prod-setup, or set DATABASE_URL "
                "and TRACKER_DB_HOST to use other servers"
            )
        else:
            postgres = LocalPostgres(
                bin_dir=bin_dir,
                data_dir=prod_dir / "postgres",
                socket_dir=prod_dir / "run" / "postgres",
                port=port("POSTGRES_PORT", 5433),
                accounts=not env.get("DATABASE_URL", "").strip(),
                tracker=not env.get("TRACKER_DB_HOST", "").strip(),
            )
    redis_port = None if env.get("REDIS_HOST", "").strip() else port("REDIS_PORT", 6380)
    if redis_port is not None and shutil.which("redis-server") is None:
        errors.append("redis-server not found: run scripts/prod-setup, or set REDIS_HOST")

    origins = [o.strip().rstrip("/") for o in env.get("WIDGET_ORIGINS", "").split(",")]
    origins = [origin for origin in origins if origin]
    if not origins and public_base_url:
        parts = urlsplit(public_base_url)
        origins = [f"{parts.scheme}://{parts.netloc}"]
        if not production:
            origins += [f"http://localhost:{public_port}", f"http://127.0.0.1:{public_port}"]

    topology = Topology(
        production=production,
        prod_dir=prod_dir,
        public_host=public_host,
        public_port=public_port,
        public_base_url=public_base_url,
        tls_port=port("TLS_PORT", 8443),
        tls_cert=tls_cert,
        tls_key=tls_key,
        api_port=port("RASA_API_PORT", 8079),
        replicas=replicas,
        actions_port=port("ACTIONS_PORT", 5055),
        web_port=port("WEB_PORT", 8000),
        model=Path(env.get("RASA_MODEL", "").strip() or ROOT / "models" / "current.tar.gz"),
        nginx_workers=env.get("NGINX_WORKERS", "").strip() or "auto",
        front_proxies=_items(env.get("FRONT_PROXIES", "")),
        agent_allow=_items(env.get("AGENT_ALLOW", "")),
        widget_origins=list(dict.fromkeys(origins)),
        postgres=postgres,
        redis_port=redis_port,
    )
    used = [topology.public_port, topology.api_port, topology.actions_port, topology.web_port]
    used += [replica.port for replica in replicas]
    if tls_cert:
        used.append(topology.tls_port)
    if len(set(used)) != len(used):
        errors.append(
            "PUBLIC_PORT, TLS_PORT, RASA_API_PORT, RASA_PORTS, ACTIONS_PORT and WEB_PORT "
            "must all differ"
        )
    if errors:
        raise ConfigurationError(errors)
    _fill_environment(topology, env, Secrets(topology.secrets_dir, generate))
    return topology


def postgres_bin_dir(env: Mapping[str, str]) -> Path | None:
    configured = env.get("POSTGRES_BIN_DIR", "").strip()
    if configured:
        return Path(configured) if (Path(configured) / "postgres").exists() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


class Secrets:
    """Secrets generated once into files of mode 0600 in a folder of mode 0700."""

    def __init__(self, folder: Path, generate: bool) -> None:
        self.folder = folder
        self.generate = generate
        self.created: list[str] = []

    def get(self, name: str, make: Callable[[], str]) -> str:
        path = self.folder / name
        if path.exists():
            return path.read_text().strip()
        if not self.generate:
            raise ConfigurationError([f"{path} is missing: start the topology with scripts/prod"])
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.chmod(0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(make() + "\n")
        self.created.append(name)
        return path.read_text().strip()


def token() -> str:
    return secrets.token_urlsafe(32)


def password() -> str:
    # Letters and digits only: it goes into URLs, YAML and configuration files as it is.
    return "p" + secrets.token_hex(24)


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def tracker_database_url(env: Mapping[str, str]) -> str:
    """The URL of the tracker store that endpoints.prod.yml builds from TRACKER_DB_*."""
    host = env.get("TRACKER_DB_HOST", "").strip()
    if "://" in host:
        return host  # Rasa too takes a whole URL there
    user = quote(env.get("TRACKER_DB_USER", ""), safe="")
    secret = quote(env.get("TRACKER_DB_PASSWORD", ""), safe="")
    auth = f"{user}:{secret}@" if user and secret else (f"{user}@" if user else "")
    port = env.get("TRACKER_DB_PORT", "").strip() or "5432"
    name = env.get("TRACKER_DB_NAME", "").strip() or "rasa"
    return f"postgresql://{auth}{host}:{port}/{name}"


def _fill_environment(topology: Topology, given: dict[str, str], vault: Secrets) -> None:
    """What every process receives: the operator's environment, the topology's wiring,
    and (in a local trial) the secrets and defaults that were not given."""
    env = dict(given)
    loopback = f"http://{LOOPBACK}"
    wiring: dict[str, str] = {
        "VAR_DIR": str(topology.prod_dir / "data"),
        "WEB_HOST": LOOPBACK,
        "WEB_PORT": str(topology.web_port),
        "ACTIONS_HOST": LOOPBACK,
        "ACTIONS_PORT": str(topology.actions_port),
        "ACCOUNT_SERVICE_URL": f"{loopback}:{topology.web_port}",
        "ACTION_ENDPOINT_URL": f"{loopback}:{topology.actions_port}/webhook",
        # The browser reaches Rasa through nginx; the web process reaches Rasa's HTTP API
        # through nginx's loopback-only server, over every replica.
        "RASA_URL": topology.public_base_url,
        "RASA_API_URL": f"{loopback}:{topology.api_port}",
        "WIDGET_ORIGINS": ",".join(topology.widget_origins),
        # The processes see nginx only: its X-Forwarded-For is the client's address.
        "TRUSTED_PROXIES": LOOPBACK,
        "RASA_TELEMETRY_ENABLED": "false",
    }
    if topology.public_base_url:
        wiring["PUBLIC_BASE_URL"] = topology.public_base_url
    postgres = topology.postgres
    if postgres is not None and postgres.accounts:
        secret = vault.get("postgres-accounts-password", password)
        wiring["DATABASE_URL"] = (
            f"postgresql://{ACCOUNTS_DATABASE}:{secret}@{LOOPBACK}:{postgres.port}/"
            f"{ACCOUNTS_DATABASE}"
        )
    if postgres is not None and postgres.tracker:
        wiring.update(
            TRACKER_DB_HOST=LOOPBACK,
            TRACKER_DB_PORT=str(postgres.port),
            TRACKER_DB_NAME=TRACKER_DATABASE,
            TRACKER_DB_USER=TRACKER_DATABASE,
            TRACKER_DB_PASSWORD=vault.get("postgres-tracker-password", password),
        )
    else:
        for name, default in (("TRACKER_DB_PORT", "5432"), ("TRACKER_DB_NAME", "rasa")):
            wiring[name] = env.get(name, "").strip() or default
        wiring["TRACKER_DB_USER"] = env.get("TRACKER_DB_USER", "")
        wiring["TRACKER_DB_PASSWORD"] = env.get("TRACKER_DB_PASSWORD", "")
    if topology.redis_port is not None:
        wiring.update(
            REDIS_HOST=LOOPBACK,
            REDIS_PORT=str(topology.redis_port),
            REDIS_PASSWORD=env.get("REDIS_PASSWORD", "").strip()
            or vault.get("redis-password", password),
        )
    else:
        wiring["REDIS_PORT"] = env.get("REDIS_PORT", "").strip() or "6379"
        wiring["REDIS_PASSWORD"] = env.get("REDIS_PASSWORD", "")
    wiring["REDIS_DB"] = env.get("REDIS_DB", "").strip() or "0"
    env.update(wiring)
    if not env.get("TRACKER_DATABASE_URL", "").strip():
        # The web process purges Rasa's tracker store and erases from it (retention,
        # privacy requests): the same database as endpoints.prod.yml's.
        env["TRACKER_DATABASE_URL"] = tracker_database_url(env)
    if not env.get("SOCKETIO_REDIS_URL", "").strip():
        auth = f":{quote(env['REDIS_PASSWORD'], safe='')}@" if env["REDIS_PASSWORD"] else ""
        env["SOCKETIO_REDIS_URL"] = (
            f"redis://{auth}{env['REDIS_HOST']}:{env['REDIS_PORT']}/{env['REDIS_DB']}"
        )
    tokens = _items(env.get("ACCOUNT_API_TOKENS", ""))
    if tokens and not env.get("ACCOUNT_API_TOKEN", "").strip():
        env["ACCOUNT_API_TOKEN"] = tokens[0]

    topology.would_refuse = topology_problems(env)
    if not given.get("ACCOUNT_API_TOKEN", "").strip():
        # Taken from ACCOUNT_API_TOKENS here: its line says it all.
        topology.would_refuse = [
            line for line in topology.would_refuse if not line.startswith("ACCOUNT_API_TOKEN ")
        ]
    if not topology.production:
        env.pop("APP_ENV", None)
        generated = {
            "RASA_TOKEN": ("rasa-token", token),
            "ACTION_SERVER_TOKEN": ("action-server-token", token),
            "ACCOUNT_API_TOKENS": ("account-api-token", token),
            "DOCUMENT_KEYS": ("document-keys", fernet_key),
        }
        for variable, (name, make) in generated.items():
            if not env.get(variable, "").strip():
                env[variable] = vault.get(name, make)
        if not env.get("ACCOUNT_API_TOKEN", "").strip():
            env["ACCOUNT_API_TOKEN"] = _items(env["ACCOUNT_API_TOKENS"])[0]
        env.setdefault("OUTBOX_DIR", str(topology.prod_dir / "outbox"))
    for name in vault.created:
        topology.notices.append(f"generated {vault.folder / name} (mode 0600)")
    # Files of `make run`, never used here: every secret above is in the environment.
    for name in ("RASA_TOKEN_FILE", "ACTION_SERVER_TOKEN_FILE"):
        env.pop(name, None)
    topology.env = env
