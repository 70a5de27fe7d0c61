"""``新建学习``: a secretary adds a study material in chat and pushes it, now or at a set time.

The clock stands at 2026-11-21 09:00 in Shanghai (a Saturday). ``seed_org``: 城关镇 (王芳, 周涛, 陈组长 the
leader), 东山镇 (李强, 吴静 never bound, 赵敏 suspended), 钱秘书 (every group), 孙秘书 (东山镇 only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

import scheduler.notices  # noqa: F401  (registers the notice.send task handler)
from bot.domain import notices
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.activity import Audience
from models.notice import Notice, NoticeKind, NoticeStatus, StudyMaterial
from models.scheduling import ScheduledTask, TaskStatus
from tests.activity_support import Org, T, seed_org
from tests.support import AppHarness, SimChat, running_app

ALL_KINDS = "1. 全体委员\n2. 联络组\n3. 界别\n4. 专委会\n5. 指定委员"
LIMITED_KINDS = "2. 联络组\n5. 指定委员"
TITLE = "学习贯彻全国两会精神"
URL = "https://example.org/study/2026-npc"
SUMMARY = "两会精神要点解读"
TEXT = "一、深刻领会两会精神。\n" + "各位委员要结合履职实际，认真学习。" * 20


@pytest.fixture
async def org(db: Database) -> Org:
    return await seed_org(db)


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


def preview(content: str, audience: str, count: int, *, summary: str = SUMMARY) -> str:
    return T("study_admin.new.preview", title=TITLE, summary=summary or T("study_admin.new.no_summary"),
             content=content, audience=audience, count=count)


async def write(chat: SimChat, content: str, summary: str = SUMMARY) -> str:
    """新建学习, title, content, summary; returns the audience question."""
    assert await chat.says("新建学习") == T("study_admin.new.ask_title", max=100)
    assert await chat.says(TITLE) == T("study_admin.new.ask_content", max=5000)
    assert await chat.says(content) == T("study_admin.new.ask_summary", max=500)
    return await chat.says(summary)


async def materials(db: Database) -> list[StudyMaterial]:
    async with db.reader() as session:
        return list((await session.scalars(select(StudyMaterial).order_by(StudyMaterial.id))).all())


async def stored_notices(db: Database) -> list[Notice]:
    async with db.reader() as session:
        return list((await session.scalars(select(Notice).order_by(Notice.id))).all())


async def test_a_link_material_pushed_now_reaches_the_audience(app: AppHarness, db: Database, org: Org) -> None:
    qian = app.chat("sim-qian")
    assert await write(qian, URL) == T("study_admin.new.ask_kind", choices=ALL_KINDS)
    assert await qian.says("2") == T("broadcast_chat.new.ask_groups", choices="1. 城关镇\n2. 东山镇")
    link = T("study_admin.new.preview_link", url=URL)
    assert await qian.says("1") == preview(link, "联络组：城关镇", 3)
    assert await qian.says("好的") == T("study_admin.new.preview_how")
    assert await qian.says("确认") == T("study_admin.new.sent", title=TITLE, count=3, queued=3, unbound="")

    (material,) = await materials(db)
    assert (material.title, material.summary, material.url, material.body, material.audience,
            material.audience_ids, material.created_by_id) == (
        TITLE, SUMMARY, URL, "", Audience.GROUPS, [org.chengguan], org.qian.id)
    assert material.pushed_at is not None
    (notice,) = await stored_notices(db)
    assert (notice.kind, notice.material_id, notice.status) == (NoticeKind.STUDY, material.id, NoticeStatus.SENT)
    for user in ("sim-wang", "sim-zhou", "sim-chen"):
        (push,) = await app.chat(user).pushes()
        assert push.startswith(f"【学习】{TITLE}\n{SUMMARY}\n") and "/r/" in push and "example.org" not in push
    assert await app.chat("sim-li").pushes() == []
    assert TITLE in await app.chat("sim-wang").says("学习")  # members find it in their list


async def test_a_text_material_is_scheduled(app: AppHarness, db: Database, org: Org) -> None:
    qian = app.chat("sim-qian")
    assert await write(qian, TEXT, "跳过") == T("study_admin.new.ask_kind", choices=ALL_KINDS)
    text = T("study_admin.new.preview_text", length=len(TEXT), head=TEXT[:100] + "……")
    assert await qian.says("全体") == preview(text, "全体委员", 7, summary="")
    assert await qian.says("定时 今天 8:00") == T("broadcast_chat.new.past_time", when="2026年11月21日 08:00")
    assert await qian.says("定时 明天 8:00") == T(
        "study_admin.new.scheduled", title=TITLE, when="11月22日（周日）08:00", audience="全体委员", count=7)

    (material,) = await materials(db)
    assert (material.url, material.body, material.summary, material.audience, material.pushed_at) == (
        "", TEXT, "", Audience.ALL, None)
    (notice,) = await stored_notices(db)
    assert (notice.status, notice.material_id) == (NoticeStatus.SCHEDULED, material.id)
    async with db.reader() as session:
        task = (await session.scalars(select(ScheduledTask).where(ScheduledTask.kind == notices.NOTICE_TASK))).one()
    assert (task.ref, task.run_at, task.status) == (str(notice.id), datetime(2026, 11, 22, 0, 0, tzinfo=UTC),
                                                    TaskStatus.PENDING)
    assert await app.chat("sim-wang").pushes() == []


async def test_a_limited_secretary_cannot_choose_everyone(app: AppHarness, db: Database, org: Org) -> None:
    sun = app.chat("sim-sun")
    assert await write(sun, URL) == T("study_admin.new.ask_kind", choices=LIMITED_KINDS)
    assert await sun.says("1") == T("broadcast_chat.new.kind_out_of_reach", kind="全体委员", choices=LIMITED_KINDS)
    assert await sun.says("全体") == T("broadcast_chat.new.kind_out_of_reach", kind="全体委员",
                                     choices=LIMITED_KINDS)
    assert await sun.says("5") == T("broadcast_chat.new.ask_members")
    assert await sun.says("王芳 李强") == T("broadcast_chat.new.bad_members", found=1, problems=T(
        "broadcast_chat.new.name_out_of_reach", name="王芳"))
    assert await sun.says("李强") == preview(T("study_admin.new.preview_link", url=URL), "指定委员：李强", 1)
    assert await sun.says("确认") == T("study_admin.new.sent", title=TITLE, count=1, queued=1, unbound="")
    assert len(await app.chat("sim-li").pushes()) == 1
    assert await app.chat("sim-wang").pushes() == []


async def test_members_are_refused(app: AppHarness, db: Database) -> None:
    for user in ("sim-wang", "sim-chen"):
        chat = app.chat(user)
        assert await chat.says("新建学习") == T("study_admin.forbidden")
        assert await chat.says("添加学习材料") == T("study_admin.forbidden")
        assert await chat.says(TITLE) != T("study_admin.new.ask_content", max=5000)  # no conversation began
    assert await app.chat("sim-stranger").says("新建学习") == T("study_admin.not_member")
    assert await materials(db) == []


async def test_a_bad_link_or_a_too_long_text_is_asked_again(app: AppHarness, db: Database) -> None:
    qian = app.chat("sim-qian")
    await qian.says("添加学习材料")
    assert await qian.says("x" * 101) == T("study_admin.new.bad_title", max=100, length=101)
    await qian.says(TITLE)
    bad_link = T("study_admin.new.bad_link", max=500)
    assert await qian.says("www.example.org/study") == bad_link
    assert await qian.says(f"{URL} 请认真学习") == bad_link  # the link is the whole message
    assert await qian.says(URL) == T("study_admin.new.ask_summary", max=500)
    assert await qian.says("要" * 501) == T("study_admin.new.bad_summary", max=500, length=501)
    assert await qian.says("取消") == T("study_admin.new.cancelled")

    await qian.says("新建学习")
    await qian.says(TITLE)
    assert await qian.says("https://") == T("study_admin.new.bad_link", max=500)
    assert await qian.says("学" * 5001) == T("study_admin.new.bad_text", max=5000, length=5001)
    assert await qian.says("学" * 5000) == T("study_admin.new.ask_summary", max=500)
    assert await qian.says("取消") == T("study_admin.new.cancelled")
    assert await materials(db) == []


async def test_the_start_word_at_any_step_starts_again(app: AppHarness, db: Database) -> None:
    qian = app.chat("sim-qian")
    assert await write(qian, URL) == T("study_admin.new.ask_kind", choices=ALL_KINDS)
    assert await qian.says("新建学习") == T("study_admin.new.ask_title", max=100)  # not a wrong kind
    assert await qian.says(TITLE) == T("study_admin.new.ask_content", max=5000)
    assert await qian.says("添加学习材料") == T("study_admin.new.ask_title", max=100)  # not a text material
    assert await materials(db) == []


async def test_help_shows_the_line_to_secretaries_only(app: AppHarness) -> None:
    assert T("study_admin.help.new") in await app.chat("sim-qian").says("帮助")
    assert T("study_admin.help.new") not in await app.chat("sim-wang").says("帮助")
