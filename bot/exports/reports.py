"""A year's submitted social-condition reports as an Excel workbook (:func:`export_reports`): one row per
report that was ever submitted in that year (drafts are the members' own business and are left out), with
the member, the liaison group, the status, the adoption level, the reviewer's last comment and the
instructions; a second sheet holds every transition (the history).

:func:`full_text_workbook` lists reports a secretary selected in the console, each with its full text; the
Word bulletin of the same selection is :mod:`bot.exports.bulletin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import reports as ops
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.member import LiaisonGroup, Member
from models.report import Instruction, Report, ReportEvent, ReportStatus

REPORT_COLUMNS = ("编号", "标题", "类别", "报送人", "联络组", "状态", "采用级别", "字数", "提交时间", "办结时间",
                  "审核意见", "领导批示", "相似报送编号")
HISTORY_COLUMNS = ("报送编号", "标题", "时间", "操作", "操作人", "意见")
# The selected reports with their full text (the console's compile): headers from console_reports.excel.<column>.
FULL_TEXT_COLUMNS = ("id", "title", "category", "author", "group", "level", "submitted", "body", "instructions")


async def export_reports(db: Database, year: int, output: Path, *, zone: ZoneInfo, texts: Catalogue) -> int:
    """Write the workbook; returns how many reports it lists."""
    from openpyxl import Workbook  # imported here: only the export needs it

    async with db.reader() as session:
        reports = list((await session.scalars(
            select(Report).where(Report.year == year, Report.status.in_(ops.SUBMITTED_STATUSES))  # type: ignore[attr-defined]
            .order_by(Report.submitted_at, Report.id)
        )).all())
        about = await about_reports(session, reports)
        events = await _events(session, [r.id for r in reports if r.id is not None])

    def local(moment: datetime | None) -> str:
        return local_time(moment, zone)

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = f"{year}年社情民意"
    sheet.append(REPORT_COLUMNS)
    for report in reports:
        sheet.append((
            report.id, report.title, report.category, about.author(report), about.group(report),
            texts(f"report.status.{report.status.value}"),
            level_name(report, texts) if report.status is ReportStatus.ADOPTED else "",
            ops.text_length(report.body), local(report.submitted_at), local(report.decided_at),
            report.review_comment, about.instructions_text(report, zone), report.similar_report_id or "",
        ))
    history = workbook.create_sheet("处理记录")
    history.append(HISTORY_COLUMNS)
    titles = {report.id: report.title for report in reports}
    for event in events:
        history.append((event.report_id, titles.get(event.report_id, ""), local(event.at),
                        texts(f"report.action.{event.action}"), event.by_name or "管理后台", event.comment))
    for ws in (sheet, history):
        ws.freeze_panes = "A2"
    output.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(output)
    return len(reports)


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


@dataclass(frozen=True, slots=True)
class About:
    """What a list of reports names besides the reports: authors, liaison groups, leaders' instructions."""

    members: dict[int, str]
    groups: dict[int, str]
    notes: dict[int, list[Instruction]]

    def author(self, report: Report) -> str:
        return self.members.get(report.member_id, "")

    def group(self, report: Report) -> str:
        return self.groups.get(report.group_id, "") if report.group_id else ""

    def instructions_text(self, report: Report, zone: ZoneInfo) -> str:
        return "\n".join(f"{note.leader}（{local_time(note.given_at, zone)}）：{note.text}"
                         for note in self.notes.get(report.id or 0, []))


async def about_reports(session: AsyncSession, reports: list[Report]) -> About:
    members = {row[0]: row[1] for row in (await session.execute(select(Member.id, Member.name))).all()}
    groups = {row[0]: row[1] for row in (await session.execute(select(LiaisonGroup.id, LiaisonGroup.name))).all()}
    return About(members, groups, await _instructions(session, [r.id for r in reports if r.id is not None]))


def level_name(report: Report, texts: Catalogue) -> str:
    return texts(f"report.level.{report.adoption_level.value}") if report.adoption_level else ""


async def full_text_workbook(session: AsyncSession, reports: list[Report], *, zone: ZoneInfo,
                             texts: Catalogue) -> bytes:
    """Selected reports with their full text (for compiling a bulletin by hand), as .xlsx bytes."""
    from openpyxl import Workbook  # imported here: only the export needs it
    from openpyxl.styles import Alignment

    about = await about_reports(session, reports)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = texts("console_reports.excel.sheet")
    sheet.append([texts(f"console_reports.excel.{column}") for column in FULL_TEXT_COLUMNS])
    for report in reports:
        sheet.append((report.id, report.title, report.category, about.author(report), about.group(report),
                      level_name(report, texts), local_time(report.submitted_at, zone), report.body,
                      about.instructions_text(report, zone)))
    for cell in sheet["H"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["B"].width, sheet.column_dimensions["H"].width = 30, 80
    sheet.freeze_panes = "A2"
    output = BytesIO()
    workbook.save(output)
    return output.getvalue()


async def _instructions(session: AsyncSession, report_ids: list[int]) -> dict[int, list[Instruction]]:
    found: dict[int, list[Instruction]] = {}
    if not report_ids:
        return found
    rows = (await session.scalars(
        select(Instruction).where(Instruction.report_id.in_(report_ids))  # type: ignore[attr-defined]
        .order_by(Instruction.given_at, Instruction.id)
    )).all()
    for row in rows:
        found.setdefault(row.report_id, []).append(row)
    return found


async def _events(session: AsyncSession, report_ids: list[int]) -> list[ReportEvent]:
    if not report_ids:
        return []
    return list((await session.scalars(
        select(ReportEvent).where(ReportEvent.report_id.in_(report_ids))  # type: ignore[attr-defined]
        .order_by(ReportEvent.report_id, ReportEvent.at, ReportEvent.id)
    )).all())
