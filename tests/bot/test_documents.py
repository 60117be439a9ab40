"""Inspection of uploaded identity documents: what is accepted, what is refused and why."""

from __future__ import annotations

import io
import logging
import pickle
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageChops, ImageStat
from PIL.ExifTags import IFD
from PIL.PngImagePlugin import PngImageFile, PngInfo
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript, PageTrigger
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from bot.documents import CleanDocument, DocumentLimits, DocumentRefused, inspect_document
from tests.corpus import AUTHOR, Sample, build_corpus, card, pdf_with_metadata

CORPUS = build_corpus()
ACCEPTED = [name for name, sample in CORPUS.items() if sample.code is None]
REFUSED = [name for name, sample in CORPUS.items() if sample.code is not None]
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "pdf": "application/pdf"}
DEFAULTS = DocumentLimits()
SMALL_CARD = card(seed=9, size=(600, 400), noise=8)
# No size floor, for hand-made images that need not look like photos.
ANY_SIZE = DocumentLimits(min_bytes=1)


def refusal(
    data: bytes, filename: str | None, limits: DocumentLimits = DEFAULTS
) -> DocumentRefused:
    with pytest.raises(DocumentRefused) as caught:
        inspect_document(data, filename, limits)
    return caught.value


def sixteen_bit(image: Image.Image) -> Image.Image:
    """A 16-bit grey image, as some scanners write: each 8-bit value v becomes v × 257."""
    grey = image.convert("L").tobytes()
    wide = bytearray(2 * len(grey))
    wide[0::2] = wide[1::2] = grey
    return Image.frombytes("I;16", image.size, bytes(wide))


def encoded(image: Image.Image, format: str, **params: object) -> bytes:
    output = io.BytesIO()
    image.save(output, format, **params)
    return output.getvalue()


def pdf_with(change: Callable[[PdfWriter], object], base: str = "pdf_one_page") -> bytes:
    """The corpus's one-page scan, changed by `change(writer)`."""
    writer = PdfWriter(clone_from=io.BytesIO(CORPUS[base].data))
    change(writer)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_samples_come_back_clean(name: str) -> None:
    sample = CORPUS[name]
    document = inspect_document(sample.data, sample.filename)
    assert isinstance(document, CleanDocument)
    expected_extension = sample.filename.rsplit(".", 1)[-1].lower().replace("jpeg", "jpg")
    assert document.extension == expected_extension
    assert document.content_type == CONTENT_TYPES[document.extension]
    if document.extension == "pdf":
        rewritten = PdfReader(io.BytesIO(document.content))
        assert rewritten.metadata is None and rewritten.xmp_metadata is None
        assert len(rewritten.pages) == document.pages
        assert document.width is document.height is None
    else:
        assert document.pages == 1
        with Image.open(io.BytesIO(document.content)) as image:
            assert image.format == ("PNG" if document.extension == "png" else "JPEG")
            assert image.size == (document.width, document.height) == (1000, 640)


@pytest.mark.parametrize("name", REFUSED)
def test_refused_samples_get_their_code(name: str) -> None:
    sample = CORPUS[name]
    assert refusal(sample.data, sample.filename).code == sample.code


def test_pdf_pages_are_counted() -> None:
    assert inspect_document(CORPUS["pdf_one_page"].data, "scan.pdf").pages == 1
    assert inspect_document(CORPUS["pdf_recto_verso"].data, "scan.pdf").pages == 2


