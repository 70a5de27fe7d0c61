"""``群发``, ``群发记录`` (``详情 N``, ``补发 N``, ``撤销 N``) and ``回执 N`` through the simulator.

The clock stands at 2026-11-21 09:00 in Shanghai (a Saturday). ``seed_org``: 城关镇 (王芳, 周涛, 陈组长 the
leader), 东山镇 (李强, 吴静 never bound, 赵敏 suspended), 钱秘书 (every group), 孙秘书 (东山镇 only).
Sectors and committees are added by :func:`seed_sectors` where a test needs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

import scheduler.notices  # noqa: F401  (registers the notice.send task handler)
from bot.domain import activities as act
from bot.domain import notices
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from handlers.broadcast import split_link
from models.activity import Activity, Audience, LeaveKind
from models.audit import Channel
from models.delivery import Delivery, DeliveryStatus
from models.member import Committee, Identity, Member, Platform, Sector
from models.notice import Notice, NoticeKind, NoticeStatus, Response
from models.scheduling import ScheduledTask, TaskStatus
from scheduler.tasks import execute_task
from tests import outbound_support
from tests.activity_support import Org, T, make_activity
from tests.audit_support import only_event
from tests.conftest import make_settings
from tests.outbound_support import MockApi, outbound_settings
from tests.support import AppHarness, SimChat, running_app

mock_api = outbound_support.mock_api  # fixture

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALL_KINDS = "1. 全体委员\n2. 联络组\n3. 界别\n4. 专委会\n5. 指定委员"
LIMITED_KINDS = "2. 联络组\n5. 指定委员"
GROUPS = "1. 城关镇\n2. 东山镇"
TITLE = "关于提交社情民意信息的通知"
BODY = "请各位委员于11月30日前提交今年的社情民意信息。"
BOUND = ["sim-chen", "sim-li", "sim-qian", "sim-sun", "sim-wang", "sim-zhou"]  # active members with a chat


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


async def seed_sectors(db: Database, org: Org) -> None:
    """经济界: 王芳, 李强; 教育界: 周涛; 提案委: 陈组长, 李强."""
    async with db.session() as session:
        economy, education, proposals = Sector(name="经济界"), Sector(name="教育界"), Committee(name="提案委")
        session.add_all([economy, education, proposals])
        await session.flush()
        for member, sector, committee in ((org.wang, economy.id, None), (org.li, economy.id, proposals.id),
                                          (org.zhou, education.id, None), (org.chen, None, proposals.id)):
            await session.execute(update(Member).where(Member.id == member.id)  # type: ignore[arg-type]
                                  .values(sector_id=sector, committee_id=committee))


def preview(audience: str, count: int, *, body: str = BODY, url: str = "", unbound: int = 0, chats: str = "") -> str:
    text = T("notice.text.broadcast", title=TITLE, body=body, link=f"\n{url}" if url else "").strip()
    return T("broadcast_chat.new.preview", text=text, audience=audience, count=count,
             unbound=T("broadcast_chat.new.unbound", count=unbound) if unbound else "",
             link=T("broadcast_chat.new.link_tracked") if url else "",
             chats=T("broadcast_chat.new.chats", names=chats) if chats else "")


async def write(chat: SimChat, *, body: str = BODY) -> str:
    """From the title question on: title, content; returns the preview."""
    assert await chat.says(TITLE) == T("broadcast_chat.new.ask_body", max=1500)
    return await chat.says(body)


async def stored_notices(db: Database) -> list[Notice]:
    async with db.reader() as session:
        return list((await session.scalars(select(Notice).order_by(Notice.id))).all())


async def received(app: AppHarness) -> list[str]:
    """The simulator users the last pushes reached (everything delivered so far)."""
    await app.deliver()
    async with app.services.db.reader() as session:
        rows = (await session.scalars(select(Delivery).where(Delivery.topic.like("notice:%")))).all()  # type: ignore[attr-defined]
    return sorted({row.recipient for row in rows if row.status is DeliveryStatus.SENT})


# --- the full flow per audience --------------------------------------------------------------------------------

async def test_a_secretary_broadcasts_to_everyone_with_a_tracked_link(app: AppHarness, db: Database,
                                                                     org: Org) -> None:
    qian = app.chat("sim-qian")
    assert await qian.says("群发") == T("broadcast_chat.new.ask_kind", choices=ALL_KINDS)
    assert await qian.says("全体") == T("broadcast_chat.new.ask_title", audience="全体委员", count=7, max=100)
    assert await qian.says(TITLE) == T("broadcast_chat.new.ask_body", max=1500)
    body = f"{BODY}\n填报说明：\nhttps://example.org/guide"
    assert await qian.says(body) == preview("全体委员", 7, body=f"{BODY}\n填报说明：", url="https://example.org/guide",
                                           unbound=1)  # 吴静 is not bound
    sent = await qian.says("确认")
    assert sent == T("broadcast_chat.new.sent", title=TITLE, count=7, queued=6,
                     unbound=T("broadcast_chat.new.sent_unbound", count=1))

    pushed = await app.chat("sim-wang").pushes()
    assert len(pushed) == 1 and pushed[0].startswith(f"【通知】{TITLE}\n{BODY}\n填报说明：\n")
    assert "/r/" in pushed[0] and "example.org" not in pushed[0]  # a personal reading link
    assert await received(app) == BOUND
    (notice,) = await stored_notices(db)
    assert (notice.kind, notice.audience, notice.url, notice.created_by_id) == (
        NoticeKind.BROADCAST, Audience.ALL, "https://example.org/guide", org.qian.id)
    await only_event(db, "notice.broadcast", channel=Channel.CHAT, actor_member_id=org.qian.id,
                     object_type="notice", object_id=notice.id, group_id=None, summary=TITLE)


@pytest.mark.parametrize(("steps", "audience", "count", "expected"), [
    ([("2", GROUPS, "ask_groups"), ("1", None, None)], "联络组：城关镇", 3, ["sim-chen", "sim-wang", "sim-zhou"]),
    ([("联络组", GROUPS, "ask_groups"), ("2 1", None, None)], "联络组：东山镇、城关镇", 5,
     ["sim-chen", "sim-li", "sim-wang", "sim-zhou"]),
    ([("3", "1. 经济界\n2. 教育界", "ask_sectors"), ("1", None, None)], "界别：经济界", 2, ["sim-li", "sim-wang"]),
    ([("4", "1. 提案委", "ask_committees"), ("提案委", None, None)], "专委会：提案委", 2, ["sim-chen", "sim-li"]),
])
async def test_groups_sectors_and_committees_reach_their_members(
    app: AppHarness, db: Database, org: Org, steps: list[tuple[str, str | None, str | None]], audience: str,
    count: int, expected: list[str],
) -> None:
    await seed_sectors(db, org)
    qian = app.chat("sim-qian")
    await qian.says("群发")
    for typed, choices, key in steps:
        reply = await qian.says(typed)
        if key is not None:
            assert reply == T(f"broadcast_chat.new.{key}", choices=choices)
        else:
            assert reply == T("broadcast_chat.new.ask_title", audience=audience, count=count, max=100)
    assert (await write(qian)).startswith("【群发预览】")
    assert (await qian.says("确认")).startswith(f"通知《{TITLE}》已发出：共 {count} 位委员")
    assert await received(app) == expected  # and nobody else: not the sender, not the other group


async def test_named_members_unknown_and_ambiguous_names_are_listed_back(app: AppHarness, db: Database,
                                                                       org: Org) -> None:
    async with db.session() as session:  # a second 王芳, in 东山镇 and bound, so that the name is ambiguous
        twin = Member(name="王芳", mobile="13800000010", group_id=org.dongshan)
        session.add(twin)
        await session.flush()
        assert twin.id is not None
        session.add(Identity(member_id=twin.id, platform=Platform.SIMULATOR, external_id="sim-wang2"))
    qian = app.chat("sim-qian")
    await qian.says("群发")
    assert await qian.says("5") == T("broadcast_chat.new.ask_members")
    assert await qian.says("、".join(["李强"] * 201)) == T("broadcast_chat.new.too_many_names", max=200)
    problems = "\n".join([
        T("broadcast_chat.new.ambiguous_name", name="王芳", choices="王芳（城关镇）、王芳（东山镇）"),
        T("broadcast_chat.new.unknown_name", name="张三"),
        T("broadcast_chat.new.unknown_name", name="赵敏"),  # suspended: not a recipient
    ])
    assert await qian.says("王芳，张三 李强、赵敏") == T("broadcast_chat.new.bad_members", problems=problems, found=1)
    assert await qian.says("王芳（城关镇）, 李强，李强") == T("broadcast_chat.new.ask_title",
                                                          audience="指定委员：王芳、李强", count=2, max=100)
    await write(qian)
    await qian.says("确认")
    assert await received(app) == ["sim-li", "sim-wang"]
    (notice,) = await stored_notices(db)
    assert (notice.audience, notice.audience_ids) == (Audience.MEMBERS, sorted([org.wang.id, org.li.id]))


async def test_the_preview_names_the_group_chats_that_get_it_too(org: Org, db: Database, tmp_path: Path,
                                                                  db_url: str, clock: FrozenClock) -> None:
    settings = make_settings(tmp_path, db_url, notices={"group_chats": [
        {"group": "*", "robot_key": "all-key"}, {"group": "城关镇", "robot_key": "cg-key"},
        {"group": "东山镇", "appchat_id": "ds-chat"}]})
    async with running_app(settings, clock) as app:
        qian = app.chat("sim-qian")
        await qian.says("群发")
        await qian.says("2")
        await qian.says("1")
        assert await write(qian) == preview("联络组：城关镇", 3, chats="委员总群、城关镇群")
        await qian.says("确认")
        async with db.reader() as session:
            chats = (await session.scalars(select(Delivery).where(Delivery.platform.in_(["robot", "appchat"])))).all()  # type: ignore[attr-defined]
        assert sorted(row.recipient for row in chats) == ["all-key", "cg-key"]


# --- scheduling and revoking --------------------------------------------------------------------------------

async def test_a_scheduled_broadcast_waits_for_its_task(app: AppHarness, db: Database, org: Org,
                                                        clock: FrozenClock) -> None:
    qian = app.chat("sim-qian")
    await qian.says("群发")
    await qian.says("2")
    await qian.says("城关镇")
    await write(qian)
    assert await qian.says("定时") == T("broadcast_chat.new.schedule_how")
    assert await qian.says("定时 今天 8:00") == T("broadcast_chat.new.past_time", when="2026年11月21日 08:00")
    assert await qian.says("定时 明天 上午8点") == T(
        "broadcast_chat.new.scheduled", title=TITLE, when="11月22日（周日）08:00", audience="联络组：城关镇", count=3)

    (notice,) = await stored_notices(db)
    assert (notice.status, notice.send_at) == (NoticeStatus.SCHEDULED, local(22, 8))
    async with db.reader() as session:
        task = (await session.scalars(select(ScheduledTask).where(ScheduledTask.kind == notices.NOTICE_TASK))).one()
    assert (task.ref, task.run_at, task.status) == (str(notice.id), datetime(2026, 11, 22, 0, 0, tzinfo=UTC),
                                                    TaskStatus.PENDING)
    assert await received(app) == []
    listing = await qian.says("群发记录")
    assert T("broadcast_chat.records.state_scheduled", when="11月22日（周日）08:00") in listing
    assert await qian.says("详情 1") == "\n".join([
        T("broadcast_chat.detail.head", kind="群发", title=TITLE, audience="联络组：城关镇"),
        T("broadcast_chat.detail.scheduled", when="11月22日（周日）08:00", number=1)])

    clock.set(local(22, 8))
    assert task.id is not None
    outcome = await execute_task(app.services, task.id, grace=timedelta(hours=1), zone=SHANGHAI)
    assert outcome is not None and outcome.value == "ran"
    assert await received(app) == ["sim-chen", "sim-wang", "sim-zhou"]
    assert "已发出 · 3 人：送达 3，失败 0，未绑定 0，已读 0" in await qian.says("群发记录")
    # Logged when the secretary scheduled it, for 城关镇; the task that sent it later is no change of anyone's.
    await only_event(db, "notice.broadcast", channel=Channel.CHAT, actor_member_id=org.qian.id,
                     object_id=notice.id, group_id=org.chengguan)


async def test_a_scheduled_broadcast_can_be_revoked_once(app: AppHarness, db: Database, org: Org,
                                                        clock: FrozenClock) -> None:
    qian = app.chat("sim-qian")
    await qian.says("群发")
    await qian.says("1")
    await write(qian)
    await qian.says("定时 11月23日 9:00")
    await qian.says("群发记录")
    assert await qian.says("补发 1") == T("broadcast_chat.resend.not_sent", title=TITLE)
    assert await qian.says("撤销 2") == T("broadcast_chat.records.bad_number", count=1)
    assert await qian.says("撤销 1") == T("broadcast_chat.revoke.done", title=TITLE)
    assert await qian.says("撤销 1") == T("broadcast_chat.revoke.not_scheduled", title=TITLE)
    assert (await qian.says("详情 1")).endswith(T("broadcast_chat.detail.cancelled", when="11月23日（周一）09:00"))
    async with db.reader() as session:
        task = (await session.scalars(select(ScheduledTask).where(ScheduledTask.kind == notices.NOTICE_TASK))).one()
    assert task.status is TaskStatus.CANCELLED
    clock.set(local(23, 9))
    assert task.id is not None
    assert await execute_task(app.services, task.id, grace=timedelta(hours=1), zone=SHANGHAI) is None
    assert await received(app) == []
    assert (await stored_notices(db))[0].status is NoticeStatus.CANCELLED
    await only_event(db, "notice.cancel", channel=Channel.CHAT, actor_member_id=org.qian.id,
                     object_id=(await stored_notices(db))[0].id, after={"status": "cancelled"})


# --- who may ----------------------------------------------------------------------------------------------------

async def test_a_limited_secretary_reaches_only_her_group(app: AppHarness, db: Database, org: Org) -> None:
    await seed_sectors(db, org)
    sun = app.chat("sim-sun")
    assert await sun.says("群发") == T("broadcast_chat.new.ask_kind", choices=LIMITED_KINDS)
    assert await sun.says("1") == T("broadcast_chat.new.kind_out_of_reach", kind="全体委员", choices=LIMITED_KINDS)
    assert await sun.says("界别") == T("broadcast_chat.new.kind_out_of_reach", kind="界别", choices=LIMITED_KINDS)
    assert await sun.says("2") == T("broadcast_chat.new.ask_groups", choices="1. 东山镇")
    assert await sun.says("城关镇") == T("broadcast_chat.new.bad_choice", text="城关镇", choices="1. 东山镇")
    assert await sun.says("1") == T("broadcast_chat.new.ask_title", audience="联络组：东山镇", count=2, max=100)
    # Named members: 王芳 is in 城关镇, outside her reach.
    await sun.says("群发")
    await sun.says("5")
    assert await sun.says("王芳 李强") == T("broadcast_chat.new.bad_members", found=1, problems=T(
        "broadcast_chat.new.name_out_of_reach", name="王芳"))
    await sun.says("李强")
    await write(sun)
    await sun.says("确认")
    assert await received(app) == ["sim-li"]


async def test_members_and_group_leaders_are_refused(app: AppHarness, db: Database) -> None:
    for user in ("sim-wang", "sim-chen"):
        chat = app.chat(user)
        assert await chat.says("群发") == T("broadcast_chat.forbidden")
        assert await chat.says("群发记录") == T("broadcast_chat.forbidden")
        assert await chat.says(TITLE) != T("broadcast_chat.new.ask_body", max=1500)  # no conversation began
    assert await app.chat("sim-stranger").says("群发") == T("broadcast_chat.not_member")
    assert await app.chat("sim-zhao").says("通知记录") == T("broadcast_chat.not_member")  # suspended
    assert await stored_notices(db) == []
    assert "群发" not in await app.chat("sim-wang").says("帮助")
    assert f"· 群发 — {T('broadcast_chat.help.new')}" in await app.chat("sim-qian").says("帮助")


async def test_a_limited_secretary_lists_only_notices_within_her_reach(app: AppHarness, db: Database,
                                                                       org: Org, settings: Settings,
                                                                       clock: FrozenClock) -> None:
    outbox = await notices.outbox_for(app.services)
    async with db.session() as session:
        for title, audience, ids in (("全体通知", Audience.ALL, []), ("城关镇通知", Audience.GROUPS, [org.chengguan]),
                                     ("东山镇通知", Audience.GROUPS, [org.dongshan]),
                                     ("点名通知", Audience.MEMBERS, [org.li.id or 0]),
                                     ("两镇点名", Audience.MEMBERS, [org.li.id or 0, org.wang.id or 0])):
            await notices.create_notice(session, outbox, kind=NoticeKind.BROADCAST, title=title, body="内容",
                                        audience=audience, audience_ids=ids, by=org.qian)
    listing = await app.chat("sim-sun").says("群发记录")
    assert "点名通知" in listing and "东山镇通知" in listing
    assert all(title not in listing for title in ("全体通知", "城关镇通知", "两镇点名"))
    assert listing.index("点名通知") < listing.index("东山镇通知")  # newest first
    full = await app.chat("sim-qian").says("群发记录")
    assert all(title in full for title in ("全体通知", "城关镇通知", "东山镇通知", "点名通知", "两镇点名"))


# --- wrong answers --------------------------------------------------------------------------------------------

async def test_wrong_answers_are_asked_again_and_edit_goes_back_to_the_content(app: AppHarness,
                                                                              db: Database) -> None:
    qian = app.chat("sim-qian")
    await qian.says("群发")
    assert await qian.says("9") == T("broadcast_chat.new.bad_kind", text="9", choices=ALL_KINDS)
    assert await qian.says("2") == T("broadcast_chat.new.ask_groups", choices=GROUPS)
    assert await qian.says("3") == T("broadcast_chat.new.bad_choice", text="3", choices=GROUPS)
    await qian.says("1 2")
    assert await qian.says("长" * 101) == T("broadcast_chat.new.bad_title", max=100, length=101)
    assert await qian.says(TITLE) == T("broadcast_chat.new.ask_body", max=1500)
    assert await qian.says("字" * 1501) == T("broadcast_chat.new.bad_body", max=1500, length=1501)
    assert (await qian.says("字" * 1500)).startswith("【群发预览】")  # long replies are split by the dispatcher
    assert await qian.says("好") == T("broadcast_chat.new.preview_how")
    assert await qian.says("定时 下周三") == T("broadcast_chat.new.bad_time", text="下周三")
    assert await qian.says("修改") == T("broadcast_chat.new.ask_body", max=1500)
    assert await qian.says(BODY) == preview("联络组：城关镇、东山镇", 5, unbound=1)
    assert await qian.says("取消") == T("broadcast_chat.new.cancelled")
    assert await stored_notices(db) == []
    # Three wrong answers in a row end the conversation.
    await qian.says("群发")
    await qian.says("0")
    await qian.says("十")
    assert await qian.says("谁都行") == T("conversation.too_many_wrong")
    assert await qian.says("1") != T("broadcast_chat.new.ask_title", audience="全体委员", count=7, max=100)


async def test_the_records_command_inside_the_flow_shows_the_list(app: AppHarness) -> None:
    qian = app.chat("sim-qian")
    await qian.says("群发")
    await qian.says("1")
    assert await qian.says("群发记录") == T("broadcast_chat.records.empty")
    assert await qian.says("群发") == T("broadcast_chat.new.ask_kind", choices=ALL_KINDS)


@pytest.mark.parametrize(("typed", "body", "url"), [
    ("请查看：\nhttps://example.org/a", "请查看：", "https://example.org/a"),
    ("第一段\nhttps://example.org/a\n第二段", "第一段\n第二段", "https://example.org/a"),
    ("请查看 https://example.org/a", "请查看", "https://example.org/a"),
    ("请点 https://example.org/a 查看。", "请点 （链接见文末） 查看。", "https://example.org/a"),
    ("https://example.org/a\n请查看附件。", "请查看附件。", "https://example.org/a"),
    ("链接：https://example.org/a，请查看", "链接：（链接见文末），请查看", "https://example.org/a"),
    ("没有链接", "没有链接", ""),
    ("两个：https://a.example/1 和 https://b.example/2", "两个：（链接见文末） 和 https://b.example/2",
     "https://a.example/1"),
])
def test_the_first_link_of_the_content_becomes_the_tracked_link(typed: str, body: str, url: str) -> None:
    assert split_link(typed, "（链接见文末）") == (body, url)


# --- the report, resending ---------------------------------------------------------------------------------------

async def test_the_report_names_the_unreached_and_resend_queues_only_the_failed(
    org: Org, db: Database, tmp_path: Path, db_url: str, clock: FrozenClock, mock_api: MockApi,
) -> None:
    """周涛 follows the Official Account only, and has unfollowed: the mock platform answers 43004."""
    async with db.session() as session:
        await session.execute(update(Identity).where(Identity.member_id == org.zhou.id)  # type: ignore[arg-type]
                              .values(platform=Platform.OFFICIAL, external_id="o-zhou"))
    mock_api.mock.unsubscribe("o-zhou")
    async with running_app(outbound_settings(tmp_path, db_url, mock_api.url), clock) as app:
        qian = app.chat("sim-qian")
        await qian.says("群发")
        await qian.says("全体")
        await write(qian, body=f"{BODY}\nhttps://example.org/guide")
        await qian.says("确认")
        pushed = await app.chat("sim-wang").pushes()
        link = pushed[0].rsplit("\n", 1)[-1]
        public = app.services.settings.server.public_url.rstrip("/")
        opened = await app.client.get(link.removeprefix(public), allow_redirects=False)
        assert opened.status in (200, 302, 303)  # 王芳 opened her link: one read

        listing = await qian.says("群发记录")
        assert T("broadcast_chat.records.state_sent", when="11月21日（周六）09:00", recipients=7, reached=5,
                 failed=1, not_bound=1, read=1, pending="") in listing
        detail = await qian.says("详情 1")
        assert T("broadcast_chat.detail.counts", when="11月21日（周六）09:00", recipients=7, reached=5, failed=1,
                 pending=0, not_bound=1, read=1) in detail
        assert T("broadcast_chat.detail.unreached_item", name="周涛", reason="发送失败（已取消关注公众号）") in detail
        assert T("broadcast_chat.detail.unreached_item", name="吴静", reason="没有绑定微信") in detail
        assert detail.endswith(T("broadcast_chat.detail.resend_how", number=1))

        assert await qian.says("补发 1") == T("broadcast_chat.resend.done", title=TITLE, count=1, not_bound=1)
        (notice,) = await stored_notices(db)
        async with db.reader() as session:
            again = (await session.scalars(select(Delivery).where(
                Delivery.idempotency_key.like(f"notice:{notice.id}:again%")))).all()  # type: ignore[attr-defined]
        assert [(row.platform, row.recipient) for row in again] == [("mp", "o-zhou")]
        # Queued again, not yet tried: pending, so a second 补发 queues nothing.
        assert "待送 1" in await qian.says("详情 1")
        assert await qian.says("补发 1") == T("broadcast_chat.resend.nothing", title=TITLE, pending=1, not_bound=1)
        await app.deliver()
        assert "失败 1，待送 0" in await qian.says("详情 1")  # still unsubscribed
        assert notice.resends == 1


# --- 回执 N ---------------------------------------------------------------------------------------------------

async def test_receipts_show_who_attends_who_asked_leave_and_who_is_silent(app: AppHarness, db: Database,
                                                                           org: Org, clock: FrozenClock) -> None:
    activity = await make_activity(db, local(25, 9), title="全体委员视察", now=clock.now())
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        await notices.respond(session, org.wang.id or 0, stored, Response.ATTEND, clock.now())
        await notices.respond(session, org.zhou.id or 0, stored, Response.LEAVE, clock.now())
        await act.request_leave(session, org.li, stored, kind=LeaveKind.SICK, reason="住院治疗", now=clock.now(),
                                texts=T)
    expected = "\n".join([
        T("broadcast_chat.receipts.head", title="全体委员视察", when="11月25日（周三）09:00", total=7),
        T("broadcast_chat.receipts.attend", count=1, names="王芳"),
        T("broadcast_chat.receipts.leave", count=2, names="周涛、李强"),
        T("broadcast_chat.receipts.no_answer", count=4, names="陈组长、钱秘书、孙秘书、吴静"),
        T("broadcast_chat.receipts.unbound", count=1),
    ])
    assert await app.chat("sim-qian").says("回执 1") == expected
    assert await app.chat("sim-qian").says("回执 2") == T("broadcast_chat.receipts.bad_number", count=1)
    assert await app.chat("sim-chen").says("回执 1") == T("broadcast_chat.receipts.forbidden", title="全体委员视察")
    assert await app.chat("sim-wang").says("回执 1") == T("broadcast_chat.receipts.forbidden_role")


async def test_long_receipt_lines_are_cut_with_a_count(app: AppHarness, db: Database, org: Org,
                                                       clock: FrozenClock) -> None:
    async with db.session() as session:
        session.add_all([Member(name=f"委员{n:02d}", mobile=f"139000000{n:02d}", group_id=org.chengguan)
                         for n in range(40)])
    await make_activity(db, local(24, 14), title="城关镇走访", audience=Audience.GROUPS,
                        audience_ids=[org.chengguan], group_id=org.chengguan, now=clock.now())
    reply = await app.chat("sim-chen").says("回执 1")  # the group leader organises his group's activity
    silent = reply.splitlines()[3]
    assert silent.startswith(T("broadcast_chat.receipts.no_answer", count=43, names="王芳、周涛、陈组长"))
    assert silent.endswith("……等 43 人") and silent.count("、") == 29
    assert reply.splitlines()[-1] == T("broadcast_chat.receipts.unbound", count=40)
    assert await app.chat("sim-chen").says("回执") == T("broadcast_chat.receipts.bad_number", count=1)
    assert await app.chat("sim-sun").says("回执 1") == T("broadcast_chat.receipts.none", days=14)


async def test_the_answers_of_every_conversation_work_here(app: AppHarness, db: Database) -> None:
    """handlers.kit.words: 重写 goes back to the text as 修改 does (the next text replaces it), 是 sends as 确认
    does."""
    qian = app.chat("sim-qian")
    await qian.says("群发")
    await qian.says("全体")
    await write(qian, body="旧的内容")
    assert await qian.says("重写") == T("broadcast_chat.new.ask_body", max=1500)
    assert await qian.says(BODY) == preview("全体委员", 7, unbound=1)
    assert await qian.says("是") == T("broadcast_chat.new.sent", title=TITLE, count=7, queued=6,
                                     unbound=T("broadcast_chat.new.sent_unbound", count=1))
    assert [notice.body for notice in await stored_notices(db)] == [BODY]
