"""委员 in the console over HTTP: search and filters within the secretary's scope, paged in the database; a
member's page (bindings, duties, history); editing with a confirmation, audited with the changed fields; the
refusals (out of scope, role changes, a taken or malformed mobile) and CSRF.

The organisation is tests/activity_support.py's: 钱秘书 (every group), 孙秘书 (东山镇 only); 王芳 in 城关镇;
李强, 赵敏 (suspended) and 吴静 (never bound) in 东山镇.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.audit import AuditEvent, Channel
from models.member import Member, MemberStatus, Role
from tests.activity_support import Org
from tests.conftest import make_settings
from tests.console_support import Browser, browsers, log_in
from tests.support import AppHarness, running_app

ROW = re.compile(r'<tr id="member-(\d+)">\s*<td[^>]*><a [^>]*>([^<]+)</a>')


def names(page: str) -> list[str]:
    return [name for _, name in ROW.findall(page)]


@pytest.fixture
async def desk(settings: Settings, clock: FrozenClock, org: Org) -> AsyncIterator[tuple[AppHarness, Browser, Browser]]:
    """The app, with 钱秘书 (office) and 孙秘书 (东山镇) logged in, each in a browser of their own."""
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        office, dongshan = open_browser(), open_browser()
        await log_in(office, app.chat("sim-qian"))
        await log_in(dongshan, app.chat("sim-sun"))
        yield app, office, dongshan


async def member_row(db: Database, member_id: int) -> Member:
    async with db.reader() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        return member


def form(member: Member, **changes: object) -> dict[str, str]:
    """The edit form as the member's page fills it, with ``changes``."""
    values: dict[str, object] = {"name": member.name, "mobile": member.mobile or "", "group_id": member.group_id or "",
                                 "sector_id": member.sector_id or "", "committee_id": member.committee_id or "",
                                 "role": member.role.value, "status": member.status.value, **changes}
    return {key: str(value) for key, value in values.items()}


async def test_the_list_keeps_to_the_scope_and_filters_in_the_database(desk: tuple, org: Org) -> None:
    _, office, dongshan = desk
    everyone = names(await office.text("/console/members"))
    assert {"王芳", "李强", "赵敏", "吴静", "钱秘书", "孙秘书"} <= set(everyone)
    assert sorted(names(await dongshan.text("/console/members"))) == sorted(["李强", "赵敏", "吴静"])
    assert names(await dongshan.text("/console/members?q=王")) == []  # 王芳 is 城关镇's
    assert names(await office.text("/console/members?q=王")) == ["王芳"]
    assert names(await office.text("/console/members?q=00000002")) == ["李强"]  # part of a mobile
    assert names(await dongshan.text("/console/members?bound=no")) == ["吴静"]
    assert names(await dongshan.text("/console/members?status=suspended")) == ["赵敏"]
    assert names(await office.text(f"/console/members?group={org.chengguan}&bound=yes")) == sorted(
        ["王芳", "周涛", "陈组长"], key=everyone.index)
    page = await dongshan.text(f"/console/members?group={org.chengguan}")  # another's group: nothing, not its list
    assert names(page) == [] and 'id="members-none"' in page
    assert ">城关镇<" not in page.split('id="f-group"')[1].split("</select>")[0]  # not even offered


async def test_the_list_is_paged(desk: tuple, db: Database, org: Org) -> None:
    _, _, dongshan = desk
    async with db.session() as session:
        session.add_all([Member(name=f"委员{n:02d}", mobile=f"139000000{n:02d}", group_id=org.dongshan)
                         for n in range(40)])
    first = await dongshan.text("/console/members")
    assert 'data-total="43"' in first and "共 43 人，第 1 / 2 页" in first
    assert len(names(first)) == 30 and 'id="page-next"' in first and 'id="page-previous"' not in first
    second = await dongshan.text("/console/members?page=2")
    assert len(names(second)) == 13 and 'id="page-previous"' in second and 'id="page-next"' not in second
    assert not set(names(first)) & set(names(second))


