"""The ``lvzhi`` command (also ``python -m bot``).

    lvzhi serve [--host H] [--port P]    run the bot (WeChat, WeCom, simulator, scheduler)
    lvzhi db upgrade                      bring the database schema up to date (Alembic)
    lvzhi db revision -m "…"              generate the next migration from the models (on an up-to-date database)
    lvzhi chat [--user ID]                chat with the bot in this terminal (the simulator, no server)
    lvzhi dev mock-wechat [--port P]      a local stand-in for the WeChat and WeCom APIs
    lvzhi members import FILE [--dry-run] import the roster (.xlsx or .csv)
    lvzhi demo                            load the sample county roster and a little sample data
    lvzhi export reports --year Y         a year's social-condition reports as .xlsx
    lvzhi export attendance --activity ID | --year Y   attendance of an activity or a year as .xlsx
    lvzhi export ledger --year Y | archive --member M   the duty assessment / one member's archive (.xlsx)
    lvzhi duty check [FILE] | rebuild [--year Y]       validate a rules file / rebuild a year's ledger
    lvzhi console link --member ID|MOBILE            a one-time login link to the console (/console/)

Every command takes ``--config FILE`` (default ``$LVZHI_CONFIG`` or ``./config.yaml``). A bad
configuration prints one line naming the key and exits with code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.cli.common import EXIT_OK, command_database
from bot.domain.duty_rules import rules_of
from bot.infra.config import ConfigError, Settings, load_settings
from bot.infra.logs import configure_logging

log = logging.getLogger("lvzhi")

Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lvzhi", description="履职 lvzhi — 政协委员掌上履职助手")
    parser.add_argument("--config", help="configuration file (default: $LVZHI_CONFIG or ./config.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the bot")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port (default 1)")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="upgrade to the latest schema").set_defaults(func=cmd_db_upgrade)
    revision = db_sub.add_parser("revision", help="generate the next migration from the models (Alembic autogenerate)")
    revision.add_argument("-m", "--message", required=True, help="what the migration does, e.g. 'proposals'")
    revision.set_defaults(func=cmd_db_revision)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--user", default="sim-terminal", help="the simulated WeChat id")
    chat.set_defaults(func=cmd_chat)

    dev = sub.add_parser("dev", help="development tools")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)
    mock = dev_sub.add_parser("mock-wechat", help="serve a mock of the WeChat and WeCom APIs")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=8081)
    mock.set_defaults(func=cmd_mock_wechat)

    from bot.cli.members import add_members_commands

    add_members_commands(sub)

    from bot.cli.reports import add_reports_commands

    add_reports_commands(sub)

    from bot.cli.attendance import add_attendance_commands

    add_attendance_commands(_export_subparsers(sub))
    from bot.cli.duty import add_duty_commands

    add_duty_commands(sub, _export_subparsers(sub))
    from bot.cli.console import add_console_commands

    add_console_commands(sub)
    return parser


def _export_subparsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The sub-parsers of ``lvzhi export`` (made by bot.cli.reports), so other exports join the same
    command: argparse refuses a second ``export`` parser and has no public way back to its sub-parsers."""
    export = sub.choices["export"]
    return next(action for action in export._actions if isinstance(action, argparse._SubParsersAction))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None) and args.command == "serve":
        overrides.setdefault("server", {})["host"] = args.host
    if getattr(args, "port", None) and args.command == "serve":
        overrides.setdefault("server", {})["port"] = args.port
    try:
        settings = load_settings(args.config, **overrides)
        rules_of(settings)  # a bad assessment rules file stops start-up like any wrong setting
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.logging.level, json_format=settings.logging.json_format,
                      secrets_to_hide=settings.secret_values())
    try:
        return asyncio.run(args.func(settings, args))
    except KeyboardInterrupt:
        return 130


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services, prepare_database

    services = build_services(settings)
    await prepare_database(services)
    await services.db.dispose()
    workers = max(1, args.workers)
    children = [_spawn_worker(args, index) for index in range(1, workers)]
    try:
        return await serve_one(settings, primary=True)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(timeout=10)


def _spawn_worker(args: argparse.Namespace, index: int) -> Any:
    """Another process on the same port (SO_REUSEPORT): it shares the database, not memory."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_worker_main, args=(args.config, args.host, args.port, index), daemon=True)
    child.start()
    return child


def _worker_main(config: str | None, host: str | None, port: int | None, index: int) -> None:
    overrides: dict[str, Any] = {"server": {k: v for k, v in (("host", host), ("port", port)) if v}}
    settings = load_settings(config, **overrides)
    configure_logging(settings.logging.level, json_format=settings.logging.json_format,
                      secrets_to_hide=settings.secret_values())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_one(settings, primary=False))


async def serve_one(settings: Settings, *, primary: bool) -> int:
    """One serving process. Only the primary runs the scheduler; every process drains deliveries
    (rows are claimed atomically, so they never send one twice)."""
    from aiohttp import web

    from bot.app import build_services, create_app

    if not primary:
        settings = settings.model_copy(update={"scheduler": settings.scheduler.model_copy(update={"enabled": False})})
    services = build_services(settings)
    app = create_app(settings, services=services, migrate=False)
    # Signals are handled here, not by aiohttp: its handler raises GracefulExit out of the event loop, and
    # asyncio.run then cancels every task — including messages answered "success" under overload whose
    # handling was still running. Setting an event instead lets runner.cleanup() stop accepting, wait for
    # requests in flight and drain the dispatcher before anything is cancelled.
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.server.host, settings.server.port, reuse_port=True)
    await site.start()
    where = f"http://{settings.server.host}:{settings.server.port}"
    log.info("lvzhi is listening on %s", where)
    if settings.simulator.enabled and primary:
        print(f"lvzhi: 模拟器 simulator → {where}/sim", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        log.info("stopping: finishing the messages in hand")
    finally:
        await runner.cleanup()
    return 0


async def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    async with command_database(settings) as db:
        await db.upgrade()
        log.info("database is at revision %s", await db.current_revision())
    return EXIT_OK


async def cmd_db_revision(settings: Settings, args: argparse.Namespace) -> int:
    async with command_database(settings) as db:
        path = await db.new_revision(args.message)
    print(f"wrote {path}: read it before committing (autogenerate misses renames and data changes)")
    return EXIT_OK


async def cmd_mock_wechat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.devtools.mock_platform import run_mock_server

    await run_mock_server(args.host, args.port)
    return 0


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.terminal import chat_in_terminal

    return await chat_in_terminal(settings, args.user)


if __name__ == "__main__":
    raise SystemExit(main())
