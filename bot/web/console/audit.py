"""操作日志: the audit log a secretary may read, filtered, paged and exported, within their scope.

    GET /console/audit?actor=&object_type=&object_id=&since=&until=&page=
        the filters read (dates are local days, ``until`` included) ─► bot.domain.audit.events(reach, own=…)
        ─► one page, newest first, with the choices of person and object type the viewer's log holds
    GET /console/audit.xlsx?… the same filters ─► bot.exports.audit.audit_workbook ─► a download

Reach is ``groups_within_reach(viewer, VIEW_AUDIT)``: a secretary of some groups sees those groups' events and their
own acts (their logins and logouts belong to no group); an unlimited secretary or an admin sees everything. A
filter value that cannot be read (a date that is no date) is left out and the page says so.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.domain import audit
from bot.domain.authz import Action, groups_within_reach
from bot.exports.audit import action_name, audit_workbook, object_name
from bot.exports.sheets import XLSX
from bot.infra.i18n import Catalogue
from bot.web.console.auth import Visit, console_page, forbidden, frame, local_time, query_link
from bot.web.pages import PRIVATE_HEADERS

PER_PAGE = 50
FILTER_FIELDS = ("actor", "object_type", "object_id", "since", "until")


@dataclass(frozen=True, slots=True)
class Asked:
    """The filters as the form sent them, what they mean for the log, and which could not be read."""

    filters: audit.Filters
    unreadable: list[str] = field(default_factory=list)


def _number(value: str) -> int | None:
    return int(value) if value.isdigit() and int(value) > 0 else None


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def read_filters(query: Mapping[str, str], zone: ZoneInfo) -> Asked:
    """The log's filters from the query string: ``since`` from the start of that local day, ``until`` to the end
    of its day (a person means the day included)."""
    raw = {name: query.get(name, "").strip() for name in FILTER_FIELDS}
    unreadable: list[str] = []

    def parsed(name: str, parse):  # type: ignore[no-untyped-def]
        if not raw[name]:
            return None
        value = parse(raw[name])
        if value is None:
            unreadable.append(name)
        return value

    actor, object_id = parsed("actor", _number), parsed("object_id", _number)
    since, until = parsed("since", _day), parsed("until", _day)
    return Asked(audit.Filters(
        actor=actor, object_type=raw["object_type"][:40] or None, object_id=object_id,
        since=_start_of(since, zone) if since else None,
        until=_start_of(until + timedelta(days=1), zone) if until else None,
    ), unreadable)


def _named(fields: list[str], texts: Catalogue) -> str:
    return texts("console_audit.separator").join(texts(f"console_audit.filter.{name}") for name in fields)


# A page of the log: given the viewer's reach and, when it is limited, their own id (their acts are theirs to see).
Reading = Callable[[web.Request, Visit, frozenset[int] | None, int | None], Awaitable[web.Response]]


def _reading_the_log(page: Reading) -> Callable[[web.Request, Visit], Awaitable[web.Response]]:
    @wraps(page)
    async def checked(request: web.Request, visit: Visit) -> web.Response:
        reach = groups_within_reach(visit.member, Action.VIEW_AUDIT)
        if reach == frozenset():  # below VIEW_AUDIT's role (today the console's own minimum, but a rule of its own)
            return forbidden(visit.services, "console_audit.forbidden")
        return await page(request, visit, reach, visit.member.id if reach is not None else None)

    return checked


@console_page()
@_reading_the_log
async def audit_page(request: web.Request, visit: Visit, reach: frozenset[int] | None, own: int | None
                     ) -> web.Response:
    services = visit.services
    asked = read_filters(request.query, services.zone)
    page = max(_number(request.query.get("page", "")) or 1, 1)
    filters = asked.filters
    async with services.db.reader() as session:
        rows, total = await audit.events(
            session, reach, actor=filters.actor, object_type=filters.object_type, object_id=filters.object_id,
            since=filters.since, until=filters.until, page=page, per_page=PER_PAGE, own=own)
        people = await audit.actors(session, reach, own=own)
        kinds = await audit.object_types(session, reach, own=own)
    texts = services.texts
    return frame(request, visit, "console/audit.html", title_key="console_audit.page_title", current="audit",
                 rows=rows, total=total, page=page, pages=max(math.ceil(total / PER_PAGE), 1), people=people,
                 kinds=kinds, query=request.query, unreadable=_named(asked.unreadable, texts),
                 local=local_time(visit, seconds=True),
                 action_name=lambda action: action_name(action, texts),
                 object_name=lambda kind: object_name(kind, texts),
                 link=lambda to: query_link("/console/audit", request.query, FILTER_FIELDS, page=to),
                 export=query_link("/console/audit.xlsx", request.query, FILTER_FIELDS))


@console_page()
@_reading_the_log
async def audit_export(request: web.Request, visit: Visit, reach: frozenset[int] | None, own: int | None
                       ) -> web.Response:
    services = visit.services
    filters = read_filters(request.query, services.zone).filters
    async with services.db.reader() as session:
        body = await audit_workbook(session, reach, filters, zone=services.zone, texts=services.texts, own=own)
    return web.Response(body=body, content_type=XLSX, headers={
        **PRIVATE_HEADERS, "Content-Disposition": 'attachment; filename="audit.xlsx"'})
