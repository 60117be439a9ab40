"""The simulation runs once per session against the whole stack; its table is printed
at the end of the session, whatever the assertions said."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, running_stack
from tests.simulation import report
from tests.simulation.people import PEOPLE
from tests.simulation.simulate import Outcome, simulate

OUTCOMES = pytest.StashKey[list[Outcome]]()
REPORT = ROOT / "var" / "simulation" / "report.md"
CONCURRENCY = 4


@pytest.fixture(scope="session")
def simulation_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The whole stack as the e2e tests run it, behind a trusted proxy (127.0.0.1): each
    person writes from an address of their own, as through the production reverse proxy,
    so the per-address throttles (30 e-mail checks per 15 minutes) count people apart."""
    tmp = tmp_path_factory.mktemp("simulation")
    with running_stack(tmp, {"TRUSTED_PROXIES": "127.0.0.1"}) as urls:
        yield urls


@pytest.fixture(scope="session")
def simulation(
    simulation_stack: dict[str, str], request: pytest.FixtureRequest
) -> dict[str, Outcome]:
    """Every selected person's outcome, by person key (`-k` selects people: a person's
    own test; the suite-wide tests then judge the people selected)."""
    chosen = {
        item.callspec.params["person"].key
        for item in request.session.items
        if hasattr(item, "callspec") and "person" in item.callspec.params
    }
    people = [person for person in PEOPLE if person.key in chosen] or PEOPLE
    # In a thread of its own: the session's event loops stay untouched.
    with ThreadPoolExecutor(max_workers=1) as pool:
        outcomes = pool.submit(
            asyncio.run, simulate(people, simulation_stack, CONCURRENCY)
        ).result()
    request.config.stash[OUTCOMES] = outcomes
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report.markdown(outcomes), encoding="utf-8")
    return {outcome.person.key: outcome for outcome in outcomes}


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    outcomes = config.stash.get(OUTCOMES, None)
    if not outcomes:
        return
    terminalreporter.section("simulated people")
    for line in report.table(outcomes):
        terminalreporter.write_line(line)
    lines = report.incidents(outcomes)
    if lines:
        terminalreporter.write_line("")
        for line in lines:
            terminalreporter.write_line(line)
    terminalreporter.write_line(f"\nTranscripts: {Path(REPORT).relative_to(ROOT)}")
