"""``/api/v1/study``: study materials (学习) and the plans that push them, from the office's side.

    POST   /study/materials                   title, summary, url or body, tags, audience, plan_id? (201)
    GET    /study/materials?plan_id=&page=&per_page=    newest first, each with read / pushed counts
    GET    /study/materials/{id}              with who read it (how, when), who it reached unread, its pushes
    POST   /study/materials/{id}/push         {send_at?, audience?}: a study notice, now or later (201)
    POST   /study/plans                       name, cron (a crontab line in local time), audience (201)
    GET    /study/plans?page=&per_page=       each with its next fire time (local) and materials still queued
    DELETE /study/plans/{id}                  stop the plan (idempotent); its queued materials stay unpushed

The API acts as the office (``by=None`` in :mod:`bot.domain.study`); errors as in :mod:`bot.api.notices`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.common import admin_endpoint, not_found, path_id
from bot.api.forms import MAX_PER_PAGE, AudienceBody, Aware, Strict, arm, body_of, iso, query_of, ref
from bot.api.notices import audience_of, check_audience, notice_detail, refused
from bot.domain import attendance as report
from bot.domain import study as ops
from bot.domain.activities import ActivityError
from bot.domain.notices import outbox_for
from bot.domain.tasks import crontab_trigger
from bot.infra.services import Services, services_of
from models.member import Member
from models.notice import Notice, NoticeReceipt, StudyMaterial, StudyPlan, StudyRead

# --- bodies and queries ---------------------------------------------------------------------------------


class MaterialBody(Strict):
    title: str
    summary: str = ""
    url: str = Field("", description="a link to the material; give either url or body")
    body: str = Field("", description="the material's text, read in chat (学习 N)")
    tags: list[str] = Field(default_factory=list)
    audience: AudienceBody = Field(default_factory=AudienceBody)
    plan_id: int | None = Field(None, ge=1, description="queue it in a plan: pushed at the plan's next fire time")


class MaterialQuery(Strict):
    plan_id: int | None = Field(None, ge=1)
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class PushBody(Strict):
    send_at: Aware | None = Field(None, description="default (or a past time): now")
    audience: AudienceBody | None = Field(None, description="default: the material's own audience")


class PlanBody(Strict):
    name: str
    cron: str = Field(description='a crontab line in the committee\'s time zone: "0 8 * * 1" is Mondays 08:00')
    audience: AudienceBody = Field(default_factory=AudienceBody)


class PlanQuery(Strict):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


# --- materials --------------------------------------------------------------------------------------------


@admin_endpoint
async def create_material(request: web.Request) -> web.Response:
    body = await body_of(request, MaterialBody)
    services = services_of(request.app)
    audience, ids = audience_of(body.audience)
    async with services.db.session() as session:
        try:
            await check_audience(session, audience, ids)
            material = await ops.add_material(
                session, title=body.title, summary=body.summary, url=body.url, body=body.body, tags=body.tags,
                audience=audience, audience_ids=ids, plan_id=body.plan_id, by=None, now=services.clock.now())
        except ActivityError as exc:
            raise refused(exc, services) from None
        answer = await material_detail(session, material)
    return web.json_response(answer, status=201)


@admin_endpoint
async def list_materials(request: web.Request) -> web.Response:
    query = query_of(request.query, MaterialQuery)
    filters = [StudyMaterial.plan_id == query.plan_id] if query.plan_id is not None else []
    async with services_of(request.app).db.reader() as session:
        total = await session.scalar(select(func.count()).select_from(StudyMaterial).where(*filters))
        rows = (await session.scalars(
            select(StudyMaterial).where(*filters)
            .order_by(StudyMaterial.created_at.desc(), StudyMaterial.id.desc())  # type: ignore[attr-defined]
            .offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
        counts = await material_counts(session, [m.id for m in rows if m.id is not None])
    # The list leaves out each text (a long one would swell the page); the detail has it.
    items = [{**material_json(m, with_body=False), **dict(zip(("read", "pushed"), counts.get(m.id or 0, (0, 0)),
                                                              strict=True))} for m in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


@admin_endpoint
async def get_material(request: web.Request) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        material = await _material(session, request)
        return web.json_response(await material_detail(session, material, people=True))


@admin_endpoint
async def push_material(request: web.Request) -> web.Response:
    body = await body_of(request, PushBody)
    services = services_of(request.app)
    async with services.db.session() as session:
        material = await _material(session, request)
        audience, ids = audience_of(body.audience) if body.audience is not None else (None, None)
        try:
            if audience is not None and ids is not None:
                await check_audience(session, audience, ids)
            notice = await ops.push_material(session, material, await outbox_for(services, session),
                                             send_at=body.send_at, by=None, audience=audience, audience_ids=ids)
        except ActivityError as exc:
            raise refused(exc, services) from None
        answer = await notice_detail(session, notice)
    await arm(services)  # the pushes are queued, or the send task is armed
    return web.json_response(answer, status=201)


# --- plans ------------------------------------------------------------------------------------------------


@admin_endpoint
async def create_plan(request: web.Request) -> web.Response:
    body = await body_of(request, PlanBody)
    services = services_of(request.app)
    audience, ids = audience_of(body.audience)
    async with services.db.session() as session:
        try:
            await check_audience(session, audience, ids)
            plan = await ops.create_plan(session, name=body.name, cron=body.cron, audience=audience,
                                         audience_ids=ids, by=None, now=services.clock.now())
        except ActivityError as exc:
            raise refused(exc, services) from None
        answer = plan_json(plan, services, queued=0)
    await arm(services)  # arms the recurring job now rather than at the next resync
    return web.json_response(answer, status=201)


@admin_endpoint
async def list_plans(request: web.Request) -> web.Response:
    query = query_of(request.query, PlanQuery)
    services = services_of(request.app)
    async with services.db.reader() as session:
        total = await session.scalar(select(func.count()).select_from(StudyPlan))
        rows = (await session.scalars(
            select(StudyPlan).order_by(StudyPlan.id).offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
        queued = await queued_counts(session, [p.id for p in rows if p.id is not None])
    items = [plan_json(p, services, queued=queued.get(p.id or 0, 0)) for p in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


@admin_endpoint
async def stop_plan(request: web.Request) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        plan = await session.get(StudyPlan, path_id(request, "plan_id"))
        if plan is None:
            raise not_found("study plan")
        await ops.stop_plan(session, plan)  # stopping a stopped plan changes nothing: DELETE is idempotent
        answer = plan_json(plan, services, queued=(await queued_counts(session, [plan.id or 0])).get(plan.id or 0, 0))
    await arm(services)  # drops the armed job
    return web.json_response(answer)


# --- helpers ----------------------------------------------------------------------------------------------


async def _material(session: AsyncSession, request: web.Request) -> StudyMaterial:
    material = await session.get(StudyMaterial, path_id(request, "material_id"))
    if material is None:
        raise not_found("study material")
    return material


def material_json(material: StudyMaterial, *, with_body: bool = True) -> dict[str, Any]:
    answer = {
        "id": material.id,
        "title": material.title,
        "summary": material.summary,
        "url": material.url,
        "tags": list(material.tags or []),
        "audience": {"kind": material.audience.value, "ids": list(material.audience_ids or [])},
        "plan_id": material.plan_id,
        "pushed_at": iso(material.pushed_at),
        "created_at": iso(material.created_at),
        "created_by_id": material.created_by_id,
    }
    if with_body:
        answer["body"] = material.body
    return answer


async def material_counts(session: AsyncSession, material_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(members who read it, members it was pushed to) for a page of materials: one grouped count each,
    by the rule of :func:`bot.domain.study.read_counts`."""
    if not material_ids:
        return {}
    read = dict((await session.execute(
        select(StudyRead.material_id, func.count()).where(StudyRead.material_id.in_(material_ids))  # type: ignore[attr-defined]
        .group_by(StudyRead.material_id))).all())
    pushed = dict((await session.execute(
        select(Notice.material_id, func.count(func.distinct(NoticeReceipt.member_id)))
        .join(NoticeReceipt, NoticeReceipt.notice_id == Notice.id)
        .where(Notice.material_id.in_(material_ids)).group_by(Notice.material_id))).all())  # type: ignore[union-attr]
    return {ident: (int(read.get(ident, 0)), int(pushed.get(ident, 0))) for ident in material_ids}


