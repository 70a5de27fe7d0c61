"""请假审批 at the console: the requests a secretary may decide (their scope; plenary sessions only for the
chair's office), each with the member's attendance for that activity; approving (a recorded absence becomes
leave) and denying with a reason, the member told in the simulator; refusals; the CSRF check.

Waiting: 王芳 (城关镇) for an inspection she is recorded absent at, 李强 (东山镇) for an inspection and for the
plenary session. 钱秘书 (every group) may decide all three; 孙秘书 (东山镇) only 李强's inspection.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain.activities import REASON_MAX, REASON_MIN
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.web.console import decisions
from models.activity import (
    ActivityType,
    Attendance,
    AttendanceStatus,
    Audience,
    LeaveKind,
    LeaveRequest,
    LeaveStatus,
    SignInMethod,
)
from models.audit import AuditEvent
from models.member import Member
from tests import console_support
from tests.activity_support import Org, attendance_rows, make_activity
from tests.console_support import browsers, log_in
from tests.support import running_app

desks = console_support.desks  # fixture: 钱秘书 and 孙秘书 logged in
T = Catalogue()
URL = "/console/leave"
ROW = re.compile(r'id="leave-(\d+)"')


async def asks_leave(db: Database, activity_id: int, member: Member, reason: str = "发烧",
                     at: datetime | None = None) -> int:
    """A pending request as 请假 leaves it (asked ``at``: the test's clock, else now)."""
    async with db.session() as session:
        leave = LeaveRequest(activity_id=activity_id, member_id=member.id or 0, kind=LeaveKind.SICK, reason=reason,
                             **({"created_at": at} if at else {}))
        session.add(leave)
        await session.flush()
        return leave.id or 0


async def recorded_absent(db: Database, activity_id: int, member: Member) -> None:
    """``member`` absent from the activity, as its close records it."""
    async with db.session() as session:
        session.add(Attendance(activity_id=activity_id, member_id=member.id or 0, group_id=member.group_id,
                               status=AttendanceStatus.ABSENT, method=SignInMethod.CLOSE))


@pytest.fixture
async def waiting(db: Database, org: Org, clock: FrozenClock) -> dict[str, int]:
    now = clock.now()
    market = await make_activity(db, now + timedelta(days=2), title="农贸市场调研", audience=Audience.GROUPS,
                                 audience_ids=[org.chengguan], group_id=org.chengguan)
    school = await make_activity(db, now + timedelta(days=3), title="山区学校视察", audience=Audience.GROUPS,
                                 audience_ids=[org.dongshan], group_id=org.dongshan)
    plenary = await make_activity(db, now + timedelta(days=5), title="全体会议", type_=ActivityType.PLENARY)
    await recorded_absent(db, market.id or 0, org.wang)
    return {"wang": await asks_leave(db, market.id or 0, org.wang, at=now),
            "li": await asks_leave(db, school.id or 0, org.li, at=now + timedelta(minutes=1)),
            "plenary": await asks_leave(db, plenary.id or 0, org.li, "出差", at=now + timedelta(minutes=2)),
            "market": market.id or 0}


async def test_each_secretary_sees_what_they_may_decide(waiting: dict[str, int], desks: tuple) -> None:
    _, office, dongshan = desks
    page = await office.text(URL)
    assert [int(found) for found in ROW.findall(page)] == [waiting["wang"], waiting["li"], waiting["plenary"]]
    assert f'id="attendance-{waiting["wang"]}">{T("attendance.status.absent")}<' in page
    assert f'id="attendance-{waiting["li"]}">{T("attendance.status.none")}<' in page
    assert "农贸市场调研" in page and T("leave.kind.sick") in page and "城关镇" in page
    page = await dongshan.text(URL)
    assert [int(found) for found in ROW.findall(page)] == [waiting["li"]]  # not 城关镇, not the plenary
    assert "王芳" not in page and "全体会议" not in page
    assert 'href="/console/leave"' in await dongshan.text("/console/")


async def test_approving_excuses_the_absence_and_tells_the_member(waiting: dict[str, int], desks: tuple,
                                                                  db: Database, org: Org) -> None:
    app, office, _ = desks
    leave_id = waiting["wang"]
    answer = await office.post(f"{URL}/{leave_id}/approve", data={"csrf": await office.csrf(URL)})
    assert answer.status == 302 and answer.headers["Location"] == f"{URL}?decided={leave_id}"
    page = await office.text(answer.headers["Location"])
    assert T("console_leave.approved", name="王芳", activity="农贸市场调研") in page
    assert f'id="leave-{leave_id}"' not in page
    assert await app.chat("sim-wang").pushes() == [T("leave.notify.approved", title="农贸市场调研", note="-")]
    rows = await attendance_rows(db, waiting["market"])
    assert rows[org.wang.id or 0].status is AttendanceStatus.LEAVE
    async with db.reader() as session:
        leave = await session.get(LeaveRequest, leave_id)
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "leave.decide"))
    assert leave is not None and leave.status is LeaveStatus.APPROVED and leave.decided_by_name == "钱秘书"
    assert event is not None and event.channel == "console"


