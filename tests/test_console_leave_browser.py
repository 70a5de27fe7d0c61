"""请假审批 in a real browser: from the dashboard's count to the list with each member's attendance, one request
approved (the recorded absence becomes leave) and one denied with a reason, each member told in the simulator.
Screenshots in test-artifacts/screenshots/ (tests/browser_support.py)."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import expect

from bot.infra.clock import FrozenClock
from models.activity import AttendanceStatus, Audience
from tests import browser_support
from tests.activity_support import T, attendance_rows, make_activity, seed_org
from tests.browser_support import BROWSER, Browsing
from tests.support import AppHarness
from tests.test_console_browser import log_in
from tests.test_console_leave import asks_leave, recorded_absent

browser, site, browsing = browser_support.browser, browser_support.site, browser_support.browsing  # fixtures
pytestmark = BROWSER


async def test_a_secretary_approves_and_denies_leave(site: AppHarness, browsing: Browsing, clock: FrozenClock
                                                     ) -> None:
    db = site.services.db
    org = await seed_org(db)
    market = await make_activity(db, clock.now() + timedelta(days=2), title="农贸市场调研", audience=Audience.GROUPS,
                                 audience_ids=[org.chengguan], group_id=org.chengguan)
    school = await make_activity(db, clock.now() + timedelta(days=3), title="山区学校视察")
    await recorded_absent(db, market.id or 0, org.wang)
    wang = await asks_leave(db, market.id or 0, org.wang, at=clock.now())
    li = await asks_leave(db, school.id or 0, org.li, "出差在外", at=clock.now() + timedelta(minutes=5))

    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")
    await page.locator("#queue-link-leave").click()
    await expect(page.locator("#nav-leave")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#leave tbody tr")).to_have_count(2)
    await expect(page.locator(f"#attendance-{wang}")).to_have_text(T("attendance.status.absent"))
    await expect(page.locator(f"#attendance-{li}")).to_have_text(T("attendance.status.none"))
    await browsing.screenshot("list")

    await page.locator(f"#approve-{wang}").click()
    approved = T("console_leave.approved", name="王芳", activity="农贸市场调研")
    await expect(page.locator("#decided")).to_have_text(approved)
    await browsing.screenshot("approved")
    assert await site.chat("sim-wang").pushes() == [T("leave.notify.approved", title="农贸市场调研", note="-")]
    assert (await attendance_rows(db, market.id or 0))[org.wang.id or 0].status is AttendanceStatus.LEAVE

    await page.locator(f"#note-{li}").fill("本次视察需要您参加")
    await page.locator(f"#deny-{li}").click()
    await expect(page.locator("#decided")).to_have_text(T("console_leave.denied", name="李强", activity="山区学校视察"))
    await expect(page.locator("#leave-none")).to_have_text(T("console_leave.none"))
    await browsing.screenshot("denied")
    told = T("leave.notify.denied", title="山区学校视察", note="本次视察需要您参加")
    assert await site.chat("sim-li").pushes() == [told]
