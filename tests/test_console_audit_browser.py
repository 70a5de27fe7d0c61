"""操作日志 in a real browser: 东山镇's secretary logs in, finds their login and their group's events in the log,
filters by person and day, and downloads the filtered log as a workbook — each step photographed into
test-artifacts/screenshots/ (tests/browser_support.py).
"""

from __future__ import annotations

import io

from playwright.async_api import expect

from tests import browser_support
from tests.activity_support import T, seed_org
from tests.browser_support import BROWSER, Browsing
from tests.support import AppHarness
from tests.test_audit import seed_events
from tests.test_console_browser import log_in

browser, site, browsing = browser_support.browser, browser_support.site, browser_support.browsing  # fixtures
pytestmark = BROWSER


async def test_a_secretary_filters_the_log_of_their_groups_and_exports_it(site: AppHarness,
                                                                         browsing: Browsing) -> None:
    from openpyxl import load_workbook

    org = await seed_org(site.services.db)
    await seed_events(site.services.db, org)
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-sun")
    await page.locator("#nav-audit").click()
    await expect(page.locator("h1")).to_have_text(T("console_audit.page_title"))
    rows = page.locator("#audit tbody tr")
    await expect(rows).to_have_count(3)  # their login, and 东山镇's two events: not 城关镇's, not the role change
    await expect(rows.first).to_contain_text(T("audit.action.console.login"))
    await expect(page.locator("#audit")).not_to_contain_text("钱秘书")
    await browsing.screenshot("log")

    await page.locator("#actor").select_option(label="孙秘书")
    await page.locator("#since").fill("2026-11-20")
    await page.locator("#until").fill("2026-11-20")
    await page.locator("#apply").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(T("audit.action.member.approve"))
    await expect(page.locator("#audit-total")).to_have_attribute("data-total", "1")
    await browsing.screenshot("filtered")

    async with page.expect_download() as started:
        await page.locator("#audit-export").click()
    download = await started.value
    assert download.suggested_filename == "audit.xlsx"
    sheet = load_workbook(io.BytesIO((await download.path()).read_bytes())).active
    assert sheet is not None
    assert [(row[1], row[3]) for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        ("孙秘书", T("audit.action.member.approve"))]
