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
from typing import Annotated, NotRequired

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.api.answers import Page, Ref, Time, iso, paged, ref
from bot.api.common import Aware, PageQuery, Strict, fetch_page, found
from bot.api.forms import AudienceBody, AudienceOut, arm, audience_json, checked_audience
from bot.api.notices import NoticeDetail, notice_detail
from bot.api.registry import Routes
from bot.domain import attendance as report
from bot.domain import study as ops
from bot.domain.notices import outbox_for
from bot.domain.tasks import crontab_trigger
from bot.infra.services import Services, services_of
from models.member import Member
from models.notice import Notice, NoticeReceipt, NoticeStatus, ReadVia, StudyMaterial, StudyPlan, StudyRead

routes = Routes("study")
NO_MATERIAL = {404: "No study material with this id."}


# --- bodies and queries ---------------------------------------------------------------------------------


class MaterialCreate(Strict):
    """Exactly one of url and body."""

    title: str
    summary: str = Field("", description=f"at most {ops.SUMMARY_MAX} characters")
    url: str = Field("", description="a link to the material; give either url or body")
    body: str = Field("", description="the material's text, read in chat (学习 N)")
    tags: list[str] = Field(default_factory=list, description=f"at most {ops.TAGS_MAX}")
    audience: AudienceBody = Field(default_factory=AudienceBody)
    plan_id: int | None = Field(None, ge=1, description="queue it in a plan: pushed at the plan's next fire time")


class MaterialQuery(PageQuery):
    plan_id: int | None = Field(None, ge=1)


class MaterialPush(Strict):
    send_at: Aware | None = Field(None, description="default (or a past time): now")
    audience: AudienceBody | None = Field(None, description="default: the material's own audience")


class PlanCreate(Strict):
    name: str = Field(description="at most 60 characters")
    cron: str = Field(description='a crontab line in the committee\'s time zone: "0 8 * * 1" is Mondays 08:00 '
                                  "(weekdays from Sunday = 0)")
    audience: AudienceBody = Field(default_factory=AudienceBody)


# --- answers ----------------------------------------------------------------------------------------------


class MaterialOut(TypedDict):
    id: int
    title: str
    summary: str
    url: str
    tags: list[str]
    audience: AudienceOut
    plan_id: int | None
    pushed_at: Annotated[Time | None, Field(description="first pushed (or scheduled to be)")]
    created_at: Time
    created_by_id: int | None


class CountedMaterial(MaterialOut):
    read: Annotated[int, Field(description="members who read it")]
    pushed: Annotated[int, Field(description="members it was pushed to")]


class MaterialPage(Page):
    items: Annotated[list[CountedMaterial], Field(description="without their texts: the detail has them")]


class Reader(TypedDict):
    member: Ref
    group: Ref | None
    via: ReadVia
    read_at: Time


class Unread(TypedDict):
    member: Ref
    group: Ref | None


class MaterialNotice(TypedDict):
    id: int
    status: NoticeStatus
    send_at: Time
    sent_at: Time | None
    recipients: int


class MaterialDetail(CountedMaterial):
    body: str
    readers: NotRequired[Annotated[list[Reader], Field(description="only in GET /study/materials/{id}")]]
    unread: NotRequired[Annotated[list[Unread], Field(description="pushed to, not read; only in GET "
                                                                  "/study/materials/{id}")]]
    notices: NotRequired[Annotated[list[MaterialNotice], Field(description="only in GET /study/materials/{id}")]]


class PlanOut(TypedDict):
    id: int
    name: str
    cron: str
    timezone: Annotated[str, Field(description="the zone of the cron line (scheduler.timezone)")]
    audience: AudienceOut
    active: Annotated[bool, Field(description="false once stopped")]
    next_fire_at: Annotated[Time | None, Field(description="in the committee's local time, with its offset; null "
                                                           "when stopped")]
    queued: Annotated[int, Field(description="materials of the plan not pushed yet")]
    created_at: Time
    created_by_id: int | None


class PlanPage(Page):
    items: list[PlanOut]


# --- materials --------------------------------------------------------------------------------------------


@routes.post("/study/materials", "Add a study material (a link or a text); with plan_id it waits for the plan's "
             "next fire time, otherwise push it with /push.", body=MaterialCreate, ok=MaterialDetail, status=201)
async def create_material(request: web.Request, body: MaterialCreate) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        audience, ids = await checked_audience(session, body.audience)
        material = await ops.add_material(
            session, title=body.title, summary=body.summary, url=body.url, body=body.body, tags=body.tags,
            audience=audience, audience_ids=ids, plan_id=body.plan_id, by=None, now=services.clock.now())
        answer = await material_detail(session, material)
    return web.json_response(answer, status=201)


@routes.get("/study/materials", "Study materials, newest first, each with how many members read it and were "
            "pushed it.", query=MaterialQuery, ok=MaterialPage)
async def list_materials(request: web.Request, query: MaterialQuery) -> web.Response:
    filters = [StudyMaterial.plan_id == query.plan_id] if query.plan_id is not None else []
    async with services_of(request.app).db.reader() as session:
        total, rows = await fetch_page(session, select(StudyMaterial).where(*filters).order_by(
            StudyMaterial.created_at.desc(), StudyMaterial.id.desc()), query)  # type: ignore[attr-defined]
        counts = await material_counts(session, [m.id for m in rows if m.id is not None])
    # The list leaves out each text (a long one would swell the page); the detail has it.
    items = [_counted(material_json(m), counts.get(m.id or 0, (0, 0))) for m in rows]
    return web.json_response(paged(items, total, query))


