"""Async client of the account service, shared by every action of the action server.

One aiohttp session per process, a timeout on every call, and retries on network
errors and 5xx answers; registrations are retried with the same idempotency key, so a
retry never creates a second account.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.documents import CleanDocument

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = (
    "Le service d'inscription est momentanément indisponible. Vos informations sont "
    "conservées : vous pourrez réessayer dans quelques instants."
)


class AccountServiceError(Exception):
    """The service refused the request; `message` is French and can be shown to the user."""

    def __init__(self, code: str, message: str, status: int, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details


class ServiceUnavailable(AccountServiceError):
    """The service could not be reached or failed after every retry."""

    def __init__(self) -> None:
        super().__init__("service_unavailable", UNAVAILABLE_MESSAGE, 503, {})


@dataclass(frozen=True)
class EmailCheck:
    email: str
    available: bool
    role_mailbox: bool
    reason: str | None


@dataclass(frozen=True)
class Handoff:
    """A request for a human advisor: queued now, or a ticket for the next opening."""

    reference: str
    status: str
    position: int | None
    opens_at_text: str | None


@dataclass(frozen=True)
class Registration:
    registration_id: int
    login: str
    status: str
    email_masked: str
    activation_deadline: str
    replayed: bool


class AccountServiceClient:
    """Calls `/api/v1` of the account service with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.3,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls) -> AccountServiceClient:
        return cls(
            os.environ.get("ACCOUNT_SERVICE_URL", "http://127.0.0.1:8000"),
            os.environ.get("ACCOUNT_API_TOKEN", "dev-local-token"),
            timeout=float(os.environ.get("ACCOUNT_SERVICE_TIMEOUT", "5")),
        )

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(
        self, path: str, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        return await self._send("POST", path, lambda: {"json": payload, "headers": headers})

    async def _send(
        self, method: str, path: str, request: Callable[[], dict[str, Any]]
    ) -> tuple[int, dict[str, Any]]:
        """Send `request()` (fresh on each attempt: a multipart body is read once)."""
        for attempt in range(self._retries + 1):
            try:
                async with self._http().request(
                    method, self._base_url + path, **request()
                ) as response:
                    body = {} if response.status == 204 else await response.json(content_type=None)
                    if response.status < 500:
                        return response.status, body
                    log.warning("account service answered %s on %s", response.status, path)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                log.warning("account service unreachable on %s: %s", path, type(exc).__name__)
            if attempt < self._retries:
                await asyncio.sleep(self._backoff * (2**attempt))
        raise ServiceUnavailable()

    @staticmethod
    def _raise_for(status: int, body: dict[str, Any]) -> None:
        if status >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise AccountServiceError(
                error.get("code", "error"),
                error.get("message", UNAVAILABLE_MESSAGE),
                status,
                {k: v for k, v in error.items() if k not in ("code", "message")},
            )

    async def verify_company(
        self, siren: str, contract_number: str, conversation_id: str | None = None
    ) -> str:
        """Return the company name of a matching SIREN/contract pair.

        Raises:
            AccountServiceError: `company_not_verified`, `too_many_attempts`, `invalid_field`.
            ServiceUnavailable: the service cannot be reached.
        """
        status, body = await self._post(
            "/api/v1/companies/verify",
            {
                "siren": siren,
                "contract_number": contract_number,
                "conversation_id": conversation_id,
            },
        )
        self._raise_for(status, body)
        return str(body["company_name"])

    async def check_email(
        self, email: str, last_name: str, first_name: str, birth_date: str
    ) -> EmailCheck:
        """Tell whether `email` is free for this person and whether it is a role mailbox."""
        status, body = await self._post(
            "/api/v1/emails/check",
            {
                "email": email,
                "last_name": last_name,
                "first_name": first_name,
                "birth_date": birth_date,
            },
        )
        self._raise_for(status, body)
        reason = body.get("reason") or {}
        return EmailCheck(
            email=body["email"],
            available=bool(body["available"]),
            role_mailbox=bool(body["role_mailbox"]),
            reason=reason.get("message"),
        )

    async def create_registration(
        self, registration: dict[str, Any], idempotency_key: str
    ) -> Registration:
        """Create the account (or get the one this key already created).

        Raises:
            AccountServiceError: the registration is refused (its message says why).
            ServiceUnavailable: the service cannot be reached after the retries.
        """
        status, body = await self._post(
            "/api/v1/registrations", registration, headers={"Idempotency-Key": idempotency_key}
        )
        self._raise_for(status, body)
        return Registration(
            registration_id=body["registration_id"],
            login=body["login"],
            status=body["status"],
            email_masked=body["email_masked"],
            activation_deadline=body["activation_deadline"],
            replayed=body["replayed"],
        )

    async def store_document(
        self,
        document: CleanDocument,
        *,
        conversation_id: str,
        document_type: str,
        country: str | None,
        side: str,
    ) -> str:
        """Store an inspected identity document (encrypted by the service); its reference.

        Raises:
            AccountServiceError: `document_refused` (the service's own inspection).
            ServiceUnavailable: the service cannot be reached.
        """

        def request() -> dict[str, Any]:
            form = aiohttp.FormData()
            form.add_field("conversation_id", conversation_id[:100])
            form.add_field("document_type", document_type)
            if document_type == "passport" and country:
                form.add_field("country", country)
            form.add_field("side", side)
            form.add_field(
                "file",
                io.BytesIO(document.content),
                filename=f"document.{document.extension}",
                content_type=document.content_type,
            )
            return {"data": form}

        status, body = await self._send("POST", "/api/v1/documents", request)
        self._raise_for(status, body)
        return str(body["reference"])

    async def delete_document(self, reference: str) -> None:
        """Delete a document the user replaced or abandoned; best effort."""
        try:
            status, _ = await self._send("DELETE", f"/api/v1/documents/{reference}", lambda: {})
        except ServiceUnavailable:
            log.info("document not deleted now; the purge will remove it")
            return
        if status >= 400 and status != 409:
            log.warning("document deletion answered %s", status)

    async def resend_activation(self, email: str) -> str:
        """Ask for a new activation e-mail; the answer is the same for any address."""
        status, body = await self._post("/api/v1/activations/resend", {"email": email})
        self._raise_for(status, body)
        return str(body["message"])

    async def create_handoff(self, handoff: dict[str, Any]) -> Handoff:
        """Queue the conversation for an advisor (a ticket outside opening hours).

        Raises:
            AccountServiceError: the request is refused (malformed).
            ServiceUnavailable: the service cannot be reached after the retries.
        """
        status, body = await self._post("/api/v1/handoffs", handoff)
        self._raise_for(status, body)
        return Handoff(
            reference=str(body["id"]),
            status=str(body["status"]),
            position=body.get("position"),
            opens_at_text=body.get("opens_at_text"),
        )


_client: AccountServiceClient | None = None


def account_service() -> AccountServiceClient:
    """The process-wide client, made on first use (inside the action server's loop)."""
    global _client
    if _client is None:
        _client = AccountServiceClient.from_env()
    return _client
