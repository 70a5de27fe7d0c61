"""Approvers decide leave in chat (``审批``): approval and denial with the member told, the request in full,
wrong answers, who may decide what (the chair's office for plenary and standing-committee sessions, the
group otherwise), somebody quicker, and a leave approved after the sign-in window closed.

The clock stands at 2026-11-21 09:00 in Shanghai.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain import activities as act
from bot.domain.refusals import Refusal
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.activity import (
    Activity,
    ActivityType,
    AttendanceCorrection,
    AttendanceStatus,
    Audience,
    LeaveKind,
    LeaveRequest,
    LeaveStatus,
)
from models.audit import Channel
from models.member import Member
from tests.activity_support import Org, T, attendance_rows, leave_requests, make_activity
from tests.audit_support import only_event
from tests.support import AppHarness, SimChat, running_app

INSPECTION = "城关镇农贸市场调研"
INSPECTION_LINE = f"11月23日 14:30 {INSPECTION}"
PLENARY = "县政协全体会议"
PLENARY_LINE = f"11月25日 09:00 {PLENARY}"


@pytest.fixture
async def inspection(db: Database, org: Org) -> Activity:
    """城关镇's own inspection: the group decides leave from it."""
    return await make_activity(db, datetime(2026, 11, 23, 6, 30, tzinfo=UTC), title=INSPECTION,
                               audience=Audience.GROUPS, audience_ids=[org.chengguan], group_id=org.chengguan)


@pytest.fixture
async def plenary(db: Database, org: Org) -> Activity:
    return await make_activity(db, datetime(2026, 11, 25, 1, 0, tzinfo=UTC), type_=ActivityType.PLENARY,
                               title=PLENARY)


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


async def ask_leave(chat: SimChat, reason: str = "住院治疗", number: str = "1", kind: str = "病假") -> None:
    await chat.says("请假")
    await chat.says(number)
    await chat.says(kind)
    await chat.says(reason)


def item(number: int, name: str, line: str, kind: str = "病假", reason: str = "住院治疗") -> str:
    return T("leave_chat.review.item", number=number, name=name, activity=line, kind=kind, reason=reason)


def listing(*items: str) -> str:
    return "\n".join([T("leave_chat.review.title", count=len(items)), *items, T("leave_chat.review.how")])


async def file_directly(db: Database, member_id: int, activity_id: int, now: datetime, reason: str) -> int:
    """A request filed outside this chat (another member, another device)."""
    async with db.session() as session:
        member = await session.get(Member, member_id)
        activity = await session.get(Activity, activity_id)
        assert member is not None and activity is not None
        leave = await act.request_leave(session, member, activity, kind=LeaveKind.PERSONAL, reason=reason, now=now,
                                        texts=T)
        return leave.id or 0


# --- deciding -------------------------------------------------------------------------------------

async def test_the_leader_approves_and_the_member_is_told(app: AppHarness, db: Database, org: Org,
                                                          inspection: Activity) -> None:
    await ask_leave(app.chat("sim-wang"))
    chen = app.chat("sim-chen")
    assert await chen.says("审批") == listing(item(1, "王芳", INSPECTION_LINE))
    assert await chen.says("批准 1") == "\n".join([
        T("leave_chat.review.approved", name="王芳", activity=INSPECTION_LINE), T("leave_chat.review.done")])

    [leave] = await leave_requests(db, org.wang.id or 0)
    assert (leave.status, leave.decided_by_name) == (LeaveStatus.APPROVED, "陈组长")
    assert T("leave.notify.approved", title=INSPECTION) in await app.chat("sim-wang").pushes()
    await only_event(db, "leave.decide", channel=Channel.CHAT, actor_member_id=org.chen.id, object_type="leave",
                     object_id=leave.id, group_id=org.chengguan, after={"status": "approved"})
    assert await chen.says("审批") == T("leave_chat.review.empty")


