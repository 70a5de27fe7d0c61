"""The report conversation through the simulator: writing, photos, limits, editing, cancelling, resuming,
我的报送, withdrawal and the similar-report warning."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.delivery import Delivery
from models.report import PhotoStatus, Report, ReportPhoto, ReportStatus
from tests.report_support import (
    MARKET_BODY,
    MARKET_NEAR_COPY,
    MARKET_TITLE,
    SCHOOL_BODY,
    SCHOOL_TITLE,
    People,
    T,
    events_of,
    file_report,
    load,
    only_report_of,
    seed_people,
)
from tests.support import AppHarness, SimChat, running_app

CATEGORIES = "1. 经济发展\n2. 社会民生\n3. 生态环境\n4. 文化教育\n5. 医疗卫生\n6. 社会治理\n7. 其他"


@pytest.fixture
async def people(db: Database) -> People:
    return await seed_people(db)


@pytest.fixture
async def app(people: People, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


async def write_until_preview(chat: SimChat, title: str = MARKET_TITLE, body: str = MARKET_BODY) -> str:
    assert await chat.says("报送") == T("report.ask_title", limit=60)
    assert await chat.says(title) == T("report.ask_category", choices=CATEGORIES)
    assert await chat.says("2") == T("report.ask_body", min=50, max=1500, photos=9)
    await chat.says(body)
    return await chat.says("完成")


# --- the whole conversation ---------------------------------------------------------------------

async def test_a_member_writes_a_report_with_photos_and_submits_it(app: AppHarness, db: Database,
                                                                  people: People) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("报送") == T("report.ask_title", limit=60)
    assert await wang.says(MARKET_TITLE) == T("report.ask_category", choices=CATEGORIES)
    assert await wang.says("社会民生") == T("report.ask_body", min=50, max=1500, photos=9)
    first, second = MARKET_BODY[:40], MARKET_BODY[40:]
    assert await wang.says(first) == T("report.body_short", length=40, missing=10, left=1460)
    photo = await wang.send("image", pic_url="http://127.0.0.1/market-1.jpg")
    assert photo is not None and photo["text"] == T("report.photo_received", count=1)
    length = len(MARKET_BODY)
    assert await wang.says(second) == T("report.body_ok", length=length, left=1500 - length)
    await wang.send("image", pic_url="http://127.0.0.1/market-2.jpg")

    preview = await wang.says("完成")
    assert f"标题：{MARKET_TITLE}" in preview and "类别：社会民生" in preview
    assert f"正文：{length} 字" in preview and "图片：2 张" in preview
    assert "很相似" not in preview
    assert await wang.says("提交") == T("report.submitted", title=MARKET_TITLE)

    report = await only_report_of(db, people.wang)
    assert report.status is ReportStatus.SUBMITTED and report.category == "社会民生"
    assert report.body == f"{first}\n{second}" and report.group_id == people.chengguan and report.year == 2026
    async with db.reader() as session:
        photos = (await session.scalars(select(ReportPhoto).where(ReportPhoto.report_id == report.id))).all()
    # The simulator's images have a picture URL and nothing to fetch.
    assert [(p.status, p.pic_url) for p in photos] == [
        (PhotoStatus.EXTERNAL, "http://127.0.0.1/market-1.jpg"), (PhotoStatus.EXTERNAL, "http://127.0.0.1/market-2.jpg")]
    assert all(p.media_id.startswith("sim-") for p in photos)
    assert [(e.action, e.by_name) for e in await events_of(db, report.id or 0)] == [("submit", "王芳")]
    # The secretary for every group is told; the one limited to 东山镇 is not.
    assert await app.chat("sim-qian").pushes() == [T("report.review.new_report", title=MARKET_TITLE, name="王芳")]
    assert await app.chat("sim-sun").pushes() == []
    async with db.reader() as session:  # the member's own step is answered inline, not pushed again
        assert (await session.scalars(select(Delivery).where(Delivery.member_id == people.wang.id))).all() == []


async def test_only_active_members_may_report(app: AppHarness) -> None:
    assert await app.chat("sim-stranger").says("报送") == T("report.not_member")
    assert await app.chat("sim-zhao").says("报送") == T("report.not_member")
    assert await app.chat("sim-zhao").clicks("REPORT") == T("report.not_member")
    assert await app.chat("sim-wang").clicks("REPORT") == T("report.ask_title", limit=60)


# --- limits -------------------------------------------------------------------------------------

async def test_title_and_category_are_checked(app: AppHarness) -> None:
    wang = app.chat("sim-wang")
    await wang.says("report")
    assert await wang.says("长" * 61) == T("report.title_too_long", limit=60, length=61)
    await wang.says("长" * 60)
    assert await wang.says("9") == T("report.bad_category", text="9", choices=CATEGORIES)
    assert await wang.says("生态") == T("report.ask_body", min=50, max=1500, photos=9)


async def test_body_length_limits_are_told(app: AppHarness, db: Database, people: People) -> None:
    wang = app.chat("sim-wang")
    await wang.says("报送")
    await wang.says(MARKET_TITLE)
    await wang.says("1")
    assert await wang.says("太短了") == T("report.body_short", length=3, missing=47, left=1497)
    assert await wang.says("完成") == T("report.body_too_short", length=3, missing=47, min=50)
    assert await wang.says("字" * 1600) == T("report.body_over", length=1603, over=103, max=1500)
    assert await wang.says("完成") == T("report.body_too_long", length=1603, over=103, max=1500)
    assert await wang.says("重写") == T("report.body_cleared", min=50, max=1500)
    assert (await only_report_of(db, people.wang)).body == ""
    assert await wang.says("字" * 1500) == T("report.body_ok", length=1500, left=0)
    assert "【报送预览】" in await wang.says("完成")


async def test_at_most_nine_photos(app: AppHarness, db: Database, people: People) -> None:
    wang = app.chat("sim-wang")
    await wang.says("报送")
    await wang.says(MARKET_TITLE)
    await wang.says("1")
    for number in range(1, 10):
        reply = await wang.send("image", pic_url=f"http://127.0.0.1/{number}.jpg")
        assert reply is not None and reply["text"] == T("report.photo_received", count=number)
    reply = await wang.send("image", pic_url="http://127.0.0.1/10.jpg")
    assert reply is not None and reply["text"] == T("report.too_many_photos", limit=9)
    async with db.reader() as session:
        assert len((await session.scalars(select(ReportPhoto))).all()) == 9


# --- edit, cancel, resume -----------------------------------------------------------------------

async def test_editing_parts_from_the_preview(app: AppHarness, db: Database, people: People) -> None:
    wang = app.chat("sim-wang")
    await write_until_preview(wang)
    await wang.send("image", pic_url="http://127.0.0.1/a.jpg")  # a photo in the preview is added too
    assert await wang.says("修改") == T("report.ask_part")
    assert await wang.says("1") == T("report.edit_title", title=MARKET_TITLE, limit=60)
    preview = await wang.says("关于农贸市场排水改造的建议")
    assert "标题：关于农贸市场排水改造的建议" in preview and "图片：1 张" in preview
    await wang.says("修改")
    assert await wang.says("类别") == T("report.ask_category", choices=CATEGORIES)
    assert "类别：社会治理" in await wang.says("6")
    await wang.says("修改")
    length = len(MARKET_BODY)
    assert await wang.says("3") == T("report.edit_body", length=length, min=50, max=1500)
    await wang.says("补充一句。")
    assert f"正文：{length + 5} 字" in await wang.says("完成")
    await wang.says("修改")
    assert (await wang.says("4")).startswith(T("report.photos_deleted"))
    await wang.says("提交")
    report = await only_report_of(db, people.wang)
    assert (report.title, report.category, report.status) == ("关于农贸市场排水改造的建议", "社会治理",
                                                              ReportStatus.SUBMITTED)
    assert report.body.endswith("补充一句。")


async def test_cancel_keeps_the_draft_and_resume_continues_it(app: AppHarness, db: Database, people: People) -> None:
    wang = app.chat("sim-wang")
    await wang.says("报送")
    await wang.says(MARKET_TITLE)
    await wang.says("1")
    await wang.says(MARKET_BODY[:30])
    assert await wang.says("取消") == T("report.cancelled_draft_kept", title=MARKET_TITLE)
    assert (await only_report_of(db, people.wang)).status is ReportStatus.DRAFT
    assert await wang.says("继续") == T("report.resume_body", length=30, photos=0, min=50, max=1500)
    await wang.says(MARKET_BODY[30:])
    assert "【报送预览】" in await wang.says("完成")
    await wang.says("取消")
    assert "【报送预览】" in await wang.says("继续")  # back at the step where it was left


async def test_a_new_report_offers_the_old_draft_first(app: AppHarness, db: Database, people: People) -> None:
    wang = app.chat("sim-wang")
    await wang.says("报送")
    await wang.says(MARKET_TITLE)
    await wang.says("取消")
    assert await wang.says("报送") == T("report.existing", title=MARKET_TITLE)
    assert await wang.says("好的") == T("report.existing_how")
    assert await wang.says("新写") == T("report.ask_title", limit=60)
    async with db.reader() as session:
        assert (await session.scalars(select(Report))).all() == []  # the old draft is gone
    await wang.says(SCHOOL_TITLE)
    await wang.says("取消")
    await wang.says("报送")
    assert await wang.says("继续") == T("report.ask_category", choices=CATEGORIES)


async def test_the_start_and_resume_words_inside_the_flow_are_the_commands(app: AppHarness) -> None:
    wang = app.chat("sim-wang")
    await wang.says("报送")
    await wang.says(MARKET_TITLE)
    assert await wang.says("报送") == T("report.existing", title=MARKET_TITLE)  # at a step: 报送 itself
    # Re-entry (bot.chat.router): asked again rather than counted as a wrong answer to the question.
    assert await wang.says("报送") == T("report.existing", title=MARKET_TITLE)
    assert await wang.says("继续") == T("report.ask_category", choices=CATEGORIES)
    assert await wang.says("继续") == T("report.ask_category", choices=CATEGORIES)  # the report of this flow


async def test_discard_deletes_a_draft(app: AppHarness, db: Database) -> None:
    wang = app.chat("sim-wang")
    await write_until_preview(wang)
    await wang.send("image", pic_url="http://127.0.0.1/a.jpg")
    assert await wang.says("放弃") == T("report.discarded")
    async with db.reader() as session:
        assert (await session.scalars(select(Report))).all() == []
        assert (await session.scalars(select(ReportPhoto))).all() == []
    assert await wang.says("继续") == T("report.nothing_to_resume")


async def test_resume_after_a_restart(db: Database, people: People, settings: Settings) -> None:
    clock = FrozenClock()
    async with running_app(settings, clock) as app:
        wang = app.chat("sim-wang")
        await wang.says("报送")
        await wang.says(MARKET_TITLE)
        await wang.says("3")
        await wang.says(MARKET_BODY[:60])
    async with running_app(settings, clock) as restarted:
        wang = restarted.chat("sim-wang")
        # The conversation itself survived: the next text is still part of the body.
        length = len(MARKET_BODY)
        assert await wang.says(MARKET_BODY[60:]) == T("report.body_ok", length=length, left=1500 - length)
        assert await wang.says("继续") == T("report.resume_body", length=length, photos=0, min=50, max=1500)
        assert "类别：生态环境" in await wang.says("完成")


async def test_resume_after_the_conversation_timed_out(app: AppHarness, clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    await wang.says("报送")
    await wang.says(MARKET_TITLE)
    clock.advance(hours=5)
    reply = await wang.says("继续")
    assert reply.startswith(T("conversation.expired_before")) and reply.endswith(
        T("report.ask_category", choices=CATEGORIES))


# --- 我的报送 and withdrawal ---------------------------------------------------------------------

async def test_my_reports_details_and_withdrawal(app: AppHarness, db: Database, people: People) -> None:
    older = await file_report(db, people.wang, SCHOOL_TITLE, SCHOOL_BODY, year=2025)
    wang = app.chat("sim-wang")
    assert await wang.says("我的报送") == T("report.mine.empty", year=2026)
    await write_until_preview(wang)
    await wang.says("提交")
    listing = await wang.says("我的报送")
    assert listing.splitlines()[:2] == [T("report.mine.title", year=2026, count=1),
                                        T("report.mine.item", number=1, title=MARKET_TITLE,
                                          status=T("report.status.submitted"))]
    assert SCHOOL_TITLE not in listing  # last year's report is not listed
    assert await wang.says("5") == T("report.mine.bad_number", count=1)
    detail = await wang.says("1")
    assert f"《{MARKET_TITLE}》" in detail and "提交" in detail and T("report.mine.can_withdraw") in detail
    assert await wang.says("撤回") == T("report.withdrawn", title=MARKET_TITLE)
    report = await only_report_of_year(db, 2026)
    assert report.status is ReportStatus.DRAFT
    assert [e.action for e in await events_of(db, report.id or 0)] == ["submit", "withdraw"]
    assert "【报送预览】" in await wang.says("继续")
    await wang.says("提交")
    assert (await load(db, report.id or 0)).status is ReportStatus.SUBMITTED
    assert (await load(db, older)).status is ReportStatus.SUBMITTED


async def only_report_of_year(db: Database, year: int) -> Report:
    async with db.reader() as session:
        return (await session.scalars(select(Report).where(Report.year == year))).one()


async def test_a_withdrawn_draft_with_history_is_kept_when_discarded(app: AppHarness, db: Database) -> None:
    wang = app.chat("sim-wang")
    await write_until_preview(wang)
    await wang.says("提交")
    await wang.says("我的报送")
    await wang.says("1")
    await wang.says("撤回")
    await wang.says("继续")
    assert await wang.says("放弃") == T("report.discarded")
    assert (await only_report_of_year(db, 2026)).status is ReportStatus.DRAFT  # its history stays on record


# --- similar reports ----------------------------------------------------------------------------

async def test_a_near_copy_is_warned_about(app: AppHarness, db: Database, people: People) -> None:
    await file_report(db, people.li, MARKET_TITLE, MARKET_BODY)
    preview = await write_until_preview(app.chat("sim-wang"), "城关镇农贸市场排水问题亟待解决", MARKET_NEAR_COPY)
    assert "很相似" in preview and f"《{MARKET_TITLE}》" in preview
    assert await app.chat("sim-wang").says("提交") == T("report.submitted", title="城关镇农贸市场排水问题亟待解决")
    report = await only_report_of(db, people.wang)
    assert report.similar_report_id is not None and (report.similarity or 0) > 0.5


async def test_an_unrelated_report_is_not_warned_about(app: AppHarness, db: Database, people: People) -> None:
    await file_report(db, people.li, MARKET_TITLE, MARKET_BODY)
    await file_report(db, people.li, "去年的同一份", MARKET_BODY, year=2025)
    preview = await write_until_preview(app.chat("sim-wang"), SCHOOL_TITLE, SCHOOL_BODY)
    assert "很相似" not in preview
