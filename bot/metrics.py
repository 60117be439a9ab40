"""Prometheus metrics of the web process, served at `GET /metrics`.

One registry per application (never prometheus-client's global one), made by the app
factory and stored under `METRICS`. Labels take values from fixed sets only (error
codes, handoff reasons, e-mail kinds), never an id or a value a user gave.

`/metrics` answers a direct loopback peer (Prometheus or an agent on the same machine),
or any peer that sends `Authorization: Bearer <METRICS_TOKEN>`. A request relayed by a
proxy (it carries `X-Forwarded-For`, `Forwarded` or `X-Real-IP`) is not a loopback peer,
even when the proxy runs on this machine: nginx's public entry never serves it.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import choose_encoder

from bot.errors import ServiceError
from bot.outbox import KINDS
from bot.web.keys import SETTINGS

# The kinds of e-mail the web process sends (the `kind` of their outbox rows).
EMAIL_KINDS = KINDS
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


class WebMetrics:
    """The counters of one web application, in their own registry."""

    def __init__(self, handoff_reasons: tuple[str, ...] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.accounts_created = Counter(
            "assistant_accounts_created",
            "Accounts created by the account API (a replayed registration is not counted).",
            registry=self.registry,
        )
        self.refusals = Counter(
            "assistant_refusals",
            "Requests the API refused, by the error code it answered.",
            ["reason"],
            registry=self.registry,
        )
        self.handoffs = Counter(
            "assistant_handoffs",
            "Conversations handed to an advisor (queued or as a ticket), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.emails_queued = Counter(
            "assistant_emails_queued",
            "E-mails written to the outbox table, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.emails_sent = Counter(
            "assistant_emails_sent",
            "E-mails accepted by the SMTP server (or written to OUTBOX_DIR), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.email_failures = Counter(
            "assistant_email_failures",
            "Failed attempts to send an e-mail of the outbox (each is retried), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.emails_given_up = Counter(
            "assistant_emails_given_up",
            "E-mails no longer tried after OUTBOX_GIVE_UP_HOURS of failures, by kind.",
            ["kind"],
            registry=self.registry,
        )
        # Every series exists from the start, at 0: a rate is defined before the first event.
        for kind in EMAIL_KINDS:
            self.emails_queued.labels(kind)
            self.emails_sent.labels(kind)
            self.email_failures.labels(kind)
            self.emails_given_up.labels(kind)
        for reason in handoff_reasons:
            self.handoffs.labels(reason)

    def refused(self, error: ServiceError) -> None:
        """Count a domain error by its class's code: a bounded set, fixed in the code."""
        self.refusals.labels(type(error).code).inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the scraper accepts (`Accept`), and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


METRICS = web.AppKey("metrics", WebMetrics)


def _loopback_peer(request: web.Request) -> bool:
    """The TCP peer itself is on loopback, and did not relay the request for another."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not isinstance(peer, tuple) or not peer:
        return False
    try:
        return ipaddress.ip_address(str(peer[0]).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _bearer(request: web.Request, expected: str | None) -> bool:
    if not expected:
        return False
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    )


async def metrics_endpoint(request: web.Request) -> web.Response:
    """The Prometheus text exposition, to loopback or to the holder of METRICS_TOKEN."""
    if not (_loopback_peer(request) or _bearer(request, request.app[SETTINGS].metrics_token)):
        return web.Response(
            status=403,
            text="forbidden: /metrics answers loopback, or a bearer METRICS_TOKEN\n",
        )
    body, content_type = request.app[METRICS].exposition(request.headers.get("Accept"))
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    return response
