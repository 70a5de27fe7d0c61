"""The duty ledger: entries rebuilt from their sources under the year's rules, and the scores, "five one"
progress, rankings and group assessment computed from them — all in SQL, so a year of 10,000 members is
a handful of statements, not a loop over rows.

    refresh(year, members?) ── DELETE the scope's entries
                            └─ INSERT … SELECT from each source (attendance, reports, adoptions,
                               instructions, study reads, claims, adjustments), points from the rules

Rebuilding is deterministic and idempotent: the same sources and rules always give the same entries
(only their ids change, which is why appeals name an entry by its source key). A scoped refresh (one
member's liaison group, before showing ``履职``) is exact too; when the year's rules changed since its
last full rebuild (``DutyYear.rules_hash``), any refresh rebuilds the whole year.

Who is assessed: active members whose role is member or group leader (secretaries and administrators are
the office's staff). Scores count confirmed entries; pending ones are shown beside them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.duty_rules import (
    ABSENT_SUFFIX,
    ACTIVITY_KINDS,
    ADJUSTMENT_CATEGORY,
    ADJUSTMENT_KIND,
    INSTRUCTION,
    LEAVE_SUFFIX,
    REPORT_ADOPTED,
    REPORT_SUBMITTED,
    STUDY_READ,
    YearRules,
    tenths,
)
from bot.infra.sql import dialect_of, insert_for
from bot.infra.sqlite_inline import OFFLOAD
from models.activity import Activity, ActivityStatus, Attendance, AttendanceStatus
from models.duty import (
    ClaimStatus,
    DutyAdjustment,
    DutyClaim,
    DutyEntry,
    DutyYear,
    EntrySource,
    EntryStatus,
)
from models.member import LiaisonGroup, Member, MemberStatus, Role, Sector
from models.notice import StudyMaterial, StudyRead
from models.report import Instruction, Report, ReportStatus

log = logging.getLogger(__name__)

LEDGER_LOCK_SPACE = 0x6C76  # the two-key advisory locks of the ledger ("lv", year); one-key locks are apart
ASSESSED_ROLES = (Role.MEMBER, Role.GROUP_LEADER)
TITLE_MAX = 120
COUNTED_REPORT = (ReportStatus.SUBMITTED, ReportStatus.UNDER_REVIEW, ReportStatus.RETURNED,
                  ReportStatus.ADOPTED, ReportStatus.NOT_ADOPTED)
DECIDED_REPORT = (ReportStatus.ADOPTED, ReportStatus.NOT_ADOPTED)
CLAIM_ENTRY_STATUS = {ClaimStatus.PENDING: EntryStatus.PENDING, ClaimStatus.VERIFIED: EntryStatus.CONFIRMED,
                      ClaimStatus.REJECTED: EntryStatus.REJECTED}

# Anything that picks members: a list of ids, or a SELECT of ids (one liaison group, say).
Members = Sequence[int] | Select[Any] | None
Ranked = TypeVar("Ranked", "Standing", "GroupAssessment")
ENTRY_COLUMNS = ("year", "member_id", "kind", "category", "source", "source_id", "tenths", "status",
                 "occurred_at", "title")


def year_bounds(year: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The committee's local year as a half-open UTC range (sources are filtered by moment, with indexes)."""
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    return start, end


# --- rebuilding ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshed:
    year: int
    full: bool  # the whole year was rebuilt (and its rules recorded)
    entries: int  # entries written


