"""签到 through the simulator: each way to sign in, each answer, code rotation and expiry, duplicates, the
geofence edge, the require_location two-step, and signing in in the middle of another conversation.

The clock starts at 09:00 in Shanghai (2026-11-21); the usual meeting starts at 09:30, so its sign-in
window is 08:30–10:30 and signing in after 09:40 is late."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.activities import cancel_activity, distance_m, scene_for, shown_code
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.activity import Activity, AttendanceStatus, Audience, SignInMethod
from models.conversation import ConversationState
from models.report import Report, ReportStatus
from tests.activity_support import VENUE, Org, T, attendance_rows, make_activity
from tests.support import AppHarness, running_app

PERIOD = 30
METRES_PER_DEGREE = 111_194.93  # of latitude, on the sphere bot.domain.activities.distance_m uses
CATEGORIES = "1. 经济发展\n2. 社会民生\n3. 生态环境\n4. 文化教育\n5. 医疗卫生\n6. 社会治理\n7. 其他"


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


@pytest.fixture
async def meeting(db: Database, org: Org, clock: FrozenClock) -> Activity:
    return await make_activity(db, clock.now() + timedelta(minutes=30))


def code_of(activity: Activity, clock: FrozenClock, periods_ago: int = 0) -> str:
    """The code the venue screen shows now (or showed ``periods_ago`` periods ago)."""
    return shown_code(activity, clock.now() - timedelta(seconds=PERIOD * periods_ago), PERIOD).code


def scene_of(activity: Activity, clock: FrozenClock, periods_ago: int = 0) -> str:
    return scene_for(activity.id or 0, code_of(activity, clock, periods_ago))


def wide(text: str) -> str:
    """Full-width digits, as some phone keyboards type them."""
    return text.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


def north_of_venue(metres: float) -> tuple[float, float]:
    return VENUE[0] + metres / METRES_PER_DEGREE, VENUE[1]


def signed(activity: Activity, time: str = "09:00") -> str:
    return T("signin.signed_in", title=activity.title, time=time)


async def state_of(db: Database, user: str) -> tuple[str | None, dict[str, Any]]:
    async with db.reader() as session:
        row = await session.get(ConversationState, f"sim:{user}")
    return (row.state, dict(row.data)) if row else (None, {})


# --- the ways to sign in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["签到 {code}", "签到{code}", "签到：{spaced}", "  签到　{wide} ", "signin {code}",
                                   "SIGN IN {code}", "Sign in: {spaced}", "签到 {dashed}"])
async def test_a_typed_code_signs_in_however_it_is_written(app: AppHarness, db: Database, org: Org,
                                                           meeting: Activity, clock: FrozenClock, typed: str) -> None:
    code = code_of(meeting, clock)
    text = typed.format(code=code, spaced=f"{code[:3]} {code[3:]}", wide=wide(code), dashed=f"{code[:3]}-{code[3:]}")
    assert await app.chat("sim-wang").says(text) == signed(meeting)
    row = (await attendance_rows(db, meeting.id or 0))[org.wang.id or 0]
    assert (row.status, row.method, row.signed_in_at) == (AttendanceStatus.PRESENT, SignInMethod.CODE, clock.now())
    assert row.group_id == org.chengguan


async def test_a_bare_number_is_a_code_only_after_signin(app: AppHarness, db: Database, meeting: Activity,
                                                         clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    code = code_of(meeting, clock)
    assert await wang.says(code) != signed(meeting)  # six digits alone could be anything
    assert await attendance_rows(db, meeting.id or 0) == {}
    ways = "\n".join([T("signin.how.open", title=meeting.title, closes="10:30"), T("signin.how.ways"),
                      T("signin.how.code"), T("signin.how.scan")])
    assert await wang.says("签到") == ways
    assert await wang.says(wide(code)) == signed(meeting)
    assert await state_of(db, "sim-wang") == (None, {})


async def test_the_menu_item_asks_for_the_code_too(app: AppHarness, meeting: Activity, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert (await wang.clicks("SIGNIN")).startswith(T("signin.how.open", title=meeting.title, closes="10:30"))
    assert await wang.says(code_of(meeting, clock)) == signed(meeting)


async def test_scanning_the_screen_in_the_simulator_signs_in(app: AppHarness, db: Database, org: Org,
                                                              meeting: Activity, clock: FrozenClock) -> None:
    assert await app.chat("sim-wang").scans(scene_of(meeting, clock)) == signed(meeting)
    assert (await attendance_rows(db, meeting.id or 0))[org.wang.id or 0].method is SignInMethod.QR


async def test_a_location_inside_the_geofence_signs_in(app: AppHarness, db: Database, org: Org,
                                                        clock: FrozenClock) -> None:
    fenced = await make_activity(db, clock.now() + timedelta(minutes=30), geofence=(*VENUE, 200))
    assert await app.chat("sim-wang").shares_location(*VENUE, label="县政协") == signed(fenced)
    assert (await attendance_rows(db, fenced.id or 0))[org.wang.id or 0].method is SignInMethod.LOCATION


# --- what 签到 alone says ---------------------------------------------------------------------------------


async def test_signin_alone_with_nothing_to_sign_in_to(app: AppHarness, db: Database, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("签到") == T("signin.nothing_now")
    await make_activity(db, clock.now() + timedelta(days=1))  # tomorrow does not count
    assert await wang.says("signin") == T("signin.nothing_now")
    assert await state_of(db, "sim-wang") == (None, {})


async def test_signin_alone_tells_when_todays_next_one_opens(app: AppHarness, db: Database,
                                                             clock: FrozenClock) -> None:
    afternoon = await make_activity(db, clock.now() + timedelta(hours=6), title="专题协商会")  # 15:00
    assert await app.chat("sim-wang").says("签到") == T("signin.opens_later", title=afternoon.title,
                                                         when="今天", time="14:00")


async def test_signin_alone_mentions_the_location_when_there_is_a_geofence(app: AppHarness, db: Database,
                                                                          clock: FrozenClock) -> None:
    await make_activity(db, clock.now() + timedelta(minutes=30), geofence=(*VENUE, 200))
    assert (await app.chat("sim-wang").says("签到")).endswith(T("signin.how.location"))
    await make_activity(db, clock.now() + timedelta(minutes=20), title="常委会", geofence=(*VENUE, 200),
                        require_location=True)
    both = await app.chat("sim-zhou").says("签到")
    assert "常委会" in both and both.endswith(T("signin.how.both"))


async def test_signin_alone_after_signing_in_says_so(app: AppHarness, meeting: Activity, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    await wang.says(f"签到 {code_of(meeting, clock)}")
    clock.advance(minutes=3)
    assert await wang.says("签到") == T("signin.already", title=meeting.title, time="09:00")


# --- every answer -----------------------------------------------------------------------------------------


async def test_late_after_the_late_mark(app: AppHarness, db: Database, org: Org, meeting: Activity,
                                        clock: FrozenClock) -> None:
    clock.advance(minutes=45)  # 09:45, the meeting started at 09:30
    late = await app.chat("sim-wang").says(f"签到 {code_of(meeting, clock)}")
    assert late == T("signin.late", title=meeting.title, start="09:30", time="09:45")
    assert (await attendance_rows(db, meeting.id or 0))[org.wang.id or 0].status is AttendanceStatus.LATE


async def test_already_signed_in_keeps_the_first_time(app: AppHarness, db: Database, meeting: Activity,
                                                      clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says(f"签到 {code_of(meeting, clock)}") == signed(meeting)
    clock.advance(minutes=2)
    already = T("signin.already", title=meeting.title, time="09:00")
    assert await wang.scans(scene_of(meeting, clock)) == already
    assert await wang.shares_location(*VENUE) == T("signin.no_location_activity")  # no geofence: not a sign-in
    assert await wang.scans(scene_of(meeting, clock, periods_ago=5)) == already  # an old QR code too
    assert len(await attendance_rows(db, meeting.id or 0)) == 1


async def test_not_open_yet_says_when(app: AppHarness, db: Database, clock: FrozenClock) -> None:
    afternoon = await make_activity(db, clock.now() + timedelta(hours=5))  # 14:00, opens 13:00
    wang = app.chat("sim-wang")
    assert await wang.says(f"签到 {code_of(afternoon, clock)}") == T("signin.not_open", title=afternoon.title,
                                                                      when="今天", time="13:00")
    tomorrow = await make_activity(db, clock.now() + timedelta(days=1, minutes=30), title="全体会议")
    assert await wang.scans(scene_of(tomorrow, clock)) == T("signin.not_open", title="全体会议",
                                                            when="11月22日", time="08:30")
    assert await attendance_rows(db, afternoon.id or 0) == {}


async def test_closed_after_the_window(app: AppHarness, db: Database, clock: FrozenClock) -> None:
    early = await make_activity(db, clock.now() - timedelta(hours=2))  # 07:00, closed at 08:00
    closed = T("signin.closed", title=early.title, time="08:00")
    assert await app.chat("sim-wang").says(f"签到 {code_of(early, clock)}") == closed
    assert await app.chat("sim-zhou").scans(scene_of(early, clock, periods_ago=3)) == closed


async def test_cancelled(app: AppHarness, db: Database, meeting: Activity, clock: FrozenClock) -> None:
    async with db.session() as session:
        activity = await session.get(Activity, meeting.id)
        assert activity is not None
        await cancel_activity(session, activity, now=clock.now())
    cancelled = T("signin.cancelled", title=meeting.title)
    assert await app.chat("sim-wang").scans(scene_of(meeting, clock)) == cancelled
    assert await app.chat("sim-zhou").scans(scene_of(meeting, clock, periods_ago=4)) == cancelled
    assert await attendance_rows(db, meeting.id or 0) == {}


async def test_not_in_the_audience(app: AppHarness, db: Database, org: Org, clock: FrozenClock) -> None:
    dongshan = await make_activity(db, clock.now() + timedelta(minutes=30), title="东山镇走访",
                                   audience=Audience.GROUPS, audience_ids=[org.dongshan])
    answer = T("signin.not_in_audience", title="东山镇走访")
    assert await app.chat("sim-wang").says(f"签到 {code_of(dongshan, clock)}") == answer
    assert await app.chat("sim-li").says(f"签到 {code_of(dongshan, clock)}") == signed(dongshan)


async def test_strangers_are_told_to_register(app: AppHarness, meeting: Activity, clock: FrozenClock) -> None:
    stranger = app.chat("sim-stranger")
    assert await stranger.says(f"签到 {code_of(meeting, clock)}") == T("signin.not_registered")
    assert await stranger.scans(scene_of(meeting, clock)) == T("signin.not_registered")
    assert await stranger.shares_location(*VENUE) == T("signin.not_registered")
    assert await stranger.says("签到") == T("signin.not_registered")
    assert "姓名" in await stranger.says("注册")  # and 注册 goes on as usual


async def test_a_suspended_member_is_told_why(app: AppHarness, meeting: Activity, clock: FrozenClock) -> None:
    answer = await app.chat("sim-zhao").says(f"签到 {code_of(meeting, clock)}")
    assert answer == T("signin.not_active", status=T("members.status.suspended"))


async def test_unknown_and_malformed_codes(app: AppHarness, db: Database, meeting: Activity,
                                           clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    wrong = f"{(int(code_of(meeting, clock)) + 1) % 1_000_000:06d}"
    assert await wang.says(f"签到 {wrong}") == T("signin.bad_code", code=wrong)
    assert await wang.says("签到 12345") == T("signin.bad_format")
    assert await wang.scans(f"signin:{(meeting.id or 0) + 100}:{code_of(meeting, clock)}") == T("signin.bad_scan")
    assert await wang.scans("signin:not-a-scene") == T("signin.bad_scan")
    assert await attendance_rows(db, meeting.id or 0) == {}


# --- the rotating code ------------------------------------------------------------------------------------


async def test_a_code_works_in_its_period_and_the_next_then_never(app: AppHarness, db: Database, org: Org,
                                                                  meeting: Activity, clock: FrozenClock) -> None:
    first = code_of(meeting, clock)
    clock.advance(seconds=29)  # still its own period
    assert await app.chat("sim-wang").says(f"签到 {first}") == signed(meeting)
    clock.advance(seconds=1)  # the next period: the screen shows another code, the old one has its grace
    assert code_of(meeting, clock) != first
    assert await app.chat("sim-zhou").says(f"签到 {first}") == signed(meeting)
    clock.advance(seconds=30)  # two periods on: refused, typed or scanned
    assert await app.chat("sim-li").says(f"签到 {first}") == T("signin.bad_code", code=first)
    assert await app.chat("sim-li").scans(scene_for(meeting.id or 0, first)) == T("signin.expired_scan")
    assert await app.chat("sim-li").scans(scene_of(meeting, clock)) == signed(meeting, "09:01")
    assert set(await attendance_rows(db, meeting.id or 0)) == {org.wang.id, org.zhou.id, org.li.id}


# --- duplicates -------------------------------------------------------------------------------------------


async def test_the_same_sign_in_at_once_records_one_row(app: AppHarness, db: Database, org: Org,
                                                        meeting: Activity, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    code = code_of(meeting, clock)
    answers = await asyncio.gather(*(wang.says(f"签到 {code}") for _ in range(4)),
                                   *(wang.scans(scene_of(meeting, clock)) for _ in range(2)))
    already = T("signin.already", title=meeting.title, time="09:00")
    assert sorted(answers) == sorted([signed(meeting)] + [already] * 5)
    assert list(await attendance_rows(db, meeting.id or 0)) == [org.wang.id]


async def test_many_members_at_once_each_get_their_row(app: AppHarness, db: Database, meeting: Activity,
                                                       clock: FrozenClock) -> None:
    users = ["sim-wang", "sim-zhou", "sim-li", "sim-chen", "sim-qian", "sim-sun"]
    code = code_of(meeting, clock)
    answers = await asyncio.gather(*(app.chat(user).says(f"签到 {code}") for user in users))
    assert answers == [signed(meeting)] * len(users)
    assert len(await attendance_rows(db, meeting.id or 0)) == len(users)


async def test_a_retried_message_is_answered_again_without_a_second_row(app: AppHarness, db: Database,
                                                                        meeting: Activity, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    first = await wang.send("text", text=f"签到 {code_of(meeting, clock)}", msg_id="retry-1")
    clock.advance(seconds=5)
    again = await wang.send("text", text=f"签到 {code_of(meeting, clock)}", msg_id="retry-1")
    assert first == again and first is not None and first["text"] == signed(meeting)
    assert len(await attendance_rows(db, meeting.id or 0)) == 1


# --- the geofence -----------------------------------------------------------------------------------------


async def test_the_geofence_edge(app: AppHarness, db: Database, org: Org, clock: FrozenClock) -> None:
    fenced = await make_activity(db, clock.now() + timedelta(minutes=30), geofence=(*VENUE, 200))
    inside, outside = north_of_venue(199), north_of_venue(201)
    assert round(distance_m(*inside, *VENUE)) == 199 and round(distance_m(*outside, *VENUE)) == 201
    wang = app.chat("sim-wang")
    assert await wang.shares_location(*outside) == T("signin.outside", distance=201, radius=200)
    assert await attendance_rows(db, fenced.id or 0) == {}
    assert await wang.shares_location(*inside) == signed(fenced)
    far = north_of_venue(2_345.4)
    assert await app.chat("sim-zhou").shares_location(*far) == T("signin.outside", distance=2345, radius=200)


async def test_a_location_with_nothing_to_sign_in_to(app: AppHarness, db: Database, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.shares_location(*VENUE) == T("signin.no_location_activity")
    later = await make_activity(db, clock.now() + timedelta(hours=3), geofence=(*VENUE, 200))  # 12:00
    assert await wang.shares_location(*VENUE) == T("signin.not_open", title=later.title, when="今天", time="11:00")


# --- require_location: both halves ------------------------------------------------------------------------


@pytest.fixture
async def strict(db: Database, org: Org, clock: FrozenClock) -> Activity:
    return await make_activity(db, clock.now() + timedelta(minutes=30), title="常委会", geofence=(*VENUE, 200),
                               require_location=True)


async def test_code_first_then_location(app: AppHarness, db: Database, org: Org, strict: Activity,
                                        clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says(f"签到 {code_of(strict, clock)}") == T("signin.need_location", title="常委会")
    assert (await state_of(db, "sim-wang"))[0] == "SignIn:need_location"
    assert await wang.says("好的") == T("signin.remind_location")
    assert await wang.shares_location(*north_of_venue(450)) == T("signin.outside_only_location", distance=450,
                                                                 radius=200)
    assert await attendance_rows(db, strict.id or 0) == {}
    clock.advance(minutes=2)  # walked in; the code has changed meanwhile, which does not matter
    assert await wang.shares_location(*VENUE) == signed(strict, "09:02")
    row = (await attendance_rows(db, strict.id or 0))[org.wang.id or 0]
    assert row.method is SignInMethod.LOCATION
    assert await state_of(db, "sim-wang") == (None, {})


async def test_location_first_then_code(app: AppHarness, db: Database, strict: Activity, clock: FrozenClock) -> None:
    zhou = app.chat("sim-zhou")
    assert await zhou.shares_location(*VENUE) == T("signin.need_code")
    assert (await state_of(db, "sim-zhou"))[0] == "SignIn:need_code"
    assert await zhou.says("等一下") == T("signin.remind_code")
    assert await zhou.says(code_of(strict, clock)) == signed(strict)
    assert await state_of(db, "sim-zhou") == (None, {})


async def test_scan_first_then_location(app: AppHarness, strict: Activity, clock: FrozenClock) -> None:
    li = app.chat("sim-li")
    assert await li.scans(scene_of(strict, clock)) == T("signin.need_location", title="常委会")
    assert await li.shares_location(*north_of_venue(150)) == signed(strict)


async def test_a_code_alone_or_a_location_alone_is_not_enough(app: AppHarness, db: Database, strict: Activity,
                                                              clock: FrozenClock) -> None:
    chen = app.chat("sim-chen")
    assert await chen.says(f"签到 {code_of(strict, clock)}") == T("signin.need_location", title="常委会")
    assert await chen.says("签到") != signed(strict)  # a fresh 签到 starts over and forgets the code
    assert await chen.shares_location(*VENUE) == T("signin.need_code")
    clock.advance(minutes=11)  # the two halves belong together only for a while
    assert await chen.says(code_of(strict, clock)) == T("signin.need_location", title="常委会")
    assert await attendance_rows(db, strict.id or 0) == {}


async def test_wrong_answers_while_waiting_end_politely(app: AppHarness, db: Database, meeting: Activity) -> None:
    wang = app.chat("sim-wang")
    await wang.says("签到")
    assert await wang.says("好的") == T("signin.remind_code")
    assert await wang.says("123") == T("signin.bad_format")
    assert await wang.says("嗯") == T("conversation.too_many_wrong")
    assert await state_of(db, "sim-wang") == (None, {})


async def test_commands_work_while_waiting_for_the_code(app: AppHarness, meeting: Activity) -> None:
    wang = app.chat("sim-wang")
    await wang.says("签到")
    assert await wang.says("报送") == T("report.ask_title", limit=60)
    assert await wang.says("取消") == T("common.cancelled")


# --- in the middle of another conversation ----------------------------------------------------------------


async def test_scanning_in_the_middle_of_a_report_keeps_the_report(app: AppHarness, db: Database, org: Org,
                                                                   meeting: Activity, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("报送") == T("report.ask_title", limit=60)
    assert await wang.says("农贸市场周边停车难") == T("report.ask_category", choices=CATEGORIES)
    assert await wang.scans(scene_of(meeting, clock)) == signed(meeting)
    assert await wang.says("2") == T("report.ask_body", min=50, max=1500, photos=9)  # the report goes on
    async with db.reader() as session:
        report = (await session.scalars(select(Report).where(Report.member_id == org.wang.id))).one()
    assert (report.title, report.category, report.status) == ("农贸市场周边停车难", "社会民生", ReportStatus.DRAFT)


async def test_both_halves_in_the_middle_of_a_report(app: AppHarness, db: Database, org: Org, strict: Activity,
                                                     clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    await wang.says("报送")
    await wang.says("农贸市场周边停车难")
    assert await wang.scans(scene_of(strict, clock)) == T("signin.need_location", title="常委会")
    state, data = await state_of(db, "sim-wang")
    assert state == "ReportFlow:category" and data["signin"]["activity"] == strict.id  # noted beside the report
    assert await wang.shares_location(*VENUE) == signed(strict)
    state, data = await state_of(db, "sim-wang")
    assert state == "ReportFlow:category" and "signin" not in data
    assert await wang.says("2") == T("report.ask_body", min=50, max=1500, photos=9)


async def test_help_lists_signin(app: AppHarness) -> None:
    assert f"· 签到 — {T('signin.help')}" in await app.chat("sim-wang").says("帮助")