async def test_a_denial_asks_for_the_reason_and_tells_the_member(app: AppHarness, db: Database, org: Org,
                                                                 inspection: Activity) -> None:
    await ask_leave(app.chat("sim-wang"))
    await ask_leave(app.chat("sim-zhou"), reason="家里老人住院")
    qian = app.chat("sim-qian")
    assert await qian.says("审批请假") == listing(item(1, "王芳", INSPECTION_LINE),
                                                item(2, "周涛", INSPECTION_LINE, reason="家里老人住院"))
    assert await qian.says("驳回 1") == T("leave_chat.review.ask_reason", name="王芳", activity=INSPECTION_LINE,
                                         min=2, max=300)
    assert await qian.says("不") == T("leave_chat.review.bad_reason", min=2, max=300)
    note = "这次调研需要您汇报，请安排时间参加"
    assert await qian.says(note) == "\n\n".join([
        T("leave_chat.review.denied", name="王芳", activity=INSPECTION_LINE),
        listing(item(1, "周涛", INSPECTION_LINE, reason="家里老人住院"))])

    [leave] = await leave_requests(db, org.wang.id or 0)
    assert (leave.status, leave.decision_note, leave.decided_by_name) == (LeaveStatus.DENIED, note, "钱秘书")
    await only_event(db, "leave.decide", channel=Channel.CHAT, actor_member_id=org.qian.id, object_id=leave.id,
                     before={"status": "pending"}, after={"status": "denied"})
    assert T("leave.notify.denied", title=INSPECTION, note=note) in await app.chat("sim-wang").pushes()
    # The member sees the reason in 我的请假 as well.
    assert T("leave_chat.mine.note", note=note) in await app.chat("sim-wang").says("我的请假")


async def test_a_number_shows_the_request_in_full(app: AppHarness, db: Database, org: Org, inspection: Activity,
                                                  clock: FrozenClock) -> None:
    await ask_leave(app.chat("sim-wang"))
    chen = app.chat("sim-chen")
    await chen.says("审批")
    assert await chen.says("1") == T("leave_chat.review.detail", name="王芳", group="城关镇",
                                     activity=INSPECTION_LINE, kind="病假", reason="住院治疗",
                                     created="11月21日 09:00")
    assert await chen.says("好的") == T("leave_chat.review.bad_decision")
    assert await chen.says("不批准") == T("leave_chat.review.ask_reason", name="王芳", activity=INSPECTION_LINE,
                                        min=2, max=300)
    # A change of mind while asked for the reason: "批准 1" is the approval, not a reason.
    assert await chen.says("批准 1") == "\n".join([
        T("leave_chat.review.approved", name="王芳", activity=INSPECTION_LINE), T("leave_chat.review.done")])
    assert [leave.status for leave in await leave_requests(db, org.wang.id or 0)] == [LeaveStatus.APPROVED]


async def test_wrong_answers_in_the_list_are_asked_again(app: AppHarness, inspection: Activity) -> None:
    await ask_leave(app.chat("sim-wang"))
    chen = app.chat("sim-chen")
    await chen.says("审批")
    assert await chen.says("批准 5") == T("leave_chat.review.bad_number", number=5)
    assert await chen.says("都同意") == T("leave_chat.review.bad_input")
    assert await chen.says("审批") == listing(item(1, "王芳", INSPECTION_LINE))  # a fresh list, not a mistake
    assert await chen.says("取消") == T("common.cancelled")


async def test_somebody_quicker_decided_already(app: AppHarness, db: Database, org: Org,
                                                inspection: Activity) -> None:
    await ask_leave(app.chat("sim-wang"))
    await ask_leave(app.chat("sim-zhou"), reason="家里老人住院")
    chen, qian = app.chat("sim-chen"), app.chat("sim-qian")
    await chen.says("审批")
    await qian.says("审批")
    await qian.says("同意 1")
    assert await chen.says("批准 1") == "\n\n".join([
        T("leave_chat.review.already_decided", name="王芳", status="已批准"),
        listing(item(1, "周涛", INSPECTION_LINE, reason="家里老人住院"))])
    # The member withdrew meanwhile: the same.
    await app.chat("sim-zhou").says("我的请假")
    await app.chat("sim-zhou").says("撤回 1")
    assert await chen.says("不批准 1") == "\n".join([
        T("leave_chat.review.already_decided", name="周涛", status="已撤回"), T("leave_chat.review.done")])
    pushes = await app.chat("sim-wang").pushes()
    assert pushes.count(T("leave.notify.approved", title=INSPECTION)) == 1  # told once, by the quicker one


