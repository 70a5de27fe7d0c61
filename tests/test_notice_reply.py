"""A member answers a meeting notice in chat: ``参加`` (confirmed with what the day needs, twice is harmless,
nothing to answer, not registered, already on leave) and ``请假`` right after a notice (straight to that
activity, ``其他`` for the list, the answer recorded and taken back on withdrawal or denial, the usual list when the
notice is old or answered).

The clock stands at 2026-11-21 09:00 in Shanghai (a Saturday). ``notify`` creates an activity through
:func:`bot.domain.activities.create_activity` with an outbox, so its meeting notice is really sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain import activities as act
from bot.domain import notices
from bot.domain.activities import ActivityDraft
from bot.domain.notices import Outbox
from bot.infra.clock import FrozenClock
from bot.infra.config import ActivitySettings, Settings
from bot.infra.db import Database
from models.activity import Activity, ActivityType, Audience, LeaveKind, LeaveRequest
from models.member import Identity, Member, MemberStatus, Platform
from models.notice import ActivityResponse, NoticeReceipt, Response
from tests.activity_support import Org, T, leave_requests
from tests.support import AppHarness, running_app

STANDING = "十届常委会第五次会议"
VENUE = "县政协三楼会议室"
STARTS = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # Wednesday 25 November, 09:00 in Shanghai
KINDS = "1. 病假\n2. 事假\n3. 公务"


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


async def notify(app: AppHarness, starts_at: datetime = STARTS, *, title: str = STANDING,
                 type_: ActivityType = ActivityType.STANDING, **fields: object) -> Activity:
    """An activity whose meeting notice goes out now, as the API and 新建活动 do it."""
    services = app.services
    outbox = Outbox(services.texts, services.settings, await services.signer(), services.clock.now())
    draft = ActivityDraft(type=type_, title=title, starts_at=starts_at, venue=VENUE, **fields)  # type: ignore[arg-type]
    async with services.db.session() as session:
        return await act.create_activity(session, draft, settings=ActivitySettings(), by=None,
                                         now=services.clock.now(), outbox=outbox)


def confirmed(first: str, *, title: str = STANDING, type_: str = "常委会", when: str = "11月25日（周三）09:00",
              opens: str = "08:00", location: bool = False) -> str:
    lines = [T(first), T("study_chat.attend.detail", type=type_, title=title, when=when, venue=VENUE),
             T("study_chat.attend.signin", opens=T("study_chat.attend.same_day", time=opens))]
    if location:
        lines.append(T("study_chat.attend.signin_location"))
    return "\n".join([*lines, T("study_chat.attend.change")])


async def answers(db: Database, activity: Activity) -> notices.Answers:
    async with db.reader() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        return await notices.answers_for(session, stored)


async def responses(db: Database, activity: Activity) -> dict[int, Response]:
    async with db.reader() as session:
        rows = (await session.execute(select(ActivityResponse.member_id, ActivityResponse.response)
                                      .where(ActivityResponse.activity_id == activity.id))).all()
    return {member_id: response for member_id, response in rows}


# --- 参加 ---------------------------------------------------------------------------------------------------


async def test_attend_after_a_notice_confirms_with_what_the_day_needs(app: AppHarness, db: Database, org: Org,
                                                                      clock: FrozenClock) -> None:
    meeting = await notify(app)
    wang = app.chat("sim-wang")
    [pushed] = await wang.pushes()
    assert STANDING in pushed and "参加" in pushed
    clock.advance(minutes=3)
    assert await wang.says("参加") == confirmed("study_chat.attend.confirmed")
    assert (await answers(db, meeting)).attend == [org.wang.id]
    async with db.reader() as session:  # answering is reading: the receipt counts as read
        receipt = await session.scalar(select(NoticeReceipt).where(NoticeReceipt.member_id == org.wang.id))
        assert receipt is not None and receipt.read_at == clock.now()
    # Twice (or in other words) is harmless: one answer, and the member is told it was already recorded.
    assert await wang.says("参加") == confirmed("study_chat.attend.again")
    assert await wang.says("ＡＴＴＥＮＤ") == confirmed("study_chat.attend.again")
    assert await app.chat("sim-zhou").says("出席") == confirmed("study_chat.attend.confirmed")
    assert await responses(db, meeting) == {org.wang.id: Response.ATTEND, org.zhou.id: Response.ATTEND}
    assert sorted((await answers(db, meeting)).attend) == sorted([org.wang.id, org.zhou.id])


async def test_attend_answers_the_latest_notice_and_mentions_the_location(app: AppHarness, db: Database,
                                                                          org: Org, clock: FrozenClock) -> None:
    first = await notify(app)
    clock.advance(minutes=10)
    second = await notify(app, datetime(2026, 11, 23, 6, 30, tzinfo=UTC), title="城关镇农贸市场调研",
                          type_=ActivityType.INSPECTION, latitude=30.27, longitude=120.15, radius_m=300,
                          require_location=True)
    assert await app.chat("sim-wang").says("参加") == confirmed(
        "study_chat.attend.confirmed", title="城关镇农贸市场调研", type_="调研视察", when="11月23日（周一）14:30",
        opens="13:30", location=True)
    assert await responses(db, second) == {org.wang.id: Response.ATTEND}
    assert await responses(db, first) == {}


async def test_attend_with_no_notice_to_answer(app: AppHarness, db: Database, org: Org,
                                               clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("参加") == T("study_chat.attend.nothing")
    meeting = await notify(app)
    # Not for 东山镇's 李强: he got no notice of this group's meeting.
    await notify(app, title="城关镇委员座谈", audience=Audience.GROUPS, audience_ids=[org.chengguan])
    assert await app.chat("sim-li").says("参加") == confirmed("study_chat.attend.confirmed")  # the first one
    async with db.session() as session:  # the first is cancelled: nothing left for 李强 to answer
        stored = await session.get(Activity, meeting.id)
        assert stored is not None
        await act.cancel_activity(session, stored, now=clock.now())
    assert await app.chat("sim-li").says("参加") == T("study_chat.attend.nothing")
    clock.set(STARTS + timedelta(hours=2))  # past the sign-in window of the group's meeting too
    assert await wang.says("参加") == T("study_chat.attend.nothing")


async def test_attend_needs_a_registered_member(app: AppHarness, db: Database, org: Org) -> None:
    await notify(app)
    assert await app.chat("sim-stranger").says("参加") == T("study_chat.not_member")
    assert await app.chat("sim-zhao").says("参加") == T("study_chat.not_member")  # suspended
    async with db.session() as session:
        applicant = Member(name="郑新", mobile="13900000077", status=MemberStatus.PENDING)
        session.add(applicant)
        await session.flush()
        assert applicant.id is not None
        session.add(Identity(member_id=applicant.id, platform=Platform.SIMULATOR, external_id="sim-newcomer"))
    assert await app.chat("sim-newcomer").says("参加") == T("study_chat.pending_member")


async def test_attend_while_on_leave_or_signed_in_says_so(app: AppHarness, db: Database, org: Org,
                                                          clock: FrozenClock) -> None:
    meeting = await notify(app)
    async with db.session() as session:
        stored = await session.get(Activity, meeting.id)
        wang = await session.get(Member, org.wang.id)
        assert stored is not None and wang is not None
        await act.request_leave(session, wang, stored, kind=LeaveKind.SICK, reason="住院治疗", now=clock.now(), texts=T)
    assert await app.chat("sim-wang").says("参加") == T("study_chat.attend.on_leave_pending", title=STANDING)
    assert await responses(db, meeting) == {}
    clock.set(STARTS - timedelta(minutes=20))
    async with db.session() as session:
        stored = await session.get(Activity, meeting.id)
        zhou = await session.get(Member, org.zhou.id)
        assert stored is not None and zhou is not None
        await act.sign_in(session, zhou, stored, method=act.SignInMethod.CODE, now=clock.now(), code_checked=True)
    assert await app.chat("sim-zhou").says("参加") == T("study_chat.attend.signed_in", title=STANDING)


# --- 请假 after a notice --------------------------------------------------------------------------------------


async def test_leave_right_after_a_notice_goes_to_that_activity(app: AppHarness, db: Database, org: Org,
                                                                clock: FrozenClock) -> None:
    inspection = await notify(app, datetime(2026, 11, 23, 6, 30, tzinfo=UTC), title="城关镇农贸市场调研",
                              type_=ActivityType.INSPECTION)
    clock.advance(hours=2)
    meeting = await notify(app)  # the latest notice
    clock.advance(hours=20)
    wang = app.chat("sim-wang")
    standing_line = f"11月25日 09:00 {STANDING}"
    assert await wang.says("请假") == "\n".join([T("leave_chat.ask_kind", activity=standing_line, kinds=KINDS),
                                               T("study_chat.leave_other")])
    listing = T("leave_chat.choose", choices=f"1. 11月23日 14:30 城关镇农贸市场调研\n2. {standing_line}")
    assert await wang.says("其他") == listing
    assert await wang.says("2") == T("leave_chat.ask_kind", activity=standing_line, kinds=KINDS)
    assert await wang.says("事假") == T("leave_chat.ask_reason", kind="事假", min=2, max=300)
    await wang.says("家中有事")
    # Filing answers the notice; 请假 again now lists the rest (the notice has its answer).
    assert await responses(db, meeting) == {org.wang.id: Response.LEAVE}
    assert org.wang.id in (await answers(db, meeting)).leave
    assert await wang.says("请假") == T("leave_chat.choose", choices="1. 11月23日 14:30 城关镇农贸市场调研")
    # Withdrawn, the request no longer answers the notice.
    await wang.says("我的请假")
    await wang.says("撤回 1")
    assert await responses(db, meeting) == {}
    assert org.wang.id in (await answers(db, meeting)).no_answer
    assert await responses(db, inspection) == {}


async def test_a_denied_request_no_longer_answers_the_notice(app: AppHarness, db: Database, org: Org,
                                                            clock: FrozenClock) -> None:
    meeting = await notify(app)
    clock.advance(hours=1)
    wang = app.chat("sim-wang")
    await wang.says("请假")
    await wang.says("事假")
    await wang.says("家中有事")
    assert await responses(db, meeting) == {org.wang.id: Response.LEAVE}
    (request,) = await leave_requests(db, org.wang.id)
    async with db.session() as session:
        stored = await session.get(LeaveRequest, request.id)
        assert stored is not None
        await act.decide_leave(session, stored, approve=False, by=None, note="常委会须本人出席",
                               now=clock.now(), texts=app.services.texts)
    # Not "leave" any more in 回执: the member is expected, and is asked again like everyone who has not answered.
    assert await responses(db, meeting) == {}
    assert org.wang.id in (await answers(db, meeting)).no_answer
    assert await wang.says("参加") == confirmed("study_chat.attend.confirmed")


async def test_leave_after_an_old_or_answered_notice_shows_the_list(app: AppHarness, db: Database, org: Org,
                                                                    clock: FrozenClock) -> None:
    meeting = await notify(app, STARTS + timedelta(days=7), title="十届常委会第六次会议")
    line = "12月2日 09:00 十届常委会第六次会议"
    zhou, wang = app.chat("sim-zhou"), app.chat("sim-wang")
    await zhou.says("参加")  # answered: 请假 is not taken as the answer to the notice
    assert await zhou.says("请假") == T("leave_chat.choose", choices=f"1. {line}")
    await zhou.says("取消")
    clock.advance(hours=73)  # an old notice: the usual list
    assert await wang.says("请假") == T("leave_chat.choose", choices=f"1. {line}")
    await wang.says("1")
    await wang.says("1")
    await wang.says("住院治疗")  # from the list, for an activity whose notice wang received: an answer too
    assert await responses(db, meeting) == {org.zhou.id: Response.ATTEND, org.wang.id: Response.LEAVE}


async def test_leave_after_a_notice_not_in_reach_any_more_shows_the_list(app: AppHarness, db: Database, org: Org,
                                                                         clock: FrozenClock) -> None:
    meeting = await notify(app)
    async with db.session() as session:  # asked already, from another device
        stored = await session.get(Activity, meeting.id)
        wang = await session.get(Member, org.wang.id)
        assert stored is not None and wang is not None
        await act.request_leave(session, wang, stored, kind=LeaveKind.SICK, reason="住院治疗", now=clock.now(), texts=T)
    assert await app.chat("sim-wang").says("请假") == T("leave_chat.nothing_upcoming")
