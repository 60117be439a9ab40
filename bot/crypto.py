"""Encryption at rest of uploads and identity documents (Fernet, with key rotation)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["DocumentCipher", "InvalidToken", "development_key", "generate_key", "parse_keys"]


def generate_key() -> str:
    """A new Fernet key (32 random bytes, url-safe base64), as DOCUMENT_KEYS expects."""
    return Fernet.generate_key().decode()


def parse_keys(value: str) -> tuple[str, ...]:
    """Split a comma-separated DOCUMENT_KEYS value; blanks are ignored."""
    return tuple(key.strip() for key in value.split(",") if key.strip())


def development_key(path: Path) -> str:
    """Read the local development key, creating it (mode 0600) on the first start.

    The file is created atomically, so two processes starting together agree on one key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise ValueError(f"{path} is empty: delete it to generate a new key") from None
        return key
    key = generate_key()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


class DocumentCipher:
    """Encrypts with the first key and decrypts with any of them (key rotation)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one document key is needed")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                # The key itself is never printed.
                raise ValueError(
                    f"DOCUMENT_KEYS: key number {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        self._fernet = MultiFernet(fernets)

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """Decrypt `token`; raises `InvalidToken` when no configured key opens it."""
        return self._fernet.decrypt(token)
