"""Browser tests: Playwright for Python driving Debian's chromium against the real app on a loopback port.

    browser, site, browsing = browser_support.browser, browser_support.site, browser_support.browsing  # fixtures
    pytestmark = BROWSER  # every browser test shares the session's event loop (the browser lives there)

    async def test_the_page(site: AppHarness, browsing: Browsing) -> None:
        await browsing.visit("/sim", "empty")          # a screenshot test-artifacts/screenshots/<test>-empty.png
        await expect(browsing.page.locator("h1")).to_contain_text("模拟器")

The flow: one chromium per test session (``browser``), started by Playwright from ``/usr/bin/chromium`` or
``LVZHI_CHROMIUM`` (Playwright's own browser download is not available here, so ``playwright install`` is never
run); one context per test (``browsing``, at a desk; ``phone`` adds a second person's or device's, with cookies
of its own), so no cookie or storage crosses tests; the app under test is
``tests.support.running_app`` (``site``): the real aiohttp server on a free 127.0.0.1 port, the real database,
the simulator on, background loops off as in every other test.

Playwright's objects belong to the event loop that started them, so the browser, the app and the tests all run
on pytest-asyncio's session loop (``BROWSER``); the database schema is made on that loop too (``site``).
Pages that poll do so on Playwright's clock (``page.clock.install()``, then ``page.clock.run_for(ms)``), the
server's time is the ``clock`` fixture: nothing waits for real seconds.

What a person would notice fails the test at its end: an error in the console, an uncaught exception, a
Content-Security-Policy violation, or a request that left 127.0.0.1 (the browser is a separate process the
socket guard of tests/conftest.py cannot see, so the context aborts and reports such requests itself, and
chromium resolves no host name but loopback).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    async_playwright,
    expect,
)

from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from tests.conftest import create_schema
from tests.support import AppHarness, running_app

CHROMIUM = os.environ.get("LVZHI_CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = (
    "the browser tests need Debian's chromium and CJK fonts: "
    "`apt-get install -y --no-install-recommends chromium fonts-noto-cjk` (as .ci/run does), "
    "or set LVZHI_CHROMIUM to a Chromium binary; `playwright install` downloads nothing here"
)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Nothing but loopback resolves, so a page that reaches for a CDN fails loudly instead of leaving the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

# Every browser test runs on the session's loop: the one the browser was started on.
BROWSER = pytest.mark.asyncio(loop_scope="session")
# How long an expectation may keep retrying before it fails: an upper bound for a loaded CI machine (the
# whole suite on 2 cores), never a wait — an expectation that holds returns at once.
expect.set_options(timeout=20_000)

# Reported as a console error by the page itself, so the console check sees CSP violations by name even where
# chromium's own message would be worded differently.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""

_DRAWN_ALIKE = """([first, second]) => {
  const font = `48px ${getComputedStyle(document.body).fontFamily}`;
  const draw = (char) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 64;
    const context = canvas.getContext("2d");
    context.font = font;
    context.fillText(char, 4, 52);
    return canvas.toDataURL();
  };
  return draw(first) === draw(second);
}"""


def chromium_path() -> str:
    """The chromium binary, or a test failure that says how to install it (browser tests are never skipped)."""
    found = shutil.which(CHROMIUM)
    if found is None:
        pytest.fail(f"no chromium at {CHROMIUM!r}: {INSTALL_HINT}", pytrace=False)
    return found


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless chromium for the whole session. Playwright talks to its driver over a pipe and the driver
    to chromium over another (no port), and each launch gets a fresh profile directory of its own."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def site(db_url: str, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    """The app on a free loopback port with fresh tables, all on the session loop (not the ``db`` fixture's)."""
    database = Database(db_url)
    await create_schema(database)
    await database.dispose()
    async with running_app(settings, clock) as harness:
        yield harness


@dataclass
class Browsing:
    """One test's browser context and page, with what went wrong in it and the screenshots it took."""

    page: Page
    base_url: str
    test_name: str
    problems: list[str] = field(default_factory=list)
    tolerated: list[re.Pattern[str]] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    async def visit(self, path: str, step: str) -> Response:
        """Open ``path`` of the app (a path, or a full URL of ``server.public_url`` made by the domain's links),
        wait until it has loaded, and take its screenshot."""
        response = await self.page.goto(self.url(path))
        assert response is not None, path
        await self.screenshot(step)
        return response

    def url(self, path: str) -> str:
        parts = urlsplit(path)
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.base_url.rstrip("/") + local

    async def screenshot(self, step: str) -> Path:
        """``test-artifacts/screenshots/<test name>-<step>.png``, the whole page."""
        target = SCREENSHOTS / f"{self.test_name}-{step}.png"
        await self.page.screenshot(path=target, full_page=True)
        self.shots.append(target)
        return target

    async def assert_chinese_glyphs(self, text: str) -> None:
        """The page's font has glyphs for ``text``: without a CJK font chromium draws every character as the
        same empty box, so two different characters drawn alike mean a person would see boxes, not Chinese."""
        first, second = text[0], next(char for char in text if char != text[0])
        drawn_alike = await self.page.evaluate(_DRAWN_ALIKE, [first, second])
        assert not drawn_alike, f"{first!r} and {second!r} look the same: is fonts-noto-cjk installed?"

    def tolerate(self, pattern: str) -> None:
        """A console message the test provokes on purpose (say, the 403 of a refused request)."""
        self.tolerated.append(re.compile(pattern))

    def assert_clean(self) -> None:
        found = [problem for problem in self.problems
                 if not any(pattern.search(problem) for pattern in self.tolerated)]
        assert not found, "the browser saw:\n" + "\n".join(found)

    # --- what the page reports --------------------------------------------------------------------------------

    def on_console(self, message: ConsoleMessage) -> None:
        # The icon chromium asks for by itself is not on the page: no person sees its 404.
        if message.type == "error" and urlsplit(message.location.get("url", "")).path != "/favicon.ico":
            self.problems.append(f"console error on {self.page.url}: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.problems.append(f"uncaught exception on {self.page.url}: {error}")

    async def keep_local(self, route: Route, request: Request) -> None:
        """The browser's half of the network guard: only the app on 127.0.0.1 may be asked for anything."""
        if urlsplit(request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
            return
        self.problems.append(f"request outside 127.0.0.1 from {self.page.url}: {request.url}")
        await route.abort("blockedbyclient")


def screenshot_name(node_name: str) -> str:
    """``test_x[sqlite]`` → ``test_x-sqlite``: a file name that says which test and which database."""
    return re.sub(r"[^\w.-]+", "-", node_name).strip("-")


def fresh_screenshots(request: pytest.FixtureRequest) -> str:
    """The test's screenshot name, its screenshots of an earlier run removed (a step it no longer takes)."""
    name = screenshot_name(request.node.name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SCREENSHOTS.glob(f"{name}-*.png"):
        stale.unlink()
    return name


@asynccontextmanager
async def browsing_in(browser: Browser, site: AppHarness, name: str, **device: Any) -> AsyncIterator[Browsing]:
    """A fresh context (Chinese locale, Shanghai time, ``device``: its window) and page on the app; on leaving,
    an error, a CSP violation or a request leaving the machine seen in it fails the test."""
    base_url = str(site.client.make_url("/"))
    context = await browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai", **device)
    await context.add_init_script(_REPORT_CSP_VIOLATIONS)
    page = await context.new_page()
    browsing = Browsing(page=page, base_url=base_url, test_name=name)
    page.on("console", browsing.on_console)
    page.on("pageerror", browsing.on_page_error)
    await context.route("**/*", browsing.keep_local)
    try:
        yield browsing
    finally:
        await context.close()
    browsing.assert_clean()


@pytest_asyncio.fixture(loop_scope="session")
async def browsing(browser: Browser, site: AppHarness, request: pytest.FixtureRequest) -> AsyncIterator[Browsing]:
    """The test's browser at a desk: screenshots ``<test name>-<step>.png``."""
    async with browsing_in(browser, site, fresh_screenshots(request), **DESKTOP) as desk:
        yield desk


@pytest_asyncio.fixture(loop_scope="session")
async def phone(browser: Browser, site: AppHarness, request: pytest.FixtureRequest) -> AsyncIterator[Browsing]:
    """A second browser, on a phone, with cookies of its own: screenshots ``<test name>-phone-<step>.png``."""
    async with browsing_in(browser, site, f"{fresh_screenshots(request)}-phone", **PHONE) as handset:
        yield handset