async def test_the_words_of_every_review_queue_decide_leave_too(app: AppHarness, db: Database, org: Org,
                                                                inspection: Activity) -> None:
    """handlers.kit.review: 拒绝 with the reason on the same line, 通过, and other commands while the list is
    open."""
    await ask_leave(app.chat("sim-wang"))
    await ask_leave(app.chat("sim-zhou"), reason="家里老人住院")
    qian = app.chat("sim-qian")
    await qian.says("审批")
    assert "姓名：钱秘书" in await qian.says("我的")  # another command; the list stays open
    note = "这次调研需要您汇报，请安排时间参加"
    assert await qian.says(f"拒绝 1 {note}") == "\n\n".join([
        T("leave_chat.review.denied", name="王芳", activity=INSPECTION_LINE),
        listing(item(1, "周涛", INSPECTION_LINE, reason="家里老人住院"))])
    assert await qian.says("通过 1") == "\n".join([
        T("leave_chat.review.approved", name="周涛", activity=INSPECTION_LINE), T("leave_chat.review.done")])
    [wang] = await leave_requests(db, org.wang.id or 0)
    [zhou] = await leave_requests(db, org.zhou.id or 0)
    assert (wang.status, wang.decision_note, zhou.status) == (LeaveStatus.DENIED, note, LeaveStatus.APPROVED)


async def test_a_number_then_another_number_while_a_request_is_shown(app: AppHarness, inspection: Activity) -> None:
    await ask_leave(app.chat("sim-wang"))
    await ask_leave(app.chat("sim-zhou"), reason="家里老人住院")
    chen = app.chat("sim-chen")
    await chen.says("审批")
    await chen.says("1")
    assert (await chen.says("2")).startswith("请假申请：周涛")
    assert await chen.says("不批准 短") == T("leave_chat.review.bad_reason", min=2, max=300)


# --- who decides what -----------------------------------------------------------------------------

async def test_plenary_leave_is_decided_by_the_chairs_office_only(app: AppHarness, db: Database, org: Org,
                                                                  plenary: Activity, clock: FrozenClock) -> None:
    await ask_leave(app.chat("sim-wang"), reason="到省里参加培训", kind="公务")
    li_leave = await file_directly(db, org.li.id or 0, plenary.id or 0, clock.now(), "家中有事")
    # Told: the office secretary only; the group leader and the secretary limited to 东山镇 are not.
    assert len(await app.chat("sim-qian").pushes()) == 2
    assert await app.chat("sim-chen").pushes() == []
    assert await app.chat("sim-sun").pushes() == []

    assert await app.chat("sim-chen").says("审批") == T("leave_chat.review.empty")
    assert await app.chat("sim-sun").says("审批") == T("leave_chat.review.empty")  # not even 东山镇's 李强
    async with db.session() as session:  # nor by going round the list
        leave = await session.get(LeaveRequest, li_leave)
        sun = await session.get(Member, org.sun.id)
        assert leave is not None
        with pytest.raises(Refusal) as refused:
            await act.decide_leave(session, leave, approve=True, by=sun, now=clock.now(), texts=T)
    assert refused.value.key == "leave.error.forbidden"

    qian = app.chat("sim-qian")
    assert await qian.says("审批") == listing(item(1, "王芳", PLENARY_LINE, kind="公务", reason="到省里参加培训"),
                                            item(2, "李强", PLENARY_LINE, kind="事假", reason="家中有事"))
    await qian.says("批准 1")
    assert [leave.status for leave in await leave_requests(db, org.wang.id or 0)] == [LeaveStatus.APPROVED]


