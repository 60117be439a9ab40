"""NLU quality: `make nlu-report` (cross-validation and held-out test), read back with
the functions of `scripts/nlu_summary.py`."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.config import ROOT
from bench.stack import base_env, run_logged

REPORTS = ROOT / "var" / "nlu-report"
RUNS = ("cross-validation", "heldout")


def _nlu_summary() -> ModuleType:
    """scripts/nlu_summary.py, which is a script rather than a package module."""
    spec = importlib.util.spec_from_file_location(
        "nlu_summary", ROOT / "scripts" / "nlu_summary.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_scores(folder: Path = REPORTS) -> dict[str, dict[str, float | None]]:
    """Weighted intent and entity F1 of each run, as `scripts/nlu_summary.py` prints them."""
    summary = _nlu_summary()
    return {
        run: {
            "intent_f1": summary.weighted_f1(folder / run / "intent_report.json"),
            "entity_f1": summary.weighted_f1(folder / run / "DIETClassifier_report.json"),
        }
        for run in RUNS
    }


async def nlu_report(log_path: Path) -> dict[str, Any]:
    """Run `make nlu-report` (5-fold cross-validation trains 5 NLU models) and read it."""
    started = time.monotonic()
    summary = await run_logged(["make", "--no-print-directory", "nlu-report"], base_env(), log_path)
    return {
        "duration_s": time.monotonic() - started,
        "scores": read_scores(),
        "summary": summary.strip().splitlines()[-3:],
    }
