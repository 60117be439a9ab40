"""Settings of the action server, read from the environment once."""

from __future__ import annotations

import os

from bot.documents import DocumentLimits

PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
CGU_VERSION = os.environ.get("CGU_VERSION", "2026-01")
CGU_URL = f"{PUBLIC_BASE_URL}/cgu"

# Bounds of an identity document's file (DOCUMENT_MIN_BYTES, DOCUMENT_MAX_BYTES…).
DOCUMENT_LIMITS = DocumentLimits.from_env()

# Where users are sent when no advisor can be reached through the assistant.
SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "espaces-clients@assureur.example")
