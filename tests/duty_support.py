"""Shared set-up for tests/test_duty_chat.py and tests/test_duty_review_chat.py.

The organisation is tests/activity_support.py's (``org``): 城关镇 has 王芳 (sim-wang), 周涛 (sim-zhou) and
its leader 陈组长 (sim-chen); 东山镇 has 李强 (sim-li) and 吴静 (no chat identity); 钱秘书 (sim-qian) may
verify every group, 孙秘书 (sim-sun) only 东山镇. The clock stands at 2026-11-21 09:00 in Shanghai; the
rules are the shipped county.yaml (speech 5, proposal 10, inspection 2 / absent −5, plenary 10 per
half-day / absent −10, pass mark 60).

Attendance goes through :mod:`bot.domain.activities` (sign in, close), claims through :mod:`bot.domain.duty`, as the
chat and the API do, so the ledger behind ``履职`` is built from real sources.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.domain import duty
from bot.domain.activities import close_attendance, sign_in
from bot.domain.duty_rules import load_rules
from bot.infra.db import Database
from models.activity import Activity, ActivityType, Audience, SignInMethod
from models.duty import DutyAdjustment, DutyAppeal, DutyClaim, DutyClaimPhoto
from models.member import Member
from tests.activity_support import make_activity

ZONE = ZoneInfo("Asia/Shanghai")
RULES = load_rules().for_year(2026)
NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


async def held(db: Database, starts: datetime, present: list[Member], *, type_: ActivityType = ActivityType.INSPECTION,
               title: str = "城关镇农贸市场调研", groups: list[int] | None = None) -> Activity:
    """An activity that took place: ``present`` signed in, then its attendance was closed (the rest of
    the audience is absent). ``groups``: its audience (default: everybody)."""
    activity = await make_activity(db, starts, type_=type_, title=title,
                                   audience=Audience.GROUPS if groups else Audience.ALL, audience_ids=groups or [],
                                   group_id=groups[0] if groups else None)
    async with db.session() as session:
        loaded = await session.get(Activity, activity.id)
        assert loaded is not None
        for member in present:
            await sign_in(session, member, loaded, method=SignInMethod.CODE, now=starts, code_checked=True)
        await close_attendance(session, loaded, now=starts + timedelta(hours=2))
    return loaded


async def claim(db: Database, member: Member, kind: str, day: date, description: str, *,
                verified_by: Member | None = None, now: datetime = NOW) -> DutyClaim:
    """A claim filed as 补录 files it; verified at once when ``verified_by`` is given."""
    async with db.session() as session:
        filed = await duty.submit_claim(session, member, RULES, kind=kind, day=day, description=description,
                                        zone=ZONE, now=now)
        if verified_by is not None:
            await duty.decide_claim(session, filed, verified=True, by=verified_by, now=now)
    return filed


async def claims_of(db: Database, member: Member) -> list[DutyClaim]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(DutyClaim).where(DutyClaim.member_id == member.id).order_by(DutyClaim.id))).all())


async def photos_of(db: Database, claim_id: int) -> list[DutyClaimPhoto]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(DutyClaimPhoto).where(DutyClaimPhoto.claim_id == claim_id).order_by(DutyClaimPhoto.id))).all())


async def appeals_of(db: Database, member: Member) -> list[DutyAppeal]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(DutyAppeal).where(DutyAppeal.member_id == member.id).order_by(DutyAppeal.id))).all())


async def adjustments_of(db: Database, member: Member) -> list[DutyAdjustment]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(DutyAdjustment).where(DutyAdjustment.member_id == member.id).order_by(DutyAdjustment.id))).all())


def utf8(text: str) -> int:
    return len(text.encode())
