"""注册审核 at the console: the pending applications within a secretary's scope, paged; approving and rejecting
with a reason, the applicant told in the simulator as in chat; refusals for another group's applicant, one
already decided and a reason too short; the CSRF check; the audit log names the console.

Waiting: 林晓梅 and 何建国 in 城关镇 (钱秘书's, not 孙秘书's), 邓丽君 in 东山镇 (both secretaries').
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.domain.members import REASON_MIN
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.web.console import decisions
from models.audit import AuditEvent
from models.member import Identity, Member, MemberStatus
from tests import console_support
from tests.activity_support import Org
from tests.console_support import applies, browsers, log_in
from tests.support import running_app

desks = console_support.desks  # fixture: 钱秘书 and 孙秘书 logged in
T = Catalogue()
URL = "/console/registrations"
ROW = re.compile(r'id="registration-(\d+)"')


@pytest.fixture
async def waiting(db: Database, org: Org) -> dict[str, int]:
    return {name: await applies(db, name, mobile, group) for name, mobile, group in (
        ("林晓梅", "13900000001", org.chengguan), ("何建国", "13900000002", org.chengguan),
        ("邓丽君", "13900000003", org.dongshan))}


async def test_each_secretary_sees_the_applications_of_their_scope(waiting: dict[str, int], desks: tuple) -> None:
    _, office, dongshan = desks
    page = await office.text(URL)
    assert [int(found) for found in ROW.findall(page)] == list(waiting.values())  # oldest first
    assert "13900000001" in page and "城关镇" in page and T("console_registrations.intro", count=3) in page
    page = await dongshan.text(URL)
    assert [int(found) for found in ROW.findall(page)] == [waiting["邓丽君"]]
    assert "林晓梅" not in page and "城关镇" not in page
    dashboard = await dongshan.text("/console/")
    assert 'href="/console/registrations"' in dashboard


async def test_approving_binds_the_applicant_and_tells_them(waiting: dict[str, int], desks: tuple, db: Database
                                                            ) -> None:
    app, office, _ = desks
    member_id = waiting["林晓梅"]
    answer = await office.post(f"{URL}/{member_id}/approve", data={"csrf": await office.csrf(URL)})
    assert answer.status == 302 and answer.headers["Location"] == f"{URL}?decided={member_id}"
    page = await office.text(answer.headers["Location"])
    assert T("console_registrations.approved", name="林晓梅") in page
    assert f'id="registration-{member_id}"' not in page
    assert await app.chat("sim-13900000001").pushes() == [T("members.approved", name="林晓梅")]
    async with db.reader() as session:
        member = await session.get(Member, member_id)
        bound = await session.scalar(select(Identity).where(Identity.member_id == member_id))
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "member.approve"))
    assert member is not None and member.status is MemberStatus.ACTIVE and bound is not None
    assert event is not None and event.channel == "console" and event.actor_label == "钱秘书"


async def test_rejecting_tells_the_applicant_the_reason(waiting: dict[str, int], desks: tuple) -> None:
    app, _, dongshan = desks
    member_id = waiting["邓丽君"]
    answer = await dongshan.post(f"{URL}/{member_id}/reject",
                                 data={"csrf": await dongshan.csrf(URL), "reason": "名册中没有此人"})
    assert answer.status == 302
    assert T("console_registrations.rejected", name="邓丽君") in await dongshan.text(answer.headers["Location"])
    assert await app.chat("sim-13900000003").pushes() == [
        T("members.rejected", name="邓丽君", reason="名册中没有此人")]
    assert T("console_registrations.none") in await dongshan.text(URL)


async def test_refusals_are_said_on_the_page(waiting: dict[str, int], desks: tuple) -> None:
    app, office, dongshan = desks
    chengguan = waiting["林晓梅"]
    csrf = await dongshan.csrf(URL)
    # Another group's applicant: refused before anything about them is told, and nothing is sent.
    refused = await dongshan.post(f"{URL}/{chengguan}/approve", data={"csrf": csrf})
    assert refused.status == 403
    assert T("members.error.out_of_scope", name="林晓梅") in await refused.text()
    # A reason too short, then one already decided by someone else.
    short = await office.post(f"{URL}/{chengguan}/reject", data={"csrf": await office.csrf(URL), "reason": "不"})
    assert short.status == 422
    assert T("members.error.reason", min=REASON_MIN, max=200) in await short.text()
    await office.post(f"{URL}/{chengguan}/approve", data={"csrf": await office.csrf(URL)})
    again = await office.post(f"{URL}/{chengguan}/reject", data={"csrf": await office.csrf(URL), "reason": "重复"})
    assert again.status == 409
    assert T("members.error.not_pending", status=T("members.status.active")) in await again.text()
    missing = await office.post(f"{URL}/999999/approve", data={"csrf": await office.csrf(URL)})
    assert missing.status == 404 and T("members.error.not_found") in await missing.text()
    assert await app.chat("sim-13900000001").pushes() == [T("members.approved", name="林晓梅")]  # once


async def test_a_decision_without_the_csrf_token_is_refused(waiting: dict[str, int], desks: tuple, db: Database
                                                            ) -> None:
    _, office, _ = desks
    member_id = waiting["何建国"]
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        assert (await office.post(f"{URL}/{member_id}/approve", headers=headers)).status == 403
    async with db.reader() as session:
        member = await session.get(Member, member_id)
    assert member is not None and member.status is MemberStatus.PENDING
    answer = await office.post(f"{URL}/{member_id}/approve", headers={"X-CSRF-Token": await office.csrf(URL)})
    assert answer.status == 302


async def test_the_list_is_paged(settings: Settings, clock: FrozenClock, org: Org, db: Database) -> None:
    ids = [await applies(db, f"申请人{number:02d}", f"1390000{number:04d}", org.dongshan)
           for number in range(decisions.PER_PAGE + 3)]
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        browser = open_browser()
        await log_in(browser, app.chat("sim-sun"))
        first = await browser.text(URL)
        assert [int(found) for found in ROW.findall(first)] == ids[:decisions.PER_PAGE]
        assert 'id="pager-next" href="/console/registrations?page=2"' in first
        second = await browser.text(f"{URL}?page=2")
        assert [int(found) for found in ROW.findall(second)] == ids[decisions.PER_PAGE:]
        assert T("console_queues.page", page=2, pages=2) in second


async def test_without_a_session_the_page_is_the_login(settings: Settings, clock: FrozenClock, org: Org) -> None:
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        stranger = open_browser()
        assert (await stranger.get(URL)).headers["Location"] == "/console/login"
        assert (await stranger.post(f"{URL}/1/approve")).headers["Location"] == "/console/login"
