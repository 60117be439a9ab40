"""Access log without secrets: activation and upload tokens never reach the logs."""

from __future__ import annotations

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


class AccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if request.path in _PROBES and response.status < 400:
            return
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            loggable_path(request.path),
            response.status,
            time * 1000,
        )
