"""A member asks for leave in chat: the whole flow, wrong answers, who may ask, nothing upcoming, duplicates,
``取消``, ``我的请假`` and ``撤回 N``, and ``start_leave_for`` (a reply to a meeting notice).

The clock stands at 2026-11-21 09:00 in Shanghai. ``activities`` makes a 城关镇 group inspection on
11月23日 14:30 and a standing-committee session on 11月25日 09:00 (everybody's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.router import Router
from bot.domain import activities as act
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from handlers import common, welcome
from handlers import leave as leave_handler
from models.activity import Activity, ActivityType, Audience, LeaveKind, LeaveStatus, SignInMethod
from models.delivery import Delivery
from models.member import Identity, Member, MemberStatus, Platform
from tests.activity_support import Org, T, leave_requests, make_activity
from tests.support import AppHarness, SimChat, running_app

INSPECTION = "城关镇农贸市场调研"
STANDING = "县政协常委会"
INSPECTION_LINE = f"11月23日 14:30 {INSPECTION}"
STANDING_LINE = f"11月25日 09:00 {STANDING}"
KINDS = "1. 病假\n2. 事假\n3. 公务"


@dataclass
class Plan:
    inspection: Activity  # 城关镇's own, decided by the group
    standing: Activity  # 常委会, decided by the chair's office


@pytest.fixture
async def plan(db: Database, org: Org) -> Plan:
    inspection = await make_activity(db, datetime(2026, 11, 23, 6, 30, tzinfo=UTC), title=INSPECTION,
                                     audience=Audience.GROUPS, audience_ids=[org.chengguan], group_id=org.chengguan)
    standing = await make_activity(db, datetime(2026, 11, 25, 1, 0, tzinfo=UTC), type_=ActivityType.STANDING,
                                   title=STANDING)
    return Plan(inspection, standing)


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


def choices(*lines: str) -> str:
    return "\n".join(f"{number}. {line}" for number, line in enumerate(lines, start=1))


async def ask_leave(chat: SimChat, number: str, kind: str, reason: str) -> str:
    await chat.says("请假")
    await chat.says(number)
    await chat.says(kind)
    return await chat.says(reason)


def filed(line: str, kind: str, decider: str) -> str:
    return T("leave_chat.filed", activity=line, kind=kind, decider=T(f"leave_chat.decider.{decider}"))


# --- the request ----------------------------------------------------------------------------------

async def test_a_member_asks_for_leave_and_the_group_is_told(app: AppHarness, db: Database, org: Org,
                                                             plan: Plan) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("请假") == T("leave_chat.choose", choices=choices(INSPECTION_LINE, STANDING_LINE))
    assert await wang.says("1") == T("leave_chat.ask_kind", activity=INSPECTION_LINE, kinds=KINDS)
    assert await wang.says("病假") == T("leave_chat.ask_reason", kind="病假", min=2, max=300)
    assert await wang.says("住院治疗") == filed(INSPECTION_LINE, "病假", "group")

    [leave] = await leave_requests(db, org.wang.id or 0)
    assert (leave.activity_id, leave.kind, leave.reason, leave.status) == (
        plan.inspection.id, LeaveKind.SICK, "住院治疗", LeaveStatus.PENDING)
    # The group's leader and the office secretary are told; the secretary limited to 东山镇 is not.
    notice = T("leave.notify.new", name="王芳", kind="病假", title=INSPECTION, reason="住院治疗")
    assert await app.chat("sim-chen").pushes() == [notice]
    assert await app.chat("sim-qian").pushes() == [notice]
    assert await app.chat("sim-sun").pushes() == []
    async with db.reader() as session:  # the member's own answer came inline, not as a push
        assert (await session.scalars(select(Delivery).where(Delivery.member_id == org.wang.id))).all() == []
    # The activity is no longer offered: one open request per activity.
    assert await wang.says("请假") == T("leave_chat.choose", choices=choices(STANDING_LINE))


async def test_standing_committee_leave_goes_to_the_chairs_office(app: AppHarness, db: Database, org: Org,
                                                                 plan: Plan) -> None:
    wang = app.chat("sim-wang")
    await wang.says("leave")
    assert await wang.says("常委会") == T("leave_chat.ask_kind", activity=STANDING_LINE, kinds=KINDS)  # by title
    assert await wang.says("３") == T("leave_chat.ask_reason", kind="公务", min=2, max=300)  # full-width digit
    assert await wang.says("到省里参加\n培训会") == filed(STANDING_LINE, "公务", "chair")

    [leave] = await leave_requests(db, org.wang.id or 0)
    assert (leave.kind, leave.reason) == (LeaveKind.OFFICIAL, "到省里参加 培训会")
    notice = T("leave.notify.new", name="王芳", kind="公务", title=STANDING, reason="到省里参加 培训会")
    assert await app.chat("sim-qian").pushes() == [notice]
    assert await app.chat("sim-chen").pushes() == []  # a group leader does not decide 常委会 leave


@pytest.mark.parametrize(("typed", "kind"), [("1", LeaveKind.SICK), ("事假", LeaveKind.PERSONAL),
                                             ("事", LeaveKind.PERSONAL), ("出差", LeaveKind.OFFICIAL),
                                             ("sick", LeaveKind.SICK), (" 2. ", LeaveKind.PERSONAL)])
def test_leave_kinds_by_number_or_word(typed: str, kind: LeaveKind) -> None:
    assert leave_handler.choose_kind(typed, ["病假", "事假", "公务"]) is kind


@pytest.mark.parametrize("typed", ["4", "0", "假", "随便", ""])
def test_not_a_leave_kind(typed: str) -> None:
    assert leave_handler.choose_kind(typed, ["病假", "事假", "公务"]) is None


async def test_wrong_answers_are_asked_again(app: AppHarness, db: Database, org: Org, plan: Plan) -> None:
    wang = app.chat("sim-wang")
    await wang.says("请假")
    listing = choices(INSPECTION_LINE, STANDING_LINE)
    assert await wang.says("5") == T("leave_chat.bad_choice", text="5", choices=listing)
    assert await wang.says("开会") == T("leave_chat.bad_choice", text="开会", choices=listing)
    assert await wang.says("2") == T("leave_chat.ask_kind", activity=STANDING_LINE, kinds=KINDS)
    assert await wang.says("4") == T("leave_chat.bad_kind", kinds=KINDS)
    assert await wang.says("年假") == T("leave_chat.bad_kind", kinds=KINDS)
    assert await wang.says("事假") == T("leave_chat.ask_reason", kind="事假", min=2, max=300)
    assert await wang.says("病") == T("leave_chat.bad_reason", min=2, max=300, length=1)
    assert await wang.says("长" * 301) == T("leave_chat.bad_reason", min=2, max=300, length=301)
    assert await leave_requests(db, org.wang.id or 0) == []
    assert await wang.says("家中有事") == filed(STANDING_LINE, "事假", "chair")
    assert [leave.reason for leave in await leave_requests(db, org.wang.id or 0)] == ["家中有事"]


async def test_too_many_wrong_answers_end_the_conversation(app: AppHarness, db: Database, org: Org,
                                                           plan: Plan) -> None:
    wang = app.chat("sim-wang")
    await wang.says("请假")
    await wang.says("1")
    for _ in range(app.services.settings.conversation.max_wrong_answers - 1):
        assert await wang.says("9") == T("leave_chat.bad_kind", kinds=KINDS)
    assert await wang.says("9") == T("conversation.too_many_wrong")
    assert await wang.says("1") != T("leave_chat.ask_reason", kind="病假", min=2, max=300)  # the flow is over
    assert await leave_requests(db, org.wang.id or 0) == []


async def test_the_command_words_inside_the_flow_restart_it(app: AppHarness, plan: Plan) -> None:
    wang = app.chat("sim-wang")
    await wang.says("请假")
    await wang.says("1")
    await wang.says("2")
    assert await wang.says("请假") == T("leave_chat.choose", choices=choices(INSPECTION_LINE, STANDING_LINE))
    assert await wang.says("我的请假") == T("leave_chat.mine.empty")


async def test_cancel_files_nothing(app: AppHarness, db: Database, org: Org, plan: Plan) -> None:
    wang = app.chat("sim-wang")
    await wang.says("请假")
    await wang.says("1")
    await wang.says("1")
    assert await wang.says("取消") == T("leave_chat.cancelled")
    assert await wang.says("住院治疗") != filed(INSPECTION_LINE, "病假", "group")
    assert await leave_requests(db, org.wang.id or 0) == []


async def test_only_active_members_may_ask_for_leave(app: AppHarness, plan: Plan) -> None:
    assert await app.chat("sim-stranger").says("请假") == T("leave_chat.not_member")
    assert await app.chat("sim-stranger").says("我的请假") == T("leave_chat.not_member")
    assert await app.chat("sim-zhao").says("请假") == T("leave_chat.not_member")  # suspended


async def test_a_pending_applicant_is_told_to_wait(app: AppHarness, db: Database, plan: Plan) -> None:
    async with db.session() as session:  # an application not yet decided by a secretary
        applicant = Member(name="郑新", mobile="13900000077", status=MemberStatus.PENDING)
        session.add(applicant)
        await session.flush()
        assert applicant.id is not None
        session.add(Identity(member_id=applicant.id, platform=Platform.SIMULATOR, external_id="sim-newcomer"))
    assert await app.chat("sim-newcomer").says("请假") == T("leave_chat.pending_member")


async def test_nothing_upcoming(app: AppHarness, db: Database, org: Org, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("请假") == T("leave_chat.nothing_upcoming")
    # Over, cancelled, or not for wang's group: still nothing to ask leave for.
    now = clock.now()
    await make_activity(db, now - timedelta(hours=3), title="上午的学习会")
    cancelled = await make_activity(db, now + timedelta(days=1), title="取消的视察")
    await make_activity(db, now + timedelta(days=2), title="东山镇走访", audience=Audience.GROUPS,
                        audience_ids=[org.dongshan], group_id=org.dongshan)
    async with db.session() as session:
        stored = await session.get(Activity, cancelled.id)
        assert stored is not None
        await act.cancel_activity(session, stored, now=now)
    assert await wang.says("请假") == T("leave_chat.nothing_upcoming")


async def test_a_second_request_from_another_device_is_refused(app: AppHarness, db: Database, org: Org,
                                                               plan: Plan, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    await wang.says("请假")
    await wang.says("2")
    await wang.says("2")
    async with db.session() as session:  # meanwhile the same member asked from another device
        member = await session.get(Member, org.wang.id)
        activity = await session.get(Activity, plan.standing.id)
        assert member is not None and activity is not None
        await act.request_leave(session, member, activity, kind=LeaveKind.SICK, reason="住院治疗", now=clock.now(),
                                texts=T)
    assert await wang.says("家中有事") == T("leave.error.already")
    assert [leave.reason for leave in await leave_requests(db, org.wang.id or 0)] == ["住院治疗"]


async def test_leave_cannot_be_asked_once_the_window_closed(app: AppHarness, db: Database, org: Org,
                                                            clock: FrozenClock) -> None:
    # Started 50 minutes ago: sign-in closes in 10 minutes, while the member is still typing.
    started = await make_activity(db, clock.now() - timedelta(minutes=50), title="县政协学习会")
    wang = app.chat("sim-wang")
    assert await wang.says("请假") == T("leave_chat.choose", choices=choices(f"11月21日 08:10 {started.title}"))
    await wang.says("1")
    await wang.says("1")
    clock.advance(minutes=11)
    assert await wang.says("住院治疗") == T("leave.error.too_late")
    assert await leave_requests(db, org.wang.id or 0) == []


# --- 我的请假 and 撤回 -----------------------------------------------------------------------------

async def test_my_leave_shows_statuses_and_withdraws_a_pending_one(app: AppHarness, db: Database, org: Org,
                                                                   plan: Plan, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("我的请假") == T("leave_chat.mine.empty")
    await ask_leave(wang, "1", "1", "住院治疗")
    clock.advance(minutes=5)
    await ask_leave(wang, "1", "2", "家中有事")  # the standing committee, now first in the list
    [inspection_leave, _] = await leave_requests(db, org.wang.id or 0)
    async with db.session() as session:  # the leader denies the inspection leave
        stored = await session.get(act.LeaveRequest, inspection_leave.id)
        chen = await session.get(Member, org.chen.id)
        assert stored is not None
        await act.decide_leave(session, stored, approve=False, by=chen, note="这次调研需要您汇报", now=clock.now(),
                               texts=T)

    listing = await wang.says("我的请假")
    assert listing == "\n".join([
        T("leave_chat.mine.title", count=2),
        T("leave_chat.mine.item", number=1, activity=STANDING_LINE, kind="事假", status="待审批"),
        T("leave_chat.mine.item", number=2, activity=INSPECTION_LINE, kind="病假", status="未批准"),
        T("leave_chat.mine.note", note="这次调研需要您汇报"),
        T("leave_chat.mine.how"),
    ])
    assert await wang.says("撤回 3") == T("leave_chat.mine.bad_number", number=3)
    refused = await wang.says("撤回 2")  # already decided: said so, with the list again
    assert refused.startswith(T("leave.error.decided", status="未批准"))
    assert await wang.says("撤回请假 1") == T("leave_chat.mine.withdrawn", activity=STANDING_LINE)
    statuses = [leave.status for leave in await leave_requests(db, org.wang.id or 0)]
    assert statuses == [LeaveStatus.DENIED, LeaveStatus.WITHDRAWN]

    # Withdrawn or denied, an activity can be asked for again; the list says what happened.
    assert await wang.says("我的请假") == "\n".join([
        T("leave_chat.mine.title", count=2),
        T("leave_chat.mine.item", number=1, activity=STANDING_LINE, kind="事假", status="已撤回"),
        T("leave_chat.mine.item", number=2, activity=INSPECTION_LINE, kind="病假", status="未批准"),
        T("leave_chat.mine.note", note="这次调研需要您汇报"),
    ])
    assert await wang.says("请假") == T("leave_chat.choose", choices=choices(INSPECTION_LINE, STANDING_LINE))


async def test_withdraw_without_the_list_shows_the_list_first(app: AppHarness, db: Database, org: Org,
                                                              plan: Plan) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("撤回 1") == "\n".join([T("leave_chat.mine.empty"),
                                                  T("leave_chat.mine.nothing_to_withdraw")])
    await ask_leave(wang, "1", "1", "住院治疗")
    answer = await wang.says("撤回 1")
    assert answer.startswith(T("leave_chat.mine.list_first"))
    assert T("leave_chat.mine.item", number=1, activity=INSPECTION_LINE, kind="病假", status="待审批") in answer
    assert [leave.status for leave in await leave_requests(db, org.wang.id or 0)] == [LeaveStatus.PENDING]
    assert await wang.says("撤回 1") == T("leave_chat.mine.withdrawn", activity=INSPECTION_LINE)
    assert [leave.status for leave in await leave_requests(db, org.wang.id or 0)] == [LeaveStatus.WITHDRAWN]


# --- start_leave_for: a reply to a meeting notice -------------------------------------------------

notice_router = Router("notice-probe")


@notice_router.regex(r"^notice-leave (\d+)$")
async def leave_from_notice(ctx: Context) -> str:
    """What issue 7's notice handler will do when a member answers a notice with 请假."""
    assert ctx.match is not None
    return await leave_handler.start_leave_for(ctx, int(ctx.match.group(1)))


