"""The real address of a web channel's client, for the account service's throttles.

The peer address of the connection, replaced by the last `X-Forwarded-For` entry only
when the peer is one of `TRUSTED_PROXIES` (comma-separated IPs or CIDRs, default none):
a client that connects directly cannot choose the address it is throttled on.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Mapping

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _trusted(configured: str) -> tuple[Network, ...]:
    networks = []
    for item in configured.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue
    return tuple(networks)


def trusted_proxies() -> tuple[Network, ...]:
    return _trusted(os.environ.get("TRUSTED_PROXIES", ""))


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None) -> str | None:
    """The client's address: the peer's, or the proxy's last forwarded entry."""
    address = _address(peer)
    if address is None:
        return None
    if forwarded_for and any(address in network for network in trusted_proxies()):
        forwarded = _address(forwarded_for.split(",")[-1])
        if forwarded is not None:
            return str(forwarded)
    return str(address)


def from_environ(environ: Mapping[str, object]) -> str | None:
    """The address of a python-socketio connection, from its environ.

    Under sanic, engine.io's `REMOTE_ADDR` is always 127.0.0.1: the peer is read from
    the sanic request (`request.ip`, the socket's peer, never a header).
    """
    request = environ.get("sanic.request")
    if request is not None:
        peer = getattr(request, "ip", None)
        forwarded = request.headers.get("X-Forwarded-For")  # type: ignore[attr-defined]
    else:
        peer = environ.get("REMOTE_ADDR")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    return client_address(
        peer if isinstance(peer, str) else None,
        forwarded if isinstance(forwarded, str) else None,
    )
