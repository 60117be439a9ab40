"""Outgoing e-mail: the messages, built from templates, and their delivery over SMTP when
`SMTP_URL` is set, else as `.eml` files in OUTBOX_DIR.

Nothing here is sent by a request handler: the messages are stored in the `outbox` table
with what causes them, and bot/outbox.py delivers them (`send_bytes`)."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
from jinja2 import Environment, PackageLoader, select_autoescape

from bot.french import french_date, french_datetime

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class HandoffTicketEmail:
    """What the support cell reads about a ticket (a handoff no advisor could take
    live): why, the summary as the assistant masked it, and the console link; never a
    document."""

    to: str
    reference: str
    reason: str  # in French
    created_at: datetime
    company: str | None
    done: str
    blocking: str
    fields: list[tuple[str, str]]
    link: str
    opens_at: datetime | None
    why: str  # "en dehors des horaires d'ouverture …", "alors qu'aucun conseiller …"


class Mailer:
    """Sends e-mails; one instance per process, made by the app factory."""

    def __init__(
        self,
        smtp_url: str | None,
        outbox_dir: Path,
        sender: str,
        timeout: float = 15.0,
        support_contact: str = "",
    ) -> None:
        self._smtp = urlsplit(smtp_url) if smtp_url else None
        self._outbox = outbox_dir
        self._sender = sender
        self._envelope_sender = parseaddr(sender)[1]
        self.timeout = timeout  # of each SMTP operation, in seconds
        self._templates = Environment(
            loader=PackageLoader("bot", "templates/email"),
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
        )
        # « par e-mail à …, ou par téléphone au … »: where the e-mails send people.
        self._templates.globals["support_contact"] = support_contact

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

    def handoff_ticket_message(self, email: HandoffTicketEmail, now: datetime) -> EmailMessage:
        context = {
            "mail": email,
            "created": french_datetime(email.created_at),
            "opens": french_datetime(email.opens_at) if email.opens_at else None,
        }
        message = EmailMessage()
        message["Subject"] = f"Demande de mise en relation à reprendre ({email.reference})"
        message["From"] = self._sender
        message["To"] = email.to
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain="espace-client.example")
        message.set_content(self._templates.get_template("handoff_ticket.txt").render(context))
        return message

    async def send(self, message: EmailMessage) -> None:
        """Deliver the message; raises `OSError` or `aiosmtplib.SMTPException` on failure."""
        await self.send_bytes(message.as_bytes(), parseaddr(str(message["To"]))[1])

    async def send_bytes(self, data: bytes, recipient: str) -> None:
        """Deliver a message stored as bytes to `recipient`; raises `OSError` or
        `aiosmtplib.SMTPException` on failure."""
        if self._smtp is None:
            self._write_to_outbox(data)
            return
        scheme = self._smtp.scheme
        await aiosmtplib.send(
            data,
            sender=self._envelope_sender,
            recipients=[recipient],
            mail_options=[] if recipient.isascii() else ["SMTPUTF8"],
            hostname=self._smtp.hostname or "localhost",
            port=self._smtp.port or (465 if scheme == "smtps" else 25),
            username=unquote(self._smtp.username) if self._smtp.username else None,
            password=unquote(self._smtp.password) if self._smtp.password else None,
            use_tls=scheme == "smtps",
            start_tls=True if scheme == "smtp+starttls" else False,
            timeout=self.timeout,
        )

    def _write_to_outbox(self, data: bytes) -> None:
        self._outbox.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        partial = self._outbox / f".{name}.part"
        partial.write_bytes(data)
        os.replace(partial, self._outbox / name)
