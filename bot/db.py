"""Database engine, sessions and schema migrations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(database_url: str, *, wal: bool = True) -> AsyncEngine:
    """Create the async engine; for SQLite, make sure the file's folder exists.

    Query parameters never appear in errors or logs (`hide_parameters`): they hold
    personal data (names, e-mails, birth dates). On SQLite every connection deletes
    securely (deleted rows are overwritten with zeros, not left in free pages) and, with
    `wal`, switches the file to write-ahead logging (not for Rasa's tracker store, whose
    journal mode is Rasa's).
    """
    url = make_url(database_url)
    connect_args: dict[str, object] = {}
    if url.get_backend_name() == "sqlite":
        if wal and url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = 30
    engine = create_async_engine(
        database_url,
        future=True,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args=connect_args,
    )
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine, wal=wal)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, wal: bool) -> None:
    from sqlalchemy import event

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


async def reclaim(engine: AsyncEngine, tables: Sequence[str], *, full: bool = False) -> None:
    """Make deleted rows unrecoverable from the database's files, after an erase or a
    purge has committed.

    SQLite (secure deletion already zeroed them in the pages): checkpoint the write-ahead
    log and truncate it, so that no older copy of a page lingers in the `-wal` file.
    PostgreSQL: VACUUM the tables (outside a transaction) so that their dead rows go;
    `full` rewrites them into new files (VACUUM FULL, which locks each table meanwhile).
    The WAL segments of PostgreSQL keep the rows until they are recycled (README,
    « Données personnelles »).
    """
    backend = engine.dialect.name
    async with engine.connect() as connection:
        if backend == "sqlite":
            mode = await connection.exec_driver_sql("PRAGMA journal_mode")
            if str(mode.scalar()).lower() == "wal":
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif backend == "postgresql":
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            verb = "VACUUM FULL" if full else "VACUUM"
            for table in tables:
                await autocommit.exec_driver_sql(f'{verb} "{table}"')


def make_session_factory(engine: AsyncEngine) -> sessionmaker:
    """One `AsyncSession` per request or unit of work comes from this factory."""
    return sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, future=True)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the latest Alembic revision (creates it on an empty database)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def run_outside_transaction(url: str, *statements: str) -> None:
    """Run statements on PostgreSQL outside a transaction, as CREATE and DROP DATABASE
    need (synchronously: the tests' fixtures and the benchmarks call it, not the app)."""
    import psycopg2

    connection = psycopg2.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()