def test_refusal_messages_are_distinct_french_sentences() -> None:
    refusals = [refusal(CORPUS[name].data, CORPUS[name].filename) for name in REFUSED]
    by_message = {(found.code, found.message) for found in refusals}
    assert len({message for _, message in by_message}) == len(by_message), (
        "each refusal explains its own problem"
    )
    messages = [found.message for found in refusals]
    for message in messages:
        assert message[0].isupper() and message.endswith(".")
        assert "pièce d'identité" in message, "it says what to send instead"
        assert "envoy" in message.lower()
        assert " tu " not in message and " ton " not in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gif", "image GIF"),
        ("svg", "SVG"),
        ("html", "page web (HTML)"),
        ("zip", "archive ZIP"),
        ("docx", "document Word"),
        ("heic", "« Le plus compatible »"),
        ("webp", "WebP"),
        ("tiff", "TIFF"),
        ("unknown", "pas reconnu"),
        ("png_named_pdf", "l'extension .pdf mais c'est en réalité une image PNG"),
        ("oversize", "10 Mo"),
        ("jpeg_too_small", "10 Ko"),
        ("decompression_bomb", "400 millions de pixels, pour 40 millions de pixels au plus"),
        ("low_resolution", "200 × 128 pixels"),
        ("truncated_jpeg", "incomplète"),
        ("png_zip_polyglot", "archive ZIP ajoutée"),
        ("pdf_javascript", "JavaScript"),
        ("pdf_embedded_file", "fichiers joints"),
        ("pdf_encrypted", "sans mot de passe"),
        ("pdf_twenty_pages", "compte 20 pages"),
    ],
)
def test_the_message_names_what_is_wrong(name: str, expected: str) -> None:
    sample = CORPUS[name]
    exception = refusal(sample.data, sample.filename)
    assert expected in exception.message
    assert str(exception) == exception.message


