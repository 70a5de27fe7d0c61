"""Personal API tokens: made and revoked at the console (bot/web/console/tokens.py), shown once, stored as a digest;
the admin API takes them besides the superuser token (bot/api/common.py) and acts as their secretary, within
their scope, audited under their name; endpoints not yet scoped refuse them.

钱秘书 (sim-qian) sees every group, 孙秘书 (sim-sun) only 东山镇. Waiting: a registration, a report and a leave
request in each of 城关镇 and 东山镇.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api import API_PREFIX
from bot.domain.api_tokens import PREFIX, create_token
from bot.domain.console import digest
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.activity import Audience, LeaveKind, LeaveRequest, LeaveStatus
from models.api_token import ApiToken
from models.audit import Channel
from models.member import ApplicationStatus, Member, MemberApplication, MemberStatus, Platform, Role
from models.report import Report, ReportStatus
from tests.activity_support import Org, make_activity
from tests.audit_support import events_of, only_event
from tests.console_support import Browser, browsers, log_in
from tests.support import call, running_app

TOKEN = re.compile(r'id="token-value">([^<]+)<')


@dataclass
class Waiting:
    applicants: dict[int, int]  # liaison group → the pending member's id
    reports: dict[int, int]  # liaison group → a submitted report's id
    leave: dict[int, int]  # liaison group → a pending leave request's id


@pytest.fixture
async def waiting(db: Database, org: Org, clock: FrozenClock) -> Waiting:
    found = Waiting({}, {}, {})
    now = clock.now()
    for group, member in ((org.chengguan, org.wang), (org.dongshan, org.li)):
        async with db.session() as session:
            applicant = Member(name=f"申请人{group}", group_id=group, status=MemberStatus.PENDING)
            session.add(applicant)
            await session.flush()
            session.add(MemberApplication(member_id=applicant.id or 0, platform=Platform.SIMULATOR,
                                          external_id=f"sim-applicant-{group}", status=ApplicationStatus.PENDING))
            report = Report(member_id=member.id or 0, group_id=group, title="农贸市场噪声扰民", category="社会民生",
                            body="……", status=ReportStatus.SUBMITTED, year=2026, submitted_at=now)
            session.add(report)
            await session.flush()
            found.applicants[group], found.reports[group] = applicant.id or 0, report.id or 0
        activity = await make_activity(db, now + timedelta(days=2), audience=Audience.GROUPS, audience_ids=[group],
                                       group_id=group, title=f"调研 {group}")
        async with db.session() as session:
            leave = LeaveRequest(activity_id=activity.id or 0, member_id=member.id or 0, kind=LeaveKind.SICK,
                                 reason="发烧")
            session.add(leave)
            await session.flush()
            found.leave[group] = leave.id or 0
    return found


async def personal_token(db: Database, member: Member, clock: FrozenClock, name: str = "脚本") -> dict[str, str]:
    async with db.session() as session:
        holder = await session.get(Member, member.id)
        assert holder is not None
        _row, token = await create_token(session, holder, name, now=clock.now())
    return {"Authorization": f"Bearer {token}"}


# --- the console page ----------------------------------------------------------------------------------------


@pytest.fixture
async def app_and_browser(settings: Settings, clock: FrozenClock, org: Org) -> AsyncIterator[tuple]:
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        yield app, open_browser


async def test_a_secretary_makes_a_token_sees_it_once_and_revokes_it(app_and_browser: tuple, db: Database,
                                                                     org: Org) -> None:
    app, open_browser = app_and_browser
    desk: Browser = open_browser()
    await log_in(desk, app.chat("sim-sun"))
    assert 'id="tokens-none"' in await desk.text("/console/tokens")
    csrf = await desk.csrf("/console/tokens")
    made = await desk.post("/console/tokens", data={"csrf": csrf, "name": "每周导出"})
    assert made.status == 200
    page = await made.text()
    found = TOKEN.search(page)
    assert found and found.group(1).startswith(PREFIX)
    token = found.group(1)
    async with db.reader() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.member_id == org.sun.id))
    assert row is not None and row.token_hash == digest(token) and token not in str(row.model_dump())
    assert row.name == "每周导出" and row.prefix == token[:len(row.prefix)]

    listed = await desk.text("/console/tokens")
    assert token not in listed and f"{row.prefix}…" in listed and "每周导出" in listed  # shown once only
    await only_event(db, "token.create", channel=Channel.CONSOLE, actor_member_id=org.sun.id, object_id=row.id)

    revoked = await desk.post(f"/console/tokens/{row.id}/revoke", data={"csrf": csrf})
    assert revoked.status == 302 and revoked.headers["Location"] == "/console/tokens?revoked=1"
    assert 'id="tokens-none"' in await desk.text("/console/tokens?revoked=1")
    await only_event(db, "token.revoke", channel=Channel.CONSOLE, actor_member_id=org.sun.id, object_id=row.id)


async def test_posts_need_the_csrf_token_and_a_name(app_and_browser: tuple, db: Database, org: Org,
                                                   clock: FrozenClock) -> None:
    app, open_browser = app_and_browser
    desk: Browser = open_browser()
    await log_in(desk, app.chat("sim-sun"))
    assert (await desk.post("/console/tokens", data={"name": "无校验码"})).status == 403
    csrf = await desk.csrf("/console/tokens")
    blank = await desk.post("/console/tokens", data={"csrf": csrf, "name": "   "})
    assert blank.status == 422 and "请填写令牌名称，最多 60 个字。" in await blank.text()
    async with db.reader() as session:
        assert (await session.scalars(select(ApiToken))).all() == []

    await personal_token(db, org.qian, clock, "钱秘书的脚本")  # another secretary's: not listed, not revocable
    async with db.reader() as session:
        theirs = await session.scalar(select(ApiToken))
    assert theirs is not None
    assert "钱秘书的脚本" not in await desk.text("/console/tokens")
    assert (await desk.post(f"/console/tokens/{theirs.id}/revoke", data={})).status == 403
    refused = await desk.post(f"/console/tokens/{theirs.id}/revoke", data={"csrf": csrf})
    assert refused.status == 302 and refused.headers["Location"] == "/console/tokens"
    async with db.reader() as session:
        still = await session.get(ApiToken, theirs.id)
    assert still is not None and still.revoked_at is None


# --- the admin API with a personal token ---------------------------------------------------------------------


async def test_a_personal_token_reads_only_its_secretarys_groups(api: TestClient, db: Database, org: Org,
                                                                 clock: FrozenClock, waiting: Waiting) -> None:
    sun = await personal_token(db, org.sun, clock)
    members = await call(api, "GET", f"{API_PREFIX}/members?per_page=200", headers=sun)
    assert {item["group"]["id"] for item in members["items"]} == {org.dongshan}
    office = await call(api, "GET", f"{API_PREFIX}/members?per_page=200")  # the superuser token: everyone
    assert {item["group"]["id"] for item in office["items"] if item["group"]} == {org.chengguan, org.dongshan}
    await call(api, "GET", f"{API_PREFIX}/members/{org.li.id}", headers=sun)
    await call(api, "GET", f"{API_PREFIX}/members/{org.wang.id}", 404, headers=sun)

    reports = await call(api, "GET", f"{API_PREFIX}/reports", headers=sun)
    assert [item["id"] for item in reports["items"]] == [waiting.reports[org.dongshan]]
    await call(api, "GET", f"{API_PREFIX}/reports/{waiting.reports[org.chengguan]}", 404, headers=sun)
    leave = await call(api, "GET", f"{API_PREFIX}/leave", headers=sun)
    assert [item["id"] for item in leave["items"]] == [waiting.leave[org.dongshan]]


async def test_a_personal_token_acts_as_its_secretary_and_only_within_their_scope(
        api: TestClient, db: Database, org: Org, clock: FrozenClock, waiting: Waiting) -> None:
    sun = await personal_token(db, org.sun, clock)
    await call(api, "POST", f"{API_PREFIX}/members/{waiting.applicants[org.chengguan]}/approve", 403, headers=sun)
    await call(api, "POST", f"{API_PREFIX}/members/{waiting.applicants[org.dongshan]}/approve", headers=sun)
    await only_event(db, "member.approve", channel=Channel.API, actor_member_id=org.sun.id, actor_label="孙秘书",
                     object_id=waiting.applicants[org.dongshan])

    await call(api, "POST", f"{API_PREFIX}/reports/{waiting.reports[org.chengguan]}/accept", 403, json={},
               headers=sun)
    accepted = await call(api, "POST", f"{API_PREFIX}/reports/{waiting.reports[org.dongshan]}/accept", json={},
                          headers=sun)
    assert accepted["history"][-1]["by_id"] == org.sun.id
    await only_event(db, "report.accept", channel=Channel.API, actor_member_id=org.sun.id)

    await call(api, "POST", f"{API_PREFIX}/leave/{waiting.leave[org.chengguan]}/approve", 403, json={},
               headers=sun)
    decided = await call(api, "POST", f"{API_PREFIX}/leave/{waiting.leave[org.dongshan]}/approve", json={},
                         headers=sun)
    assert decided["status"] == LeaveStatus.APPROVED.value
    await only_event(db, "leave.decide", channel=Channel.API, actor_member_id=org.sun.id)
    async with db.reader() as session:
        other = await session.get(LeaveRequest, waiting.leave[org.chengguan])
    assert other is not None and other.status is LeaveStatus.PENDING


async def test_the_audit_log_through_a_personal_token_keeps_to_the_scope(
        api: TestClient, db: Database, org: Org, clock: FrozenClock, waiting: Waiting) -> None:
    await call(api, "POST", f"{API_PREFIX}/members/{waiting.applicants[org.chengguan]}/approve")  # the office
    sun = await personal_token(db, org.sun, clock)
    await call(api, "POST", f"{API_PREFIX}/members/{waiting.applicants[org.dongshan]}/approve", headers=sun)
    theirs = await call(api, "GET", f"{API_PREFIX}/audit", headers=sun)
    # 东山镇's events (its activity, the approval) and their own token, not 城关镇's
    assert sorted((item["action"], item["actor_label"], item["group_id"] or 0) for item in theirs["items"]) == [
        ("activity.create", "system", org.dongshan), ("member.approve", "孙秘书", org.dongshan),
        ("token.create", "孙秘书", 0)]
    everything = await call(api, "GET", f"{API_PREFIX}/audit")
    assert len(everything["items"]) == 5  # and 城关镇's activity and approval
    export = await api.get(f"{API_PREFIX}/audit.xlsx?object_type=member", headers=sun)
    assert export.status == 200

    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(await export.read())).active
    assert sheet is not None and [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["孙秘书"]


async def test_endpoints_not_yet_scoped_refuse_a_personal_token(api: TestClient, db: Database, org: Org,
                                                                clock: FrozenClock) -> None:
    sun = await personal_token(db, org.sun, clock)
    for method, path, body in (("GET", "/activities", None), ("PATCH", f"/members/{org.li.id}", {"role": "admin"}),
                               ("GET", "/deliveries", None), ("GET", "/notices", None), ("GET", "/duty/2026/groups",
                                                                                          None)):
        refused = await call(api, method, f"{API_PREFIX}{path}", 403, json=body, headers=sun)
        assert refused["error"] == "personal_token_refused", path
    async with db.reader() as session:
        li = await session.get(Member, org.li.id)
    assert li is not None and li.role is Role.MEMBER


async def test_a_revoked_token_or_one_whose_holder_is_no_longer_a_secretary_is_refused(
        api: TestClient, db: Database, org: Org, clock: FrozenClock) -> None:
    sun = await personal_token(db, org.sun, clock)
    qian = await personal_token(db, org.qian, clock)
    await call(api, "GET", f"{API_PREFIX}/members", headers=sun)
    async with db.session() as session:
        for row in (await session.scalars(select(ApiToken).where(ApiToken.member_id == org.sun.id))).all():
            assert row.last_used_at == clock.now()  # noted on use
            row.revoked_at = clock.now()
            session.add(row)
        demoted = await session.get(Member, org.qian.id)
        assert demoted is not None
        demoted.role = Role.MEMBER
        session.add(demoted)
    for headers in (sun, qian, {"Authorization": f"Bearer {PREFIX}made-up"}):
        assert (await call(api, "GET", f"{API_PREFIX}/members", 401, headers=headers))["error"] == "unauthorized"
    assert await events_of(db, "member.approve") == []
