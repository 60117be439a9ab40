"""Async client of the account service, shared by every action of the action server.

One aiohttp session per process, a timeout on every call, and retries on network
errors and 5xx answers; registrations are retried with the same idempotency key, so a
retry never creates a second account. Documents are not retried once sent (a claimed
upload is consumed by the service whatever the outcome) and have a longer timeout: the
service inspects the file in a worker process before it answers.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = (
    "Le service d'inscription est momentanément indisponible. Vos informations sont "
    "conservées : vous pourrez réessayer dans quelques instants."
)


# The longest client address the service may receive (an IPv6 address with a zone).
MAX_CLIENT_ADDRESS = 64


def client_address(message: Mapping[str, Any] | None) -> str | None:
    """The client's address that the public web channels put in a user message's
    metadata (`client_address`); None when absent (messaging channels) or not a string."""
    metadata = message.get("metadata") if isinstance(message, Mapping) else None
    if not isinstance(metadata, Mapping):
        return None
    address = metadata.get("client_address")
    if isinstance(address, str) and 0 < len(address) <= MAX_CLIENT_ADDRESS:
        return address
    return None


def _with_address(payload: dict[str, Any], address: str | None) -> dict[str, Any]:
    return {**payload, "client_address": address} if address is not None else payload


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
class StoredDocument:
    """An identity document the service inspected and stored (encrypted)."""

    reference: str
    side: str  # "front" | "back" | "full" (a front whose PDF holds both sides: "full")
    pages: int
    content_type: str


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
        document_timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.3,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._document_timeout = aiohttp.ClientTimeout(total=document_timeout)
        self._retries = retries
        self._backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls) -> AccountServiceClient:
        return cls(
            os.environ.get("ACCOUNT_SERVICE_URL", "http://127.0.0.1:8000"),
            os.environ.get("ACCOUNT_API_TOKEN", "dev-local-token"),
            timeout=float(os.environ.get("ACCOUNT_SERVICE_TIMEOUT", "5")),
            document_timeout=float(os.environ.get("ACCOUNT_SERVICE_DOCUMENT_TIMEOUT", "30")),
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
        self,
        method: str,
        path: str,
        request: Callable[[], dict[str, Any]],
        *,
        once: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Send `request()` (fresh on each attempt: a multipart body is read once).

        With `once`, the request is retried only when the connection could not be made
        (nothing was sent), never after the service may have acted on it.
        """
        # Logged without the document's reference.
        route = "/api/v1/documents/{reference}" if path.startswith("/api/v1/documents/") else path
        for attempt in range(self._retries + 1):
            try:
                async with self._http().request(
                    method, self._base_url + path, **request()
                ) as response:
                    body = {} if response.status == 204 else await response.json(content_type=None)
                    if response.status < 500:
                        return response.status, body
                    # The route only: never a reference, a body or a message.
                    log.warning("account service answered %s on %s", response.status, route)
                    if once:
                        break
            except aiohttp.ClientConnectorError as exc:
                log.warning("account service unreachable on %s: %s", route, type(exc).__name__)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                log.warning("account service unreachable on %s: %s", route, type(exc).__name__)
                if once:
                    break
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
        self,
        siren: str,
        contract_number: str,
        conversation_id: str | None = None,
        client_address: str | None = None,
    ) -> str:
        """Return the company name of a matching SIREN/contract pair.

        Raises:
            AccountServiceError: `company_not_verified`, `too_many_attempts`, `invalid_field`.
            ServiceUnavailable: the service cannot be reached.
        """
        status, body = await self._post(
            "/api/v1/companies/verify",
            _with_address(
                {
                    "siren": siren,
                    "contract_number": contract_number,
                    "conversation_id": conversation_id,
                },
                client_address,
            ),
        )
        self._raise_for(status, body)
        return str(body["company_name"])

    async def check_email(
        self,
        email: str,
        last_name: str,
        first_name: str,
        birth_date: str,
        *,
        conversation_id: str | None = None,
        client_address: str | None = None,
    ) -> EmailCheck:
        """Tell whether `email` is free for this person and whether it is a role mailbox."""
        payload: dict[str, Any] = {
            "email": email,
            "last_name": last_name,
            "first_name": first_name,
            "birth_date": birth_date,
        }
        if conversation_id is not None:
            payload["conversation_id"] = conversation_id
        status, body = await self._post(
            "/api/v1/emails/check", _with_address(payload, client_address)
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

    async def claim_upload(
        self,
        token: str,
        *,
        conversation_id: str,
        document_type: str,
        country: str | None,
        side: str,
        client_address: str | None = None,
    ) -> StoredDocument:
        """Have the service inspect and store a file of its own upload store, which it
        gives only to the conversation that uploaded it, and consumes (single use).

        Raises:
            AccountServiceError: `upload_not_found` (unknown, expired, used, or another
                conversation's), `document_refused` (the inspection's French message).
            ServiceUnavailable: the service cannot be reached.
        """
        payload = _with_address(
            {
                "upload": token,
                "conversation_id": conversation_id,
                "document_type": document_type,
                "country": country if document_type == "passport" else None,
                "side": side,
            },
            client_address,
        )
        status, body = await self._send(
            "POST",
            "/api/v1/documents",
            lambda: {"json": payload, "timeout": self._document_timeout},
            once=True,
        )
        self._raise_for(status, body)
        return self._stored(body)

    async def store_document(
        self,
        data: bytes,
        *,
        filename: str | None,
        content_type: str | None,
        conversation_id: str,
        document_type: str,
        country: str | None,
        side: str,
        client_address: str | None = None,
    ) -> StoredDocument:
        """Send the bytes of a provider's media to be inspected and stored (encrypted).

        Raises:
            AccountServiceError: `document_refused` (the inspection's French message).
            ServiceUnavailable: the service cannot be reached.
        """

        def request() -> dict[str, Any]:
            form = aiohttp.FormData()
            form.add_field("conversation_id", conversation_id[:100])
            form.add_field("document_type", document_type)
            if document_type == "passport" and country:
                form.add_field("country", country)
            form.add_field("side", side)
            if client_address is not None:
                form.add_field("client_address", client_address)
            form.add_field(
                "file",
                io.BytesIO(data),
                filename=(filename or "document")[-100:],
                content_type=content_type or "application/octet-stream",
            )
            return {"data": form, "timeout": self._document_timeout}

        status, body = await self._send("POST", "/api/v1/documents", request, once=True)
        self._raise_for(status, body)
        return self._stored(body)

    @staticmethod
    def _stored(body: dict[str, Any]) -> StoredDocument:
        return StoredDocument(
            reference=str(body["reference"]),
            side=str(body.get("side") or ""),
            pages=int(body.get("pages") or 1),
            content_type=str(body.get("content_type") or ""),
        )

    async def delete_document(self, reference: str) -> None:
        """Delete a document the user replaced or abandoned; best effort."""
        try:
            status, _ = await self._send("DELETE", f"/api/v1/documents/{reference}", lambda: {})
        except ServiceUnavailable:
            log.info("document not deleted now; the purge will remove it")
            return
        if status >= 400 and status != 409:
            log.warning("document deletion answered %s", status)

    async def erase_conversation(self, conversation_id: str) -> dict[str, int] | None:
        """« Annuler »: delete the conversation's unclaimed documents, uploads and closed
        handoffs; the counts deleted, or None when the service could not do it now (the
        purge removes them later)."""
        try:
            status, body = await self._post(
                "/api/v1/conversations/erase", {"conversation_id": conversation_id[:128]}
            )
        except ServiceUnavailable:
            log.info("conversation not erased now; the purge will remove its documents")
            return None
        if status != 200:
            log.warning("conversation erasure answered %s", status)
            return None
        erased = body.get("erased") or {}
        return {kind: int(erased.get(kind) or 0) for kind in ("documents", "uploads", "handoffs")}

    async def resend_activation(self, email: str) -> str:
        """Ask for a new activation e-mail; the answer is the same for any address."""
        status, body = await self._post("/api/v1/activations/resend", {"email": email})
        self._raise_for(status, body)
        return str(body["message"])

    async def send_feedback(
        self, conversation_id: str, useful: bool, comment: str | None = None
    ) -> bool:
        """Record the answer to « Ces informations vous ont-elles été utiles ? » (a second
        call for the same conversation updates it); False when it could not be recorded."""
        payload = {"conversation_id": conversation_id[:128], "useful": useful, "comment": comment}
        try:
            status, _ = await self._post("/api/v1/feedback", payload)
        except ServiceUnavailable:
            return False
        if status >= 400:
            log.warning("feedback answered %s", status)
            return False
        return True

    async def create_handoff(
        self, handoff: dict[str, Any], *, client_address: str | None = None
    ) -> Handoff:
        """Queue the conversation for an advisor (a ticket outside opening hours).

        Raises:
            AccountServiceError: the request is refused (malformed).
            ServiceUnavailable: the service cannot be reached after the retries.
        """
        status, body = await self._post("/api/v1/handoffs", _with_address(handoff, client_address))
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
