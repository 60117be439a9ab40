"""Command line of the web process: serve, contracts import FILE, purge, migrate, agents,
privacy export|erase --email ADDRESS, audit."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

from bot.clock import utc_now
from bot.db import make_engine, make_session_factory, migrate
from bot.logs import configure_logging
from bot.opening_hours import OpeningHoursError
from bot.production import refuse_development_defaults
from bot.services import agents, contracts
from bot.settings import Settings, SettingsError
from bot.web.access_log import AccessLogger
from bot.web.app import create_app, policy_from


def _serve(settings: Settings) -> None:
    app = create_app(settings)

    async def announce(_: web.Application) -> None:
        print(
            f"Assistant ready: open {settings.public_base_url}/ in your browser "
            f"(account API on {settings.public_base_url}/api/v1).",
            flush=True,
        )

    app.on_startup.append(announce)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log_class=AccessLogger,
    )


async def _with_session(settings: Settings, work):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_session_factory(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _import(settings: Settings, path: Path) -> int:
    try:
        rows = contracts.read_csv(path)
    except (OSError, contracts.ContractFileError) as exc:
        print(f"Nothing imported from {path}:\n{exc}", file=sys.stderr)
        return 1
    result = asyncio.run(
        _with_session(settings, lambda s: contracts.import_contracts(s, rows, utc_now()))
    )
    print(
        f"Imported {path}: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )
    return 0


def _purge(settings: Settings, as_of: str | None) -> int:
    """`as_of` purges as if it were that time (a test and operations aid: what the
    policy will have deleted by then goes now)."""
    from bot import retention

    now = utc_now()
    if as_of:
        try:
            now = datetime.fromisoformat(as_of)
        except ValueError:
            print("Error: --as-of takes a date or time, e.g. 2027-01-15.", file=sys.stderr)
            return 2
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)

    async def work() -> retention.PurgeReport:
        engine = make_engine(settings.database_url)
        try:
            await migrate(engine)
            return await retention.purge(
                make_session_factory(engine),
                engine,
                settings.tracker_database_url,
                policy=policy_from(settings),
                retention=retention.Retention.from_settings(settings),
                now=now,
            )
        finally:
            await engine.dispose()

    report = asyncio.run(work())
    counts = ", ".join(f"{count} {kind}" for kind, count in report.details().items())
    print(f"Purged what the retention policy no longer keeps: {counts}.")
    return 0


def _privacy(settings: Settings, args: argparse.Namespace) -> int:
    """`privacy export` prints JSON on stdout; `privacy erase` prints the counts."""
    from bot import privacy, retention

    email = args.email.strip()
    if "@" not in email:
        print("Error: --email takes an e-mail address.", file=sys.stderr)
        return 2

    async def work(session):  # type: ignore[no-untyped-def]
        async with retention.tracker_store(settings.tracker_database_url) as store:
            if args.action == "export":
                return await privacy.export(session, store, email, actor="cli", now=utc_now())
            return await privacy.erase(session, store, email, actor="cli", now=utc_now())

    result = asyncio.run(_with_session(settings, work))
    if args.action == "export":
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        counts = ", ".join(f"{count} {kind}" for kind, count in result.items())
        print(f"Erased: {counts}.")
    return 0


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    """One JSON object per line, oldest first."""
    from bot.services import audit

    try:
        since = datetime.fromisoformat(args.since) if args.since else None
    except ValueError:
        print("Error: --since takes a date or time, e.g. 2026-12-01.", file=sys.stderr)
        return 2
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    listed = asyncio.run(_with_session(settings, lambda s: audit.entries(s, since)))
    for entry in listed:
        print(json.dumps(audit.as_dict(entry), ensure_ascii=False))
    return 0


def _migrate(settings: Settings) -> int:
    asyncio.run(_with_session(settings, lambda s: asyncio.sleep(0)))
    print("Database schema is up to date.")
    return 0


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != password:
        raise agents.AgentError("the two passwords differ")
    return password


def _agents(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.action == "create":
            password = _read_password(args.password_stdin)
            agents.check_password(password)
            agent = asyncio.run(
                _with_session(
                    settings,
                    lambda s: agents.create_agent(s, args.login, args.name, password, utc_now()),
                )
            )
            print(f"Agent {agent.login} ({agent.display_name}) created.")
        elif args.action == "disable":
            agent = asyncio.run(
                _with_session(settings, lambda s: agents.disable_agent(s, args.login, utc_now()))
            )
            print(f"Agent {agent.login} disabled: it can no longer log in.")
        else:
            listed = asyncio.run(_with_session(settings, agents.list_agents))
            for agent in listed:
                state = f"disabled {agent.disabled_at:%Y-%m-%d}" if agent.disabled_at else "active"
                print(f"{agent.login}\t{agent.display_name}\t{state}")
            if not listed:
                print('No agent yet: python -m bot agents create LOGIN --name "First Last"')
    except agents.AgentError as error:
        print(f"Error: {error}.", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the web process and account service (port 8000)")
    contracts_parser = commands.add_parser("contracts", help="manage the contract directory")
    contracts_commands = contracts_parser.add_subparsers(dest="action", required=True)
    importer = contracts_commands.add_parser("import", help="load a CSV file (idempotent)")
    importer.add_argument("file", type=Path, help="CSV with siren,contract_number,company_name")
    purger = commands.add_parser(
        "purge", help="apply the retention policy now (the web process does it hourly)"
    )
    purger.add_argument(
        "--as-of",
        help="purge as if it were this date or time (ISO 8601; a test and operations aid)",
    )
    privacy_parser = commands.add_parser(
        "privacy", help="a person's request: export or erase their data (audited)"
    )
    privacy_commands = privacy_parser.add_subparsers(dest="action", required=True)
    for action, text in (
        ("export", "print as JSON everything held about the person"),
        ("erase", "delete everything held about the person, tracker store included"),
    ):
        privacy_command = privacy_commands.add_parser(action, help=text)
        privacy_command.add_argument("--email", required=True, help="the person's e-mail address")
    audit_parser = commands.add_parser("audit", help="print the audit log of personal data")
    audit_parser.add_argument("--since", help="only entries from this date or time (ISO 8601)")
    commands.add_parser("migrate", help="create or upgrade the database schema")
    agents_parser = commands.add_parser("agents", help="manage the advisors of the agent console")
    agents_commands = agents_parser.add_subparsers(dest="action", required=True)
    creator = agents_commands.add_parser("create", help="create an advisor's account")
    creator.add_argument("login", help="what the advisor types to log in")
    creator.add_argument("--name", required=True, help='the name users read, e.g. "Claire Martin"')
    creator.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )
    agents_commands.add_parser("list", help="list the advisors")
    disabler = agents_commands.add_parser("disable", help="stop an advisor from logging in")
    disabler.add_argument("login")
    args = parser.parse_args(argv)

    # JSON lines on stderr in production (APP_ENV) or with LOG_FORMAT=json.
    configure_logging("web")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "serve":
        # APP_ENV=production: exits (78) on any development default, naming it.
        refuse_development_defaults("web")
    try:
        settings = Settings.from_env()
    except (OpeningHoursError, SettingsError) as error:
        print(f"Invalid setting: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        _serve(settings)
        return 0
    if args.command == "contracts":
        return _import(settings, args.file)
    if args.command == "purge":
        return _purge(settings, args.as_of)
    if args.command == "agents":
        return _agents(settings, args)
    if args.command == "privacy":
        return _privacy(settings, args)
    if args.command == "audit":
        return _audit(settings, args)
    return _migrate(settings)


if __name__ == "__main__":
    sys.exit(main())
