"""Inspection of an uploaded identity document: type, size, integrity and active content.

`inspect_document` is pure: no I/O, and it logs nothing itself (pypdf may log parser
warnings about a malformed PDF, which never carry the file name). It returns a
`CleanDocument` ready to be stored, or raises `DocumentRefused` whose `code` is stable for
machines and whose `message` is a French sentence that can be shown to the user as is.
The type is decided by the content (magic bytes), never by the name or the declared type.
Images are decoded and re-encoded without any metadata; PDFs are parsed, never rendered,
refused when anything in them runs on opening or on a click, and rewritten without their
metadata (document information and XMP). Any exception raised while parsing becomes a
refusal. It is CPU-bound (a quarter of a second for a 12-megapixel JPEG, a second or more
for a PNG that large) and allocates what the image needs: the web process runs it in a
worker process with a memory limit (`bot.inspection`).
"""

from __future__ import annotations

import io
import os
import re
import resource
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

_KIB = 1024
_MIB = 1024 * 1024

_SEND = "Envoyez une photo (JPEG ou PNG) ou un scan PDF de votre pièce d'identité."

# Malformed images make Pillow raise any of these while opening or decoding.
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
# pypdf has no single error type for hostile input: besides its own errors, its parser
# raises ValueError, KeyError, RecursionError, struct.error, zlib.error, and
# NotImplementedError for a filter it does not know (/FooDecode, /JBIG2Decode). Every
# one of them, and whatever a later version adds, means "unreadable": see `_inspect_pdf`.
# Dictionaries and arrays visited in a PDF before it is deemed too complex; a four-page
# scan has a few dozen, a four-page document exported from an office suite a few thousand.
_MAX_PDF_NODES = 50_000


@dataclass(frozen=True)
class DocumentLimits:
    """What an uploaded document may weigh and measure."""

    min_bytes: int = 10 * _KIB
    max_bytes: int = 10 * _MIB
    max_pixels: int = 40_000_000  # decoded image size limit (decompression bombs)
    min_side: int = 400  # shorter side of an image, in pixels: below it, unreadable
    max_pdf_pages: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DocumentLimits:
        """Read `DOCUMENT_MIN_BYTES`, `DOCUMENT_MAX_BYTES`, `DOCUMENT_MAX_PIXELS`,
        `DOCUMENT_MIN_SIDE` and `DOCUMENT_MAX_PDF_PAGES` (from `os.environ` by default).

        Raises:
            ValueError: a variable is not a positive integer, or the minimum size exceeds
                the maximum.
        """
        source = os.environ if env is None else env
        defaults = cls()

        def read(name: str, default: int) -> int:
            raw = source.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{name} must be an integer, got {raw!r}") from None
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
            return value

        limits = cls(
            min_bytes=read("DOCUMENT_MIN_BYTES", defaults.min_bytes),
            max_bytes=read("DOCUMENT_MAX_BYTES", defaults.max_bytes),
            max_pixels=read("DOCUMENT_MAX_PIXELS", defaults.max_pixels),
            min_side=read("DOCUMENT_MIN_SIDE", defaults.min_side),
            max_pdf_pages=read("DOCUMENT_MAX_PDF_PAGES", defaults.max_pdf_pages),
        )
        if limits.min_bytes > limits.max_bytes:
            raise ValueError("DOCUMENT_MIN_BYTES must not exceed DOCUMENT_MAX_BYTES")
        return limits


@dataclass(frozen=True)
class CleanDocument:
    """An accepted document, safe to store and to show to a human."""

    content: bytes  # images: re-encoded without metadata; PDF: rewritten without metadata
    content_type: str  # "image/png" | "image/jpeg" | "application/pdf"
    extension: str  # "png" | "jpg" | "pdf"
    pages: int  # 1 for an image
    width: int | None = None  # images only, after the EXIF orientation is applied
    height: int | None = None


