"""Study in chat: ``学习`` lists the newest materials with read marks, a number opens one (a text in chat,
counted read; a link as the member's own tracked link), ``学习 N`` works without the list, ``已学`` counts the
newest unread pushed material, and no wording pushes or scores anybody.

The clock stands at 2026-11-21 09:00 in Shanghai. Materials are added and pushed through :mod:`bot.domain.study`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.domain import study
from bot.domain.notices import Outbox
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from handlers.study import CHAT_TEXT_MAX
from models.notice import NoticeReceipt, ReadVia, StudyMaterial, StudyRead
from tests.activity_support import Org, T
from tests.support import AppHarness, running_app

CHARTER = "政协章程（节选）"
CHARTER_BODY = "第一章 总纲\n中国人民政治协商会议是中国人民爱国统一战线的组织。"
REPORT = "政府工作报告解读"
REPORT_URL = "https://example.org/study/report"


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


async def publish(app: AppHarness, title: str, *, body: str = "", url: str = "", summary: str = "",
                  push: bool = True) -> StudyMaterial:
    """A material added by the office and (by default) pushed to everybody now."""
    services = app.services
    async with services.db.session() as session:
        material = await study.add_material(session, title=title, body=body, url=url, summary=summary, by=None,
                                            now=services.clock.now())
        if push:
            outbox = Outbox(services.texts, services.settings, await services.signer(), services.clock.now())
            await study.push_material(session, material, outbox)
    return material


async def reads(db: Database, member_id: int | None) -> dict[int, ReadVia]:
    async with db.reader() as session:
        rows = (await session.execute(select(StudyRead.material_id, StudyRead.via)
                                      .where(StudyRead.member_id == member_id))).all()
    return {material_id: via for material_id, via in rows}


def listing(*items: tuple[str, bool]) -> str:
    lines = [T("study_chat.list.title", count=len(items))]
    for number, (title, read) in enumerate(items, start=1):
        mark = T("study_chat.list.read" if read else "study_chat.list.unread")
        lines.append(T("study_chat.list.item", number=number, title=title, mark=mark))
    return "\n".join([*lines, T("study_chat.list.how")])


def opened(title: str, body: str) -> str:
    return "\n\n".join([T("study_chat.open.text", title=title, body=body), T("study_chat.open.marked")])


# --- 学习 -----------------------------------------------------------------------------------------------------


async def test_the_list_shows_the_newest_first_with_read_marks(app: AppHarness, db: Database, org: Org,
                                                               clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("学习") == T("study_chat.list.empty")
    charter = await publish(app, CHARTER, body=CHARTER_BODY)
    clock.advance(hours=1)
    await publish(app, REPORT, url=REPORT_URL)
    await publish(app, "尚未推送的材料", body="草稿", push=False)  # not pushed: not listed
    async with db.session() as session:
        await study.mark_read(session, charter.id or 0, org.wang.id or 0, ReadVia.REPLY, clock.now())
    assert await wang.says("学习") == listing((REPORT, False), (CHARTER, True))
    assert await wang.says("ｓｔｕｄｙ") == listing((REPORT, False), (CHARTER, True))
    assert await app.chat("sim-zhou").says("学习") == listing((REPORT, False), (CHARTER, False))
    text = await wang.says("学习")
    for word in ("积分", "排名", "每天", "points", "打卡"):  # no pressure, no scores
        assert word not in text


async def test_opening_a_text_material_shows_it_and_counts_it_read(app: AppHarness, db: Database, org: Org,
                                                                   clock: FrozenClock) -> None:
    charter = await publish(app, CHARTER, body=CHARTER_BODY)
    await publish(app, REPORT, url=REPORT_URL)
    wang = app.chat("sim-wang")
    await wang.says("学习")
    assert await wang.says("3") == T("study_chat.list.bad_number", number=3, count=2)
    assert await wang.says("２") == opened(CHARTER, CHARTER_BODY)  # full-width digit; newest first, so 2
    assert await reads(db, org.wang.id) == {charter.id: ReadVia.CHAT}
    async with db.reader() as session:  # the push of it counts as read too
        receipt = await session.scalar(select(NoticeReceipt).where(NoticeReceipt.member_id == org.wang.id))
        assert receipt is not None and receipt.read_at == clock.now()
    assert await wang.says("学习") == listing((REPORT, False), (CHARTER, True))
    # Opening it again is harmless: still one read, the first way it was read.
    assert await wang.says("学习 2") == opened(CHARTER, CHARTER_BODY)
    assert await reads(db, org.wang.id) == {charter.id: ReadVia.CHAT}


async def test_a_link_material_answers_with_the_members_own_link(app: AppHarness, db: Database, org: Org) -> None:
    report = await publish(app, REPORT, url=REPORT_URL, summary="三分钟读懂今年的政府工作报告")
    wang = app.chat("sim-wang")
    answer = await wang.says("学习 1")  # without the list first
    found = re.search(r"http://127\.0\.0\.1:8080/r/(m(\d+)-(\d+)\.\d+\.\S+)", answer)
    assert found is not None and (int(found.group(2)), int(found.group(3))) == (report.id, org.wang.id)
    assert answer == T("study_chat.open.link", title=REPORT, summary="\n三分钟读懂今年的政府工作报告",
                       link=found.group(0))
    assert await reads(db, org.wang.id) == {}  # counted when the link is opened (tests/test_reading.py)
    assert await wang.says("1") == answer  # the list is open now: a bare number works too


async def test_a_long_text_is_cut_with_a_link_to_the_whole(app: AppHarness, db: Database, org: Org) -> None:
    body = "\n".join(f"第{n}段。" + "委员履职学习内容。" * 20 for n in range(1, 40))
    assert len(body) > CHAT_TEXT_MAX
    material = await publish(app, "长篇学习材料", body=body)
    wang = app.chat("sim-wang")
    await wang.says("学习")
    whole = await wang.says("1")  # the simulator takes it whole; WeChat's 2048-byte parts are the dispatcher's
    assert whole.startswith(T("study_chat.open.text", title="长篇学习材料", body=body[:50]))
    assert f"/r/m{material.id}-{org.wang.id}." in whole and whole.endswith(T("study_chat.open.marked"))
    assert "第10段。" in whole and "第11段。" not in whole and len(whole) < CHAT_TEXT_MAX + 300  # cut at a paragraph
    assert await reads(db, org.wang.id) == {material.id: ReadVia.CHAT}


async def test_a_sign_in_code_is_not_taken_as_a_list_number(app: AppHarness) -> None:
    await publish(app, CHARTER, body=CHARTER_BODY)
    wang = app.chat("sim-wang")
    await wang.says("学习")
    assert await wang.says("123456") != opened(CHARTER, CHARTER_BODY)
    assert await wang.says("帮助") != ""


# --- 已学 -----------------------------------------------------------------------------------------------------


async def test_studied_counts_the_newest_unread_pushed_material(app: AppHarness, db: Database, org: Org,
                                                                clock: FrozenClock) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("已学") == T("study_chat.studied.nothing")
    charter = await publish(app, CHARTER, body=CHARTER_BODY)
    clock.advance(hours=1)
    report = await publish(app, REPORT, url=REPORT_URL)
    assert await wang.says("已学") == T("study_chat.studied.thanks", title=REPORT)
    assert await reads(db, org.wang.id) == {report.id: ReadVia.REPLY}
    assert await wang.says("studied") == T("study_chat.studied.thanks", title=CHARTER)
    assert await wang.says("已学") == T("study_chat.studied.nothing")
    assert await reads(db, org.wang.id) == {report.id: ReadVia.REPLY, charter.id: ReadVia.REPLY}
    async with db.reader() as session:
        assert await study.read_counts(session, report.id or 0) == (1, 7)


async def test_study_needs_a_registered_member(app: AppHarness) -> None:
    await publish(app, CHARTER, body=CHARTER_BODY)
    stranger = app.chat("sim-stranger")
    for words in ("学习", "学习 1", "已学"):
        assert await stranger.says(words) == T("study_chat.not_member")


async def test_help_lists_study_and_attend(app: AppHarness) -> None:
    member_help = await app.chat("sim-wang").says("帮助")
    for word, key in (("学习", "study"), ("已学", "studied"), ("参加", "attend")):
        assert f"· {word} — {T(f'study_chat.help.{key}')}" in member_help
