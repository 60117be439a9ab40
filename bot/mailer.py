"""Outgoing e-mail: over SMTP when `SMTP_URL` is set, else as `.eml` files in the outbox."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import aiosmtplib
from jinja2 import Environment, PackageLoader, select_autoescape

log = logging.getLogger(__name__)
PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def french_date(moment: datetime) -> str:
    """Return '26 décembre 2026' for a moment, in Paris time."""
    local = moment.astimezone(PARIS)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


@dataclass(frozen=True)
class ActivationEmail:
    """What the activation e-mail says; built by the registration service."""

    to: str
    first_name: str
    last_name: str
    civility: str
    company_name: str
    login: str
    link: str
    deadline: datetime


class Mailer:
    """Sends e-mails; one instance per process, made by the app factory."""

    def __init__(self, smtp_url: str | None, outbox_dir: Path, sender: str) -> None:
        self._smtp = urlsplit(smtp_url) if smtp_url else None
        self._outbox = outbox_dir
        self._sender = sender
        self._templates = Environment(
            loader=PackageLoader("bot", "templates/email"),
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
        )

    def activation_message(self, email: ActivationEmail, now: datetime) -> EmailMessage:
        context = {"mail": email, "deadline": french_date(email.deadline)}
        message = EmailMessage()
        message["Subject"] = "Activez votre espace client entreprise"
        message["From"] = self._sender
        message["To"] = email.to
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain="espace-client.example")
        message.set_content(self._templates.get_template("activation.txt").render(context))
        message.add_alternative(
            self._templates.get_template("activation.html").render(context), subtype="html"
        )
        return message

    async def send(self, message: EmailMessage) -> None:
        """Deliver the message; raises `OSError` or `aiosmtplib.SMTPException` on failure."""
        if self._smtp is None:
            self._write_to_outbox(message)
            return
        scheme = self._smtp.scheme
        await aiosmtplib.send(
            message,
            hostname=self._smtp.hostname or "localhost",
            port=self._smtp.port or (465 if scheme == "smtps" else 25),
            username=unquote(self._smtp.username) if self._smtp.username else None,
            password=unquote(self._smtp.password) if self._smtp.password else None,
            use_tls=scheme == "smtps",
            start_tls=True if scheme == "smtp+starttls" else False,
            timeout=15,
        )

    def _write_to_outbox(self, message: EmailMessage) -> None:
        self._outbox.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        partial = self._outbox / f".{name}.part"
        partial.write_bytes(message.as_bytes())
        os.replace(partial, self._outbox / name)
