"""A small year of attendance for tests/test_activities_api.py and tests/test_attendance_export.py.

On top of :func:`tests.activity_support.seed_org` (王芳, 周涛, 陈组长 in 城关镇; 李强, 吴静 in 东山镇; the
secretaries 钱秘书 and 孙秘书 without a group; 赵敏 suspended), with 王芳 in the sector 经济界:

    study      2026-01-01 01:00 (+08:00; still 2025 in UTC)  members 王芳, 李强    王芳 present, 李强 absent
    plenary    2026-03-01 09:00  everybody active           王芳 钱秘书 孙秘书 present, 周涛 late,
                                                            李强 leave (approved), 陈组长 吴静 absent
    inspection 2026-06-10 09:00  城关镇, organised by it     王芳 陈组长 present, 周涛 absent
    briefing   2025-12-31 23:00  everybody                  nobody signed in: counts in 2025 only
    consultation 2026-09-01, cancelled; and the activity of tomorrow (still scheduled): not counted in 2026

Sign-ins and the close go through :mod:`bot.domain.activities` with explicit times, as the chat and the
scheduler would; nothing here depends on the ``clock`` fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.activities import cancel_activity, close_attendance, decide_leave, request_leave, sign_in
from bot.infra.db import Database
from models.activity import Activity, ActivityType, Audience, LeaveKind, SignInMethod
from models.member import Member, Sector
from tests.activity_support import Org, T, make_activity

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


@dataclass
class Year:
    study: int
    plenary: int
    inspection: int
    briefing: int
    cancelled: int
    tomorrow: int
    sector: int
    leave: int  # 李强's approved leave for the plenary


async def _sign(db: Database, activity_id: int, member: Member, at: datetime) -> None:
    async with db.session() as session:
        activity = await session.get(Activity, activity_id)
        fresh = await session.get(Member, member.id)
        assert activity is not None and fresh is not None
        result = await sign_in(session, fresh, activity, method=SignInMethod.CODE, now=at, code_checked=True)
        assert result.recorded, result.outcome


async def _close(db: Database, activity_id: int, at: datetime) -> None:
    async with db.session() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None and await close_attendance(session, activity, now=at)


async def build_year(db: Database, org: Org) -> Year:
    async with db.session() as session:
        sector = Sector(name="经济界")
        session.add(sector)
        await session.flush()
        wang = await session.get(Member, org.wang.id)
        assert wang is not None and sector.id is not None
        wang.sector_id = sector.id
    org.wang.sector_id = sector.id

    study = await make_activity(db, local(2026, 1, 1, 1, 0), type_=ActivityType.STUDY, title="理论学习",
                                audience=Audience.MEMBERS, audience_ids=[org.wang.id or 0, org.li.id or 0])
    await _sign(db, study.id or 0, org.wang, local(2026, 1, 1, 0, 50))
    await _close(db, study.id or 0, local(2026, 1, 1, 2, 0))

    plenary = await make_activity(db, local(2026, 3, 1, 9, 0), type_=ActivityType.PLENARY, title="第六届二次全会")
    async with db.session() as session:
        activity = await session.get(Activity, plenary.id)
        li = await session.get(Member, org.li.id)
        assert activity is not None and li is not None
        leave = await request_leave(session, li, activity, kind=LeaveKind.SICK, reason="住院治疗",
                                    now=local(2026, 2, 27, 10, 0), texts=T)
        await decide_leave(session, leave, approve=True, by=None, now=local(2026, 2, 27, 11, 0), texts=T)
        leave_id = leave.id or 0
    for member, minute in ((org.wang, 50), (org.qian, 55), (org.sun, 58)):
        await _sign(db, plenary.id or 0, member, local(2026, 3, 1, 8, minute))
    await _sign(db, plenary.id or 0, org.zhou, local(2026, 3, 1, 9, 20))
    await _close(db, plenary.id or 0, local(2026, 3, 1, 10, 0))

    inspection = await make_activity(db, local(2026, 6, 10, 9, 0), title="城关镇农贸市场调研",
                                     audience=Audience.GROUPS, audience_ids=[org.chengguan], group_id=org.chengguan)
    for member in (org.wang, org.chen):
        await _sign(db, inspection.id or 0, member, local(2026, 6, 10, 8, 45))
    await _close(db, inspection.id or 0, local(2026, 6, 10, 10, 0))

    briefing = await make_activity(db, local(2025, 12, 31, 23, 0), type_=ActivityType.BRIEFING, title="年终政情通报")
    await _close(db, briefing.id or 0, local(2026, 1, 1, 0, 0))

    cancelled = await make_activity(db, local(2026, 9, 1, 9, 0), type_=ActivityType.CONSULTATION, title="专题协商")
    await _sign(db, cancelled.id or 0, org.wang, local(2026, 9, 1, 8, 30))
    async with db.session() as session:
        activity = await session.get(Activity, cancelled.id)
        assert activity is not None
        await cancel_activity(session, activity, now=local(2026, 9, 1, 8, 40))

    tomorrow = await make_activity(db, local(2026, 11, 22, 9, 0), title="明天的视察")
    await _sign(db, tomorrow.id or 0, org.wang, local(2026, 11, 22, 8, 30))
    return Year(study.id or 0, plenary.id or 0, inspection.id or 0, briefing.id or 0, cancelled.id or 0,
                tomorrow.id or 0, sector.id, leave_id)

