"""Check that no held-out NLU message also appears in the training data.

Usage: .venv/bin/python tests/nlu/check_heldout.py [TRAINING_DIR] [HELDOUT_FILE]
Compares the plain texts (entity annotations removed), case-insensitively and
with surrounding whitespace ignored. Exits 1 and lists the duplicates if any.
"""

import sys
from pathlib import Path

from rasa.shared.nlu.training_data.loading import load_data

ROOT = Path(__file__).resolve().parents[2]


def _texts(path: Path) -> dict:
    data = load_data(str(path))
    return {" ".join(m.get("text").lower().split()): m.get("intent") for m in data.intent_examples}


def main() -> int:
    training_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "nlu"
    heldout = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("heldout.yml")
    train = _texts(training_dir)
    test = _texts(heldout)
    duplicates = sorted(t for t in test if t in train)
    for text in duplicates:
        print(f"duplicate: {text!r} (held-out {test[text]}, training {train[text]})")
    intents = sorted({i for i in test.values()})
    print(
        f"{len(test)} held-out messages, {len(intents)} intents, "
        f"{len(train)} training messages, {len(duplicates)} duplicates"
    )
    return 1 if duplicates else 0


if __name__ == "__main__":
    sys.exit(main())
