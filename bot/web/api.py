"""Handlers of the account API: parse input, call a service, shape the answer."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from aiohttp import web

from bot import identifiers
from bot.crypto import InvalidToken
from bot.documents import DocumentRefused
from bot.errors import (
    DocumentNotAccepted,
    EmailTaken,
    InternalError,
    InvalidField,
    InvalidJson,
    MissingIdempotencyKey,
    PayloadTooLarge,
    UnknownHandoffReason,
    UnsupportedMediaType,
)
from bot.french import PARIS
from bot.inspection import INSPECTOR
from bot.mailer import HandoffTicketEmail
from bot.metrics import METRICS
from bot.models import Account, Handoff, OutboxMessage
from bot.opening_hours import opening_text
from bot.outbox import OUTBOX
from bot.schemas import (
    HANDOFF_REASONS,
    ConversationEraseIn,
    DocumentClaimIn,
    DocumentIn,
    EmailCheckIn,
    FeedbackIn,
    HandoffIn,
    HandoffLeaveIn,
    RegistrationIn,
    ResendIn,
    VerifyCompanyIn,
    invalid_fields,
    parse,
)
from bot.services import accounts, agents, documents, feedback, handoffs
from bot.web.forms import FILE_FIELD, file_too_large, read_form
from bot.web.keys import CIPHER, CLOCK, MAILER, POLICY, SESSIONS, SETTINGS
from bot.web.middlewares import CLIENT_ID
from bot.web.responses import json_response

log = logging.getLogger(__name__)

RESEND_ANSWER = (
    "Si un espace client en attente d'activation correspond à cette adresse, un nouvel "
    "e-mail d'activation lui est envoyé. Le lien précédent ne fonctionne plus."
)


async def read_json(request: web.Request) -> Any:
    """Read a JSON body of at most `max_body_bytes`, with French errors for bad input."""
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"La requête dépasse la taille maximale de {limit // 1024} Kio.")
    body = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"La requête dépasse la taille maximale de {limit // 1024} Kio.")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson() from None


async def verify_company(request: web.Request) -> web.Response:
    payload = parse(VerifyCompanyIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        name = await accounts.verify_company(
            session,
            payload.siren,
            payload.contract_number,
            conversation_id=payload.conversation_id,
            client_address=payload.client_address,
            client_id=request[CLIENT_ID],
            policy=request.app[POLICY],
            now=request.app[CLOCK](),
        )
    return json_response(
        {"siren": payload.siren, "contract_number": payload.contract_number, "company_name": name}
    )


async def check_email(request: web.Request) -> web.Response:
    payload = parse(EmailCheckIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        await accounts.admit_email_check(
            session,
            conversation_id=payload.conversation_id,
            client_address=payload.client_address,
            client_id=request[CLIENT_ID],
            policy=request.app[POLICY],
            now=request.app[CLOCK](),
        )
        taken = await accounts.email_taken_by_other(
            session,
            payload.email,
            payload.last_name,
            payload.first_name,
            date.fromisoformat(payload.birth_date),
        )
    answer: dict[str, Any] = {
        "email": payload.email,
        "available": not taken,
        "role_mailbox": identifiers.is_role_mailbox(payload.email),
    }
    if taken:
        request.app[METRICS].refused(EmailTaken())
        answer["reason"] = EmailTaken().to_json()["error"]
    return json_response(answer)


def _activation_link(request: web.Request, token: str) -> str:
    return f"{request.app[SETTINGS].public_base_url}/activate/{token}"


def _activation_message(request: web.Request) -> accounts.ActivationMessage:
    """How the service builds the activation e-mail it queues with the account or link."""
    mailer, policy, now = request.app[MAILER], request.app[POLICY], request.app[CLOCK]()

    def build(account: Account, token: str) -> EmailMessage:
        mail = accounts.activation_email(account, _activation_link(request, token), policy)
        return mailer.activation_message(mail, now)

    return build


async def _deliver(request: web.Request, emails: list[OutboxMessage]) -> bool:
    """After the commit that queued `emails`: let them leave now, and tell whether they
    did within OUTBOX_SEND_WAIT_SECONDS (else they leave once SMTP answers)."""
    return await request.app[OUTBOX].deliver(emails, request.app[SETTINGS].outbox_send_wait)


async def create_registration(request: web.Request) -> web.Response:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not 1 <= len(key) <= 128:
        raise MissingIdempotencyKey()
    payload = parse(RegistrationIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        registered, email = await accounts.register(
            session,
            payload,
            key,
            activation_message=_activation_message(request),
            client_id=request[CLIENT_ID],
            policy=request.app[POLICY],
            now=request.app[CLOCK](),
        )
    if not registered.replayed:
        request.app[METRICS].accounts_created.inc()
    email_sent = await _deliver(request, [email]) if email is not None else None
    body = {
        "registration_id": registered.account_id,
        "login": registered.login,
        "status": registered.status,
        "email_masked": identifiers.mask_email(registered.email),
        "created_at": registered.created_at.isoformat(),
        "activation_deadline": registered.activation_deadline.isoformat(),
        "replayed": registered.replayed,
    }
    if email_sent is not None:
        body["activation_email_sent"] = email_sent
    return json_response(body, status=200 if registered.replayed else 201)


async def resend_activation(request: web.Request) -> web.Response:
    payload = parse(ResendIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        emails = await accounts.reissue_tokens(
            session,
            payload.email,
            activation_message=_activation_message(request),
            policy=request.app[POLICY],
            now=request.app[CLOCK](),
        )
    await _deliver(request, emails)
    return json_response({"message": RESEND_ANSWER}, status=202)


async def create_document(request: web.Request) -> web.Response:
    """Inspect an identity document once, in a worker process, and store it.

    The file is either an upload of the widget, claimed by its token in a JSON body (and
    deleted whatever the outcome), or the bytes of a provider's media in a multipart
    form. A two-page PDF sent as a front is stored as the full document.
    """
    settings = request.app[SETTINGS]
    limits = settings.document_limits
    filename: str | None
    if request.content_type == "application/json":
        claim = parse(DocumentClaimIn, await read_json(request))
        payload: DocumentIn = claim
        async with request.app[SESSIONS]() as session:
            try:
                claimed = await documents.claim_upload(
                    session,
                    request.app[CIPHER],
                    claim.upload,
                    claim.conversation_id,
                    ttl=request.app[POLICY].upload_ttl,
                    now=request.app[CLOCK](),
                )
            except InvalidToken:
                log.error("an upload cannot be decrypted: is its key still in DOCUMENT_KEYS?")
                raise InternalError() from None
        if claimed is None:
            raise documents.UploadNotFound()
        data, filename = claimed.data, claimed.filename
    else:
        form = await read_form(
            request,
            max_bytes=settings.max_upload_bytes,
            too_large=file_too_large(limits.max_bytes),
        )
        no_file = []
        if form.file is None:
            no_file = [{"field": FILE_FIELD, "message": "est obligatoire."}]
        try:
            payload = parse(DocumentIn, form.fields)
        except InvalidField as error:
            raise invalid_fields([*error.details.get("fields", []), *no_file]) from None
        if form.file is None:
            raise invalid_fields(no_file)
        data, filename = form.file.data, form.file.filename
    try:
        clean = await request.app[INSPECTOR].inspect(data, filename, limits)
    except DocumentRefused as refusal:
        raise DocumentNotAccepted(refusal.message, reason=refusal.code) from None
    side = payload.side
    if side == "front" and clean.content_type == "application/pdf" and clean.pages >= 2:
        side = "full"  # both faces in one file
    async with request.app[SESSIONS]() as session:
        row = await documents.store_document(
            session,
            request.app[CIPHER],
            clean,
            conversation_id=payload.conversation_id,
            document_type=payload.document_type,
            country=payload.country,
            side=side,
            now=request.app[CLOCK](),
        )
    return json_response(
        {
            "reference": row.reference,
            "document_type": row.document_type,
            "country": row.country,
            "side": row.side,
            "content_type": row.content_type,
            "pages": row.pages,
            "size": row.size,
        },
        status=201,
    )


async def delete_document(request: web.Request) -> web.Response:
    """Delete a document the user replaced; one already in an account stays (409)."""
    reference = request.match_info["reference"]
    if len(reference) <= 64:
        async with request.app[SESSIONS]() as session:
            await documents.delete_unclaimed(session, reference)
    return web.Response(status=204)


async def erase_conversation(request: web.Request) -> web.Response:
    """« Annuler »: the conversation's unclaimed documents, uploads and closed handoffs
    go; the counts say what went."""
    from bot import privacy

    payload = parse(ConversationEraseIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        counts = await privacy.erase_conversation(
            session, payload.conversation_id, actor="assistant", now=request.app[CLOCK]()
        )
    return json_response({"erased": counts})


# The handoff's status as the assistant knows it.
_HANDOFF_STATUS = {
    handoffs.WAITING: "queued",
    handoffs.TICKET: "ticket",
    handoffs.ACTIVE: "active",
}


def console_link(app: web.Application, handoff: Handoff) -> str:
    return f"{app[SETTINGS].public_base_url}/agent/handoffs/{handoff.reference}"


def ticket_message(app: web.Application, now: datetime, opens_at: datetime | None, why: str) -> Any:
    """How the service builds the support cell's e-mail it queues with a new ticket."""
    mailer = app[MAILER]

    def build(handoff: Handoff) -> EmailMessage:
        summary = handoffs.summary_of(handoff)
        mail = HandoffTicketEmail(
            to=app[SETTINGS].support_email,
            reference=handoff.reference,
            reason=handoffs.REASONS[handoff.reason],
            created_at=handoff.created_at,
            company=summary["company"],
            done=summary["done"],
            blocking=summary["blocking"],
            fields=[(str(f.get("label", "")), str(f.get("value", ""))) for f in summary["fields"]],
            link=console_link(app, handoff),
            opens_at=opens_at,
            why=why,
        )
        return mailer.handoff_ticket_message(mail, now)

    return build


