"""A year's submitted social-condition reports as an Excel workbook (:func:`export_reports`): one row per
report that was ever submitted in that year (drafts are the members' own business and are left out), with
the member, the liaison group, the status, the adoption level, the reviewer's last comment and the
instructions; a second sheet holds every transition (the history).
"""

from __future__ import annotations

from datetime import datetime
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


async def export_reports(db: Database, year: int, output: Path, *, zone: ZoneInfo, texts: Catalogue) -> int:
    """Write the workbook; returns how many reports it lists."""
    from openpyxl import Workbook  # imported here: only the export needs it

    async with db.reader() as session:
        reports = list((await session.scalars(
            select(Report).where(Report.year == year, Report.status.in_(ops.SUBMITTED_STATUSES))  # type: ignore[attr-defined]
            .order_by(Report.submitted_at, Report.id)
        )).all())
        members = {row[0]: row[1] for row in (await session.execute(select(Member.id, Member.name))).all()}
        groups = {row[0]: row[1] for row in (await session.execute(select(LiaisonGroup.id, LiaisonGroup.name))).all()}
        notes = await _instructions(session, [r.id for r in reports if r.id is not None])
        events = await _events(session, [r.id for r in reports if r.id is not None])

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = f"{year}年社情民意"
    sheet.append(REPORT_COLUMNS)
    for report in reports:
        sheet.append((
            report.id, report.title, report.category, members.get(report.member_id, ""),
            groups.get(report.group_id, "") if report.group_id else "",
            texts(f"report.status.{report.status.value}"),
            texts(f"report.level.{report.adoption_level.value}") if report.status is ReportStatus.ADOPTED
            and report.adoption_level else "",
            ops.text_length(report.body), local(report.submitted_at), local(report.decided_at),
            report.review_comment,
            "\n".join(f"{i.leader}（{local(i.given_at)}）：{i.text}" for i in notes.get(report.id or 0, [])),
            report.similar_report_id or "",
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
