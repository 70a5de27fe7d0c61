"""Attendance as Excel workbooks: one activity's sheet (:func:`export_activity`) and a year's counts
(:func:`export_year`). The counting is :mod:`bot.domain.attendance`'s, the same as the admin API's.

* one activity: one sheet, the activity's details on top, then one row per member (name, liaison group,
  sector, attendance in Chinese, sign-in method, local sign-in time, leave type, the corrections with their
  reasons) and a summary row. A still-open activity lists the audience not signed in yet as 未签到.
* a year: the closed activities starting in that local year (``scheduler.timezone``): a summary per
  activity, a sheet per member (counts by status and, per activity type, expected and attended), and a
  sheet per liaison group (the member's group at the time).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.domain import attendance as report
from bot.exports.sheets import new_sheet
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.activity import Activity, ActivityType, LeaveStatus, SignInMethod

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

DETAIL_ROWS = 4  # the activity's details above the table (then a blank row, then the header)
ACTIVITY_COLUMNS = ("姓名", "联络组", "界别", "考勤", "签到方式", "签到时间", "请假类型", "更正记录")
COUNT_COLUMNS = ("应到", "出席", "迟到", "请假", "缺席", "出席率")
SUMMARY_COLUMNS = ("日期", "类型", "活动名称", "组织", *COUNT_COLUMNS)
MEMBER_COLUMNS = ("姓名", "联络组", "界别", *COUNT_COLUMNS)  # then 应到 / 实到 per activity type of the year
GROUP_COLUMNS = ("联络组", "委员人数", *COUNT_COLUMNS)
RATE_FORMAT = "0.0%"
TIME_FORMAT = "%Y-%m-%d %H:%M"


# --- one activity ---------------------------------------------------------------------------------------


async def export_activity(db: Database, activity_id: int, output: Path, *, zone: ZoneInfo,
                          texts: Catalogue) -> int | None:
    """Write one activity's sheet; returns how many members it lists, None when there is no such activity."""
    async with db.reader() as session:
        activity = await session.get(Activity, activity_id)
        if activity is None:
            return None
        rows = await report.activity_sheet(session, activity)
        names = await report.names(session)
    local = _localiser(zone)
    groups, sectors = names["group"], names["sector"]

    workbook, sheet = new_sheet(texts("attendance_export.sheet.activity"))
    organiser = groups.get(activity.group_id, "") if activity.group_id else texts("attendance_export.office")
    details = (
        ("活动名称", activity.title, "类型", texts(f"activity.type.{activity.type.value}")),
        ("开始时间", local(activity.starts_at), "结束时间", local(activity.ends_at)),
        ("地点", activity.venue, "组织", organiser),
        ("签到时间", f"{local(activity.signin_opens_at)} 至 {local(activity.signin_closes_at)}", "状态",
         texts(f"attendance_export.activity_status.{activity.status.value}")),
    )
    assert len(details) == DETAIL_ROWS
    for line in details:
        sheet.append(line)
    sheet.append(())
    sheet.append(ACTIVITY_COLUMNS)
    for row in rows:
        sheet.append((
            row.name,
            _group_name(row.group_id, groups, texts),
            sectors.get(row.sector_id, "") if row.sector_id else "",
            _status(row.status, texts),
            _method(row, texts),
            local(row.signed_in_at),
            _leave_text(row, texts),
            "\n".join(_correction_text(c.at, c.from_status, c.to_status, c.reason, c.by_name, local, texts)
                      for c in row.corrections),
        ))
    total, _ = report.count_rows(rows)
    pending = texts("attendance_export.summary_pending", pending=total.pending) if total.pending else ""
    sheet.append((texts("attendance_export.total"), texts(
        "attendance_export.summary", expected=total.expected, present=total.present, late=total.late,
        leave=total.leave, absent=total.absent, pending=pending, rate=f"{total.rate:.1%}")))
    header = DETAIL_ROWS + 2
    sheet.freeze_panes = f"A{header + 1}"
    _fit_columns(sheet)
    _save(workbook, output)
    return len(rows)


def _method(row: report.SheetRow, texts: Catalogue) -> str:
    """How the record came about. A row written at the close and corrected since says 秘书更正: "截止时统计"
    beside 出席 would read as a contradiction (the corrections column tells the whole story)."""
    if row.method is None:
        return ""
    method = "manual" if row.corrections and row.method == SignInMethod.CLOSE.value else row.method
    return texts(f"attendance_export.method.{method}")


def _status(status: str, texts: Catalogue) -> str:
    return texts("attendance_export.pending") if status == report.PENDING else texts(f"attendance.status.{status}")