async def material_detail(session: AsyncSession, material: StudyMaterial, *, people: bool = False) -> dict[str, Any]:
    read, pushed = (await material_counts(session, [material.id or 0])).get(material.id or 0, (0, 0))
    answer = {**material_json(material), "read": read, "pushed": pushed}
    if not people:
        return answer
    groups = (await report.names(session))["group"]
    readers = (await session.execute(
        select(StudyRead.member_id, Member.name, Member.group_id, StudyRead.via, StudyRead.read_at)
        .join(Member, Member.id == StudyRead.member_id).where(StudyRead.material_id == material.id)
        .order_by(StudyRead.read_at, StudyRead.id)
    )).all()
    unread = (await session.execute(
        select(Member.id, Member.name, Member.group_id).where(Member.id.in_(  # type: ignore[union-attr]
            select(NoticeReceipt.member_id).join(Notice, Notice.id == NoticeReceipt.notice_id)
            .where(Notice.material_id == material.id)
            .where(NoticeReceipt.member_id.not_in(  # type: ignore[attr-defined]
                select(StudyRead.member_id).where(StudyRead.material_id == material.id)))
        )).order_by(Member.id)
    )).all()
    notices = (await session.scalars(
        select(Notice).where(Notice.material_id == material.id).order_by(Notice.id))).all()
    return {
        **answer,
        "readers": [{"member": {"id": ident, "name": name}, "group": ref(group, groups), "via": str(via),
                     "read_at": iso(read_at)} for ident, name, group, via, read_at in readers],
        "unread": [{"member": {"id": ident, "name": name}, "group": ref(group, groups)}
                   for ident, name, group in unread],
        "notices": [{"id": n.id, "status": n.status.value, "send_at": iso(n.send_at), "sent_at": iso(n.sent_at),
                     "recipients": n.recipients} for n in notices],
    }


