"""Train Tesseract's LSTM to read machine-readable zones: models/mrz.traineddata.

Tesseract's English model misreads the zone's fillers (« < »): runs of them come out as K,
S or E, or shorter than written. This trains a small model of the zone's 37 characters
from scratch, with Debian's own training tools (`lstmtraining`, `combine_lang_model`), on
lines drawn here in OCR-B (Debian's fonts-ocr-b): random zone-like lines, degraded as
phone photos are (size, blur, rotation, uneven light, noise, JPEG). Nothing is downloaded.

    python scripts/train_mrz_model.py --lines 4000 --iterations 6000 --out models
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import random
import shutil
import string
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ALPHABET = string.ascii_uppercase + string.digits + "<"
OCR_B = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"
NET_SPEC = "[1,36,0,1 Ct3,3,16 Mp3,3 Lfys48 Lfx96 Lrx96 Lfx192 O1c{classes}]"


def zone_like_line(rng: random.Random) -> str:
    """A line of 30, 36 or 44 characters made like a zone's: words, numbers, filler runs."""
    length = rng.choice((30, 36, 44))
    parts: list[str] = []
    while sum(map(len, parts)) < length:
        kind = rng.random()
        if kind < 0.35:
            parts.append("".join(rng.choices(string.ascii_uppercase, k=rng.randint(2, 12))))
        elif kind < 0.6:
            parts.append("".join(rng.choices(string.digits, k=rng.randint(1, 9))))
        elif kind < 0.75:
            parts.append("".join(rng.choices(ALPHABET[:-1], k=rng.randint(3, 9))))
        else:
            parts.append("<" * rng.choice((1, 1, 2, 2, 3, rng.randint(4, 20))))
    return "".join(parts)[:length]


def draw_line(text: str, rng: random.Random) -> Image.Image:
    """The line as a phone photo of it shows it: grey levels, blur, tilt, light, noise."""
    size = rng.randint(22, 52)
    font = ImageFont.truetype(OCR_B, size)
    width = round(font.getlength(text)) + 2 * size
    height = round(size * 1.9)
    paper, ink = rng.randint(170, 250), rng.randint(0, 80)
    image = Image.new("L", (width, height), paper)
    ImageDraw.Draw(image).text((size, round(size * 0.35)), text, font=font, fill=ink)
    image = image.rotate(rng.uniform(-1.5, 1.5), resample=Image.BICUBIC, fillcolor=paper)
    if rng.random() < 0.7:
        ramp = Image.linear_gradient("L").rotate(rng.choice((90, -90))).resize(image.size)
        strength = rng.uniform(0.1, 0.5)
        shade = ramp.point(lambda v: round(255 * (1 - strength * v / 255)))
        image = Image.composite(image, Image.new("L", image.size, 0), shade)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.6)))
    if rng.random() < 0.5:
        scale = rng.uniform(0.5, 0.9)
        small = image.resize((round(width * scale), round(height * scale)), Image.BILINEAR)
        image = small.resize((width, height), Image.BILINEAR)
    noise = Image.effect_noise(image.size, rng.uniform(2, 18))
    image = Image.blend(image, noise, rng.uniform(0.0, 0.15))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=rng.randint(55, 95))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def _write_sample(folder: Path, index: int, seed: int) -> Path:
    rng = random.Random(seed * 1_000_003 + index)
    text = zone_like_line(rng)
    image = draw_line(text, rng)
    base = folder / f"line{index:05d}"
    image.save(base.with_suffix(".png"))
    base.with_suffix(".gt.txt").write_text(text + "\n")
    # Tesseract's line box format: the whole line as one word, then its end.
    w, h = image.size
    box = f"WordStr 0 0 {w} {h} 0 #{text}\n\t {w} {h} {w + 1} {h + 1} 0\n"
    base.with_suffix(".box").write_text(box)
    subprocess.run(
        ["tesseract", str(base.with_suffix(".png")), str(base), "--psm", "13", "lstm.train"],
        check=True,
        capture_output=True,
    )
    return base.with_suffix(".lstmf")


def make_samples(folder: Path, count: int, seed: int, workers: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_write_sample, [folder] * count, range(count), [seed] * count))


def starter_model(folder: Path) -> Path:
    """The untrained model's data: the 37 characters, no dictionary."""
    (folder / "all.gt.txt").write_text(ALPHABET + "\n")
    subprocess.run(
        ["unicharset_extractor", "--norm_mode", "1", "--output_unicharset",
         str(folder / "unicharset"), str(folder / "all.gt.txt")],
        check=True, capture_output=True,
    )  # fmt: skip
    scripts = folder / "script"
    scripts.mkdir(exist_ok=True)
    # combine_lang_model reads a radical table even for Latin scripts; one line suffices.
    (scripts / "radical-stroke.txt").write_text("4E00\t1.0\n")
    subprocess.run(
        ["combine_lang_model", "--input_unicharset", str(folder / "unicharset"),
         "--script_dir", str(scripts), "--output_dir", str(folder), "--lang", "mrz",
         "--pass_through_recoder"],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder / "mrz" / "mrz.traineddata"


def train(work: Path, lines: int, iterations: int, seed: int, workers: int) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    starter = starter_model(work)
    samples = make_samples(work / "train", lines, seed, workers)
    listing = work / "train.txt"
    listing.write_text("".join(f"{path}\n" for path in samples))
    classes = len(ALPHABET) + 3  # Tesseract adds the space, the null and the joined
    (work / "checkpoints").mkdir(exist_ok=True)
    subprocess.run(
        ["lstmtraining", "--traineddata", str(starter),
         "--net_spec", NET_SPEC.format(classes=classes), "--model_output",
         str(work / "checkpoints" / "mrz"), "--learning_rate", "0.002",
         "--train_listfile", str(listing), "--max_iterations", str(iterations),
         "--target_error_rate", "0.05"],
        check=True,
    )  # fmt: skip
    output = work / "mrz.traineddata"
    subprocess.run(
        ["lstmtraining", "--stop_training", "--continue_from",
         str(work / "checkpoints" / "mrz_checkpoint"), "--traineddata", str(starter),
         "--model_output", str(output)],
        check=True, capture_output=True,
    )  # fmt: skip
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=4000)
    parser.add_argument("--iterations", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--work", type=Path, help="keep the samples and checkpoints here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mrz-training-"))
    try:
        model = train(work, args.lines, args.iterations, args.seed, args.workers)
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copy(model, args.out / "mrz.traineddata")
        print(f"Model: {args.out / 'mrz.traineddata'}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