def _leave_text(row: report.SheetRow, texts: Catalogue) -> str:
    leave = row.leave
    if leave is None:
        return ""
    kind = texts(f"leave.kind.{leave.kind.value}")
    if leave.status is LeaveStatus.APPROVED:
        return kind
    return texts("attendance_export.leave_not_approved", kind=kind, status=texts(f"leave.status.{leave.status.value}"))


def _correction_text(at: datetime, from_status: str, to_status: str, reason: str, by: str,
                     local: Any, texts: Catalogue) -> str:
    """``2026-11-21 10:30 缺席→出席：补签（钱秘书）`` — when, what, why and who, on one line."""
    def label(status: str) -> str:
        return texts(f"attendance.status.{status}")

    return f"{local(at)} {label(from_status)}→{label(to_status)}：{reason}（{by or texts('attendance_export.admin')}）"


# --- a year ----------------------------------------------------------------------------------------------


async def export_year(db: Database, year: int, output: Path, *, zone: ZoneInfo, texts: Catalogue) -> int:
    """Write the year's workbook; returns how many activities it counts."""
    bounds = report.year_bounds(year, zone)
    async with db.reader() as session:
        activities = await report.year_by_activity(session, bounds)
        members = await report.year_by_member(session, bounds)
        groups = await report.year_by_group(session, bounds)
        names = await report.names(session)
    local = _localiser(zone)
    group_names, sectors = names["group"], names["sector"]

    workbook, summary = new_sheet(texts("attendance_export.sheet.summary"))
    summary.append(SUMMARY_COLUMNS)
    total = report.Counts()
    for entry in activities:
        activity = entry.activity
        total.merge(entry.counts)
        organiser = (group_names.get(activity.group_id, "") if activity.group_id
                     else texts("attendance_export.office"))
        summary.append((local(activity.starts_at), texts(f"activity.type.{activity.type.value}"), activity.title,
                        organiser, *_count_cells(entry.counts)))
    summary.append((texts("attendance_export.total"), "", "", "", *_count_cells(total)))

    per_member = workbook.create_sheet(texts("attendance_export.sheet.members"))
    types = [t for t in ActivityType if any(t in m.by_type for m in members)]  # the year's types, in enum order
    per_member.append((*MEMBER_COLUMNS, *(
        f"{texts(f'activity.type.{t.value}')}{part}" for t in types for part in ("应到", "实到"))))
    for member in members:
        by_type = [member.by_type.get(t, report.Counts()) for t in types]
        per_member.append((
            member.name, _group_name(member.group_id, group_names, texts),
            sectors.get(member.sector_id, "") if member.sector_id else "",
            *_count_cells(member.counts), *(n for c in by_type for n in (c.expected, c.attended)),
        ))

    per_group = workbook.create_sheet(texts("attendance_export.sheet.groups"))
    per_group.append(GROUP_COLUMNS)
    for group in groups:
        per_group.append((_group_name(group.group_id, group_names, texts), group.members,
                          *_count_cells(group.counts)))
    per_group.append((texts("attendance_export.total"), sum(g.members for g in groups), *_count_cells(total)))

    for sheet, columns in ((summary, SUMMARY_COLUMNS), (per_member, MEMBER_COLUMNS), (per_group, GROUP_COLUMNS)):
        sheet.freeze_panes = "A2"
        _percent(sheet, columns.index("出席率") + 1)
        _fit_columns(sheet)
    _save(workbook, output)
    return len(activities)


def _count_cells(counts: report.Counts) -> tuple[int | float, ...]:
    return (counts.expected, counts.present, counts.late, counts.leave, counts.absent, counts.rate)


# --- sheet helpers --------------------------------------------------------------------------------------


def _localiser(zone: ZoneInfo) -> Any:
    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime(TIME_FORMAT) if moment else ""

    return local


def _group_name(group_id: int | None, groups: dict[int, str], texts: Catalogue) -> str:
    return groups.get(group_id, "") if group_id is not None else texts("attendance_export.no_group")


def _percent(sheet: Worksheet, column: int) -> None:
    for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        cell.number_format = RATE_FORMAT


def _display_width(text: str) -> int:
    """Columns a text takes: Chinese characters are twice as wide as Latin ones."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit_columns(sheet: Worksheet, minimum: int = 6, maximum: int = 60) -> None:
    """Widths from the longest line in each column (a percentage counts as ``100.0%``)."""
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            text = "100.0%" if isinstance(cell.value, float) else str(cell.value)
            longest = max(_display_width(line) for line in text.split("\n"))
            widths[cell.column] = max(widths.get(cell.column, 0), longest)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, minimum), maximum)


def _save(workbook: Any, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(output)
