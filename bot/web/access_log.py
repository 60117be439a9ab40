"""Access log without secrets: activation tokens never reach the logs."""

from __future__ import annotations

import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

_TOKEN_PATH = re.compile(r"^/activate/[^/]+")


class AccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = _TOKEN_PATH.sub("/activate/***", request.path)
        self.logger.info(
            "%s %s %s %d %.1fms", request.remote, request.method, path, response.status, time * 1000
        )