class DocumentRefused(ValueError):
    """The document cannot be accepted; `message` tells the user what to send instead."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[DocumentRefused], tuple[str, str]]:
        # Lets the exception cross a process pool executor intact.
        return (DocumentRefused, (self.code, self.message))


@dataclass(frozen=True)
class _Accepted:
    content_type: str
    extension: str
    label: str


_ACCEPTED = {
    "png": _Accepted("image/png", "png", "une image PNG"),
    "jpeg": _Accepted("image/jpeg", "jpg", "une image JPEG"),
    "pdf": _Accepted("application/pdf", "pdf", "un document PDF"),
}
_EXTENSIONS = {
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "jfif": "jpeg",
    "pdf": "pdf",
}
_FILENAME_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")

_OFFICE_ADVICE = (
    "Enregistrez-le au format PDF (menu Fichier, puis Enregistrer sous ou Exporter) et "
    "envoyez ce PDF, ou envoyez une photo (JPEG ou PNG) de votre pièce d'identité."
)
# Refused formats we recognise: (label, advice) for the message.
_REFUSED: dict[str, tuple[str, str]] = {
    "gif": ("une image GIF", _SEND),
    "svg": ("une image vectorielle SVG", _SEND),
    "html": (
        "une page web (HTML)",
        "Envoyez le document lui-même plutôt qu'une page enregistrée depuis votre "
        "navigateur : une photo (JPEG ou PNG) ou un scan PDF de votre pièce d'identité.",
    ),
    "zip": (
        "une archive ZIP",
        "Envoyez le fichier lui-même, sans le compresser : une photo (JPEG ou PNG) ou un "
        "scan PDF de votre pièce d'identité.",
    ),
    "word": ("un document Word", _OFFICE_ADVICE),
    "excel": ("un classeur Excel", _OFFICE_ADVICE),
    "powerpoint": ("une présentation PowerPoint", _OFFICE_ADVICE),
    "opendocument": ("un document LibreOffice (OpenDocument)", _OFFICE_ADVICE),
    "office": ("un document Microsoft Office", _OFFICE_ADVICE),
    "heic": (
        "une photo HEIC (le format des photos d'iPhone)",
        "Envoyez-la plutôt en JPEG : faites une capture d'écran de la photo et envoyez "
        "cette capture, ou choisissez « Le plus compatible » dans Réglages > Appareil "
        "photo > Formats puis reprenez la photo. Un scan PDF de votre pièce d'identité "
        "convient aussi.",
    ),
    "avif": ("une image AVIF", _SEND),
    "webp": ("une image WebP", _SEND),
    "bmp": ("une image BMP", _SEND),
    "tiff": (
        "une image TIFF",
        "Si elle vient d'un scanner, choisissez le format PDF ou JPEG dans ses réglages, "
        "ou envoyez une photo (JPEG ou PNG) de votre pièce d'identité.",
    ),
    "video": ("une vidéo", _SEND),
}

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<script")
_JPEG_FRAME_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE}

# Keys and action types that make a PDF do something rather than show something, with
# what the user is told the file contains.
_ACTIVE_KEYS = {
    "/JavaScript": "du code JavaScript",
    "/JS": "du code JavaScript",
    "/Launch": "une commande qui lance un programme",
    "/EmbeddedFiles": "des fichiers joints",
    "/EmbeddedFile": "des fichiers joints",
    "/RichMedia": "du contenu multimédia interactif",
    "/XFA": "un formulaire dynamique (XFA)",
    "/AcroForm": "un formulaire",
    "/AA": "des actions automatiques",
    "/SubmitForm": "un formulaire qui envoie des données",
    "/ImportData": "un formulaire qui importe des données",
}
_LINK = "un lien qui s'ouvre d'un clic"
_ACTIVE_ACTIONS = {
    "/JavaScript": "du code JavaScript",
    "/Launch": "une commande qui lance un programme",
    "/SubmitForm": "un formulaire qui envoie des données",
    "/ImportData": "un formulaire qui importe des données",
    "/ResetForm": "un formulaire",
    "/RichMediaExecute": "du contenu multimédia interactif",
    "/URI": "un lien vers une adresse internet",
    "/GoToR": "un lien vers un autre fichier",
    "/GoToE": "un lien vers un fichier joint",
    "/Rendition": "du contenu multimédia interactif",
    "/Sound": "du contenu multimédia interactif",
    "/Movie": "du contenu multimédia interactif",
    "/Named": "une commande du lecteur PDF",
    "/Hide": "une action qui masque une partie du document",
}
_ACTIVE_SUBTYPES = {
    "/FileAttachment": "des fichiers joints",
    "/RichMedia": "du contenu multimédia interactif",
    "/Screen": "du contenu multimédia interactif",
    "/Widget": "un formulaire",
}
# Anything set to run when the document opens, even a plain /GoTo action: a destination
# (an array) is the only harmless /OpenAction.
_OPENING = "une action qui s'exécute à l'ouverture"


def inspect_document(
    data: bytes, filename: str | None, limits: DocumentLimits = DocumentLimits()
) -> CleanDocument:
    """Check an uploaded identity document and return what may be stored.

    Args:
        data: the uploaded bytes.
        filename: the name the user's device gave the file, only used to catch an
            extension that contradicts the content; never logged nor stored here.
        limits: sizes, pixel count and page count allowed.

    Returns:
        The document: a PNG or JPEG re-encoded without metadata and turned upright, or
        the PDF rewritten without its document information and XMP metadata.

    Raises:
        DocumentRefused: with one of the codes `empty`, `too_small`, `too_large`,
            `unsupported_type`, `extension_mismatch`, `polyglot`, `decompression_bomb`,
            `truncated`, `low_resolution`, `pdf_invalid`, `pdf_encrypted`,
            `pdf_too_many_pages`, `pdf_active_content`, `too_complex` (out of memory).
    """
    if not data:
        raise DocumentRefused("empty", f"Le fichier reçu est vide. {_SEND}")
    if len(data) > limits.max_bytes:
        raise DocumentRefused(
            "too_large",
            f"Ce fichier dépasse la taille maximale de {_size_label(limits.max_bytes)}. "
            "Envoyez une photo de plus basse résolution (JPEG ou PNG) ou un scan PDF "
            "compressé de votre pièce d'identité.",
        )
    kind = _detect(data)
    if kind not in _ACCEPTED:
        raise _unsupported(kind)
    accepted = _ACCEPTED[kind]
    extension = _extension(filename)
    if extension is not None and _EXTENSIONS.get(extension) != kind:
        raise DocumentRefused(
            "extension_mismatch",
            f"Ce fichier porte l'extension .{extension} mais c'est en réalité "
            f"{accepted.label}. Renommez-le en .{accepted.extension} avant de l'envoyer, "
            "ou envoyez le fichier d'origine de votre pièce d'identité (photo JPEG ou PNG, "
            "ou scan PDF).",
        )
    if len(data) < limits.min_bytes:
        raise DocumentRefused(
            "too_small",
            f"Ce fichier est trop petit (moins de {_size_label(limits.min_bytes)}) pour "
            "que votre pièce d'identité y soit lisible. Envoyez une photo nette (JPEG ou "
            "PNG) ou un scan PDF de votre pièce d'identité.",
        )
    if _is_zip(data) or (kind == "png" and _png_has_trailing_data(data)):
        raise DocumentRefused(
            "polyglot",
            "Ce fichier cache d'autres données derrière l'image ou le document (par exemple "
            "une archive ZIP ajoutée à la fin) : pour des raisons de sécurité, nous ne "
            "pouvons pas l'accepter. Envoyez la photo ou le scan d'origine de votre pièce "
            "d'identité (JPEG, PNG ou PDF).",
        )
    try:
        if kind == "pdf":
            content, pages = _inspect_pdf(data, limits)
            return CleanDocument(
                content=content,
                content_type=accepted.content_type,
                extension=accepted.extension,
                pages=pages,
            )
        return _clean_image(data, kind, accepted, limits)
    except DocumentRefused:
        raise
    except MemoryError:
        raise too_complex() from None
    except Exception:  # noqa: BLE001  (a parser's surprise on a hostile file is a refusal)
        if kind == "pdf":
            raise DocumentRefused("pdf_invalid", _PDF_INVALID) from None
        raise _truncated() from None


def limit_worker(memory_bytes: int) -> None:
    """Initializer of a worker process of `bot.inspection`: an address-space cap, and a
    lower CPU priority so that the web process keeps the CPU."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    os.nice(10)


