"""``/api/v1/members``: list, read, approve, reject, change role or status.

Approve and reject run the same code as the secretaries' ``审核`` in chat (:mod:`bot.domain.members`), so the
applicant is told either way, in the same transaction as the decision.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.common import (
    ApiError,
    admin_endpoint,
    by_id_or_name,
    invalid,
    iso,
    not_found,
    parse_body,
    parse_query,
    path_id,
)
from bot.domain import members as ops
from bot.infra.services import Services, services_of
from models.member import (
    Committee,
    Identity,
    LiaisonGroup,
    Member,
    MemberApplication,
    MemberStatus,
    Role,
    Sector,
)

MAX_PER_PAGE = 200


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: MemberStatus | None = None
    group: str | None = Field(None, description="liaison group id or exact name")
    sector: str | None = Field(None, description="sector id or exact name")
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class PatchBody(BaseModel):
    """Only these changes; pending members go through approve / reject instead."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    status: Literal[MemberStatus.ACTIVE, MemberStatus.SUSPENDED, MemberStatus.LEFT] | None = None
    scope_group_ids: list[int] | None = Field(None, description="a secretary's liaison groups; [] for all")

    @model_validator(mode="after")
    def _something(self) -> PatchBody:
        if self.role is None and self.status is None and self.scope_group_ids is None:
            raise ValueError("give at least one of role, status, scope_group_ids")
        return self


# --- handlers -------------------------------------------------------------------------------------

@admin_endpoint
async def list_members(request: web.Request) -> web.Response:
    query = parse_query(request.query, ListQuery)
    services = services_of(request.app)
    async with services.db.reader() as session:
        statement = _filtered(select(Member), query)
        total = await session.scalar(_filtered(select(func.count()).select_from(Member), query))
        rows = (await session.scalars(
            statement.order_by(Member.id).offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
        names = await _name_maps(session)
        items = [member_json(member, names) for member in rows]
    page = {"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page}
    return web.json_response(page)


@admin_endpoint
async def get_member(request: web.Request) -> web.Response:
    member_id = path_id(request)
    async with services_of(request.app).db.reader() as session:
        return web.json_response(await _detail(session, member_id))


@admin_endpoint
async def approve_member(request: web.Request) -> web.Response:
    member_id = path_id(request)
    services = services_of(request.app)
    async with services.db.session() as session:
        decision = await _decide(session, services, member_id, None)
        body = await _detail(session, member_id)
    _wake(services, decision.notified)
    return web.json_response({**body, "notified": decision.notified})


@admin_endpoint
async def reject_member(request: web.Request) -> web.Response:
    member_id = path_id(request)
    reason = (await parse_body(request, RejectBody)).reason
    services = services_of(request.app)
    async with services.db.session() as session:
        decision = await _decide(session, services, member_id, reason)
        body = await _detail(session, member_id)
    _wake(services, decision.notified)
    return web.json_response({**body, "notified": decision.notified})


@admin_endpoint
async def patch_member(request: web.Request) -> web.Response:
    member_id = path_id(request)
    change = await parse_body(request, PatchBody)
    services = services_of(request.app)
    now = services.clock.now()
    async with services.db.session() as session:
        member = await session.get(Member, member_id)
        if member is None:
            raise not_found("member")
        await _check_patch(session, member, change)
        if change.role is not None and change.role is not member.role:
            await ops.set_role(session, member, change.role, now)
        if change.status is not None and change.status is not member.status:
            member.status, member.updated_at = change.status, now
        if change.scope_group_ids is not None:
            member.scope_group_ids, member.updated_at = sorted(set(change.scope_group_ids)), now
        await session.flush()
        body = await _detail(session, member_id)
    return web.json_response(body)


# --- helpers --------------------------------------------------------------------------------------

async def _decide(
    session: AsyncSession, services: Services, member_id: int, reason: str | None
) -> ops.Decision:
    now, texts = services.clock.now(), services.texts
    try:
        if reason is None:
            return await ops.approve(session, member_id, by=None, now=now, texts=texts)
        return await ops.reject(session, member_id, reason=reason, by=None, now=now, texts=texts)
    except ops.MemberNotFound:
        raise not_found("member") from None
    except ops.NotPending as exc:
        raise ApiError(409, "not_pending", f"member is {exc.status.value}; only pending members can be "
                       "approved or rejected") from None


def _wake(services: Services, notified: bool) -> None:
    if notified:
        services.wake_delivery()  # after the commit, so the worker finds the row


async def _check_patch(session: AsyncSession, member: Member, change: PatchBody) -> None:
    if member.status in (MemberStatus.PENDING, MemberStatus.REJECTED) and change.status is not None:
        raise ApiError(409, "not_pending" if member.status is MemberStatus.PENDING else "rejected",
                       f"member is {member.status.value}: use approve or reject")
    if change.role is Role.GROUP_LEADER and member.group_id is None:
        raise invalid([{"field": "role", "message": "a group leader needs a liaison group"}])
    if change.scope_group_ids:
        known = set((await session.scalars(
            select(LiaisonGroup.id).where(LiaisonGroup.id.in_(change.scope_group_ids))  # type: ignore[union-attr]
        )).all())
        unknown = sorted(set(change.scope_group_ids) - known)
        if unknown:
            raise invalid([{"field": "scope_group_ids", "message": f"unknown liaison groups: {unknown}"}])


def _filtered(statement: Any, query: ListQuery) -> Any:
    if query.status is not None:
        statement = statement.where(Member.status == query.status)
    if query.group:
        statement = statement.where(by_id_or_name(Member.group_id, LiaisonGroup, query.group))
    if query.sector:
        statement = statement.where(by_id_or_name(Member.sector_id, Sector, query.sector))
    return statement


async def _name_maps(session: AsyncSession) -> dict[str, dict[int, str]]:
    """id → name for groups, sectors and committees: small tables, read once per request."""
    maps: dict[str, dict[int, str]] = {}
    for key, model in (("group", LiaisonGroup), ("sector", Sector), ("committee", Committee)):
        rows = (await session.execute(select(model.id, model.name))).all()  # type: ignore[call-overload]
        maps[key] = {row[0]: row[1] for row in rows}
    return maps


def _ref(ident: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    return None if ident is None else {"id": ident, "name": names.get(ident, "")}


def member_json(member: Member, names: dict[str, dict[int, str]]) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "gender": member.gender,
        "mobile": member.mobile,
        "status": member.status.value,
        "role": member.role.value,
        "group": _ref(member.group_id, names["group"]),
        "sector": _ref(member.sector_id, names["sector"]),
        "committee": _ref(member.committee_id, names["committee"]),
        "work_unit": member.work_unit,
        "term": member.term,
        "scope_group_ids": list(member.scope_group_ids or []),
        "created_at": iso(member.created_at),
        "updated_at": iso(member.updated_at),
    }


async def _detail(session: AsyncSession, member_id: int) -> dict[str, Any]:
    member = await session.get(Member, member_id)
    if member is None:
        raise not_found("member")
    body = member_json(member, await _name_maps(session))
    identities = (await session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )).all()
    body["identities"] = [{"platform": i.platform.value, "bound_at": iso(i.bound_at)} for i in identities]
    application = await ops.latest_application(session, member_id)
    body["application"] = _application_json(application) if application is not None else None
    return body


def _application_json(application: MemberApplication) -> dict[str, Any]:
    return {
        "id": application.id,
        "status": application.status.value,
        "platform": application.platform.value,
        "reason": application.reason,
        "created_at": iso(application.created_at),
        "decided_at": iso(application.decided_at),
    }
