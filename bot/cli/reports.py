"""``lvzhi export reports --year Y [--output FILE]``: a year's submitted reports as an Excel workbook.

``bot.cli.main`` calls :func:`add_reports_commands` with its sub-parsers. One row per report that was ever
submitted in that year (drafts are the members' own business and are left out), with the member, the
liaison group, the status, the adoption level, the reviewer's last comment and the instructions;
a second sheet holds every transition (the history); written by :mod:`bot.exports.reports`. Exit code 0,
or 2 when the database cannot be used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import EXIT_OK, command_database, failing_politely
from bot.exports.reports import export_reports
from bot.infra.config import Settings
from bot.infra.i18n import Catalogue


def add_reports_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser("export", help="export data to Excel")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    reports = export_sub.add_parser("reports", help="a year's social-condition reports (.xlsx)")
    reports.add_argument("--year", type=int, required=True, help="the year, e.g. 2026")
    reports.add_argument("--output", type=Path, default=None, help="file to write (default 社情民意-YEAR.xlsx)")
    reports.set_defaults(func=export_reports_command)


@failing_politely
async def export_reports_command(settings: Settings, args: argparse.Namespace) -> int:
    output = args.output or Path(f"社情民意-{args.year}.xlsx")
    async with command_database(settings) as db:
        count = await export_reports(db, args.year, output, zone=settings.scheduler.zone,
                                     texts=Catalogue(settings.locale))
    print(f"{count} reports of {args.year} written to {output}")
    return EXIT_OK
