"""社情民意 in a real browser: 钱秘书 opens the queue from 工作台, reads a report with its photo and the similar
report beside it, accepts it, returns another with a comment, adopts the first, records a leader's instruction,
and compiles the adopted report into a Word bulletin — the member told at each step (their pushes in the
simulator), each page photographed into test-artifacts/screenshots/ (tests/browser_support.py). 孙秘书, on a phone,
sees only 东山镇's reports.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno
from docx import Document
from playwright.async_api import expect

from models.report import ReportPhoto
from tests import browser_support
from tests.browser_support import BROWSER, Browsing
from tests.report_support import (
    MARKET_BODY,
    MARKET_NEAR_COPY,
    MARKET_TITLE,
    SCHOOL_BODY,
    SCHOOL_TITLE,
    T,
    file_report,
    seed_people,
)
from tests.support import AppHarness
from tests.test_console_browser import log_in

browser, site, browsing, phone = (browser_support.browser, browser_support.site, browser_support.browsing,
                                  browser_support.phone)  # fixtures
pytestmark = BROWSER


async def with_photo(site: AppHarness, report_id: int) -> int:
    """A photo of the report as scheduler/photos.py leaves it: a PNG under media_dir, its row stored."""
    relative = f"reports/{report_id}/1.png"
    target = Path(site.services.settings.media_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    segno.make("排水沟").save(str(target), kind="png", scale=8)
    async with site.services.db.session() as session:
        photo = ReportPhoto(report_id=report_id, platform="sim", media_id="sim-1", path=relative, status="stored")
        session.add(photo)
        await session.flush()
        assert photo.id is not None
        return photo.id


async def test_a_secretary_reviews_adopts_and_compiles_a_bulletin(site: AppHarness, browsing: Browsing) -> None:
    db = site.services.db
    people = await seed_people(db)
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    copy = await file_report(db, people.li, "农贸市场排水问题", MARKET_NEAR_COPY)
    photo_id = await with_photo(site, market)
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")

    await page.locator("#queue-link-reports").click()
    await expect(page.locator("#nav-reports")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#queue tbody tr")).to_have_count(2)
    await browsing.screenshot("queue")
    await page.locator(f"#queue-{market} a").click()
    await expect(page.locator("#report-title")).to_have_text(MARKET_TITLE)
    await expect(page.locator("#report-body")).to_contain_text("排水管道老化")
    assert await page.locator(f"#photo-{photo_id}").evaluate("img => img.naturalWidth") > 0  # the photo loads
    await expect(page.locator(f"#similar-{copy}")).to_contain_text("农贸市场排水问题")
    await browsing.screenshot("report")

    await page.locator("#do-accept").click()
    await expect(page.locator("#done")).to_have_text(T("console_reports.done.accept"))
    await page.locator("#level").select_option(label=T("report.level.city"))
    await page.locator("#do-adopt").click()
    await expect(page.locator("#done")).to_have_text(T("console_reports.done.adopt"))
    await expect(page.locator("#report-status")).to_contain_text(T("report.level.city"))
    await page.locator("#leader").fill("县委书记 周某")
    await page.locator("#instruction").fill("请住建局牵头，年内完成排水改造。")
    await page.locator("#do-instruct").click()
    await expect(page.locator("#done")).to_have_text(T("console_reports.done.instruct"))
    await expect(page.locator("#notes")).to_contain_text("请住建局牵头")
    await expect(page.locator("#history")).to_contain_text(T("report.action.instruct"))
    await browsing.screenshot("adopted")
    pushes = await site.chat("sim-wang").pushes()
    assert len(pushes) == 3 and all(MARKET_TITLE in push for push in pushes[:2]), pushes
    assert "年内完成排水改造" in pushes[2]

    await page.locator("#back").click()
    await page.locator("#filter-status").select_option(label=T("report.status.adopted"))
    await page.locator("#filter-apply").click()
    await expect(page.locator("#reports tbody tr")).to_have_count(1)
    await page.locator(f"#pick-{market}").check()
    await browsing.screenshot("compile")
    async with page.expect_download() as started:
        await page.locator("#compile-docx").click()
    download = await started.value
    assert download.suggested_filename.endswith(".docx")
    document = Document(io.BytesIO((await download.path()).read_bytes()))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert f"1. {MARKET_TITLE}" in text and "城关镇农贸市场建于上世纪九十年代" in text and "县委书记 周某" in text


async def test_a_return_with_its_comment_and_a_refusal_on_the_page(site: AppHarness, browsing: Browsing,
                                                                   phone: Browsing) -> None:
    db = site.services.db
    people = await seed_people(db)
    await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    school = await file_report(db, people.li, SCHOOL_TITLE, SCHOOL_BODY)

    handset = phone.page  # 孙秘书 (东山镇) on a phone: 王芳's 城关镇 report is not theirs to see
    await handset.clock.install()
    await log_in(site, phone, "sim-sun")
    await handset.locator("#nav-reports").click()
    await expect(handset.locator("#queue tbody tr")).to_have_count(1)
    await expect(handset.locator("#main")).not_to_contain_text(MARKET_TITLE)
    await phone.screenshot("queue")
    await handset.locator(f"#queue-{school} a").click()
    phone.tolerate(r"/console/reports/\d+/act: Failed to load resource: .* 422")
    await handset.locator("#do-return").click()  # no comment yet: the domain refuses, the page says why
    await expect(handset.locator("#refusal")).to_have_text(T("report.errors.comment_required"))
    await phone.screenshot("refused")
    await handset.locator("#comment-return").fill("请补充校车线路的具体走向。")
    await handset.locator("#do-return").click()
    await expect(handset.locator("#done")).to_have_text(T("console_reports.done.return"))
    await expect(handset.locator("#no-actions")).to_be_visible()
    await phone.screenshot("returned")
    assert any("请补充校车线路的具体走向" in push for push in await site.chat("sim-li").pushes())

    # The office's own desk still lists both, the returned one with its status.
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")
    await browsing.visit("/console/reports", "all")
    await expect(page.locator(f"#report-{school}")).to_contain_text(T("report.status.returned"))
    await expect(page.locator("#reports tbody tr")).to_have_count(2)
