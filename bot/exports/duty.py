"""The duty ledger as Excel: the year's assessment (履职考核, :func:`export_ledger`) and one member's archive
for a term (一届一人一档, :func:`export_archive`). ``lvzhi export ledger`` / ``archive`` (:mod:`bot.cli.duty`)
call them; texts and headers are in ``bot/locales/*/duty_export.yaml``.

**The year's workbook** (written with openpyxl's write-only mode: rows stream to the file, so 10,000
members take memory for their scores only). The year is rebuilt first (:func:`bot.domain.ledger.refresh`), then
everything comes from a handful of aggregate queries of :mod:`bot.domain.ledger` — scores with categories,
"five one" counts, the group assessment — and, with ``entries=True``, one streamed query of the entries:

* 汇总: the rules' name, the year and the pass mark; the liaison groups ranked by their members' average
  (with the group assessment beside it); members per grade; the members below the pass mark.
* one sheet per liaison group (names made valid and unique, at most 31 characters; members without a
  group last): rank in the group, name, sector, each category's points after its cap (bonus categories,
  their subtotal after ``bonus_cap``, then penalties and adjustments), base, total, grade, "five one" met
  and missing, pending points. ``total = base + bonus subtotal + penalties + adjustments``.
* 明细 (``entries=True``): every entry of the assessed members with its source (``attendance#123``), so
  each point can be traced back to the row that earned it.

**The archive** (a small workbook, normal mode, with a chart): 基本信息, 出席 (per year and meeting type,
then every closed activity), 社情民意 (with adoption and instructions), 学习 (reads), 其他履职 (claims and
adjustments), 积分 (per year: categories, total, grade, rank in group; a bar chart of the categories per
year) and 积分明细 (the entries). Years are the term's (:meth:`DutyRules.term_years`) up to this year.
Ranks in the archive are within the member's current liaison group, as the chat's ``履职`` shows them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import attendance, ledger
from bot.domain.duty_rules import (
    ABSENT_SUFFIX,
    ADJUSTMENT_CATEGORY,
    ADJUSTMENT_KIND,
    LEAVE_SUFFIX,
    DutyRules,
    YearRules,
)
from bot.domain.reports import SUBMITTED_STATUSES
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.activity import Activity, ActivityType, Attendance, AttendanceStatus
from models.duty import DutyAdjustment, DutyClaim, DutyEntry
from models.member import Committee, LiaisonGroup, Member, MemberStatus, Sector
from models.notice import StudyMaterial, StudyRead
from models.report import Instruction, Report

TIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"
PERCENT = "0.0%"
SHEET_MAX = 31  # Excel's limit on a sheet name
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
STREAM_ROWS = 2000  # entries fetched at a time for the 明细 sheet


class ArchiveError(Exception):
    """An archive that cannot be written (no such member, no term); the message says why."""


@dataclass(frozen=True)
class LedgerExport:
    path: Path
    year: int
    members: int  # assessed members listed
    groups: int  # liaison-group sheets written (members without a group count as one)
    entries: int  # rows of the 明细 sheet (0 without it)
    rebuilt: int  # entries the rebuild wrote


# --- small helpers ----------------------------------------------------------------------------------------------


def points(tenths: int | None) -> int | float | None:
    """Tenths of a point as a cell value: whole points as integers (50, not 50.0)."""
    if tenths is None:
        return None
    return tenths // 10 if tenths % 10 == 0 else tenths / 10


def number(value: float) -> str:
    """A number as people write it: 50, 2.5."""
    return f"{value:g}"


def suffixes(texts: Catalogue) -> dict[str, str]:
    """The locale's words for the ledger's kinds of leave, absence and adjustment (YearRules.label_of)."""
    return {LEAVE_SUFFIX: texts("duty.suffix._leave"), ABSENT_SUFFIX: texts("duty.suffix._absent"),
            ADJUSTMENT_KIND: texts("duty.suffix.adjustment")}


def category_label(rules: YearRules, category: str, texts: Catalogue) -> str:
    if category == ADJUSTMENT_CATEGORY:
        return texts("duty.suffix.adjustment")
    found = rules.categories.get(category)
    return found.label if found is not None else category


def source_ref(source: str, source_id: int) -> str:
    """Where an entry comes from, as the 明细 sheet and the API show it: ``attendance#123``."""
    return f"{source}#{source_id}"