def test_the_message_never_repeats_the_filename(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for sample in CORPUS.values():
        name = f"Dupont-Marie-{sample.filename}"
        try:
            inspect_document(sample.data, name)
        except DocumentRefused as exception:
            assert "Dupont" not in exception.message
    assert "Dupont" not in caplog.text


def test_a_refusal_survives_pickling_for_process_pools() -> None:
    exception = refusal(b"", "photo.jpg")
    copy = pickle.loads(pickle.dumps(exception))
    assert (copy.code, copy.message, str(copy)) == (
        exception.code,
        exception.message,
        str(exception),
    )


def test_phone_photo_loses_its_metadata_and_stands_upright() -> None:
    sample = CORPUS["jpeg_photo_with_exif"]
    with Image.open(io.BytesIO(sample.data)) as original:
        assert original.size == (640, 1000), "stored sideways by the phone"
        assert original.getexif().get_ifd(IFD.GPSInfo), "the upload carries GPS coordinates"
        assert "icc_profile" in original.info and "comment" in original.info

    document = inspect_document(sample.data, sample.filename)

    assert (document.width, document.height) == (1000, 640)
    with Image.open(io.BytesIO(document.content)) as image:
        assert not image.getexif(), "no EXIF at all: no GPS, no camera, no orientation"
        assert not {"exif", "icc_profile", "comment", "xmp"} & image.info.keys()
        difference = ImageChops.difference(image.convert("RGB"), card(seed=1))
        assert max(ImageStat.Stat(difference).mean) < 12, "it looks like the card, upright"
    assert b"iPhone" not in document.content and b"Exif" not in document.content


def test_png_text_and_profile_are_dropped() -> None:
    metadata = PngInfo()
    metadata.add_text("Author", "Marie Dupont")
    metadata.add_itxt("Description", "Carte d'identité, 12 rue des Lilas", zip=True)
    source = encoded(
        card(seed=8, size=(600, 400)),
        "PNG",
        pnginfo=metadata,
        icc_profile=b"\0" * 200,
        dpi=(300, 300),
    )

    document = inspect_document(source, "cni.png")

    with Image.open(io.BytesIO(document.content)) as image:
        assert isinstance(image, PngImageFile)
        assert image.text == {}
        assert not {"icc_profile", "dpi", "exif"} & image.info.keys()
    assert b"Dupont" not in document.content


@pytest.mark.parametrize(
    ("image", "format", "expected_mode"),
    [
        (SMALL_CARD.convert("L"), "PNG", "L"),
        (SMALL_CARD.convert("RGBA"), "PNG", "RGBA"),
        (SMALL_CARD.convert("P"), "PNG", "RGB"),
        (SMALL_CARD.convert("1"), "PNG", "L"),
        (sixteen_bit(SMALL_CARD), "PNG", "L"),
        (SMALL_CARD.convert("CMYK"), "JPEG", "RGB"),
        (SMALL_CARD.convert("L"), "JPEG", "L"),
    ],
    ids=[
        "grey png",
        "rgba png",
        "palette png",
        "1-bit png",
        "16-bit png",
        "cmyk jpeg",
        "grey jpeg",
    ],
)
def test_images_are_stored_in_a_plain_mode(
    image: Image.Image, format: str, expected_mode: str
) -> None:
    document = inspect_document(encoded(image, format), None, ANY_SIZE)
    with Image.open(io.BytesIO(document.content)) as clean:
        assert clean.mode == expected_mode
        assert clean.format == format
        grey = ImageStat.Stat(clean.convert("L")).mean[0]
    assert 150 < grey < 240, "a light card, not a black or white sheet"


def test_a_transparent_palette_png_keeps_its_transparency() -> None:
    image = SMALL_CARD.convert("P")
    document = inspect_document(encoded(image, "PNG", transparency=0), None, ANY_SIZE)
    with Image.open(io.BytesIO(document.content)) as clean:
        assert clean.mode == "RGBA"


@pytest.mark.parametrize(
    "filename",
    [
        None,
        "",
        "photo",
        "photo.jpg",
        "PHOTO.JPG",
        "photo.jpeg",
        "photo.jfif",
        "photo.jpe",
        "C:\\fakepath\\photo.jpg",
        "Carte M. Dupont",
        ".jpg",
    ],
)
def test_a_jpeg_is_accepted_under_any_name_that_does_not_contradict_it(
    filename: str | None,
) -> None:
    document = inspect_document(CORPUS["jpeg_scan_uppercase_extension"].data, filename)
    assert document.extension == "jpg"


@pytest.mark.parametrize(
    ("name", "filename", "expected"),
    [
        ("jpeg_scan_uppercase_extension", "photo.png", "une image JPEG"),
        ("jpeg_scan_uppercase_extension", "scan.heic", "une image JPEG"),
        ("png_scan", "carte.jpg", "une image PNG"),
        ("pdf_one_page", "cni.jpg", "un document PDF"),
        ("pdf_one_page", "cni.pdf.png", "un document PDF"),
    ],
)
def test_an_extension_that_lies_is_refused(name: str, filename: str, expected: str) -> None:
    exception = refusal(CORPUS[name].data, filename)
    assert exception.code == "extension_mismatch"
    assert expected in exception.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GIF89a" + bytes(100), "image GIF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- export -->\n<svg/>", "SVG"),
        (b"  <html><body>cni</body></html>", "HTML"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Microsoft Office"),
        (struct.pack(">I", 28) + b"ftypavif\0\0\0\0avifmif1miaf", "AVIF"),
        (struct.pack(">I", 24) + b"ftypmif1\0\0\0\0mif1heic", "HEIC"),
        (struct.pack(">I", 24) + b"ftypisom\0\0\0\0isomiso2", "vidéo"),
        (b"BM" + bytes(12) + struct.pack("<I", 40) + bytes(40), "BMP"),
        (b"MM\0*" + bytes(100), "TIFF"),
        (b"RIFF\0\0\0\0WEBPVP8 " + bytes(100), "WebP"),
        (b"Nom : DUPONT\nPrenom : Marie\n", "pas reconnu"),
    ],
    ids=[
        "gif",
        "svg",
        "svg with prologue",
        "html",
        "office",
        "avif",
        "heif",
        "mp4",
        "bmp",
        "tiff",
        "webp",
        "text",
    ],
)
def test_other_formats_are_named_even_when_small(data: bytes, expected: str) -> None:
    exception = refusal(data, None)
    assert exception.code == "unsupported_type"
    assert expected in exception.message


@pytest.mark.parametrize(
    ("name", "trailer"),
    [
        ("png_scan", b"<?php system($_GET['c']); ?>"),
        ("jpeg_scan_uppercase_extension", CORPUS["zip"].data),
        ("pdf_one_page", CORPUS["zip"].data),
    ],
    ids=["png with trailing data", "jpeg with zip", "pdf with zip"],
)
def test_files_hiding_other_data_are_refused(name: str, trailer: bytes) -> None:
    sample = CORPUS[name]
    assert refusal(sample.data + trailer, sample.filename).code == "polyglot"


