"""社情民意 at the desk: the review queue, every report in the secretary's reach, one report with its photos,
history and similar reports, the review actions, and compiling adopted reports into a bulletin.

    GET  /console/reports                          the queue (submitted, under review) and the filtered list
                                                   (status, category, year, author's name), paged in the database
    GET  /console/reports/{id}                     full text, photos, history, instructions, similar reports, actions
    GET  /console/reports/{id}/photos/{photo_id}   a stored photo from media_dir (the report in reach, or 404)
    POST /console/reports/{id}/act                 accept · return (comment) · adopt (level) · not_adopt · instruct
                                                   (CSRF) → bot.domain.reports, which records and tells the member
    POST /console/reports/compile                  selected adopted reports → 信息专报 .docx or the .xlsx with full text

Every lookup goes through the domain with the secretary's ``groups_within_reach(REVIEW_REPORT)``: a report of
another liaison group is answered as one that does not exist. A refused action shows the refusal on the page.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import reports as ops
from bot.domain.authz import Action, groups_within_reach
from bot.domain.refusals import Kind, Refusal
from bot.exports.bulletin import bulletin_docx
from bot.exports.reports import full_text_workbook
from bot.web.console.auth import Visit, console_page, frame, local_time, redirect
from bot.web.pages import PRIVATE_HEADERS
from models.member import Member
from models.report import ADOPTION_ORDER, AdoptionLevel, Report, ReportStatus

LIST_URL = "/console/reports"
PER_PAGE = 20
LEVELS = frozenset(level.value for level in AdoptionLevel)
REVIEW_ACTIONS = ("accept", "return", "adopt", "not_adopt", "instruct")
STATUS_OF_REFUSAL = {Kind.INVALID: 422, Kind.FORBIDDEN: 403, Kind.NOT_FOUND: 404, Kind.CONFLICT: 409}
DOWNLOADS = {
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def reach(visit: Visit) -> frozenset[int] | None:
    return groups_within_reach(visit.member, Action.REVIEW_REPORT)



# --- the list ------------------------------------------------------------------------------------------------


def _filters(query: Any) -> ops.ReportFilter:
    """The list's filters from the query string; a value that names nothing does not filter."""
    status = query.get("status", "")
    year = query.get("year", "")
    return ops.ReportFilter(status=ReportStatus(status) if status in ops.SUBMITTED_STATUSES else None,
                            category=query.get("category", "").strip(),
                            year=int(year) if year.isdigit() else None, member_name=query.get("name", "")[:40])


def _page_number(query: Any) -> int:
    number = query.get("page", "1")
    return max(int(number), 1) if number.isdigit() else 1


@console_page()
async def list_page(request: web.Request, visit: Visit) -> web.Response:
    services, groups = visit.services, reach(visit)
    if groups == frozenset():
        raise web.HTTPNotFound()  # no report is this member's to review
    filters, number = _filters(request.query), _page_number(request.query)
    async with services.db.reader() as session:
        queue, waiting = await ops.review_queue(session, groups)
        rows, total = await ops.search_reports(session, groups, filters, page=number, per_page=PER_PAGE)
    return frame(request, visit, "console/reports.html", title_key="console_reports.list.page_title",
                 current="reports", queue=queue, waiting=waiting, rows=rows, total=total, filters=filters,
                 page=number, pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), statuses=ops.SUBMITTED_STATUSES,
                 categories=services.settings.report_categories, local=local_time(visit, missing=""),
                 query=_query_without_page(request), compiled_none=request.query.get("compiled") == "none")


def _query_without_page(request: web.Request) -> str:
    """The list's filters as a query string, for the page links."""
    return urlencode({key: value for key, value in request.query.items() if key not in ("page", "compiled")
                      and value})


# --- one report ----------------------------------------------------------------------------------------------


@console_page()
async def report_page(request: web.Request, visit: Visit) -> web.Response:
    return await _report_view(request, visit, int(request.match_info["report_id"]),
                              done=request.query.get("done", ""))


async def _report_view(request: web.Request, visit: Visit, report_id: int, *, done: str = "",
                       refusal: Refusal | None = None, form: dict[str, str] | None = None) -> web.Response:
    services = visit.services
    async with services.db.reader() as session:
        try:
            report = await ops.report_for_reviewer(session, visit.member, report_id)
        except Refusal:
            raise web.HTTPNotFound() from None
        about = await _about(session, report, reach(visit))
    texts = services.texts
    return frame(request, visit, "console/report.html", title_key="console_reports.detail.page_title",
                 current="reports", report=report, **about, local=local_time(visit, missing=""),
                 levels=_levels_above(report),
                 done=done if done in REVIEW_ACTIONS else "", form=form or {},
                 refusal=refusal.render(texts) if refusal else "", policy_extra="img-src 'self'",
                 status=STATUS_OF_REFUSAL[refusal.kind] if refusal else 200)


