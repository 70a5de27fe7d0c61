"""API 令牌 in a real browser: 东山镇's secretary makes a token for a script, copies it from the page (shown once), the
script approves a registration of their group through the admin API as them (the applicant is told in the
simulator) and cannot approve another group's; the secretary revokes the token and the script is shut out —
each step photographed into test-artifacts/screenshots/ (tests/browser_support.py).
"""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from bot.api import API_PREFIX
from bot.domain.api_tokens import PREFIX
from models.member import Member, MemberStatus
from tests import browser_support
from tests.activity_support import T, seed_org
from tests.browser_support import BROWSER, Browsing
from tests.support import AppHarness
from tests.test_console_browser import applies, log_in

browser, site, browsing = browser_support.browser, browser_support.site, browser_support.browsing  # fixtures
pytestmark = BROWSER


async def test_a_secretary_makes_a_token_a_script_acts_with_it_and_the_secretary_revokes_it(
        site: AppHarness, browsing: Browsing) -> None:
    org = await seed_org(site.services.db)
    await applies(site.services.db, "邓丽君", "13900000003", org.dongshan)
    await applies(site.services.db, "林晓梅", "13900000001", org.chengguan)
    async with site.services.db.reader() as session:
        pending = await session.execute(select(Member.mobile, Member.id).where(Member.status == MemberStatus.PENDING))
        applicants = {mobile: ident for mobile, ident in pending.all()}
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-sun")
    await page.locator("#nav-tokens").click()
    await expect(page.locator("#tokens-none")).to_be_visible()
    await browsing.screenshot("empty")

    await page.locator("#token-name").fill("每周导出")
    await page.locator("#token-create").click()
    await expect(page.locator("#token-created")).to_contain_text(T("console_tokens.created", name="每周导出"))
    token = (await page.locator("#token-value").inner_text()).strip()
    assert token.startswith(PREFIX)
    await browsing.screenshot("created")

    script = {"Authorization": f"Bearer {token}"}
    theirs = await site.client.post(f"{API_PREFIX}/members/{applicants['13900000003']}/approve",
                                    headers=script)
    assert theirs.status == 200 and (await theirs.json())["notified"] is True
    assert any("注册" in text for text in await site.chat("sim-13900000003").pushes())  # the applicant is told
    other = await site.client.post(f"{API_PREFIX}/members/{applicants['13900000001']}/approve",
                                   headers=script)
    assert other.status == 403  # 城关镇 is not 孙秘书's

    await browsing.visit("/console/tokens", "listed")
    row = page.locator("#tokens tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("每周导出")
    await expect(page.locator("#main")).not_to_contain_text(token)  # shown once, never again
    await row.get_by_role("button", name=T("console_tokens.revoke")).click()
    await expect(page.locator("#revoked")).to_have_text(T("console_tokens.revoked"))
    await expect(page.locator("#tokens-none")).to_be_visible()
    await browsing.screenshot("revoked")
    assert (await site.client.get(f"{API_PREFIX}/members", headers=script)).status == 401

    await page.locator("#nav-audit").click()  # what the token did is in the log under their name
    await expect(page.locator("#audit")).to_contain_text(T("audit.action.member.approve"))
    await expect(page.locator("#audit")).to_contain_text(T("audit.action.token.revoke"))
    await browsing.screenshot("audit")
