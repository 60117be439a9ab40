"""Print intent and entity F1 from the reports `make nlu-report` writes.

Usage: .venv/bin/python scripts/nlu_summary.py var/nlu-report
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def weighted_f1(report: Path) -> float | None:
    if not report.exists():
        return None
    return json.loads(report.read_text())["weighted avg"]["f1-score"]


def main(folder: str) -> int:
    root = Path(folder)
    print(f"{'run':<18}{'intent F1':>12}{'entity F1':>12}")
    for run in ("cross-validation", "heldout"):
        intent = weighted_f1(root / run / "intent_report.json")
        entity = weighted_f1(root / run / "DIETClassifier_report.json")
        cells = [
            f"{value:>12.3f}" if value is not None else f"{'—':>12}" for value in (intent, entity)
        ]
        print(f"{run:<18}{''.join(cells)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/nlu-report"))