def inspect_in_worker(data: bytes, filename: str | None, limits: DocumentLimits) -> CleanDocument:
    """`inspect_document` in a worker process: every failure comes back as a refusal."""
    try:
        return inspect_document(data, filename, limits)
    except DocumentRefused:
        raise
    except MemoryError:
        raise too_complex() from None
    except Exception:  # noqa: BLE001  (inspect_document refuses already: belt and braces)
        raise DocumentRefused("unreadable", f"Ce fichier est illisible. {_SEND}") from None


def _size_label(size: int) -> str:
    """`10 Mo`, `1,5 Mo`, `10 Ko`: binary multiples, as file managers show them."""
    if size >= _MIB:
        value, unit = size / _MIB, "Mo"
    else:
        value, unit = size / _KIB, "Ko"
    return f"{round(value, 1):g} {unit}".replace(".", ",")


def _pixels_label(pixels: int) -> str:
    if pixels >= 1_000_000:
        return f"{round(pixels / 1_000_000, 1):g} millions de pixels".replace(".", ",")
    return f"{pixels:,} pixels".replace(",", " ")


def _extension(filename: str | None) -> str | None:
    """The lower-case extension of the file's base name, if it looks like one."""
    if not filename:
        return None
    base = re.split(r"[\\/]", filename)[-1]
    match = _FILENAME_EXTENSION.search(base)
    if match is None or match.start() == 0:
        return None
    return match.group(1).lower()


