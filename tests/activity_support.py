"""Shared set-up for tests/test_activities_*.py, test_signin*.py, test_leave*.py, test_attendance*.py.

The clock of the ``clock`` fixture starts at 2026-11-21 01:00 UTC (09:00 in Asia/Shanghai). ``seed_org``
makes two liaison groups, members bound to simulator ids, a group leader, an office secretary (every
group: approves plenary leave) and a secretary limited to 东山镇; ``make_activity`` stores an activity
through :func:`bot.domain.activities.create_activity`, as the API and the chat do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.domain.activities import ActivityDraft, create_activity
from bot.infra.config import ActivitySettings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.activity import Activity, ActivityType, Attendance, Audience, LeaveRequest
from models.member import Identity, LiaisonGroup, Member, MemberStatus, Platform, Role

T = Catalogue()
VENUE = (30.2741, 120.1551)  # the county hall's courtyard (latitude, longitude)


@dataclass
class Org:
    chengguan: int  # liaison group ids
    dongshan: int
    wang: Member  # 城关镇 member, sim-wang
    zhou: Member  # 城关镇 member, sim-zhou
    li: Member  # 东山镇 member, sim-li
    chen: Member  # 城关镇 group leader, sim-chen
    qian: Member  # office secretary (every group), sim-qian
    sun: Member  # secretary limited to 东山镇, sim-sun
    zhao: Member  # suspended 东山镇 member, sim-zhao
    nobody: Member  # on the roster, never bound to a chat identity


async def seed_org(db: Database) -> Org:
    async with db.session() as session:
        chengguan, dongshan = LiaisonGroup(name="城关镇"), LiaisonGroup(name="东山镇")
        session.add_all([chengguan, dongshan])
        await session.flush()
        assert chengguan.id is not None and dongshan.id is not None
        wang = Member(name="王芳", mobile="13800000001", group_id=chengguan.id)
        zhou = Member(name="周涛", mobile="13800000004", group_id=chengguan.id)
        li = Member(name="李强", mobile="13800000002", group_id=dongshan.id)
        chen = Member(name="陈组长", mobile="13800000005", group_id=chengguan.id, role=Role.GROUP_LEADER)
        qian = Member(name="钱秘书", mobile="13800000009", role=Role.SECRETARY)
        sun = Member(name="孙秘书", mobile="13800000008", role=Role.SECRETARY, scope_group_ids=[dongshan.id])
        zhao = Member(name="赵敏", mobile="13800000003", group_id=dongshan.id, status=MemberStatus.SUSPENDED)
        nobody = Member(name="吴静", mobile="13800000006", group_id=dongshan.id)
        bound = [(wang, "sim-wang"), (zhou, "sim-zhou"), (li, "sim-li"), (chen, "sim-chen"), (qian, "sim-qian"),
                 (sun, "sim-sun"), (zhao, "sim-zhao")]
        session.add_all([member for member, _ in bound] + [nobody])
        await session.flush()
        for member, user in bound:
            assert member.id is not None
            session.add(Identity(member_id=member.id, platform=Platform.SIMULATOR, external_id=user))
        chengguan.leader_id = chen.id
    return Org(chengguan.id, dongshan.id, wang, zhou, li, chen, qian, sun, zhao, nobody)


async def make_activity(
    db: Database,
    starts_at: datetime,
    *,
    type_: ActivityType = ActivityType.INSPECTION,
    title: str = "城关镇农贸市场调研",
    audience: Audience = Audience.ALL,
    audience_ids: list[int] | None = None,
    group_id: int | None = None,
    geofence: tuple[float, float, int] | None = None,
    require_location: bool = False,
    settings: ActivitySettings | None = None,
    now: datetime | None = None,
    **window: int,
) -> Activity:
    """An activity created by the admin API's rules (no acting member). ``window``: opens_minutes_before,
    closes_minutes_after, late_after_minutes."""
    latitude, longitude, radius = geofence or (None, None, None)
    draft = ActivityDraft(type=type_, title=title, starts_at=starts_at, venue="县政协三楼会议室",
                          latitude=latitude, longitude=longitude, radius_m=radius,
                          require_location=require_location, audience=audience,
                          audience_ids=audience_ids or [], group_id=group_id, **window)
    async with db.session() as session:
        activity = await create_activity(session, draft, settings=settings or ActivitySettings(), by=None,
                                         now=now or starts_at - timedelta(days=1))
    return activity


async def attendance_rows(db: Database, activity_id: int) -> dict[int, Attendance]:
    async with db.reader() as session:
        rows = (await session.scalars(select(Attendance).where(Attendance.activity_id == activity_id))).all()
    return {row.member_id: row for row in rows}


async def leave_requests(db: Database, member_id: int) -> list[LeaveRequest]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(LeaveRequest).where(LeaveRequest.member_id == member_id).order_by(LeaveRequest.id)
        )).all())


async def reload(db: Database, activity_id: int) -> Activity:
    async with db.reader() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        return activity
