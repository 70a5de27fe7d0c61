"""``lvzhi export attendance --activity ID | --year Y [--out FILE]``: attendance as an Excel workbook
(written by :mod:`bot.exports.attendance`).

``bot.cli.main`` hands :func:`add_attendance_commands` the sub-parsers of ``lvzhi export`` (shared with
``export reports``). Exit codes: 0 written, 1 no such activity, 2 the database has no schema.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.exports.attendance import export_activity, export_year
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_NOT_FOUND, EXIT_BAD_DATABASE = 0, 1, 2

def add_attendance_commands(export_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = export_sub.add_parser("attendance", help="attendance of one activity or of a year (.xlsx)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--activity", type=int, metavar="ID", help="one activity's sign-in sheet")
    which.add_argument("--year", type=int, metavar="Y", help="a year: per activity, per member, per group")
    # --output as well, the spelling `export reports` uses.
    parser.add_argument("--out", "--output", dest="out", type=Path, default=None,
                        help="file to write (default 考勤-活动ID.xlsx or 考勤-YEAR.xlsx)")
    parser.set_defaults(func=export_attendance_command)


async def export_attendance_command(settings: Settings, args: argparse.Namespace) -> int:
    zone, texts = settings.scheduler.zone, Catalogue(settings.locale)
    db = Database(settings.database.url)
    try:
        if args.activity is not None:
            output = args.out or Path(f"考勤-活动{args.activity}.xlsx")
            count = await export_activity(db, args.activity, output, zone=zone, texts=texts)
            if count is None:
                print(f"no activity with id {args.activity}", file=sys.stderr)
                return EXIT_NOT_FOUND
            print(f"{count} members of activity {args.activity} written to {output}")
        else:
            output = args.out or Path(f"考勤-{args.year}.xlsx")
            count = await export_year(db, args.year, output, zone=zone, texts=texts)
            print(f"{count} activities of {args.year} written to {output}")
    except (OperationalError, ProgrammingError):  # no tables yet
        print("the database has no schema yet: run `lvzhi db upgrade` first", file=sys.stderr)
        return EXIT_BAD_DATABASE
    finally:
        await db.dispose()
    return EXIT_OK
