"""Reading the machine-readable zone of an identity document's photo or scan.

Tesseract (through tesserocr) does the reading; this module only tells it where to look
and what a zone looks like:

1. A photo is turned level first: the angle at which the rows of ink are sharpest.
   Tesseract then lays the page out (Sauvola's local threshold, for uneven light).
2. The zone is the last two or three lines made mostly of its alphabet. Each is read
   alone, on its own crop, with only the zone's alphabet allowed.
3. The zone's font has a fixed pitch: each character Tesseract finds is put in the cell
   under its centre, so that a dropped or doubled filler does not shift the rest.
4. Each position has a known kind (digit, letter, any): a letter read where only a digit
   can be (O for 0) is turned into that digit and back, and an optional field made of
   fillers and filler look-alikes is fillers. The check digits decide in the end: a
   wrong repair fails them, and a zone whose checks fail is unreadable, never verified.

`ZoneReader` holds one Tesseract engine: one per worker process, never shared between
threads. Reading takes about half a second for a photo.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tesserocr
from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageStat

from bot.mrz import FR_CNI, TD1, TD3, Mrz, check_digit, parse

LANGUAGE = "Latin"  # Debian's tesseract-ocr-script-latn (scripts/ocr-setup): it reads
# the fillers best of Debian's models
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
_WIDTH = 2000  # px: pages are brought to this width (a 300 dpi card is about 1,000)
_LINE_HEIGHT = 70  # px: a line crop is brought up to this height
_MAX_SKEW = 8.0  # degrees a photo may be turned by
_SKEW_STEPS = 32  # angles tried on either side of level (a quarter of a degree apart)
_SKEW_WIDTH = 600  # px: the skew is measured on a small copy

_TO_DIGIT = str.maketrans(
    {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8"}
    | {"G": "6", "T": "7", "A": "4"}
)
_TO_LETTER = str.maketrans(
    {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "4": "A", "7": "T"}
)
# Characters of a document number that Tesseract takes for one another.
_TWINS = {"O": "0", "0": "O", "I": "1", "1": "I", "B": "8", "8": "B", "S": "5", "5": "S"} | {
    "Z": "2",
    "2": "Z",
    "G": "6",
    "6": "G",
}
_MAX_TWINS = 6  # ambiguous characters tried in one number (2**6 readings at most)
# The document numbers, and the check digit after each: (line, start, end, check).
_NUMBERS = {
    TD1: ((0, 5, 14, 14),),
    TD3: ((1, 0, 9, 9),),
    FR_CNI: ((1, 0, 12, 12),),
}
# Letters Tesseract reads for a filler of the zone's font.
_FILLER_LOOKALIKES = frozenset("KLXECSR")

# What each position of each line holds: a letter or a filler (a), a digit (d), a check
# digit or a filler (c), anything (x), an optional field (o, usually only fillers).
_SHAPES = {
    TD1: (
        "aaaaa" + "x" * 9 + "c" + "o" * 15,
        "dddddd" + "c" + "a" + "dddddd" + "c" + "aaa" + "o" * 11 + "c",
        "a" * 30,
    ),
    TD3: (
        "a" * 44,
        "x" * 9 + "c" + "aaa" + "dddddd" + "c" + "a" + "dddddd" + "c" + "o" * 14 + "cc",
    ),
    FR_CNI: (
        "a" * 30 + "x" * 6,
        "dddd" + "x" * 8 + "c" + "a" * 14 + "dddddd" + "c" + "a" + "c",
    ),
}


@dataclass(frozen=True)
class _Line:
    text: str
    box: tuple[int, int, int, int]


class ZoneReader:
    """One Tesseract engine, reading zones one document at a time."""

    def __init__(self, tessdata: Path | None = None, language: str = LANGUAGE) -> None:
        tessdata = tessdata or installed_tessdata(language)
        self._api = tesserocr.PyTessBaseAPI(path=f"{tessdata}/", lang=language)
        self._api.SetVariable("tessedit_char_whitelist", ALPHABET)
        # Sauvola's local threshold: a photo's light is uneven, a global one loses lines.
        self._api.SetVariable("thresholding_method", "2")

    def close(self) -> None:
        self._api.End()

    def read(self, image: Image.Image) -> Mrz | None:
        """The zone of `image`, parsed (its `failed_checks` say whether it is proven),
        or None when no zone is found."""
        gray = image.convert("L")
        turned = gray.rotate(_skew(gray), resample=Image.BICUBIC, expand=True, fillcolor=255)
        page = ImageOps.autocontrast(turned, cutoff=1)
        page = page.resize((_WIDTH, round(page.height * _WIDTH / page.width)), Image.LANCZOS)
        lines = self._lines(page)
        zone = [line for line in lines if _looks_like_zone(line.text)][-3:]
        layout = _layout(zone)
        if layout is None:
            return None
        count = 3 if layout == TD1 else 2
        length = len(_SHAPES[layout][0])
        read = [self._cells(_crop(page, line.box), length) for line in zone[-count:]]
        if any(text is None for text in read):
            return None
        return parse(layout, repair(layout, [text for text in read if text is not None]))

    def _lines(self, page: Image.Image) -> list[_Line]:
        self._api.SetPageSegMode(tesserocr.PSM.AUTO)
        self._api.SetImage(page)
        self._api.Recognize()
        found = []
        for line in tesserocr.iterate_level(self._api.GetIterator(), tesserocr.RIL.TEXTLINE):
            try:
                text = line.GetUTF8Text(tesserocr.RIL.TEXTLINE)
            except RuntimeError:  # a line of no text: Tesseract's own way of saying so
                continue
            box = line.BoundingBox(tesserocr.RIL.TEXTLINE)
            if text and box:
                found.append(_Line(text.replace(" ", "").strip(), box))
        return found

    def _cells(self, crop: Image.Image, length: int) -> str | None:
        """The line read cell by cell: each character in the cell under its centre, a
        filler where none is (Tesseract drops some), a filler first when two meet."""
        ink = crop.point(lambda value: 255 if value < 128 else 0).getbbox()
        if ink is None:
            return None
        left, _, right, _ = ink
        # The first and last glyphs are centred in their cells; a glyph is about 0.6 of
        # the pitch wide.
        pitch = (right - left) / (length - 1 + 0.6)
        first = left + 0.3 * pitch
        self._api.SetPageSegMode(tesserocr.PSM.SINGLE_LINE)
        self._api.SetImage(crop)
        self._api.Recognize()
        symbols = []
        for symbol in tesserocr.iterate_level(self._api.GetIterator(), tesserocr.RIL.SYMBOL):
            text = symbol.GetUTF8Text(tesserocr.RIL.SYMBOL)
            box = symbol.BoundingBox(tesserocr.RIL.SYMBOL)
            if text and box:
                symbols.append((text, (box[0] + box[2]) / 2))
        # The grid is then fitted to where the characters are (least squares), three times;
        # to the letters and digits only when there are some: Tesseract places the
        # fillers of a long run less exactly.
        anchors = [symbol for symbol in symbols if symbol[0] != "<"] or symbols
        for _ in range(3):
            first, pitch = _fit_grid(anchors, first, pitch, length)
        cells: list[str | None] = [None] * length
        for text, centre in symbols:
            index = round((centre - first) / pitch)
            if 0 <= index < length and (cells[index] is None or text == "<"):
                cells[index] = text
        return "".join(cell or "<" for cell in cells)


def _fit_grid(
    symbols: Sequence[tuple[str, float]], first: float, pitch: float, length: int
) -> tuple[float, float]:
    """The grid (first cell's centre, pitch) that best fits the symbols' centres: the
    first cell under the first symbol (no line of a zone starts with a filler), the
    pitch by least squares."""
    if not symbols:
        return first, pitch
    first = symbols[0][1]
    pairs = [(round((x - first) / pitch), x - first) for _, x in symbols]
    pairs = [(k, dx) for k, dx in pairs if 0 < k < length]
    if not pairs:
        return first, pitch
    fitted = sum(k * dx for k, dx in pairs) / sum(k * k for k, _ in pairs)
    if not 0.8 * pitch < fitted < 1.25 * pitch:
        return first, pitch
    return first, fitted


def installed_tessdata(language: str = LANGUAGE) -> Path:
    """Debian's folder of Tesseract data that holds `language` (its path names the
    version: 4.00, 5)."""
    for folder in sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata"), reverse=True):
        if (folder / f"{language}.traineddata").is_file():
            return folder
    raise FileNotFoundError(f"no Tesseract data for {language}: run scripts/ocr-setup")


def repair(layout: str, lines: Sequence[str]) -> list[str]:
    """Each character turned into what its position can hold (see the module's notes)."""
    repaired = []
    for line, shape in zip(lines, _SHAPES[layout], strict=True):
        characters = []
        for character, kind in zip(line, shape, strict=True):
            if kind in "dc" and character != "<":
                character = character.translate(_TO_DIGIT)
            elif kind == "a":
                character = character.translate(_TO_LETTER)
            characters.append(character)
        repaired.append(_fillers_in_optional_fields("".join(characters), shape))
    for line, start, end, check in _NUMBERS[layout]:
        repaired[line] = _number_fitting_its_check(repaired[line], start, end, check)
    return repaired


def _number_fitting_its_check(line: str, start: int, end: int, check: int) -> str:
    """The reading of a number whose check digit holds, trying its ambiguous characters
    both ways (fewest changes first); the line as it is when none holds."""
    number = line[start:end]
    if check_digit(number) == line[check]:
        return line
    ambiguous = [i for i, character in enumerate(number) if character in _TWINS][:_MAX_TWINS]
    for changes in range(1, len(ambiguous) + 1):
        for chosen in itertools.combinations(ambiguous, changes):
            reading = list(number)
            for i in chosen:
                reading[i] = _TWINS[reading[i]]
            candidate = "".join(reading)
            if check_digit(candidate) == line[check]:
                return line[:start] + candidate + line[end:]
    return line


def _fillers_in_optional_fields(line: str, shape: str) -> str:
    start = shape.find("o")
    if start < 0:
        return line
    end = shape.rfind("o") + 1
    field = line[start:end]
    if field.count("<") * 2 >= len(field) and set(field) <= _FILLER_LOOKALIKES | {"<"}:
        field = "<" * len(field)
    return line[:start] + field + line[end:]


def _looks_like_zone(text: str) -> bool:
    return len(text) >= 25 and text.count("<") >= 2


def _layout(zone: Sequence[_Line]) -> str | None:
    if len(zone) >= 3:
        return TD1
    if len(zone) == 2:
        average = sum(len(line.text) for line in zone) / 2
        return TD3 if average > 40 else FR_CNI
    return None


def _skew(gray: Image.Image) -> float:
    """Degrees to turn the page by so that its lines are level: the angle at which the
    ink's rows are sharpest (the variance of their sums is largest)."""
    small = gray.resize((_SKEW_WIDTH, max(1, round(gray.height * _SKEW_WIDTH / gray.width))))
    background = small.filter(ImageFilter.BoxBlur(15))
    ink = ImageChops.subtract(background, small).point(lambda value: 255 if value > 25 else 0)
    best, angle = -1.0, 0.0
    for step in range(-_SKEW_STEPS, _SKEW_STEPS + 1):
        candidate = step * _MAX_SKEW / _SKEW_STEPS
        rows = ink.rotate(candidate, resample=Image.NEAREST).resize((1, ink.height), Image.BOX)
        sharpness = ImageStat.Stat(rows).var[0]
        if sharpness > best:
            best, angle = sharpness, candidate
    return angle


def _crop(page: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    x1, y1, x2, y2 = box
    margin = (y2 - y1) // 2
    crop = page.crop(
        (
            max(0, x1 - margin),
            max(0, y1 - margin // 2),
            min(page.width, x2 + margin),
            min(page.height, y2 + margin // 2),
        )
    )
    if crop.height < _LINE_HEIGHT:
        scale = _LINE_HEIGHT / crop.height
        crop = crop.resize((round(crop.width * scale), _LINE_HEIGHT), Image.LANCZOS)
    return crop