async def test_the_unbound_members_with_their_mobiles_to_excel(desk: tuple, org: Org) -> None:
    _, office, dongshan = desk
    page = await dongshan.text("/console/members")
    assert 'id="unbound" href="/console/members?status=active&amp;bound=no"' in page
    unbound = await dongshan.text("/console/members?bound=no&status=active")
    assert names(unbound) == ["吴静"] and "13800000006" in unbound
    assert 'id="export" href="/console/members.xlsx?status=active&amp;bound=no"' in unbound
    response = await dongshan.get("/console/members.xlsx?status=active&bound=no")
    assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
    assert [row[:3] for row in sheet_rows(await response.read())] == [("姓名", "手机号", "联络组"),
                                                                      ("吴静", "13800000006", "东山镇")]
    everyone = sheet_rows(await (await office.get("/console/members.xlsx?q=13800000")).read())
    assert {"王芳", "李强"} <= {row[0] for row in everyone[1:]}
    theirs = sheet_rows(await (await dongshan.get("/console/members.xlsx?q=13800000")).read())
    assert "王芳" not in {row[0] for row in theirs}  # the export keeps to the scope too


def sheet_rows(body: bytes) -> list[tuple]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


async def test_a_members_page_and_its_scope(desk: tuple, org: Org) -> None:
    _, office, dongshan = desk
    page = await office.text(f"/console/members/{org.wang.id}")
    assert "<h1>王芳</h1>" in page and "13800000001" in page and "城关镇" in page
    assert "模拟器" in page.split('id="bindings"')[1]  # bound through the simulator
    assert "年履职情况" in page and 'id="duty-score"' in page
    assert 'id="history-none"' in page
    assert 'id="bindings-none"' in await dongshan.text(f"/console/members/{org.nobody.id}")
    refused = await dongshan.text(f"/console/members/{org.wang.id}", expect=404)  # 城关镇: as if there were none
    assert "没有找到这位委员，或不在您负责的范围内" in refused and "王芳" not in refused
    assert "没有找到这位委员" in await office.text("/console/members/999999", expect=404)


async def test_an_edit_is_confirmed_then_saved_and_audited(desk: tuple, db: Database, org: Org) -> None:
    _, _, dongshan = desk
    li = await member_row(db, org.li.id or 0)
    path = f"/console/members/{li.id}/edit"
    csrf = await dongshan.csrf(f"/console/members/{li.id}")
    review = await dongshan.post(path, data={**form(li, name="李 强", mobile="139-0000-1234", status="suspended"),
                                             "csrf": csrf})
    page = await review.text()
    assert review.status == 200 and 'id="confirm"' in page
    assert re.search(r'id="change-status">.*?正常.*?暂停', page, re.S)
    assert 'id="change-group_id"' not in page  # what did not change is not listed
    assert (await member_row(db, li.id or 0)).mobile == "13800000002"  # nothing saved before the confirmation

    saved = await dongshan.post(path, data={**form(li, name="李 强", mobile="139-0000-1234", status="suspended"),
                                            "csrf": csrf, "confirm": "1"})
    assert saved.status == 302 and saved.headers["Location"] == f"/console/members/{li.id}?saved=1"
    after = await member_row(db, li.id or 0)
    assert (after.name, after.mobile, after.status) == ("李强", "13900001234", MemberStatus.SUSPENDED)
    async with db.reader() as session:
        event = (await session.scalars(select(AuditEvent).where(AuditEvent.object_id == li.id,
                                                                AuditEvent.object_type == "member"))).one()
    assert (event.action, event.channel, event.actor_member_id) == ("member.update", Channel.CONSOLE, org.sun.id)
    assert event.before == {"mobile": "13800000002", "status": "active"}
    assert event.after == {"mobile": "13900001234", "status": "suspended"}
    page = await dongshan.text(f"/console/members/{li.id}?saved=1")
    assert 'id="saved"' in page
    history = page.split('id="history"')[1]
    assert "孙秘书" in history and "管理后台" in history and "13800000002 → 13900001234" in history
    assert "正常 → 暂停" in history


