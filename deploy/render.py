"""The configuration files of the topology, rendered from the templates of `deploy/`.

Everything rendered goes under `PROD_DIR` (var/prod/): `run/supervisord.conf`,
`nginx/nginx.conf` and `nginx/upstreams.conf`, `redis/redis.conf` (mode 0600: it holds
the password). Rendering is repeated at every start, so a changed variable or template
takes effect at the next `make prod`.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterable
from pathlib import Path

import jinja2

from deploy.topology import LOOPBACK, ROOT, UNAVAILABLE_TEXT, Topology

TEMPLATES = Path(__file__).resolve().parent
NGINX = "/usr/sbin/nginx"
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def as_root() -> bool:
    return os.geteuid() == 0


def command(*words: str | Path) -> str:
    """A command line for supervisord: quoted words, `%` doubled (it formats its values)."""
    return " ".join(shlex.quote(str(word)) for word in words).replace("%", "%%")


def _nginx_string(body: object) -> str:
    """`body` as JSON in an nginx string literal (between single quotes)."""
    text = json.dumps(body, ensure_ascii=False)
    return text.replace("\\", "\\\\").replace("'", "\\'")


def unavailable_json() -> str:
    """The REST channel's answer when no replica answers."""
    return _nginx_string([{"recipient_id": "", "text": UNAVAILABLE_TEXT}])


def upload_unavailable_json() -> str:
    """The upload's answer when the web process does not answer, as the web process words
    its errors (the widget shows `message` after « Votre fichier n'a pas pu être envoyé : »)."""
    message = "le service d'envoi est momentanément indisponible."
    return _nginx_string({"error": {"code": "service_unavailable", "message": message}})


def rasa_command(topology: Topology, port: int) -> str:
    words: list[str | Path] = [
        PYTHON, "-m", "channels.server", "run", "--model", topology.model, "--enable-api",
        "--interface", LOOPBACK, "--port", str(port),
        "--endpoints", ROOT / "endpoints.prod.yml", "--credentials", ROOT / "credentials.yml",
    ]  # fmt: skip
    if topology.widget_origins:
        words += ["--cors", *topology.widget_origins]
    return command(*words)


def nginx_ports(topology: Topology) -> list[int]:
    ports = [topology.public_port, topology.api_port]
    return ports + ([topology.tls_port] if topology.tls_cert else [])


def render_upstreams(topology: Topology, down: Iterable[str] = ()) -> str:
    template = _environment().get_template("upstreams.conf")
    return template.render(t=topology, down=set(down))


def write_upstreams(topology: Topology, down: Iterable[str] = ()) -> None:
    """Rewrite the upstreams atomically (nginx may be reading it for a reload)."""
    temporary = topology.upstreams_conf.with_suffix(".tmp")
    temporary.write_text(render_upstreams(topology, down))
    temporary.replace(topology.upstreams_conf)


def render_all(topology: Topology) -> None:
    """Write every configuration file of the topology."""
    for folder in (topology.run_dir, topology.log_dir, topology.nginx_dir):
        folder.mkdir(parents=True, exist_ok=True)
    templates = _environment()
    postgres = topology.postgres
    postgres_command = ""
    if postgres is not None:
        settings = [word for setting in postgres.settings for word in ("-c", setting)]
        postgres_command = command(
            postgres.bin_dir / "postgres", "-D", postgres.data_dir, *settings
        )
    web: list[str | Path] = [PYTHON, "-m", "deploy.program"]
    web += ["--pid-file", topology.run_dir / "web.pid"]
    if postgres is not None and postgres.accounts:
        web += ["--wait", f"{LOOPBACK}:{postgres.port}"]
    web += ["--", PYTHON, "-m", "bot", "serve"]
    nginx: list[str | Path] = [PYTHON, "-m", "deploy.program"]
    for port in nginx_ports(topology):
        nginx += ["--clear-nginx-on", str(port)]
    nginx += ["--", NGINX, "-c", topology.nginx_conf, "-p", f"{topology.nginx_dir}/"]

    topology.supervisord_conf.write_text(
        templates.get_template("supervisord.conf").render(
            t=topology,
            root=ROOT,
            python=PYTHON,
            as_root=as_root(),
            postgres_command=postgres_command,
            web_command=command(*web),
            rasa_commands={r.name: rasa_command(topology, r.port) for r in topology.replicas},
            nginx_command=command(*nginx),
            watch_replicas=",".join(f"{r.name}={r.port}" for r in topology.replicas),
        )
    )
    topology.nginx_conf.write_text(
        templates.get_template("nginx.conf").render(
            t=topology,
            unavailable_json=unavailable_json(),
            upload_unavailable_json=upload_unavailable_json(),
        )
    )
    write_upstreams(topology)
    if topology.redis_port is not None:
        topology.redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = topology.redis_dir / "redis.conf"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(
                templates.get_template("redis.conf").render(
                    t=topology, password=topology.env["REDIS_PASSWORD"]
                )
            )
        path.chmod(0o600)
