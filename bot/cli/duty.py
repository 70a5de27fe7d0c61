"""The duty ledger from the command line:

    lvzhi export ledger --year Y [--output FILE] [--entries]     the year's assessment (.xlsx)
    lvzhi export archive --member ID|MOBILE|NAME [--term T] [--output FILE]   一人一档 for a term (.xlsx)
    lvzhi duty check [FILE]                                       validate a rules file (default: the configured one)
    lvzhi duty rebuild [--year Y]                                 rebuild a year's ledger (default: this year)

``bot.cli.main`` hands :func:`add_duty_commands` its sub-parsers and those of ``lvzhi export``. The workbooks
are :mod:`bot.exports.duty`'s. A member is found by id, by mobile number (11 digits) or by exact name; a
name shared by several members is refused with the candidates listed (give the id or the mobile then).
Input is forgiving: full-width digits and spaces do not matter.

Exit codes: 0 done, 1 no such member (or more than one), 2 the database has no schema, the rules file is
not valid, or the term is unknown.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

from sqlalchemy import select

from bot.cli.common import EXIT_BAD, EXIT_NOT_FOUND, EXIT_OK, CommandFailed, command_database, failing_politely
from bot.domain.duty_rules import RulesError, load_rules
from bot.domain.ledger import rebuild
from bot.exports.duty import ArchiveError, export_archive, export_ledger
from bot.infra.clock import Clock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.member import LiaisonGroup, Member

ID_DIGITS = 9  # member ids are 32-bit integers


def add_duty_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    export_sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    ledger = export_sub.add_parser("ledger", help="a year's duty assessment (.xlsx)")
    ledger.add_argument("--year", type=int, required=True, help="the year, e.g. 2026")
    ledger.add_argument("--output", "--out", dest="output", type=Path, default=None,
                        help="file to write (default 履职考核-YEAR.xlsx)")
    ledger.add_argument("--entries", action="store_true", help="add the 明细 sheet: every entry with its source")
    ledger.set_defaults(func=export_ledger_command)

    archive = export_sub.add_parser("archive", help="one member's archive for a term, 一人一档 (.xlsx)")
    archive.add_argument("--member", required=True, help="member id, mobile number or exact name")
    archive.add_argument("--term", default=None, help="the term (届), e.g. 第六届; default: the member's own")
    archive.add_argument("--output", "--out", dest="output", type=Path, default=None,
                         help="file to write (default 一人一档-NAME-TERM.xlsx)")
    archive.set_defaults(func=export_archive_command)

    duty = sub.add_parser("duty", help="the duty ledger: check a rules file, rebuild a year")
    duty_sub = duty.add_subparsers(dest="duty_command", required=True)
    check = duty_sub.add_parser("check", help="validate a rules file")
    check.add_argument("file", nargs="?", default=None, help="rules file (default: duty.rules_file of the config)")
    check.set_defaults(func=check_command)
    rebuild = duty_sub.add_parser("rebuild", help="rebuild a year's ledger from its sources")
    rebuild.add_argument("--year", type=int, default=None, help="the year (default: this year)")
    rebuild.set_defaults(func=rebuild_command)


# --- duty check / rebuild ------------------------------------------------------------------------------------


async def check_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        rules = load_rules(args.file or settings.duty.rules_file)
    except RulesError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD
    years = ", ".join(str(year) for year in sorted(rules.file.years))
    terms = ", ".join(f"{name} {first}–{last}" for name, (first, last) in rules.file.terms.items()) or "none"
    print(f"OK {rules.source}: {rules.name}\n  years with rules: {years}\n  terms: {terms}")
    return EXIT_OK


@failing_politely
async def rebuild_command(settings: Settings, args: argparse.Namespace) -> int:

    zone, now = settings.scheduler.zone, Clock().now()
    year = args.year or now.astimezone(zone).year
    rules = load_rules(settings.duty.rules_file)
    async with command_database(settings) as db, db.session() as session:
        result = await rebuild(session, rules.for_year(year), year, zone, by=None, now=now)
    print(f"duty ledger of {year} rebuilt: {result.entries} entries")
    return EXIT_OK


# --- exports ----------------------------------------------------------------------------------------------


@failing_politely
async def export_ledger_command(settings: Settings, args: argparse.Namespace) -> int:

    texts = Catalogue(settings.locale)
    output = args.output or Path(texts("duty_export.file.ledger", year=args.year))
    async with command_database(settings) as db:
        done = await export_ledger(db, load_rules(settings.duty.rules_file), args.year, output,
                                   zone=settings.scheduler.zone, texts=texts, now=Clock().now(),
                                   entries=args.entries)
    extra = f", {done.entries} entries" if args.entries else ""
    print(f"{done.members} members in {done.groups} groups of {args.year}{extra} written to {output}")
    return EXIT_OK


@failing_politely
async def export_archive_command(settings: Settings, args: argparse.Namespace) -> int:

    texts = Catalogue(settings.locale)
    async with command_database(settings) as db:
        found = await find_members(db, args.member)
        if len(found) != 1:
            raise CommandFailed(_not_one(args.member, found), EXIT_NOT_FOUND)
        member, _ = found[0]
        term = (args.term or member.term or "").strip()
        output = args.output or Path(texts("duty_export.file.archive", name=member.name, term=term or "-"))
        try:
            await export_archive(db, load_rules(settings.duty.rules_file), member.id or 0, term or None, output,
                                 zone=settings.scheduler.zone, texts=texts, now=Clock().now())
        except (ArchiveError, RulesError) as exc:
            raise CommandFailed(str(exc)) from exc
    print(f"archive of {member.name} (id {member.id}), term {term}, written to {output}")
    return EXIT_OK


def normalise(text: str) -> str:
    """Forgiving input: full-width digits and letters, and any spaces, do not matter."""
    return "".join(unicodedata.normalize("NFKC", text).split())


async def find_members(db: Database, given: str) -> list[tuple[Member, str]]:
    """Members matching an id, a mobile number or an exact name, with their liaison group's name."""
    value = normalise(given)
    if not value:
        return []
    if value.isdigit():  # a short number is an id; a mobile number has 11 digits
        clause = Member.id == int(value) if len(value) <= ID_DIGITS else Member.mobile == value
    else:
        clause = Member.name == value
    async with db.reader() as session:
        rows = (await session.execute(
            select(Member, LiaisonGroup.name).outerjoin(LiaisonGroup, LiaisonGroup.id == Member.group_id)
            .where(clause).order_by(Member.id)
        )).all()
    return [(member, group or "") for member, group in rows]


def _not_one(given: str, found: list[tuple[Member, str]]) -> str:
    if not found:
        return f"no member matches {given!r} (give an id, an 11-digit mobile number or the exact name)"
    lines = [f"{len(found)} members are called {given!r}; give the id or the mobile number:"]
    for member, group in found:
        mobile = f"{member.mobile[:3]}****{member.mobile[-4:]}" if member.mobile else "-"
        lines.append(f"  id {member.id}  {member.name}  {group or '-'}  {mobile}  {member.work_unit or ''}".rstrip())
    return "\n".join(lines)
