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
    # The e-mail outbox (bot/outbox.py): timeout of each SMTP operation; how often the
    # sender looks for due e-mails when nothing woke it; the first and the longest delay
    # between attempts (doubled each time); after how long an e-mail is no longer tried;
    # how long a request waits for its e-mail to leave before answering.
    smtp_timeout: timedelta = timedelta(seconds=15)
    outbox_poll_interval: timedelta = timedelta(seconds=30)
    outbox_retry_min: timedelta = timedelta(seconds=30)
    outbox_retry_max: timedelta = timedelta(minutes=10)
    outbox_give_up_after: timedelta = timedelta(hours=48)
    outbox_send_wait: timedelta = timedelta(seconds=2)
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
    # As long as a conversation's session (domain.yml `session_expiration_time`): a
    # registration resumed within its session still finds its document.
    unclaimed_document_ttl: timedelta = timedelta(days=7)
    document_retention: timedelta = timedelta(days=30)
    # Retention of personal data (README, « Données personnelles »). The tracker store of
    # Rasa is purged too: its URL (a SQLite file in development, PostgreSQL in production).
    tracker_database_url: str = f"sqlite+aiosqlite:///{VAR_DIR / 'rasa' / 'tracker.db'}"
    # A conversation idle this long is deleted (the session expiry of domain.yml: after it
    # Rasa would start a new session anyway), unless its account is pending activation.
    conversation_retention: timedelta = timedelta(days=7)
    # The conversation of an activated account: kept this long after the activation.
    completed_conversation_retention: timedelta = timedelta(days=7)
    # Handoffs and tickets: this long after closing (after creation for one never closed).
    handoff_retention: timedelta = timedelta(days=30)
    # What is left of a sent e-mail (kind, recipient, dates: the message itself is blanked).
    sent_email_retention: timedelta = timedelta(days=30)
    # Answers to « Ces informations vous ont-elles été utiles ? » (their comment is free
    # text): this long after the latest answer.
    feedback_retention: timedelta = timedelta(days=30)
    # The audit log holds identifiers only; one year answers a person's or the CNIL's
    # questions about past accesses.
    audit_retention: timedelta = timedelta(days=365)
    upload_max_per_window: int = 30
    upload_window: timedelta = timedelta(minutes=15)
    # Handoff to a human advisor and the agent console.
    rasa_token: str | None = None
    rasa_timeout: timedelta = timedelta(seconds=10)
    # The support cell, named with its contact details wherever a text sends people to it.
    support_email: str = "espaces-clients@assureur.example"
    support_phone: str = "01 99 00 12 34"
    support_hours: str = "du lundi au vendredi, de 9 h à 18 h"
    opening_hours: OpeningHours = field(default_factory=OpeningHours)
    # A handoff still waiting this long becomes a ticket and the assistant resumes; how
    # often the web process looks (it also does at closing time).
    handoff_queue_max_wait: timedelta = timedelta(minutes=10)
    handoff_queue_poll_interval: timedelta = timedelta(seconds=30)
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

    @property
    def support_contact(self) -> str:
        """« par e-mail à …, ou par téléphone au … (du lundi au vendredi, de 9 h à 18 h) »,
        the same words as the assistant's (actions/config.py)."""
        phone = (
            f", ou par téléphone au {self.support_phone} ({self.support_hours})"
            if self.support_phone
            else ""
        )
        return f"par e-mail à {self.support_email}{phone}"

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
            smtp_timeout=_float_seconds(env, "SMTP_TIMEOUT_SECONDS", defaults.smtp_timeout),
            outbox_poll_interval=_float_seconds(
                env, "OUTBOX_POLL_SECONDS", defaults.outbox_poll_interval
            ),
            outbox_retry_min=_float_seconds(
                env, "OUTBOX_RETRY_MIN_SECONDS", defaults.outbox_retry_min
            ),
            outbox_retry_max=_float_seconds(
                env, "OUTBOX_RETRY_MAX_SECONDS", defaults.outbox_retry_max
            ),
            outbox_give_up_after=timedelta(
                hours=float(
                    env.get(
                        "OUTBOX_GIVE_UP_HOURS", defaults.outbox_give_up_after / timedelta(hours=1)
                    )
                )
            ),
            outbox_send_wait=_float_seconds(
                env, "OUTBOX_SEND_WAIT_SECONDS", defaults.outbox_send_wait
            ),
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
            tracker_database_url=_async_database_url(
                env.get("TRACKER_DATABASE_URL", defaults.tracker_database_url)
            ),
            conversation_retention=_days(
                env, "CONVERSATION_RETENTION_DAYS", defaults.conversation_retention
            ),
            completed_conversation_retention=_days(
                env,
                "COMPLETED_CONVERSATION_RETENTION_DAYS",
                defaults.completed_conversation_retention,
            ),
            handoff_retention=_days(env, "HANDOFF_RETENTION_DAYS", defaults.handoff_retention),
            sent_email_retention=_days(
                env, "SENT_EMAIL_RETENTION_DAYS", defaults.sent_email_retention
            ),
            audit_retention=_days(env, "AUDIT_RETENTION_DAYS", defaults.audit_retention),
            feedback_retention=_days(env, "FEEDBACK_RETENTION_DAYS", defaults.feedback_retention),
            rasa_token=env.get("RASA_TOKEN") or None,
            trusted_proxies=parse_trusted_proxies(env.get("TRUSTED_PROXIES", "")),
            support_email=env.get("SUPPORT_EMAIL", defaults.support_email),
            support_phone=env.get("SUPPORT_PHONE", defaults.support_phone).strip(),
            support_hours=env.get("SUPPORT_HOURS", defaults.support_hours).strip(),
            opening_hours=OpeningHours(
                env.get("ADVISOR_OPENING_HOURS", DEFAULT_HOURS),
                env.get("ADVISOR_HOLIDAYS", DEFAULT_HOLIDAYS),
            ),
            handoff_queue_max_wait=timedelta(
                minutes=float(
                    env.get(
                        "HANDOFF_QUEUE_MAX_WAIT_MINUTES",
                        defaults.handoff_queue_max_wait / timedelta(minutes=1),
                    )
                )
            ),
            handoff_queue_poll_interval=_float_seconds(
                env, "HANDOFF_QUEUE_POLL_SECONDS", defaults.handoff_queue_poll_interval
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


def _float_seconds(env: dict[str, str], name: str, default: timedelta) -> timedelta:
    return timedelta(seconds=float(env.get(name, default.total_seconds())))


def _days(env: dict[str, str], name: str, default: timedelta) -> timedelta:
    """A number of days (0: at the next purge run, a test and operations aid)."""
    return timedelta(days=float(env.get(name, default.days)))