class SheetNames:
    """Valid, unique sheet names: no ``[]:*?/\\``, at most 31 characters, unique ignoring case (as Excel
    compares them); a clash gets ``(2)``, ``(3)`` … within the limit."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._taken = {"history"}  # Excel reserves it
        for name in reserved:
            self._taken.add(name.casefold())

    def __call__(self, wanted: str) -> str:
        base = _BAD_SHEET_CHARS.sub("_", wanted).strip().strip("'")[:SHEET_MAX] or "_"
        name, copy = base, 2
        while name.casefold() in self._taken:
            suffix = f"({copy})"
            name, copy = base[:SHEET_MAX - len(suffix)] + suffix, copy + 1
        self._taken.add(name.casefold())
        return name


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _set_widths(sheet: Any, columns: Sequence[Iterable[Any]], minimum: int = 6, maximum: int = 50) -> None:
    """Column widths from sample values (headers, names …): before any row, as write-only sheets need."""
    from openpyxl.utils import get_column_letter

    for index, values in enumerate(columns, start=1):
        width = max((_display_width(str(v)) for v in values if v is not None), default=minimum)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, minimum), maximum)


def _bold(sheet: Any, values: Sequence[Any]) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _percent(sheet: Any, value: float | None) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = PERCENT
    return cell


def _localiser(zone: ZoneInfo, fmt: str = TIME_FORMAT) -> Any:
    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime(fmt) if moment else ""

    return local


# --- the year's workbook ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """The per-group sheets' point columns, from the year's rules."""

    bonus: list[str]  # bonus category names, in the rules' order
    penalty: list[str]

    @classmethod
    def of(cls, rules: YearRules) -> _Columns:
        return cls(bonus=[n for n, c in rules.categories.items() if not c.penalty],
                   penalty=[n for n, c in rules.categories.items() if c.penalty])


def _category_header(rules: YearRules, name: str, texts: Catalogue) -> str:
    category = rules.categories[name]
    if category.cap is not None:
        return texts("duty_export.cap", label=category.label, cap=number(category.cap))
    if category.floor is not None:
        return texts("duty_export.floor", label=category.label, floor=number(abs(category.floor)))
    return category.label


def group_sheet_header(rules: YearRules, texts: Catalogue) -> tuple[str, ...]:
    """The header row of a liaison group's sheet (tests and readers of the workbook use it)."""
    columns = _Columns.of(rules)
    col = _col(texts)
    bonus = (texts("duty_export.bonus_capped", cap=number(rules.bonus_cap)) if rules.bonus_cap is not None
             else col("bonus"))
    return (col("group_rank"), col("name"), col("sector"),
            *(_category_header(rules, name, texts) for name in columns.bonus), bonus,
            *(_category_header(rules, name, texts) for name in columns.penalty), texts("duty.suffix.adjustment"),
            col("base"), col("total"), col("grade"), col("five_one_done"), col("five_one_missing"), col("pending"))


def _col(texts: Catalogue) -> Any:
    def col(name: str) -> str:
        return texts(f"duty_export.col.{name}")

    return col


def bonus_of(rules: YearRules, score: ledger.Score) -> int:
    """The bonus categories' capped points together, within ``bonus_cap`` (tenths), as the score adds them."""
    bonus = sum(score.by_category.get(name, 0) for name, c in rules.categories.items() if not c.penalty)
    if rules.bonus_cap is not None:
        bonus = min(bonus, round(rules.bonus_cap * 10))
    return bonus


