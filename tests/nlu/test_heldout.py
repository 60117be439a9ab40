"""The trained model understands real-sounding messages it never saw in training."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def examples(path: Path) -> set[str]:
    """Every example text of a Rasa NLU file, without entity annotations, lower-cased."""
    texts = set()
    for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
        if "intent" not in block:
            continue  # regexes, lookups and synonyms are not examples
        for line in str(block.get("examples", "")).splitlines():
            text = ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))
            texts.add(" ".join(text.lower().split()))
    return texts


def test_heldout_messages_are_not_in_the_training_data() -> None:
    training = set().union(*(examples(p) for p in (ROOT / "data" / "nlu").glob("*.yml")))
    assert examples(HELDOUT) & training == set()


@pytest.fixture(scope="module")
def heldout_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` first (make test does)")
    out = tmp_path_factory.mktemp("heldout")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONWARNINGS": "ignore"}
    subprocess.run(
        [
            str(ROOT / ".venv/bin/rasa"), "test", "nlu", "--nlu", str(HELDOUT),
            "--model", str(MODEL), "--no-plot", "--out", str(out),
        ],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return out


def test_heldout_is_large_enough_and_covers_every_intent() -> None:
    blocks = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["nlu"]
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    names = {item if isinstance(item, str) else next(iter(item)) for item in domain["intents"]}
    typed = {name for name in names if not name.startswith("EXTERNAL_")}  # the API sends those
    assert len(examples(HELDOUT)) >= 400
    assert typed <= {block["intent"] for block in blocks}


def test_heldout_intent_f1_is_at_least_098(heldout_report: Path) -> None:
    report = json.loads((heldout_report / "intent_report.json").read_text())
    assert report["weighted avg"]["f1-score"] >= 0.98


def test_heldout_entity_f1_is_at_least_096(heldout_report: Path) -> None:
    report = json.loads((heldout_report / "StoredCRFEntityExtractor_report.json").read_text())
    assert report["weighted avg"]["f1-score"] >= 0.96
