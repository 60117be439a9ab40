"""The insurer's contract directory: import and lookup."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import identifiers
from bot.models import Contract

DEMO_CONTRACTS = Path(__file__).resolve().parent.parent / "data" / "demo_contracts.csv"
COLUMNS = ("siren", "contract_number", "company_name")


@dataclass(frozen=True)
class ContractRow:
    siren: str
    contract_number: str
    company_name: str


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int


class ContractFileError(ValueError):
    """The CSV file cannot be imported; the message lists the bad lines."""


def read_csv(path: Path) -> list[ContractRow]:
    """Read and normalise a directory file with columns siren,contract_number,company_name.

    Raises:
        ContractFileError: a column is missing or lines are invalid (nothing is imported).
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ContractFileError(f"missing column(s): {', '.join(missing)}")
        rows: dict[str, ContractRow] = {}
        problems: list[str] = []
        for line, record in enumerate(reader, start=2):
            try:
                siren = identifiers.to_siren(record["siren"] or "")
                number = identifiers.to_contract_number(record["contract_number"] or "")
            except ValueError as exc:
                problems.append(f"line {line}: {exc}")
                continue
            name = " ".join((record["company_name"] or "").split())
            if not name:
                problems.append(f"line {line}: empty company_name")
                continue
            rows[number] = ContractRow(siren, number, name[:200])
    if problems:
        raise ContractFileError("\n".join(problems))
    return list(rows.values())


async def import_contracts(
    session: AsyncSession, rows: list[ContractRow], now: datetime
) -> ImportResult:
    """Insert or update each contract by its number; importing twice changes nothing."""
    existing = {
        contract.contract_number: contract
        for contract in (
            await session.execute(
                select(Contract).where(
                    Contract.contract_number.in_([row.contract_number for row in rows])
                )
            )
        ).scalars()
    }
    added = updated = unchanged = 0
    for row in rows:
        contract = existing.get(row.contract_number)
        if contract is None:
            session.add(
                Contract(
                    siren=row.siren,
                    contract_number=row.contract_number,
                    company_name=row.company_name,
                    updated_at=now,
                )
            )
            added += 1
        elif (contract.siren, contract.company_name) != (row.siren, row.company_name):
            contract.siren = row.siren
            contract.company_name = row.company_name
            contract.updated_at = now
            updated += 1
        else:
            unchanged += 1
    await session.commit()
    return ImportResult(added, updated, unchanged)


async def load_demo_if_empty(session: AsyncSession, now: datetime) -> int:
    """Load the demo directory on a first run so the assistant works out of the box."""
    count = (await session.execute(select(func.count()).select_from(Contract))).scalar_one()
    if count:
        return 0
    return (await import_contracts(session, read_csv(DEMO_CONTRACTS), now)).added


async def company_name(session: AsyncSession, siren: str, contract_number: str) -> str | None:
    """Return the company holding this contract under this SIREN, if any."""
    return (
        await session.execute(
            select(Contract.company_name).where(
                Contract.siren == siren, Contract.contract_number == contract_number
            )
        )
    ).scalar_one_or_none()
