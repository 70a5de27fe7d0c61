"""``/api/v1/reports``: list and read reports, and move them along the workflow.

    GET  /api/v1/reports?status=&group=&year=&member=&page=&per_page=
    GET  /api/v1/reports/{id}                       with photos, history and instructions
    POST /api/v1/reports/{id}/accept                {}
    POST /api/v1/reports/{id}/return                {"comment": "..."}
    POST /api/v1/reports/{id}/adopt                 {"level": "county|city|provincial|national", "comment"?}
    POST /api/v1/reports/{id}/not_adopt             {"comment"?}
    POST /api/v1/reports/{id}/instruct              {"text": "...", "leader": "...", "given_at"?: ISO time}

A transition the report's status does not allow is 409 ``{"error": "illegal_transition"}``. The actions
run :func:`bot.domain.reports.transition`, as the secretaries' ``审核报送`` does, so the member is told either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
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
from bot.domain import reports as ops
from bot.infra.services import Services, services_of
from models.member import LiaisonGroup, Member
from models.report import AdoptionLevel, Report, ReportStatus

MAX_PER_PAGE = 200


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ReportStatus | None = None
    group: str | None = Field(None, description="liaison group id or exact name")
    year: int | None = Field(None, ge=2000, le=2100)
    member: int | None = Field(None, ge=1, description="member id")
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceptBody(_Body):
    pass


class ReturnBody(_Body):
    comment: str = Field(min_length=1, max_length=ops.COMMENT_MAX)

    @field_validator("comment")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class AdoptBody(_Body):
    level: AdoptionLevel
    comment: str = Field("", max_length=ops.COMMENT_MAX)


class NotAdoptBody(_Body):
    comment: str = Field("", max_length=ops.COMMENT_MAX)


class InstructBody(_Body):
    text: str = Field(min_length=1, max_length=ops.INSTRUCTION_MAX)
    leader: str = Field(min_length=1, max_length=80, description="who gave it, e.g. 市委书记 张某")
    given_at: datetime | None = Field(None, description="when it was given (aware ISO time); default now")

    @field_validator("given_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-03-01T09:00:00+08:00")
        return value


BODIES: dict[str, type[_Body]] = {
    "accept": AcceptBody, "return": ReturnBody, "adopt": AdoptBody, "not_adopt": NotAdoptBody,
    "instruct": InstructBody,
}


# --- handlers -------------------------------------------------------------------------------------

@admin_endpoint
async def list_reports(request: web.Request) -> web.Response:
    query = parse_query(request.query, ListQuery)
    async with services_of(request.app).db.reader() as session:
        total = await session.scalar(_filtered(select(func.count()).select_from(Report), query))
        rows = (await session.scalars(
            _filtered(select(Report), query).order_by(Report.id)
            .offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
        names = await _names(session)
        items = [report_json(report, names) for report in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page,
                              "per_page": query.per_page})


@admin_endpoint
async def get_report(request: web.Request) -> web.Response:
    report_id = path_id(request, "report_id")
    async with services_of(request.app).db.reader() as session:
        return web.json_response(await _detail(session, report_id))


@admin_endpoint
async def report_action(request: web.Request) -> web.Response:
    report_id = path_id(request, "report_id")
    action = request.match_info["action"]
    if action not in BODIES:
        raise ApiError(404, "not_found", f"unknown action {action!r}; one of {sorted(BODIES)}")
    body = await parse_body(request, BODIES[action])
    services = services_of(request.app)
    async with services.db.session() as session:
        outcome = await _apply(session, services, report_id, action, body)
        answer = await _detail(session, report_id)
    if outcome.notified:
        services.wake_delivery()  # after the commit, so the worker finds the row
    return web.json_response({**answer, "notified": outcome.notified})


async def _apply(session: AsyncSession, services: Services, report_id: int, action: str, body: _Body
                 ) -> ops.Outcome:
    from zoneinfo import ZoneInfo

    now, texts = services.clock.now(), services.texts
    try:
        if isinstance(body, InstructBody):
            return await ops.record_instruction(session, report_id, text=body.text, leader=body.leader,
                                                given_at=body.given_at, by=None, now=now, texts=texts)
        return await ops.transition(
            session, report_id, action, by=None, now=now, texts=texts,
            comment=getattr(body, "comment", ""), level=getattr(body, "level", None),
            zone=ZoneInfo(services.settings.scheduler.timezone),
        )
    except ops.ReportNotFound:
        raise not_found("report") from None
    except ops.IllegalTransition as exc:
        raise ApiError(409, "illegal_transition",
                       f"report is {exc.status.value}; {action} is not allowed from there") from None
    except ops.Invalid as exc:
        raise invalid([{"field": "body", "message": exc.render(texts)}]) from None


# --- helpers --------------------------------------------------------------------------------------

def _filtered(statement: Any, query: ListQuery) -> Any:
    if query.status is not None:
        statement = statement.where(Report.status == query.status)
    if query.group:
        statement = statement.where(by_id_or_name(Report.group_id, LiaisonGroup, query.group))
    if query.year is not None:
        statement = statement.where(Report.year == query.year)
    if query.member is not None:
        statement = statement.where(Report.member_id == query.member)
    return statement


async def _names(session: AsyncSession) -> dict[str, dict[int, str]]:
    groups = (await session.execute(select(LiaisonGroup.id, LiaisonGroup.name))).all()
    members = (await session.execute(select(Member.id, Member.name))).all()
    return {"group": {row[0]: row[1] for row in groups}, "member": {row[0]: row[1] for row in members}}


def report_json(report: Report, names: dict[str, dict[int, str]]) -> dict[str, Any]:
    group = None if report.group_id is None else {"id": report.group_id,
                                                  "name": names["group"].get(report.group_id, "")}
    return {
        "id": report.id,
        "title": report.title,
        "category": report.category,
        "status": report.status.value,
        "year": report.year,
        "member": {"id": report.member_id, "name": names["member"].get(report.member_id, "")},
        "group": group,
        "adoption_level": report.adoption_level.value if report.adoption_level else None,
        "review_comment": report.review_comment,
        "length": ops.text_length(report.body),
        "similar_report_id": report.similar_report_id,
        "similarity": report.similarity,
        "created_at": iso(report.created_at),
        "submitted_at": iso(report.submitted_at),
        "decided_at": iso(report.decided_at),
        "updated_at": iso(report.updated_at),
    }


async def _detail(session: AsyncSession, report_id: int) -> dict[str, Any]:
    report = await session.get(Report, report_id)
    if report is None:
        raise not_found("report")
    body = report_json(report, await _names(session))
    body["body"] = report.body
    body["photos"] = [
        {"id": p.id, "status": p.status.value, "media_id": p.media_id, "pic_url": p.pic_url, "path": p.path,
         "attempts": p.attempts, "last_error": p.last_error}
        for p in await ops.photos_of(session, report_id)
    ]
    body["history"] = [
        {"action": e.action, "from": e.from_status, "to": e.to_status, "by": e.by_name or None,
         "by_id": e.by_id, "comment": e.comment, "level": e.level.value if e.level else None, "at": iso(e.at)}
        for e in await ops.history(session, report_id)
    ]
    body["instructions"] = [
        {"text": i.text, "leader": i.leader, "given_at": iso(i.given_at), "recorded_at": iso(i.recorded_at)}
        for i in await ops.instructions(session, report_id)
    ]
    return body
