"""Command line: `python -m bench` (full run) or `python -m bench --quick` (CI).

Exits 1 when the harness itself breaks (a crash, errors in the load where there should
be none, a process that dies), never because a target is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.config import BenchConfig
from bench.run import main


def _levels(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def parse(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers, SQLite only, no NLU")
    parser.add_argument("--levels", type=_levels, help="concurrent users, e.g. 1,10,50")
    parser.add_argument("--repeats", type=int, help="runs of each load level")
    parser.add_argument(
        "--capacity-levels",
        type=_levels,
        help="people at once with human pauses, e.g. 25,50,100,200,300,400",
    )
    parser.add_argument("--soak-turns", type=int, help="turns before the last memory reading")
    parser.add_argument("--long-turns", type=int, help="turn compared with turn 5")
    parser.add_argument("--service-registrations", type=int, help="registrations per round")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false", default=None)
    parser.add_argument("--no-nlu", dest="nlu", action="store_false", default=None)
    parser.add_argument(
        "--nlu-rerun",
        action="store_true",
        default=None,
        help="run `make nlu-report` even if its reports are up to date (about 40 min)",
    )
    parser.add_argument(
        "--no-train-project",
        dest="train_project",
        action="store_false",
        default=None,
        help="do not time `rasa train` of the project (about 2 min, into var/bench/run)",
    )
    parser.add_argument("--out", type=Path, help="where the report goes (var/bench)")
    parser.add_argument(
        "--model", type=Path, help="the project model to serve (models/current.tar.gz)"
    )
    args = vars(parser.parse_args(argv))
    preset = BenchConfig.quick() if args.pop("quick") else BenchConfig.full()
    return preset.with_changes(**args)


if __name__ == "__main__":
    sys.exit(main(parse()))
