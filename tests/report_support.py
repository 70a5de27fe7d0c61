"""Shared set-up for tests/test_reports_*.py: two liaison groups, members bound to simulator ids,
report texts (one, a near-copy of it, an unrelated one) and a way to file a submitted report directly."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.member import Identity, LiaisonGroup, Member, MemberStatus, Platform, Role
from models.report import Report, ReportEvent, ReportStatus

T = Catalogue()

MARKET_TITLE = "关于改善城关镇农贸市场排水的建议"
MARKET_BODY = (
    "城关镇农贸市场建于上世纪九十年代，排水管道老化，每逢下雨地面积水严重，商户和群众出行不便，"
    "也带来食品安全隐患。经走访了解，市场管理方多次反映但资金一直没有落实。"
    "建议镇政府牵头，将市场排水改造纳入明年城镇基础设施项目，同时明确管理方的日常维护责任。"
)
# The same report lightly reworded: a duplicate a reviewer wants to know about.
MARKET_NEAR_COPY = MARKET_BODY.replace("经走访了解", "据了解").replace("同时明确", "并明确")
SCHOOL_TITLE = "关于东山镇中心小学校车安全的建议"
SCHOOL_BODY = (
    "东山镇中心小学有三百多名学生住在山区村组，目前主要由家长骑摩托车接送，雨雪天气风险很大。"
    "部分家长自发拼车，车辆超载现象时有发生。建议教育部门和交通部门联合开通定制校车线路，"
    "财政给予适当补贴，并在沿线增设安全警示标志。"
)


@dataclass
class People:
    chengguan: int  # liaison group ids
    dongshan: int
    wang: Member  # a member in 城关镇, chatting as sim-wang
    li: Member  # a member in 东山镇, sim-li
    qian: Member  # a secretary for every group, sim-qian
    sun: Member  # a secretary limited to 东山镇, sim-sun
    zhao: Member  # suspended, sim-zhao


async def seed_people(db: Database) -> People:
    async with db.session() as session:
        chengguan, dongshan = LiaisonGroup(name="城关镇"), LiaisonGroup(name="东山镇")
        session.add_all([chengguan, dongshan])
        await session.flush()
        assert chengguan.id is not None and dongshan.id is not None
        wang = Member(name="王芳", mobile="13800000001", group_id=chengguan.id)
        li = Member(name="李强", mobile="13800000002", group_id=dongshan.id)
        qian = Member(name="钱秘书", mobile="13800000009", role=Role.SECRETARY)
        sun = Member(name="孙秘书", mobile="13800000008", role=Role.SECRETARY, scope_group_ids=[dongshan.id])
        zhao = Member(name="赵敏", mobile="13800000003", group_id=dongshan.id, status=MemberStatus.SUSPENDED)
        people = [(wang, "sim-wang"), (li, "sim-li"), (qian, "sim-qian"), (sun, "sim-sun"), (zhao, "sim-zhao")]
        session.add_all([member for member, _ in people])
        await session.flush()
        for member, user in people:
            assert member.id is not None
            session.add(Identity(member_id=member.id, platform=Platform.SIMULATOR, external_id=user))
    return People(chengguan.id, dongshan.id, wang, li, qian, sun, zhao)


async def file_report(db: Database, member: Member, title: str, body: str, *, year: int = 2026,
                      status: ReportStatus = ReportStatus.SUBMITTED, category: str = "社会民生") -> int:
    """A report as if submitted earlier (history row included)."""
    from bot.infra.clock import FrozenClock

    now = FrozenClock().now()
    async with db.session() as session:
        assert member.id is not None
        report = Report(member_id=member.id, group_id=member.group_id, title=title, category=category, body=body,
                        status=status, step="preview", year=year, created_at=now, updated_at=now,
                        submitted_at=None if status is ReportStatus.DRAFT else now)
        session.add(report)
        await session.flush()
        assert report.id is not None
        if status is not ReportStatus.DRAFT:
            session.add(ReportEvent(report_id=report.id, action="submit", from_status="draft",
                                    to_status="submitted", by_id=member.id, by_name=member.name, at=now))
        return report.id


async def load(db: Database, report_id: int) -> Report:
    async with db.reader() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        return report


async def events_of(db: Database, report_id: int) -> list[ReportEvent]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
        )).all())


async def only_report_of(db: Database, member: Member) -> Report:
    async with db.reader() as session:
        rows = (await session.scalars(select(Report).where(Report.member_id == member.id))).all()
    assert len(rows) == 1, rows
    return rows[0]
