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

# The support cell for business customer spaces, given wherever the assistant sends
# people to it (« contactez notre cellule dédiée… »).
SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "espaces-clients@assureur.example")
SUPPORT_PHONE = os.environ.get("SUPPORT_PHONE", "01 99 00 12 34")
SUPPORT_HOURS = os.environ.get("SUPPORT_HOURS", "du lundi au vendredi, de 9 h à 18 h")
# The insurer's tutorial video on creating the space; empty: none is offered.
TUTORIAL_VIDEO_URL = os.environ.get("TUTORIAL_VIDEO_URL", "").strip()


def support_contact() -> str:
    """« par e-mail à …, ou par téléphone au … (du lundi au vendredi, de 9 h à 18 h) »."""
    phone = f", ou par téléphone au {SUPPORT_PHONE} ({SUPPORT_HOURS})" if SUPPORT_PHONE else ""
    return f"par e-mail à {SUPPORT_EMAIL}{phone}"