def _detect(data: bytes) -> str | None:
    """The format of `data` from its first bytes: a key of `_ACCEPTED` or `_REFUSED`."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _zip_kind(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "office"
    if head[4:8] == b"ftyp":  # ISO media file: HEIF/AVIF still image, or a video
        major = head[8:12]
        compatible = {head[i : i + 4] for i in range(16, min(len(head), 48), 4)}
        if major in _AVIF_BRANDS:
            return "avif"
        if ({major} | compatible) & _HEIF_BRANDS:
            return "heic"
        if compatible & _AVIF_BRANDS:
            return "avif"
        return "video"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and head[14:18] in {
        struct.pack("<I", size) for size in (12, 40, 52, 56, 64, 108, 124)
    }:
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return _markup_kind(data[:2048])


def _markup_kind(text: bytes) -> str | None:
    """SVG or HTML, whatever the prologue, comments or byte order mark before them."""
    lowered = text.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not lowered.startswith(b"<"):
        return None
    if lowered.startswith((b"<svg", b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in lowered:
        return "svg"
    if lowered.startswith(_HTML_STARTS) or (
        lowered.startswith((b"<?xml", b"<!--")) and b"<html" in lowered
    ):
        return "html"
    return None


def _zip_kind(data: bytes) -> str:
    """Office documents are ZIP archives: name them by what they hold."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "zip"
    for prefix, kind in (("word/", "word"), ("xl/", "excel"), ("ppt/", "powerpoint")):
        if any(name.startswith(prefix) for name in names):
            return kind
    if "mimetype" in names and any(name == "content.xml" for name in names):
        return "opendocument"
    return "zip"


def _unsupported(kind: str | None) -> DocumentRefused:
    if kind is None or kind not in _REFUSED:
        return DocumentRefused(
            "unsupported_type",
            f"Ce type de fichier n'est pas accepté (nous n'avons pas reconnu son contenu). {_SEND}",
        )
    label, advice = _REFUSED[kind]
    return DocumentRefused(
        "unsupported_type", f"Ce fichier est {label} : ce format n'est pas accepté. {advice}"
    )


def _is_zip(data: bytes) -> bool:
    try:
        return zipfile.is_zipfile(io.BytesIO(data))
    except (OSError, ValueError, struct.error):
        return False


def _png_chunks_end(data: bytes) -> int | None:
    """The offset just after the IEND chunk, or None if the chunk list is cut short."""
    position = 8
    while position + 8 <= len(data):
        length, chunk_type = struct.unpack(">I4s", data[position : position + 8])
        position += 12 + length
        if chunk_type == b"IEND":
            return position if position <= len(data) else None
    return None


def _png_has_trailing_data(data: bytes) -> bool:
    end = _png_chunks_end(data)
    return end is not None and end < len(data)