async def test_edits_are_refused_outside_the_rules(desk: tuple, db: Database, org: Org) -> None:
    _, office, dongshan = desk
    li = await member_row(db, org.li.id or 0)
    csrf = await dongshan.csrf(f"/console/members/{li.id}")
    path = f"/console/members/{li.id}/edit"

    async def refused(browser: Browser, token: str, status: int, text: str, **changes: object) -> None:
        response = await browser.post(path, data={**form(li, **changes), "csrf": token, "confirm": "1"})
        assert response.status == status and text in await response.text(), await response.text()

    await refused(dongshan, csrf, 403, "不能把委员调到您负责范围以外的联络组", group_id=org.chengguan)
    await refused(dongshan, csrf, 403, "只有管理员可以更改角色", role="group_leader")
    await refused(dongshan, csrf, 409, "已属于另一位委员", mobile=org.zhao.mobile)
    await refused(dongshan, csrf, 422, "不是 11 位大陆手机号", mobile="12345")
    await refused(dongshan, csrf, 422, "姓名不能为空", name=" ")
    wang = await member_row(db, org.wang.id or 0)
    response = await dongshan.post(f"/console/members/{wang.id}/edit",
                                   data={**form(wang, status="left"), "csrf": csrf, "confirm": "1"})
    assert response.status == 404  # 城关镇's member: out of reach
    assert (await member_row(db, wang.id or 0)).status is MemberStatus.ACTIVE
    assert (await member_row(db, li.id or 0)).group_id == org.dongshan

    no_token = await office.post(path, data={**form(li, status="left"), "confirm": "1"})
    assert no_token.status == 403 and (await member_row(db, li.id or 0)).status is MemberStatus.ACTIVE
    async with db.reader() as session:
        assert (await session.scalars(select(AuditEvent).where(AuditEvent.object_type == "member"))).all() == []


async def test_an_admin_changes_a_role(desk: tuple, db: Database, org: Org) -> None:
    _, office, _ = desk
    async with db.session() as session:
        qian = await session.get(Member, org.qian.id)
        assert qian is not None
        qian.role = Role.ADMIN
    wang = await member_row(db, org.wang.id or 0)
    csrf = await office.csrf(f"/console/members/{wang.id}")
    saved = await office.post(f"/console/members/{wang.id}/edit",
                              data={**form(wang, role="group_leader"), "csrf": csrf, "confirm": "1"})
    assert saved.status == 302
    assert (await member_row(db, wang.id or 0)).role is Role.GROUP_LEADER
    assert (await member_row(db, org.chen.id or 0)).role is Role.MEMBER  # one leader per group
    async with db.reader() as session:
        event = (await session.scalars(select(AuditEvent).where(AuditEvent.object_id == wang.id,
                                                                AuditEvent.object_type == "member"))).one()
    assert event.action == "member.role" and event.after == {"role": "group_leader"}


async def test_the_members_pages_in_english(tmp_path: Path, db_url: str, clock: FrozenClock, org: Org) -> None:
    async with running_app(make_settings(tmp_path, db_url, locale="en"), clock) as app, browsers(app) as open_browser:
        browser = open_browser()
        code = await browser.login_code()
        await app.chat("sim-qian").says(f"login {code}")
        assert (await browser.get("/console/login/finish")).status == 302
        page = await browser.text("/console/members")
        assert "Members" in page and "Name or mobile" in page and "Not bound" in page
        assert "Edit history" in await browser.text(f"/console/members/{org.wang.id}")


async def test_a_form_without_role_or_status_keeps_them(desk: tuple, db: Database, org: Org) -> None:
    _, office, _ = desk
    chen = await member_row(db, org.chen.id or 0)
    data = {key: value for key, value in form(chen, name="陈组长二").items() if key not in ("role", "status")}
    saved = await office.post(f"/console/members/{chen.id}/edit",
                              data={**data, "csrf": await office.csrf("/console/members"), "confirm": "1"})
    assert saved.status == 302
    after = await member_row(db, chen.id or 0)
    assert (after.name, after.role, after.status) == ("陈组长二", Role.GROUP_LEADER, MemberStatus.ACTIVE)
