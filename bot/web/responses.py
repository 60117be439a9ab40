"""JSON responses with readable French (no \\u escapes)."""

from __future__ import annotations

import functools
import json

from aiohttp import web

json_response = functools.partial(
    web.json_response, dumps=functools.partial(json.dumps, ensure_ascii=False)
)
