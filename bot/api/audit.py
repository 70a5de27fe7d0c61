"""``/api/v1/audit``: the audit log, read and exported.

    GET /api/v1/audit?actor=&object_type=&object_id=&since=&until=&page=&per_page=   newest first
    GET /api/v1/audit.xlsx?actor=&object_type=&object_id=&since=&until=              the same events as a workbook

The superuser token sees every event (a secretary's console page asks :func:`bot.domain.audit.events` with their
reach). ``since`` is inclusive, ``until`` exclusive, both with their offset.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from typing_extensions import TypedDict

from bot.api.answers import Page, Time, iso, paged
from bot.api.common import Aware, PageQuery, Strict
from bot.api.registry import Routes
from bot.domain import audit
from bot.exports.audit import audit_workbook
from bot.infra.services import services_of
from models.audit import AuditEvent, Channel

routes = Routes("audit")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- queries ----------------------------------------------------------------------------------------------


class AuditFilters(Strict):
    actor: int | None = Field(None, ge=1, description="member id of who acted")
    object_type: str | None = Field(None, max_length=40, description="member, report, leave, activity …")
    object_id: int | None = Field(None, ge=1)
    since: Aware | None = Field(None, description="from this time (inclusive)")
    until: Aware | None = Field(None, description="before this time (exclusive)")

    def filters(self) -> audit.Filters:
        return audit.Filters(self.actor, self.object_type, self.object_id, self.since, self.until)


class AuditQuery(PageQuery, AuditFilters):
    pass


# --- answers ----------------------------------------------------------------------------------------------


class AuditEventOut(TypedDict):
    id: int
    at: Time
    actor_member_id: int | None
    actor_label: str
    channel: Channel
    action: str
    object_type: str
    object_id: int | None
    group_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    summary: str
    ip: str | None


class AuditPage(Page):
    items: list[AuditEventOut]


def event_json(event: AuditEvent) -> AuditEventOut:
    return {"id": event.id or 0, "at": iso(event.at) or "", "actor_member_id": event.actor_member_id,
            "actor_label": event.actor_label, "channel": event.channel, "action": event.action,
            "object_type": event.object_type, "object_id": event.object_id, "group_id": event.group_id,
            "before": event.before, "after": event.after, "summary": event.summary, "ip": event.ip}


# --- endpoints --------------------------------------------------------------------------------------------


@routes.get("/audit", "The audit log, newest first: who changed what, when, through which channel.",
            query=AuditQuery, ok=AuditPage)
async def list_audit(request: web.Request, query: AuditQuery) -> web.Response:
    services = services_of(request.app)
    filters = query.filters()
    async with services.db.reader() as session:
        found, total = await audit.events(
            session, None, actor=filters.actor, object_type=filters.object_type, object_id=filters.object_id,
            since=filters.since, until=filters.until, page=query.page, per_page=query.per_page)
    return web.json_response(paged([event_json(event) for event in found], total, query))


@routes.get("/audit.xlsx", "The audit log as an Excel workbook (times in local time).", query=AuditFilters,
            ok=bytes, media_type=XLSX)
async def export_audit(request: web.Request, query: AuditFilters) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        body = await audit_workbook(session, None, query.filters(), zone=services.zone, texts=services.texts)
    return web.Response(body=body, content_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="audit.xlsx"'})
