"""A small duty year for tests/test_duty_export.py and tests/test_duty_api.py, made through the real core
functions (bot.domain.activities, bot.domain.reports, bot.domain.study, bot.domain.duty) on top of
:func:`tests.activity_support.seed_org`.

People (county.yaml rules, 2026): 城关镇 王芳 (经济界, term 第六届), 周涛 (教育界), 郑红 (教育界, added
here), 陈组长 (group leader); 东山镇 李强 (经济界), 吴静; 赵敏 suspended and the two secretaries are not
assessed.

    2026-03-01 plenary, 5 half-days (10 a half-day, leave 6, absent −10; plenary cap 50, penalties floor −30)
        王芳 present 50 · 周涛 郑红 late 50 · 李强 approved leave 30 · 陈组长 吴静 absent −50 → −30
    2026-06-10 inspection of 城关镇 (2, absent −5): 王芳 陈组长 present, 周涛 郑红 absent −5
    reports (10, adopted +5, instruction +5; cap 15): 王芳 adopted (county) with an instruction 20 → 15;
        周涛 郑红 not adopted 10; 李强 submitted, undecided: 10 pending
    study: 王芳 read one material (0 points, cap 0)
    claims: 王芳 speech 5 + good deed 5 verified (activities 2 + 10 = 12 → cap 10); 陈组长 proposal 10 +
        proposal_filed 15 verified (proposals 25 = cap); 李强 proposal rejected; 周涛 proposal pending (10)
    adjustment: 李强 +3
    2025: plenary 2025-03-01 (5 half-days): 王芳 present, everyone else absent; 王芳 proposal verified 10

    totals 2026: 王芳 75 (称职) · 周涛 55 · 郑红 55 (tied) · 陈组长 −3 · 李强 33 · 吴静 −30
    group ranks: 城关镇 王芳 1, 周涛 2, 郑红 2, 陈组长 4; 东山镇 李强 1, 吴静 2
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.activities import close_attendance, decide_leave, request_leave, sign_in
from bot.domain.duty import adjust, decide_claim, submit_claim
from bot.domain.duty_rules import load_rules
from bot.domain.reports import record_instruction, transition
from bot.domain.study import add_material, mark_read
from bot.infra.db import Database
from models.activity import Activity, ActivityType, Audience, LeaveKind, SignInMethod
from models.member import Member, Sector
from models.notice import ReadVia
from models.report import AdoptionLevel, Report, ReportStatus
from tests.activity_support import Org, T, make_activity

ZONE = ZoneInfo("Asia/Shanghai")
RULES = load_rules()  # the shipped county.yaml
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=ZONE)  # the clock fixture's time
BODY = ("城关镇农贸市场建于上世纪九十年代，排水管道老化，每逢下雨地面积水严重，商户和群众出行不便。"
        "建议镇政府牵头，将市场排水改造纳入明年城镇基础设施项目，同时明确管理方的日常维护责任。")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE)  # type: ignore[misc]


@dataclass
class Ledger:
    org: Org
    zheng: Member  # 郑红, 城关镇
    economy: int  # sector ids
    education: int
    plenary: int  # activity ids
    inspection: int
    plenary_2025: int
    report_wang: int  # adopted, with an instruction
    report_li: int  # submitted, undecided
    claim_speech: int  # 王芳, verified
    claim_rejected: int  # 李强
    claim_pending: int  # 周涛
    claim_2025: int  # 王芳's 2025 proposal, verified
    adjustment: int  # 李强 +3


async def _sign(db: Database, activity_id: int, member: Member, at: datetime) -> None:
    async with db.session() as session:
        activity, fresh = await session.get(Activity, activity_id), await session.get(Member, member.id)
        assert activity is not None and fresh is not None
        result = await sign_in(session, fresh, activity, method=SignInMethod.CODE, now=at, code_checked=True)
        assert result.recorded, result.outcome


async def _close(db: Database, activity_id: int, at: datetime) -> None:
    async with db.session() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None and await close_attendance(session, activity, now=at)


async def _report(db: Database, member: Member, title: str, actions: list[str], at: datetime) -> int:
    """A report written by ``member`` and moved through ``actions`` by the office (the admin API's way)."""
    async with db.session() as session:
        report = Report(member_id=member.id or 0, title=title, category="社会民生", body=BODY,
                        status=ReportStatus.DRAFT, year=at.year, created_at=at, updated_at=at)
        session.add(report)
        await session.flush()
        report_id = report.id or 0
        for step, action in enumerate(actions):
            await transition(session, report_id, action, by=None, now=at + timedelta(days=step), texts=T, zone=ZONE,
                             level=AdoptionLevel.COUNTY if action == "adopt" else None)
    return report_id


async def _claim(db: Database, member: Member, kind: str, day: date, *, verified: bool | None,
                 note: str = "") -> int:
    async with db.session() as session:
        fresh = await session.get(Member, member.id)
        assert fresh is not None
        claim = await submit_claim(session, fresh, RULES.for_year(day.year), kind=kind, day=day,
                                   description=f"{fresh.name}的{kind}（{day.isoformat()}）", zone=ZONE,
                                   now=NOW - timedelta(days=10))
        if verified is not None:
            await decide_claim(session, claim, verified=verified, note=note, by=None, now=NOW - timedelta(days=5))
        return claim.id or 0


async def build_ledger(db: Database, org: Org) -> Ledger:
    async with db.session() as session:
        economy, education = Sector(name="经济界"), Sector(name="教育界")
        session.add_all([economy, education])
        await session.flush()
        zheng = Member(name="郑红", mobile="13800000010", group_id=org.chengguan, sector_id=education.id,
                       work_unit="县第一中学 教师")
        session.add(zheng)
        for member_id, sector in ((org.wang.id, economy), (org.li.id, economy), (org.zhou.id, education)):
            member = await session.get(Member, member_id)
            assert member is not None
            member.sector_id = sector.id
        wang = await session.get(Member, org.wang.id)
        assert wang is not None
        wang.term, wang.gender, wang.work_unit = "第六届", "女", "城关镇农业合作社 理事长"
        await session.flush()
        economy_id, education_id = economy.id or 0, education.id or 0
    org.wang.sector_id = org.li.sector_id = economy_id
    org.zhou.sector_id = education_id

    # 2025: a plenary only 王芳 attended
    plenary_2025 = await make_activity(db, local(2025, 3, 1, 9, 0), type_=ActivityType.PLENARY, title="六届三次全会",
                                       half_days=5)
    await _sign(db, plenary_2025.id or 0, org.wang, local(2025, 3, 1, 8, 50))
    await _close(db, plenary_2025.id or 0, local(2025, 3, 1, 10, 0))

    plenary = await make_activity(db, local(2026, 3, 1, 9, 0), type_=ActivityType.PLENARY, title="六届五次全会",
                                  half_days=5)
    async with db.session() as session:
        activity, li = await session.get(Activity, plenary.id), await session.get(Member, org.li.id)
        assert activity is not None and li is not None
        leave = await request_leave(session, li, activity, kind=LeaveKind.SICK, reason="住院治疗",
                                    now=local(2026, 2, 27, 10, 0), texts=T)
        await decide_leave(session, leave, approve=True, by=None, now=local(2026, 2, 27, 11, 0), texts=T)
    await _sign(db, plenary.id or 0, org.wang, local(2026, 3, 1, 8, 50))
    await _sign(db, plenary.id or 0, org.zhou, local(2026, 3, 1, 9, 20))
    await _sign(db, plenary.id or 0, zheng, local(2026, 3, 1, 9, 25))
    await _close(db, plenary.id or 0, local(2026, 3, 1, 10, 0))

    inspection = await make_activity(db, local(2026, 6, 10, 9, 0), title="城关镇农贸市场调研",
                                     audience=Audience.GROUPS, audience_ids=[org.chengguan], group_id=org.chengguan)
    for member in (org.wang, org.chen):
        await _sign(db, inspection.id or 0, member, local(2026, 6, 10, 8, 45))
    await _close(db, inspection.id or 0, local(2026, 6, 10, 10, 0))

    report_wang = await _report(db, org.wang, "关于改善城关镇农贸市场排水的建议", ["submit", "accept", "adopt"],
                                local(2026, 4, 1, 10, 0))
    async with db.session() as session:
        await record_instruction(session, report_wang, text="请住建局抓紧研究落实。", leader="县委书记 张某",
                                 given_at=local(2026, 5, 1, 9, 0), by=None, now=local(2026, 5, 2, 9, 0), texts=T)
    await _report(db, org.zhou, "关于东山镇中心小学校车安全的建议", ["submit", "accept", "not_adopt"],
                  local(2026, 4, 2, 10, 0))
    await _report(db, zheng, "关于增设城关镇公共自行车站点的建议", ["submit", "accept", "not_adopt"],
                  local(2026, 4, 3, 10, 0))
    report_li = await _report(db, org.li, "关于东山镇山区道路安全的建议", ["submit"], local(2026, 9, 1, 10, 0))

    async with db.session() as session:
        material = await add_material(session, title="学习全国政协全会精神", body="全文……", by=None,
                                      now=local(2026, 3, 15, 9, 0))
        await mark_read(session, material.id or 0, org.wang.id or 0, ReadVia.CHAT, local(2026, 3, 16, 20, 0))

    claim_speech = await _claim(db, org.wang, "speech", date(2026, 5, 20), verified=True)
    await _claim(db, org.wang, "good_deed", date(2026, 7, 1), verified=True)
    await _claim(db, org.chen, "proposal", date(2026, 3, 4), verified=True)
    await _claim(db, org.chen, "proposal_filed", date(2026, 3, 5), verified=True)
    claim_rejected = await _claim(db, org.li, "proposal", date(2026, 4, 1), verified=False, note="未见提案立案通知书")
    claim_pending = await _claim(db, org.zhou, "proposal", date(2026, 8, 1), verified=None)
    claim_2025 = await _claim(db, org.wang, "proposal", date(2025, 3, 10), verified=True)

    async with db.session() as session:
        li = await session.get(Member, org.li.id)
        assert li is not None
        adjustment = await adjust(session, li, 2026, points=3, reason="获市政协优秀委员表彰", by=None,
                                  now=NOW - timedelta(days=3))
    return Ledger(org=org, zheng=zheng, economy=economy_id, education=education_id, plenary=plenary.id or 0,
                  inspection=inspection.id or 0, plenary_2025=plenary_2025.id or 0, report_wang=report_wang,
                  report_li=report_li, claim_speech=claim_speech, claim_rejected=claim_rejected,
                  claim_pending=claim_pending, claim_2025=claim_2025, adjustment=adjustment.id or 0)
