"""注册审核 in a real browser: from the dashboard's count to the list, one applicant approved and one rejected
with a reason, each told in the simulator; on a phone, 东山镇's secretary sees only 东山镇's applicant.
Screenshots in test-artifacts/screenshots/ (tests/browser_support.py)."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from models.member import Member
from tests import browser_support
from tests.activity_support import T, seed_org
from tests.browser_support import BROWSER, Browsing
from tests.console_support import applies
from tests.support import AppHarness
from tests.test_console_browser import log_in

browser, site, browsing, phone = (browser_support.browser, browser_support.site, browser_support.browsing,
                                  browser_support.phone)  # fixtures
pytestmark = BROWSER


async def member_id(site: AppHarness, name: str) -> int:
    async with site.services.db.reader() as session:
        found = await session.scalar(select(Member.id).where(Member.name == name))
    assert found is not None
    return found


async def test_a_secretary_approves_and_rejects_registrations(site: AppHarness, browsing: Browsing) -> None:
    org = await seed_org(site.services.db)
    await applies(site.services.db, "林晓梅", "13900000001", org.chengguan)
    await applies(site.services.db, "邓丽君", "13900000003", org.dongshan)
    lin, deng = await member_id(site, "林晓梅"), await member_id(site, "邓丽君")
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")
    await page.locator("#queue-link-registrations").click()
    await expect(page.locator("#nav-registrations")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#registrations tbody tr")).to_have_count(2)
    await expect(page.locator(f"#registration-{lin}")).to_contain_text("13900000001")
    await browsing.screenshot("list")

    await page.locator(f"#approve-{lin}").click()
    await expect(page.locator("#decided")).to_have_text(T("console_registrations.approved", name="林晓梅"))
    await expect(page.locator("#registrations tbody tr")).to_have_count(1)
    await browsing.screenshot("approved")
    assert await site.chat("sim-13900000001").pushes() == [T("members.approved", name="林晓梅")]

    await page.locator(f"#reason-{deng}").fill("名册中没有此人，请向所在单位核实")
    await page.locator(f"#reject-{deng}").click()
    await expect(page.locator("#decided")).to_have_text(T("console_registrations.rejected", name="邓丽君"))
    await expect(page.locator("#registrations-none")).to_have_text(T("console_registrations.none"))
    await browsing.screenshot("rejected")
    assert await site.chat("sim-13900000003").pushes() == [
        T("members.rejected", name="邓丽君", reason="名册中没有此人，请向所在单位核实")]


async def test_on_a_phone_a_secretary_sees_only_their_groups(site: AppHarness, phone: Browsing) -> None:
    org = await seed_org(site.services.db)
    await applies(site.services.db, "林晓梅", "13900000001", org.chengguan)
    await applies(site.services.db, "邓丽君", "13900000003", org.dongshan)
    page = phone.page
    await page.clock.install()
    await log_in(site, phone, "sim-sun")
    await phone.visit("/console/registrations", "list")
    await expect(page.locator("#registrations tbody tr")).to_have_count(1)
    await expect(page.locator("#main")).to_contain_text("邓丽君")
    await expect(page.locator("#main")).not_to_contain_text("林晓梅")
    await phone.assert_chinese_glyphs(T("console_registrations.approve") + T("console_registrations.reject"))
