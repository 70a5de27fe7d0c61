"""Set-up for tests/test_console_*.py: browsers with their own cookies against the running app, and logging in
through the simulator as a secretary would.

    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        browser = open_browser()
        await log_in(browser, app.chat("sim-qian"))
        page = await browser.get("/console/")
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bot.infra.clock import Clock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.member import ApplicationStatus, Member, MemberApplication, MemberStatus, Platform
from tests.support import AppHarness, SimChat, running_app

CODE = re.compile(r'id="login-code">(\d{6})<')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """One browser: its own cookie jar (so its own nonce and session), requests by path, no redirects followed."""

    def __init__(self, app: AppHarness, user_agent: str) -> None:
        self.base = str(app.client.make_url("")).rstrip("/")
        # unsafe: the test server is 127.0.0.1, and aiohttp keeps no cookies for a bare IP otherwise.
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          headers={"User-Agent": user_agent})

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.http.get(self.base + path, allow_redirects=False, **kwargs)
        await response.read()
        return response

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.http.post(self.base + path, allow_redirects=False, **kwargs)
        await response.read()
        return response

    async def text(self, path: str, expect: int = 200) -> str:
        response = await self.get(path)
        assert response.status == expect, (response.status, await response.text())
        return await response.text()

    async def login_code(self) -> str:
        """Open the login page; the code it shows."""
        found = CODE.search(await self.text("/console/login"))
        assert found, "no login code on the page"
        return found.group(1)

    async def state(self) -> str:
        response = await self.get("/console/login/state")
        assert response.status == 200
        return str((await response.json())["state"])

    async def csrf(self, path: str = "/console/") -> str:
        found = CSRF.search(await self.text(path))
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def cookie(self, name: str) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None


@asynccontextmanager
async def browsers(app: AppHarness) -> AsyncIterator[Callable[..., Browser]]:
    """``open_browser(user_agent=…)`` makes another browser; all are closed at the end."""
    opened: list[Browser] = []

    def open_browser(user_agent: str = "TestBrowser/1.0") -> Browser:
        opened.append(Browser(app, user_agent))
        return opened[-1]

    try:
        yield open_browser
    finally:
        for browser in opened:
            await browser.http.close()


async def log_in(browser: Browser, secretary: SimChat) -> str:
    """The whole login by code: open the page, send 登录 <code> in chat, finish. The bot's answer."""
    code = await browser.login_code()
    answer = await secretary.says(f"登录 {code}")
    finished = await browser.get("/console/login/finish")
    assert finished.status == 302 and finished.headers["Location"] == "/console/", answer
    return answer


async def applies(db: Database, name: str, mobile: str, group_id: int) -> int:
    """A stranger's registration waiting for a secretary of ``group_id`` (as the 注册 conversation leaves it),
    from the simulator user ``sim-<mobile>``; the applicant's member id."""
    async with db.session() as session:
        applicant = Member(name=name, mobile=mobile, status=MemberStatus.PENDING, group_id=group_id)
        session.add(applicant)
        await session.flush()
        assert applicant.id is not None
        session.add(MemberApplication(member_id=applicant.id, platform=Platform.SIMULATOR,
                                      external_id=f"sim-{mobile}", status=ApplicationStatus.PENDING))
        return applicant.id


@asynccontextmanager
async def two_secretaries(settings: Settings, clock: Clock) -> AsyncIterator[tuple[AppHarness, Browser, Browser]]:
    """The running app with 钱秘书 (every group) and 孙秘书 (东山镇) of tests/activity_support.py logged in, each
    in a browser of their own: ``app, office, dongshan``."""
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        office, dongshan = open_browser(), open_browser()
        await log_in(office, app.chat("sim-qian"))
        await log_in(dongshan, app.chat("sim-sun"))
        yield app, office, dongshan


@pytest.fixture
async def desks(settings: Settings, clock: Clock, org: Any) -> AsyncIterator[tuple[AppHarness, Browser, Browser]]:
    """:func:`two_secretaries` as a fixture, over the ``org`` fixture: ``desks = console_support.desks``."""
    async with two_secretaries(settings, clock) as logged_in:
        yield logged_in
