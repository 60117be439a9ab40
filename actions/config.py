"""Settings of the action server, read from the environment once."""

from __future__ import annotations

import os

PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
CGU_VERSION = os.environ.get("CGU_VERSION", "2026-01")
CGU_URL = f"{PUBLIC_BASE_URL}/cgu"


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


# The largest identity document (the account service's DOCUMENT_MAX_BYTES, which it
# enforces): a provider's media is downloaded up to one byte more, so that the service
# can say it is too large. The action server never inspects a file itself.
DOCUMENT_MAX_BYTES = _positive("DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)

# Where users are sent when no advisor can be reached through the assistant.
SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "espaces-clients@assureur.example")