async def refresh(
    session: AsyncSession, rules: YearRules, year: int, zone: ZoneInfo, *, now: datetime,
    members: Members = None,
) -> Refreshed:
    """Rebuild the ledger of ``year`` from its sources, for ``members`` or (``None``) everyone."""
    await session.flush()  # the statements below are Core ones, which do not autoflush pending changes
    if dialect_of(session) == "postgresql":
        # Two members of one group asking at once would delete and re-insert the same rows, and could
        # deadlock; refreshes of a year take turns (SQLite's single writer does this by itself).
        await session.execute(text("SELECT pg_advisory_xact_lock(:space, :year)"),
                              {"space": LEDGER_LOCK_SPACE, "year": year})
    state = await session.get(DutyYear, year)
    if members is not None and (state is None or state.rules_hash != rules.digest):
        members = None  # the rules changed: a partial rebuild would mix two sets of rules
    scope = _member_filter(DutyEntry.member_id, members)
    # A Core DELETE on the table: the ORM one would fetch every deleted id back (200k on a year's rebuild).
    await session.execute(delete(DutyEntry.__table__).where(DutyEntry.year == year, scope).execution_options(**OFFLOAD))
    # So entries this session loaded before are not handed out again in place of the new rows (SQLite
    # gives the deleted rows' ids to new ones): a caller reading after the refresh gets what is stored.
    for stale in [obj for obj in session.identity_map.values() if isinstance(obj, DutyEntry)]:
        session.expunge(stale)
    written = 0
    bounds = year_bounds(year, zone)
    for source_select in _source_selects(rules, year, bounds, members):
        statement = insert_for(session, DutyEntry.__table__).from_select(ENTRY_COLUMNS, source_select)
        # Two refreshes of one scope at once write the same rows: the second one's are identical, skip them.
        statement = statement.on_conflict_do_nothing(index_elements=["source", "source_id", "kind"])
        result = await session.execute(statement.execution_options(**OFFLOAD))
        written += max(result.rowcount or 0, 0)
    if members is None:
        await _record_full_rebuild(session, state, year, rules.digest, written, now)
        if dialect_of(session) == "postgresql":
            # Fresh statistics for the rows just written: with stale ones PostgreSQL may plan the score
            # query as a nested loop over every member (minutes at 10,000 members instead of a second).
            await session.execute(text("ANALYZE duty_entry"))
        log.info("duty ledger %s rebuilt: %d entries", year, written)
    return Refreshed(year=year, full=members is None, entries=written)


async def rebuild(
    session: AsyncSession, rules: YearRules, year: int, zone: ZoneInfo, *, by: Member | None, now: datetime,
) -> Refreshed:
    """Someone asked for the whole year to be rebuilt (the API, the command): a refresh, and its audit event.
    The refreshes that follow a decision or an export are part of what caused them, and are not logged."""
    result = await refresh(session, rules, year, zone, now=now)
    await audit.record(session, action="duty.rebuild", object_type="duty_year", object_id=year, group_id=None,
                       by=by, after={"entries": result.entries}, summary=str(year), at=now)
    return result


async def _record_full_rebuild(
    session: AsyncSession, state: DutyYear | None, year: int, digest: str, written: int, now: datetime
) -> None:
    if state is None:
        session.add(DutyYear(year=year, rules_hash=digest, entries=written, recomputed_at=now))
    else:
        state.rules_hash, state.entries, state.recomputed_at = digest, written, now
    await session.flush()


def _member_filter(column: Any, members: Members) -> ColumnElement[bool]:
    if members is None:
        return literal(True)
    if isinstance(members, Select):
        return column.in_(members.correlate(None))  # never tie the subquery to an outer ``member``
    return column.in_(list(members)) if members else false()


def _source_selects(
    rules: YearRules, year: int, bounds: tuple[datetime, datetime], members: Members
) -> list[Select[Any]]:
    selects = [
        _attendance_entries(rules, year, bounds),
        _report_entries(rules, year),
        _adoption_entries(rules, year),
        _instruction_entries(rules, year),
        _study_entries(rules, year, bounds),
        _claim_entries(rules, year),
        _adjustment_entries(year),
    ]
    return [query.where(_member_filter(query.selected_columns.member_id, members))
            for query in selects if query is not None]


def _row(year: int, member_id: Any, kind: Any, category: Any, source: EntrySource, source_id: Any,
         points: Any, status: Any, occurred_at: Any, title: Any) -> list[Any]:
    """The columns of an entry, in ENTRY_COLUMNS order, labelled so scopes can filter by member."""
    return [literal(year).label("year"), member_id.label("member_id"), kind, category,
            literal(source.value), source_id, points, status, occurred_at, func.substr(title, 1, TITLE_MAX)]


