"""nginx is the one public entry: what it publishes works, and what must stay private
(Rasa's HTTP API, even with its token, the action server, the account API, /metrics) is
not reachable through it. Every other port of the topology listens on loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.conftest import RASA_TOKEN, Topology

CONVERSATION = "web-" + "0" * 32


async def test_the_widget_the_pages_and_socket_io_are_published(topology: Topology) -> None:
    async with topology.session() as http:
        for path in ("/", "/widget/widget.js", "/cgu"):
            async with http.get(topology.base + path) as response:
                assert response.status == 200, path
        async with http.get(topology.base + "/") as response:
            # The demo page's widget talks to Rasa through this same entry.
            assert f'data-rasa-url="{topology.public_base_url}"' in await response.text()
        async with http.get(topology.base + "/socket.io/?EIO=4&transport=polling") as response:
            assert response.status == 200
            assert '"sid"' in await response.text()
        # Plain HTTP sends people to the https address.
        plain = f"http://127.0.0.1:{topology.ports['public']}/cgu"
        async with http.get(plain, allow_redirects=False) as response:
            assert response.status == 301
            assert response.headers["Location"] == topology.public_base_url + "/cgu"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/status"),
        ("GET", f"/status?token={RASA_TOKEN}"),
        ("GET", f"/conversations/{CONVERSATION}/tracker?token={RASA_TOKEN}"),
        ("POST", f"/conversations/{CONVERSATION}/tracker/events?token={RASA_TOKEN}"),
        ("PUT", f"/model?token={RASA_TOKEN}"),
        ("POST", f"/model/parse?token={RASA_TOKEN}"),
        ("GET", "/version"),
        ("POST", "/webhook"),  # the action server's route
        ("GET", "/actions"),
        ("POST", "/api/v1/companies/verify"),
        ("GET", "/api/v1/openapi.yaml"),
        ("GET", "/uploads/some-token"),
        ("DELETE", "/uploads/some-token"),
        ("GET", "/metrics"),
        ("GET", "/metrics/"),
        ("GET", "/webhooks/rest/webhook/../../status"),
    ],
)
async def test_what_must_never_be_public_is_not_reachable(
    topology: Topology, method: str, path: str
) -> None:
    async with topology.session() as http:
        async with http.request(method, topology.base + path, json={}) as response:
            assert response.status in (403, 404, 405), (path, response.status)
            body = await response.text()
    for private in ("tracker", "model_file", "model_id", "assistant_", "Hello from Rasa"):
        assert private not in body


def listening_addresses() -> dict[int, set[str]]:
    """Listening TCP sockets of this machine: port → local addresses."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":
                continue
            address, port = fields[1].rsplit(":", 1)
            found.setdefault(int(port, 16), set()).add(address)
    return found


def test_every_port_but_nginx_listens_on_loopback_only(topology: Topology) -> None:
    listening = listening_addresses()
    loopback = {"0100007F"}  # 127.0.0.1, as /proc/net/tcp writes it
    for name, port in topology.ports.items():
        assert port in listening, f"{name} does not listen on {port}"
        assert listening[port] <= loopback, (name, listening[port])
