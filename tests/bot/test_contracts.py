"""The contract directory: CSV import from the command line, demo contracts on first run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.models import Contract
from bot.web.keys import SESSIONS
from tests.conftest import MovableClock, Service, start_service

ROOT = Path(__file__).resolve().parents[2]


def import_csv(database_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot", "contracts", "import", str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


async def directory(service: Service) -> dict[str, tuple[str, str]]:
    async with service.app[SESSIONS]() as session:
        rows = (await session.execute(select(Contract))).scalars()
        return {row.contract_number: (row.siren, row.company_name) for row in rows}


async def test_demo_contracts_are_loaded_on_first_run(service: Service) -> None:
    contracts = await directory(service)
    assert len(contracts) >= 5
    assert contracts["AB123456"] == ("552100554", "Maison Démo Industries SA")


async def test_import_is_idempotent_and_updates_changed_lines(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    csv_file = tmp_path / "contrats.csv"
    csv_file.write_text(
        "siren,contract_number,company_name\n"
        "732 829 320,ZX-100200,Société Exemple\n"
        "443061841,zx100300,Autre Exemple SAS\n",
        encoding="utf-8",
    )
    first = import_csv(database_url, csv_file)
    assert first.returncode == 0, first.stderr
    assert "2 added, 0 updated, 0 unchanged" in first.stdout

    second = import_csv(database_url, csv_file)
    assert "0 added, 0 updated, 2 unchanged" in second.stdout

    csv_file.write_text(
        "siren,contract_number,company_name\n732829320,ZX100200,Société Exemple Renommée\n",
        encoding="utf-8",
    )
    third = import_csv(database_url, csv_file)
    assert "0 added, 1 updated, 0 unchanged" in third.stdout

    async with start_service(database_url, clock, tmp_path) as service:
        contracts = await directory(service)
        assert contracts["ZX100200"] == ("732829320", "Société Exemple Renommée")
        assert contracts["ZX100300"] == ("443061841", "Autre Exemple SAS")
        assert "AB123456" not in contracts, "demo contracts only fill an empty directory"
        status, body = await service.post(
            "/api/v1/companies/verify", {"siren": "732829320", "contract_number": "ZX100200"}
        )
        assert (status, body["company_name"]) == (200, "Société Exemple Renommée")


async def test_a_bad_file_imports_nothing_and_names_the_lines(
    database_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    csv_file = tmp_path / "contrats.csv"
    csv_file.write_text(
        "siren,contract_number,company_name\n"
        "732829320,ZX100200,Bonne ligne\n"
        "732829321,ZX100201,Mauvaise clé\n"
        "443061841,!,Mauvais contrat\n",
        encoding="utf-8",
    )
    done = import_csv(database_url, csv_file)
    assert done.returncode == 1
    assert "line 3" in done.stderr and "line 4" in done.stderr

    async with start_service(database_url, clock, tmp_path) as service:
        async with service.app[SESSIONS]() as session:
            count = select(func.count()).select_from(Contract).where(Contract.siren == "732829320")
            assert (await session.execute(count)).scalar_one() == 0


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    csv_file = tmp_path / "contrats.csv"
    csv_file.write_text("numero;raison_sociale\n1;X\n", encoding="utf-8")
    done = import_csv(f"sqlite:///{tmp_path / 'x.db'}", csv_file)
    assert done.returncode == 1
    assert "missing column(s): siren, contract_number, company_name" in done.stderr