def _attendance_entries(rules: YearRules, year: int, bounds: tuple[datetime, datetime]) -> Select[Any] | None:
    """One entry per attendance row of a closed or open activity of a type the rules score."""
    types = sorted(ACTIVITY_KINDS & rules.duties.keys())
    if not types:
        return None
    kinds, categories, points = [], [], []
    for activity_type in types:
        rule = rules.duties[activity_type]
        scale = Activity.half_days if rule.per_half_day else literal(1)
        penalty_category = rules.penalty_category or rule.category
        # Points taken away count against the penalty category, so a bonus cap cannot swallow them.
        leave_category = penalty_category if rule.leave < 0 else rule.category
        outcomes = [  # (which rows, kind, category, points)
            (Attendance.status == AttendanceStatus.PRESENT, activity_type, rule.category, rule.points),
            (Attendance.status == AttendanceStatus.LATE, activity_type, rule.category,
             rule.points if rule.late is None else rule.late),
            (Attendance.status == AttendanceStatus.LEAVE, activity_type + LEAVE_SUFFIX, leave_category, rule.leave),
            (Attendance.status == AttendanceStatus.ABSENT, activity_type + ABSENT_SUFFIX, penalty_category,
             rule.absent),
        ]
        for which, kind, category, value in outcomes:
            when = and_(Activity.type == activity_type, which)
            kinds.append((when, literal(kind)))
            categories.append((when, literal(category)))
            points.append((when, literal(tenths(value)) * scale))
    status = case((Activity.status == ActivityStatus.CLOSED, literal(EntryStatus.CONFIRMED.value)),
                  else_=literal(EntryStatus.PENDING.value))
    return (
        select(*_row(year, Attendance.member_id, case(*kinds), case(*categories), EntrySource.ATTENDANCE,
                     Attendance.id, case(*points), status, Activity.starts_at, Activity.title))
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Activity.starts_at >= bounds[0], Activity.starts_at < bounds[1],
               Activity.status != ActivityStatus.CANCELLED, Activity.type.in_(types))
    )


def _report_entries(rules: YearRules, year: int) -> Select[Any] | None:
    rule = rules.duties.get(REPORT_SUBMITTED)
    if rule is None:
        return None
    status = case((Report.status.in_(DECIDED_REPORT), literal(EntryStatus.CONFIRMED.value)),
                  else_=literal(EntryStatus.PENDING.value))
    return (
        select(*_row(year, Report.member_id, literal(REPORT_SUBMITTED), literal(rule.category), EntrySource.REPORT,
                     Report.id, literal(tenths(rule.points)), status,
                     func.coalesce(Report.submitted_at, Report.created_at), Report.title))
        .where(Report.year == year, Report.status.in_(COUNTED_REPORT))
    )


def _adoption_entries(rules: YearRules, year: int) -> Select[Any] | None:
    rule = rules.duties.get(REPORT_ADOPTED)
    if rule is None:
        return None
    points = case(*[(Report.adoption_level == level, literal(tenths(value))) for level, value in rule.by_level.items()],
                  else_=literal(0))
    return (
        select(*_row(year, Report.member_id, literal(REPORT_ADOPTED), literal(rule.category), EntrySource.REPORT,
                     Report.id, points, literal(EntryStatus.CONFIRMED.value),
                     func.coalesce(Report.decided_at, Report.submitted_at, Report.created_at), Report.title))
        .where(Report.year == year, Report.status == ReportStatus.ADOPTED, Report.adoption_level.is_not(None))
    )


def _instruction_entries(rules: YearRules, year: int) -> Select[Any] | None:
    rule = rules.duties.get(INSTRUCTION)
    if rule is None:
        return None
    return (
        select(*_row(year, Report.member_id, literal(INSTRUCTION), literal(rule.category), EntrySource.INSTRUCTION,
                     Instruction.id, literal(tenths(rule.points)), literal(EntryStatus.CONFIRMED.value),
                     Instruction.given_at, Report.title))
        .join(Report, Report.id == Instruction.report_id)
        .where(Report.year == year, Report.status == ReportStatus.ADOPTED)
    )


def _study_entries(rules: YearRules, year: int, bounds: tuple[datetime, datetime]) -> Select[Any] | None:
    rule = rules.duties.get(STUDY_READ)
    if rule is None:
        return None
    return (
        select(*_row(year, StudyRead.member_id, literal(STUDY_READ), literal(rule.category), EntrySource.STUDY_READ,
                     StudyRead.id, literal(tenths(rule.points)), literal(EntryStatus.CONFIRMED.value),
                     StudyRead.read_at, StudyMaterial.title))
        .join(StudyMaterial, StudyMaterial.id == StudyRead.material_id)
        .where(StudyRead.read_at >= bounds[0], StudyRead.read_at < bounds[1])
    )