async def _about(session: AsyncSession, report: Report, groups: frozenset[int] | None) -> dict[str, Any]:
    """What the report page shows besides the report (only photos already fetched have a file to show)."""
    author = await session.get(Member, report.member_id)
    photos = await ops.photos_of(session, report.id)
    return {"author": author.name if author else "", "history": await ops.history(session, report.id),
            "notes": await ops.instructions(session, report.id),
            "similar": await ops.similar_within(session, report, groups),
            "photos": [photo for photo in photos if photo.path]}


def _levels_above(report: Report) -> tuple[AdoptionLevel, ...]:
    """The levels a report may be adopted at now: any at first, then only higher ones (the domain checks it)."""
    if report.status is ReportStatus.ADOPTED and report.adoption_level:
        return ADOPTION_ORDER[ADOPTION_ORDER.index(report.adoption_level) + 1:]
    return ADOPTION_ORDER


@console_page()
async def photo(request: web.Request, visit: Visit) -> web.StreamResponse:
    services = visit.services
    report_id, photo_id = int(request.match_info["report_id"]), int(request.match_info["photo_id"])
    async with services.db.reader() as session:
        try:
            await ops.report_for_reviewer(session, visit.member, report_id)
        except Refusal:
            raise web.HTTPNotFound() from None
        found = next((row for row in await ops.photos_of(session, report_id) if row.id == photo_id), None)
    target = _stored_file(services.settings.media_dir, found.path if found is not None else "")
    if target is None:
        raise web.HTTPNotFound()
    kind = mimetypes.guess_type(target.name)[0] or "image/jpeg"
    return web.FileResponse(target, headers={**PRIVATE_HEADERS, "Content-Type": kind})


def _stored_file(media_dir: str, relative: str) -> Path | None:
    """The photo's file under media_dir; a path that leads out of it (or to nothing) is none."""
    if not relative:
        return None
    root = Path(media_dir).resolve()
    target = (root / relative).resolve()
    return target if target.is_relative_to(root) and target.is_file() else None


@console_page()
async def act(request: web.Request, visit: Visit) -> web.StreamResponse:
    report_id = int(request.match_info["report_id"])
    form = {key: str(value) for key, value in (await request.post()).items() if key != "csrf"}
    action = form.get("action", "")
    if action not in REVIEW_ACTIONS:
        raise web.HTTPBadRequest()
    try:
        await _apply(visit, report_id, action, form)
    except Refusal as refusal:
        if refusal.kind is Kind.NOT_FOUND or refusal.kind is Kind.FORBIDDEN:
            raise web.HTTPNotFound() from None  # outside the reach: as unknown as a report that never was
        return await _report_view(request, visit, report_id, refusal=refusal, form=form)
    return redirect(f"{LIST_URL}/{report_id}?done={action}")


async def _apply(visit: Visit, report_id: int, action: str, form: dict[str, str]) -> None:
    services = visit.services
    now, texts = services.clock.now(), services.texts
    async with services.db.session() as session:
        await ops.report_for_reviewer(session, visit.member, report_id)
        if action == "instruct":
            outcome = await ops.record_instruction(
                session, report_id, text=form.get("text", ""), leader=form.get("leader", ""),
                given_at=_given_at(form.get("given_on", ""), visit), by=visit.member, now=now, texts=texts)
        else:
            level = form.get("level", "")
            outcome = await ops.transition(
                session, report_id, action, by=visit.member, now=now, texts=texts, comment=form.get("comment", ""),
                level=AdoptionLevel(level) if level in LEVELS else None,
                zone=services.zone)
    if outcome.notified:
        services.wake_delivery()  # after the commit, so the worker finds the row


def _given_at(day: str, visit: Visit) -> datetime | None:
    """The day the leader gave the instruction (a date field), at noon local time; empty: now."""
    try:
        return datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=visit.services.zone) if day else None
    except ValueError:
        raise Refusal.invalid("console_reports.errors.bad_date") from None


# --- compiling a bulletin ------------------------------------------------------------------------------------


@console_page()
async def compile_selected(request: web.Request, visit: Visit) -> web.StreamResponse:
    services = visit.services
    form = await request.post()
    chosen = [int(value) for value in form.getall("report", []) if str(value).isdigit()]
    kind = str(form.get("format", "docx"))
    if kind not in DOWNLOADS:
        raise web.HTTPBadRequest()
    texts, zone, today = services.texts, services.zone, services.clock.now().astimezone(services.zone).date()
    async with services.db.reader() as session:
        chosen_reports = await ops.adopted_within(session, reach(visit), chosen)
        if not chosen_reports:
            return redirect(f"{LIST_URL}?status=adopted&compiled=none")
        if kind == "docx":
            body = await bulletin_docx(session, chosen_reports, title=texts("console_reports.bulletin.title"),
                                       issued=today, zone=zone, texts=texts)
        else:
            body = await full_text_workbook(session, chosen_reports, zone=zone, texts=texts)
    content_type, extension = DOWNLOADS[kind]
    filename = f"bulletin-{today:%Y%m%d}.{extension}"
    return web.Response(body=body, content_type=content_type,
                        headers={**PRIVATE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'})