def _image_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height declared by the header, read without decoding anything."""
    if kind == "png":
        if data[12:16] != b"IHDR" or len(data) < 24:
            return None
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_FRAME_MARKERS:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


def _truncated() -> DocumentRefused:
    return DocumentRefused(
        "truncated",
        "Cette image est incomplète ou endommagée (son envoi a peut-être été interrompu). "
        "Envoyez-la de nouveau, ou envoyez une autre photo (JPEG ou PNG) ou un scan PDF de "
        "votre pièce d'identité.",
    )


def _clean_image(
    data: bytes, kind: str, accepted: _Accepted, limits: DocumentLimits
) -> CleanDocument:
    """Decode the whole image, turn it upright and re-encode it without metadata."""
    truncated = _truncated()
    size = _image_size(data, kind)
    if size is None or (kind == "png" and _png_chunks_end(data) is None):
        raise truncated
    # Checked on the header, before Pillow allocates anything.
    _check_pixels(*size, limits)
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG" if kind == "png" else "JPEG"])
    except _IMAGE_ERRORS:
        raise truncated from None
    with image:
        _check_pixels(image.width, image.height, limits)
        if min(image.size) < limits.min_side:
            raise DocumentRefused(
                "low_resolution",
                f"Cette image est trop petite ({image.width} × {image.height} pixels) pour "
                "que votre pièce d'identité y soit lisible : il faut au moins "
                f"{limits.min_side} pixels sur le plus petit côté. Envoyez une photo plus "
                "nette, prise de plus près, ou un scan PDF de votre pièce d'identité.",
            )
        try:
            image.load()
        except _IMAGE_ERRORS:
            raise truncated from None
        upright = _upright(image)
    clean = _without_metadata(upright, kind)
    output = io.BytesIO()
    if kind == "jpeg":
        clean.save(output, "JPEG", quality=90, optimize=True, exif=b"", icc_profile=None)
    else:
        # zlib level 3, not optimize=True: on a noisy 12-megapixel scan, level 6 takes three
        # times as long for a file 8 % smaller, and optimize=True (level 9) longer still.
        clean.save(output, "PNG", compress_level=3, icc_profile=None)
    return CleanDocument(
        content=output.getvalue(),
        content_type=accepted.content_type,
        extension=accepted.extension,
        pages=1,
        width=clean.width,
        height=clean.height,
    )


def _check_pixels(width: int, height: int, limits: DocumentLimits) -> None:
    # Never above Pillow's own threshold (read, never changed), so that Pillow's
    # DecompressionBombWarning or error cannot fire on an image we would accept.
    limit = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    if width * height > limit:
        raise DocumentRefused(
            "decompression_bomb",
            f"Cette image est beaucoup trop grande ({_pixels_label(width * height)}, pour "
            f"{_pixels_label(limit)} au plus) pour être traitée. Envoyez une "
            "photo de plus basse résolution (JPEG ou PNG) ou un scan PDF de votre pièce "
            "d'identité.",
        )


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as is if its EXIF is unreadable."""
    try:
        return ImageOps.exif_transpose(image)
    except _IMAGE_ERRORS:
        return image.copy()


def _without_metadata(image: Image.Image, kind: str) -> Image.Image:
    """The pixels in a mode the target format stores plainly, with no metadata left."""
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if kind == "jpeg":
        clean = image if image.mode in ("L", "RGB") else image.convert("RGB")
    elif image.mode in ("L", "RGB", "RGBA") and not (has_alpha and image.mode != "RGBA"):
        clean = image
    elif has_alpha:
        clean = image.convert("RGBA")
    elif image.mode.startswith("I;16"):
        clean = image.convert("I").point(lambda value: value / 256).convert("L")
    elif image.mode in ("1", "I", "F"):
        clean = image.convert("L")
    else:
        clean = image.convert("RGB")
    # EXIF, GPS, ICC profile, XMP, text chunks and comments all live in `info`; `image` is
    # the caller's own copy, so it may be cleared in place.
    clean.info.clear()
    return clean


_PDF_INVALID = (
    "Ce fichier PDF est endommagé, vide ou illisible. Enregistrez-le de nouveau puis "
    "envoyez-le, ou envoyez une photo (JPEG ou PNG) de votre pièce d'identité."
)


def too_complex() -> DocumentRefused:
    """The refusal of a file whose inspection exceeds its time or memory."""
    return DocumentRefused(
        "too_complex",
        "Ce fichier est trop complexe pour être vérifié dans un délai raisonnable. Envoyez "
        "une photo plus légère (JPEG ou PNG) ou un simple scan PDF de votre pièce "
        "d'identité.",
    )


