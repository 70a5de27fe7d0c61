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

A personal token reads only the reports of its secretary's groups (REVIEW_REPORT; another group's is 404) and
acts as them: the domain checks their scope (403) and names them in the history and the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.api.answers import Page, Ref, Time, iso, paged, ref
from bot.api.common import Aware, PageQuery, Said, Strict, by_id_or_name, fetch_page, found
from bot.api.registry import Handler, Routes
from bot.api.scope import caller, known_within, reach_of, within
from bot.domain import reports as ops
from bot.domain.authz import Action
from bot.infra.services import Services, services_of
from models.media import PhotoStatus
from models.member import LiaisonGroup, Member
from models.report import AdoptionLevel, Report, ReportStatus

routes = Routes("reports")


# --- bodies and queries ---------------------------------------------------------------------------------


class ReportQuery(PageQuery):
    status: ReportStatus | None = None
    group: str | None = Field(None, description="liaison group id or exact name")
    year: int | None = Field(None, ge=2000, le=2100)
    member: int | None = Field(None, ge=1, description="member id")


class AcceptBody(Strict):
    pass


class ReturnBody(Strict):
    comment: Said = Field(min_length=1, max_length=ops.COMMENT_MAX, description="told to the member")


class AdoptBody(Strict):
    level: AdoptionLevel = Field(description="adopting again only moves a report up: county → city → …")
    comment: str = Field("", max_length=ops.COMMENT_MAX)


class NotAdoptBody(Strict):
    comment: str = Field("", max_length=ops.COMMENT_MAX)


class InstructBody(Strict):
    text: str = Field(min_length=1, max_length=ops.INSTRUCTION_MAX)
    leader: str = Field(min_length=1, max_length=80, description="who gave it, e.g. 市委书记 张某")
    given_at: Aware | None = Field(None, description="when it was given; default now")


# action → its body and what it does
ACTIONS: dict[str, tuple[type[Strict], str]] = {
    "accept": (AcceptBody, "Accept a submitted report for review (submitted → under_review)."),
    "return": (ReturnBody, "Return a report to its author with a comment (submitted or under review → returned)."),
    "adopt": (AdoptBody, "Adopt a report at a level (under review → adopted), or adopt it again at a higher one."),
    "not_adopt": (NotAdoptBody, "Decide not to adopt a report under review (→ not_adopted)."),
    "instruct": (InstructBody, "Record a leader's instruction (批示) on an adopted report."),
}


# --- answers ----------------------------------------------------------------------------------------------


class ReportOut(TypedDict):
    id: int
    title: str
    category: str
    status: ReportStatus
    year: int
    member: Ref
    group: Ref | None
    adoption_level: AdoptionLevel | None
    review_comment: str
    length: Annotated[int, Field(description="characters, whitespace not counted")]
    similar_report_id: int | None
    similarity: float | None
    created_at: Time
    submitted_at: Time | None
    decided_at: Time | None
    updated_at: Time


class ReportPage(Page):
    items: list[ReportOut]


class PhotoOut(TypedDict):
    id: int
    status: PhotoStatus
    media_id: str
    pic_url: str
    path: str
    attempts: int
    last_error: str


HistoryOut = TypedDict("HistoryOut", {
    "action": str, "from": ReportStatus, "to": ReportStatus, "by": str | None, "by_id": int | None,
    "comment": str, "level": AdoptionLevel | None, "at": Time,
})


class InstructionOut(TypedDict):
    text: str
    leader: str
    given_at: Time
    recorded_at: Time


class ReportDetail(ReportOut):
    body: str
    photos: list[PhotoOut]
    history: Annotated[list[HistoryOut], Field(description="oldest first; by null: the admin API")]
    instructions: list[InstructionOut]


class ReportDecision(ReportDetail):
    notified: Annotated[bool, Field(description="a chat message to the member was queued")]


# --- handlers -------------------------------------------------------------------------------------


@routes.get("/reports", "List social-condition reports, filtered and paginated (ordered by id).",
            query=ReportQuery, ok=ReportPage, personal=True)
