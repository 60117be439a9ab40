"""Uploads and identity documents: stored encrypted, claimed by a registration, purged.

Contents, file names and names of people are never logged here: counts only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from bot.crypto import DocumentCipher
from bot.documents import CleanDocument
from bot.errors import DocumentAttached, DocumentUnavailable, NotFound, TooManyUploads
from bot.models import Account, Document, Upload
from bot.services import throttle

log = logging.getLogger(__name__)

UPLOAD = "upload"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_reference() -> str:
    return f"doc_{secrets.token_urlsafe(24)}"


async def admit_upload(
    session: AsyncSession,
    keys: str | Sequence[str],
    *,
    limit: int,
    window: timedelta,
    now: datetime,
) -> None:
    """Count an upload attempt against each key (the client's address, the
    conversation…), refused or not, unless one of them is over its limit.

    Raises:
        TooManyUploads: `limit` attempts already within the sliding window for a key.
    """
    keys = [keys] if isinstance(keys, str) else keys
    limits = {key: limit for key in keys}
    await throttle.reserve(session, UPLOAD, limits, now, window, TooManyUploads)


async def store_upload(
    session: AsyncSession,
    cipher: DocumentCipher,
    *,
    conversation_id: str,
    filename: str,
    content_type: str,
    data: bytes,
    now: datetime,
) -> str:
    """Store an uploaded file encrypted, as is, and return the token of its URL."""
    token = secrets.token_urlsafe(32)
    session.add(
        Upload(
            token_hash=hash_token(token),
            conversation_id=conversation_id,
            filename=filename,
            content_type=content_type,
            size=len(data),
            data=await asyncio.to_thread(cipher.encrypt, data),
            created_at=now,
        )
    )
    await session.commit()
    return token


async def read_upload(
    session: AsyncSession, cipher: DocumentCipher, token: str, *, ttl: timedelta, now: datetime
) -> bytes | None:
    """The decrypted bytes of an upload, or None when unknown or older than `ttl`."""
    data = (
        await session.execute(
            select(Upload.data).where(
                Upload.token_hash == hash_token(token), Upload.created_at > now - ttl
            )
        )
    ).scalar_one_or_none()
    if data is None:
        return None
    return await asyncio.to_thread(cipher.decrypt, data)


class UploadNotFound(NotFound):
    """One answer for an upload unknown, expired, already used or of another conversation."""

    code = "upload_not_found"
    message = (
        "Nous ne retrouvons pas ce fichier : il a expiré, a déjà été utilisé ou n'a pas été "
        "envoyé dans cette conversation. Envoyez-le de nouveau."
    )


@dataclass(frozen=True)
class ClaimedUpload:
    data: bytes
    filename: str


async def claim_upload(
    session: AsyncSession,
    cipher: DocumentCipher,
    token: str,
    conversation_id: str,
    *,
    ttl: timedelta,
    now: datetime,
) -> ClaimedUpload | None:
    """Take an upload of `conversation_id` out of the store: it is deleted now, whatever
    becomes of it (single use).

    Returns:
        Its decrypted bytes and file name, or None when the token is unknown, expired,
        already claimed or uploaded in another conversation (which keeps its upload).

    Raises:
        InvalidToken: the upload cannot be decrypted with the configured keys (it is
            deleted all the same).
    """
    row = (
        await session.execute(
            select(Upload.id, Upload.data, Upload.filename).where(
                Upload.token_hash == hash_token(token),
                Upload.conversation_id == conversation_id,
                Upload.created_at > now - ttl,
            )
        )
    ).first()
    if row is None:
        return None
    deleted = await session.execute(
        delete(Upload).where(Upload.id == row.id).execution_options(synchronize_session=False)
    )
    await session.commit()
    if deleted.rowcount != 1:
        return None  # claimed by a concurrent request meanwhile
    return ClaimedUpload(await asyncio.to_thread(cipher.decrypt, row.data), row.filename)


async def delete_upload(session: AsyncSession, token: str) -> None:
    await session.execute(delete(Upload).where(Upload.token_hash == hash_token(token)))
    await session.commit()


async def store_document(
    session: AsyncSession,
    cipher: DocumentCipher,
    document: CleanDocument,
    *,
    conversation_id: str,
    document_type: str,
    country: str | None,
    side: str,
    now: datetime,
) -> Document:
    """Store an inspected document encrypted, unclaimed until a registration uses it."""
    row = Document(
        reference=new_reference(),
        conversation_id=conversation_id,
        document_type=document_type,
        country=country,
        side=side,
        content_type=document.content_type,
        pages=document.pages,
        size=len(document.content),
        data=await asyncio.to_thread(cipher.encrypt, document.content),
        created_at=now,
    )
    session.add(row)
    await session.commit()
    return row


async def delete_unclaimed(session: AsyncSession, reference: str) -> None:
    """Delete a document no registration uses yet; unknown references are ignored.

    Raises:
        DocumentAttached: the document already belongs to an account.
    """
    deleted = await session.execute(
        delete(Document)
        .where(Document.reference == reference, Document.account_id.is_(None))
        .execution_options(synchronize_session=False)
    )
    if not deleted.rowcount:
        attached = await session.execute(select(Document.id).where(Document.reference == reference))
        if attached.first() is not None:
            raise DocumentAttached()
    await session.commit()


def _claimable(
    references: Sequence[str], conversation_id: str | None, *, ttl: timedelta, now: datetime
) -> list[Any]:
    conditions = [
        Document.reference.in_(list(references)),
        Document.account_id.is_(None),
        Document.created_at > now - ttl,
    ]
    if conversation_id is not None:
        conditions.append(Document.conversation_id == conversation_id)
    return conditions


async def ensure_claimable(
    session: AsyncSession,
    references: Sequence[str],
    conversation_id: str | None,
    *,
    ttl: timedelta,
    now: datetime,
) -> None:
    """Check that every reference names an unclaimed document stored less than `ttl`
    ago, in this conversation when one is given.

    Raises:
        DocumentUnavailable: one of them does not.
    """
    conditions = _claimable(references, conversation_id, ttl=ttl, now=now)
    found = (await session.execute(select(Document.reference).where(*conditions))).scalars()
    if set(found) != set(references):
        raise DocumentUnavailable()


async def attach(
    session: AsyncSession,
    references: Sequence[str],
    account_id: int,
    conversation_id: str | None,
    *,
    ttl: timedelta,
    now: datetime,
) -> bool:
    """Give the documents to the account (committed by the caller); False when one of
    them was claimed or deleted meanwhile."""
    claimed = await session.execute(
        update(Document)
        .where(*_claimable(references, conversation_id, ttl=ttl, now=now))
        .values(account_id=account_id, attached_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == len(references)


@dataclass(frozen=True)
class Purged:
    uploads: int
    unclaimed: int
    of_deleted_accounts: int
    past_retention: int


async def purge(
    session: AsyncSession,
    *,
    deleted_accounts: Select,
    upload_ttl: timedelta,
    unclaimed_ttl: timedelta,
    retention: timedelta,
    now: datetime,
) -> Purged:
    """Delete what is no longer needed (committed by the caller).

    Args:
        deleted_accounts: a SELECT of the ids of the accounts the caller is deleting;
            their documents go first, explicitly, whatever the database's cascades do.
        upload_ttl: uploads older than this are deleted.
        unclaimed_ttl: documents no registration claimed within this are deleted.
        retention: documents of accounts activated longer ago than this are deleted.
    """

    async def remove(*conditions: Any) -> int:
        result = await session.execute(
            delete(Document).where(*conditions).execution_options(synchronize_session=False)
        )
        return result.rowcount or 0

    uploads = await session.execute(
        delete(Upload)
        .where(Upload.created_at <= now - upload_ttl)
        .execution_options(synchronize_session=False)
    )
    activated_long_ago = select(Account.id).where(
        and_(Account.status == "active", Account.activated_at <= now - retention)
    )
    purged = Purged(
        uploads=uploads.rowcount or 0,
        unclaimed=await remove(
            Document.account_id.is_(None), Document.created_at <= now - unclaimed_ttl
        ),
        of_deleted_accounts=await remove(Document.account_id.in_(deleted_accounts)),
        past_retention=await remove(Document.account_id.in_(activated_long_ago)),
    )
    if any(astuple(purged)):
        log.info(
            "purged %d upload(s), %d unclaimed document(s), %d document(s) of deleted "
            "accounts, %d document(s) past retention",
            purged.uploads,
            purged.unclaimed,
            purged.of_deleted_accounts,
            purged.past_retention,
        )
    return purged
