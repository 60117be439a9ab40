"""Identity documents drawn for the tests, the corpus of the document reading: a card or
a passport page with its machine-readable zone in OCR-B (Debian's fonts-ocr-b), as a clean
scan or as a phone-like photo (rotated, blurred, unevenly lit, JPEG-compressed, on a table).

Sizes follow ISO/IEC 7810 and ICAO 9303 at 300 dpi: the zone's characters are 2.54 mm
apart (30 px), as on real documents.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bot.mrz import FR_CNI, TD1, TD3
from tests.mrz_zones import Card, zone

OCR_B = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")
# The printed fields have accents, which OCR-B lacks.
PRINTED = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DPI_MM = 300 / 25.4
# Width and height of the document, in millimetres: ID-1 cards, the older French card,
# the passport's data page.
_SIZES_MM = {TD1: (85.6, 54.0), FR_CNI: (105.0, 74.0), TD3: (125.0, 88.0)}
_PITCH_PX = 2.54 * DPI_MM
_LINE_PX = 4.1 * DPI_MM  # from one line of the zone to the next
_TITLES = {
    "ID": "CARTE NATIONALE D'IDENTITÉ",
    "IR": "TITRE DE SÉJOUR",
    "P": "PASSEPORT",
}


@dataclass(frozen=True)
class Photo:
    """How a phone takes the picture: each field drawn from `seed` by `phone_like`."""

    angle: float  # degrees
    blur: float  # Gaussian radius, px
    light: float  # 0: even; 0.5: one side half as bright
    quality: int  # JPEG quality


def phone_like(seed: int) -> Photo:
    """A legible phone photo: a few degrees off, a little blur, uneven light."""
    rng = random.Random(seed)
    return Photo(
        angle=rng.uniform(-6, 6),
        blur=rng.uniform(0.3, 1.3),
        light=rng.uniform(0.1, 0.45),
        quality=rng.randint(70, 92),
    )


def _font(size: float, path: Path = PRINTED) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), round(size))


def draw(card: Card, lines: list[str] | None = None) -> Image.Image:
    """The document as a 300 dpi scan: a light background, printed fields, the zone
    (the card's own, or `lines`: a broken one)."""
    width_mm, height_mm = _SIZES_MM[card.layout]
    width, height = round(width_mm * DPI_MM), round(height_mm * DPI_MM)
    image = Image.new("RGB", (width, height), (236, 232, 222))
    pen = ImageDraw.Draw(image)
    for y in range(0, height, 6):  # a faint guilloche-like background
        pen.line([(0, y), (width, y + 40)], fill=(226, 224, 216), width=1)
    margin = round(4 * DPI_MM)
    small, title = _font(0.045 * height), _font(0.06 * height)
    pen.text((margin, margin), "RÉPUBLIQUE FRANÇAISE", font=small, fill=(40, 50, 110))
    label = _TITLES.get(card.code, _TITLES["ID"])
    pen.text((margin, margin + 0.07 * height), label, font=title, fill=(40, 50, 110))
    photo_box = (margin, round(0.25 * height), margin + round(0.25 * width), round(0.62 * height))
    pen.rectangle(photo_box, fill=(180, 176, 170))
    holder = card.holder
    x = photo_box[2] + margin
    for row, (name, value) in enumerate(
        [
            ("Nom", holder.surname.upper()),
            ("Prénom(s)", ", ".join(holder.given_names)),
            ("Né(e) le", holder.birth.strftime("%d %m %Y")),
        ]
    ):
        y = round(0.25 * height) + row * round(0.12 * height)
        pen.text((x, y), name, font=small, fill=(90, 90, 90))
        pen.text((x, y + 0.045 * height), value, font=small, fill=(20, 20, 20))
    lines = lines or zone(card)
    mrz_font = _font(_PITCH_PX / 0.723, OCR_B)  # OCR-B's advance is 0.723 of its size
    top = height - margin - len(lines) * _LINE_PX
    left = (width - len(lines[0]) * _PITCH_PX) / 2
    for index, line in enumerate(lines):
        pen.text((left, top + index * _LINE_PX), line, font=mrz_font, fill=(15, 15, 15))
    return image


def photograph(document: Image.Image, photo: Photo) -> Image.Image:
    """The document as a phone sees it, on a darker table around it."""
    width, height = document.size
    table = Image.new("RGB", (round(width * 1.25), round(height * 1.35)), (92, 80, 70))
    table.paste(document, ((table.width - width) // 2, (table.height - height) // 2))
    turned = table.rotate(photo.angle, resample=Image.BICUBIC, fillcolor=(92, 80, 70))
    # Uneven light: brightness falls off from one side to the other.
    ramp = Image.linear_gradient("L").rotate(90).resize(turned.size)
    shade = ramp.point(lambda v: round(255 * (1 - photo.light * v / 255)))
    lit = Image.composite(turned, Image.new("RGB", turned.size, (0, 0, 0)), shade)
    return lit.filter(ImageFilter.GaussianBlur(photo.blur))


def encode(image: Image.Image, kind: str = "png", quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    if kind == "jpeg":
        image.save(buffer, "JPEG", quality=quality)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()
