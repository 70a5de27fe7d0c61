"""``lvzhi export attendance --activity ID | --year Y [--out FILE]``: attendance as an Excel workbook
(written by :mod:`bot.exports.attendance`).

``bot.cli.main`` hands :func:`add_attendance_commands` the sub-parsers of ``lvzhi export`` (shared with
``export reports``). Exit codes: 0 written, 1 no such activity, 2 the database has no schema.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_NOT_FOUND, EXIT_OK, CommandFailed, command_database, failing_politely
from bot.exports.attendance import export_activity, export_year
from bot.infra.config import Settings
from bot.infra.i18n import Catalogue

if TYPE_CHECKING:
    pass


def add_attendance_commands(export_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = export_sub.add_parser("attendance", help="attendance of one activity or of a year (.xlsx)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--activity", type=int, metavar="ID", help="one activity's sign-in sheet")
    which.add_argument("--year", type=int, metavar="Y", help="a year: per activity, per member, per group")
    # --output as well, the spelling `export reports` uses.
    parser.add_argument("--out", "--output", dest="out", type=Path, default=None,
                        help="file to write (default 考勤-活动ID.xlsx or 考勤-YEAR.xlsx)")
    parser.set_defaults(func=export_attendance_command)


@failing_politely
async def export_attendance_command(settings: Settings, args: argparse.Namespace) -> int:
    zone, texts = settings.scheduler.zone, Catalogue(settings.locale)
    async with command_database(settings) as db:
        if args.activity is not None:
            output = args.out or Path(f"考勤-活动{args.activity}.xlsx")
            count = await export_activity(db, args.activity, output, zone=zone, texts=texts)
            if count is None:
                raise CommandFailed(f"no activity with id {args.activity}", EXIT_NOT_FOUND)
            print(f"{count} members of activity {args.activity} written to {output}")
        else:
            output = args.out or Path(f"考勤-{args.year}.xlsx")
            count = await export_year(db, args.year, output, zone=zone, texts=texts)
            print(f"{count} activities of {args.year} written to {output}")
    return EXIT_OK