async def test_group_leave_is_decided_by_the_leader_not_by_another_groups_secretary(
        app: AppHarness, db: Database, org: Org, inspection: Activity, clock: FrozenClock) -> None:
    everybody = await make_activity(db, datetime(2026, 11, 24, 2, 0, tzinfo=UTC), title="县城污水处理视察")
    await ask_leave(app.chat("sim-wang"))
    await file_directly(db, org.li.id or 0, everybody.id or 0, clock.now(), "家中有事")
    sun, chen = app.chat("sim-sun"), app.chat("sim-chen")
    # sun (东山镇) sees 李强's request, not 王芳's (城关镇); chen the other way round.
    assert await sun.says("审批") == listing(item(1, "李强", "11月24日 10:00 县城污水处理视察", kind="事假",
                                                reason="家中有事"))
    assert await chen.says("审批") == listing(item(1, "王芳", INSPECTION_LINE))
    assert await chen.says("批准 1") == "\n".join([
        T("leave_chat.review.approved", name="王芳", activity=INSPECTION_LINE), T("leave_chat.review.done")])
    assert [leave.status for leave in await leave_requests(db, org.wang.id or 0)] == [LeaveStatus.APPROVED]


async def test_a_member_may_not_approve(app: AppHarness, inspection: Activity) -> None:
    await ask_leave(app.chat("sim-wang"))
    assert await app.chat("sim-zhou").says("审批") == T("leave_chat.review.forbidden")
    assert await app.chat("sim-zhou").says("批准 1") != T("leave_chat.review.approved", name="王芳",
                                                         activity=INSPECTION_LINE)
    assert await app.chat("sim-stranger").says("approve leave") == T("leave_chat.review.forbidden")
    assert await app.chat("sim-zhao").says("审批") == T("leave_chat.review.forbidden")  # suspended


async def test_nobody_decides_their_own_leave(app: AppHarness, db: Database, org: Org,
                                              inspection: Activity) -> None:
    await ask_leave(app.chat("sim-chen"), reason="外出开会", kind="公务")
    assert await app.chat("sim-chen").says("审批") == T("leave_chat.review.empty")
    assert await app.chat("sim-qian").says("审批") == listing(item(1, "陈组长", INSPECTION_LINE, kind="公务",
                                                                reason="外出开会"))


# --- after the window closed ----------------------------------------------------------------------

async def test_leave_approved_after_the_close_turns_absence_into_leave(app: AppHarness, db: Database, org: Org,
                                                                       inspection: Activity,
                                                                       clock: FrozenClock) -> None:
    await ask_leave(app.chat("sim-wang"))
    clock.set(inspection.signin_closes_at + timedelta(hours=2))
    async with db.session() as session:
        stored = await session.get(Activity, inspection.id)
        assert stored is not None
        assert await act.close_attendance(session, stored, now=clock.now())
    row = (await attendance_rows(db, inspection.id or 0))[org.wang.id or 0]
    assert row.status is AttendanceStatus.ABSENT  # the request was still pending at the close

    chen = app.chat("sim-chen")
    await chen.says("审批")
    await chen.says("批准 1")

    [leave] = await leave_requests(db, org.wang.id or 0)
    row = (await attendance_rows(db, inspection.id or 0))[org.wang.id or 0]
    assert (row.status, row.leave_id) == (AttendanceStatus.LEAVE, leave.id)
    async with db.reader() as session:
        corrections = (await session.scalars(
            select(AttendanceCorrection).where(AttendanceCorrection.attendance_id == row.id))).all()
    assert [(c.from_status, c.to_status, c.by_name, c.reason) for c in corrections] == [
        ("absent", "leave", "陈组长", T("attendance.leave_approved_late"))]
    assert T("leave.notify.approved", title=INSPECTION) in await app.chat("sim-wang").pushes()
