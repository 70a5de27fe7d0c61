"""The ledger's core on both databases: entries from every source built through the real workflows
(sign-in and close, leave, corrections, reports, instructions, study reads, 补录, appeals, adjustments),
points under small rules written for each test, caps, penalties, base, grades, ranks, "five one", group
assessment, and a rebuild that is deterministic, exact when scoped, and follows a change of rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain import reports as report_ops
from bot.domain.activities import (
    ActivityDraft,
    close_attendance,
    correct_attendance,
    create_activity,
    decide_leave,
    request_leave,
    sign_in,
)
from bot.domain.duty import (
    adjust,
    decide_appeal,
    decide_claim,
    open_appeal,
    submit_claim,
    withdraw_appeal,
    withdraw_claim,
)
from bot.domain.duty_rules import EXAMPLES_DIR, YearRules, load_rules
from bot.domain.ledger import (
    ENTRY_COLUMNS,
    Score,
    entries_of,
    five_one,
    group_assessment,
    group_names,
    group_of,
    member_year,
    missing_targets,
    refresh,
    scores,
    sector_names,
    standings,
)
from bot.domain.refusals import Refusal
from bot.domain.study import add_material, mark_read
from bot.infra.config import ActivitySettings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.activity import Activity, ActivityType, AttendanceStatus, Audience, LeaveKind, LeaveRequest, SignInMethod
from models.duty import AppealStatus, ClaimStatus, DutyAdjustment, DutyClaim, DutyEntry, DutyYear, EntrySource
from models.member import Member, Sector
from models.notice import ReadVia
from models.report import AdoptionLevel, ReportStatus
from tests.activity_support import Org
from tests.report_support import MARKET_BODY, SCHOOL_BODY, file_report

ZONE = ZoneInfo("Asia/Shanghai")
T = Catalogue()
NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, the clock fixture's moment
MARCH = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 local

# Small numbers that tell the sources apart: every assertion below is worked out from them.
RULES_2026 = """
    base: 50
    bonus_cap: 40
    pass_mark: 60
    grades:
      - {name: 优秀, min: 90}
      - {name: 良好, min: 80}
      - {name: 称职, min: 60}
      - {name: 不称职}
    categories:
      meetings:  {label: 会议活动, cap: 12}
      reports:   {label: 社情民意, cap: 30}
      study:     {label: 学习, cap: 1}
      proposals: {label: 提案}
      penalties: {label: 扣分, penalty: true, floor: -7}
    penalty_category: penalties
    duties:
      plenary:    {label: 全会, category: meetings, points: 4, late: 3, leave: 1, absent: -3, per_half_day: true}
      inspection: {label: 视察, category: meetings, points: 2, late: 1.5, leave: -0.5, absent: -2}
      report_submitted: {label: 报送, category: reports, points: 2}
      report_adopted: {label: 采用, category: reports, by_level: {county: 1, city: 5, provincial: 10, national: 20}}
      instruction: {label: 批示, category: reports, points: 10}
      study_read: {label: 学习, category: study, points: 0.5}
      proposal:   {label: 提案, category: proposals, points: 15, self_reported: true}
      speech:     {label: 发言, category: proposals, points: 5, self_reported: true}
    five_one:
      - {name: 一件提案, kinds: [proposal]}
      - {name: 一篇社情民意, kinds: [report_submitted]}
      - {name: 两次视察, kinds: [inspection], need: 2}
    groups: {activity_held: 5, report_submitted: 2, report_adopted: 3, attendance: 40}
"""


def write_rules(tmp_path: Path, years: dict[int, str], name: str = "rules.yaml") -> Path:
    """A rules file of the given years (each a YAML block like RULES_2026)."""
    lines = ["name: 测试办法", "terms: {第一届: [2025, 2027]}", "years:"]
    for year, block in years.items():
        lines.append(f"  {year}:")
        lines.extend(block.strip("\n").splitlines())  # its lines are indented by four: under the year
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def custom_rules(tmp_path: Path, old: str, new: str) -> YearRules:
    """RULES_2026 with one piece of text replaced."""
    assert old in RULES_2026
    return load_rules(write_rules(tmp_path, {2026: RULES_2026.replace(old, new)}, name="custom.yaml")).for_year(2026)


@pytest.fixture
def rules(tmp_path: Path) -> YearRules:
    return load_rules(write_rules(tmp_path, {2026: RULES_2026})).for_year(2026)


# --- building the sources through the real workflows ---------------------------------------------------------


async def new_activity(
    db: Database, starts: datetime, type_: ActivityType = ActivityType.INSPECTION, *, title: str = "农贸市场调研",
    hours: float = 2, half_days: int | None = None, group_id: int | None = None,
    audience: Audience = Audience.ALL, audience_ids: Sequence[int] = (),
) -> int:
    draft = ActivityDraft(type=type_, title=title, starts_at=starts, ends_at=starts + timedelta(hours=hours),
                          venue="县政协三楼会议室", half_days=half_days, group_id=group_id, audience=audience,
                          audience_ids=list(audience_ids))
    async with db.session() as session:
        activity = await create_activity(session, draft, settings=ActivitySettings(), by=None,
                                         now=starts - timedelta(days=3))
    assert activity.id is not None
    return activity.id


async def attend(
    db: Database, activity_id: int, *, present: Iterable[Member] = (), late: Iterable[Member] = (),
    leave: Iterable[Member] = (), close: bool = True,
) -> None:
    """Sign members in (on time or 30 minutes late), approve leave, and close the window."""
    async with db.session() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        for member in leave:
            request = await request_leave(session, member, activity, kind=LeaveKind.OFFICIAL, reason="外出参加培训",
                                          now=activity.starts_at - timedelta(days=1), texts=T)
            await decide_leave(session, request, approve=True, by=None, now=activity.starts_at - timedelta(hours=20),
                               texts=T)
        for members, moment in ((present, activity.starts_at), (late, activity.starts_at + timedelta(minutes=30))):
            for member in members:
                result = await sign_in(session, member, activity, method=SignInMethod.CODE, now=moment,
                                       code_checked=True)
                assert result.recorded, result.outcome
        if close:
            assert await close_attendance(session, activity, now=activity.signin_closes_at)


async def rebuild(db: Database, rules: YearRules, year: int = 2026, members: Any = None) -> Any:
    async with db.session() as session:
        return await refresh(session, rules, year, ZONE, now=NOW, members=members)


async def ledger(db: Database, year: int | None = None) -> set[tuple[Any, ...]]:
    """Every entry as its columns (ids left out: a rebuild renumbers them)."""
    async with db.reader() as session:
        query = select(DutyEntry)
        if year is not None:
            query = query.where(DutyEntry.year == year)
        rows = (await session.scalars(query)).all()
    return {tuple(getattr(row, column) for column in ENTRY_COLUMNS) for row in rows}


async def entries(db: Database, year: int = 2026) -> dict[tuple[int, str], list[DutyEntry]]:
    """Entries by (member, kind)."""
    found: dict[tuple[int, str], list[DutyEntry]] = {}
    async with db.reader() as session:
        for row in (await session.scalars(select(DutyEntry).where(DutyEntry.year == year)
                                           .order_by(DutyEntry.source_id))).all():
            found.setdefault((row.member_id, row.kind), []).append(row)
    return found


def summary(found: dict[tuple[int, str], list[DutyEntry]], member: Member) -> dict[str, list[tuple[str, int, str]]]:
    """A member's entries as {kind: [(category, tenths, status)]}."""
    return {kind: [(e.category, e.tenths, e.status) for e in rows]
            for (member_id, kind), rows in found.items() if member_id == member.id}


