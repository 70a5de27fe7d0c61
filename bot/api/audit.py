"""``/api/v1/audit``: the audit log, read and exported.

    GET /api/v1/audit?actor=&object_type=&object_id=&since=&until=&page=&per_page=   newest first
    GET /api/v1/audit.xlsx?actor=&object_type=&object_id=&since=&until=              the same events as a workbook

The superuser token sees every event; a personal token its secretary's, as at the console: the events of the
groups within their VIEW_AUDIT reach and their own acts. ``since`` is inclusive, ``until`` exclusive, both with
their offset.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from typing_extensions import TypedDict

from bot.api.answers import Page, Time, iso, paged
from bot.api.common import Aware, PageQuery, Strict
from bot.api.registry import Routes
from bot.api.scope import caller, reach_of
from bot.domain import audit
from bot.domain.authz import Action
from bot.exports.audit import audit_workbook
from bot.exports.sheets import XLSX
from bot.infra.services import services_of
from models.audit import AuditEvent, Channel

routes = Routes("audit")


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


def _viewer(request: web.Request) -> tuple[frozenset[int] | None, int | None]:
    """The caller's reach in the log and, when it is limited, their id (their own acts are theirs to see)."""
    reach, member = reach_of(request, Action.VIEW_AUDIT), caller(request)
    return reach, (member.id if member is not None and reach is not None else None)


@routes.get("/audit", "The audit log, newest first: who changed what, when, through which channel.",
            query=AuditQuery, ok=AuditPage, personal=True)
async def list_audit(request: web.Request, query: AuditQuery) -> web.Response:
    services = services_of(request.app)
    filters, (reach, own) = query.filters(), _viewer(request)
    async with services.db.reader() as session:
        found, total = await audit.events(
            session, reach, actor=filters.actor, object_type=filters.object_type, object_id=filters.object_id,
            since=filters.since, until=filters.until, page=query.page, per_page=query.per_page, own=own)
    return web.json_response(paged([event_json(event) for event in found], total, query))


@routes.get("/audit.xlsx", "The audit log as an Excel workbook (times in local time).", query=AuditFilters,
            ok=bytes, media_type=XLSX, personal=True)
async def export_audit(request: web.Request, query: AuditFilters) -> web.Response:
    services = services_of(request.app)
    reach, own = _viewer(request)
    async with services.db.reader() as session:
        body = await audit_workbook(session, reach, query.filters(), zone=services.zone, texts=services.texts,
                                    own=own)
    return web.Response(body=body, content_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="audit.xlsx"'})
