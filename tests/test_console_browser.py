"""The secretary console in a real browser: logging in by a code confirmed through the simulator, the dashboard's
counts within the secretary's scope, logging out, sessions that expire, and a form posted without its CSRF
token — each page photographed into test-artifacts/screenshots/ (tests/browser_support.py).

    /console/ ──► /console/login (a code) ── the secretary sends 登录 <code> through /sim/api/send ──►
    the page's next poll sees "confirmed" ──► /console/login/finish ──► 工作台

The login page polls on Playwright's clock, moved on by the test; the server's time is the ``clock`` fixture.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import expect
from sqlalchemy import select

from bot.domain.roster import load_demo
from bot.infra.clock import FrozenClock
from bot.web.console.login import POLL_SECONDS
from models.member import Member, Role
from tests import browser_support
from tests.activity_support import T, seed_org
from tests.browser_support import BROWSER, Browsing
from tests.console_support import applies
from tests.support import AppHarness

browser, site, browsing, phone = (browser_support.browser, browser_support.site, browser_support.browsing,
                                  browser_support.phone)  # fixtures
pytestmark = BROWSER

DASHBOARD = "/console/"
LOGIN = "/console/login"


async def log_in(site: AppHarness, browsing: Browsing, user: str, step: str = "", *, scan: bool = False) -> None:
    """``user`` opens the console, sends the code shown to the bot (or scans its QR code in the simulator's
    扫一扫), and the page goes on to 工作台 by itself."""
    page = browsing.page
    await browsing.visit(DASHBOARD, f"{step}login")
    await expect(page).to_have_url(browsing.url(LOGIN))
    code = (await page.locator("#login-code").inner_text()).strip()
    await expect(page.locator("#login-how")).to_have_text(T("console.login.how", code=code))
    chat = site.chat(user)
    confirmed = await (chat.scans(f"console:{code}") if scan else chat.says(f"登录 {code}"))
    assert confirmed.startswith("已登录管理后台"), confirmed
    await page.clock.run_for(POLL_SECONDS * 1000)  # the page's next poll: confirmed
    await page.wait_for_url(browsing.url(DASHBOARD))
    await expect(page.locator("#nav-dashboard")).to_have_attribute("aria-current", "page")
    await browsing.screenshot(f"{step}dashboard")


async def queue_count(browsing: Browsing, key: str) -> str | None:
    return await browsing.page.locator(f"#queue-{key} .count").get_attribute("data-count")


# --- logging in --------------------------------------------------------------------------------------------


async def test_the_demo_secretary_logs_in_by_code_sent_through_the_simulator(site: AppHarness,
                                                                            browsing: Browsing) -> None:
    db = site.services.db
    await load_demo(db)
    async with db.reader() as session:
        secretary = await session.scalar(select(Member).where(Member.role == Role.SECRETARY).order_by(Member.id))
    assert secretary is not None
    # As the demo's message says: register in the simulator with the secretary's mobile number.
    chat = site.chat("sim-demo-secretary")
    await chat.says("注册")
    await chat.says(secretary.name)
    assert (await chat.says(secretary.mobile)).startswith("注册成功")

    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-demo-secretary")
    await expect(page.locator("h1")).to_have_text(T("console.dashboard.greeting", name=secretary.name))
    await expect(page.locator("#who")).to_have_text(f"{secretary.name}（{T('members.role.secretary')}）")
    await expect(page.locator("#main")).to_contain_text(
        T("console.dashboard.waiting", scope=T("console.dashboard.scope_all")))
    assert await queue_count(browsing, "registrations") == "1"  # the demo's sample application
    await browsing.assert_chinese_glyphs(T("console.queue.registrations"))
    await expect(page.locator("#queue-registrations")).to_contain_text(T("console.queue.registrations"))


async def test_a_member_who_is_not_a_secretary_or_a_wrong_code_logs_nobody_in(site: AppHarness,
                                                                             browsing: Browsing) -> None:
    await seed_org(site.services.db)
    page = browsing.page
    await page.clock.install()
    await browsing.visit(LOGIN, "waiting")
    await expect(page.locator("#login-qr")).to_be_visible()  # the simulator's QR code: the scene itself
    code = (await page.locator("#login-code").inner_text()).strip()
    assert await site.chat("sim-wang").says(f"登录 {code}") == T("console.refused.not_secretary")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert await site.chat("sim-qian").says(f"登录 {wrong}") == T("console.refused.bad_code", code_digits=wrong)

    await page.clock.run_for(POLL_SECONDS * 1000)
    await expect(page.locator("#login-status")).to_have_text(T("console.login.waiting"))
    await expect(page).to_have_url(browsing.url(LOGIN))
    # Following the 进入 link without a confirmation opens nothing either (the refusal is a 403 page).
    browsing.tolerate(r"/console/login/finish: Failed to load resource: .* 403")
    await page.locator("#login-continue").click()
    await expect(page.locator("#message")).to_have_text(T("console.refused.not_confirmed"))
    await browsing.screenshot("not-confirmed")
    await browsing.visit(DASHBOARD, "still-out")
    await expect(page).to_have_url(browsing.url(LOGIN))


async def test_a_code_left_waiting_expires_on_the_page(site: AppHarness, browsing: Browsing,
                                                       clock: FrozenClock) -> None:
    await seed_org(site.services.db)
    page = browsing.page
    await page.clock.install()
    await browsing.visit(LOGIN, "waiting")
    code = (await page.locator("#login-code").inner_text()).strip()
    clock.advance(minutes=5)
    await page.clock.run_for(POLL_SECONDS * 1000)
    await expect(page.locator("#login-status")).to_have_text(T("console.login.expired"))
    await expect(page.locator("#login-again")).to_be_visible()
    await browsing.screenshot("expired")
    assert await site.chat("sim-qian").says(f"登录 {code}") == T("console.refused.bad_code", code_digits=code)


# --- scope ---------------------------------------------------------------------------------------------------


async def test_each_secretary_counts_only_the_groups_in_their_scope(site: AppHarness, browsing: Browsing) -> None:
    org = await seed_org(site.services.db)
    await applies(site.services.db, "林晓梅", "13900000001", org.chengguan)
    await applies(site.services.db, "何建国", "13900000002", org.chengguan)
    await applies(site.services.db, "邓丽君", "13900000003", org.dongshan)
    page = browsing.page
    await page.clock.install()

    await log_in(site, browsing, "sim-qian", "office-")  # the office's secretary: every group
    assert await queue_count(browsing, "registrations") == "3"
    await expect(page.locator("#main")).to_contain_text(
        T("console.dashboard.waiting", scope=T("console.dashboard.scope_all")))
    await page.locator("#logout").click()
    await expect(page).to_have_url(browsing.url(LOGIN))

    await log_in(site, browsing, "sim-sun", "dongshan-", scan=True)  # 东山镇's secretary, by the QR code
    assert await queue_count(browsing, "registrations") == "1"
    await expect(page.locator("#main")).to_contain_text(T("console.dashboard.waiting", scope="东山镇"))
    await expect(page.locator("#main")).not_to_contain_text("城关镇")


# --- leaving ---------------------------------------------------------------------------------------------------


async def test_logging_out_ends_the_session_on_the_server(site: AppHarness, browsing: Browsing) -> None:
    await seed_org(site.services.db)
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")
    await browsing.visit("/console/sessions", "sessions")
    await expect(page.locator("#sessions tbody tr")).to_have_count(1)
    await expect(page.locator("#sessions")).to_contain_text(T("console.sessions.this"))
    kept = await page.context.cookies()

    await page.locator("#logout").click()
    await expect(page).to_have_url(browsing.url(LOGIN))
    await browsing.screenshot("logged-out")
    # The old cookie, put back, opens nothing: the session ended on the server, not just in this browser.
    await page.context.add_cookies(kept)  # type: ignore[arg-type]
    await browsing.visit(DASHBOARD, "old-cookie")
    await expect(page).to_have_url(browsing.url(LOGIN))


async def test_a_secretary_ends_their_session_on_another_device(site: AppHarness, browsing: Browsing,
                                                                 phone: Browsing) -> None:
    await seed_org(site.services.db)
    for device in (browsing, phone):
        await device.page.clock.install()
    await log_in(site, phone, "sim-qian")  # on the phone first, then at the desk
    await expect(phone.page.locator("#queues")).to_be_visible()
    await log_in(site, browsing, "sim-qian")
    page = browsing.page
    await browsing.visit("/console/sessions", "sessions")
    rows = page.locator("#sessions tbody tr")
    await expect(rows).to_have_count(2)
    other = rows.filter(has_not_text=T("console.sessions.this"))
    await other.get_by_role("button", name=T("console.sessions.revoke")).click()
    await expect(page.locator("#revoked")).to_have_text(T("console.sessions.revoked"))
    await expect(rows).to_have_count(1)
    await browsing.screenshot("revoked")

    await phone.visit(DASHBOARD, "revoked")
    await expect(phone.page).to_have_url(phone.url(LOGIN))
    await browsing.visit(DASHBOARD, "still-in")  # the desk's own session goes on
    await expect(page).to_have_url(browsing.url(DASHBOARD))


async def test_an_idle_session_goes_back_to_the_login(site: AppHarness, browsing: Browsing,
                                                      clock: FrozenClock) -> None:
    await seed_org(site.services.db)
    idle = site.services.settings.console.idle_timeout_minutes
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")
    clock.advance(minutes=idle - 1)
    await browsing.visit(DASHBOARD, "still-in")  # used again in time: the idle clock starts over
    await expect(page).to_have_url(browsing.url(DASHBOARD))
    clock.advance(minutes=idle)
    await browsing.visit(DASHBOARD, "idle")
    await expect(page).to_have_url(browsing.url(LOGIN))


async def test_a_session_in_use_ends_at_its_lifetime(site: AppHarness, browsing: Browsing,
                                                     clock: FrozenClock) -> None:
    await seed_org(site.services.db)
    console = site.services.settings.console
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")
    step = timedelta(minutes=console.idle_timeout_minutes - 1)
    used_for = timedelta()
    while used_for + step < timedelta(hours=console.lifetime_hours):
        clock.set(clock.now() + step)
        used_for += step
        await page.goto(browsing.url(DASHBOARD))  # never idle …
        await expect(page).to_have_url(browsing.url(DASHBOARD))
    await browsing.screenshot("last-hour")
    clock.set(clock.now() + step)  # … and still over after the lifetime
    await browsing.visit(DASHBOARD, "lifetime-over")
    await expect(page).to_have_url(browsing.url(LOGIN))


# --- CSRF ----------------------------------------------------------------------------------------------------


async def test_a_form_posted_without_its_csrf_token_is_refused(site: AppHarness, browsing: Browsing) -> None:
    await seed_org(site.services.db)
    page = browsing.page
    await page.clock.install()
    await log_in(site, browsing, "sim-qian")

    # A form that lost its token (as a forged one from another site would lack it): 403, and nothing happens.
    browsing.tolerate(r"/console/logout: Failed to load resource: .* 403")
    await page.locator("#logout-form input[name=csrf]").evaluate("input => input.remove()")
    async with page.expect_response(browsing.url("/console/logout")) as answer:
        await page.locator("#logout").click()
    assert (await answer.value).status == 403
    await expect(page.locator("#message")).to_have_text(T("console.forbidden.csrf"))
    await browsing.screenshot("refused")
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        refused = await page.request.post(browsing.url("/console/logout"), headers=headers)
        assert refused.status == 403, headers
    await browsing.visit(DASHBOARD, "still-in")
    await expect(page).to_have_url(browsing.url(DASHBOARD))  # still logged in: the refused logout did nothing
