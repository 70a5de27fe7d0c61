"""委员 in a real browser: 孙秘书 (东山镇) finds 李强 by name, opens his page, changes his mobile and status,
confirms the changes and sees them in the edit history; the list on a phone. Screenshots in
test-artifacts/screenshots/ (tests/browser_support.py).
"""

from __future__ import annotations

from playwright.async_api import expect

from models.member import Member, MemberStatus
from tests import browser_support
from tests.activity_support import T, seed_org
from tests.browser_support import BROWSER, Browsing
from tests.support import AppHarness
from tests.test_console_browser import log_in

browser, site, browsing, phone = (browser_support.browser, browser_support.site, browser_support.browsing,
                                  browser_support.phone)  # fixtures
pytestmark = BROWSER


async def test_a_secretary_finds_a_member_and_edits_him(site: AppHarness, browsing: Browsing) -> None:
    org = await seed_org(site.services.db)
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-sun")
    await page.locator("#nav-members").click()
    await expect(page.locator("#nav-members")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#members tbody tr")).to_have_count(3)  # 东山镇 only: 李强, 赵敏, 吴静
    await expect(page.locator("#members")).not_to_contain_text("王芳")
    await browsing.screenshot("list")

    await page.locator("#f-bound").select_option("no")
    await page.locator("#filter").click()
    await expect(page.locator("#members tbody tr")).to_have_count(1)
    await expect(page.locator("#members")).to_contain_text("13800000006")  # 吴静, to be called
    await browsing.screenshot("unbound")

    await page.locator("#f-bound").select_option("")
    await page.locator("#q").fill("李")
    await page.locator("#filter").click()
    await page.locator(f"#member-{org.li.id} a").click()
    await expect(page.locator("h1")).to_have_text("李强")
    await expect(page.locator("#bindings")).to_contain_text(T("console_members.platform.sim"))
    await expect(page.locator("#duty")).to_contain_text(T("console_members.detail.score"))
    await browsing.screenshot("member")

    await page.locator("#e-mobile").fill("13900001234")
    await page.locator("#e-status").select_option(MemberStatus.SUSPENDED.value)
    await page.locator("#review").click()
    await expect(page.locator("#change-mobile")).to_contain_text("13900001234")
    await expect(page.locator("#change-status")).to_contain_text(T("members.status.suspended"))
    await browsing.screenshot("confirm")
    await page.locator("#confirm").click()
    await expect(page.locator("#saved")).to_have_text(T("console_members.detail.saved"))
    await expect(page.locator("#p-status")).to_have_text(T("members.status.suspended"))
    await expect(page.locator("#history")).to_contain_text("13800000002 → 13900001234")
    await expect(page.locator("#history")).to_contain_text("孙秘书")
    await browsing.screenshot("saved")
    async with site.services.db.reader() as session:
        li = await session.get(Member, org.li.id)
    assert li is not None and (li.mobile, li.status) == ("13900001234", MemberStatus.SUSPENDED)


async def test_a_refused_edit_says_why_on_a_phone(site: AppHarness, phone: Browsing) -> None:
    org = await seed_org(site.services.db)
    page = phone.page
    await page.clock.install()
    await log_in(site, phone, "sim-sun")
    await phone.visit(f"/console/members/{org.li.id}", "member")
    await page.locator("#e-mobile").fill(org.zhao.mobile or "")
    await page.locator("#review").click()
    phone.tolerate(r"Failed to load resource: .* 409")
    await page.locator("#confirm").click()
    await expect(page.locator("#edit-error")).to_have_text(
        T("member_edit.error.mobile_taken", mobile=org.zhao.mobile))
    await phone.screenshot("refused")
    phone.tolerate(r"Failed to load resource: .* 404")
    await phone.visit(f"/console/members/{org.wang.id}", "out-of-scope")
    await expect(page.locator("#message")).to_have_text(T("console_members.detail.not_found"))


async def test_the_office_imports_a_roster_after_a_dry_run(site: AppHarness, browsing: Browsing) -> None:
    await seed_org(site.services.db)
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")
    await browsing.visit("/console/members", "list")
    await page.locator("#import").click()
    roster = ("姓名,性别,手机号,界别,专委会,联络组,工作单位及职务,届次,角色\n"
              "新委员甲,男,13700000001,经济界,,东山镇,,十五届,\n"
              "新委员乙,女,1370000,经济界,,东山镇,,十五届,\n")
    await page.locator("#file").set_input_files(
        files=[{"name": "名册.csv", "mimeType": "text/csv", "buffer": roster.encode("utf-8")}])
    await page.locator("#upload").click()
    await expect(page.locator("#import-errors")).to_contain_text("第 3 行：手机号“1370000”不正确")
    await expect(page.locator("#import-summary")).to_contain_text("试运行（未写入数据库）：将新增 1 人")
    await browsing.screenshot("preview")
    await page.locator("#confirm-import").click()
    await expect(page.locator("#import-done")).to_contain_text("导入完成：新增 1 人")
    await browsing.screenshot("done")
    await browsing.visit("/console/members?q=新委员", "imported")
    await expect(page.locator("#members tbody tr")).to_have_count(1)
    await expect(page.locator("#members")).to_contain_text("13700000001")
