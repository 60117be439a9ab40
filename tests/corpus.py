"""A corpus of uploaded identity documents, accepted and refused, built in memory.

Every sample is deterministic (seeded noise, fixed dates and identifiers) and realistic
enough to be pushed through the upload endpoint and the conversation as well as through
`inspect_document`: photos and scans are ID-card sized (1000 × 640) and noisy like a
camera's output, so they weigh what real ones weigh.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFont
from PIL.ExifTags import GPS, IFD, Base
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    NameObject,
    TextStringObject,
)

CARD_SIZE = (1000, 640)
MAX_BYTES = 10 * 1024 * 1024
_SCAN_DATE = time.strptime("2026-01-14 10:15", "%Y-%m-%d %H:%M")  # Pillow wants a struct_time
_ZIP_DATE = (2026, 1, 14, 10, 15, 0)
_PDF_ID = ByteStringObject(bytes(range(16)))


@dataclass(frozen=True)
class Sample:
    """One uploaded file and the refusal code it must get (None: accepted)."""

    filename: str
    data: bytes
    code: str | None


def build_corpus() -> dict[str, Sample]:
    """Every sample by name; built once per process (about half a second), then copied."""
    return dict(_build())


@lru_cache(maxsize=1)
def _build() -> tuple[tuple[str, Sample], ...]:
    front = card(seed=1)
    back = card(seed=2, side="verso")
    png = _png(card(seed=3, noise=8))
    jpeg = _jpeg(front)
    one_page = _pdf(front)
    half = front.resize((500, 320))
    samples = {
        # Accepted.
        "png_scan": Sample("cni-recto.png", png, None),
        "jpeg_photo_with_exif": Sample("IMG_20260114_101532.jpg", phone_photo(front), None),
        "jpeg_scan_uppercase_extension": Sample("SCAN0001.JPEG", jpeg, None),
        "pdf_one_page": Sample("scan-cni.pdf", one_page, None),
        "pdf_recto_verso": Sample("cni-recto-verso.pdf", _pdf(front, back), None),
        "pdf_opens_at_first_page": Sample("cni.pdf", _pdf_opening_at_first_page(one_page), None),
        # Refused for their size.
        "empty": Sample("photo.jpg", b"", "empty"),
        "jpeg_too_small": Sample(
            "photo.jpg", _jpeg(card(4, size=(500, 320), noise=0), 15), "too_small"
        ),
        "oversize": Sample("scan-1200dpi.jpg", _padded(jpeg, MAX_BYTES + 1), "too_large"),
        "decompression_bomb": Sample("carte.png", _png_bomb(20_000, 20_000), "decompression_bomb"),
        "low_resolution": Sample(
            "vignette.png", _png(card(seed=5).resize((200, 128))), "low_resolution"
        ),
        # Refused for their type, or a name that lies about it.
        "png_named_pdf": Sample("carte-identite.pdf", png, "extension_mismatch"),
        "gif": Sample("carte.gif", _gif(half), "unsupported_type"),
        "svg": Sample("carte.svg", _svg(half), "unsupported_type"),
        "html": Sample("carte-identite.html", _html(), "unsupported_type"),
        "zip": Sample("documents.zip", _zip({"cni-recto.jpg": jpeg}), "unsupported_type"),
        "docx": Sample("carte-identite.docx", _docx(), "unsupported_type"),
        "heic": Sample("IMG_4821.HEIC", _heic(), "unsupported_type"),
        "webp": Sample("carte.webp", _encoded(half, "WEBP", quality=80), "unsupported_type"),
        "tiff": Sample("scan.tif", _encoded(half, "TIFF"), "unsupported_type"),
        "unknown": Sample("carte.dat", _noise(40_000, seed=6), "unsupported_type"),
        # Refused for their content.
        "truncated_jpeg": Sample("IMG_2041.jpg", jpeg[: len(jpeg) * 3 // 5], "truncated"),
        "png_zip_polyglot": Sample("cni.png", png + _zip({"lisezmoi.txt": b"x" * 100}), "polyglot"),
        "pdf_javascript": Sample("cni.pdf", _pdf_with_javascript(one_page), "pdf_active_content"),
        "pdf_embedded_file": Sample(
            "cni.pdf", _pdf_with_attachment(one_page), "pdf_active_content"
        ),
        "pdf_encrypted": Sample("cni-protege.pdf", _pdf_encrypted(one_page), "pdf_encrypted"),
        "pdf_twenty_pages": Sample(
            "releve-complet.pdf", _pdf_pages(one_page, 20), "pdf_too_many_pages"
        ),
        # Crashed pypdf's callers: an object stream it cannot decode.
        "pdf_unknown_filter": Sample("cni.pdf", _pdf_object_stream_in("FooDecode"), "pdf_invalid"),
        "pdf_jbig2_object_stream": Sample(
            "cni.pdf", _pdf_object_stream_in("JBIG2Decode"), "pdf_invalid"
        ),
        # Run something on opening or on a click.
        "pdf_open_uri": Sample(
            "cni.pdf",
            _pdf_with_action(
                one_page, "open", {"/S": "/URI", "/URI": "https://attacker.example/o"}
            ),
            "pdf_active_content",
        ),
        "pdf_open_gotor_unc": Sample(
            "cni.pdf",
            _pdf_with_action(
                one_page, "open", {"/S": "/GoToR", "/F": "\\\\attacker\\share\\x.pdf"}
            ),
            "pdf_active_content",
        ),
        "pdf_page_aa": Sample(
            "cni.pdf",
            _pdf_with_action(one_page, "page_aa", {"/S": "/GoTo", "/D": "/Fit"}),
            "pdf_active_content",
        ),
        "pdf_open_launch": Sample(
            "cni.pdf",
            _pdf_with_action(one_page, "open", {"/S": "/Launch", "/F": "calc.exe"}),
            "pdf_active_content",
        ),
        "pdf_open_named": Sample(
            "cni.pdf",
            _pdf_with_action(one_page, "open", {"/S": "/Named", "/N": "/Print"}),
            "pdf_active_content",
        ),
        "pdf_acroform": Sample("cni.pdf", _pdf_with_form(one_page), "pdf_active_content"),
        "pdf_link_uri": Sample(
            "cni.pdf",
            _pdf_with_action(one_page, "link", {"/S": "/URI", "/URI": "https://attacker.example"}),
            "pdf_active_content",
        ),
    }
    return tuple(samples.items())


def card(
    seed: int, side: str = "recto", size: tuple[int, int] = CARD_SIZE, noise: int = 24
) -> Image.Image:
    """An identity card as a camera or a scanner sees it: drawing plus seeded noise."""
    width, height = size
    image = Image.new("RGB", size, (214, 226, 238))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=height // 20)
    draw.rounded_rectangle(
        (20, 20, width - 20, height - 20), radius=30, outline=(40, 70, 120), width=6
    )
    draw.text(
        (50, 45), "REPUBLIQUE FRANCAISE - CARTE NATIONALE D'IDENTITE", fill=(20, 40, 90), font=font
    )
    if side == "recto":
        draw.rectangle((50, 140, 330, 500), fill=(150, 150, 160))
        draw.ellipse((120, 190, 260, 330), fill=(90, 80, 80))
        lines = [
            "Nom : DUPONT",
            "Prenoms : Marie, Claire",
            "Ne(e) le : 12 03 1984",
            "a : LYON (69)",
        ]
    else:
        lines = ["Adresse : 12 rue des Lilas", "69003 LYON", "Delivree le : 02 05 2021"]
    for row, line in enumerate(lines):
        draw.text((380, 160 + row * 60), line, fill=(30, 30, 30), font=font)
    draw.text(
        (50, height - 110), "IDFRADUPONT<<<<<<<<<<<<<<<<<<<<<<<<<<<", fill=(0, 0, 0), font=font
    )
    if noise:
        grain = Image.frombytes("L", size, random.Random(seed).randbytes(width * height))
        grain = grain.point(lambda value: value * noise // 255).convert("RGB")
        image = ImageChops.subtract(
            ImageChops.add(image, grain), Image.new("RGB", size, (noise // 2,) * 3)
        )
    return image


def phone_photo(image: Image.Image) -> bytes:
    """A phone's JPEG of `image`: stored sideways with orientation 6 (rotate 90° clockwise to
    view), and carrying GPS coordinates, a camera model, an ICC profile and a comment."""
    exif = Image.Exif()
    exif[Base.Make] = "Apple"
    exif[Base.Model] = "iPhone 13"
    exif[Base.Orientation] = 6
    exif[Base.DateTime] = "2026:01:14 10:15:32"
    exif.get_ifd(IFD.GPSInfo).update(
        {
            GPS.GPSLatitudeRef: "N",
            GPS.GPSLatitude: (48.0, 51.0, 29.6),
            GPS.GPSLongitudeRef: "E",
            GPS.GPSLongitude: (2.0, 17.0, 40.2),
        }
    )
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = struct.pack(">6H", 2026, 1, 14, 10, 15, 32)  # creation date: reproducible
    sideways = image.transpose(Image.Transpose.ROTATE_90)
    return _encoded(
        sideways,
        "JPEG",
        quality=90,
        exif=exif,
        icc_profile=bytes(profile),
        comment=b"Bureau, 3e etage",
    )


def _encoded(image: Image.Image, format: str, **params: object) -> bytes:
    output = io.BytesIO()
    image.save(output, format, **params)
    return output.getvalue()


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    return _encoded(image, "JPEG", quality=quality)


def _png(image: Image.Image) -> bytes:
    return _encoded(image, "PNG", compress_level=1)


def _gif(image: Image.Image) -> bytes:
    return _encoded(image.convert("P"), "GIF")


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _padded(data: bytes, size: int) -> bytes:
    """`data` followed by zeros up to `size` bytes, like a scan saved with no compression."""
    return data + bytes(size - len(data))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _png_bomb(width: int, height: int) -> bytes:
    """A black one-bit PNG of `width` × `height`: tiny on disk, huge once decoded.

    The zlib stream is made of identical fully flushed deflate segments, so it is built
    without ever compressing (or holding) the whole image.
    """
    row = 1 + (width + 7) // 8  # filter byte, then the packed pixels
    rows_per_segment = 200
    chunk = bytes(row * rows_per_segment)
    compressor = zlib.compressobj(9)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    final_block = compressor.flush()[:-4]  # empty last block; its checksum is recomputed
    segments, rest = divmod(height, rows_per_segment)
    assert rest == 0, "height must be a multiple of the segment's rows"
    checksum = 1
    for _ in range(segments):
        checksum = zlib.adler32(chunk, checksum)
    stream = first + segment * (segments - 1) + final_block + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", stream)
        + _png_chunk(b"IEND", b"")
    )


def _svg(image: Image.Image) -> bytes:
    """What a drawing tool exports: an XML prologue, then the card as an embedded bitmap."""
    thumbnail = base64.b64encode(_jpeg(image, 70)).decode()
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="640">\n'
        f'  <image width="1000" height="640" href="data:image/jpeg;base64,{thumbnail}"/>\n'
        '  <text x="50" y="50">Carte nationale d\'identité</text>\n'
        "</svg>\n"
    ).encode()


def _html() -> bytes:
    """A web page saved from a browser instead of the image it showed."""
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head><meta charset="utf-8">'
        "<title>Carte d'identité - Photos</title></head>\n"
        '<body><img src="IMG_2041_files/cni.jpg" alt="Carte d\'identité"></body>\n</html>\n'
    ).encode()


def _zip(files: dict[str, bytes]) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), content)
    return output.getvalue()


def _docx() -> bytes:
    """The smallest layout Word writes, enough to be recognised as a Word document."""
    return _zip(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.'
            b'openxmlformats.org/package/2006/content-types"/>',
            "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
            "word/document.xml": b'<?xml version="1.0"?><w:document><w:body/></w:document>',
        }
    )


def _heic() -> bytes:
    """The start of an iPhone photo: an `ftyp` box with the HEIC brands, then data."""
    ftyp = struct.pack(">I", 24) + b"ftypheic" + bytes(4) + b"mif1heic"
    meta = struct.pack(">I", 40_000) + b"meta"
    return ftyp + meta + _noise(40_000, seed=7)


def _pdf(*pages: Image.Image) -> bytes:
    """A scan as scanners and Pillow write it: one JPEG image per page, fixed dates."""
    first, *others = pages
    return _encoded(
        first,
        "PDF",
        resolution=150,
        save_all=True,
        append_images=others,
        creationDate=_SCAN_DATE,
        modDate=_SCAN_DATE,
    )


def _writer(pdf: bytes) -> PdfWriter:
    return PdfWriter(clone_from=io.BytesIO(pdf))


def _written(writer: PdfWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _pdf_opening_at_first_page(pdf: bytes) -> bytes:
    """A harmless /OpenAction: a destination, not an action."""
    writer = _writer(pdf)
    writer.open_destination = writer.pages[0]
    return _written(writer)


def _pdf_with_javascript(pdf: bytes) -> bytes:
    writer = _writer(pdf)
    writer.root_object[NameObject("/OpenAction")] = JavaScript("app.alert('Bonjour');")
    return _written(writer)


def _pdf_with_attachment(pdf: bytes) -> bytes:
    writer = _writer(pdf)
    writer.add_attachment("facture.pdf.exe", b"MZ" + bytes(200))
    return _written(writer)


def _pdf_encrypted(pdf: bytes) -> bytes:
    """Encrypted with an empty user password: it opens without asking, yet is encrypted."""
    writer = _writer(pdf)
    # pypdf draws the file identifier, hence the key, at random: fix it for reproducible bytes.
    writer._ID = ArrayObject([_PDF_ID, _PDF_ID])
    writer.encrypt(user_password="", owner_password="proprietaire", algorithm="RC4-128")
    writer._ID = ArrayObject([_PDF_ID, _PDF_ID])  # encrypt() draws a new second one
    return _written(writer)


def _pdf_pages(pdf: bytes, count: int) -> bytes:
    """The same scanned page `count` times (the image is stored once)."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    writer = PdfWriter()
    for _ in range(count):
        writer.add_page(page)
    return _written(writer)