def _claim_entries(rules: YearRules, year: int) -> Select[Any] | None:
    kinds = rules.self_reported_kinds
    if not kinds:
        return None
    points = case(*[(DutyClaim.kind == kind, literal(tenths(rules.duties[kind].points))) for kind in kinds])
    category = case(*[(DutyClaim.kind == kind, literal(rules.duties[kind].category)) for kind in kinds])
    status = case(*[(DutyClaim.status == claim, literal(entry.value)) for claim, entry in CLAIM_ENTRY_STATUS.items()])
    return (
        select(*_row(year, DutyClaim.member_id, DutyClaim.kind, category, EntrySource.CLAIM, DutyClaim.id,
                     points, status, DutyClaim.occurred_at, DutyClaim.description))
        .where(DutyClaim.year == year, DutyClaim.kind.in_(kinds), DutyClaim.status.in_(list(CLAIM_ENTRY_STATUS)))
    )


def _adjustment_entries(year: int) -> Select[Any]:
    return (
        select(*_row(year, DutyAdjustment.member_id, literal(ADJUSTMENT_KIND), literal(ADJUSTMENT_CATEGORY),
                     EntrySource.ADJUSTMENT, DutyAdjustment.id, DutyAdjustment.tenths,
                     literal(EntryStatus.CONFIRMED.value), DutyAdjustment.at, DutyAdjustment.reason))
        .where(DutyAdjustment.year == year)
    )


# --- scores ------------------------------------------------------------------------------------------------------


@dataclass
class Score:
    """A member's year: points in tenths (``points``/``pending`` convert), grade and ranks."""

    member_id: int
    name: str
    group_id: int | None
    sector_id: int | None
    total_tenths: int
    pending_tenths: int
    grade: str
    passed: bool
    group_rank: int
    group_size: int
    sector_rank: int
    overall_rank: int
    by_category: dict[str, int] = field(default_factory=dict)  # tenths, after caps (raw ones in ``raw``)
    raw: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.total_tenths / 10

    @property
    def pending(self) -> float:
        return self.pending_tenths / 10


def _clamped(raw: Any, cap: float | None, floor: float | None) -> Any:
    whens = []
    if cap is not None:
        whens.append((raw > tenths(cap), literal(tenths(cap))))
    if floor is not None:
        whens.append((raw < tenths(floor), literal(tenths(floor))))
    return case(*whens, else_=raw) if whens else raw


