"""Access log without secrets or whole addresses: activation and upload tokens never
reach the logs, and a client's address is cut to its network (/24 in IPv4, /48 in IPv6),
which says enough to follow an incident and no longer designates a person."""

from __future__ import annotations

import ipaddress
import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

_TOKEN_PATH = re.compile(r"^/(activate|uploads)/[^/]+")
# Polled every few seconds by the supervisor's watcher and Prometheus: logged only when
# they fail.
_PROBES = frozenset({"/health", "/metrics"})


def loggable_path(path: str) -> str:
    """`path` with the token of an activation link or of an upload URL masked."""
    return _TOKEN_PATH.sub(r"/\1/***", path)


def loggable_address(address: str | None) -> str:
    """The client's network: `192.0.2.0/24` for 192.0.2.77, `-` when unknown."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class AccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if request.path in _PROBES and response.status < 400:
            return
        self.logger.info(
            "%s %s %s %d %.1fms",
            loggable_address(request.remote),
            request.method,
            loggable_path(request.path),
            response.status,
            time * 1000,
        )
