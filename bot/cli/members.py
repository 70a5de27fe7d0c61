"""The ``members import`` and ``demo`` commands, registered on the lead's ``lvzhi`` parser.

``bot.cli.main`` calls :func:`add_members_commands` with its sub-parsers and later runs
``await args.func(settings, args)``, which returns the exit code:
0 all rows imported, 1 some rows were rejected (listed on stdout), 2 the file (or the database) could
not be used. ``members import`` expects the schema in place (``lvzhi db upgrade``); ``demo`` upgrades it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.cli.common import EXIT_BAD, EXIT_OK, CommandFailed, command_database, failing_politely
from bot.domain.roster import ImportReport, RosterError, import_file, load_demo
from bot.infra.config import Settings
from bot.infra.i18n import Catalogue
from models.member import Member, Role

EXIT_ROW_ERRORS, EXIT_BAD_FILE = 1, EXIT_BAD  # a row error is not a missing roster


def add_members_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    members = subparsers.add_parser("members", help="manage the member roster")
    members_sub = members.add_subparsers(dest="members_command", required=True)
    importer = members_sub.add_parser("import", help="import the roster from .xlsx or .csv (UTF-8 or GBK)")
    importer.add_argument("file", type=Path, help="roster file (姓名, 手机号, 界别, 联络组 …)")
    importer.add_argument("--dry-run", action="store_true", help="show what would change without writing")
    importer.set_defaults(func=members_import)

    demo = subparsers.add_parser("demo", help="load the sample county roster for a try-out")
    demo.add_argument("--roster", type=Path, default=None, help="another roster file instead of the sample")
    demo.set_defaults(func=demo_command)


class ProgressBar:
    """A one-line text bar on stderr, drawn only on a terminal so logs and pipes stay clean."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = self.width * done // total
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def print_report(report: ImportReport, texts: Catalogue, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up at call time, so redirected output is honoured
    if report.errors:
        print(texts("roster.errors_title"), file=out)
        for row, reason in report.errors:
            print("  " + texts("roster.error_line", row=row, reason=reason), file=out)
    print(report.summary(texts), file=out)


@failing_politely
async def members_import(settings: Settings, args: argparse.Namespace) -> int:
    texts = Catalogue(settings.locale)
    async with command_database(settings, no_schema=texts("roster.error_database")) as db:
        try:
            report = await import_file(db, args.file, dry_run=args.dry_run, progress=ProgressBar(), texts=texts)
        except RosterError as exc:
            raise CommandFailed(exc.render(texts), EXIT_BAD_FILE) from exc
    print_report(report, texts)
    return EXIT_ROW_ERRORS if report.errors else EXIT_OK


@failing_politely
async def demo_command(settings: Settings, args: argparse.Namespace) -> int:
    texts = Catalogue(settings.locale)
    async with command_database(settings) as db:
        await db.upgrade()  # a try-out starts from nothing: bring the schema up first
        try:
            report = await load_demo(db, args.roster)
        except RosterError as exc:
            raise CommandFailed(exc.render(texts), EXIT_BAD_FILE) from exc
        async with db.reader() as session:
            secretary = await session.scalar(
                select(Member).where(Member.role == Role.SECRETARY).order_by(Member.id).limit(1)
            )
    if report.errors:
        print_report(report, texts)
    print(texts(
        "roster.demo_loaded",
        summary=report.summary(texts),
        secretary=secretary.name if secretary else "-",
        mobile=secretary.mobile if secretary else "-",
    ))
    return EXIT_OK