def _score_query(rules: YearRules, year: int, members: Members) -> Select[Any]:
    """One row per assessed member: total (tenths), pending, and ranks in group, sector and overall.

    Pending is what the entries still waiting would add once confirmed, after the caps: the total with them
    minus the total without. A claim in a category already at its cap shows as 0, not as its raw points."""
    confirmed = DutyEntry.status == EntryStatus.CONFIRMED
    per_category = (
        select(DutyEntry.member_id, DutyEntry.category,
               func.sum(case((confirmed, DutyEntry.tenths), else_=0)).label("raw"),
               func.sum(DutyEntry.tenths).label("raw_all"))
        .where(DutyEntry.year == year, DutyEntry.status.in_([EntryStatus.CONFIRMED, EntryStatus.PENDING]),
               _member_filter(DutyEntry.member_id, members))  # one group's view reads one group's entries
        .group_by(DutyEntry.member_id, DutyEntry.category)
        .subquery()
    )
    bonus_names = [name for name, rule in rules.categories.items() if not rule.penalty]
    is_bonus = per_category.c.category.in_(bonus_names)

    def capped(raw: Any) -> Any:
        category_cases = [(per_category.c.category == name, _clamped(raw, rule.cap, rule.floor))
                          for name, rule in rules.categories.items()]
        return case(*category_cases, else_=raw)

    def bonus_of(raw: Any) -> Any:
        return func.sum(case((is_bonus, capped(raw)), else_=0))

    def rest_of(raw: Any) -> Any:  # penalties and adjustments
        return func.sum(case((is_bonus, 0), else_=capped(raw)))

    raw, raw_all = per_category.c.raw, per_category.c.raw_all
    per_member = (
        select(per_category.c.member_id, bonus_of(raw).label("bonus"), rest_of(raw).label("rest"),
               bonus_of(raw_all).label("bonus_all"), rest_of(raw_all).label("rest_all"))
        .group_by(per_category.c.member_id)
        .subquery()
    )

    def total_of(bonus: Any, rest: Any) -> Any:
        bonus = func.coalesce(bonus, 0)
        if rules.bonus_cap is not None:
            bonus = case((bonus > tenths(rules.bonus_cap), literal(tenths(rules.bonus_cap))), else_=bonus)
        return literal(tenths(rules.base)) + bonus + func.coalesce(rest, 0)

    total = total_of(per_member.c.bonus, per_member.c.rest).label("total")
    pending = (total_of(per_member.c.bonus_all, per_member.c.rest_all)
               - total_of(per_member.c.bonus, per_member.c.rest)).label("pending")
    ranked = (
        select(
            Member.id.label("member_id"), Member.name, Member.group_id, Member.sector_id, total, pending,
            func.rank().over(partition_by=Member.group_id, order_by=total.desc()).label("group_rank"),
            func.count().over(partition_by=Member.group_id).label("group_size"),
            func.rank().over(partition_by=Member.sector_id, order_by=total.desc()).label("sector_rank"),
            func.rank().over(order_by=total.desc()).label("overall_rank"),
        )
        .outerjoin(per_member, per_member.c.member_id == Member.id)
        .where(Member.status == MemberStatus.ACTIVE, Member.role.in_(ASSESSED_ROLES))
        .order_by(total.desc(), Member.id)
    )
    if members is not None:
        # Ranks are within what is selected: pass a whole group (or nothing) for ranks to mean anything.
        ranked = ranked.where(_member_filter(Member.id, members))
    return ranked


async def scores(
    session: AsyncSession, rules: YearRules, year: int, *, members: Members = None, with_categories: bool = False,
) -> list[Score]:
    """Scores of the assessed members (all, or ``members``), best first (ties share a rank: 1, 1, 3)."""
    rows = (await session.execute(_score_query(rules, year, members).execution_options(**OFFLOAD))).all()
    result = [
        Score(member_id=row.member_id, name=row.name, group_id=row.group_id, sector_id=row.sector_id,
              total_tenths=int(row.total), pending_tenths=int(row.pending), grade=rules.grade_for(row.total / 10),
              passed=row.total >= tenths(rules.pass_mark), group_rank=row.group_rank, group_size=row.group_size,
              sector_rank=row.sector_rank, overall_rank=row.overall_rank)
        for row in rows
    ]
    if with_categories and result:
        await add_categories(session, rules, year, result, members)
    return result


async def add_categories(
    session: AsyncSession, rules: YearRules, year: int, found: list[Score], members: Members = None
) -> None:
    """Fill each score's points per category (raw, and after caps and floors); ``members`` narrows the query
    to the members of ``found`` (None reads the whole year's ledger, fine when ``found`` is everyone)."""
    by_member = {score.member_id: score for score in found}
    rows = (await session.execute(
        select(DutyEntry.member_id, DutyEntry.category, func.sum(DutyEntry.tenths))
        .where(DutyEntry.year == year, DutyEntry.status == EntryStatus.CONFIRMED,
               _member_filter(DutyEntry.member_id, members))
        .group_by(DutyEntry.member_id, DutyEntry.category).execution_options(**OFFLOAD)
    )).all()
    for member_id, category, raw in rows:
        score = by_member.get(member_id)
        if score is None:
            continue
        rule = rules.categories.get(category)
        value = int(raw)
        score.raw[category] = value
        if rule is not None:
            if rule.cap is not None:
                value = min(value, tenths(rule.cap))
            if rule.floor is not None:
                value = max(value, tenths(rule.floor))
        score.by_category[category] = value


# --- five one ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetProgress:
    name: str
    need: int
    done: int  # confirmed entries
    pending: int  # entries still waiting (a claim not verified yet …)

    @property
    def met(self) -> bool:
        return self.done >= self.need