@routes.get("/study/materials/{material_id}", "One material: who read it (how and when), who it was pushed to and "
            "has not read it, and its pushes.", ok=MaterialDetail, errors=NO_MATERIAL)
async def get_material(request: web.Request, material_id: int) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        material = await _material(session, material_id)
        return web.json_response(await material_detail(session, material, people=True))


@routes.post("/study/materials/{material_id}/push", "Push the material as a study notice, now or at send_at, to "
             "its audience or another.", body=MaterialPush, ok=NoticeDetail, status=201, errors=NO_MATERIAL)
async def push_material(request: web.Request, material_id: int, body: MaterialPush) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        material = await _material(session, material_id)
        audience, ids = await checked_audience(session, body.audience) if body.audience else (None, None)
        notice = await ops.push_material(session, material, await outbox_for(services, session),
                                         send_at=body.send_at, by=None, audience=audience, audience_ids=ids)
        answer = await notice_detail(session, notice)
    await arm(services)  # the pushes are queued, or the send task is armed
    return web.json_response(answer, status=201)


# --- plans ------------------------------------------------------------------------------------------------


@routes.post("/study/plans", "A recurring push: at each fire time of its crontab line (the committee's local time) "
             "the plan's oldest material not pushed yet goes to the plan's audience.", body=PlanCreate, ok=PlanOut,
             status=201)
async def create_plan(request: web.Request, body: PlanCreate) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        audience, ids = await checked_audience(session, body.audience)
        plan = await ops.create_plan(session, name=body.name, cron=body.cron, audience=audience,
                                     audience_ids=ids, by=None, now=services.clock.now())
        answer = plan_json(plan, services, queued=0)
    await arm(services)  # arms the recurring job now rather than at the next resync
    return web.json_response(answer, status=201)


@routes.get("/study/plans", "Study plans by id, each with its next fire time and how many materials are still "
            "queued.", query=PageQuery, ok=PlanPage)
async def list_plans(request: web.Request, query: PageQuery) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        total, rows = await fetch_page(session, select(StudyPlan).order_by(StudyPlan.id), query)
        queued = await queued_counts(session, [p.id for p in rows if p.id is not None])
    return web.json_response(paged([plan_json(p, services, queued=queued.get(p.id or 0, 0)) for p in rows],
                                   total, query))


@routes.delete("/study/plans/{plan_id}", "Stop a plan: its task is cancelled; the plan and its materials stay "
               "(idempotent).", ok=PlanOut, errors={404: "No study plan with this id."})
async def stop_plan(request: web.Request, plan_id: int) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        plan = await found(session, StudyPlan, plan_id, "study plan")
        # Stopping a stopped plan changes nothing: DELETE is idempotent.
        await ops.stop_plan(session, plan, now=services.clock.now())
        answer = plan_json(plan, services, queued=(await queued_counts(session, [plan_id])).get(plan_id, 0))
    await arm(services)  # drops the armed job
    return web.json_response(answer)


# --- helpers ----------------------------------------------------------------------------------------------


async def _material(session: AsyncSession, material_id: int) -> StudyMaterial:
    return await found(session, StudyMaterial, material_id, "study material")


def material_json(material: StudyMaterial) -> MaterialOut:
    return {
        "id": material.id,
        "title": material.title,
        "summary": material.summary,
        "url": material.url,
        "tags": list(material.tags or []),
        "audience": audience_json(material.audience, material.audience_ids),
        "plan_id": material.plan_id,
        "pushed_at": iso(material.pushed_at),
        "created_at": iso(material.created_at),
        "created_by_id": material.created_by_id,
    }


def _counted(material: MaterialOut, counts: tuple[int, int]) -> CountedMaterial:
    read, pushed = counts
    return {**material, "read": read, "pushed": pushed}


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


async def material_detail(session: AsyncSession, material: StudyMaterial, *, people: bool = False) -> MaterialDetail:
    counts = (await material_counts(session, [material.id or 0])).get(material.id or 0, (0, 0))
    answer: MaterialDetail = {**_counted(material_json(material), counts), "body": material.body}
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
        "readers": [{"member": {"id": ident, "name": name}, "group": ref(group, groups), "via": via,
                     "read_at": iso(read_at)} for ident, name, group, via, read_at in readers],
        "unread": [{"member": {"id": ident, "name": name}, "group": ref(group, groups)}
                   for ident, name, group in unread],
        "notices": [{"id": n.id, "status": n.status, "send_at": iso(n.send_at), "sent_at": iso(n.sent_at),
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
    zone = services.zone
    return crontab_trigger(plan.cron, zone).get_next_fire_time(None, services.clock.now().astimezone(zone))


def plan_json(plan: StudyPlan, services: Services, *, queued: int) -> PlanOut:
    upcoming = next_fire(plan, services)
    return {
        "id": plan.id,
        "name": plan.name,
        "cron": plan.cron,
        "timezone": services.settings.scheduler.timezone,
        "audience": audience_json(plan.audience, plan.audience_ids),
        "active": plan.active,
        # Local time with its offset, as the cron line is written: "next Monday 08:00" reads as such.
        "next_fire_at": upcoming.isoformat() if upcoming is not None else None,
        "queued": queued,
        "created_at": iso(plan.created_at),
        "created_by_id": plan.created_by_id,
    }
