"""The PostgreSQL cluster of the topology's own, in `var/prod/postgres`.

Before supervisord starts, the launcher makes sure that the cluster exists (`initdb` the
first time: local connections by the cluster's owner only, TCP with a password), starts
it for a moment on its own Unix socket and loopback, sets the roles and databases of the
account database and of Rasa's tracker store (each its own role, with the password of
`var/prod/secrets/`), then stops it: supervisord runs it from then on, in the foreground.

PostgreSQL refuses to run as root. When the launcher runs as root, the cluster belongs to
the `postgres` user (Debian's package creates it) and every command runs as that user;
the folders above the cluster must then be traversable by it (var/prod/ is made so).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import subprocess
from collections.abc import Iterator

from deploy.topology import ACCOUNTS_DATABASE, TRACKER_DATABASE, LocalPostgres, Topology

SERVICE_USER = "postgres"


class PostgresError(Exception):
    pass


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVICE_USER, "--", *command]


def _run(command: list[str], what: str, input: str | None = None) -> str:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True, input=input)
    if done.returncode != 0:
        raise PostgresError(f"{what} failed:\n{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _prepare_folders(topology: Topology, cluster: LocalPostgres) -> None:
    for folder in (cluster.data_dir, cluster.socket_dir):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVICE_USER)
            shutil.chown(folder, owner.pw_uid, owner.pw_gid)
    if os.geteuid() == 0:
        # The service user walks down to the cluster: search permission only, no listing.
        for folder in (topology.prod_dir, topology.run_dir):
            folder.chmod(folder.stat().st_mode | 0o111)


@contextlib.contextmanager
def running_for_setup(topology: Topology) -> Iterator[None]:
    """The cluster, created if needed, running with its roles and databases set
    (idempotent) while the block runs, then stopped. Nothing without a local cluster."""
    cluster = topology.postgres
    if cluster is None:
        yield
        return
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError as missing:
            raise PostgresError(
                f"no {SERVICE_USER} user: install Debian's postgresql (scripts/prod-setup)"
            ) from missing
    _prepare_folders(topology, cluster)
    if (
        os.geteuid() == 0
        and subprocess.run(_as_owner(["test", "-x", str(cluster.data_dir)])).returncode
    ):
        raise PostgresError(
            f"the {SERVICE_USER} user cannot reach {cluster.data_dir}: choose another PROD_DIR, "
            "or let it traverse the folders above (chmod o+x)"
        )
    if not (cluster.data_dir / "PG_VERSION").exists():
        print(f"Creating the PostgreSQL cluster in {cluster.data_dir}...", flush=True)
        _run(
            [
                str(cluster.bin_dir / "initdb"), "-D", str(cluster.data_dir), "-U", SERVICE_USER,
                "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=peer",
                "--auth-host=scram-sha-256",
            ],
            "initdb",
        )  # fmt: skip
    options = " ".join(f"-c {shlex.quote(setting)}" for setting in cluster.settings)
    log = topology.log_dir / "postgres-bootstrap.log"
    log.touch()
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVICE_USER)
        os.chown(log, owner.pw_uid, owner.pw_gid)
    pg_ctl = str(cluster.bin_dir / "pg_ctl")
    _run([pg_ctl, "-D", str(cluster.data_dir), "-o", options, "-l", str(log), "-w", "-t", "120",
          "start"], "starting PostgreSQL for its set-up")  # fmt: skip
    try:
        roles = []
        if cluster.accounts:
            roles.append((ACCOUNTS_DATABASE, _password_of(topology.env["DATABASE_URL"])))
        if cluster.tracker:
            roles.append((TRACKER_DATABASE, topology.env["TRACKER_DB_PASSWORD"]))
        for name, secret in roles:
            _ensure_role_and_database(cluster, name, secret)
        yield
    finally:
        _run([pg_ctl, "-D", str(cluster.data_dir), "-m", "fast", "-w", "stop"],
             "stopping PostgreSQL after its set-up")  # fmt: skip


def _password_of(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).password or "")


def _psql(cluster: LocalPostgres, sql: str, database: str = "postgres") -> str:
    command = [
        str(cluster.bin_dir / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
        "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", SERVICE_USER,
        "-d", database,
    ]  # fmt: skip
    # The statements go on stdin: a password never appears on a command line.
    return _run(command, "psql", input=sql).strip()


def _ensure_role_and_database(cluster: LocalPostgres, name: str, secret: str) -> None:
    if not secret.isalnum():
        raise PostgresError(f"the password of the {name} role must be letters and digits")
    exists = _psql(cluster, f"SELECT 1 FROM pg_roles WHERE rolname = '{name}';")
    verb = "ALTER" if exists == "1" else "CREATE"
    _psql(cluster, f"{verb} ROLE {name} LOGIN PASSWORD '{secret}';")
    if _psql(cluster, f"SELECT 1 FROM pg_database WHERE datname = '{name}';") != "1":
        _psql(cluster, f"CREATE DATABASE {name} OWNER {name} ENCODING 'UTF8';")
    _psql(cluster, f"REVOKE ALL ON DATABASE {name} FROM PUBLIC;")
