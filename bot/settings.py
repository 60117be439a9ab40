"""Configuration of the web process, read from the environment once."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.crypto import parse_keys
from bot.documents import DocumentLimits
from bot.opening_hours import DEFAULT_HOLIDAYS, DEFAULT_HOURS, OpeningHours

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", ROOT / "var"))

DEFAULT_DEV_TOKEN = "dev-local-token"
_MIB = 1024 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting of the environment is invalid; the message names it."""


def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """TRUSTED_PROXIES: comma-separated IP addresses or CIDR networks.

    Raises:
        SettingsError: an entry is neither.
    """
    networks = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(
                f"TRUSTED_PROXIES: {entry!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _async_database_url(url: str) -> str:
    """Return `url` with an async driver, so plain `postgresql://` URLs work too."""
    for plain, async_driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql+psycopg2://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return async_driver + url[len(plain) :]
    return url


@dataclass(frozen=True)
class Settings:
    """Everything the web process and the account service can be configured with."""

    database_url: str = f"sqlite+aiosqlite:///{VAR_DIR / 'accounts.db'}"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://localhost:8000"
    rasa_url: str = "http://localhost:5005"
    rasa_api_url: str | None = None
    cgu_version: str = "2026-01"
    api_tokens: tuple[str, ...] = (DEFAULT_DEV_TOKEN,)
    smtp_url: str | None = None
    mail_from: str = "Espace client entreprise <ne-pas-repondre@espace-client.example>"
    outbox_dir: Path = VAR_DIR / "outbox"
    activation_period: timedelta = timedelta(days=30)
    purge_interval: timedelta = timedelta(hours=1)
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 11 * _MIB  # whole multipart body of an upload
    # Proxies whose X-Forwarded-For is honoured; empty: none, the peer is the client.
    trusted_proxies: tuple[Network, ...] = ()
    verify_max_failures: int = 5  # per conversation
    verify_max_failures_per_address: int = 20  # per client address
    verify_window: timedelta = timedelta(minutes=15)
    # How long a verified company lets its conversation check e-mail addresses.
    verified_conversation_ttl: timedelta = timedelta(hours=24)
    email_check_max_per_conversation: int = 10
    email_check_max_per_address: int = 30
    email_check_window: timedelta = timedelta(minutes=15)
    handoff_max_per_conversation: int = 3
    handoff_max_per_address: int = 10
    handoff_window: timedelta = timedelta(hours=1)
    resend_max_per_window: int = 3
    resend_window: timedelta = timedelta(hours=1)
    load_demo_contracts: bool = True
    # Fernet keys: the first encrypts, all decrypt. Empty: the local development key of
    # `document_key_file`, generated on the first start.
    document_keys: tuple[str, ...] = ()
    document_key_file: Path = VAR_DIR / "document.key"
    document_limits: DocumentLimits = field(default_factory=DocumentLimits)
    upload_ttl: timedelta = timedelta(hours=1)
    unclaimed_document_ttl: timedelta = timedelta(hours=24)
    document_retention: timedelta = timedelta(days=30)
    upload_max_per_window: int = 30
    upload_window: timedelta = timedelta(minutes=15)
    # Handoff to a human advisor and the agent console.
    rasa_token: str | None = None
    rasa_timeout: timedelta = timedelta(seconds=10)
    support_email: str = "espaces-clients@assureur.example"
    opening_hours: OpeningHours = field(default_factory=OpeningHours)
    agent_session_ttl: timedelta = timedelta(hours=12)
    agent_login_max_failures: int = 5  # per login
    agent_login_max_failures_per_client: int = 20  # per client address
    agent_login_window: timedelta = timedelta(minutes=15)
    # Inspection of documents: worker processes, files at once, seconds and memory each.
    inspection_workers: int = 2
    inspection_timeout: timedelta = timedelta(seconds=15)
    inspection_memory_bytes: int = 1024 * _MIB
    # Bearer token that opens /metrics to a scraper that is not on loopback; unset: none.
    metrics_token: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from environment variables (see the README's table)."""
        env = dict(os.environ if env is None else env)
        defaults = cls()
        tokens = tuple(
            token.strip() for token in env.get("ACCOUNT_API_TOKENS", "").split(",") if token.strip()
        )
        port = int(env.get("WEB_PORT", defaults.port))
        limits = DocumentLimits.from_env(env)
        return cls(
            database_url=_async_database_url(env.get("DATABASE_URL", defaults.database_url)),
            host=env.get("WEB_HOST", defaults.host),
            port=port,
            public_base_url=env.get("PUBLIC_BASE_URL", f"http://localhost:{port}").rstrip("/"),
            rasa_url=env.get("RASA_URL", defaults.rasa_url).rstrip("/"),
            rasa_api_url=(env.get("RASA_API_URL") or "").rstrip("/") or None,
            cgu_version=env.get("CGU_VERSION", defaults.cgu_version),
            api_tokens=tokens or defaults.api_tokens,
            smtp_url=env.get("SMTP_URL") or None,
            mail_from=env.get("MAIL_FROM", defaults.mail_from),
            outbox_dir=Path(env.get("OUTBOX_DIR", defaults.outbox_dir)),
            purge_interval=timedelta(
                seconds=int(
                    env.get(
                        "PURGE_INTERVAL_SECONDS",
                        defaults.purge_interval.total_seconds(),
                    )
                )
            ),
            load_demo_contracts=env.get("LOAD_DEMO_CONTRACTS", "1") not in ("0", "false", "no"),
            document_keys=parse_keys(env.get("DOCUMENT_KEYS", "")),
            document_limits=limits,
            # The body holds the file plus the multipart framing and the other fields.
            max_upload_bytes=max(defaults.max_upload_bytes, limits.max_bytes + _MIB),
            upload_ttl=_seconds(env, "UPLOAD_TTL_SECONDS", defaults.upload_ttl),
            upload_max_per_window=int(
                env.get("UPLOAD_MAX_PER_ADDRESS", defaults.upload_max_per_window)
            ),
            upload_window=_seconds(env, "UPLOAD_WINDOW_SECONDS", defaults.upload_window),
            unclaimed_document_ttl=_seconds(
                env, "UNCLAIMED_DOCUMENT_TTL_SECONDS", defaults.unclaimed_document_ttl
            ),
            document_retention=timedelta(
                days=int(env.get("DOCUMENT_RETENTION_DAYS", defaults.document_retention.days))
            ),
            rasa_token=env.get("RASA_TOKEN") or None,
            trusted_proxies=parse_trusted_proxies(env.get("TRUSTED_PROXIES", "")),
            support_email=env.get("SUPPORT_EMAIL", defaults.support_email),
            opening_hours=OpeningHours(
                env.get("ADVISOR_OPENING_HOURS", DEFAULT_HOURS),
                env.get("ADVISOR_HOLIDAYS", DEFAULT_HOLIDAYS),
            ),
            # Inspection of documents
            inspection_workers=int(env.get("INSPECTION_WORKERS", defaults.inspection_workers)),
            inspection_timeout=_seconds(
                env, "INSPECTION_TIMEOUT_SECONDS", defaults.inspection_timeout
            ),
            inspection_memory_bytes=int(
                env.get("INSPECTION_MEMORY_MB", defaults.inspection_memory_bytes // _MIB)
            )
            * _MIB,
            metrics_token=env.get("METRICS_TOKEN", "").strip() or None,
        )


def _seconds(env: dict[str, str], name: str, default: timedelta) -> timedelta:
    return timedelta(seconds=int(env.get(name, default.total_seconds())))
