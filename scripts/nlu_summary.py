"""Print intent and entity F1 from the reports `make nlu-report` writes, and what the
held-out set still gets wrong. Fails when the held-out figures miss their targets.

Usage: .venv/bin/python scripts/nlu_summary.py var/nlu-report
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Targets of the held-out set (issue 18): weighted F1.
TARGETS = {"intent": 0.98, "entity": 0.96}
SHOWN_ERRORS = 25


def weighted_f1(report: Path) -> float | None:
    if not report.exists():
        return None
    return json.loads(report.read_text())["weighted avg"]["f1-score"]


def intent_errors(folder: Path) -> list[str]:
    """One line per misclassified message: expected → predicted (confidence), text."""
    path = folder / "intent_errors.json"
    if not path.exists():
        return []
    return [
        f"{error['intent']} → {error['intent_prediction']['name']} "
        f"({error['intent_prediction']['confidence']:.2f}): {error['text']}"
        for error in json.loads(path.read_text())
    ]


def entity_errors(folder: Path) -> list[str]:
    """One line per message whose entities differ: the text, expected and predicted."""
    path = folder / "StoredCRFEntityExtractor_errors.json"
    if not path.exists():
        return []

    def spans(text: str, entities: list[dict]) -> str:
        found = (f"{e['entity']}={text[e['start'] : e['end']]!r}" for e in entities)
        return ", ".join(found) or "none"

    return [
        f"{error['text']}\n      expected  {spans(error['text'], error['entities'])}"
        f"\n      predicted {spans(error['text'], error['predicted_entities'])}"
        for error in json.loads(path.read_text())
    ]


def main(folder: str) -> int:
    root = Path(folder)
    print(f"{'run':<18}{'intent F1':>12}{'entity F1':>12}")
    for run in ("cross-validation", "heldout"):
        intent = weighted_f1(root / run / "intent_report.json")
        entity = weighted_f1(root / run / "StoredCRFEntityExtractor_report.json")
        cells = [
            f"{value:>12.3f}" if value is not None else f"{'—':>12}" for value in (intent, entity)
        ]
        print(f"{run:<18}{''.join(cells)}")
    targets = "".join(f"{value:>12.2f}" for value in TARGETS.values())
    print(f"{'held-out target':<18}{targets}")

    heldout = root / "heldout"
    for title, errors in (
        ("Held-out intent errors", intent_errors(heldout)),
        ("Held-out entity errors", entity_errors(heldout)),
    ):
        if errors:
            print(f"\n{title} ({len(errors)}):")
            for line in errors[:SHOWN_ERRORS]:
                print(f"  {line}")
            if len(errors) > SHOWN_ERRORS:
                print(f"  … and {len(errors) - SHOWN_ERRORS} more")

    figures = {
        "intent": weighted_f1(heldout / "intent_report.json"),
        "entity": weighted_f1(heldout / "StoredCRFEntityExtractor_report.json"),
    }
    missed = [
        f"held-out {kind} F1 {value:.3f} < {TARGETS[kind]:.2f}"
        for kind, value in figures.items()
        if value is not None and value < TARGETS[kind]
    ]
    for line in missed:
        print(line, file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/nlu-report"))
