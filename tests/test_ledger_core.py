"""The ledger's core on both databases: entries from every source, caps, penalties, base, grades, ranks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.activities import close_attendance, sign_in
from bot.db import Database
from bot.duty_rules import load_rules
from bot.ledger import five_one, refresh, scores
from models.activity import Activity, ActivityType, SignInMethod
from models.duty import DutyEntry
from tests.activity_support import Org, make_activity

ZONE = ZoneInfo("Asia/Shanghai")
RULES = load_rules().for_year(2026)
NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


async def test_attendance_gives_points_and_absence_takes_them(db: Database, org: Org) -> None:
    starts = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    plenary = await make_activity(db, starts, type_=ActivityType.PLENARY, title="六届五次全会")
    async with db.session() as session:
        plenary = await session.get(Activity, plenary.id)
        await sign_in(session, org.wang, plenary, method=SignInMethod.CODE, now=starts, code_checked=True)
        await close_attendance(session, plenary, now=starts + timedelta(hours=2))
        result = await refresh(session, RULES, 2026, ZONE, now=NOW)
    assert result.full and result.entries >= 4
    async with db.reader() as session:
        entries = {(e.member_id, e.kind): e for e in (await session.scalars(select(DutyEntry))).all()}
        found = {s.member_id: s for s in await scores(session, RULES, 2026)}
        progress = await five_one(session, RULES, 2026, members=[org.wang.id])
    assert entries[(org.wang.id, "plenary")].tenths == 100 * 1  # 2 h: one half-day
    assert entries[(org.li.id, "plenary_absent")].tenths == -100
    assert found[org.wang.id].total == 10 and found[org.li.id].total == -10
    assert found[org.wang.id].group_rank == 1
    assert progress[org.wang.id][0].name == "一件提案"