async def create_handoff(request: web.Request) -> web.Response:
    """Queue a conversation for an advisor, or make a ticket when none can answer live:
    outside opening hours, or while no advisor is logged in to the console."""
    body = await read_json(request)
    reason = body.get("reason") if isinstance(body, dict) else None
    if isinstance(reason, str) and reason.strip() not in HANDOFF_REASONS:
        raise UnknownHandoffReason()
    payload = parse(HandoffIn, body)
    hours, now = request.app[SETTINGS].opening_hours, request.app[CLOCK]()
    within_hours = hours.is_open(now)
    async with request.app[SESSIONS]() as session:
        advisors_open = within_hours and await agents.any_logged_in(session, now)
        # Outside hours, when the cell opens again; within them, as soon as one logs in.
        opens_at = None if within_hours else hours.next_opening(now)
        why = handoffs.NO_ADVISOR if within_hours else handoffs.OUTSIDE_HOURS
        opened = await handoffs.open_handoff(
            session,
            payload,
            advisors_open=advisors_open,
            now=now,
            limits=request.app[POLICY].handoff_limits,
            ticket_message=None
            if advisors_open
            else ticket_message(request.app, now, opens_at, why),
        )
    handoff = opened.handoff
    if opened.created:
        request.app[METRICS].handoffs.labels(handoff.reason).inc()
    if handoff.status != handoffs.TICKET:
        opens_at = None
    if opened.email is not None:
        await _deliver(request, [opened.email])
    return json_response(
        {
            "id": handoff.reference,
            "status": _HANDOFF_STATUS[handoff.status],
            "position": opened.position,
            "opens_at": opens_at.astimezone(PARIS).isoformat() if opens_at else None,
            "opens_at_text": opening_text(opens_at, now) if opens_at else None,
        },
        status=201 if opened.created else 200,
    )


async def leave_handoff_queue(request: web.Request) -> web.Response:
    """The person left the queue (« Revenir à l'assistant », seen by the Rasa process
    before the paused conversation would ignore it): a waiting handoff is closed."""
    payload = parse(HandoffLeaveIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        handoff = await handoffs.leave(session, payload.conversation_id, request.app[CLOCK]())
    status = "left" if handoff.status == handoffs.CLOSED else _HANDOFF_STATUS[handoff.status]
    return json_response({"id": handoff.reference, "status": status})


async def record_feedback(request: web.Request) -> web.Response:
    """« Ces informations vous ont-elles été utiles ? »: one answer per conversation."""
    payload = parse(FeedbackIn, await read_json(request))
    async with request.app[SESSIONS]() as session:
        recorded = await feedback.record(session, payload, request.app[CLOCK]())
    return json_response({"id": recorded.feedback_id}, status=201 if recorded.created else 200)
