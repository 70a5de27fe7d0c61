"""``活动``, ``新建活动`` and ``大屏 N`` through the simulator, and the start-time parser on its own.

The clock starts at 2026-11-21 01:00 UTC: Saturday 09:00 in Asia/Shanghai.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain import activities as ops
from bot.domain.links import screen_url
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from handlers.kit.audience import pick_many
from handlers.kit.timeparse import parse_when
from models.activity import Activity, ActivityType, Audience, LeaveKind, SignInMethod
from models.member import Member
from models.scheduling import ScheduledTask, TaskStatus
from tests.activity_support import VENUE, Org, T, make_activity
from tests.support import AppHarness, SimChat, running_app

TYPES = "\n".join(f"{n}. {T(f'activity.type.{kind.value}')}" for n, kind in enumerate(ActivityType, start=1))
GROUPS = "1. 城关镇\n2. 东山镇"
HALL = "县政协三楼会议室"


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Beijing-time wall clock as the UTC moment the database stores."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def item(number: int, kind: ActivityType, title: str, when: str, state: str, venue: str = HALL) -> str:
    return T("activity_chat.list.item", number=number, type=T(f"activity.type.{kind.value}"), title=title,
             when=when, venue=venue, state=T(f"activity_chat.state.{state}"))


async def only_activity(db: Database) -> Activity:
    async with db.reader() as session:
        rows = (await session.scalars(select(Activity))).all()
    assert len(rows) == 1, rows
    return rows[0]


async def count_activities(db: Database) -> int:
    async with db.reader() as session:
        return len((await session.scalars(select(Activity))).all())


# --- the start-time parser --------------------------------------------------------------------------------

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(("typed", "expected"), [
    ("2026-11-25 09:00", datetime(2026, 11, 25, 9, 0)),
    ("2026/11/25 9:00", datetime(2026, 11, 25, 9, 0)),
    ("2026年11月25日 14:30", datetime(2026, 11, 25, 14, 30)),
    ("11-25 9:00", datetime(2026, 11, 25, 9, 0)),
    ("11/25 9:05", datetime(2026, 11, 25, 9, 5)),
    ("11月25日 9:00", datetime(2026, 11, 25, 9, 0)),
    ("11月25号9：00", datetime(2026, 11, 25, 9, 0)),  # a full-width colon
    ("１１月２５日 ９:００", datetime(2026, 11, 25, 9, 0)),  # full-width digits
    ("11月25日上午9点", datetime(2026, 11, 25, 9, 0)),
    ("11月25日（周三）下午2点半", datetime(2026, 11, 25, 14, 30)),
    ("11月25日 下午三点十五分", datetime(2026, 11, 25, 15, 15)),
    ("11月25日晚上7点", datetime(2026, 11, 25, 19, 0)),
    ("11月25日中午12点", datetime(2026, 11, 25, 12, 0)),
    ("11月25日中午1点", datetime(2026, 11, 25, 13, 0)),
    ("11月25日 九点", datetime(2026, 11, 25, 9, 0)),
    ("11月25日 十点半", datetime(2026, 11, 25, 10, 30)),
    ("明天 9:00", datetime(2026, 11, 22, 9, 0)),
    ("后天14:30", datetime(2026, 11, 23, 14, 30)),
    ("大后天 8点", datetime(2026, 11, 24, 8, 0)),
    ("今天 15:00", datetime(2026, 11, 21, 15, 0)),
    ("今天下午3点", datetime(2026, 11, 21, 15, 0)),
    ("下午3点", datetime(2026, 11, 21, 15, 0)),  # no date: today
    ("明天上午9点30分", datetime(2026, 11, 22, 9, 30)),
    ("1月5日 9:00", datetime(2027, 1, 5, 9, 0)),  # half a year back this year: next year's
    ("11月20日 9:00", datetime(2026, 11, 20, 9, 0)),  # yesterday stays yesterday (the chat refuses it)
])
def test_start_times_as_organisers_type_them(typed: str, expected: datetime) -> None:
    assert parse_when(typed, TODAY) == expected


@pytest.mark.parametrize("typed", [
    "", "下周三", "明天", "11月25日", "9", "11月32日 9:00", "2月30日 9:00", "11月25日 25:00", "11月25日 9:60",
    "明天 九十点", "sometime", "2026-13-01 9:00",
])
def test_unreadable_start_times(typed: str) -> None:
    assert parse_when(typed, TODAY) is None


def test_groups_are_chosen_by_numbers_or_names() -> None:
    names = ["城关镇", "东山镇", "西湖街道"]
    assert pick_many("1 3", names) == [0, 2]
    assert pick_many("3、1，3", names) == [2, 0]
    assert pick_many("东山镇", names) == [1]
    assert pick_many("1 4", names) == []
    assert pick_many("", names) == []


# --- 活动: the list ---------------------------------------------------------------------------------------------

async def test_a_member_sees_upcoming_activities_with_their_own_state(app: AppHarness, db: Database, org: Org,
                                                                      clock: FrozenClock) -> None:
    now = clock.now()
    signed = await make_activity(db, now + timedelta(minutes=30))  # 09:30 today, sign-in open
    leave = await make_activity(db, local(2026, 11, 22, 14, 30), type_=ActivityType.STUDY, title="理论学习")
    pending = await make_activity(db, local(2026, 11, 25, 9), type_=ActivityType.CONSULTATION, title="城关镇专题协商",
                                  audience=Audience.GROUPS, audience_ids=[org.chengguan], group_id=org.chengguan)
    await make_activity(db, local(2026, 11, 28, 9), type_=ActivityType.BRIEFING, title="政情通报会")
    # Not listed: another group's, more than 14 days ahead, cancelled, window already closed.
    await make_activity(db, local(2026, 11, 23, 9), title="东山镇走访", audience=Audience.GROUPS,
                        audience_ids=[org.dongshan], group_id=org.dongshan)
    await make_activity(db, local(2026, 12, 10, 9), title="年终座谈")
    cancelled = await make_activity(db, local(2026, 11, 24, 9), title="已取消的调研")
    await make_activity(db, now - timedelta(hours=3), title="今天早上的会", now=now - timedelta(days=1))
    async with db.session() as session:
        wang = await session.get(Member, org.wang.id)
        activities = {a.id: a for a in (await session.scalars(select(Activity))).all()}
        assert wang is not None
        result = await ops.sign_in(session, wang, activities[signed.id], method=SignInMethod.CODE, now=now,
                                   code_checked=True)
        assert result.recorded
        request = await ops.request_leave(session, wang, activities[leave.id], kind=LeaveKind.OFFICIAL,
                                          reason="外出开会", now=now, texts=T)
        await ops.decide_leave(session, request, approve=True, by=None, now=now, texts=T)
        await ops.request_leave(session, wang, activities[pending.id], kind=LeaveKind.SICK, reason="感冒发烧",
                                now=now, texts=T)
        await ops.cancel_activity(session, activities[cancelled.id], now=now)

    assert await app.chat("sim-wang").says("活动") == "\n".join([
        T("activity_chat.list.title", days=14),
        item(1, ActivityType.INSPECTION, "城关镇农贸市场调研", "11月21日（周六）09:30", "signed_in"),
        item(2, ActivityType.STUDY, "理论学习", "11月22日（周日）14:30", "leave"),
        item(3, ActivityType.CONSULTATION, "城关镇专题协商", "11月25日（周三）09:00", "leave_pending"),
        item(4, ActivityType.BRIEFING, "政情通报会", "11月28日（周六）09:00", "waiting"),
        T("activity_chat.list.member_how"),
    ])
    # 李强 (东山镇) sees his group's visit and the activities for everyone, none of 城关镇's.
    li = await app.chat("sim-li").says("activities")
    assert "东山镇走访" in li and "城关镇专题协商" not in li and "新建活动" not in li


async def test_nothing_upcoming_is_said_plainly(app: AppHarness) -> None:
    assert await app.chat("sim-wang").says("活动") == T("activity_chat.list.empty", days=14)
    assert await app.chat("sim-qian").says("活动") == "\n".join([
        T("activity_chat.list.empty", days=14), T("activity_chat.list.organiser_new")])
    assert await app.chat("sim-stranger").says("活动") == T("activity_chat.not_member")
    assert await app.chat("sim-zhao").says("活动") == T("activity_chat.not_member")  # suspended


async def test_organisers_also_see_what_they_organise_and_how_to_create(app: AppHarness, db: Database,
                                                                       org: Org) -> None:
    await make_activity(db, local(2026, 11, 23, 9), type_=ActivityType.VISIT, title="东山镇走访",
                        audience=Audience.GROUPS, audience_ids=[org.dongshan], group_id=org.dongshan)
    await make_activity(db, local(2026, 11, 25, 9), title="全体委员视察")
    # The office secretary is in no group: the 东山镇 visit is listed as organised by her.
    assert await app.chat("sim-qian").says("活动") == "\n".join([
        T("activity_chat.list.title", days=14),
        item(1, ActivityType.VISIT, "东山镇走访", "11月23日（周一）09:00", "organiser"),
        item(2, ActivityType.INSPECTION, "全体委员视察", "11月25日（周三）09:00", "waiting"),
        T("activity_chat.list.member_how"),
        T("activity_chat.list.organiser_how"),
    ])
    # 城关镇's leader: only the activity for everyone; he organises none of them but may create one.
    chen = await app.chat("sim-chen").says("活动")
    assert "东山镇走访" not in chen and chen.endswith(T("activity_chat.list.organiser_how"))


async def test_help_lists_the_commands_for_each_audience(app: AppHarness) -> None:
    member_help = await app.chat("sim-wang").says("帮助")
    secretary_help = await app.chat("sim-qian").says("帮助")
    assert f"· 活动 — {T('activity_chat.help.list')}" in member_help
    assert "新建活动" not in member_help
    assert f"· 新建活动 — {T('activity_chat.help.new')}" in secretary_help


# --- 大屏 N -----------------------------------------------------------------------------------------------------

async def test_the_screen_link_is_for_organisers_of_that_activity(app: AppHarness, db: Database, org: Org) -> None:
    await make_activity(db, local(2026, 11, 23, 9), title="东山镇走访", audience=Audience.GROUPS,
                        audience_ids=[org.dongshan], group_id=org.dongshan)
    office = await make_activity(db, local(2026, 11, 25, 9), title="全体委员视察")
    qian, sun, chen = app.chat("sim-qian"), app.chat("sim-sun"), app.chat("sim-chen")

    reply = await qian.says("大屏 2")
    assert reply == await expected_screen_answer(app, office)
    assert await qian.says("大屏") == T("activity_chat.screen.bad_number", count=2)
    assert await qian.says("大屏 3") == T("activity_chat.screen.bad_number", count=2)
    # 孙秘书 (东山镇 only) sees the office's activity as a member but does not organise it.
    assert await sun.says("大屏 2") == T("activity_chat.screen.forbidden", title="全体委员视察")
    assert await chen.says("大屏 1") == T("activity_chat.screen.forbidden", title="全体委员视察")
    assert await app.chat("sim-wang").says("大屏 1") == T("activity_chat.screen.forbidden_role")


async def expected_screen_answer(app: AppHarness, activity: Activity) -> str:
    return T("activity_chat.screen.link", title=activity.title, url=await screen_url(app.services, activity))


# --- 新建活动 ------------------------------------------------------------------------------------------------

async def test_a_secretary_creates_an_activity_for_everyone_with_a_geofence(app: AppHarness, db: Database,
                                                                            org: Org) -> None:
    qian = app.chat("sim-qian")
    assert await qian.says("新建活动") == T("activity_chat.new.ask_type", choices=TYPES)
    assert await qian.says("11") == T("activity_chat.new.bad_type", text="11", count=10, choices=TYPES)
    assert await qian.says("调研视察") == T("activity_chat.new.ask_title", max=100)
    assert await qian.says("城关镇农贸市场调研") == T("activity_chat.new.ask_start")
    assert await qian.says("下周三") == T("activity_chat.new.bad_start", text="下周三")
    assert await qian.says("11月20日 9:00") == T("activity_chat.new.past_start", when="2026年11月20日（周五）09:00")
    assert await qian.says("11月25日上午9点") == T("activity_chat.new.ask_venue", when="2026年11月25日（周三）09:00",
                                                  max=200)
    assert await qian.says(HALL) == T("activity_chat.new.ask_place", radius=300)
    assert await qian.says("好的") == T("activity_chat.new.bad_place", radius=300)
    assert await qian.shares_location(*VENUE, label="县政协") == "\n\n".join([
        T("activity_chat.new.place_noted", radius=300), T("activity_chat.new.ask_audience_all", choices=GROUPS)])
    assert await qian.says("全体") == T(
        "activity_chat.new.preview", type="调研视察", title="城关镇农贸市场调研", when="2026年11月25日（周三）09:00",
        venue=HALL, place=T("activity_chat.new.place_set", radius=300), audience=T("activity_chat.new.audience_all"),
        count=7,  # every active member: the suspended 赵敏 is not expected
    )
    assert await qian.says("好") == T("activity_chat.new.preview_how")
    created = await qian.says("确认")

    activity = await only_activity(db)
    url = await screen_url(app.services, activity)
    assert created == T(
        "activity_chat.new.created", type="调研视察", title="城关镇农贸市场调研", when="2026年11月25日（周三）09:00",
        opens="08:00", late="09:10", closes="10:00", screen=T("activity_chat.new.screen_how", number=1, url=url),
    )
    page = await app.client.get(url.removeprefix(app.services.settings.server.public_url.rstrip("/")))
    assert page.status == 200 and "城关镇农贸市场调研" in await page.text()  # the link opens the venue screen
    starts = local(2026, 11, 25, 9)
    assert (activity.type, activity.title, activity.venue) == (ActivityType.INSPECTION, "城关镇农贸市场调研", HALL)
    assert activity.starts_at == starts and activity.ends_at == starts + timedelta(minutes=120)
    assert activity.signin_opens_at == starts - timedelta(minutes=60)
    assert activity.signin_closes_at == starts + timedelta(minutes=60)
    assert activity.late_after == starts + timedelta(minutes=10)
    assert (activity.latitude, activity.longitude, activity.radius_m) == (*VENUE, 300)
    assert not activity.require_location
    assert (activity.audience, activity.audience_ids, activity.group_id) == (Audience.ALL, [], None)
    assert activity.created_by_id == org.qian.id
    async with db.reader() as session:
        task = (await session.scalars(select(ScheduledTask).where(ScheduledTask.kind == ops.CLOSE_TASK))).one()
    assert (task.ref, task.run_at, task.status) == (str(activity.id), activity.signin_closes_at, TaskStatus.PENDING)
    # The new activity is in the lists: the organiser's (大屏 1) and the members'.
    assert "城关镇农贸市场调研" in await app.chat("sim-li").says("活动")
    assert await qian.says("大屏 1") == await expected_screen_answer(app, activity)


async def test_a_group_leader_creates_one_for_his_group_without_choosing(app: AppHarness, db: Database,
                                                                        org: Org) -> None:
    chen = app.chat("sim-chen")
    await chen.says("创建活动")
    assert await chen.says("9") == T("activity_chat.new.ask_title", max=100)
    assert await chen.says(" ") == T("activity_chat.new.bad_title", max=100, length=0)
    assert await chen.says("长" * 101) == T("activity_chat.new.bad_title", max=100, length=101)
    assert await chen.says("  城关镇  走访  ") == T("activity_chat.new.ask_start")
    await chen.says("明天下午2点半")
    assert await chen.says("城关镇政府") == T("activity_chat.new.ask_place", radius=300)
    assert await chen.says("跳过") == T(
        "activity_chat.new.preview", type="走访", title="城关镇 走访", when="2026年11月22日（周日）14:30",
        venue="城关镇政府", place=T("activity_chat.new.place_none"), audience="城关镇", count=3,
    )
    created = await chen.says("确认")

    activity = await only_activity(db)
    screen = T("activity_chat.new.screen_how", number=1, url=await screen_url(app.services, activity))
    assert created == T("activity_chat.new.created", type="走访", title="城关镇 走访",
                        when="2026年11月22日（周日）14:30", opens="13:30", late="14:40", closes="15:30", screen=screen)
    assert activity.starts_at == local(2026, 11, 22, 14, 30)
    assert (activity.latitude, activity.longitude, activity.radius_m) == (None, None, None)
    assert (activity.audience, activity.audience_ids) == (Audience.GROUPS, [org.chengguan])
    assert (activity.group_id, activity.created_by_id) == (org.chengguan, org.chen.id)
    # Now he organises it: listed, and its screen is his to open.
    listing = await chen.says("活动")
    assert "城关镇 走访" in listing and T("activity_chat.list.organiser_how") in listing
    assert await chen.says("大屏 1") == await expected_screen_answer(app, activity)
    assert "城关镇 走访" not in await app.chat("sim-li").says("活动")
    # The meeting notice went to the group with the activity, and nowhere else.
    notices = [text for text in await app.chat("sim-wang").pushes() if "城关镇 走访" in text]
    assert len(notices) == 1 and "参加" in notices[0]
    assert not [text for text in await app.chat("sim-li").pushes() if "城关镇 走访" in text]


async def test_a_limited_secretary_invites_only_her_groups(app: AppHarness, db: Database, org: Org) -> None:
    sun = app.chat("sim-sun")
    await start_until_audience(sun)
    only_dongshan = "1. 东山镇"
    assert await sun.says("跳过") == T("activity_chat.new.ask_audience", choices=only_dongshan)
    assert await sun.says("全体") == T("activity_chat.new.bad_audience", text="全体", all="", choices=only_dongshan)
    assert await sun.says("城关镇") == T("activity_chat.new.bad_audience", text="城关镇", all="",
                                        choices=only_dongshan)
    preview = await sun.says("1")
    assert "参加对象：东山镇（2 人）" in preview  # 李强 and 吴静; 赵敏 is suspended
    await sun.says("确认")
    activity = await only_activity(db)
    assert (activity.audience, activity.audience_ids, activity.group_id) == (Audience.GROUPS, [org.dongshan],
                                                                            org.dongshan)


async def test_an_office_secretary_picks_several_groups(app: AppHarness, db: Database, org: Org) -> None:
    qian = app.chat("sim-qian")
    await start_until_audience(qian, "2026-12-20 09:00")
    await qian.says("跳过")
    assert await qian.says("3") == T("activity_chat.new.bad_audience", text="3", choices=GROUPS,
                                     all=T("activity_chat.new.or_all"))
    assert "参加对象：东山镇、城关镇（5 人）" in await qian.says("2 1")
    created = await qian.says("确认")
    activity = await only_activity(db)
    # More than 14 days ahead, so not in the 活动 list yet: the link alone.
    assert created.endswith(T("activity_chat.new.screen_later", url=await screen_url(app.services, activity)))
    # Belongs to the first group chosen; invites both.
    assert (activity.audience, activity.audience_ids, activity.group_id) == (
        Audience.GROUPS, sorted([org.chengguan, org.dongshan]), org.dongshan)


async def start_until_audience(chat: SimChat, when: str = "2026-11-30 09:00") -> None:
    await chat.says("新建活动")
    await chat.says("1")
    await chat.says("第十四届第三次全体会议")
    assert (await chat.says(when)).startswith("开始时间：")
    await chat.says("县大会堂")


async def test_plain_members_may_not_create(app: AppHarness, db: Database) -> None:
    assert await app.chat("sim-wang").says("新建活动") == T("activity_chat.new.forbidden")
    assert await app.chat("sim-zhao").says("新建活动") == T("activity_chat.not_member")
    assert await app.chat("sim-stranger").says("创建活动") == T("activity_chat.not_member")
    assert await count_activities(db) == 0


async def test_cancel_creates_nothing_and_too_many_wrong_answers_end_it(app: AppHarness, db: Database) -> None:
    qian = app.chat("sim-qian")
    await start_until_audience(qian)
    await qian.says("跳过")
    await qian.says("全体")
    assert await qian.says("取消") == T("activity_chat.new.cancelled")
    await qian.says("新建活动")
    await qian.says("0")
    await qian.says("十一")
    assert await qian.says("其它类") == T("conversation.too_many_wrong")
    assert await qian.says("1") != T("activity_chat.new.ask_title", max=100)  # the conversation is over
    assert await count_activities(db) == 0


async def test_typing_the_command_again_restarts_and_a_stale_preview_asks_a_new_time(
        app: AppHarness, db: Database, clock: FrozenClock) -> None:
    qian = app.chat("sim-qian")
    await qian.says("新建活动")
    await qian.says("1")
    assert await qian.says("新建活动") == T("activity_chat.new.ask_type", choices=TYPES)
    await qian.says("1")
    await qian.says("临时会议")
    await qian.says("今天 9:20")
    await qian.says("会议室")
    await qian.says("跳过")
    await qian.says("全体")
    clock.advance(minutes=25)  # the preview waited past the start (within the conversation's idle time)
    assert await qian.says("确认") == T("activity_chat.new.past_start", when="2026年11月21日（周六）09:20")
    assert "时间：2026年11月21日（周六）10:00\n地点：会议室" in await qian.says("今天 10:00")  # the preview again
    assert (await qian.says("确认")).startswith("活动已创建")
    assert (await only_activity(db)).starts_at == local(2026, 11, 21, 10)


async def test_the_answers_of_every_conversation_work_here(app: AppHarness, db: Database) -> None:
    """handlers.kit.words: 不用 skips the place as 跳过 does, 是 confirms as 确认 does."""
    qian = app.chat("sim-qian")
    await start_until_audience(qian)
    assert await qian.says("不用") == T("activity_chat.new.ask_audience_all", choices=GROUPS)
    await qian.says("全体")
    assert (await qian.says("是")).startswith("活动已创建")
    assert await count_activities(db) == 1