async def export_ledger(
    db: Database, rules: DutyRules, year: int, path: Path, *, zone: ZoneInfo, texts: Catalogue, now: datetime,
    entries: bool = False,
) -> LedgerExport:
    """Rebuild ``year`` and write its assessment workbook to ``path``."""
    from openpyxl import Workbook

    year_rules = rules.for_year(year)
    async with db.session() as session:
        rebuilt = await ledger.refresh(session, year_rules, year, zone, now=now)
    async with db.reader() as session:
        found = await ledger.scores(session, year_rules, year, with_categories=True)
        progress = await ledger.five_one(session, year_rules, year)
        assessment = await ledger.group_assessment(session, year_rules, year, zone)
        groups = await ledger.group_names(session)
        sectors = await ledger.sector_names(session)

        workbook = Workbook(write_only=True)
        names = SheetNames([texts("duty_export.sheet.summary"), texts("duty_export.sheet.entries")])
        _summary_sheet(workbook, rules, year_rules, year, found, assessment, groups, sectors, texts,
                       _localiser(zone)(now))
        by_group: dict[int | None, list[ledger.Score]] = defaultdict(list)
        for score in found:
            by_group[score.group_id].append(score)
        order = sorted(by_group, key=lambda g: (g is None, g or 0))
        for group_id in order:
            title = groups.get(group_id, "") if group_id is not None else texts("duty_export.sheet.no_group")
            _group_sheet(workbook.create_sheet(names(title or str(group_id))), year_rules, by_group[group_id],
                         progress, sectors, texts)
        written = 0
        if entries:
            written = await _entries_sheet(workbook.create_sheet(texts("duty_export.sheet.entries")), session,
                                           year_rules, year, groups, zone, texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return LedgerExport(path=path, year=year, members=len(found), groups=len(order), entries=written,
                        rebuilt=rebuilt.entries)


def _summary_sheet(
    workbook: Any, rules: DutyRules, year_rules: YearRules, year: int, found: list[ledger.Score],
    assessment: list[ledger.GroupAssessment], groups: dict[int, str], sectors: dict[int, str], texts: Catalogue,
    generated: str,
) -> None:
    sheet = workbook.create_sheet(texts("duty_export.sheet.summary"))
    col = _col(texts)
    group_header = (col("rank"), col("group"), col("members"), col("average"), col("below_pass"),
                    col("activities_held"), col("reports_submitted"), col("reports_adopted"),
                    col("attendance_rate"), col("group_score"), col("group_score_rank"))
    below_header = (col("name"), col("group"), col("sector"), col("total"), col("grade"), col("gap"),
                    col("group_rank"))
    below = [score for score in found if not score.passed]
    _set_widths(sheet, [
        [col("rank"), col("name"), col("grade"), texts("duty_export.section.grades"), col("year")],
        [col("group"), *groups.values(), texts("duty_export.no_group"), *(s.name for s in below)],
        [col("members"), col("pass_mark"), *(groups.get(s.group_id or 0, "") for s in below)],
        [col("average"), *sectors.values(), texts("duty_export.no_group")],
        *([header] for header in group_header[4:]),
    ])
    sheet.append(_bold(sheet, [rules.name]))
    sheet.append((col("year"), year, col("pass_mark"), year_rules.pass_mark, texts("duty_export.generated"),
                  generated))
    sheet.append(())

    sheet.append(_bold(sheet, [texts("duty_export.section.groups")]))
    sheet.append(_bold(sheet, group_header))
    unassigned = texts("duty_export.no_group")
    assessed = {group.group_id: group for group in assessment}
    standings = ledger.standings(found, groups, key="group_id", unassigned=unassigned)
    listed = set()
    for standing in standings:
        group = assessed.get(standing.id) if standing.id is not None else None
        listed.add(standing.id)
        sheet.append((standing.rank, standing.name, standing.members, standing.average, standing.below_pass,
                      *_assessment_cells(sheet, group)))
    for group in assessment:  # groups without an assessed member are still assessed as groups
        if group.group_id not in listed:
            sheet.append((None, group.name, 0, None, 0, *_assessment_cells(sheet, group)))
    sheet.append(())

    sheet.append(_bold(sheet, [texts("duty_export.section.grades")]))
    sheet.append(_bold(sheet, (col("grade"), col("count"), col("share"))))
    per_grade = Counter(score.grade for score in found)
    for grade in year_rules.grades:
        count = per_grade.get(grade.name, 0)
        sheet.append((grade.name, count, _percent(sheet, round(count / len(found), 4) if found else 0.0)))
    sheet.append((texts("duty_export.total"), len(found), _percent(sheet, 1.0 if found else 0.0)))
    sheet.append(())

    sheet.append(_bold(sheet, [texts("duty_export.section.below_pass")]))
    sheet.append(_bold(sheet, below_header))
    pass_mark = round(year_rules.pass_mark * 10)
    for score in below:
        sheet.append((score.name, groups.get(score.group_id, "") if score.group_id else unassigned,
                      sectors.get(score.sector_id, "") if score.sector_id else "",
                      points(score.total_tenths), score.grade, points(pass_mark - score.total_tenths),
                      score.group_rank))
    if not below:
        sheet.append((texts("duty_export.none"),))


def _assessment_cells(sheet: Any, group: ledger.GroupAssessment | None) -> tuple[Any, ...]:
    if group is None:
        return (None,) * 6
    return (group.activities_held, group.reports_submitted, group.reports_adopted,
            _percent(sheet, round(group.attendance_rate, 4)), points(group.score_tenths), group.rank)


def _group_sheet(
    sheet: Any, rules: YearRules, members: list[ledger.Score], progress: dict[int, list[ledger.TargetProgress]],
    sectors: dict[int, str], texts: Catalogue,
) -> None:
    header = group_sheet_header(rules, texts)
    columns = _Columns.of(rules)
    _set_widths(sheet, [[h] for h in header[:1]] + [[header[1], *(m.name for m in members)]]
                + [[header[2], *sectors.values()]] + [[h] for h in header[3:-2]]
                + [[header[-2], *(t.name for t in rules.five_one)], [header[-1]]])
    sheet.freeze_panes = "C2"
    sheet.append(_bold(sheet, header))
    none = texts("duty_export.none")
    for score in members:
        targets = progress.get(score.member_id) or [ledger.TargetProgress(t.name, t.need, 0, 0)
                                                    for t in rules.five_one]
        missing = [target.name for target in targets if not target.met]
        sheet.append((
            score.group_rank, score.name, sectors.get(score.sector_id, "") if score.sector_id else "",
            *(points(score.by_category.get(name, 0)) for name in columns.bonus),
            points(bonus_of(rules, score)),
            *(points(score.by_category.get(name, 0)) for name in columns.penalty),
            points(score.by_category.get(ADJUSTMENT_CATEGORY, 0)),
            points(round(rules.base * 10)), points(score.total_tenths), score.grade,
            f"{len(targets) - len(missing)}/{len(targets)}", "、".join(missing) or (none if targets else ""),
            points(score.pending_tenths),
        ))


def entries_header(texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("name"), col("group"), col("time"), col("category"), col("item"), col("points"), col("status"),
            col("title"), col("source"))


async def _entries_sheet(
    sheet: Any, session: AsyncSession, rules: YearRules, year: int, groups: dict[int, str], zone: ZoneInfo,
    texts: Catalogue,
) -> int:
    """Every entry of the assessed members, streamed (by group, member, time): one query, any size."""
    header = entries_header(texts)
    _set_widths(sheet, [[header[0], "某某某某"], [header[1], *groups.values()], ["2026-01-01 00:00"],
                        [header[3], *(c.label for c in rules.categories.values())],
                        [header[4], *(d.label + "（缺席）" for d in rules.duties.values())], [header[5]],
                        [header[6], "已确认"], ["x" * 40], ["attendance#1000000"]])
    sheet.freeze_panes = "A2"
    sheet.append(_bold(sheet, header))
    local, words = _localiser(zone), suffixes(texts)
    labels: dict[str, str] = {}
    status = {value: texts(f"duty.status.{value}") for value in ("pending", "confirmed", "rejected")}
    unassigned = texts("duty_export.no_group")
    query = (
        select(Member.name, Member.group_id, DutyEntry.occurred_at, DutyEntry.category, DutyEntry.kind,
               DutyEntry.tenths, DutyEntry.status, DutyEntry.title, DutyEntry.source, DutyEntry.source_id)
        .join(Member, Member.id == DutyEntry.member_id)
        .where(DutyEntry.year == year, Member.status == MemberStatus.ACTIVE,
               Member.role.in_(ledger.ASSESSED_ROLES))  # type: ignore[attr-defined]
        .order_by(Member.group_id.is_(None), Member.group_id, Member.id,  # type: ignore[union-attr]
                  DutyEntry.occurred_at, DutyEntry.source, DutyEntry.source_id, DutyEntry.kind)
        .execution_options(yield_per=STREAM_ROWS)
    )
    written = 0
    categories = {name: category_label(rules, name, texts) for name in [*rules.categories, ADJUSTMENT_CATEGORY]}
    result = await session.stream(query)
    async for partition in result.partitions(STREAM_ROWS):  # one await per batch, not per row
        for row in partition:
            if row.kind not in labels:
                labels[row.kind] = rules.label_of(row.kind, words)
            sheet.append((row.name, groups.get(row.group_id, "") if row.group_id else unassigned,
                          local(row.occurred_at), categories.get(row.category, row.category), labels[row.kind],
                          points(row.tenths), status.get(str(row.status), str(row.status)), row.title,
                          source_ref(str(row.source), row.source_id)))
        written += len(partition)
    return written


# --- one member's archive --------------------------------------------------------------------------------------


@dataclass
class _Year:
    year: int
    rules: YearRules
    score: ledger.Score | None
    targets: list[ledger.TargetProgress]


async def export_archive(
    db: Database, rules: DutyRules, member_id: int, term: str | None, path: Path, *, zone: ZoneInfo,
    texts: Catalogue, now: datetime,
) -> Path:
    """Write one member's archive for ``term`` (default: the member's own term). Raises :class:`ArchiveError`
    (no such member, no term) or :class:`bot.domain.duty_rules.RulesError` (a term the rules do not name)."""
    from openpyxl import Workbook

    async with db.reader() as session:
        member = await session.get(Member, member_id)
    if member is None:
        raise ArchiveError(f"no member with id {member_id}")
    term = (term or member.term or "").strip()
    if not term:
        raise ArchiveError(f"member {member.name} (id {member_id}) has no term on the roster: give one")
    this_year = now.astimezone(zone).year
    years = [year for year in rules.term_years(term) if year <= this_year]

    for year in years:  # ranks in the group need the whole group current
        async with db.session() as session:
            await ledger.refresh(session, rules.for_year(year), year, zone, now=now, members=ledger.group_of(member))

    async with db.reader() as session:
        record = [await _member_year(session, rules, member, year) for year in years]
        committee = (await session.get(Committee, member.committee_id)) if member.committee_id else None
        group = (await session.get(LiaisonGroup, member.group_id)) if member.group_id else None
        sector = (await session.get(Sector, member.sector_id)) if member.sector_id else None
        bounds = (ledger.year_bounds(years[0], zone)[0], ledger.year_bounds(years[-1], zone)[1]) if years else None
        counts = [(year, await _attendance_counts(session, member_id, ledger.year_bounds(year, zone)))
                  for year in years]
        sessions = await _attendance_list(session, member_id, bounds) if bounds else []
        reports = await _reports(session, member_id, years)
        notes = await _instructions(session, [r.id or 0 for r in reports])
        reads = await _reads(session, member_id, bounds) if bounds else []
        claims = list((await session.scalars(
            select(DutyClaim).where(DutyClaim.member_id == member_id,
                                    DutyClaim.year.in_(years))  # type: ignore[attr-defined]
            .order_by(DutyClaim.occurred_at, DutyClaim.id))).all())
        adjustments = list((await session.scalars(
            select(DutyAdjustment).where(DutyAdjustment.member_id == member_id,
                                         DutyAdjustment.year.in_(years))  # type: ignore[attr-defined]
            .order_by(DutyAdjustment.at, DutyAdjustment.id))).all())
        entries = list((await session.scalars(
            select(DutyEntry).where(DutyEntry.member_id == member_id,
                                    DutyEntry.year.in_(years))  # type: ignore[attr-defined]
            .order_by(DutyEntry.year, DutyEntry.occurred_at, DutyEntry.source, DutyEntry.source_id,
                      DutyEntry.kind))).all())

    workbook = Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    local, day = _localiser(zone), _localiser(zone, DATE_FORMAT)
    _profile_sheet(workbook.create_sheet(texts("duty_export.sheet.profile")), member, term, years, rules, texts,
                   sector.name if sector else "", committee.name if committee else "", group.name if group else "",
                   local(now))
    _attendance_sheet(workbook.create_sheet(texts("duty_export.sheet.attendance")), counts, sessions, texts, local)
    _reports_sheet(workbook.create_sheet(texts("duty_export.sheet.reports")), reports, notes, texts, local, day)
    study = workbook.create_sheet(texts("duty_export.sheet.study"))
    col = _col(texts)
    study.append((col("time"), col("material"), col("via")))
    for read_at, title, via in reads:
        study.append((local(read_at), title, texts(f"duty_export.via.{via}")))
    _claims_sheet(workbook.create_sheet(texts("duty_export.sheet.claims")), rules, claims, adjustments, texts,
                  local, day)
    _points_sheet(workbook.create_sheet(texts("duty_export.sheet.points")), record, texts)
    _archive_entries_sheet(workbook.create_sheet(texts("duty_export.sheet.archive_entries")), rules, entries,
                           texts, local)
    for sheet in workbook.worksheets:
        _fit_columns(sheet)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


async def _member_year(session: AsyncSession, rules: DutyRules, member: Member, year: int) -> _Year:
    year_rules = rules.for_year(year)
    group = ledger.group_of(member)
    found = await ledger.scores(session, year_rules, year, members=group, with_categories=True)
    score = next((s for s in found if s.member_id == member.id), None)
    targets = (await ledger.five_one(session, year_rules, year, members=[member.id or 0]))[member.id or 0]
    return _Year(year, year_rules, score, targets)


async def _attendance_counts(
    session: AsyncSession, member_id: int, bounds: tuple[datetime, datetime]
) -> dict[ActivityType, attendance.Counts]:
    """The member's closed activities of a year, counted by meeting type and status (one GROUP BY)."""
    found: dict[ActivityType, attendance.Counts] = {}
    for type_, status, count in (await session.execute(
        select(Activity.type, Attendance.status, func.count())
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(attendance.counted(bounds), Attendance.member_id == member_id)
        .group_by(Activity.type, Attendance.status)
    )).all():
        found.setdefault(ActivityType(type_), attendance.Counts()).add(AttendanceStatus(status).value, count)
    order = list(ActivityType)
    return dict(sorted(found.items(), key=lambda item: order.index(item[0])))


async def _attendance_list(
    session: AsyncSession, member_id: int, bounds: tuple[datetime, datetime]
) -> list[tuple[Activity, Attendance]]:
    return [(activity, row) for row, activity in (await session.execute(
        select(Attendance, Activity).join(Activity, Activity.id == Attendance.activity_id)
        .where(attendance.counted(bounds), Attendance.member_id == member_id)
        .order_by(Activity.starts_at, Activity.id)
    )).all()]


async def _reports(session: AsyncSession, member_id: int, years: list[int]) -> list[Report]:
    return list((await session.scalars(
        select(Report).where(Report.member_id == member_id, Report.year.in_(years),  # type: ignore[attr-defined]
                             Report.status.in_(SUBMITTED_STATUSES))  # type: ignore[attr-defined]
        .order_by(Report.year, Report.submitted_at, Report.id)
    )).all())


async def _instructions(session: AsyncSession, report_ids: list[int]) -> dict[int, list[Instruction]]:
    found: dict[int, list[Instruction]] = defaultdict(list)
    if report_ids:
        for note in (await session.scalars(
            select(Instruction).where(Instruction.report_id.in_(report_ids))  # type: ignore[attr-defined]
            .order_by(Instruction.given_at, Instruction.id)
        )).all():
            found[note.report_id].append(note)
    return found


async def _reads(
    session: AsyncSession, member_id: int, bounds: tuple[datetime, datetime]
) -> list[tuple[datetime, str, str]]:
    rows = (await session.execute(
        select(StudyRead.read_at, StudyMaterial.title, StudyRead.via)
        .join(StudyMaterial, StudyMaterial.id == StudyRead.material_id)
        .where(StudyRead.member_id == member_id, StudyRead.read_at >= bounds[0], StudyRead.read_at < bounds[1])
        .order_by(StudyRead.read_at, StudyRead.id)
    )).all()
    return [(read_at, title, str(getattr(via, "value", via))) for read_at, title, via in rows]


def _profile_sheet(
    sheet: Any, member: Member, term: str, years: list[int], rules: DutyRules, texts: Catalogue, sector: str,
    committee: str, group: str, generated: str,
) -> None:
    def label(name: str) -> str:
        return texts(f"duty_export.profile.{name}")

    sheet.append((texts("duty_export.col.field"), texts("duty_export.col.value")))
    span = f"{years[0]}–{years[-1]}" if years else ""
    for name, value in (
        ("name", member.name), ("gender", member.gender), ("mobile", member.mobile or ""), ("sector", sector),
        ("committee", committee), ("group", group or texts("duty_export.no_group")), ("work_unit", member.work_unit),
        ("term", term), ("role", texts(f"members.role.{member.role.value}")),
        ("status", texts(f"members.status.{member.status.value}")), ("years", span), ("rules", rules.name),
    ):
        sheet.append((label(name), value))
    sheet.append((texts("duty_export.generated"), generated))


def attendance_counts_header(texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("year"), col("type"), col("expected"), *(texts(f"attendance.status.{s}") for s in attendance.STATUSES))


def attendance_list_header(texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("date"), col("type"), col("activity"), col("attendance"), col("signed_in_at"))


def _attendance_sheet(
    sheet: Any, counts: list[tuple[int, dict[ActivityType, attendance.Counts]]],
    sessions: list[tuple[Activity, Attendance]], texts: Catalogue, local: Any,
) -> None:
    sheet.append((texts("duty_export.section.attendance_counts"),))
    sheet.append(attendance_counts_header(texts))
    total = attendance.Counts()
    for year, by_type in counts:
        for type_, found in by_type.items():
            total.merge(found)
            sheet.append((year, texts(f"activity.type.{type_.value}"), found.expected,
                          *(getattr(found, s) for s in attendance.STATUSES)))
    sheet.append((texts("duty_export.total"), "", total.expected, *(getattr(total, s) for s in attendance.STATUSES)))
    sheet.append(())
    sheet.append((texts("duty_export.section.attendance_list"),))
    sheet.append(attendance_list_header(texts))
    for activity, row in sessions:
        sheet.append((local(activity.starts_at), texts(f"activity.type.{activity.type.value}"), activity.title,
                      texts(f"attendance.status.{row.status.value}"), local(row.signed_in_at)))


def reports_header(texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("year"), col("number"), col("title"), col("category"), col("status"), col("level"),
            col("submitted_at"), col("decided_at"), col("instructions"))


def _reports_sheet(
    sheet: Any, reports: list[Report], notes: dict[int, list[Instruction]], texts: Catalogue, local: Any, day: Any,
) -> None:
    sheet.append(reports_header(texts))
    for report in reports:
        sheet.append((
            report.year, report.id, report.title, report.category, texts(f"report.status.{report.status.value}"),
            texts(f"report.level.{report.adoption_level.value}") if report.adoption_level else "",
            local(report.submitted_at), local(report.decided_at),
            "\n".join(texts("duty_export.instruction", leader=n.leader, text=n.text, date=day(n.given_at))
                      for n in notes.get(report.id or 0, [])),
        ))


def claims_header(texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("year"), col("date"), col("item"), col("points"), col("description"), col("status"), col("note"),
            col("decided_by"), col("decided_at"))


def adjustments_header(texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("year"), col("points"), col("reason"), col("adjusted_by"), col("time"))


def _claims_sheet(
    sheet: Any, rules: DutyRules, claims: list[DutyClaim], adjustments: list[DutyAdjustment], texts: Catalogue,
    local: Any, day: Any,
) -> None:
    sheet.append((texts("duty_export.section.claims"),))
    sheet.append(claims_header(texts))
    words = suffixes(texts)
    for claim in claims:
        year_rules = rules.for_year(claim.year)
        rule = year_rules.duties.get(claim.kind)
        decided = claim.decided_at is not None
        sheet.append((
            claim.year, day(claim.occurred_at), year_rules.label_of(claim.kind, words),
            points(round(rule.points * 10)) if rule is not None else None, claim.description,
            texts(f"duty.claim_status.{claim.status.value}"), claim.decision_note,
            (claim.decided_by_name or texts("duty_export.admin")) if decided else "", local(claim.decided_at),
        ))
    sheet.append(())
    sheet.append((texts("duty_export.section.adjustments"),))
    sheet.append(adjustments_header(texts))
    for adjustment in adjustments:
        sheet.append((adjustment.year, points(adjustment.tenths), adjustment.reason,
                      adjustment.by_name or texts("duty_export.admin"), local(adjustment.at)))


def archive_categories(record: list[_Year]) -> list[tuple[str, str]]:
    """(name, label) of every category of the term's rules, in order of first appearance."""
    seen: dict[str, str] = {}
    for year in record:
        for name, category in year.rules.categories.items():
            seen.setdefault(name, category.label)
    return list(seen.items())


def points_header(record: list[_Year], texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("year"), *(label for _, label in archive_categories(record)), texts("duty.suffix.adjustment"),
            col("base"), col("total"), col("grade"), col("group_rank"), col("group_size"), col("five_one_done"),
            col("five_one_missing"), col("pending"))


def _points_sheet(sheet: Any, record: list[_Year], texts: Catalogue) -> None:
    from openpyxl.chart import BarChart, Reference
    from openpyxl.chart.data_source import AxDataSource, StrRef

    categories = archive_categories(record)
    sheet.append(points_header(record, texts))
    for year in record:
        score = year.score
        missing = [target.name for target in year.targets if not target.met]
        if score is None:  # not assessed that year (a secretary's archive): the record without points
            sheet.append((year.year, *([None] * (len(categories) + 1)), points(round(year.rules.base * 10))))
            continue
        sheet.append((
            year.year,
            *(points(score.by_category.get(name, 0)) if name in year.rules.categories else None
              for name, _ in categories),
            points(score.by_category.get(ADJUSTMENT_CATEGORY, 0)), points(round(year.rules.base * 10)),
            points(score.total_tenths), score.grade, score.group_rank, score.group_size,
            f"{len(year.targets) - len(missing)}/{len(year.targets)}",
            "、".join(missing) or (texts("duty_export.none") if year.targets else ""), points(score.pending_tenths),
        ))
    if not record:
        return
    chart = BarChart()
    chart.type = "col"
    chart.title = texts("duty_export.chart.title")
    chart.y_axis.title = texts("duty_export.chart.axis")
    last_column = len(categories) + 2  # the categories and the adjustments, after the year
    data = Reference(sheet, min_col=1, max_col=last_column, min_row=2, max_row=len(record) + 1)
    chart.add_data(data, from_rows=True, titles_from_data=True)  # one series per year
    labels = Reference(sheet, min_col=2, max_col=last_column, min_row=1, max_row=1)
    for series in chart.series:  # the categories' names are text: a string reference, not openpyxl's numeric one
        series.cat = AxDataSource(strRef=StrRef(f=str(labels)))
    chart.width, chart.height = 24, 12
    sheet.add_chart(chart, f"A{len(record) + 4}")


def archive_entries_header(texts: Catalogue) -> tuple[str, ...]:
    col = _col(texts)
    return (col("year"), col("time"), col("category"), col("item"), col("points"), col("status"), col("title"),
            col("source"))


def _archive_entries_sheet(
    sheet: Any, rules: DutyRules, entries: list[DutyEntry], texts: Catalogue, local: Any
) -> None:
    sheet.append(archive_entries_header(texts))
    words = suffixes(texts)
    for entry in entries:
        year_rules = rules.for_year(entry.year)
        sheet.append((entry.year, local(entry.occurred_at), category_label(year_rules, entry.category, texts),
                      year_rules.label_of(entry.kind, words), points(entry.tenths),
                      texts(f"duty.status.{entry.status}"), entry.title, source_ref(str(entry.source),
                                                                                    entry.source_id)))


def _fit_columns(sheet: Any, minimum: int = 6, maximum: int = 60) -> None:
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            longest = max(_display_width(line) for line in str(cell.value).split("\n"))
            widths[cell.column] = max(widths.get(cell.column, 0), longest)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, minimum), maximum)