async def score_map(db: Database, rules: YearRules, members: Any = None, year: int = 2026) -> dict[int, Score]:
    async with db.reader() as session:
        return {s.member_id: s for s in await scores(session, rules, year, members=members, with_categories=True)}


async def claim(db: Database, member: Member, rules: YearRules, kind: str, day: date, *,
                verified: bool | None = True, by: Member | None = None) -> int:
    async with db.session() as session:
        stored = await submit_claim(session, member, rules, kind=kind, day=day,
                                    description=f"{kind}：关于养老服务的提案", zone=ZONE, now=NOW)
        if verified is not None:
            await decide_claim(session, stored, verified=verified, note="" if verified else "材料不全，请补充",
                               by=by, now=NOW)
    assert stored.id is not None
    return stored.id


async def give(db: Database, member: Member, points: float, reason: str = "年度考核调整", year: int = 2026) -> None:
    async with db.session() as session:
        await adjust(session, member, year, points=points, reason=reason, by=None, now=NOW)


async def report_action(db: Database, report_id: int, action: str, by: Member | None = None, **extra: Any) -> None:
    async with db.session() as session:
        await report_ops.transition(session, report_id, action, by=by, now=NOW, texts=T, **extra)


async def adopted_report(db: Database, member: Member, level: AdoptionLevel, title: str = "关于农贸市场排水的建议",
                         year: int = 2026) -> int:
    report_id = await file_report(db, member, title, MARKET_BODY, year=year)
    await report_action(db, report_id, "accept")
    await report_action(db, report_id, "adopt", level=level)
    return report_id


def assessed(org: Org) -> list[Member]:
    return [org.wang, org.zhou, org.chen, org.li, org.nobody]


# --- activities: points per type and outcome, half-days --------------------------------------------------------


async def test_attendance_points_by_type_and_outcome(db: Database, org: Org, rules: YearRules) -> None:
    plenary = await new_activity(db, MARCH, ActivityType.PLENARY, title="六届五次全会", hours=9)
    inspection = await new_activity(db, MARCH + timedelta(days=7))
    standing = await new_activity(db, MARCH + timedelta(days=14), ActivityType.STANDING, title="常委会")
    for activity_id in (plenary, inspection, standing):
        await attend(db, activity_id, present=[org.wang], late=[org.zhou], leave=[org.li])
    async with db.reader() as session:
        stored = await session.get(Activity, plenary)
        assert stored is not None and stored.half_days == 2  # a 9-hour day: a morning and an afternoon
    result = await rebuild(db, rules)
    assert result.full and result.year == 2026

    found = await entries(db)
    confirmed = "confirmed"
    assert summary(found, org.wang) == {"plenary": [("meetings", 80, confirmed)],  # 4 × 2 half-days
                                        "inspection": [("meetings", 20, confirmed)]}
    assert summary(found, org.zhou) == {"plenary": [("meetings", 60, confirmed)],  # late: 3 × 2
                                        "inspection": [("meetings", 15, confirmed)]}
    assert summary(found, org.li) == {"plenary_leave": [("meetings", 20, confirmed)],  # leave: 1 × 2
                                      # leave that takes points away counts as a penalty, outside the caps
                                      "inspection_leave": [("penalties", -5, confirmed)]}
    assert summary(found, org.chen) == {"plenary_absent": [("penalties", -60, confirmed)],
                                        "inspection_absent": [("penalties", -20, confirmed)]}
    assert not any(kind.startswith("standing") for _, kind in found)  # a type the rules leave out
    assert (org.zhao.id, "plenary_absent") not in found  # suspended: not expected, not recorded
    titles = {e.title for rows in found.values() for e in rows}
    assert titles == {"六届五次全会", "农贸市场调研"}
    assert {e.occurred_at for e in found[(org.wang.id or 0, "plenary")]} == {MARCH}

    found_scores = await score_map(db, rules)
    assert set(found_scores) == {m.id for m in assessed(org)}  # secretaries have entries but no score
    totals = {member.name: found_scores[member.id or 0].total for member in assessed(org)}
    assert totals == {"王芳": 60, "周涛": 57.5, "李强": 51.5, "陈组长": 43, "吴静": 43}  # −8 floored at −7
    assert found_scores[org.chen.id or 0].raw == {"penalties": -80}
    assert found_scores[org.chen.id or 0].by_category == {"penalties": -70}


@pytest.mark.parametrize(("hours", "half_days", "tenths"), [(2, None, 40), (4.5, None, 40), (9, None, 80),
                                                            (9, 1, 40), (60, 5, 200)])
async def test_per_half_day_follows_the_activity(db: Database, org: Org, rules: YearRules, hours: float,
                                                 half_days: int | None, tenths: int) -> None:
    plenary = await new_activity(db, MARCH, ActivityType.PLENARY, hours=hours, half_days=half_days)
    await attend(db, plenary, present=[org.wang])
    await rebuild(db, rules)
    assert summary(await entries(db), org.wang)["plenary"] == [("meetings", tenths, "confirmed")]


async def test_a_sign_in_is_pending_until_the_close_and_corrections_follow(
    db: Database, org: Org, rules: YearRules
) -> None:
    plenary = await new_activity(db, MARCH, ActivityType.PLENARY, hours=9)
    async with db.session() as session:
        activity = await session.get(Activity, plenary)
        assert activity is not None
        await request_leave(session, org.li, activity, kind=LeaveKind.SICK, reason="住院治疗",
                            now=MARCH - timedelta(days=1), texts=T)
    await attend(db, plenary, present=[org.wang], close=False)
    await rebuild(db, rules)
    assert summary(await entries(db), org.wang) == {"plenary": [("meetings", 80, "pending")]}
    assert summary(await entries(db), org.chen) == {}  # nobody is absent before the close
    before = await score_map(db, rules)
    assert (before[org.wang.id or 0].total, before[org.wang.id or 0].pending) == (50, 8)  # pending is not counted

    async with db.session() as session:
        activity = await session.get(Activity, plenary)
        assert activity is not None
        await close_attendance(session, activity, now=activity.signin_closes_at)
    await rebuild(db, rules)
    found = await entries(db)
    assert summary(found, org.wang) == {"plenary": [("meetings", 80, "confirmed")]}
    assert summary(found, org.li) == {"plenary_absent": [("penalties", -60, "confirmed")]}  # leave not yet approved
    after = await score_map(db, rules)
    assert (after[org.wang.id or 0].total, after[org.wang.id or 0].pending) == (58, 0)

    # The chair's correction (he was there; the sign-in failed) and the leave approved after the close.
    async with db.session() as session:
        activity = await session.get(Activity, plenary)
        assert activity is not None
        await correct_attendance(session, activity, org.chen, status=AttendanceStatus.PRESENT, reason="现场签到表为证",
                                 by=org.qian, now=NOW)
        leave = (await session.scalars(select(LeaveRequest).where(LeaveRequest.member_id == org.li.id))).one()
        await decide_leave(session, leave, approve=True, by=org.qian, now=NOW, texts=T)
    stale = summary(await entries(db), org.chen)
    assert stale == {"plenary_absent": [("penalties", -60, "confirmed")]}  # until the ledger is refreshed
    async with db.reader() as session:
        chen = await session.get(Member, org.chen.id)
        assert chen is not None
    scoped = await rebuild(db, rules, members=group_of(chen))
    assert not scoped.full
    found = await entries(db)
    assert summary(found, org.chen) == {"plenary": [("meetings", 80, "confirmed")]}
    assert summary(found, org.li) == {"plenary_absent": [("penalties", -60, "confirmed")]}  # another group: later
    await rebuild(db, rules)
    assert summary(await entries(db), org.li) == {"plenary_leave": [("meetings", 20, "confirmed")]}


