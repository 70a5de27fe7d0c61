"""社情民意 in the console over HTTP: the queue and the list within each secretary's reach (filters, paging), a
report's page with its photos, history and similar reports, the review actions (each telling the member, audited
as the console), refusals shown on the page, CSRF, and the bulletin compiled as .docx and .xlsx.

    王芳 (城关镇) and 李强 (东山镇) report; 钱秘书 reviews every group, 孙秘书 only 东山镇.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.audit import AuditEvent, Channel
from models.report import Instruction, ReportPhoto, ReportStatus
from tests.console_support import Browser, browsers, log_in
from tests.report_support import (
    MARKET_BODY,
    MARKET_NEAR_COPY,
    MARKET_TITLE,
    SCHOOL_BODY,
    SCHOOL_TITLE,
    People,
    T,
    file_report,
    load,
    seed_people,
)
from tests.support import AppHarness, running_app

ROW = re.compile(r'id="report-(\d+)"')
QUEUED = re.compile(r'id="queue-(\d+)"')


@pytest.fixture
async def people(db: Database) -> People:
    return await seed_people(db)


@pytest.fixture
async def desk(settings: Settings, clock: FrozenClock, people: People
               ) -> AsyncIterator[tuple[AppHarness, Browser, Browser]]:
    """The app, and 钱秘书 (every group) and 孙秘书 (东山镇) logged in, each in a browser of their own."""
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        qian, sun = open_browser(), open_browser()
        await log_in(qian, app.chat("sim-qian"))
        await log_in(sun, app.chat("sim-sun"))
        yield app, qian, sun


def ids(pattern: re.Pattern[str], page: str) -> list[int]:
    return [int(found) for found in pattern.findall(page)]


async def act(browser: Browser, report_id: int, expect: int = 302, **form: str) -> str:
    csrf = await browser.csrf(f"/console/reports/{report_id}")
    answer = await browser.post(f"/console/reports/{report_id}/act", data={"csrf": csrf, **form})
    assert answer.status == expect, (answer.status, await answer.text())
    return await answer.text()


# --- the list ------------------------------------------------------------------------------------------------


async def test_the_queue_and_the_list_keep_to_each_secretarys_reach(desk: tuple, db: Database,
                                                                    people: People) -> None:
    _app, qian, sun = desk
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    school = await file_report(db, people.li, SCHOOL_TITLE, SCHOOL_BODY, category="文化教育")
    await file_report(db, people.li, "草稿不给人看", SCHOOL_BODY, status=ReportStatus.DRAFT)
    adopted = await file_report(db, people.li, "往年采用的建议", SCHOOL_BODY, year=2025, status=ReportStatus.ADOPTED)

    page = await qian.text("/console/reports")
    assert ids(QUEUED, page) == [market, school]  # oldest first
    assert sorted(ids(ROW, page)) == sorted([market, school, adopted])  # drafts are the members' own
    assert f'id="pick-{adopted}"' in page and f'id="pick-{market}"' not in page  # only adopted ones compile

    page = await sun.text("/console/reports")
    assert ids(QUEUED, page) == [school]
    assert sorted(ids(ROW, page)) == sorted([school, adopted])
    assert MARKET_TITLE not in page
    assert ids(ROW, await sun.text("/console/reports?name=王")) == []  # 王芳 is outside 孙秘书's reach

    assert ids(ROW, await qian.text("/console/reports?status=adopted")) == [adopted]
    assert ids(ROW, await qian.text("/console/reports?category=文化教育")) == [school]
    assert ids(ROW, await qian.text("/console/reports?year=2025")) == [adopted]
    assert ids(ROW, await qian.text("/console/reports?name=王芳")) == [market]
    assert ids(ROW, await qian.text("/console/reports?status=nonsense&year=x")) != []  # names nothing: no filter


async def test_the_list_is_paged(desk: tuple, db: Database, people: People) -> None:
    _app, qian, _sun = desk
    for number in range(23):
        await file_report(db, people.wang, f"建议 {number}", MARKET_BODY, status=ReportStatus.NOT_ADOPTED)
    first = await qian.text("/console/reports?status=not_adopted")
    assert len(ids(ROW, first)) == 20 and "第 1 / 2 页" in first
    assert 'href="/console/reports?status=not_adopted&amp;page=2"' in first
    second = await qian.text("/console/reports?status=not_adopted&page=2")
    assert len(ids(ROW, second)) == 3 and not set(ids(ROW, first)) & set(ids(ROW, second))


async def test_the_dashboard_links_its_count_here(desk: tuple, db: Database, people: People) -> None:
    _app, qian, _sun = desk
    await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    assert 'id="queue-link-reports" href="/console/reports"' in await qian.text("/console/")


# --- one report ----------------------------------------------------------------------------------------------


async def test_a_report_with_its_photos_history_and_similar_reports(desk: tuple, db: Database, people: People,
                                                                   settings: Settings) -> None:
    _app, qian, sun = desk
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    copy = await file_report(db, people.li, "农贸市场排水问题", MARKET_NEAR_COPY)
    folder = Path(settings.media_dir) / "reports" / str(market)
    folder.mkdir(parents=True)
    (folder / "1.jpg").write_bytes(b"\xff\xd8\xff\xe0 a photo")
    async with db.session() as session:
        photo = ReportPhoto(report_id=market, platform="sim", media_id="m1", path=f"reports/{market}/1.jpg",
                            status="stored")
        session.add(photo)
        await session.flush()
        photo_id = photo.id

    page = await qian.text(f"/console/reports/{market}")
    assert MARKET_BODY in page and "报送人：王芳" in page
    assert f'id="photo-{photo_id}"' in page
    assert f'id="similar-{copy}"' in page  # the near-copy, beside it
    assert T("report.action.submit") in page.split('id="history"')[1]
    shown = await qian.get(f"/console/reports/{market}/photos/{photo_id}")
    assert shown.status == 200 and await shown.read() == b"\xff\xd8\xff\xe0 a photo"
    assert shown.headers["Content-Type"] == "image/jpeg"

    # 孙秘书 sees 李强's copy, but not the 城关镇 report beside it, nor that report or its photo.
    page = await sun.text(f"/console/reports/{copy}")
    assert f'id="similar-{market}"' not in page and 'id="similar-none"' in page
    assert (await sun.get(f"/console/reports/{market}")).status == 404
    assert (await sun.get(f"/console/reports/{market}/photos/{photo_id}")).status == 404
    assert (await qian.get(f"/console/reports/{copy}/photos/{photo_id}")).status == 404  # not that report's
    assert (await qian.get("/console/reports/999999")).status == 404


async def test_without_a_session_the_pages_send_to_the_login(settings: Settings, clock: FrozenClock,
                                                            db: Database, people: People) -> None:
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        stranger = open_browser()
        for path in ("/console/reports", f"/console/reports/{market}"):
            answer = await stranger.get(path)
            assert answer.status == 302 and answer.headers["Location"] == "/console/login"


# --- the actions ---------------------------------------------------------------------------------------------


async def test_each_step_tells_the_member_and_is_audited_as_the_console(desk: tuple, db: Database,
                                                                       people: People) -> None:
    app, qian, _sun = desk
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    wang = app.chat("sim-wang")

    await act(qian, market, action="accept")
    assert (await load(db, market)).status is ReportStatus.UNDER_REVIEW
    assert "已受理" in await qian.text(f"/console/reports/{market}?done=accept")
    await act(qian, market, action="adopt", level="city")
    await act(qian, market, action="adopt", level="provincial")  # up the ladder
    await act(qian, market, action="instruct", leader="县委书记 周某", text="请住建局牵头办理。", given_on="2026-03-01")
    report = await load(db, market)
    assert report.status is ReportStatus.ADOPTED and report.adoption_level == "provincial"
    pushes = await wang.pushes()
    assert len(pushes) == 4 and MARKET_TITLE in pushes[0]
    assert "省级" in pushes[2] and "请住建局牵头办理" in pushes[3]
    async with db.reader() as session:
        note = await session.scalar(select(Instruction).where(Instruction.report_id == market))
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.object_type == "report",
                                                                   AuditEvent.object_id == market)
                                        .order_by(AuditEvent.id))).all()
    assert note is not None and note.leader == "县委书记 周某"
    assert [event.action for event in events] == ["report.accept", "report.adopt", "report.adopt", "report.instruct"]
    assert {event.channel for event in events} == {Channel.CONSOLE}
    assert events[0].actor_member_id == people.qian.id


async def test_returning_needs_a_comment_and_the_member_gets_it(desk: tuple, db: Database, people: People) -> None:
    app, _qian, sun = desk
    school = await file_report(db, people.li, SCHOOL_TITLE, SCHOOL_BODY)
    page = await act(sun, school, expect=422, action="return", comment="  ")
    assert T("report.errors.comment_required") in page and 'id="refusal"' in page
    assert (await load(db, school)).status is ReportStatus.SUBMITTED
    await act(sun, school, action="return", comment="请补充校车线路的具体走向。")
    report = await load(db, school)
    assert report.status is ReportStatus.RETURNED and report.review_comment == "请补充校车线路的具体走向。"
    assert any("请补充校车线路的具体走向" in push for push in await app.chat("sim-li").pushes())


async def test_not_adopting_and_steps_the_status_does_not_allow(desk: tuple, db: Database, people: People) -> None:
    app, qian, _sun = desk
    school = await file_report(db, people.li, SCHOOL_TITLE, SCHOOL_BODY, status=ReportStatus.UNDER_REVIEW)
    await act(qian, school, action="not_adopt", comment="已有部门在办理。")
    assert (await load(db, school)).status is ReportStatus.NOT_ADOPTED
    assert any("已有部门在办理" in push for push in await app.chat("sim-li").pushes())
    page = await act(qian, school, expect=409, action="accept")
    assert T("report.errors.illegal", status=T("report.status.not_adopted"), action=T("report.action.accept")) in page
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY, status=ReportStatus.UNDER_REVIEW)
    assert T("report.errors.level_required") in await act(qian, market, expect=422, action="adopt", level="none")
    await act(qian, market, action="adopt", level="county")
    bad_date = await act(qian, market, expect=422, action="instruct", leader="周某", text="好", given_on="x")
    assert T("console_reports.errors.bad_date") in bad_date and 'value="周某"' in bad_date  # what was typed stays


async def test_a_secretary_cannot_act_outside_their_reach_nor_without_the_csrf_token(desk: tuple, db: Database,
                                                                                    people: People) -> None:
    app, qian, sun = desk
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    csrf = await sun.csrf("/console/reports")
    refused = await sun.post(f"/console/reports/{market}/act", data={"csrf": csrf, "action": "accept"})
    assert refused.status == 404
    forged = await qian.post(f"/console/reports/{market}/act", data={"action": "accept"})
    assert forged.status == 403 and T("console.forbidden.csrf") in await forged.text()
    assert (await load(db, market)).status is ReportStatus.SUBMITTED
    assert await app.chat("sim-wang").pushes() == []


# --- the bulletin --------------------------------------------------------------------------------------------


async def test_selected_adopted_reports_compile_into_a_word_bulletin_and_a_full_text_list(
        desk: tuple, db: Database, people: People) -> None:
    _app, qian, sun = desk
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY, status=ReportStatus.ADOPTED)
    school = await file_report(db, people.li, SCHOOL_TITLE, SCHOOL_BODY, status=ReportStatus.ADOPTED)
    waiting = await file_report(db, people.li, "还在审核", SCHOOL_BODY)
    csrf = await qian.csrf("/console/reports")
    chosen = [("csrf", csrf), ("report", str(market)), ("report", str(school)), ("report", str(waiting))]

    answer = await qian.post("/console/reports/compile", data=[*chosen, ("format", "docx")])
    assert answer.status == 200 and "attachment" in answer.headers["Content-Disposition"]
    document = Document(BytesIO(await answer.read()))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert text.startswith("信息专报") and "共 2 篇" in text
    assert f"1. {MARKET_TITLE}" in text and f"2. {SCHOOL_TITLE}" in text and "还在审核" not in text
    assert "城关镇农贸市场建于上世纪九十年代" in text and "报送人：王芳（城关镇）" in text

    answer = await qian.post("/console/reports/compile", data=[*chosen, ("format", "xlsx")])
    sheet = load_workbook(BytesIO(await answer.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][7] == "全文" and [row[0] for row in rows[1:]] == [market, school]
    assert rows[1][7] == MARKET_BODY and rows[2][4] == "东山镇"

    # 孙秘书 picking 王芳's report gets only what is in reach; nothing in reach: back to the list, told so.
    csrf = await sun.csrf("/console/reports")
    answer = await sun.post("/console/reports/compile", data=[("csrf", csrf), ("report", str(market)),
                                                              ("report", str(school)), ("format", "xlsx")])
    rows = list(load_workbook(BytesIO(await answer.read())).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [school]
    answer = await sun.post("/console/reports/compile", data=[("csrf", csrf), ("report", str(market)),
                                                              ("format", "docx")])
    assert answer.status == 302 and answer.headers["Location"] == "/console/reports?status=adopted&compiled=none"
    assert 'id="compiled-none"' in await sun.text(answer.headers["Location"])
    forged = await qian.post("/console/reports/compile", data=[("report", str(market)), ("format", "docx")])
    assert forged.status == 403
