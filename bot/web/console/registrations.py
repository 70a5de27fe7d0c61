"""注册审核: the registrations waiting for this secretary, approved or rejected at the desk as in chat (审核).

    GET  /console/registrations?page=N          pending applications within the secretary's reach
                                                (groups_within_reach APPROVE_MEMBER), oldest first, counted and
                                                paged in the database: name, mobile, group, sector, applied at
    POST /console/registrations/{id}/approve    bot.domain.members.approve ── identity bound, applicant told
    POST /console/registrations/{id}/reject     reason ── bot.domain.members.reject ── applicant told the reason
                                                ──► 302 ?decided=<id>: the page says what became of them

The domain refuses what is not this secretary's to decide: another group's applicant (FORBIDDEN, before its
state is told), one decided meanwhile by someone else (CONFLICT), a reason too short or too long (INVALID).
The refusal's sentence is shown above the list (see :mod:`bot.web.console.decisions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import members as ops
from bot.domain.authz import Action, can, groups_within_reach
from bot.domain.refusals import Refusal
from bot.web.console.auth import Visit, console_page, redirect
from bot.web.console.decisions import PER_PAGE, Pager, decided_asked, page_asked, queue_page
from models.member import Member, MemberApplication, MemberStatus

URL = "/console/registrations"
COLUMNS = ("name", "mobile", "group", "sector", "applied_at", "decision")  # console_registrations.<column>
DONE_KEYS = {MemberStatus.ACTIVE: "console_registrations.approved",
             MemberStatus.REJECTED: "console_registrations.rejected"}


@dataclass(frozen=True, slots=True)
class Line:
    """One application as the list shows it."""

    member_id: int
    name: str
    mobile: str
    group: str
    sector: str
    applied_at: datetime


@console_page()
async def registrations_page(request: web.Request, visit: Visit) -> web.Response:
    return await _listed(request, visit)


@console_page()
async def approve(request: web.Request, visit: Visit) -> web.Response:
    return await _decide(request, visit, reason=None)


@console_page()
async def reject(request: web.Request, visit: Visit) -> web.Response:
    form = await request.post()
    return await _decide(request, visit, reason=str(form.get("reason", "")))


async def _decide(request: web.Request, visit: Visit, *, reason: str | None) -> web.Response:
    """Approve (``reason`` None) or reject through the domain, which checks scope and state again."""
    member_id = int(request.match_info["member_id"])
    services = visit.services
    now, texts = services.clock.now(), services.texts
    try:
        async with services.db.session() as session:
            if reason is None:
                decision = await ops.approve(session, member_id, by=visit.member, now=now, texts=texts)
            else:
                decision = await ops.reject(session, member_id, reason=reason, by=visit.member, now=now, texts=texts)
    except Refusal as refusal:
        return await _listed(request, visit, refusal=refusal)
    if decision.notified:
        services.wake_delivery()  # after the commit, so the worker finds the applicant's message
    return redirect(f"{URL}?decided={member_id}")


async def _listed(request: web.Request, visit: Visit, *, refusal: Refusal | None = None) -> web.Response:
    reach = groups_within_reach(visit.member, Action.APPROVE_MEMBER)
    async with visit.services.db.reader() as session:
        pager = Pager(page_asked(request), await ops.count_pending_applications(session, reach))
        rows = await ops.pending_applications(session, reach, limit=PER_PAGE, offset=pager.offset)
        lines = [await _line(session, application, member) for application, member in rows]
        done = await _done(session, visit, decided_asked(request))
    return queue_page(request, visit, name="registrations", url=URL, columns=COLUMNS, lines=lines, pager=pager,
                      done=done, refusal=refusal, reason_min=ops.REASON_MIN, reason_max=ops.REASON_MAX)


async def _line(session: AsyncSession, application: MemberApplication, member: Member) -> Line:
    names = await ops.names_of(session, member)
    return Line(member.id or 0, member.name, member.mobile or "-", names["group"] or "-", names["sector"] or "-",
                application.created_at)


async def _done(session: AsyncSession, visit: Visit, member_id: int | None) -> str:
    """What the last decision did, read from the member as they are now (only one within reach is named)."""
    member = await session.get(Member, member_id) if member_id is not None else None
    if member is None or not can(visit.member, Action.APPROVE_MEMBER, group_id=member.group_id):
        return ""
    key = DONE_KEYS.get(member.status)
    return visit.services.texts(key, name=member.name) if key else ""
