"""Logging in to the console through the bot, over HTTP with the simulator: the code end to end, the QR scene,
refusals (not a secretary, wrong, expired, reused code, another browser's nonce), sessions (CSRF, logout, idle
and absolute expiry, revoking), the CLI's one-time link and the rate limits.

The organisation is tests/activity_support.py's: 钱秘书 (sim-qian, every group), 孙秘书 (sim-sun, 东山镇 only),
王芳 (sim-wang, a member), 陈组长 (a group leader).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.cli.console import console_link
from bot.domain.console import digest
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.audit import AuditEvent, Channel
from models.console import ConsoleSession
from tests.activity_support import Org
from tests.console_support import Browser, browsers, log_in
from tests.support import AppHarness, running_app

T = Catalogue()


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, org: Org) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


@pytest.fixture
async def open_browser(app: AppHarness) -> AsyncIterator[object]:
    async with browsers(app) as opener:
        yield opener


async def audit_actions(db: Database) -> list[tuple[str, int | None, Channel]]:
    async with db.reader() as session:
        rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    return [(row.action, row.actor_member_id, row.channel) for row in rows]


# --- the code, end to end ----------------------------------------------------------------------------------


async def test_login_by_code_end_to_end(app: AppHarness, open_browser, org: Org, db: Database) -> None:
    browser: Browser = open_browser()
    code = await browser.login_code()
    assert await browser.state() == "waiting"
    assert (await browser.get("/console/login/finish")).status == 403  # not confirmed yet

    answer = await app.chat("sim-qian").says(f"登录 {code}")
    assert answer.startswith("已登录管理后台（09:00）")
    assert await browser.state() == "confirmed"
    nonce = browser.cookie("lvzhi_console_login")
    finished = await browser.get("/console/login/finish")
    assert finished.status == 302 and finished.headers["Location"] == "/console/"
    cookie = finished.cookies["lvzhi_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/console"
    assert not cookie["secure"]  # public_url is http here

    page = await browser.text("/console/")
    assert "钱秘书，您好" in page and 'id="logout-form"' in page
    assert browser.cookie("lvzhi_console_login") is None  # the nonce is forgotten once it has served
    assert await browser.state() == "none"
    assert (await browser.get("/console/login/finish")).status == 403  # a login is exchanged once
    replay: Browser = open_browser()  # even with the nonce kept somewhere
    assert (await replay.get("/console/login/finish", cookies={"lvzhi_console_login": nonce or ""})).status == 403
    # Only the digest of the session's token is stored.
    async with db.reader() as session:
        stored = (await session.scalars(select(ConsoleSession))).one()
    assert stored.token_hash == digest(browser.cookie("lvzhi_console") or "") and stored.member_id == org.qian.id
    assert ("console.login", org.qian.id, Channel.CONSOLE) in await audit_actions(db)


async def test_login_page_tells_how_and_the_simulator_gets_a_qr_code(app: AppHarness, open_browser) -> None:
    browser: Browser = open_browser()
    page = await browser.text("/console/login")
    assert 'id="login-qr" src="data:image/svg+xml' in page  # the scene itself, for the simulator's 扫一扫
    assert "在微信中向「履职」发送：登录" in page and "09:05 前有效" in page
    response = await browser.get("/console/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in policy and "connect-src 'self'" in policy and "img-src data:" in policy


async def test_the_qr_scene_and_the_english_word_log_in_too(app: AppHarness, open_browser) -> None:
    first: Browser = open_browser()
    code = await first.login_code()
    assert (await app.chat("sim-qian").scans(f"console:{code}")).startswith("已登录管理后台")
    assert await first.state() == "confirmed"

    second: Browser = open_browser()
    code = await second.login_code()
    assert (await app.chat("sim-sun").says(f"ＬＯＧＩＮ {code}")).startswith("已登录管理后台")
    assert (await second.get("/console/login/finish")).status == 302


async def test_bare_login_word_says_how(app: AppHarness) -> None:
    assert await app.chat("sim-qian").says("登录") == T("console.help")


# --- refusals ----------------------------------------------------------------------------------------------


async def test_a_member_who_is_not_a_secretary_logs_nothing_in(app: AppHarness, open_browser) -> None:
    browser: Browser = open_browser()
    code = await browser.login_code()
    for user in ("sim-wang", "sim-chen"):  # a member, a group leader
        assert await app.chat(user).says(f"登录 {code}") == T("console.refused.not_secretary")
    assert await app.chat("sim-stranger").says(f"登录 {code}") == T("console.refused.not_secretary")
    assert await browser.state() == "waiting"
    assert (await browser.get("/console/login/finish")).status == 403


async def test_wrong_expired_and_reused_codes_are_refused(app: AppHarness, open_browser, clock: FrozenClock
                                                          ) -> None:
    browser: Browser = open_browser()
    code = await browser.login_code()
    wrong = "000000" if code != "000000" else "111111"
    qian = app.chat("sim-qian")
    assert await qian.says(f"登录 {wrong}") == T("console.refused.bad_code", code_digits=wrong)
    spaced = f"{wrong[:3]} {wrong[3:]}"  # typed with a space: the same six digits
    assert await qian.says(f"登录 {spaced}") == T("console.refused.bad_code", code_digits=wrong)

    clock.advance(minutes=5, seconds=1)
    assert await qian.says(f"登录 {code}") == T("console.refused.bad_code", code_digits=code)
    assert await browser.state() == "expired"

    fresh = await browser.login_code()  # reloading the page gives a new code
    await qian.says(f"登录 {fresh}")
    assert (await browser.get("/console/login/finish")).status == 302
    assert await app.chat("sim-sun").says(f"登录 {fresh}") == T("console.refused.bad_code", code_digits=fresh)


async def test_a_confirmed_code_logs_in_only_the_browser_that_asked(app: AppHarness, open_browser) -> None:
    asking: Browser = open_browser()
    other: Browser = open_browser()
    code = await asking.login_code()
    await other.login_code()  # another browser has a nonce of its own
    await app.chat("sim-qian").says(f"登录 {code}")
    assert await other.state() == "waiting"
    assert (await other.get("/console/login/finish")).status == 403
    assert (await other.get("/console/")).headers["Location"] == "/console/login"
    assert (await asking.get("/console/login/finish")).status == 302


async def test_a_secretary_demoted_after_confirming_is_not_logged_in(app: AppHarness, open_browser, org: Org,
                                                                     db: Database) -> None:
    browser: Browser = open_browser()
    code = await browser.login_code()
    await app.chat("sim-qian").says(f"登录 {code}")
    await _set_role(db, org.qian.id, "member")
    assert (await browser.get("/console/login/finish")).status == 403


async def _set_role(db: Database, member_id: int | None, role: str) -> None:
    from models.member import Member, Role

    async with db.session() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        member.role = Role(role)
        session.add(member)


# --- sessions ----------------------------------------------------------------------------------------------


async def test_without_a_session_pages_go_to_login_and_json_gets_401(open_browser) -> None:
    browser: Browser = open_browser()
    for path in ("/console/", "/console/sessions"):
        response = await browser.get(path)
        assert response.status == 302 and response.headers["Location"] == "/console/login"
    assert (await browser.get("/console/queues")).status == 401
    assert (await browser.post("/console/logout")).headers["Location"] == "/console/login"
    assert (await browser.get("/console")).headers["Location"] == "/console/"


async def test_state_changing_requests_need_the_csrf_token(app: AppHarness, open_browser) -> None:
    browser: Browser = open_browser()
    await log_in(browser, app.chat("sim-qian"))
    assert (await browser.post("/console/logout")).status == 403
    assert (await browser.post("/console/logout", data={"csrf": "forged"})).status == 403
    assert (await browser.get("/console/")).status == 200  # still logged in
    token = await browser.csrf()
    response = await browser.post("/console/logout", data={"csrf": token})
    assert response.status == 302 and response.headers["Location"] == "/console/login"
    assert (await browser.get("/console/")).headers["Location"] == "/console/login"


async def test_logout_ends_the_session_server_side(app: AppHarness, open_browser, db: Database, org: Org) -> None:
    browser: Browser = open_browser()
    await log_in(browser, app.chat("sim-qian"))
    stolen = browser.cookie("lvzhi_console")
    await browser.post("/console/logout", headers={"X-CSRF-Token": await browser.csrf()})
    replay: Browser = open_browser()  # the old cookie, kept by someone: the server no longer knows it
    response = await replay.get("/console/", cookies={"lvzhi_console": stolen or ""})
    assert response.headers["Location"] == "/console/login"
    assert ("console.logout", org.qian.id, Channel.CONSOLE) in await audit_actions(db)


async def test_idle_timeout(app: AppHarness, open_browser, clock: FrozenClock) -> None:
    browser: Browser = open_browser()
    await log_in(browser, app.chat("sim-qian"))
    clock.advance(minutes=59)
    assert (await browser.get("/console/")).status == 200  # use keeps it alive
    clock.advance(minutes=59)
    assert (await browser.get("/console/")).status == 200
    clock.advance(minutes=60)
    assert (await browser.get("/console/")).headers["Location"] == "/console/login"


async def test_absolute_lifetime(app: AppHarness, open_browser, clock: FrozenClock) -> None:
    browser: Browser = open_browser()
    await log_in(browser, app.chat("sim-qian"))
    for _ in range(23):  # busy all day: every half hour
        clock.advance(minutes=30)
        assert (await browser.get("/console/")).status == 200
    clock.advance(minutes=30)  # 12 hours after the login
    assert (await browser.get("/console/")).headers["Location"] == "/console/login"


async def test_a_secretary_sees_and_revokes_their_own_sessions(app: AppHarness, open_browser, org: Org,
                                                               db: Database) -> None:
    desk: Browser = open_browser("Desk/1.0")
    phone: Browser = open_browser("Phone/2.0")
    other: Browser = open_browser("Sun/3.0")
    await log_in(desk, app.chat("sim-qian"))
    await log_in(phone, app.chat("sim-qian"))
    await log_in(other, app.chat("sim-sun"))

    page = await desk.text("/console/sessions")
    assert "Desk/1.0" in page and "Phone/2.0" in page and "Sun/3.0" not in page
    phone_id = _session_ids(page)[0]  # newest first
    other_id = _session_ids(await other.text("/console/sessions"))[0]
    token = await desk.csrf("/console/sessions")

    response = await desk.post(f"/console/sessions/{other_id}/revoke", data={"csrf": token})
    assert response.headers["Location"] == "/console/sessions"  # not hers: nothing happens
    assert (await other.get("/console/")).status == 200

    response = await desk.post(f"/console/sessions/{phone_id}/revoke", data={"csrf": token})
    assert response.headers["Location"] == "/console/sessions?revoked=1"
    assert (await phone.get("/console/")).headers["Location"] == "/console/login"
    page = await desk.text("/console/sessions?revoked=1")
    assert T("console.sessions.revoked") in page and "Phone/2.0" not in page
    assert ("console.revoke", org.qian.id, Channel.CONSOLE) in await audit_actions(db)

    desk_id = _session_ids(page)[0]  # ending this browser's own session from the list is a logout
    response = await desk.post(f"/console/sessions/{desk_id}/revoke", headers={"X-CSRF-Token": token})
    assert response.headers["Location"] == "/console/login" and desk.cookie("lvzhi_console") in (None, "")


def _session_ids(page: str) -> list[int]:
    import re

    return [int(found) for found in re.findall(r'<tr id="session-(\d+)"', page)]


# --- the CLI's one-time link -------------------------------------------------------------------------------


async def test_cli_link_logs_in_once(app: AppHarness, open_browser, settings: Settings, clock: FrozenClock,
                                     org: Org, db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert await console_link(settings, argparse.Namespace(member=org.qian.mobile), clock) == 0
    url = capsys.readouterr().out.splitlines()[0]
    assert url.startswith("http://127.0.0.1:8080/console/link/")
    path = url.removeprefix("http://127.0.0.1:8080")
    browser: Browser = open_browser()
    response = await browser.get(path)
    assert response.status == 302 and response.headers["Location"] == "/console/"
    assert "钱秘书，您好" in await browser.text("/console/")
    again: Browser = open_browser()
    assert (await again.get(path)).status == 403
    assert [action for action in await audit_actions(db) if action[0].startswith("console.")] == [
        ("console.link", None, Channel.CLI), ("console.login", org.qian.id, Channel.CONSOLE)]


async def test_cli_link_expires_and_refuses_members(app: AppHarness, open_browser, settings: Settings,
                                                    clock: FrozenClock, org: Org,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert await console_link(settings, argparse.Namespace(member=str(org.qian.id)), clock) == 0
    path = capsys.readouterr().out.splitlines()[0].removeprefix("http://127.0.0.1:8080")
    clock.advance(minutes=settings.console.link_minutes + 1)
    assert (await open_browser().get(path)).status == 403
    assert await console_link(settings, argparse.Namespace(member=org.wang.mobile), clock) == 2
    assert await console_link(settings, argparse.Namespace(member="13999999999"), clock) == 1
    assert "not an active secretary" in capsys.readouterr().err


# --- rate limits -------------------------------------------------------------------------------------------


async def test_login_pages_are_rate_limited_per_ip(open_browser, clock: FrozenClock) -> None:
    browser: Browser = open_browser()
    for _ in range(20):
        await browser.login_code()
    assert (await browser.get("/console/login")).status == 429
    assert (await open_browser().get("/console/login/finish")).status == 429  # the same address
    clock.advance(minutes=10)
    await browser.login_code()


async def test_confirmations_are_rate_limited_per_code_and_per_member(app: AppHarness, open_browser) -> None:
    qian, sun = app.chat("sim-qian"), app.chat("sim-sun")
    browser: Browser = open_browser()
    code = await browser.login_code()
    guess = "111111" if code != "111111" else "222222"
    for secretary in (qian, sun, qian, sun, qian):
        assert await secretary.says(f"登录 {guess}") == T("console.refused.bad_code", code_digits=guess)
    assert await sun.says(f"登录 {guess}") == T("console.refused.too_many")  # the code: 5 tries in all

    wrong = [f"{n:06d}" for n in range(900000, 900010) if f"{n:06d}" != code]
    for attempt in wrong[:2]:
        assert await qian.says(f"登录 {attempt}") == T("console.refused.bad_code", code_digits=attempt)
    assert await qian.says(f"登录 {wrong[2]}") == T("console.refused.too_many")  # her: 5 wrong codes
    assert (await sun.says(f"登录 {code}")).startswith("已登录管理后台")  # others are not held up
