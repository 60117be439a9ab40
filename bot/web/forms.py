"""Reading multipart/form-data bodies (a file and a few text fields) within a size cap.

The body is streamed part by part and counted as it comes, so aiohttp's
`client_max_size` (the 64 KiB cap of the JSON routes) does not apply, and nothing is
written to a temporary file: an upload is only ever stored encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from bot.errors import InvalidUpload, PayloadTooLarge, UnsupportedMediaType

FILE_FIELD = "file"
MAX_PARTS = 16
MAX_FIELD_BYTES = 4 * 1024
_CHUNK = 64 * 1024

MALFORMED = "Le corps de la requête multipart/form-data est mal formé."
NOT_MULTIPART = "Le fichier doit être envoyé au format multipart/form-data, dans le champ « file »."


@dataclass(frozen=True)
class FilePart:
    data: bytes
    filename: str | None  # as sent by the client: to be cleaned before any use
    content_type: str | None  # as declared by the client


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]
    file: FilePart | None


def file_too_large(max_file_bytes: int) -> PayloadTooLarge:
    """The refusal of an oversize upload, stating the file size limit users must meet."""
    megabytes = f"{max_file_bytes / (1024 * 1024):.1f}".removesuffix(".0").replace(".", ",")
    return PayloadTooLarge(
        f"Le fichier est trop volumineux : la taille maximale est de {megabytes} Mo. "
        "Envoyez une photo de plus basse résolution ou un scan PDF compressé."
    )


async def read_form(request: web.Request, *, max_bytes: int, too_large: PayloadTooLarge) -> Form:
    """Read the `file` part and the text fields of a multipart body of at most `max_bytes`.

    Raises:
        UnsupportedMediaType: the body is not multipart/form-data.
        PayloadTooLarge: `too_large`, as soon as the body is known to exceed `max_bytes`.
        InvalidUpload: the body is malformed, has too many parts, a field twice, or a
            text field that is too long or not UTF-8.
    """
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(NOT_MULTIPART)
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    fields: dict[str, str] = {}
    file: FilePart | None = None
    received = 0
    try:
        reader = await request.multipart()
        for _ in range(MAX_PARTS + 1):
            part = await reader.next()
            if part is None:
                return Form(fields, file)
            if not isinstance(part, BodyPartReader):
                raise InvalidUpload(MALFORMED)  # nested multipart
            name = part.name or ""
            if name in fields or (name == FILE_FIELD and file is not None):
                raise InvalidUpload(f"Le champ « {name} » est envoyé plusieurs fois.")
            limit = max_bytes - received if name == FILE_FIELD else MAX_FIELD_BYTES
            data = await _read_part(part, limit)
            if data is None:
                if name == FILE_FIELD:
                    raise too_large
                raise InvalidUpload(f"Le champ « {name} » est trop long.")
            received += len(data)
            if name == FILE_FIELD:
                file = FilePart(data, part.filename, part.headers.get("Content-Type"))
            else:
                fields[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUpload("Les champs texte doivent être encodés en UTF-8.") from None
    except (ValueError, AssertionError):
        # aiohttp's multipart parser reports malformed bodies with these.
        raise InvalidUpload(MALFORMED) from None
    raise InvalidUpload(f"La requête compte trop de parties ({MAX_PARTS} au plus).")


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None as soon as they exceed `limit`."""
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            return None
    return bytes(data)