def test_a_png_cut_short_is_truncated() -> None:
    data = CORPUS["png_scan"].data
    assert refusal(data[: len(data) // 2], "cni.png").code == "truncated"


def test_a_jpeg_with_a_corrupt_header_is_truncated() -> None:
    assert refusal(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(20_000), "cni.jpg").code == "truncated"


def raw_pdf(*objects: str) -> bytes:
    """A hand-written PDF whose object 1 is the catalog, with a correct cross-reference."""
    body = b"%PDF-1.7\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n{content}\nendobj\n".encode()
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return body + trailer.encode()


PAGES = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
JAVASCRIPT_ACTION = "<< /S /JavaScript /JS (app.launchURL('https://example.invalid/')) >>"


@pytest.mark.parametrize(
    "change",
    [
        lambda writer: writer.add_open_action(JavaScript("app.alert(1);")),
        lambda writer: writer.pages[0].add_action(PageTrigger.OPEN, JavaScript("app.alert(1);")),
        lambda writer: writer.root_object.__setitem__(
            NameObject("/OpenAction"),
            DictionaryObject(
                {
                    NameObject("/S"): NameObject("/Launch"),
                    NameObject("/F"): TextStringObject("cmd.exe"),
                }
            ),
        ),
        lambda writer: writer.root_object.__setitem__(
            NameObject("/OpenAction"),
            DictionaryObject(
                {
                    NameObject("/S"): NameObject("/SubmitForm"),
                    NameObject("/F"): TextStringObject("https://example.invalid/"),
                }
            ),
        ),
        lambda writer: writer.add_annotation(
            0,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Annot"),
                    NameObject("/Subtype"): NameObject("/FileAttachment"),
                    NameObject("/Rect"): writer.pages[0].mediabox,
                }
            ),
        ),
    ],
    ids=["javascript name tree", "page open action", "launch", "submit form", "attachment"],
)
def test_active_pdf_content_is_refused(change: Callable[[PdfWriter], object]) -> None:
    assert refusal(pdf_with(change), "cni.pdf").code == "pdf_active_content"


@pytest.mark.parametrize(
    ("catalog", "fourth"),
    [
        (
            "<< /Type /Catalog /Pages 2 0 R"
            " /OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> >>",
            "<< >>",
        ),
        ("<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>", JAVASCRIPT_ACTION),
        ("<< /Type /Catalog /Pages 2 0 R >>", JAVASCRIPT_ACTION),  # in no one's reach, yet there
    ],
    ids=["escaped names", "indirect action", "orphan object"],
)
def test_hidden_javascript_is_found(catalog: str, fourth: str) -> None:
    exception = refusal(raw_pdf(catalog, PAGES, PAGE, fourth), "cni.pdf", ANY_SIZE)
    assert exception.code == "pdf_active_content"
    assert "JavaScript" in exception.message


@pytest.mark.parametrize(
    "catalog",
    [
        "<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>",
        "<< /Type /Catalog /Pages 2 0 R /Loop 4 0 R >>",
    ],
    ids=["open at a page", "objects in a loop"],
)
def test_harmless_pdf_structures_are_accepted(catalog: str) -> None:
    data = raw_pdf(catalog, PAGES, PAGE, "<< /Self 4 0 R /Both [4 0 R 5 0 R] >>", "[5 0 R 4 0 R]")
    assert inspect_document(data, "cni.pdf", ANY_SIZE).pages == 1


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(20_000),
        CORPUS["pdf_one_page"].data[:20_000],
        raw_pdf("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"),
    ],
    ids=["garbage", "cut short", "no page"],
)
def test_unreadable_pdfs_are_invalid(data: bytes) -> None:
    assert refusal(data, "cni.pdf", ANY_SIZE).code == "pdf_invalid"


def test_limits_come_from_the_environment() -> None:
    limits = DocumentLimits.from_env(
        {
            "DOCUMENT_MIN_BYTES": "2048",
            "DOCUMENT_MAX_BYTES": "5242880",
            "DOCUMENT_MAX_PIXELS": "1000000",
            "DOCUMENT_MIN_SIDE": "300",
            "DOCUMENT_MAX_PDF_PAGES": "2",
        }
    )
    assert limits == DocumentLimits(
        min_bytes=2048,
        max_bytes=5 * 1024 * 1024,
        max_pixels=1_000_000,
        min_side=300,
        max_pdf_pages=2,
    )
    assert DocumentLimits.from_env({}) == DocumentLimits()


