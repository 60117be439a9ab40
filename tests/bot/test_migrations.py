"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from datetime import date, datetime, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.db import alembic_config, make_engine, migrate
from bot.models import metadata


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await migrate(engine)
        await migrate(engine)  # a second run is a no-op
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []


def _alembic(connection: Connection, command_name: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, command_name)(config, revision)


async def test_0002_keeps_existing_accounts_and_their_links(database_url: str) -> None:
    """Dropping `accounts.document_reference` must not cascade to activation tokens
    (SQLite runs with foreign keys on)."""
    engine = make_engine(database_url)
    now = datetime.now(timezone.utc)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "upgrade", "0001")
            await connection.execute(
                text(
                    "INSERT INTO accounts (id, login, status, idempotency_key, "
                    "request_fingerprint, siren, contract_number, company_name, civility, "
                    "last_name, first_name, birth_date, mobile_phone, job_title, email, "
                    "professional_phone, document_reference, cgu_version, cgu_accepted_at, "
                    "created_at) VALUES (1, 'EC00000001', 'pending', 'k', 'f', '552100554', "
                    "'AB123456', 'Démo', 'Mme', 'Lefèvre', 'Émilie', :born, '+33612345678', "
                    "'DAF', 'e@exemple.fr', '+33142685300', 'ancienne', '2026-01', :now, :now)"
                ),
                {"born": date(1984, 3, 12), "now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO activation_tokens (account_id, token_hash, created_at, "
                    "expires_at) VALUES (1, 'h', :now, :now)"
                ),
                {"now": now},
            )

        await migrate(engine)

        async with engine.connect() as connection:
            tokens = await connection.execute(text("SELECT account_id FROM activation_tokens"))
            assert tokens.scalars().all() == [1]
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("accounts")}
            )
            assert "document_reference" not in columns
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "downgrade", "0001")
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            assert {"uploads", "documents"}.isdisjoint(tables)
            tokens = await connection.execute(text("SELECT account_id FROM activation_tokens"))
            assert tokens.scalars().all() == [1]
        await migrate(engine)
    finally:
        await engine.dispose()
