"""Attendance as read by the office: one activity's sheet and a year's counts. Shared by the admin API
(``/api/v1/activities/{id}/attendance``, ``/api/v1/attendance``) and the Excel export
(``lvzhi export attendance``), so the two never count differently.

Counting rules:

* **One activity.** Every ``attendance`` row as recorded. While the activity is still ``scheduled``, the
  members of its audience without a row are listed as ``pending`` (not signed in yet): at the close they
  become ``absent`` or, with approved leave, ``leave``.
* **A year.** Closed activities whose start falls in the committee's local year (``scheduler.timezone``).
  A scheduled activity's rows are not final yet and a cancelled one does not count, so both are left out.
  Groups are the member's group *at the time* (``attendance.group_id``), so a move does not rewrite history.
* **Rate** (出席率) = (present + late) / (expected − leave), as :attr:`bot.domain.activities.Tally.rate`.

Every year count is a ``GROUP BY`` in SQL; Python only arranges the grouped rows (members × types × statuses
at most), never every attendance row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.activities import AttendanceRate, audience_clause
from models.activity import (
    Activity,
    ActivityStatus,
    ActivityType,
    Attendance,
    AttendanceCorrection,
    AttendanceStatus,
    LeaveRequest,
    LeaveStatus,
)
from models.member import LiaisonGroup, Member, Sector

PENDING = "pending"  # a sheet status only: in the audience of a scheduled activity, no row yet
STATUSES = tuple(status.value for status in AttendanceStatus)


@dataclass(slots=True)
class Counts(AttendanceRate):
    """Attendance counts by status; ``expected`` is everybody counted (pending included)."""

    present: int = 0
    late: int = 0
    leave: int = 0
    absent: int = 0
    pending: int = 0

    def add(self, status: str, count: int = 1) -> None:
        setattr(self, status, getattr(self, status) + count)

    def merge(self, other: Counts) -> None:
        for name in (*STATUSES, PENDING):
            self.add(name, getattr(other, name))

    @property
    def expected(self) -> int:  # type: ignore[override]  (everybody counted, pending included)
        return self.present + self.late + self.leave + self.absent + self.pending

    @property
    def rate(self) -> float:
        return round(AttendanceRate.rate.fget(self), 4)  # type: ignore[attr-defined]

    def as_json(self, *, with_pending: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"expected": self.expected, "present": self.present, "late": self.late,
                                "leave": self.leave, "absent": self.absent}
        if with_pending:
            body["pending"] = self.pending
        return {**body, "attended": self.attended, "rate": self.rate}


async def names(session: AsyncSession) -> dict[str, dict[int, str]]:
    """id → name of liaison groups and sectors: small tables, read once per request or export."""
    groups = (await session.execute(select(LiaisonGroup.id, LiaisonGroup.name))).all()
    sectors = (await session.execute(select(Sector.id, Sector.name))).all()
    return {"group": {ident: name for ident, name in groups if ident is not None},
            "sector": {ident: name for ident, name in sectors if ident is not None}}


# --- one activity ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class SheetRow:
    member_id: int
    name: str
    group_id: int | None  # the group at the time of the row (the member's current group while pending)
    sector_id: int | None
    status: str  # an AttendanceStatus value, or PENDING
    method: str | None = None
    signed_in_at: datetime | None = None
    leave: LeaveRequest | None = None  # the linked leave, else the member's latest request that counts
    corrections: list[AttendanceCorrection] = field(default_factory=list)


async def activity_sheet(session: AsyncSession, activity: Activity) -> list[SheetRow]:
    """One row per member: recorded rows, and for a scheduled activity the audience still pending.
    Ordered by liaison group (no group last), then member id."""
    recorded = (await session.execute(
        select(Attendance, Member).join(Member, Member.id == Attendance.member_id)
        .where(Attendance.activity_id == activity.id)
    )).all()
    leaves = await _leaves_by_member(session, activity.id or 0)
    corrections = await _corrections_by_attendance(session, activity.id or 0)
    rows = [
        SheetRow(member.id or 0, member.name, row.group_id, member.sector_id, row.status.value, row.method.value,
                 row.signed_in_at, _leave_for(leaves.get(member.id or 0, []), row.leave_id),
                 corrections.get(row.id or 0, []))
        for row, member in recorded
    ]
    if activity.status is ActivityStatus.SCHEDULED:
        has_row = select(Attendance.member_id).where(Attendance.activity_id == activity.id)
        waiting = (await session.scalars(
            select(Member).where(audience_clause(activity), Member.id.not_in(has_row))  # type: ignore[union-attr]
        )).all()
        rows += [SheetRow(member.id or 0, member.name, member.group_id, member.sector_id, PENDING,
                          leave=_leave_for(leaves.get(member.id or 0, []), None)) for member in waiting]
    rows.sort(key=lambda row: (row.group_id is None, row.group_id or 0, row.member_id))
    return rows


def count_rows(rows: Iterable[SheetRow]) -> tuple[Counts, dict[int | None, Counts]]:
    """Totals and per-group counts of a sheet (the rows are already in memory)."""
    total, groups = Counts(), dict[int | None, Counts]()
    for row in rows:
        total.add(row.status)
        groups.setdefault(row.group_id, Counts()).add(row.status)
    return total, dict(sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or 0)))


async def _leaves_by_member(session: AsyncSession, activity_id: int) -> dict[int, list[LeaveRequest]]:
    found: dict[int, list[LeaveRequest]] = {}
    for leave in (await session.scalars(
        select(LeaveRequest).where(LeaveRequest.activity_id == activity_id).order_by(LeaveRequest.id)
    )).all():
        found.setdefault(leave.member_id, []).append(leave)
    return found


def _leave_for(requests: list[LeaveRequest], linked: int | None) -> LeaveRequest | None:
    """The leave a row shows: the one linked to the attendance, else the latest not withdrawn."""
    if linked is not None:
        return next((leave for leave in requests if leave.id == linked), None)
    live = [leave for leave in requests if leave.status is not LeaveStatus.WITHDRAWN]
    return live[-1] if live else None


async def _corrections_by_attendance(session: AsyncSession, activity_id: int) -> dict[int, list[AttendanceCorrection]]:
    found: dict[int, list[AttendanceCorrection]] = {}
    for correction in (await session.scalars(
        select(AttendanceCorrection).join(Attendance, Attendance.id == AttendanceCorrection.attendance_id)
        .where(Attendance.activity_id == activity_id)
        .order_by(AttendanceCorrection.at, AttendanceCorrection.id)
    )).all():
        found.setdefault(correction.attendance_id, []).append(correction)
    return found


# --- a year ---------------------------------------------------------------------------------------------


def year_bounds(year: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The committee's local year as a UTC half-open range, so the filter is a plain indexed comparison."""
    return (datetime(year, 1, 1, tzinfo=zone).astimezone(UTC), datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC))