async def queued_counts(session: AsyncSession, plan_ids: list[int]) -> dict[int, int]:
    """Materials of each plan not pushed yet (what its next fire times will send, oldest first)."""
    if not plan_ids:
        return {}
    return {plan_id: int(count) for plan_id, count in (await session.execute(
        select(StudyMaterial.plan_id, func.count())
        .where(StudyMaterial.plan_id.in_(plan_ids), StudyMaterial.pushed_at.is_(None))  # type: ignore[union-attr]
        .group_by(StudyMaterial.plan_id))).all()}


def next_fire(plan: StudyPlan, services: Services) -> datetime | None:
    """The plan's next fire time in the committee's time zone, by the same trigger the scheduler arms
    (bot.domain.tasks.crontab_trigger: weekdays from Sunday = 0, unlike APScheduler's own from_crontab)."""
    if not plan.active:
        return None
    zone = ZoneInfo(services.settings.scheduler.timezone)
    return crontab_trigger(plan.cron, zone).get_next_fire_time(None, services.clock.now().astimezone(zone))


def plan_json(plan: StudyPlan, services: Services, *, queued: int) -> dict[str, Any]:
    upcoming = next_fire(plan, services)
    return {
        "id": plan.id,
        "name": plan.name,
        "cron": plan.cron,
        "timezone": services.settings.scheduler.timezone,
        "audience": {"kind": plan.audience.value, "ids": list(plan.audience_ids or [])},
        "active": plan.active,
        # Local time with its offset, as the cron line is written: "next Monday 08:00" reads as such.
        "next_fire_at": upcoming.isoformat() if upcoming is not None else None,
        "queued": queued,
        "created_at": iso(plan.created_at),
        "created_by_id": plan.created_by_id,
    }