async def five_one(
    session: AsyncSession, rules: YearRules, year: int, *, members: Members = None
) -> dict[int, list[TargetProgress]]:
    """Each member's progress on each target: the ``members`` listed by id, else the assessed members (all,
    or those of a SELECT); members without any entry get zeros."""
    kinds = sorted({kind for target in rules.five_one for kind in target.kinds})
    counts: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    if kinds:
        rows = (await session.execute(
            select(DutyEntry.member_id, DutyEntry.kind, DutyEntry.status, func.count())
            .where(DutyEntry.year == year, DutyEntry.kind.in_(kinds), DutyEntry.status != EntryStatus.REJECTED,
                   _member_filter(DutyEntry.member_id, members))
            .group_by(DutyEntry.member_id, DutyEntry.kind, DutyEntry.status).execution_options(**OFFLOAD)
        )).all()
        for member_id, kind, status, count in rows:
            counts[member_id][(kind, status)] = count
    if members is not None and not isinstance(members, Select):
        ids = list(members)
    else:  # everyone (or a SELECT) means the assessed members: not the staff, and those without entries too
        ids = list((await session.scalars(_assessed_ids(members))).all())
    return {member_id: _progress(rules, counts.get(member_id, {})) for member_id in ids}


def _assessed_ids(members: Members) -> Select[Any]:
    return select(Member.id).where(Member.status == MemberStatus.ACTIVE, Member.role.in_(ASSESSED_ROLES),
                                   _member_filter(Member.id, members)).order_by(Member.id)


def _progress(rules: YearRules, counts: dict[tuple[str, str], int]) -> list[TargetProgress]:
    return [
        TargetProgress(
            name=target.name, need=target.need,
            done=sum(counts.get((kind, EntryStatus.CONFIRMED), 0) for kind in target.kinds),
            pending=sum(counts.get((kind, EntryStatus.PENDING), 0) for kind in target.kinds),
        )
        for target in rules.five_one
    ]


async def missing_targets(session: AsyncSession, rules: YearRules, year: int) -> dict[int, list[str]]:
    """Every assessed member still missing a target, with the targets' names (for the year-end nudge)."""
    everyone = await five_one(session, rules, year, members=_assessed_ids(None))
    return {member_id: [p.name for p in progress if not p.met]
            for member_id, progress in everyone.items() if any(not p.met for p in progress)}


# --- groups and sectors --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """A liaison group's or a sector's members' scores together."""

    id: int | None
    name: str
    members: int
    total_tenths: int
    below_pass: int
    rank: int = 0

    @property
    def average(self) -> float:
        return round(self.total_tenths / 10 / self.members, 1) if self.members else 0.0


def standings(found: Iterable[Score], names: dict[int, str], key: str, unassigned: str) -> list[Standing]:
    """Per-group (``key="group_id"``) or per-sector totals from ``scores``, ranked by average (ties share)."""
    buckets: dict[int | None, list[Score]] = defaultdict(list)
    for score in found:
        buckets[getattr(score, key)].append(score)
    rows = [Standing(id=bucket_id, name=names.get(bucket_id, unassigned) if bucket_id else unassigned,
                     members=len(members), total_tenths=sum(s.total_tenths for s in members),
                     below_pass=sum(not s.passed for s in members))
            for bucket_id, members in buckets.items()]
    rows.sort(key=lambda row: (-row.average, row.name))
    return _with_ranks(rows, lambda row: row.average)


async def group_names(session: AsyncSession) -> dict[int, str]:
    return dict((await session.execute(select(LiaisonGroup.id, LiaisonGroup.name))).all())


async def sector_names(session: AsyncSession) -> dict[int, str]:
    return dict((await session.execute(select(Sector.id, Sector.name))).all())


@dataclass(frozen=True)
class GroupAssessment:
    group_id: int
    name: str
    activities_held: int
    reports_submitted: int
    reports_adopted: int
    attended: int  # present or late
    expected: int  # present, late or absent (approved leave is excused)
    score_tenths: int
    rank: int = 0

    @property
    def attendance_rate(self) -> float:
        return self.attended / self.expected if self.expected else 0.0

    @property
    def score(self) -> float:
        return self.score_tenths / 10


