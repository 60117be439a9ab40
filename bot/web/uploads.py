"""The upload store: the chat widget posts a file, the action server fetches it once.

`POST /uploads` is public and throttled per client address; it stores the file encrypted
as it came, without looking at it, bound to the web conversation of its `sender_id`. The
account service inspects it once, when the assistant claims it for that conversation
(`POST /api/v1/documents` with its token), and deletes it then. Reading and deleting an
upload need the API bearer token.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import unquote

from aiohttp import web

from bot import identifiers
from bot.crypto import InvalidToken
from bot.errors import InternalError, InvalidUpload, NotFound
from bot.services import documents
from bot.web.forms import file_too_large, read_form
from bot.web.keys import CIPHER, CLOCK, POLICY, SESSIONS, SETTINGS
from bot.web.middlewares import address_key
from bot.web.responses import json_response

log = logging.getLogger(__name__)

MAX_FILENAME = 100
MAX_SENDER_ID = 128
MAX_TOKEN = 128
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,47}/[a-z0-9][a-z0-9!#$&^_.+-]{0,47}")

NO_FILE = "Aucun fichier n'a été reçu : joignez-le dans le champ « file »."
EMPTY_FILE = "Le fichier reçu est vide : envoyez-le de nouveau."
NO_SENDER = (
    "L'identifiant de la conversation est obligatoire : champ « sender_id », de 1 à 128 caractères."
)
UPLOAD_GONE = "Ce fichier n'existe pas ou a expiré : il doit être envoyé de nouveau."


def clean_filename(name: str | None) -> str:
    """The base name of `name`, without path, control characters or surrounding blanks,
    at most 100 characters long (the extension is kept when cutting).

    Percent-escapes are decoded first: some clients (aiohttp's among them) send names
    percent-encoded, browsers send them as they are.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", unquote(name or "")))[-1]
    base = "".join(char for char in base if unicodedata.category(char)[0] != "C").strip()
    if base in ("", ".", ".."):
        return "fichier"
    if len(base) <= MAX_FILENAME:
        return base
    stem, dot, extension = base.rpartition(".")
    if dot and stem and len(extension) <= 10:
        return stem[: MAX_FILENAME - len(extension) - 1].rstrip() + "." + extension
    return base[:MAX_FILENAME]


def clean_content_type(declared: str | None) -> str:
    media_type = (declared or "").split(";")[0].strip().lower()
    return media_type if _MEDIA_TYPE.fullmatch(media_type) else "application/octet-stream"


async def create_upload(request: web.Request) -> web.Response:
    settings, policy, now = request.app[SETTINGS], request.app[POLICY], request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        await documents.admit_upload(
            session,
            address_key(request),
            limit=policy.upload_max_per_window,
            window=policy.upload_window,
            now=now,
        )
    form = await read_form(
        request,
        max_bytes=settings.max_upload_bytes,
        too_large=file_too_large(settings.document_limits.max_bytes),
    )
    sender_id = form.fields.get("sender_id", "").strip()
    if not 1 <= len(sender_id) <= MAX_SENDER_ID:
        raise InvalidUpload(NO_SENDER)
    conversation_id = identifiers.web_conversation_id(sender_id)
    if form.file is None:
        raise InvalidUpload(NO_FILE)
    if not form.file.data:
        raise InvalidUpload(EMPTY_FILE)
    filename = clean_filename(form.file.filename)
    content_type = clean_content_type(form.file.content_type)
    async with request.app[SESSIONS]() as session:
        token = await documents.store_upload(
            session,
            request.app[CIPHER],
            # The conversation Rasa's web channels give this sender: the one that claims it.
            conversation_id=conversation_id,
            filename=filename,
            content_type=content_type,
            data=form.file.data,
            now=now,
        )
    return json_response(
        {
            "url": f"{settings.public_base_url}/uploads/{token}",
            "filename": filename,
            "content_type": content_type,
            "size": len(form.file.data),
        },
        status=201,
    )


async def read_upload(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    data = None
    if len(token) <= MAX_TOKEN:
        async with request.app[SESSIONS]() as session:
            try:
                data = await documents.read_upload(
                    session,
                    request.app[CIPHER],
                    token,
                    ttl=request.app[POLICY].upload_ttl,
                    now=request.app[CLOCK](),
                )
            except InvalidToken:
                log.error("an upload cannot be decrypted: is its key still in DOCUMENT_KEYS?")
                raise InternalError() from None
    if data is None:
        raise NotFound(UPLOAD_GONE)
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": "attachment",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def delete_upload(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if len(token) <= MAX_TOKEN:
        async with request.app[SESSIONS]() as session:
            await documents.delete_upload(session, token)
    return web.Response(status=204)
