"""Command line of the web process: serve, contracts import FILE, purge, migrate, agents."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path

from aiohttp import web

from bot.clock import utc_now
from bot.db import make_engine, make_session_factory, migrate
from bot.logs import configure_logging
from bot.opening_hours import OpeningHoursError
from bot.production import refuse_development_defaults
from bot.services import accounts, agents, contracts
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


def _purge(settings: Settings) -> int:
    purged = asyncio.run(
        _with_session(
            settings, lambda s: accounts.purge(s, policy=policy_from(settings), now=utc_now())
        )
    )
    print(f"Purged {purged} account(s) left unactivated for 30 days.")
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
    commands.add_parser("purge", help="delete accounts left unactivated for 30 days")
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
        return _purge(settings)
    if args.command == "agents":
        return _agents(settings, args)
    return _migrate(settings)


if __name__ == "__main__":
    sys.exit(main())
