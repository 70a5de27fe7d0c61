"""The rules of activities in bot.domain.activities, without chat: window, rotating code, audience, sign-in
outcomes and idempotency, the automatic close, corrections, who may organise and who approves leave."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain import activities as act
from bot.domain.activities import ActivityDraft, Outcome
from bot.domain.authz import Action
from bot.domain.refusals import Refusal
from bot.infra.clock import FrozenClock
from bot.infra.config import ActivitySettings, ConfigError, load_settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.infra.services import Services
from models.activity import (
    Activity,
    ActivityStatus,
    ActivityType,
    Attendance,
    AttendanceCorrection,
    AttendanceStatus,
    Audience,
    LeaveKind,
    LeaveStatus,
    SignInMethod,
)
from models.scheduling import ScheduledTask, TaskStatus
from scheduler.tasks import execute_task
from tests.activity_support import VENUE, Org, attendance_rows, make_activity, reload

T = Catalogue()
PERIOD = 30


async def signin(db: Database, member_id: int, activity_id: int, now: datetime, **checks: bool) -> act.SignInResult:
    async with db.session() as session:
        member = await session.get(act.Member, member_id)
        activity = await session.get(Activity, activity_id)
        assert member is not None and activity is not None
        return await act.sign_in(session, member, activity, method=SignInMethod.CODE, now=now, **checks)


# --- pure rules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["签到 123456", "签到123456", "签到 １２３４５６", " 签到：123 456 ", "signin 123456",
                                  "SIGN IN 123456", "123456", "签到 123-456"])
def test_codes_are_read_from_what_members_type(text: str) -> None:
    assert act.parse_code(text) == "123456"


@pytest.mark.parametrize("text", ["签到", "签到 12345", "签到 1234567", "签到 abcdef", "报送 123456", ""])
def test_not_a_code(text: str) -> None:
    assert act.parse_code(text) is None


def test_scenes_round_trip_and_refuse_anything_else() -> None:
    assert act.parse_scene(act.scene_for(17, "004211")) == (17, "004211")
    assert act.parse_scene("qrscene_signin:17:004211") == (17, "004211")
    for bad in ("signin:x:004211", "signin:17:42", "login:17:004211", "signin:17", ""):
        assert act.parse_scene(bad) is None


def test_code_rotates_each_period_and_keeps_one_period_of_grace() -> None:
    activity = Activity(id=3, type=ActivityType.PLENARY, title="t", code_secret="k" * 32)
    start = datetime.fromtimestamp(1_800_000_000 - 1_800_000_000 % PERIOD, tz=FrozenClock().now().tzinfo)
    shown = act.shown_code(activity, start, PERIOD)
    assert shown.changes_at == start + timedelta(seconds=PERIOD)
    assert shown.valid_until == start + timedelta(seconds=2 * PERIOD)
    assert act.code_is_current(activity, shown.code, start + timedelta(seconds=PERIOD - 1), PERIOD)
    assert act.code_is_current(activity, shown.code, start + timedelta(seconds=2 * PERIOD - 1), PERIOD)  # grace
    assert not act.code_is_current(activity, shown.code, start + timedelta(seconds=2 * PERIOD), PERIOD)  # expired
    following = act.shown_code(activity, start + timedelta(seconds=PERIOD), PERIOD)
    assert following.code != shown.code and len(following.code) == 6 and following.code.isdigit()


def test_each_activity_has_its_own_codes() -> None:
    now = FrozenClock().now()
    one = Activity(id=1, type=ActivityType.OTHER, title="a", code_secret="a" * 32)
    other = Activity(id=2, type=ActivityType.OTHER, title="b", code_secret="b" * 32)
    assert act.shown_code(one, now, PERIOD).code != act.shown_code(other, now, PERIOD).code


def test_distance_is_in_metres() -> None:
    # 0.001 degree of latitude is about 111 m everywhere.
    assert act.distance_m(30.0, 120.0, 30.001, 120.0) == pytest.approx(111.2, abs=0.5)
    assert act.distance_m(*VENUE, *VENUE) == 0


def test_late_mark_after_the_close_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("activities:\n  late_after_minutes: 90\n  signin_closes_minutes_after: 60\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "late_after_minutes" in str(caught.value)


def test_both_locales_have_the_same_texts() -> None:
    assert Catalogue("en").keys() == Catalogue("zh_CN").keys()


# --- creating ---------------------------------------------------------------------------------------------------


async def test_the_window_follows_the_settings_and_the_close_is_scheduled(db: Database, org: Org,
                                                                          clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(days=2)
    activity = await make_activity(db, starts, settings=ActivitySettings(signin_opens_minutes_before=30,
                                                                         signin_closes_minutes_after=45,
                                                                         late_after_minutes=5))
    assert activity.signin_opens_at == starts - timedelta(minutes=30)
    assert activity.signin_closes_at == starts + timedelta(minutes=45)
    assert activity.late_after == starts + timedelta(minutes=5)
    assert activity.ends_at == starts + timedelta(minutes=120)
    async with db.reader() as session:
        task = await session.scalar(select(ScheduledTask).where(ScheduledTask.kind == act.CLOSE_TASK))
    assert task is not None and task.ref == str(activity.id) and task.run_at == activity.signin_closes_at


@pytest.mark.parametrize(("change", "key"), [
    ({"title": " "}, "activity.error.title"),
    ({"ends_at": "before"}, "activity.error.ends_before_start"),
    ({"latitude": 30.0}, "activity.error.geofence_incomplete"),
    ({"latitude": 95.0, "longitude": 120.0, "radius_m": 100}, "activity.error.geofence_range"),
    ({"latitude": 30.0, "longitude": 120.0, "radius_m": 5}, "activity.error.radius"),
    ({"require_location": True}, "activity.error.location_needs_geofence"),
    ({"audience": Audience.GROUPS}, "activity.error.audience_empty"),
    ({"late_after_minutes": 50, "closes_minutes_after": 40}, "activity.error.late_after_close"),
])
def test_bad_drafts_are_refused_with_a_text(change: dict[str, object], key: str, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(days=1)
    if change.get("ends_at") == "before":
        change["ends_at"] = starts - timedelta(minutes=1)
    fields = {"title": "走访", **change}
    draft = ActivityDraft(type=ActivityType.OTHER, starts_at=starts, **fields)  # type: ignore[arg-type]
    with pytest.raises(Refusal) as caught:
        act.check_draft(draft)
    assert caught.value.key == key and T.has(key)


def test_who_may_organise_what(org: Org, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(days=1)

    def draft(**fields: object) -> ActivityDraft:
        return ActivityDraft(type=ActivityType.VISIT, title="走访", starts_at=starts, **fields)  # type: ignore[arg-type]

    act.check_reach(org.qian, draft())  # the office: anything
    act.check_reach(None, draft())  # the admin API
    own_group = draft(audience=Audience.GROUPS, audience_ids=[org.chengguan], group_id=org.chengguan)
    act.check_reach(org.chen, own_group)
    refusals = [
        (org.wang, own_group, "activity.error.forbidden"),
        (org.chen, draft(), "activity.error.group_out_of_reach"),
        (org.sun, own_group, "activity.error.group_out_of_reach"),
        (org.sun, draft(audience=Audience.ALL, group_id=org.dongshan), "activity.error.audience_out_of_reach"),
        (org.sun, draft(audience=Audience.GROUPS, audience_ids=[org.dongshan, org.chengguan], group_id=org.dongshan),
         "activity.error.audience_out_of_reach"),
    ]
    for who, what, key in refusals:
        with pytest.raises(Refusal) as caught:
            act.check_reach(who, what)
        assert caught.value.key == key, (who.name, key)


# --- the audience ---------------------------------------------------------------------------------------------


async def test_audience_kinds(db: Database, org: Org, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(days=1)
    everyone = await make_activity(db, starts)
    group = await make_activity(db, starts, audience=Audience.GROUPS, audience_ids=[org.chengguan])
    listed = await make_activity(db, starts, audience=Audience.MEMBERS, audience_ids=[org.li.id or 0])
    async with db.reader() as session:
        # Active members only: the suspended 赵敏 is never expected.
        assert await act.audience_size(session, everyone) == 7
        assert await act.audience_size(session, group) == 3
        assert await act.audience_size(session, listed) == 1
    assert act.in_audience(org.wang, group) and not act.in_audience(org.li, group)
    assert act.in_audience(org.li, listed) and not act.in_audience(org.wang, listed)
    assert not act.in_audience(org.zhao, everyone)


# --- signing in -----------------------------------------------------------------------------------------------


async def test_sign_in_outcomes_through_the_day(db: Database, org: Org, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(hours=2)  # 11:00; opens 10:00, late after 11:10, closes 12:00
    activity = await make_activity(db, starts, audience=Audience.GROUPS, audience_ids=[org.chengguan])
    aid = activity.id or 0
    assert (await signin(db, org.wang.id or 0, aid, clock.now())).outcome == Outcome.NOT_OPEN
    clock.set(starts - timedelta(minutes=60))
    first = await signin(db, org.wang.id or 0, aid, clock.now())
    assert first.outcome == Outcome.SIGNED_IN and first.attendance is not None
    again = await signin(db, org.wang.id or 0, aid, clock.now() + timedelta(minutes=5))
    assert again.outcome == Outcome.ALREADY and again.attendance is not None
    assert again.attendance.signed_in_at == clock.now()
    assert (await signin(db, org.li.id or 0, aid, clock.now())).outcome == Outcome.NOT_IN_AUDIENCE
    clock.set(starts + timedelta(minutes=10, seconds=1))
    assert (await signin(db, org.zhou.id or 0, aid, clock.now())).outcome == Outcome.LATE
    clock.set(starts + timedelta(minutes=61))
    assert (await signin(db, org.chen.id or 0, aid, clock.now())).outcome == Outcome.CLOSED
    assert (await signin(db, org.wang.id or 0, aid, clock.now())).outcome == Outcome.ALREADY  # still true later
    rows = await attendance_rows(db, aid)
    assert {member: row.status for member, row in rows.items()} == {
        org.wang.id: AttendanceStatus.PRESENT, org.zhou.id: AttendanceStatus.LATE}


async def test_a_cancelled_activity_takes_no_sign_in(db: Database, org: Org, clock: FrozenClock) -> None:
    activity = await make_activity(db, clock.now() + timedelta(minutes=10))
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        await act.cancel_activity(session, stored, now=clock.now())
        task = await session.scalar(select(ScheduledTask).where(ScheduledTask.kind == act.CLOSE_TASK))
        assert task is not None and task.status is TaskStatus.CANCELLED
    assert (await signin(db, org.wang.id or 0, activity.id or 0, clock.now())).outcome == Outcome.CANCELLED


async def test_location_policy_needs_both_halves(db: Database, org: Org, clock: FrozenClock) -> None:
    activity = await make_activity(db, clock.now() + timedelta(minutes=10), geofence=(*VENUE, 200),
                                   require_location=True)
    aid = activity.id or 0
    assert (await signin(db, org.wang.id or 0, aid, clock.now(), code_checked=True)).outcome == Outcome.NEED_LOCATION
    assert (await signin(db, org.wang.id or 0, aid, clock.now(), location_checked=True)).outcome == Outcome.NEED_CODE
    both = await signin(db, org.wang.id or 0, aid, clock.now(), code_checked=True, location_checked=True)
    assert both.outcome == Outcome.SIGNED_IN


async def test_geofence_edge(db: Database, org: Org, clock: FrozenClock) -> None:
    await make_activity(db, clock.now() + timedelta(minutes=10), geofence=(*VENUE, 200))
    metre = 1 / 111_195  # one metre of latitude in degrees
    async with db.session() as session:
        outside = await act.sign_in_by_location(session, org.wang, VENUE[0] + 201 * metre, VENUE[1], now=clock.now())
        inside = await act.sign_in_by_location(session, org.wang, VENUE[0] + 199 * metre, VENUE[1], now=clock.now())
    assert outside.outcome == Outcome.OUTSIDE and outside.distance_m == pytest.approx(201, abs=0.5)
    assert inside.outcome == Outcome.SIGNED_IN and inside.attendance is not None
    assert inside.attendance.method is SignInMethod.LOCATION


async def test_location_without_an_open_geofenced_activity(db: Database, org: Org, clock: FrozenClock) -> None:
    async with db.session() as session:
        assert (await act.sign_in_by_location(session, org.wang, *VENUE, now=clock.now())).outcome == \
            Outcome.NOTHING_OPEN
    later = await make_activity(db, clock.now() + timedelta(hours=3), geofence=(*VENUE, 200))
    async with db.session() as session:
        result = await act.sign_in_by_location(session, org.wang, *VENUE, now=clock.now())
    assert result.outcome == Outcome.NOT_OPEN and result.activity is not None and result.activity.id == later.id


async def test_concurrent_sign_ins_record_one_row(db: Database, org: Org, clock: FrozenClock) -> None:
    activity = await make_activity(db, clock.now() + timedelta(minutes=10))
    results = await asyncio.gather(*(signin(db, org.wang.id or 0, activity.id or 0, clock.now()) for _ in range(8)))
    outcomes = sorted(result.outcome for result in results)
    assert outcomes.count(Outcome.SIGNED_IN) == 1 and outcomes.count(Outcome.ALREADY) == 7
    async with db.reader() as session:
        count = await session.scalar(select(func.count()).select_from(Attendance))
    assert count == 1


async def test_a_typed_code_finds_its_activity(db: Database, org: Org, clock: FrozenClock) -> None:
    first = await make_activity(db, clock.now() + timedelta(minutes=10), title="常委会")
    second = await make_activity(db, clock.now() + timedelta(minutes=20), title="调研")
    async with db.reader() as session:
        for activity in (first, second):
            code = act.shown_code(activity, clock.now(), PERIOD).code
            found = await act.find_by_code(session, code, clock.now(), PERIOD)
            assert found is not None and found.id == activity.id
        code = act.shown_code(first, clock.now(), PERIOD).code
        assert await act.find_by_code(session, code, clock.now() + timedelta(seconds=2 * PERIOD), PERIOD) is None


# --- closing, leave and corrections ---------------------------------------------------------------------------


async def test_close_computes_absence_once(db: Database, org: Org, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(minutes=10)
    activity = await make_activity(db, starts, audience=Audience.GROUPS, audience_ids=[org.chengguan, org.dongshan])
    aid = activity.id or 0
    await signin(db, org.wang.id or 0, aid, clock.now())
    async with db.session() as session:
        stored = await session.get(Activity, aid)
        assert stored is not None
        leave = await act.request_leave(session, org.zhou, stored, kind=LeaveKind.SICK, reason="住院治疗",
                                        now=clock.now(), texts=T)
        await act.decide_leave(session, leave, approve=True, by=org.chen, now=clock.now(), texts=T)
        pending = await act.request_leave(session, org.li, stored, kind=LeaveKind.PERSONAL, reason="家中有事",
                                          now=clock.now(), texts=T)
        assert pending.status is LeaveStatus.PENDING
    clock.set(starts + timedelta(minutes=61))
    async with db.session() as session:
        assert await act.close_due_activities(session, clock.now()) == [aid]
        assert await act.close_due_activities(session, clock.now()) == []  # idempotent
    rows = await attendance_rows(db, aid)
    assert {member: row.status for member, row in rows.items()} == {
        org.wang.id: AttendanceStatus.PRESENT,
        org.zhou.id: AttendanceStatus.LEAVE,  # approved leave
        org.chen.id: AttendanceStatus.ABSENT,
        org.li.id: AttendanceStatus.ABSENT,  # a pending request does not excuse
        org.nobody.id: AttendanceStatus.ABSENT,  # never registered: still expected
    }  # the suspended 赵敏 is not expected at all
    assert rows[org.zhou.id or 0].leave_id is not None
    async with db.reader() as session:
        closed = await session.get(Activity, aid)
        assert closed is not None and closed.status is ActivityStatus.CLOSED
        result = await act.tally(session, closed)
    assert (result.expected, result.attended, result.leave, result.absent) == (5, 1, 1, 3)
    assert result.rate == pytest.approx(1 / 4)


async def test_the_close_task_runs_at_the_window_close(db: Database, org: Org, clock: FrozenClock,
                                                       settings: object) -> None:
    starts = clock.now() + timedelta(minutes=10)
    activity = await make_activity(db, starts)
    services = Services(settings=settings, db=db, clock=clock, texts=T)  # type: ignore[arg-type]
    async with db.reader() as session:
        task = await session.scalar(select(ScheduledTask).where(ScheduledTask.kind == act.CLOSE_TASK))
    assert task is not None and task.id is not None
    clock.set(activity.signin_closes_at)
    import scheduler.core  # noqa: F401  (registers the task handlers, as the running scheduler does)

    outcome = await execute_task(services, task.id, grace=timedelta(hours=1), zone=act_zone())
    assert outcome is not None and outcome.value == "ran"
    assert (await reload(db, activity.id or 0)).status is ActivityStatus.CLOSED
    assert len(await attendance_rows(db, activity.id or 0)) == 7


def act_zone() -> object:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


async def test_corrections_keep_their_reason(db: Database, org: Org, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(minutes=10)
    activity = await make_activity(db, starts)
    clock.set(starts + timedelta(minutes=61))
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        await act.close_attendance(session, stored, now=clock.now())
        with pytest.raises(Refusal) as no_reason:
            await act.correct_attendance(session, stored, org.wang, status=AttendanceStatus.PRESENT, reason=" ",
                                         by=org.qian, now=clock.now())
        assert no_reason.value.key == "attendance.error.reason"
        with pytest.raises(Refusal) as out_of_scope:
            await act.correct_attendance(session, stored, org.wang, status=AttendanceStatus.PRESENT,
                                         reason="手机没电，现场签到表为证", by=org.sun, now=clock.now())
        assert out_of_scope.value.key == "attendance.error.forbidden"
        row = await act.correct_attendance(session, stored, org.wang, status=AttendanceStatus.PRESENT,
                                           reason="手机没电，现场签到表为证", by=org.chen, now=clock.now())
        assert row.status is AttendanceStatus.PRESENT and row.signed_in_at == clock.now()
    async with db.reader() as session:
        history = (await session.scalars(select(AttendanceCorrection))).all()
    assert [(h.from_status, h.to_status, h.by_name) for h in history] == [("absent", "present", "陈组长")]


async def test_leave_approvers_depend_on_the_activity_type(db: Database, org: Org, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(days=1)
    plenary = await make_activity(db, starts, type_=ActivityType.PLENARY)
    visit = await make_activity(db, starts, type_=ActivityType.VISIT)
    assert act.approval_action(plenary) is Action.APPROVE_PLENARY_LEAVE
    assert act.approval_action(visit) is Action.APPROVE_LEAVE
    async with db.reader() as session:
        for_plenary = {m.name for m in await act.leave_approvers(session, plenary, org.wang)}
        for_visit = {m.name for m in await act.leave_approvers(session, visit, org.wang)}
        for_li = {m.name for m in await act.leave_approvers(session, visit, org.li)}
    assert for_plenary == {"钱秘书"}
    assert for_visit == {"钱秘书", "陈组长"}
    assert for_li == {"钱秘书", "孙秘书"}
    assert not act.may_decide_leave(org.chen, visit, org.chen)  # nobody approves their own leave


async def test_no_leave_after_signing_in_and_none_left_pending_by_a_cancellation(db: Database, org: Org,
                                                                                  clock: FrozenClock) -> None:
    activity = await make_activity(db, clock.now() + timedelta(minutes=10))
    await signin(db, org.wang.id or 0, activity.id or 0, clock.now())
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        with pytest.raises(Refusal) as refused:
            await act.request_leave(session, org.wang, stored, kind=LeaveKind.SICK, reason="不舒服", now=clock.now(),
                                    texts=T)
        assert refused.value.key == "leave.error.signed_in"
        leave = await act.request_leave(session, org.li, stored, kind=LeaveKind.SICK, reason="住院治疗",
                                        now=clock.now(), texts=T)
        await act.cancel_activity(session, stored, now=clock.now())
        assert leave.status is LeaveStatus.WITHDRAWN
        assert await act.pending_leave_for(session, org.qian) == []