async def test_activities_of_another_year_and_cancelled_ones_give_nothing(db: Database, org: Org,
                                                                          rules: YearRules) -> None:
    new_year_eve = datetime(2025, 12, 31, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: still 2025 there
    new_year = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January 2026 in Shanghai
    old = await new_activity(db, new_year_eve, hours=1)
    new = await new_activity(db, new_year, hours=1)
    cancelled = await new_activity(db, MARCH)
    await attend(db, old, present=[org.wang])
    await attend(db, new, present=[org.wang])
    async with db.session() as session:
        from bot.domain.activities import cancel_activity

        activity = await session.get(Activity, cancelled)
        assert activity is not None
        await sign_in(session, org.wang, activity, method=SignInMethod.CODE, now=MARCH, code_checked=True)
        await cancel_activity(session, activity, now=MARCH + timedelta(minutes=5))
    await rebuild(db, rules)
    await rebuild(db, rules, year=2025)
    this_year, last_year = await entries(db), await entries(db, 2025)
    assert [e.source_id for e in this_year[(org.wang.id or 0, "inspection")]] != []
    assert len(this_year[(org.wang.id or 0, "inspection")]) == 1
    assert len(last_year[(org.wang.id or 0, "inspection")]) == 1
    assert this_year[(org.wang.id or 0, "inspection")][0].occurred_at == new_year


# --- caps, floor, base, bonus cap, adjustments, grades -----------------------------------------------------------


async def test_caps_floor_base_bonus_cap_and_uncapped_adjustments(db: Database, org: Org, rules: YearRules) -> None:
    plenary = await new_activity(db, MARCH, ActivityType.PLENARY, hours=9)
    await attend(db, plenary, present=[org.wang])
    for week in (1, 2, 3):
        await attend(db, await new_activity(db, MARCH + timedelta(days=7 * week)), present=[org.wang])
    async with db.session() as session:
        for number, read_at in enumerate([MARCH, MARCH + timedelta(days=1),
                                          datetime(2025, 12, 31, 17, 0, tzinfo=UTC),  # 01:00 on 1 Jan, local
                                          datetime(2025, 12, 31, 15, 30, tzinfo=UTC)]):  # 23:30 on 31 Dec
            material = await add_material(session, title=f"学习材料{number}", url=f"https://example.org/{number}",
                                          by=None, now=read_at - timedelta(days=1))
            assert await mark_read(session, material.id or 0, org.wang.id or 0, ReadVia.LINK, read_at)
    await rebuild(db, rules)
    wang = (await score_map(db, rules))[org.wang.id or 0]
    assert wang.raw == {"meetings": 140, "study": 15}  # 8 + 3 × 2; three reads of 2026 × 0.5
    assert wang.by_category == {"meetings": 120, "study": 10}  # the category caps
    assert wang.total == 50 + 12 + 1
    chen = (await score_map(db, rules))[org.chen.id or 0]
    assert (chen.raw, chen.by_category, chen.total) == ({"penalties": -120}, {"penalties": -70}, 43)

    for day in (5, 6, 7):
        await claim(db, org.wang, rules, "proposal", date(2026, 5, day))
    await rebuild(db, rules)
    wang = (await score_map(db, rules))[org.wang.id or 0]
    assert wang.by_category["proposals"] == 450 and wang.total == 90  # 50 + min(12 + 1 + 45, 40)
    await give(db, org.wang, 15, "全国政协采用其提案")
    await give(db, org.wang, -3.5, "迟交材料")
    await rebuild(db, rules)
    wang = (await score_map(db, rules))[org.wang.id or 0]
    assert wang.by_category["adjustment"] == 115 and wang.total == 101.5  # beyond the bonus cap: uncapped
    assert (wang.grade, wang.passed) == ("优秀", True)


async def test_grades_and_pass_mark_at_the_boundaries(db: Database, org: Org, rules: YearRules) -> None:
    for member, points in ((org.wang, 40), (org.zhou, 39.9), (org.chen, 10), (org.li, 9.9)):
        await give(db, member, points)
    await rebuild(db, rules)
    found = await score_map(db, rules)
    graded = {member.name: (found[member.id or 0].total, found[member.id or 0].grade, found[member.id or 0].passed,
                            found[member.id or 0].overall_rank) for member in assessed(org)}
    assert graded == {"王芳": (90, "优秀", True, 1), "周涛": (89.9, "良好", True, 2), "陈组长": (60, "称职", True, 3),
                      "李强": (59.9, "不称职", False, 4), "吴静": (50, "不称职", False, 5)}
    assert found[org.zhou.id or 0].total_tenths == 899


async def test_adjustments_are_checked(db: Database, org: Org) -> None:
    async with db.session() as session:
        for points, key in ((0, "duty.error.points"), (100.5, "duty.error.points"), (1.25, "duty.error.points")):
            with pytest.raises(Refusal) as refused:
                await adjust(session, org.wang, 2026, points=points, reason="调整原因", by=org.qian, now=NOW)
            assert refused.value.key == key and refused.value.values == {"max": 100}
        with pytest.raises(Refusal) as refused:
            await adjust(session, org.wang, 2026, points=1, reason="调", by=org.qian, now=NOW)
        assert refused.value.key == "duty.error.reason"
        with pytest.raises(Refusal) as refused:
            await adjust(session, org.wang, 2026, points=1, reason="调整原因", by=org.sun, now=NOW)  # 东山镇 only
        assert refused.value.key == "duty.error.not_allowed"
        with pytest.raises(Refusal):
            await adjust(session, org.wang, 2026, points=1, reason="调整原因", by=org.zhou, now=NOW)  # a member
        made = await adjust(session, org.li, 2026, points=-100, reason="调整原因", by=org.sun, now=NOW)
        assert (made.tenths, made.by_name, made.by_id) == (-1000, "孙秘书", org.sun.id)


# --- reports, instructions --------------------------------------------------------------------------------------


async def test_reports_are_pending_until_decided_and_adoption_counts_by_level(
    db: Database, org: Org, rules: YearRules
) -> None:
    market = await file_report(db, org.wang, "关于农贸市场排水的建议", MARKET_BODY)
    await rebuild(db, rules)
    assert summary(await entries(db), org.wang) == {"report_submitted": [("reports", 20, "pending")]}
    await report_action(db, market, "accept")
    await rebuild(db, rules)
    assert summary(await entries(db), org.wang) == {"report_submitted": [("reports", 20, "pending")]}
    await report_action(db, market, "adopt", level=AdoptionLevel.COUNTY)
    await rebuild(db, rules)
    assert summary(await entries(db), org.wang) == {"report_submitted": [("reports", 20, "confirmed")],
                                                    "report_adopted": [("reports", 10, "confirmed")]}
    await report_action(db, market, "adopt", level=AdoptionLevel.CITY)  # up the ladder: the highest level counts
    async with db.session() as session:
        await report_ops.record_instruction(session, market, text="请有关部门抓紧研究解决。", leader="市长 陈某",
                                            given_at=NOW - timedelta(days=1), by=None, now=NOW, texts=T)
    await rebuild(db, rules)
    found = await entries(db)
    assert summary(found, org.wang) == {"report_submitted": [("reports", 20, "confirmed")],
                                        "report_adopted": [("reports", 50, "confirmed")],
                                        "instruction": [("reports", 100, "confirmed")]}
    assert {e.title for rows in found.values() for e in rows} == {"关于农贸市场排水的建议"}
    assert found[(org.wang.id or 0, "instruction")][0].source == EntrySource.INSTRUCTION
    assert found[(org.wang.id or 0, "report_adopted")][0].source_id == market
    assert (await score_map(db, rules))[org.wang.id or 0].total == 50 + 2 + 5 + 10

    # Not adopted: the submission is confirmed, nothing more. Returned: pending. Withdrawn: nothing.
    school = await file_report(db, org.li, "关于东山镇校车安全的建议", SCHOOL_BODY)
    await report_action(db, school, "accept")
    await report_action(db, school, "not_adopt", comment="已有部门在办理")
    returned = await file_report(db, org.zhou, "关于校车的建议", SCHOOL_BODY)
    await report_action(db, returned, "return", comment="请补充数据")
    withdrawn = await file_report(db, org.chen, "关于路灯的建议", SCHOOL_BODY)
    await report_action(db, withdrawn, "withdraw", by=org.chen)
    last_year = await file_report(db, org.chen, "关于去年的建议", SCHOOL_BODY, year=2025)
    await rebuild(db, rules)
    found = await entries(db)
    assert summary(found, org.li) == {"report_submitted": [("reports", 20, "confirmed")]}
    assert summary(found, org.zhou) == {"report_submitted": [("reports", 20, "pending")]}
    assert summary(found, org.chen) == {}  # a withdrawn report, and one of 2025
    await rebuild(db, rules, year=2025)
    assert [e.source_id for e in (await entries(db, 2025))[(org.chen.id or 0, "report_submitted")]] == [last_year]


async def test_the_reports_category_is_capped(db: Database, org: Org, rules: YearRules) -> None:
    national = await adopted_report(db, org.li, AdoptionLevel.NATIONAL)  # 2 + 20
    async with db.session() as session:
        await report_ops.record_instruction(session, national, text="批示内容", leader="国务院领导",
                                            given_at=None, by=None, now=NOW, texts=T)  # + 10
    await adopted_report(db, org.li, AdoptionLevel.PROVINCIAL, title="关于山区校车的建议")  # 2 + 10
    await rebuild(db, rules)
    li = (await score_map(db, rules))[org.li.id or 0]
    assert (li.raw["reports"], li.by_category["reports"], li.total) == (440, 300, 80)
    # A report still waiting for its decision would add nothing: the category is at its cap.
    await file_report(db, org.li, "关于农村饮水安全的建议", SCHOOL_BODY)
    await rebuild(db, rules)
    li = (await score_map(db, rules))[org.li.id or 0]
    assert (li.total, li.pending) == (80, 0)


async def test_pending_points_are_what_confirming_them_would_add_after_the_caps(
    db: Database, org: Org, rules: YearRules
) -> None:
    await adopted_report(db, org.wang, AdoptionLevel.PROVINCIAL)  # reports: 2 + 10, confirmed
    for title in ("关于农村饮水安全的建议", "关于山区校车的建议"):
        await adopted_report(db, org.wang, AdoptionLevel.NATIONAL, title=title)  # 2 + 20 each, confirmed
    await file_report(db, org.wang, "关于农贸市场照明的建议", MARKET_BODY)  # 2, pending
    await claim(db, org.wang, rules, "proposal", date(2026, 4, 1), verified=None)  # 15, pending
    await rebuild(db, rules)
    wang = (await score_map(db, rules))[org.wang.id or 0]
    # Confirmed: reports 56 capped to 30, so 50 + 30 = 80. With the pending: reports still 30, proposals 15,
    # bonus 45 capped to 40, so 90: confirming them would add 10, not their raw 17.
    assert (wang.total, wang.pending) == (80, 10)


# --- 补录: self-reported duties ----------------------------------------------------------------------------------


async def test_self_reported_duties_count_once_verified(db: Database, org: Org, rules: YearRules) -> None:
    verified = await claim(db, org.wang, rules, "proposal", date(2026, 4, 1), by=org.qian)
    rejected = await claim(db, org.wang, rules, "speech", date(2026, 4, 2), verified=False, by=org.qian)
    pending = await claim(db, org.wang, rules, "speech", date(2026, 4, 3), verified=None)
    withdrawn = await claim(db, org.wang, rules, "proposal", date(2026, 4, 4), verified=None)
    async with db.session() as session:
        stored = await session.get(DutyClaim, withdrawn)
        assert stored is not None
        await withdraw_claim(session, org.wang, stored)
    await rebuild(db, rules)
    found = await entries(db)
    assert summary(found, org.wang) == {"proposal": [("proposals", 150, "confirmed")],
                                        "speech": [("proposals", 50, "rejected"), ("proposals", 50, "pending")]}
    assert [e.source_id for e in found[(org.wang.id or 0, "speech")]] == [rejected, pending]
    assert found[(org.wang.id or 0, "proposal")][0].source_id == verified
    assert found[(org.wang.id or 0, "proposal")][0].title == "proposal：关于养老服务的提案"
    local_day = found[(org.wang.id or 0, "proposal")][0].occurred_at.astimezone(ZONE)
    assert (local_day.date(), local_day.hour) == (date(2026, 4, 1), 12)
    wang = (await score_map(db, rules))[org.wang.id or 0]
    assert (wang.total, wang.pending) == (65, 5)  # the rejected one counts nowhere
    async with db.reader() as session:
        decided = await session.get(DutyClaim, rejected)
        assert decided is not None
        assert (decided.status, decided.decision_note, decided.decided_by_name) == (
            ClaimStatus.REJECTED, "材料不全，请补充", "钱秘书")


async def test_self_reported_duties_are_checked(db: Database, org: Org, rules: YearRules) -> None:
    async def refused(kind: str, day: date, description: str = "参加社区义诊活动") -> Refusal:
        async with db.session() as session:
            with pytest.raises(Refusal) as caught:
                await submit_claim(session, org.wang, rules, kind=kind, day=day, description=description, zone=ZONE,
                                   now=NOW)
        return caught.value

    assert (await refused("speech", date(2026, 11, 22))).key == "duty.error.future_day"
    too_old = await refused("speech", date(2024, 12, 31))
    assert (too_old.key, too_old.values) == ("duty.error.too_old", {"year": 2025})
    assert (await refused("plenary", date(2026, 4, 1))).key == "duty.error.unknown_kind"  # recorded by the system
    assert (await refused("good_deed", date(2026, 4, 1))).key == "duty.error.unknown_kind"  # not in these rules
    short = await refused("speech", date(2026, 4, 1), "  发言  ")
    assert (short.key, short.values) == ("duty.error.description", {"min": 5, "max": 500})
    async with db.session() as session:
        today = await submit_claim(session, org.wang, rules, kind="speech", day=date(2026, 11, 21),
                                   description="在全会上作大会发言", zone=ZONE, now=NOW)
        last_year = await submit_claim(session, org.wang, rules, kind="speech", day=date(2025, 1, 1),
                                       description="在全会上作大会发言", zone=ZONE, now=NOW)
        assert (today.year, last_year.year) == (2026, 2025)
        for by in (org.sun, org.chen, org.wang):  # 东山镇's secretary, a group leader, the member
            with pytest.raises(Refusal) as caught:
                await decide_claim(session, today, verified=True, by=by, now=NOW)
            assert caught.value.key == "duty.error.not_allowed"
        with pytest.raises(Refusal) as caught:
            await decide_claim(session, today, verified=False, note="", by=org.qian, now=NOW)
        assert caught.value.key == "duty.error.reason"
        with pytest.raises(Refusal) as caught:
            await withdraw_claim(session, org.zhou, today)
        assert caught.value.key == "duty.error.not_yours"
        await decide_claim(session, today, verified=True, by=org.qian, now=NOW)
        with pytest.raises(Refusal) as caught:
            await decide_claim(session, today, verified=True, by=org.qian, now=NOW)
        assert caught.value.key == "duty.error.claim_decided"
        with pytest.raises(Refusal) as caught:
            await withdraw_claim(session, org.wang, today)
        assert caught.value.key == "duty.error.claim_decided"


# --- appeals -----------------------------------------------------------------------------------------------------


async def test_appeals_on_own_entries_with_an_adjustment_when_upheld(db: Database, org: Org, rules: YearRules) -> None:
    plenary = await new_activity(db, MARCH, ActivityType.PLENARY, hours=9, title="六届五次全会")
    await attend(db, plenary, present=[org.zhou])
    await give(db, org.wang, 2, "补发积分")
    await rebuild(db, rules)
    found = await entries(db)
    absent = found[(org.wang.id or 0, "plenary_absent")][0]
    adjustment = found[(org.wang.id or 0, "adjustment")][0]
    li_absent = found[(org.li.id or 0, "plenary_absent")][0]
    async with db.session() as session:
        appeal = await open_appeal(session, org.wang, absent, reason="我参加了会议，手机没电未能签到", now=NOW)
        assert (appeal.source, appeal.source_id, appeal.kind, appeal.entry_title, appeal.entry_tenths) == (
            EntrySource.ATTENDANCE, absent.source_id, "plenary_absent", "六届五次全会", -60)
        for member, entry, key in ((org.wang, absent, "duty.error.appeal_open"),
                                   (org.zhou, absent, "duty.error.not_yours"),
                                   (org.wang, li_absent, "duty.error.not_yours"),
                                   (org.wang, adjustment, "duty.error.appeal_adjustment")):
            with pytest.raises(Refusal) as refused:
                await open_appeal(session, member, entry, reason="理由充分的申诉", now=NOW)
            assert refused.value.key == key
        with pytest.raises(Refusal) as refused:
            await decide_appeal(session, appeal, upheld=True, answer="同意", by=org.sun, now=NOW, points=6)
        assert refused.value.key == "duty.error.not_allowed"  # 孙秘书 handles 东山镇 only
        with pytest.raises(Refusal) as refused:
            await decide_appeal(session, appeal, upheld=False, answer="不同意", by=org.qian, now=NOW, points=6)
        assert refused.value.key == "duty.error.dismiss_with_points"
        made = await decide_appeal(session, appeal, upheld=True, answer="经核实确已参会", by=org.qian, now=NOW,
                                   points=6)
        assert made is not None and (made.appeal_id, made.tenths, made.reason) == (appeal.id, 60, "经核实确已参会")
        with pytest.raises(Refusal) as refused:
            await decide_appeal(session, appeal, upheld=False, answer="再议", by=org.qian, now=NOW)
        assert refused.value.key == "duty.error.appeal_decided"
        assert (appeal.status, appeal.decided_by_name) == (AppealStatus.UPHELD, "钱秘书")
    await rebuild(db, rules)
    found = await entries(db)
    assert [(e.tenths, e.title, e.source) for e in found[(org.wang.id or 0, "adjustment")]] == [
        (20, "补发积分", EntrySource.ADJUSTMENT), (60, "经核实确已参会", EntrySource.ADJUSTMENT)]
    assert (await score_map(db, rules))[org.wang.id or 0].total == 50 - 6 + 2 + 6
    async with db.reader() as session:
        linked = (await session.scalars(select(DutyAdjustment).where(DutyAdjustment.appeal_id == appeal.id))).one()
        assert linked.by_name == "钱秘书"

    # A dismissed appeal: the entry stays; the member may appeal again later. A withdrawn one is closed.
    async with db.session() as session:
        li_appeal = await open_appeal(session, org.li, li_absent, reason="我请过假", now=NOW)
        assert await decide_appeal(session, li_appeal, upheld=False, answer="未见请假记录", by=org.sun,
                                   now=NOW) is None
        assert li_appeal.status is AppealStatus.DISMISSED and li_appeal.answer == "未见请假记录"
        again = await open_appeal(session, org.li, li_absent, reason="补交了请假条", now=NOW)
        with pytest.raises(Refusal) as refused:
            await withdraw_appeal(session, org.wang, again)
        assert refused.value.key == "duty.error.not_yours"
        await withdraw_appeal(session, org.li, again)
        assert again.status is AppealStatus.WITHDRAWN
        upheld_by_correction = await open_appeal(session, org.li, li_absent, reason="签到表上有我", now=NOW)
        assert await decide_appeal(session, upheld_by_correction, upheld=True, answer="已更正考勤", by=None,
                                   now=NOW) is None
    assert (await score_map(db, rules))[org.li.id or 0].total == 44


async def test_an_appeal_names_its_entry_across_rebuilds(db: Database, org: Org, rules: YearRules) -> None:
    await attend(db, await new_activity(db, MARCH), present=[org.zhou])
    await rebuild(db, rules)
    entry = (await entries(db))[(org.wang.id or 0, "inspection_absent")][0]
    async with db.session() as session:
        appeal = await open_appeal(session, org.wang, entry, reason="我在现场", now=NOW)
    await rebuild(db, rules)
    rebuilt = (await entries(db))[(org.wang.id or 0, "inspection_absent")][0]
    assert (rebuilt.source, rebuilt.source_id, rebuilt.kind) == (appeal.source, appeal.source_id, appeal.kind)
    async with db.session() as session:
        with pytest.raises(Refusal) as refused:  # the same entry, rebuilt: still the one under appeal
            await open_appeal(session, org.wang, rebuilt, reason="我在现场", now=NOW)
        assert refused.value.key == "duty.error.appeal_open"


# --- "five one" ---------------------------------------------------------------------------------------------------


async def test_five_one_progress_and_missing_targets(db: Database, org: Org, rules: YearRules) -> None:
    first = await new_activity(db, MARCH)
    second = await new_activity(db, MARCH + timedelta(days=7))
    await attend(db, first, present=[org.wang, org.zhou, org.qian], late=[org.li])
    await attend(db, second, present=[org.wang, org.qian])
    third = await new_activity(db, MARCH + timedelta(days=14))
    await attend(db, third, present=[org.li], close=False)  # pending until the close
    await claim(db, org.wang, rules, "proposal", date(2026, 4, 1))
    await claim(db, org.zhou, rules, "proposal", date(2026, 4, 1), verified=None)
    await claim(db, org.li, rules, "proposal", date(2026, 4, 1), verified=False)  # rejected: nothing
    await file_report(db, org.wang, "关于农贸市场排水的建议", MARKET_BODY)  # submitted, not decided yet
    await rebuild(db, rules)
    async with db.reader() as session:
        progress = await five_one(session, rules, 2026, members=[m.id or 0 for m in assessed(org)])
        missing = await missing_targets(session, rules, 2026)

    def table(member: Member) -> list[tuple[str, int, int, int, bool]]:
        return [(p.name, p.need, p.done, p.pending, p.met) for p in progress[member.id or 0]]

    # (target, need, done, pending, met)
    assert table(org.wang) == [("一件提案", 1, 1, 0, True), ("一篇社情民意", 1, 0, 1, False),
                               ("两次视察", 2, 2, 0, True)]
    assert table(org.zhou) == [("一件提案", 1, 0, 1, False), ("一篇社情民意", 1, 0, 0, False),
                               ("两次视察", 2, 1, 0, False)]
    assert table(org.li) == [("一件提案", 1, 0, 0, False), ("一篇社情民意", 1, 0, 0, False),
                             ("两次视察", 2, 1, 1, False)]
    assert table(org.nobody) == [("一件提案", 1, 0, 0, False), ("一篇社情民意", 1, 0, 0, False),
                                 ("两次视察", 2, 0, 0, False)]
    everything = ["一件提案", "一篇社情民意", "两次视察"]
    assert missing == {org.wang.id: ["一篇社情民意"], org.zhou.id: everything, org.li.id: everything,
                       org.chen.id: everything, org.nobody.id: everything}  # staff and the suspended: not assessed

    await give(db, org.wang, 1)
    async with db.session() as session:
        await report_ops.transition(session, (await only_report(db, org.wang)), "accept", by=None, now=NOW, texts=T)
        await report_ops.transition(session, (await only_report(db, org.wang)), "not_adopt", by=None, now=NOW,
                                    texts=T)
    await rebuild(db, rules)
    async with db.reader() as session:
        assert org.wang.id not in await missing_targets(session, rules, 2026)


async def only_report(db: Database, member: Member) -> int:
    from tests.report_support import only_report_of

    report = await only_report_of(db, member)
    assert report.id is not None
    return report.id


# --- rebuilding: deterministic, scoped, following the rules --------------------------------------------------------


async def busy_year(db: Database, org: Org, rules: YearRules) -> None:
    """A year with something from every source, for both groups."""
    plenary = await new_activity(db, MARCH, ActivityType.PLENARY, hours=9, title="六届五次全会")
    await attend(db, plenary, present=[org.wang, org.li], late=[org.zhou], leave=[org.nobody])
    await attend(db, await new_activity(db, MARCH + timedelta(days=7)), present=[org.chen], close=False)
    adopted = await adopted_report(db, org.wang, AdoptionLevel.CITY)
    async with db.session() as session:
        await report_ops.record_instruction(session, adopted, text="请抓紧办理", leader="市长", given_at=None, by=None,
                                            now=NOW, texts=T)
    await file_report(db, org.li, "关于东山镇校车安全的建议", SCHOOL_BODY)
    await claim(db, org.zhou, rules, "speech", date(2026, 6, 1))
    await claim(db, org.li, rules, "proposal", date(2026, 6, 1), verified=False, by=org.sun)
    async with db.session() as session:
        material = await add_material(session, title="学习材料", url="https://example.org/a", by=None, now=MARCH)
        await mark_read(session, material.id or 0, org.li.id or 0, ReadVia.CHAT, MARCH + timedelta(hours=1))
    await give(db, org.chen, -2.5, "未按时提交材料")


async def test_a_rebuild_is_deterministic(db: Database, org: Org, rules: YearRules) -> None:
    await busy_year(db, org, rules)
    first = await rebuild(db, rules)
    once = await ledger(db)
    second = await rebuild(db, rules)
    twice = await ledger(db)
    assert once == twice and first.entries == second.entries == len(once)
    assert {row[ENTRY_COLUMNS.index("source")] for row in once} == {s.value for s in EntrySource}
    async with db.reader() as session:
        state = await session.get(DutyYear, 2026)
        assert state is not None and (state.rules_hash, state.entries) == (rules.digest, len(once))
    first_scores = await score_map(db, rules)
    await rebuild(db, rules)
    assert await score_map(db, rules) == first_scores


async def test_a_scoped_refresh_equals_the_full_one_for_its_scope(db: Database, org: Org, rules: YearRules) -> None:
    await busy_year(db, org, rules)
    await rebuild(db, rules)
    # New facts for both groups; only 城关镇 is refreshed.
    await claim(db, org.wang, rules, "proposal", date(2026, 7, 1))
    await claim(db, org.li, rules, "speech", date(2026, 7, 1), by=org.sun)
    await give(db, org.zhou, 3)
    async with db.reader() as session:
        wang = await session.get(Member, org.wang.id)
        assert wang is not None
        chengguan = [m.id for m in (await session.scalars(group_of(wang).with_only_columns(Member))).all()]
    scoped = await rebuild(db, rules, members=group_of(wang))
    assert not scoped.full
    after_scoped = await ledger(db)
    full = await rebuild(db, rules)
    after_full = await ledger(db)
    member_column = ENTRY_COLUMNS.index("member_id")
    in_scope = {row for row in after_full if row[member_column] in chengguan}
    assert {row for row in after_scoped if row[member_column] in chengguan} == in_scope
    assert scoped.entries == len(in_scope) and full.entries == len(after_full)
    li_claims = [row for row in after_scoped if row[member_column] == org.li.id and row[2] == "speech"]
    assert li_claims == []  # outside the scope: written by the full rebuild only
    assert [row for row in after_full if row[member_column] == org.li.id and row[2] == "speech"] != []
    by_list = await rebuild(db, rules, members=[org.li.id or 0])
    assert not by_list.full and await ledger(db) == after_full
    assert (await rebuild(db, rules, members=[])).entries == 0 and await ledger(db) == after_full


async def test_member_year_refreshes_the_group_and_reads_the_year(db: Database, org: Org, rules: YearRules) -> None:
    await attend(db, await new_activity(db, MARCH), present=[org.wang, org.zhou], late=[org.chen, org.li])
    async with db.session() as session:
        wang = await session.get(Member, org.wang.id)
        assert wang is not None
        year = await member_year(session, rules, wang, 2026, ZONE, now=NOW)  # first time: the whole year
    assert year.score is not None and (year.score.total, year.score.group_rank, year.score.group_size) == (52, 1, 3)
    assert [t.done for t in year.targets] == [0, 0, 1]
    async with db.session() as session:
        secretary = await session.get(Member, org.qian.id)
        assert secretary is not None
        staff = await member_year(session, rules, secretary, 2026, ZONE, now=NOW)
    assert staff.score is None  # the office's staff are not assessed


async def test_a_change_of_rules_rebuilds_the_whole_year(db: Database, org: Org, rules: YearRules,
                                                        tmp_path: Path) -> None:
    await busy_year(db, org, rules)
    await rebuild(db, rules)
    before = await entries(db)
    assert before[(org.li.id or 0, "plenary")][0].tenths == 80
    changed = custom_rules(tmp_path, "points: 4, late: 3", "points: 5, late: 3")
    assert changed.digest != rules.digest and changed.duties["plenary"].points == 5
    result = await rebuild(db, changed, members=[org.wang.id or 0])  # asked for one member …
    assert result.full  # … but a partial rebuild would mix two sets of rules
    after = await entries(db)
    assert after[(org.li.id or 0, "plenary")][0].tenths == 100 and after[(org.wang.id or 0, "plenary")][0].tenths == 100
    async with db.reader() as session:
        state = await session.get(DutyYear, 2026)
        assert state is not None and state.rules_hash == changed.digest and state.recomputed_at == NOW
    assert not (await rebuild(db, changed, members=[org.wang.id or 0])).full  # the rules are current again


async def test_each_year_is_scored_by_its_own_rules(db: Database, org: Org, tmp_path: Path) -> None:
    dearer = RULES_2026.replace("points: 2, late: 1.5", "points: 3, late: 1.5")
    loaded = load_rules(write_rules(tmp_path, {2025: RULES_2026, 2026: dearer}, name="two-years.yaml"))
    for year in (2024, 2025, 2026, 2027):
        starts = datetime(year, 5, 4, 1, 0, tzinfo=UTC)
        await attend(db, await new_activity(db, starts), present=[org.wang])
    points = {}
    for year in (2024, 2025, 2026, 2027):
        await rebuild(db, loaded.for_year(year), year=year)
        points[year] = [e.tenths for e in (await entries(db, year))[(org.wang.id or 0, "inspection")]]
    assert points == {2024: [20], 2025: [20], 2026: [30], 2027: [30]}  # earlier: the first; later: carried forward


# --- ranks, standings, group assessment ----------------------------------------------------------------------------


async def test_ranks_share_ties_in_group_sector_and_overall(db: Database, org: Org, rules: YearRules) -> None:
    async with db.session() as session:
        east, west = Sector(name="经济界"), Sector(name="教育界")
        session.add_all([east, west])
        await session.flush()
        for member, sector in ((org.wang, east), (org.li, east), (org.chen, east), (org.zhou, west),
                               (org.nobody, west)):
            stored = await session.get(Member, member.id)
            assert stored is not None
            stored.sector_id = sector.id
    for member, points in ((org.wang, 10), (org.zhou, 10), (org.li, 10), (org.chen, -5)):
        await give(db, member, points)
    await rebuild(db, rules)
    found = await score_map(db, rules)
    ranks = {member.name: (found[member.id or 0].total, found[member.id or 0].group_rank,
                           found[member.id or 0].sector_rank, found[member.id or 0].overall_rank)
             for member in assessed(org)}
    assert ranks == {"王芳": (60, 1, 1, 1), "周涛": (60, 1, 1, 1), "陈组长": (45, 3, 3, 5),
                     "李强": (60, 1, 1, 1), "吴静": (50, 2, 2, 4)}
    async with db.reader() as session:
        ordered = await scores(session, rules, 2026)
        groups, sectors = await group_names(session), await sector_names(session)
    assert [s.total for s in ordered] == [60, 60, 60, 50, 45]
    assert [s.member_id for s in ordered[:3]] == sorted([org.wang.id, org.zhou.id, org.li.id])  # ties: by id
    by_group = {row.name: (row.rank, row.members, row.average, row.below_pass)
                for row in standings(ordered, groups, "group_id", "未分组")}
    assert by_group == {"城关镇": (1, 3, 55.0, 1), "东山镇": (1, 2, 55.0, 1)}  # (60 + 60 + 45) / 3 = (60 + 50) / 2
    by_sector = {row.name: (row.rank, row.members, row.average)
                 for row in standings(ordered, sectors, "sector_id", "未分组")}
    assert by_sector == {"经济界": (1, 3, 55.0), "教育界": (1, 2, 55.0)}
    await give(db, org.nobody, 1)
    await rebuild(db, rules)
    async with db.reader() as session:
        ordered = await scores(session, rules, 2026)
    assert [(row.name, row.rank) for row in standings(ordered, groups, "group_id", "未分组")] == [
        ("东山镇", 1), ("城关镇", 2)]
    assert [(row.name, row.rank) for row in standings(ordered, {}, "sector_id", "未分组")] == [
        ("未分组", 1), ("未分组", 2)]  # sector names unknown: both read as unassigned


async def test_ranks_within_a_selection(db: Database, org: Org, rules: YearRules) -> None:
    for member, points in ((org.wang, 1), (org.li, 5), (org.chen, 3)):
        await give(db, member, points)
    await rebuild(db, rules)
    selected = await score_map(db, rules, members=[org.wang.id or 0, org.chen.id or 0])
    assert {m: (s.overall_rank, s.group_size) for m, s in selected.items()} == {org.chen.id: (1, 2),
                                                                               org.wang.id: (2, 2)}


async def test_group_assessment(db: Database, org: Org, rules: YearRules) -> None:
    chengguan, dongshan = [org.chengguan], [org.dongshan]
    first = await new_activity(db, MARCH, group_id=org.chengguan, audience=Audience.GROUPS, audience_ids=chengguan)
    second = await new_activity(db, MARCH + timedelta(days=7), group_id=org.chengguan, audience=Audience.GROUPS,
                                audience_ids=chengguan)
    third = await new_activity(db, MARCH + timedelta(days=8), group_id=org.dongshan, audience=Audience.GROUPS,
                               audience_ids=dongshan)
    open_one = await new_activity(db, MARCH + timedelta(days=9), group_id=org.chengguan, audience=Audience.GROUPS,
                                  audience_ids=chengguan)
    await attend(db, first, present=[org.wang], late=[org.zhou])  # 陈组长 absent: 2 of 3
    await attend(db, second, present=[org.wang, org.chen], leave=[org.zhou])  # leave is excused: 2 of 2
    await attend(db, third, present=[org.li])  # 吴静 absent: 1 of 2
    await attend(db, open_one, present=[org.wang], close=False)  # not closed: not counted
    await adopted_report(db, org.wang, AdoptionLevel.COUNTY)
    await file_report(db, org.wang, "关于校车的建议", SCHOOL_BODY)
    await file_report(db, org.li, "关于山区校车的建议", SCHOOL_BODY)
    await file_report(db, org.zhou, "草稿", SCHOOL_BODY, status=ReportStatus.DRAFT)
    await file_report(db, org.li, "去年的建议", SCHOOL_BODY, year=2025)
    async with db.reader() as session:
        assessed_groups = await group_assessment(session, rules, 2026, ZONE)
    table = {g.name: (g.activities_held, g.reports_submitted, g.reports_adopted, g.attended, g.expected,
                      g.attendance_rate, g.score, g.rank) for g in assessed_groups}
    assert table == {
        "城关镇": (2, 2, 1, 4, 5, 0.8, 49, 1),  # 2 × 5 + 2 × 2 + 1 × 3 + 40 × 0.8
        "东山镇": (1, 1, 0, 1, 2, 0.5, 27, 2),  # 5 + 2 + 40 × 0.5
    }



async def test_five_one_of_everyone_lists_the_assessed_members(db: Database, org: Org, rules: YearRules) -> None:
    await attend(db, await new_activity(db, MARCH), present=[org.wang, org.qian])  # a secretary signs in too
    await rebuild(db, rules)
    async with db.reader() as session:
        everyone = await five_one(session, rules, 2026)
    assert sorted(everyone) == sorted(m.id for m in assessed(org))  # not the staff; members without entries too
    assert [p.done for p in everyone[org.wang.id or 0]] == [0, 0, 1]
    assert [p.done for p in everyone[org.nobody.id or 0]] == [0, 0, 0]


async def test_a_refused_decision_leaves_the_appeal_open(db: Database, org: Org, rules: YearRules) -> None:
    """A caller that shows the refusal and commits its transaction (as a chat reply does) changes nothing."""
    await attend(db, await new_activity(db, MARCH), present=[org.zhou])
    await rebuild(db, rules)
    entry = (await entries(db))[(org.wang.id or 0, "inspection_absent")][0]
    async with db.session() as session:
        appeal = await open_appeal(session, org.wang, entry, reason="我在现场", now=NOW)
    for points in (0, 100.5, 0.25):
        async with db.session() as session:
            stored = await session.get(type(appeal), appeal.id)
            assert stored is not None
            with pytest.raises(Refusal) as refused:
                await decide_appeal(session, stored, upheld=True, answer="经核实确已参会", by=org.qian, now=NOW,
                                    points=points)
            assert refused.value.key == "duty.error.points"
    async with db.reader() as session:
        stored = await session.get(type(appeal), appeal.id)
        assert stored is not None and (stored.status, stored.answer, stored.decided_at) == (AppealStatus.OPEN, "", None)
        assert (await session.scalars(select(DutyAdjustment))).all() == []


async def test_two_first_rebuilds_at_once(db: Database, org: Org, rules: YearRules) -> None:
    """Two members look at their record at once on a year not built yet (1 January, say): both rebuild it."""
    await attend(db, await new_activity(db, MARCH), present=[org.wang, org.li])
    results = await asyncio.gather(rebuild(db, rules, members=[org.wang.id or 0]),
                                   rebuild(db, rules, members=[org.li.id or 0]))
    assert results[0].full or results[1].full  # (SQLite takes one writer at a time: the second is scoped)
    together = await ledger(db)
    await rebuild(db, rules)
    assert await ledger(db) == together
    async with db.reader() as session:
        state = await session.get(DutyYear, 2026)
        assert state is not None and state.rules_hash == rules.digest


async def test_entries_read_after_a_refresh_in_the_same_session_are_current(
    db: Database, org: Org, rules: YearRules, tmp_path: Path
) -> None:
    """A caller that read entries, refreshes and reads again (an appeal, then the record) sees the new ones,
    even where the database hands out the deleted rows' ids again (SQLite)."""
    await attend(db, await new_activity(db, MARCH), present=[org.wang])
    await rebuild(db, rules)
    dearer = custom_rules(tmp_path, "points: 2, late: 1.5", "points: 3, late: 1.5")
    async with db.session() as session:
        held = (await session.scalars(select(DutyEntry))).all()  # loaded into the session, and kept
        assert len(held) > 1
        await refresh(session, dearer, 2026, ZONE, now=NOW)
        seen = {(e.id, e.member_id, e.kind, e.tenths) for e in (await session.scalars(select(DutyEntry))).all()}
    async with db.reader() as session:
        stored = {(e.id, e.member_id, e.kind, e.tenths) for e in (await session.scalars(select(DutyEntry))).all()}
    assert seen == stored and (org.wang.id, "inspection", 30) in {row[1:] for row in seen}


async def test_the_shipped_examples_score_a_plenary_session(db: Database, org: Org) -> None:
    """A plenary session of 2.5 days (five half-days) under both shipped rules files."""
    plenary = await new_activity(db, MARCH, ActivityType.PLENARY, hours=9, half_days=5, title="六届五次全会")
    await attend(db, plenary, present=[org.wang], leave=[org.zhou])  # 李强 and the others: absent
    for kind in ("proposal_filed", "proposal_filed", "proposal_key"):
        await claim(db, org.wang, load_rules(EXAMPLES_DIR / "bonus.yaml").for_year(2026), kind, date(2026, 4, 1))
    county = load_rules().for_year(2026)  # Tongcheng: 50 for the session, 30 on leave; −10 a half-day, floor −30
    await rebuild(db, county)
    found = await score_map(db, county)
    assert {m.name: found[m.id or 0].total for m in (org.wang, org.zhou, org.li)} == {"王芳": 75, "周涛": 30,
                                                                                     "李强": -30}
    assert found[org.wang.id or 0].by_category == {"plenary": 500, "proposals": 250}  # 2 × 15 filed, capped at 25
    assert found[org.li.id or 0].raw == {"penalties": -500}  # (proposal_key is not a kind of these rules)
    bonus = load_rules(EXAMPLES_DIR / "bonus.yaml").for_year(2026)  # Jinan: 70 + at most 50; −30 absent, −10 leave
    await rebuild(db, bonus)
    found = await score_map(db, bonus)
    assert {m.name: (found[m.id or 0].total, found[m.id or 0].grade) for m in (org.wang, org.zhou, org.li)} == {
        "王芳": (120, "优秀"),  # 70 + min(25 + 45, 50)
        "周涛": (60, "称职"),  # 70 − 10: leave counts as a penalty, outside the bonus
        "李强": (40, "不称职"),  # 70 − 30
    }


async def test_a_members_entries_newest_first(db: Database, org: Org, rules: YearRules) -> None:
    for week in (0, 1, 2):
        await attend(db, await new_activity(db, MARCH + timedelta(days=7 * week), title=f"第{week + 1}次视察"),
                     present=[org.wang])
    await claim(db, org.wang, rules, "speech", date(2026, 3, 10))  # between the second and the third
    await rebuild(db, rules)
    async with db.reader() as session:
        listed = [(e.kind, e.title[:5]) for e in await entries_of(session, org.wang.id or 0, 2026)]
        page = [e.title for e in await entries_of(session, org.wang.id or 0, 2026, limit=2, offset=1)]
        others = await entries_of(session, org.wang.id or 0, 2025)
    assert listed == [("inspection", "第3次视察"), ("speech", "speec"), ("inspection", "第2次视察"),
                      ("inspection", "第1次视察")]
    assert page == ["speech：关于养老服务的提案", "第2次视察"] and others == []