def counted(bounds: tuple[datetime, datetime]) -> ColumnElement[bool]:
    """The activities a year counts: closed, started within the year."""
    start, end = bounds
    return (Activity.status == ActivityStatus.CLOSED) & (Activity.starts_at >= start) & (Activity.starts_at < end)


@dataclass(slots=True)
class MemberYear:
    member_id: int
    name: str
    group_id: int | None  # the member's current group
    sector_id: int | None
    counts: Counts = field(default_factory=Counts)
    by_type: dict[ActivityType, Counts] = field(default_factory=dict)


@dataclass(slots=True)
class GroupYear:
    group_id: int | None  # None: members without a liaison group
    members: int  # members with at least one counted row
    counts: Counts


@dataclass(slots=True)
class ActivityYear:
    activity: Activity
    counts: Counts


def _row_filters(group_id: int | None, member_id: int | None) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if group_id is not None:
        filters.append(Attendance.group_id == group_id)  # type: ignore[arg-type]
    if member_id is not None:
        filters.append(Attendance.member_id == member_id)  # type: ignore[arg-type]
    return filters


async def year_by_member(
    session: AsyncSession, bounds: tuple[datetime, datetime], *, group_id: int | None = None,
    member_id: int | None = None,
) -> list[MemberYear]:
    """Per member: counts by status and by activity type. Ordered by group, then member id."""
    grouped = (await session.execute(
        select(Attendance.member_id, Activity.type, Attendance.status, func.count())
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(counted(bounds), *_row_filters(group_id, member_id))
        .group_by(Attendance.member_id, Activity.type, Attendance.status)
    )).all()
    if not grouped:
        return []
    ids = sorted({row[0] for row in grouped})
    people = {member.id: member for member in (await session.scalars(
        select(Member).where(Member.id.in_(ids))  # type: ignore[union-attr]
    )).all()}
    found: dict[int, MemberYear] = {}
    for ident, type_, status, count in grouped:
        member = people[ident]
        entry = found.setdefault(ident, MemberYear(ident, member.name, member.group_id, member.sector_id))
        entry.counts.add(AttendanceStatus(status).value, count)
        entry.by_type.setdefault(ActivityType(type_), Counts()).add(AttendanceStatus(status).value, count)
    return sorted(found.values(), key=lambda m: (m.group_id is None, m.group_id or 0, m.member_id))


async def year_by_group(
    session: AsyncSession, bounds: tuple[datetime, datetime], *, group_id: int | None = None,
    member_id: int | None = None,
) -> list[GroupYear]:
    """Per liaison group (at the time): counts by status and how many members they cover."""
    base = (select(Attendance.group_id).join(Activity, Activity.id == Attendance.activity_id)
            .where(counted(bounds), *_row_filters(group_id, member_id)))
    by_status = (await session.execute(
        base.add_columns(Attendance.status, func.count()).group_by(Attendance.group_id, Attendance.status)
    )).all()
    people = dict((await session.execute(
        base.add_columns(func.count(distinct(Attendance.member_id))).group_by(Attendance.group_id)
    )).all())
    counts: dict[int | None, Counts] = {}
    for group, status, count in by_status:
        counts.setdefault(group, Counts()).add(AttendanceStatus(status).value, count)
    return [GroupYear(group, int(people.get(group, 0)), counts[group])
            for group in sorted(counts, key=lambda g: (g is None, g or 0))]


async def year_by_activity(
    session: AsyncSession, bounds: tuple[datetime, datetime], *, group_id: int | None = None,
) -> list[ActivityYear]:
    """Per counted activity, by start: its counts (of one group's members only, when ``group_id``)."""
    activities = (await session.scalars(
        select(Activity).where(counted(bounds)).order_by(Activity.starts_at, Activity.id)
    )).all()
    grouped = (await session.execute(
        select(Attendance.activity_id, Attendance.status, func.count())
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(counted(bounds), *_row_filters(group_id, None))
        .group_by(Attendance.activity_id, Attendance.status)
    )).all()
    counts: dict[int, Counts] = {}
    for activity_id, status, count in grouped:
        counts.setdefault(activity_id, Counts()).add(AttendanceStatus(status).value, count)
    if group_id is not None:  # an activity no member of the group was expected at is not theirs
        activities = [a for a in activities if a.id in counts]
    return [ActivityYear(activity, counts.get(activity.id or 0, Counts())) for activity in activities]
