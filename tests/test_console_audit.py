"""操作日志 at the console (bot/web/console/audit.py): the log within each secretary's scope (their own logins
too), filtered by person, object and local dates, paged, exported to Excel with the same filters.

The events are tests/test_audit.py's four (seed_events), 2026-11-20 09:00–12:00 in Shanghai, plus the logins the
tests make (2026-11-21 09:00, the clock's time).
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain import audit
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.web.console.audit import PER_PAGE
from tests.activity_support import Org
from tests.conftest import make_settings
from tests.console_support import Browser, browsers, log_in
from tests.support import running_app
from tests.test_audit import seed_events

ROW = re.compile(r'<tr id="event-\d+" data-action="([\w.]+)">')


def actions(page: str) -> list[str]:
    return ROW.findall(page)


@pytest.fixture
async def app_and_browser(settings: Settings, clock: FrozenClock, db: Database, org: Org) -> AsyncIterator[tuple]:
    await seed_events(db, org)
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        yield app, open_browser


async def test_the_office_sees_every_event_and_each_login(app_and_browser: tuple, org: Org) -> None:
    app, open_browser = app_and_browser
    office: Browser = open_browser()
    await log_in(office, app.chat("sim-qian"))
    page = await office.text("/console/audit")
    assert actions(page) == ["console.login", "duty.rebuild", "member.role", "member.approve", "leave.decide"]
    assert "登录管理后台" in page and "调整角色" in page and "api-token" in page and "10.0.0.7" in page
    assert f"委员 #{org.wang.id}" in page and "登录设备 #" in page  # the kind of object in words
    assert 'id="nav-audit" href="/console/audit" aria-current="page"' in page


async def test_a_limited_secretary_sees_their_groups_and_their_own_acts_only(app_and_browser: tuple,
                                                                             org: Org) -> None:
    app, open_browser = app_and_browser
    await log_in(open_browser(), app.chat("sim-qian"))  # the office's login: not 孙秘书's to see
    dongshan: Browser = open_browser()
    await log_in(dongshan, app.chat("sim-sun"))
    page = await dongshan.text("/console/audit")
    assert actions(page) == ["console.login", "duty.rebuild", "member.approve"]
    assert "钱秘书" not in page  # neither as an actor nor in the person filter
    # Asking for another group's object by its id finds nothing rather than leaking it.
    assert actions(await dongshan.text("/console/audit?object_type=leave&object_id=1")) == []
    assert actions(await dongshan.text(f"/console/audit?actor={org.qian.id}")) == []


async def test_filters_by_person_object_and_local_days(app_and_browser: tuple, org: Org) -> None:
    app, open_browser = app_and_browser
    office: Browser = open_browser()
    await log_in(office, app.chat("sim-qian"))
    assert actions(await office.text(f"/console/audit?actor={org.sun.id}")) == ["member.approve"]
    assert actions(await office.text(f"/console/audit?object_type=member&object_id={org.wang.id}")) == ["member.role"]
    # A day in local time, both ends included: 11-20 holds the four seeded events, not the 11-21 login.
    day = await office.text("/console/audit?since=2026-11-20&until=2026-11-20")
    assert actions(day) == ["duty.rebuild", "member.role", "member.approve", "leave.decide"]
    assert 'data-total="4"' in day
    assert actions(await office.text("/console/audit?since=2026-11-21")) == ["console.login"]
    unread = await office.text("/console/audit?since=yesterday&object_id=x")
    assert 'id="audit-unreadable"' in unread and "起始日期" in unread and "对象编号" in unread
    assert len(actions(unread)) == 5  # what could not be read is left out, the rest still applies


async def test_pages_of_the_log(app_and_browser: tuple, db: Database, org: Org) -> None:
    async with db.session() as session:
        for number in range(PER_PAGE + 3):
            await audit.record(session, action="member.update", object_type="member", object_id=number + 1,
                               group_id=org.dongshan, by=org.sun)
    app, open_browser = app_and_browser
    office: Browser = open_browser()
    await log_in(office, app.chat("sim-qian"))
    first = await office.text("/console/audit?object_type=member")
    assert len(actions(first)) == PER_PAGE and "第 1 / 2 页" in first
    assert 'id="page-next" href="/console/audit?object_type=member&amp;page=2"' in first
    second = await office.text("/console/audit?object_type=member&page=2")
    assert len(actions(second)) == 5 and 'id="page-prev"' in second  # 3 more updates, the approval, the role


async def test_the_export_keeps_to_the_filters_and_the_scope(app_and_browser: tuple, org: Org) -> None:
    from openpyxl import load_workbook

    app, open_browser = app_and_browser
    dongshan: Browser = open_browser()
    await log_in(dongshan, app.chat("sim-sun"))
    page = await dongshan.text("/console/audit?object_type=member")
    assert 'id="audit-export" href="/console/audit.xlsx?object_type=member"' in page
    response = await dongshan.get("/console/audit.xlsx?object_type=member")
    assert response.status == 200
    assert response.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(await response.read())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(row[1], row[3], row[5]) for row in rows] == [("孙秘书", "通过注册", org.li.id)]  # not the role change


async def test_without_a_session_the_log_is_not_shown(app_and_browser: tuple) -> None:
    _app, open_browser = app_and_browser
    stranger: Browser = open_browser()
    for path in ("/console/audit", "/console/audit.xlsx"):
        response = await stranger.get(path)
        assert response.status == 302 and response.headers["Location"] == "/console/login"


async def test_the_log_in_english(tmp_path: Path, db_url: str, clock: FrozenClock, db: Database, org: Org) -> None:
    await seed_events(db, org)
    async with running_app(make_settings(tmp_path, db_url, locale="en"), clock) as app, browsers(app) as open_browser:
        office: Browser = open_browser()
        code = await office.login_code()
        await app.chat("sim-qian").says(f"login {code}")
        assert (await office.get("/console/login/finish")).status == 302
        page = await office.text("/console/audit?since=nonsense")
    assert "Audit log" in page and "console login" in page and "change of role" not in page
    assert "member #" in page and "Export to Excel" in page and "5 events" in page
    assert "These filters could not be read and were left out: From" in page