async def list_reports(request: web.Request, query: ReportQuery) -> web.Response:
    statement = _filtered(select(Report), query).where(*within(Report.group_id, _reach(request)))
    async with services_of(request.app).db.reader() as session:
        total, rows = await fetch_page(session, statement.order_by(Report.id), query)
        names = await _names(session)
        return web.json_response(paged([report_json(report, names) for report in rows], total, query))


@routes.get("/reports/{report_id}", "One report with its body, photos, history and instructions.",
            ok=ReportDetail, errors={404: "No report with this id."}, personal=True)
async def get_report(request: web.Request, report_id: int) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        return web.json_response(await _detail(session, report_id, _reach(request)))


def _action_endpoint(action: str) -> Handler:
    async def handler(request: web.Request, report_id: int, body: Strict) -> web.Response:
        services = services_of(request.app)
        async with services.db.session() as session:
            outcome = await _apply(session, services, report_id, action, body, by=caller(request))
            answer = await _detail(session, report_id)
        if outcome.notified:
            services.wake_delivery()  # after the commit, so the worker finds the row
        return web.json_response({**answer, "notified": outcome.notified})

    handler.__name__ = handler.__qualname__ = f"{action}_report"
    return handler


def _declare_actions() -> None:
    """One route per action, each with its own body (the workflow itself is bot.domain.reports')."""
    for action, (body, summary) in ACTIONS.items():
        routes.post(f"/reports/{{report_id}}/{action}", summary, body=body, ok=ReportDecision,
                    errors={404: "No report with this id.",
                            409: "illegal_transition: the report's status does not allow this."}, personal=True)(
            _action_endpoint(action))


_declare_actions()


async def _apply(session: AsyncSession, services: Services, report_id: int, action: str, body: Strict, *,
                 by: Member | None) -> ops.Outcome:
    now, texts = services.clock.now(), services.texts
    if isinstance(body, InstructBody):
        return await ops.record_instruction(session, report_id, text=body.text, leader=body.leader,
                                            given_at=body.given_at, by=by, now=now, texts=texts)
    return await ops.transition(session, report_id, action, by=by, now=now, texts=texts,
                                comment=getattr(body, "comment", ""), level=getattr(body, "level", None),
                                zone=services.zone)


# --- helpers --------------------------------------------------------------------------------------


def _filtered(statement: Any, query: ReportQuery) -> Any:
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


def report_json(report: Report, names: dict[str, dict[int, str]]) -> ReportOut:
    return {
        "id": report.id,
        "title": report.title,
        "category": report.category,
        "status": report.status,
        "year": report.year,
        "member": {"id": report.member_id, "name": names["member"].get(report.member_id, "")},
        "group": ref(report.group_id, names["group"]),
        "adoption_level": report.adoption_level,
        "review_comment": report.review_comment,
        "length": ops.text_length(report.body),
        "similar_report_id": report.similar_report_id,
        "similarity": report.similarity,
        "created_at": iso(report.created_at),
        "submitted_at": iso(report.submitted_at),
        "decided_at": iso(report.decided_at),
        "updated_at": iso(report.updated_at),
    }


def _reach(request: web.Request) -> frozenset[int] | None:
    return reach_of(request, Action.REVIEW_REPORT)


async def _detail(session: AsyncSession, report_id: int, reach: frozenset[int] | None = None) -> ReportDetail:
    """The report in full; one outside ``reach`` is as unknown as none."""
    report = await found(session, Report, report_id, "report")
    known_within(report.group_id, reach, "report")
    return {
        **report_json(report, await _names(session)),
        "body": report.body,
        "photos": [{"id": p.id, "status": p.status, "media_id": p.media_id, "pic_url": p.pic_url, "path": p.path,
                    "attempts": p.attempts, "last_error": p.last_error}
                   for p in await ops.photos_of(session, report_id)],
        "history": [{"action": e.action, "from": e.from_status, "to": e.to_status, "by": e.by_name or None,
                     "by_id": e.by_id, "comment": e.comment, "level": e.level, "at": iso(e.at)}
                    for e in await ops.history(session, report_id)],
        "instructions": [{"text": i.text, "leader": i.leader, "given_at": iso(i.given_at),
                          "recorded_at": iso(i.recorded_at)} for i in await ops.instructions(session, report_id)],
    }