async def group_assessment(session: AsyncSession, rules: YearRules, year: int, zone: ZoneInfo) -> list[GroupAssessment]:
    """Liaison groups scored on what they organised and how their members took part (from the sources)."""
    start, end = year_bounds(year, zone)
    held = dict((await session.execute(
        select(Activity.group_id, func.count())
        .where(Activity.group_id.is_not(None), Activity.status == ActivityStatus.CLOSED,
               Activity.starts_at >= start, Activity.starts_at < end)
        .group_by(Activity.group_id).execution_options(**OFFLOAD))).all())
    adopted = Report.status == ReportStatus.ADOPTED
    reports = {row[0]: (row[1], row[2]) for row in (await session.execute(
        select(Report.group_id, func.count(), func.sum(case((adopted, 1), else_=0)))
        .where(Report.group_id.is_not(None), Report.year == year, Report.status.in_(COUNTED_REPORT))
        .group_by(Report.group_id).execution_options(**OFFLOAD))).all()}
    attended_row = Attendance.status.in_([AttendanceStatus.PRESENT, AttendanceStatus.LATE])
    attendance = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in (await session.execute(
        select(Attendance.group_id, func.sum(case((attended_row, 1), else_=0)),
               func.sum(case((Attendance.status != AttendanceStatus.LEAVE, 1), else_=0)))
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.group_id.is_not(None), Activity.status == ActivityStatus.CLOSED,
               Activity.starts_at >= start, Activity.starts_at < end)
        .group_by(Attendance.group_id).execution_options(**OFFLOAD))).all()}
    weights = rules.groups
    found = []
    for group_id, name in sorted((await group_names(session)).items()):
        submitted, adopted_count = reports.get(group_id, (0, 0))
        attended, expected = attendance.get(group_id, (0, 0))
        activities = held.get(group_id, 0)
        score = (activities * tenths(weights.activity_held) + submitted * tenths(weights.report_submitted)
                 + int(adopted_count or 0) * tenths(weights.report_adopted)
                 + (round(tenths(weights.attendance) * attended / expected) if expected else 0))
        found.append(GroupAssessment(group_id=group_id, name=name, activities_held=activities,
                                     reports_submitted=submitted, reports_adopted=int(adopted_count or 0),
                                     attended=attended, expected=expected, score_tenths=score))
    found.sort(key=lambda g: (-g.score_tenths, g.name))
    return _with_ranks(found, lambda group: group.score_tenths)


def _with_ranks(ordered: list[Ranked], value: Callable[[Ranked], Any]) -> list[Ranked]:
    """Ranks for rows already sorted best first; equal values share a rank (1, 1, 3), as SQL ``RANK()``."""
    ranked: list[Ranked] = []
    for position, row in enumerate(ordered, start=1):
        tied = bool(ranked) and value(ranked[-1]) == value(row)
        ranked.append(replace(row, rank=ranked[-1].rank if tied else position))  # type: ignore[type-var]
    return ranked


# --- one member ----------------------------------------------------------------------------------------------------


async def entries_of(
    session: AsyncSession, member_id: int, year: int, *, limit: int | None = None, offset: int = 0
) -> list[DutyEntry]:
    """A member's entries of a year, newest first (ties by source, so the order is stable)."""
    query = (select(DutyEntry).where(DutyEntry.year == year, DutyEntry.member_id == member_id)
             .order_by(DutyEntry.occurred_at.desc(), DutyEntry.source, DutyEntry.source_id, DutyEntry.kind)
             .offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


def group_of(member: Member) -> Select[Any]:
    """The members whose ranks a member's rank depends on: their liaison group (or just them)."""
    if member.group_id is None:
        return select(Member.id).where(Member.id == member.id)
    return select(Member.id).where(Member.group_id == member.group_id)


@dataclass(frozen=True)
class MemberYear:
    """What ``履职`` shows: the member's score (None: not assessed) and "five one" progress."""

    score: Score | None
    targets: list[TargetProgress]


async def member_year(
    session: AsyncSession, rules: YearRules, member: Member, year: int, zone: ZoneInfo, *, now: datetime
) -> MemberYear:
    """Rebuild the member's liaison group (their rank depends on it) and read their year."""
    group = group_of(member)
    await refresh(session, rules, year, zone, now=now, members=group)
    found = await scores(session, rules, year, members=group, with_categories=True)
    score = next((s for s in found if s.member_id == member.id), None)
    targets = (await five_one(session, rules, year, members=[member.id or 0]))[member.id or 0]
    return MemberYear(score=score, targets=targets)