def test_limits_are_read_from_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCUMENT_MAX_PDF_PAGES", "2")
    assert DocumentLimits.from_env().max_pdf_pages == 2


@pytest.mark.parametrize(
    "env",
    [
        {"DOCUMENT_MAX_BYTES": "10M"},
        {"DOCUMENT_MIN_SIDE": "0"},
        {"DOCUMENT_MIN_BYTES": "99999999999"},
    ],
)
def test_wrong_limits_in_the_environment_are_rejected(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="DOCUMENT_M"):
        DocumentLimits.from_env(env)


@pytest.mark.parametrize(
    ("name", "limits", "code", "expected"),
    [
        (
            "jpeg_scan_uppercase_extension",
            DocumentLimits(max_bytes=200 * 1024),
            "too_large",
            "200 Ko",
        ),
        ("jpeg_photo_with_exif", DocumentLimits(min_bytes=1024 * 1024), "too_small", "1 Mo"),
        (
            "jpeg_photo_with_exif",
            DocumentLimits(max_pixels=500_000),
            "decompression_bomb",
            "500 000 pixels",
        ),
        ("jpeg_photo_with_exif", DocumentLimits(min_side=800), "low_resolution", "800 pixels"),
        ("pdf_recto_verso", DocumentLimits(max_pdf_pages=1), "pdf_too_many_pages", "1 au plus"),
    ],
)
def test_limits_are_configurable(
    name: str, limits: DocumentLimits, code: str, expected: str
) -> None:
    sample: Sample = CORPUS[name]
    inspect_document(sample.data, sample.filename)  # accepted with the default limits
    exception = refusal(sample.data, sample.filename, limits)
    assert exception.code == code
    assert expected in exception.message


def test_the_pixel_limit_is_checked_before_decoding() -> None:
    # A PNG whose header claims 100 000 × 100 000 pixels but holds almost nothing.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )
    assert refusal(data, "cni.png", ANY_SIZE).code == "decompression_bomb"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pdf_open_uri", "adresse internet"),
        ("pdf_open_gotor_unc", "autre fichier"),
        ("pdf_page_aa", "actions automatiques"),
        ("pdf_open_launch", "lance un programme"),
        ("pdf_open_named", "commande du lecteur PDF"),
        ("pdf_acroform", "formulaire"),
        ("pdf_link_uri", "lien"),
    ],
)
def test_pdf_actions_on_opening_or_on_a_click_are_refused(name: str, expected: str) -> None:
    exception = refusal(CORPUS[name].data, CORPUS[name].filename)
    assert exception.code == "pdf_active_content"
    assert expected in exception.message
    assert "pour des raisons de sécurité" in exception.message


@pytest.mark.parametrize("name", ["pdf_unknown_filter", "pdf_jbig2_object_stream"])
def test_a_pdf_that_makes_the_parser_raise_is_refused_in_french(name: str) -> None:
    sample = CORPUS[name]
    assert 10_000 < len(sample.data) < 14_000, "a 12 KB file"
    exception = refusal(sample.data, sample.filename)
    assert exception.code == "pdf_invalid"
    assert "endommagé, vide ou illisible" in exception.message


def test_a_pdf_goto_in_an_outline_stays_accepted() -> None:
    def outline(writer: PdfWriter) -> None:
        writer.add_outline_item(title="Recto", page_number=0)

    assert inspect_document(pdf_with(outline), "cni.pdf").pages == 1


def test_a_pdf_loses_its_metadata() -> None:
    source = pdf_with_metadata(CORPUS["pdf_one_page"].data)
    assert AUTHOR.encode() in source
    assert PdfReader(io.BytesIO(source)).metadata["/Author"] == AUTHOR

    document = inspect_document(source, "cni.pdf")

    assert AUTHOR.encode() not in document.content and b"xmpmeta" not in document.content
    clean = PdfReader(io.BytesIO(document.content))
    assert clean.metadata is None and clean.xmp_metadata is None
    assert len(clean.pages) == 1