@pytest.fixture
async def notice_app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    routers = [common.router, notice_router, leave_handler.router, welcome.router]
    async with running_app(settings, clock, routers=routers) as harness:
        yield harness


async def test_start_leave_for_goes_straight_to_the_kind(notice_app: AppHarness, db: Database, org: Org,
                                                         plan: Plan, clock: FrozenClock) -> None:
    wang = notice_app.chat("sim-wang")
    assert await wang.says(f"notice-leave {plan.standing.id}") == T("leave_chat.ask_kind", activity=STANDING_LINE,
                                                                    kinds=KINDS)
    await wang.says("病假")
    assert await wang.says("住院治疗") == filed(STANDING_LINE, "病假", "chair")
    assert await wang.says(f"notice-leave {plan.standing.id}") == T("leave.error.already")
    assert await wang.says("notice-leave 999") == T("leave_chat.no_such_activity")
    assert await notice_app.chat("sim-li").says(f"notice-leave {plan.inspection.id}") == T(
        "leave.error.not_in_audience")
    assert await notice_app.chat("sim-stranger").says(f"notice-leave {plan.inspection.id}") == T(
        "leave_chat.not_member")

    # Signed in already (the window opens an hour before): no leave any more.
    clock.set(plan.inspection.starts_at - timedelta(minutes=30))
    async with db.session() as session:
        member = await session.get(Member, org.zhou.id)
        activity = await session.get(Activity, plan.inspection.id)
        assert member is not None and activity is not None
        await act.sign_in(session, member, activity, method=SignInMethod.CODE, now=clock.now(), code_checked=True)
    assert await notice_app.chat("sim-zhou").says(f"notice-leave {plan.inspection.id}") == T(
        "leave_chat.already_recorded", title=INSPECTION)


# --- help ---------------------------------------------------------------------------------------

async def test_help_lists_the_leave_commands(app: AppHarness) -> None:
    member_help = await app.chat("sim-wang").says("帮助")
    assert f"· 请假 — {T('leave_chat.help.leave')}" in member_help
    assert f"· 我的请假 — {T('leave_chat.help.mine')}" in member_help
    assert "· 审批 —" not in member_help
    assert f"· 审批 — {T('leave_chat.help.review')}" in await app.chat("sim-qian").says("帮助")
