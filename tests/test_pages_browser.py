"""The pages people open today, in a real browser: the venue screen follows the sign-ins and the code's turns by
polling, a pushed reading link shows the material, and the simulator answers 帮助 — each with a screenshot in
test-artifacts/screenshots/, and asserting what a person sees: the Chinese text laid out in real glyphs, no
console errors, no CSP violation (tests/browser_support.py checks those at the end of every test).

The server's time is the ``clock`` fixture; the page's timers run on Playwright's clock, moved forward by hand,
so a poll happens when the test says and nothing waits for real seconds.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import expect
from sqlalchemy import select

from bot.domain.activities import shown_code
from bot.domain.links import screen_url
from bot.infra.clock import FrozenClock
from models.notice import ReadVia, StudyRead
from tests import browser_support
from tests.activity_support import T, make_activity, seed_org
from tests.browser_support import BROWSER, Browsing
from tests.support import AppHarness
from tests.test_reading import pushed_link
from tests.test_study_chat import publish

browser, site, browsing = browser_support.browser, browser_support.site, browser_support.browsing  # fixtures
pytestmark = BROWSER

POLL_MS = 3000  # bot/web/screen.py POLL_SECONDS: one more poll of the screen
EXPECTED = 7  # active members of seed_org


def spaced(code: str) -> str:
    """The code as the screen shows it, in two groups of three."""
    return f"{code[:3]} {code[3:]}"


async def test_the_venue_screen_follows_sign_ins_and_the_turning_code(site: AppHarness, browsing: Browsing,
                                                                      clock: FrozenClock) -> None:
    await seed_org(site.services.db)
    meeting = await make_activity(site.services.db, clock.now() + timedelta(minutes=30))
    period = site.services.settings.activities.code_period_seconds
    page = browsing.page
    await page.clock.install()  # the page's timers wait for the test, not for real seconds
    await browsing.visit(await screen_url(site.services, meeting), "open")

    code = shown_code(meeting, clock.now(), period).code
    await expect(page.locator("#title")).to_have_text(meeting.title)
    await expect(page.locator("#code")).to_have_text(spaced(code))
    await expect(page.locator("#signed-in")).to_have_text("0")
    await expect(page.locator("#expected")).to_have_text(str(EXPECTED))
    await expect(page.locator("#qr")).to_be_visible()
    await expect(page.locator("body")).to_contain_text(T("signin.screen.code_label"))
    await browsing.assert_chinese_glyphs(meeting.title)

    # A member signs in with the code on the screen; the next poll shows the count.
    assert await site.chat("sim-wang").says(f"签到 {code}") == T("signin.signed_in", title=meeting.title,
                                                                 time="09:00")
    await page.clock.run_for(POLL_MS)
    await expect(page.locator("#signed-in")).to_have_text("1")
    await expect(page.locator("#code")).to_have_text(spaced(code))
    await browsing.screenshot("signed-in")

    # The period ends: the screen asks again and shows the new code.
    clock.advance(seconds=period)
    turned = shown_code(meeting, clock.now(), period).code
    assert turned != code
    await page.clock.run_for(POLL_MS)
    await expect(page.locator("#code")).to_have_text(spaced(turned))
    await browsing.screenshot("next-code")


async def test_a_pushed_reading_link_shows_the_material_and_counts_it(site: AppHarness, browsing: Browsing) -> None:
    org = await seed_org(site.services.db)
    material = await publish(site, "学习贯彻全会精神", body="第一段：坚持团结民主。\n第二段：<b>不是粗体</b>。")
    path = await pushed_link(site.services.db, "sim-wang")

    response = await browsing.visit(path, "material")
    assert response.status == 200
    page = browsing.page
    await expect(page.locator("h1")).to_have_text(material.title)
    await expect(page.locator("body")).to_contain_text("第一段：坚持团结民主。")
    await expect(page.locator("body")).to_contain_text("<b>不是粗体</b>")  # shown as text, not markup
    await expect(page.locator("body")).to_contain_text(T("study_chat.reading.read_note"))
    await browsing.assert_chinese_glyphs(material.title)
    async with site.services.db.reader() as session:
        via = await session.scalar(select(StudyRead.via).where(StudyRead.member_id == org.wang.id,
                                                               StudyRead.material_id == material.id))
    assert via is ReadVia.LINK


async def test_a_member_picked_in_the_simulator_asks_for_help(site: AppHarness, browsing: Browsing) -> None:
    await seed_org(site.services.db)
    page = browsing.page
    await browsing.visit("/sim", "empty")
    await expect(page.locator("h1")).to_contain_text("模拟器")
    member = page.locator("#member")
    await expect(member.locator("option[value='sim-wang']")).to_have_text("王芳（城关镇）")
    await member.select_option("sim-wang")
    await expect(page.locator("#user")).to_have_value("sim-wang")

    await page.locator("#text").fill("帮助")
    await page.get_by_role("button", name="发送", exact=True).click()
    answer = page.locator(".row.out .bubble").last
    await expect(answer).to_contain_text(T("help.title.member"))
    await expect(answer).to_contain_text(T("help.footer"))
    await expect(page.locator(".row.in .bubble").last).to_have_text("帮助")
    await browsing.assert_chinese_glyphs(T("help.title.member"))
    await browsing.screenshot("help")
