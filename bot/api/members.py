"""``/api/v1/members``: list, read, approve, reject, change role or status.

    GET   /members?status=&group=&sector=&page=&per_page=
    GET   /members/{id}                  with chat identities and the latest registration application
    PATCH /members/{id}                  role, status (not of a pending or rejected member), a secretary's scope
    POST  /members/{id}/approve          a pending registration: active, bound, told (409 not_pending otherwise)
    POST  /members/{id}/reject           {reason}: told to the applicant

Approve and reject run the same code as the secretaries' ``审核`` in chat (:mod:`bot.domain.members`), so the
applicant is told either way, in the same transaction as the decision.

A personal token reads only the members of its secretary's groups (MANAGE_MEMBERS; another group's member is
404) and decides only their registrations (APPROVE_MEMBER, checked and audited by the domain: 403 otherwise);
PATCH (roles, status, scopes) takes the superuser token only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.api.answers import Page, Ref, Time, iso, paged, ref
from bot.api.common import ApiError, PageQuery, Said, Strict, by_id_or_name, fetch_page, found, invalid_field
from bot.api.registry import Routes
from bot.api.scope import caller, known_within, reach_of, within
from bot.domain import members as ops
from bot.domain.authz import Action
from bot.infra.services import Services, services_of
from models import member as m

routes = Routes("members")
NO_MEMBER = {404: "No member with this id."}


# --- bodies and queries ---------------------------------------------------------------------------------


class MemberQuery(PageQuery):
    status: m.MemberStatus | None = None
    group: str | None = Field(None, description="liaison group id or exact name")
    sector: str | None = Field(None, description="sector (界别) id or exact name")


class Rejection(Strict):
    reason: Said = Field(min_length=1, max_length=200, description="told to the applicant")


class MemberPatch(Strict):
    """Only these changes; pending members go through approve / reject instead."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    role: m.Role | None = Field(None, description="a new group leader replaces the group's previous one")
    status: Literal[m.MemberStatus.ACTIVE, m.MemberStatus.SUSPENDED, m.MemberStatus.LEFT] | None = None
    scope_group_ids: list[int] | None = Field(None, description="a secretary's liaison groups; [] for all")

    @model_validator(mode="after")
    def _something(self) -> MemberPatch:
        if self.role is None and self.status is None and self.scope_group_ids is None:
            raise ValueError("give at least one of role, status, scope_group_ids")
        return self


# --- answers ----------------------------------------------------------------------------------------------


class MemberOut(TypedDict):
    id: int
    name: str
    gender: str
    mobile: str | None
    status: m.MemberStatus
    role: m.Role
    group: Ref | None
    sector: Ref | None
    committee: Ref | None
    work_unit: str
    term: str
    scope_group_ids: Annotated[list[int], Field(description="a secretary's liaison groups; empty: all")]
    created_at: Time
    updated_at: Time


class MemberPage(Page):
    items: list[MemberOut]


class IdentityOut(TypedDict):
    platform: m.Platform
    bound_at: Time


class ApplicationOut(TypedDict):
    id: int
    status: m.ApplicationStatus
    platform: m.Platform
    reason: str
    created_at: Time
    decided_at: Time | None


class MemberDetail(MemberOut):
    identities: list[IdentityOut]
    application: Annotated[ApplicationOut | None, Field(description="the latest registration application")]


class MemberDecision(MemberDetail):
    notified: Annotated[bool, Field(description="a chat message to the applicant was queued")]


# --- handlers -------------------------------------------------------------------------------------


@routes.get("/members", "List members, filtered and paginated (ordered by id).", query=MemberQuery, ok=MemberPage,
            personal=True)
async def list_members(request: web.Request, query: MemberQuery) -> web.Response:
    statement = _filtered(select(m.Member), query).where(*within(m.Member.group_id, _reach(request)))
    async with services_of(request.app).db.reader() as session:
        total, rows = await fetch_page(session, statement.order_by(m.Member.id), query)
        names = await _name_maps(session)
        return web.json_response(paged([member_json(member, names) for member in rows], total, query))


@routes.get("/members/{member_id}", "One member, with chat identities and the latest registration application.",
            ok=MemberDetail, errors=NO_MEMBER, personal=True)
async def get_member(request: web.Request, member_id: int) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        return web.json_response(await _detail(session, member_id, _reach(request)))


@routes.post("/members/{member_id}/approve", "Approve a pending registration: the member becomes active and is told.",
             ok=MemberDecision, errors={**NO_MEMBER, 409: "not_pending: the member is not pending."}, personal=True)
async def approve_member(request: web.Request, member_id: int) -> web.Response:
    return await _decide(request, member_id, None)


@routes.post("/members/{member_id}/reject", "Reject a pending registration with a reason the applicant is told.",
             body=Rejection, ok=MemberDecision, errors={**NO_MEMBER, 409: "not_pending: the member is not pending."},
             personal=True)
async def reject_member(request: web.Request, member_id: int, body: Rejection) -> web.Response:
    return await _decide(request, member_id, body.reason)