async def test_denying_tells_the_member_the_reason(waiting: dict[str, int], desks: tuple) -> None:
    app, _, dongshan = desks
    leave_id = waiting["li"]
    csrf = await dongshan.csrf(URL)
    answer = await dongshan.post(f"{URL}/{leave_id}/deny", data={"csrf": csrf, "note": "调研需要您"})
    assert answer.status == 302
    page = await dongshan.text(answer.headers["Location"])
    assert T("console_leave.denied", name="李强", activity="山区学校视察") in page
    assert T("console_leave.none") in page
    assert await app.chat("sim-li").pushes() == [T("leave.notify.denied", title="山区学校视察", note="调研需要您")]


async def test_refusals_are_said_on_the_page(waiting: dict[str, int], desks: tuple) -> None:
    app, office, dongshan = desks
    csrf = await dongshan.csrf(URL)
    for leave_id in (waiting["wang"], waiting["plenary"]):  # another group's; the chair's office's
        refused = await dongshan.post(f"{URL}/{leave_id}/approve", data={"csrf": csrf})
        assert refused.status == 403 and T("leave.error.forbidden") in await refused.text()
    short = await dongshan.post(f"{URL}/{waiting['li']}/deny", data={"csrf": csrf, "note": "不"})
    assert short.status == 422
    assert T("leave.error.deny_reason", min=REASON_MIN, max=REASON_MAX) in await short.text()
    await office.post(f"{URL}/{waiting['li']}/approve", data={"csrf": await office.csrf(URL)})
    late = await dongshan.post(f"{URL}/{waiting['li']}/deny", data={"csrf": csrf, "note": "调研需要您"})
    assert late.status == 409
    assert T("leave.error.decided", status=T("leave.status.approved")) in await late.text()
    missing = await dongshan.post(f"{URL}/999999/approve", data={"csrf": csrf})
    assert missing.status == 404 and T("leave_chat.review.gone") in await missing.text()
    assert await app.chat("sim-li").pushes() == [T("leave.notify.approved", title="山区学校视察", note="-")]


async def test_a_decision_without_the_csrf_token_is_refused(waiting: dict[str, int], desks: tuple, db: Database
                                                            ) -> None:
    _, office, _ = desks
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        assert (await office.post(f"{URL}/{waiting['plenary']}/approve", headers=headers)).status == 403
    async with db.reader() as session:
        leave = await session.get(LeaveRequest, waiting["plenary"])
    assert leave is not None and leave.status is LeaveStatus.PENDING


async def test_the_list_is_paged(settings: Settings, clock: FrozenClock, org: Org, db: Database) -> None:
    activities = [await make_activity(db, clock.now() + timedelta(days=2, hours=number), title=f"活动{number}")
                  for number in range(decisions.PER_PAGE + 2)]
    ids = [await asks_leave(db, activity.id or 0, org.li) for activity in activities]
    async with running_app(settings, clock) as app, browsers(app) as open_browser:
        browser = open_browser()
        await log_in(browser, app.chat("sim-sun"))
        first = await browser.text(URL)
        assert [int(found) for found in ROW.findall(first)] == ids[:decisions.PER_PAGE]
        second = await browser.text(f"{URL}?page=2")
        assert [int(found) for found in ROW.findall(second)] == ids[decisions.PER_PAGE:]
        assert 'id="pager-prev" href="/console/leave?page=1"' in second