def _pdf_object_stream_in(filter_name: str) -> bytes:
    """A ~12 KB PDF whose object 5 lives in an object stream compressed with `filter_name`
    (unknown to pypdf, or one it cannot decode), listed by a cross-reference stream."""
    packed = b"5 0 << /Type /Annot /Subtype /Text /Contents (x) >>".ljust(12_000, b" ")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [5 0 R] >>",
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /"
        + filter_name.encode()
        + b" /Length "
        + str(len(packed)).encode()
        + b" >>\nstream\n"
        + packed
        + b"\nendstream",
    ]
    body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + content + b"\nendobj\n"
    xref_offset = len(body)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    rows += [struct.pack(">BIH", 1, offset, 0) for offset in offsets]
    rows.append(struct.pack(">BIH", 2, 4, 0))  # object 5: first in object stream 4
    rows.append(struct.pack(">BIH", 1, xref_offset, 0))  # object 6: this stream
    table = b"".join(rows)
    body += (
        f"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length {len(table)} >>\nstream\n"
    ).encode()
    body += table + b"\nendstream\nendobj\n"
    return body + f"startxref\n{xref_offset}\n%%EOF\n".encode()


def _pdf_with_action(pdf: bytes, where: str, action: dict[str, object]) -> bytes:
    """`pdf` with `action` on opening (/OpenAction), as the page's /AA, or on a link."""
    writer = _writer(pdf)
    value = DictionaryObject(
        {
            NameObject(key): (
                NameObject(item)
                if isinstance(item, str) and item.startswith("/")
                else TextStringObject(str(item))
            )
            for key, item in action.items()
        }
    )
    if where == "open":
        writer.root_object[NameObject("/OpenAction")] = value
    elif where == "page_aa":
        writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): value})
    else:
        writer.add_annotation(
            0,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Annot"),
                    NameObject("/Subtype"): NameObject("/Link"),
                    NameObject("/Rect"): writer.pages[0].mediabox,
                    NameObject("/A"): value,
                }
            ),
        )
    return _written(writer)


def _pdf_with_form(pdf: bytes) -> bytes:
    writer = _writer(pdf)
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject()}
    )
    return _written(writer)


AUTHOR = "Marie Dupont (auteur du scan)"


def pdf_with_metadata(pdf: bytes) -> bytes:
    """`pdf` with an /Info dictionary and an XMP stream naming its author."""
    writer = _writer(pdf)
    writer.add_metadata({"/Author": AUTHOR, "/Title": "CNI de Marie Dupont"})
    writer.xmp_metadata = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
        '02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:creator>{AUTHOR}</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    return _written(writer)


def expensive_png() -> bytes:
    """A 6300 × 6300 PNG of one colour: about 160 KB, 39.7 million pixels to decode."""
    return _encoded(Image.new("RGB", (6300, 6300), (214, 226, 238)), "PNG", compress_level=9)