def _inspect_pdf(data: bytes, limits: DocumentLimits) -> tuple[bytes, int]:
    """Parse the PDF without rendering it; return it without metadata and its page count."""
    try:
        encrypted, pages, found, reader = _read_pdf(data, limits)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001  (whatever pypdf raises on a hostile file: unreadable)
        encrypted, pages, found, reader = False, 0, None, None
    if encrypted:
        raise DocumentRefused(
            "pdf_encrypted",
            "Ce PDF est protégé par un mot de passe ou chiffré. Enregistrez-le sans mot de "
            "passe (par exemple avec Imprimer > Enregistrer au format PDF) puis envoyez-le "
            "de nouveau, ou envoyez une photo (JPEG ou PNG) de votre pièce d'identité.",
        )
    if pages > limits.max_pdf_pages:
        raise DocumentRefused(
            "pdf_too_many_pages",
            f"Ce PDF compte {pages} pages, et nous n'en acceptons que {limits.max_pdf_pages} "
            "au plus (le recto et le verso de votre pièce d'identité suffisent). Envoyez un "
            "PDF qui ne contient que votre pièce d'identité, ou une photo (JPEG ou PNG).",
        )
    if pages == 0 or found is None or reader is None:
        raise DocumentRefused("pdf_invalid", _PDF_INVALID)
    if found:
        raise DocumentRefused(
            "pdf_active_content",
            f"Ce PDF contient {found}, ce que nous n'acceptons pas pour des raisons de "
            "sécurité. Envoyez un simple scan PDF (sans lien, formulaire, pièce jointe ni "
            "script) ou une photo (JPEG ou PNG) de votre pièce d'identité.",
        )
    try:
        return _without_pdf_metadata(reader), pages
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001  (a file pypdf reads but cannot write back)
        raise DocumentRefused("pdf_invalid", _PDF_INVALID) from None


def _read_pdf(
    data: bytes, limits: DocumentLimits
) -> tuple[bool, int, str | None, PdfReader | None]:
    """Whether the PDF is encrypted, its page count, its active content and the reader,
    stopping at the first reason to refuse it; raises whatever pypdf raises on a
    malformed file."""
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        return True, 0, "", None
    pages = len(reader.pages)
    if pages == 0 or pages > limits.max_pdf_pages:
        return False, pages, "", None
    return False, pages, _find_active_content(reader), reader


def _without_pdf_metadata(reader: PdfReader) -> bytes:
    """The PDF written again without its document information nor its XMP streams."""
    writer = PdfWriter(clone_from=reader)
    writer.pdf_header = reader.pdf_header
    info = writer.metadata
    if info is not None:
        info.clear()
    writer.metadata = None
    writer.xmp_metadata = None
    for page in writer.pages:
        if "/Metadata" in page:
            del page[NameObject("/Metadata")]
    writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _find_active_content(reader: PdfReader) -> str | None:
    """What active content the PDF holds ("" if none, None if it is too large to tell).

    Walks every object reachable from the trailer, plus every object of the
    cross-reference table (an unreachable object costs nothing to check and some readers
    rebuild a broken table differently), resolving indirect references once each.
    """
    stack: list[Any] = [reader.trailer]
    for generation, entries in reader.xref.items():
        stack.extend(IndirectObject(idnum, generation, reader) for idnum in entries)
    stack.extend(IndirectObject(idnum, 0, reader) for idnum in reader.xref_objStm)
    visited: set[tuple[int, int]] = set()
    budget = _MAX_PDF_NODES
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            reference = (node.idnum, node.generation)
            if reference in visited:
                continue
            visited.add(reference)
            node = node.get_object()
        if isinstance(node, DictionaryObject):
            found = _active_in(node)
            if found:
                return found
            children = list(dict.values(node))
        elif isinstance(node, ArrayObject):
            children = list(node)
        else:
            continue
        budget -= 1
        if budget < 0:
            return None
        stack.extend(
            child
            for child in children
            if isinstance(child, (IndirectObject, DictionaryObject, ArrayObject))
        )
    return ""


def _active_in(node: DictionaryObject) -> str | None:
    """What in this one dictionary runs on opening or on a click, if anything."""
    for key in dict.keys(node):
        if key in _ACTIVE_KEYS:
            return _ACTIVE_KEYS[key]
    opening = _resolve(node, "/OpenAction")
    if isinstance(opening, DictionaryObject):  # an action; a destination is an array
        return _ACTIVE_ACTIONS.get(_resolve(opening, "/S"), _OPENING)
    action = _resolve(node, "/S")
    if action in _ACTIVE_ACTIONS:
        return _ACTIVE_ACTIONS[action]
    subtype = _resolve(node, "/Subtype")
    if subtype in _ACTIVE_SUBTYPES:
        return _ACTIVE_SUBTYPES[subtype]
    if subtype == "/Link" and "/A" in node:
        return _LINK
    return None


def _resolve(node: DictionaryObject, key: str) -> Any:
    value = dict.get(node, key)
    return value.get_object() if isinstance(value, IndirectObject) else value
