"""Run `rasa data validate` and fail on any warning, except two known false positives:
responses that only actions send ("The utterance 'utter_x' is not used in any story
or rule"), each of which must really be sent by an action or asked by the form; and
external intents (`EXTERNAL_…`, triggered through Rasa's HTTP API, never typed), which
have no NLU examples by design.

Usage: .venv/bin/python scripts/validate_data.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")
EXTERNAL_INTENT = re.compile(
    r"The intent 'EXTERNAL_\w+' is listed in the domain file, but is not found in the NLU"
)
# Rasa reports validation problems through rasa.shared.utils.io.raise_warning.
RASA_WARNING = re.compile(r"rasa/shared/utils/io\.py:\d+: \w*Warning: (.*)")


def responses_sent_by_code() -> set[str]:
    """Responses named in actions/ (or composed there: `f"utter_help_{slot}"`) or implied
    by the form (utter_ask_/utter_help_<slot>)."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    code = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "actions").rglob("*.py"))
    named = set(re.findall(r"\butter_\w+", code))
    # Names the code composes (f"utter_help_{slot}"): every response with that prefix.
    prefixes = tuple(set(re.findall(r"f\"(utter_\w*?)\{", code)))
    named |= {name for name in domain.get("responses", {}) if name.startswith(prefixes)}
    form_slots = {
        slot for form in domain.get("forms", {}).values() for slot in form["required_slots"]
    }
    implied = {f"{prefix}{slot}" for slot in form_slots for prefix in ("utter_ask_", "utter_help_")}
    return named | implied


def main() -> int:
    env = {
        **os.environ,
        "PYTHONWARNINGS": "default",
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    done = subprocess.run(
        [str(ROOT / ".venv/bin/rasa"), "data", "validate", "--fail-on-warnings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    sent = responses_sent_by_code()
    problems = []
    for line in output.splitlines():
        unused = UNUSED.search(line)
        if unused:
            if unused[1] not in sent:
                problems.append(f"response never sent: {unused[1]}")
        elif EXTERNAL_INTENT.search(line):
            continue
        elif warning := RASA_WARNING.search(line):
            problems.append(warning[1].strip())
    if done.returncode != 0:
        print(output)
        print("rasa data validate failed", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print("Training data and domain are valid: no warnings.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
