"""工作台: the queues waiting for a secretary, counted within their scope, on the page and as JSON; the English
locale through the same catalogue.

Waiting in 城关镇 (钱秘书's, not 孙秘书's): one registration, one report, one leave request, one claim.
Waiting in 东山镇 (both secretaries'): one registration, one report, one leave request, two claims, one appeal.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.activity import Audience, LeaveKind, LeaveRequest
from models.duty import DutyAppeal, DutyClaim, EntrySource
from models.member import ApplicationStatus, Member, MemberApplication, MemberStatus, Platform, Role
from models.report import Report, ReportStatus
from tests.activity_support import Org, make_activity
from tests.conftest import make_settings
from tests.console_support import Browser, browsers, log_in
from tests.support import running_app

QUEUE = re.compile(r'id="queue-(\w+)">.*?data-count="(\d+)"', re.S)


@pytest.fixture
async def waiting(db: Database, org: Org, clock: FrozenClock) -> None:
    now = clock.now()
    for group, member, name in ((org.chengguan, org.wang, "新委员甲"), (org.dongshan, org.li, "新委员乙")):
        await _registration(db, group, name)
        await _report(db, member, group, now)
        activity = await make_activity(db, now + timedelta(days=2), audience=Audience.GROUPS, audience_ids=[group],
                                       group_id=group, title=f"调研 {group}")
        await _add(db, LeaveRequest(activity_id=activity.id or 0, member_id=member.id or 0, kind=LeaveKind.SICK,
                                    reason="发烧"))
    for member in (org.wang, org.li, org.li):
        await _add(db, DutyClaim(member_id=member.id or 0, year=2026, kind="调研视察", occurred_at=now,
                                 description="参加调研"))
    await _add(db, DutyAppeal(member_id=org.li.id or 0, year=2026, source=EntrySource.ATTENDANCE, source_id=1,
                              kind="出席会议", reason="当天已签到"))


async def _add(db: Database, row: object) -> None:
    async with db.session() as session:
        session.add(row)


async def _registration(db: Database, group: int, name: str) -> None:
    async with db.session() as session:
        applicant = Member(name=name, group_id=group, status=MemberStatus.PENDING)
        session.add(applicant)
        await session.flush()
        session.add(MemberApplication(member_id=applicant.id or 0, platform=Platform.SIMULATOR,
                                      external_id=f"sim-{name}", status=ApplicationStatus.PENDING))


async def _report(db: Database, member: Member, group: int, now: datetime) -> None:
    await _add(db, Report(member_id=member.id or 0, group_id=group, title="农贸市场噪声扰民", category="社会民生",
                          body="……", status=ReportStatus.SUBMITTED, year=2026, submitted_at=now))


def counts(page: str) -> dict[str, int]:
    return {key: int(count) for key, count in QUEUE.findall(page)}


@pytest.fixture
async def app_and_browser(settings: Settings, clock: FrozenClock, waiting: None) -> AsyncIterator[tuple]:
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        yield app, open_browser


async def test_counts_within_the_scope_of_each_secretary(app_and_browser: tuple) -> None:
    app, open_browser = app_and_browser
    office: Browser = open_browser()
    await log_in(office, app.chat("sim-qian"))
    page = await office.text("/console/")
    assert counts(page) == {"registrations": 2, "reports": 2, "leave": 2, "claims": 3, "appeals": 1}
    assert "全部联络组" in page
    # A count links to the page that works its queue where there is one (社情民意 so far), and only there.
    links = re.findall(r'<a id="queue-link-(\w+)" href="([^"]+)"', page.split('id="queues"')[1].split("</ul>")[0])
    assert ("reports", "/console/reports") in links
    assert ("registrations", "/console/registrations") in links and ("leave", "/console/leave") in links
    assert page.split('id="queues"')[1].split("</ul>")[0].count("<a ") == len(links)

    dongshan: Browser = open_browser()
    await log_in(dongshan, app.chat("sim-sun"))
    page = await dongshan.text("/console/")
    assert counts(page) == {"registrations": 1, "reports": 1, "leave": 1, "claims": 2, "appeals": 1}
    assert "您的范围：东山镇" in page
    answer = await (await dongshan.get("/console/queues")).json()
    assert answer == {"queues": [{"key": "registrations", "count": 1}, {"key": "reports", "count": 1},
                                 {"key": "leave", "count": 1}, {"key": "claims", "count": 2},
                                 {"key": "appeals", "count": 1}]}


async def test_an_admin_sees_everything(app_and_browser: tuple, db: Database, org: Org) -> None:
    app, open_browser = app_and_browser
    async with db.session() as session:
        member = await session.get(Member, org.sun.id)
        assert member is not None
        member.role = Role.ADMIN  # an admin's stored scope does not limit them
        session.add(member)
    browser: Browser = open_browser()
    await log_in(browser, app.chat("sim-sun"))
    assert counts(await browser.text("/console/")) == {
        "registrations": 2, "reports": 2, "leave": 2, "claims": 3, "appeals": 1}


async def test_the_frame_in_english(tmp_path: Path, db_url: str, clock: FrozenClock, org: Org, db: Database
                                    ) -> None:
    settings = make_settings(tmp_path, db_url, locale="en")
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        browser: Browser = open_browser()
        page = await browser.text("/console/login")
        assert 'lang="en"' in page and "Send to lvzhi in WeChat: login" in page
        code = re.search(r'id="login-code">(\d{6})<', page)
        assert code is not None
        assert (await app.chat("sim-qian").says(f"login {code.group(1)}")).startswith("You are logged in")
        assert (await browser.get("/console/login/finish")).status == 302
        page = await browser.text("/console/")
        assert "Hello, 钱秘书" in page and "Sessions" in page and "Log out" in page
        assert "Waiting for you (your scope: every liaison group)" in page
        assert "Log out" in await browser.text("/console/sessions")
