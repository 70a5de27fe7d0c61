"""请假审批: the leave requests this secretary may decide, with the member's attendance for that activity,
approved or denied at the desk as in chat (审批).

    GET  /console/leave?page=N            pending requests bot.domain.activities.may_decide_leave allows this
                                          secretary (plenary and standing-committee sessions: the chair's office
                                          only), oldest first, counted and paged in the database
    POST /console/leave/{id}/approve      bot.domain.activities.decide_leave ── member told; a recorded absence
                                          becomes leave
    POST /console/leave/{id}/deny         note (the reason) ── decide_leave ── member told the reason
                                          ──► 302 ?decided=<id>: the page says what became of it

decide_leave checks the right and the state again at the moment of the decision: another approver may have
been quicker, or the member withdrawn. Its refusal is shown above the list (:mod:`bot.web.console.decisions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import activities as ops
from bot.domain.refusals import Refusal
from bot.infra.i18n import Catalogue
from bot.web.console.auth import Visit, console_page, redirect
from bot.web.console.decisions import PER_PAGE, Pager, decided_asked, page_asked, queue_page
from models.activity import Activity, LeaveRequest, LeaveStatus
from models.member import LiaisonGroup, Member

URL = "/console/leave"
COLUMNS = ("name", "activity", "kind", "attendance", "created_at", "decision")  # console_leave.<column>
DONE_KEYS = {LeaveStatus.APPROVED: "console_leave.approved", LeaveStatus.DENIED: "console_leave.denied"}


@dataclass(frozen=True, slots=True)
class Line:
    """One request as the list shows it."""

    leave_id: int
    name: str
    group: str
    activity: str
    starts_at: datetime
    kind: str
    reason: str
    attendance: str  # the member's attendance for the activity now (出席, 缺席 … or 无记录)
    created_at: datetime


@console_page()
async def leave_page(request: web.Request, visit: Visit) -> web.Response:
    return await _listed(request, visit)


@console_page()
async def approve(request: web.Request, visit: Visit) -> web.Response:
    return await _decide(request, visit, approve=True, note="")


@console_page()
async def deny(request: web.Request, visit: Visit) -> web.Response:
    form = await request.post()
    return await _decide(request, visit, approve=False, note=str(form.get("note", "")))


async def _decide(request: web.Request, visit: Visit, *, approve: bool, note: str) -> web.Response:
    leave_id = int(request.match_info["leave_id"])
    services = visit.services
    try:
        async with services.db.session() as session:
            leave = await session.get(LeaveRequest, leave_id, with_for_update=True)
            if leave is None:
                raise Refusal.not_found("leave_chat.review.gone")
            await ops.decide_leave(session, leave, approve=approve, by=visit.member, note=note,
                                   now=services.clock.now(), texts=services.texts)
    except Refusal as refusal:
        return await _listed(request, visit, refusal=refusal)
    services.wake_delivery()  # after the commit: the member's notice is queued
    return redirect(f"{URL}?decided={leave_id}")


async def _listed(request: web.Request, visit: Visit, *, refusal: Refusal | None = None) -> web.Response:
    texts = visit.services.texts
    async with visit.services.db.reader() as session:
        pager = Pager(page_asked(request), await ops.count_pending_leave_for(session, visit.member))
        rows = await ops.pending_leave_for(session, visit.member, limit=PER_PAGE, offset=pager.offset)
        lines = [await _line(session, texts, *row) for row in rows]
        done = await _done(session, visit, decided_asked(request))
    return queue_page(request, visit, name="leave", url=URL, columns=COLUMNS, lines=lines, pager=pager, done=done,
                      refusal=refusal, reason_min=ops.REASON_MIN, reason_max=ops.REASON_MAX)


async def _line(session: AsyncSession, texts: Catalogue, leave: LeaveRequest, activity: Activity,
                member: Member) -> Line:
    attendance = await ops.attendance_of(session, activity.id or 0, member.id or 0)
    state = attendance.status.value if attendance is not None else "none"
    group = await session.get(LiaisonGroup, member.group_id) if member.group_id is not None else None
    return Line(leave.id or 0, member.name, group.name if group else "-", activity.title, activity.starts_at,
                texts(f"leave.kind.{leave.kind.value}"), leave.reason, texts(f"attendance.status.{state}"),
                leave.created_at)


async def _done(session: AsyncSession, visit: Visit, leave_id: int | None) -> str:
    """What the last decision did, read from the request as it is now (only one this secretary may decide)."""
    leave = await session.get(LeaveRequest, leave_id) if leave_id is not None else None
    if leave is None or (key := DONE_KEYS.get(leave.status)) is None:
        return ""
    activity = await session.get(Activity, leave.activity_id)
    member = await session.get(Member, leave.member_id)
    if activity is None or member is None or not ops.may_decide_leave(visit.member, activity, member):
        return ""
    return visit.services.texts(key, name=member.name, activity=activity.title)