@routes.patch("/members/{member_id}", "Change role, status or a secretary's liaison-group scope.",
              description="A pending or rejected member's status changes only through approve / reject (409). "
                          "Making someone group leader replaces the group's previous leader.",
              body=MemberPatch, ok=MemberDetail,
              errors={**NO_MEMBER, 409: "not_pending / rejected: the member's status changes through approve or "
                                        "reject."})
async def patch_member(request: web.Request, member_id: int, body: MemberPatch) -> web.Response:
    services = services_of(request.app)
    now = services.clock.now()
    async with services.db.session() as session:
        member = await found(session, m.Member, member_id, "member")
        await _check_patch(session, member, body)
        await ops.update_member(session, member, role=body.role, status=body.status,
                                scope_group_ids=body.scope_group_ids, by=None, now=now)
        await session.flush()
        answer = await _detail(session, member_id)
    return web.json_response(answer)


# --- helpers --------------------------------------------------------------------------------------


async def _decide(request: web.Request, member_id: int, reason: str | None) -> web.Response:
    """Approve (``reason`` None) or reject; a member who is not pending is refused by bot.domain.members."""
    services = services_of(request.app)
    now, texts, by = services.clock.now(), services.texts, caller(request)
    async with services.db.session() as session:
        if reason is None:
            decision = await ops.approve(session, member_id, by=by, now=now, texts=texts)
        else:
            decision = await ops.reject(session, member_id, reason=reason, by=by, now=now, texts=texts)
        body = await _detail(session, member_id)
    _wake(services, decision.notified)
    return web.json_response({**body, "notified": decision.notified})


def _wake(services: Services, notified: bool) -> None:
    if notified:
        services.wake_delivery()  # after the commit, so the worker finds the row


async def _check_patch(session: AsyncSession, member: m.Member, change: MemberPatch) -> None:
    if member.status in (m.MemberStatus.PENDING, m.MemberStatus.REJECTED) and change.status is not None:
        raise ApiError(409, "not_pending" if member.status is m.MemberStatus.PENDING else "rejected",
                       f"member is {member.status.value}: use approve or reject")
    if change.role is m.Role.GROUP_LEADER and member.group_id is None:
        raise invalid_field("role", "a group leader needs a liaison group")
    if change.scope_group_ids:
        known = set((await session.scalars(
            select(m.LiaisonGroup.id).where(m.LiaisonGroup.id.in_(change.scope_group_ids))  # type: ignore[union-attr]
        )).all())
        unknown = sorted(set(change.scope_group_ids) - known)
        if unknown:
            raise invalid_field("scope_group_ids", f"unknown liaison groups: {unknown}")


def _filtered(statement: Any, query: MemberQuery) -> Any:
    if query.status is not None:
        statement = statement.where(m.Member.status == query.status)
    if query.group:
        statement = statement.where(by_id_or_name(m.Member.group_id, m.LiaisonGroup, query.group))
    if query.sector:
        statement = statement.where(by_id_or_name(m.Member.sector_id, m.Sector, query.sector))
    return statement


async def _name_maps(session: AsyncSession) -> dict[str, dict[int, str]]:
    """id → name for groups, sectors and committees: small tables, read once per request."""
    maps: dict[str, dict[int, str]] = {}
    for key, model in (("group", m.LiaisonGroup), ("sector", m.Sector), ("committee", m.Committee)):
        rows = (await session.execute(select(model.id, model.name))).all()  # type: ignore[call-overload]
        maps[key] = {row[0]: row[1] for row in rows}
    return maps


def member_json(member: m.Member, names: dict[str, dict[int, str]]) -> MemberOut:
    return {
        "id": member.id,
        "name": member.name,
        "gender": member.gender,
        "mobile": member.mobile,
        "status": member.status,
        "role": member.role,
        "group": ref(member.group_id, names["group"]),
        "sector": ref(member.sector_id, names["sector"]),
        "committee": ref(member.committee_id, names["committee"]),
        "work_unit": member.work_unit,
        "term": member.term,
        "scope_group_ids": list(member.scope_group_ids or []),
        "created_at": iso(member.created_at),
        "updated_at": iso(member.updated_at),
    }


def _reach(request: web.Request) -> frozenset[int] | None:
    return reach_of(request, Action.MANAGE_MEMBERS)


async def _detail(session: AsyncSession, member_id: int, reach: frozenset[int] | None = None) -> MemberDetail:
    """The member with identities and application; one outside ``reach`` is as unknown as none."""
    member = await found(session, m.Member, member_id, "member")
    known_within(member.group_id, reach, "member")
    identities = (await session.scalars(
        select(m.Identity).where(m.Identity.member_id == member_id).order_by(m.Identity.id)
    )).all()
    application = await ops.latest_application(session, member_id)
    return {
        **member_json(member, await _name_maps(session)),
        "identities": [{"platform": i.platform, "bound_at": iso(i.bound_at)} for i in identities],
        "application": _application_json(application) if application is not None else None,
    }


def _application_json(application: m.MemberApplication) -> ApplicationOut:
    return {
        "id": application.id,
        "status": application.status,
        "platform": application.platform,
        "reason": application.reason,
        "created_at": iso(application.created_at),
        "decided_at": iso(application.decided_at),
    }
