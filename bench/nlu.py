"""NLU quality: `make nlu-report` (cross-validation and held-out test), read back with
the functions of `scripts/nlu_summary.py`.

The 5-fold cross-validation trains five NLU models: about 40 minutes on 2 cores. Reports
newer than the model and than everything they are computed from are reused, the way make
reuses a target that is up to date; `--nlu-rerun` runs them again anyway.
"""

from __future__ import annotations

import importlib.util
import time
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.config import ROOT
from bench.stack import PROJECT_MODEL, base_env, run_logged

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
            "entity_f1": summary.weighted_f1(folder / run / "StoredCRFEntityExtractor_report.json"),
        }
        for run in RUNS
    }


def inputs() -> list[Path]:
    """What the reports are computed from: the model, the NLU data and the test file."""
    data = [path for path in (ROOT / "data" / "nlu").rglob("*") if path.is_file()]
    return [PROJECT_MODEL, ROOT / "config.yml", ROOT / "tests" / "nlu" / "heldout.yml", *data]


def reports_time(folder: Path = REPORTS) -> float | None:
    """When the older of the two reports was written, if both are newer than their inputs."""
    reports = [folder / run / "intent_report.json" for run in RUNS]
    if not all(report.exists() for report in reports):
        return None
    written = min(report.stat().st_mtime for report in reports)
    newest_input = max(path.stat().st_mtime for path in inputs())
    return written if written > newest_input else None


async def nlu_report(log_path: Path, rerun: bool = False) -> dict[str, Any]:
    """Run `make nlu-report` unless its reports are up to date; the scores."""
    written = None if rerun else reports_time()
    if written is not None:
        return {
            "reused_from": datetime.fromtimestamp(written, timezone.utc).isoformat(
                timespec="seconds"
            ),
            "duration_s": None,
            "scores": read_scores(),
        }
    started = time.monotonic()
    await run_logged(["make", "--no-print-directory", "nlu-report"], base_env(), log_path)
    return {"reused_from": None, "duration_s": time.monotonic() - started, "scores": read_scores()}
