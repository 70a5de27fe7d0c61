"""``/api/v1/activities``, ``/api/v1/attendance`` and ``/api/v1/leave``: the office's side of activities.

    POST  /activities                                  create (201)
    GET   /activities?from=&to=&status=&type=&group_id=&page=&per_page=
    GET   /activities/{id}                             with the tally and the venue screen's link
    PATCH /activities/{id}                             any subset of the create fields (scheduled only)
    POST  /activities/{id}/cancel
    POST  /activities/{id}/close                       close the sign-in now (idempotent)
    GET   /activities/{id}/screen-link                 {url, expires_at}
    GET   /activities/{id}/attendance                  one row per member, the tally, per-group counts
    PUT   /activities/{id}/attendance/{member_id}      {status, reason}: a correction, kept in history
    GET   /activities/{id}/attendance/{member_id}/history
    GET   /attendance?year=Y&group_id=&member_id=      a year per member and per group
    GET   /leave?status=&activity_id=&member_id=&page=&per_page=
    POST  /leave/{id}/approve                          {note?}
    POST  /leave/{id}/deny                             {note}

The API acts as the office: the core functions of :mod:`bot.domain.activities` run with ``by=None``. Times in
and out are ISO 8601 with an offset; a time without one is refused rather than guessed.

Errors: a body or query that is not valid, and a rule of :mod:`bot.domain.activities` that refuses the input, are
**400** ``{"error": "invalid", "message", "fields": [{"field", "message"}]}``, the message from the
catalogue (Chinese, ready to show). A state that does not allow the action is **409**: ``not_scheduled``
(changing a closed or cancelled activity), ``not_open`` (closing before the window opened), ``unchanged``
(a correction to the status it already has), ``already_decided`` (a leave request decided before),
``screen_expired`` (a screen link asked for a day after the sign-in closed).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.common import (
    ApiError,
    admin_endpoint,
    not_found,
    path_id,
)
from bot.api.forms import MAX_PER_PAGE, AudienceBody, Aware, Strict, arm, bad, body_of, iso, query_of, ref
from bot.domain import activities as ops
from bot.domain import attendance as report
from bot.domain.activities import ActivityDraft, ActivityError
from bot.domain.links import TOKEN_GRACE, screen_url
from bot.domain.notices import outbox_for
from bot.domain.tasks import cancel_task
from bot.infra.services import Services, services_of
from models.activity import (
    Activity,
    ActivityStatus,
    ActivityType,
    Attendance,
    AttendanceCorrection,
    AttendanceStatus,
    Audience,
    LeaveRequest,
    LeaveStatus,
)
from models.member import Committee, LiaisonGroup, Member, Sector

log = logging.getLogger(__name__)

WINDOW_MAX = 24 * 60  # minutes, as the configured defaults (bot.infra.config.ActivitySettings)
DESCRIPTION_MAX = 5000

# Which request field a refusal of bot.domain.activities is about, so a form can put the message beside it.
FIELD_OF = {
    "activity.error.title": "title",
    "activity.error.venue": "venue",
    "activity.error.ends_before_start": "ends_at",
    "activity.error.geofence_incomplete": "geofence",
    "activity.error.geofence_range": "geofence",
    "activity.error.radius": "geofence.radius_m",
    "activity.error.location_needs_geofence": "require_location",
    "activity.error.audience_empty": "audience.ids",
    "activity.error.unknown_members": "audience.ids",
    "activity.error.late_after_close": "late_after_minutes",
    "attendance.error.reason": "reason",
    "leave.error.deny_reason": "note",
}
# Refusals that are about the state of the thing, not the input: 409 with these error codes.
CONFLICTS = {
    "activity.error.not_scheduled": "not_scheduled",
    "attendance.error.unchanged": "unchanged",
    "leave.error.decided": "already_decided",
}


# --- bodies and queries ---------------------------------------------------------------------------------


class GeofenceBody(Strict):
    latitude: float
    longitude: float
    radius_m: int


class ActivityFields(Strict):
    """Every field of an activity, all optional: the PATCH body (``null`` resets the optional ones:
    ``ends_at``, ``geofence``, ``group_id`` and the window minutes go back to their defaults)."""

    # Fields a stored activity always has: null would mean nothing, so it is refused.
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"type", "title", "starts_at", "venue", "description",
                                                    "require_location", "audience"})

    type: ActivityType | None = None
    title: str | None = None
    starts_at: Aware | None = None
    ends_at: Aware | None = None
    venue: str | None = None
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)
    geofence: GeofenceBody | None = None
    require_location: bool | None = None
    audience: AudienceBody | None = None
    group_id: int | None = Field(None, ge=1)
    opens_minutes_before: int | None = Field(None, ge=0, le=WINDOW_MAX)
    closes_minutes_after: int | None = Field(None, ge=0, le=WINDOW_MAX)
    late_after_minutes: int | None = Field(None, ge=0, le=WINDOW_MAX)

    @model_validator(mode="after")
    def _no_null_where_a_value_is_needed(self) -> ActivityFields:
        nulls = sorted(name for name in self.model_fields_set & self.NOT_NULL if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"may not be null: {', '.join(nulls)}")
        return self


class PatchBody(ActivityFields):
    @model_validator(mode="after")
    def _something(self) -> PatchBody:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class CreateBody(ActivityFields):
    type: ActivityType
    title: str
    starts_at: Aware
    notify: bool = Field(True, description="push the meeting notice (and arm reminders and the last call)")
    notice_at: Aware | None = Field(None, description="when to push the notice; default: now")


class ListQuery(Strict):
    starts_from: Aware | None = Field(None, alias="from", description="starts at or after")
    starts_to: Aware | None = Field(None, alias="to", description="starts before")
    status: ActivityStatus | None = None
    type: ActivityType | None = None
    group_id: int | None = Field(None, ge=1, description="the organising liaison group")
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class CorrectionBody(Strict):
    status: AttendanceStatus
    reason: str


class YearQuery(Strict):
    year: int = Field(ge=2000, le=2100)
    group_id: int | None = Field(None, ge=1)
    member_id: int | None = Field(None, ge=1)


class LeaveQuery(Strict):
    status: LeaveStatus | None = None
    activity_id: int | None = Field(None, ge=1)
    member_id: int | None = Field(None, ge=1)
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class DecisionBody(Strict):
    note: str = ""


def _refused(error: ActivityError, services: Services) -> ApiError:
    """A refusal of bot.domain.activities, in the words of the catalogue."""
    message = services.texts(error.key, **error.values)
    if error.key in CONFLICTS:
        return ApiError(409, CONFLICTS[error.key], message)
    return bad(FIELD_OF.get(error.key, "body"), message)


# --- activities -------------------------------------------------------------------------------------------


@admin_endpoint
async def create_activity(request: web.Request) -> web.Response:
    body = await body_of(request, CreateBody)
    services = services_of(request.app)
    draft = ActivityDraft(type=body.type, title=body.title, starts_at=body.starts_at)
    _apply_fields(draft, body, body.model_fields_set)
    async with services.db.session() as session:
        await _check_references(session, draft)
        try:
            activity = await ops.create_activity(session, draft, settings=services.settings.activities, by=None,
                                                 now=services.clock.now(), outbox=await outbox_for(services, session),
                                                 notice_at=body.notice_at, notify=body.notify)
        except ActivityError as exc:
            raise _refused(exc, services) from None
        answer = await _detail(session, activity)
    await arm(services)
    return web.json_response(await _with_screen(services, activity, answer), status=201)


@admin_endpoint
async def list_activities(request: web.Request) -> web.Response:
    query = query_of(request.query, ListQuery)
    async with services_of(request.app).db.reader() as session:
        total = await session.scalar(_filtered(select(func.count()).select_from(Activity), query))
        rows = (await session.scalars(
            _filtered(select(Activity), query).order_by(Activity.starts_at, Activity.id)
            .offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
        groups = (await report.names(session))["group"]
        tallies = await _tallies(session, list(rows))
        items = [{**activity_json(a, groups), "tally": tally_json(tallies[a.id or 0])} for a in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


@admin_endpoint
async def get_activity(request: web.Request) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        activity = await _activity(session, request)
        answer = await _detail(session, activity)
    return web.json_response(await _with_screen(services, activity, answer))


@admin_endpoint
async def patch_activity(request: web.Request) -> web.Response:
    body = await body_of(request, PatchBody)
    services = services_of(request.app)
    async with services.db.session() as session:
        activity = await _activity(session, request)
        draft = ops.draft_of(activity)
        if "starts_at" in body.model_fields_set and "ends_at" not in body.model_fields_set and body.starts_at:
            # Moving the start moves the end with it: the duration stays, rather than an end before the start.
            draft.ends_at = activity.ends_at + (body.starts_at - activity.starts_at)
        _apply_fields(draft, body, body.model_fields_set)
        await _check_references(session, draft)
        try:
            await ops.reschedule_activity(session, activity, draft, settings=services.settings.activities,
                                          by=None, now=services.clock.now(),
                                          outbox=await outbox_for(services, session))
        except ActivityError as exc:
            raise _refused(exc, services) from None
        answer = await _detail(session, activity)
    await arm(services)
    return web.json_response(await _with_screen(services, activity, answer))


@admin_endpoint
async def cancel_activity(request: web.Request) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        activity = await _activity(session, request)
        try:
            await ops.cancel_activity(session, activity, now=services.clock.now(),
                                      outbox=await outbox_for(services, session))
        except ActivityError as exc:
            raise _refused(exc, services) from None
        answer = await _detail(session, activity)
    await arm(services)  # drops the armed close job
    return web.json_response(await _with_screen(services, activity, answer))


@admin_endpoint
async def close_activity(request: web.Request) -> web.Response:
    """Close the sign-in now, for an office that wants the sheet before the scheduled moment."""

    services = services_of(request.app)
    now = services.clock.now()
    async with services.db.session() as session:
        activity = await _activity(session, request)
        if activity.status is ActivityStatus.CANCELLED:
            raise ApiError(409, "not_scheduled", services.texts("activity.error.not_scheduled"))
        if activity.status is ActivityStatus.SCHEDULED and now < activity.signin_opens_at:
            # Closing before anybody could sign in would mark the whole audience absent.
            raise ApiError(409, "not_open", f"sign-in opens at {iso(activity.signin_opens_at)}; "
                           "an activity can be closed once its sign-in window has opened")
        closed_now = await ops.close_attendance(session, activity, now=now)
        if closed_now:  # the scheduled close has nothing left to do
            await cancel_task(session, kind=ops.CLOSE_TASK, ref=str(activity.id))
        answer = await _detail(session, activity)
    if closed_now:
        await arm(services)
    return web.json_response({**await _with_screen(services, activity, answer), "closed_now": closed_now})


@admin_endpoint
async def screen_link(request: web.Request) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        activity = await _activity(session, request)
    link = await _screen_link(services, activity)
    if link is None:
        raise ApiError(409, "screen_expired", "the sign-in closed more than a day ago: the venue screen has "
                       "nothing left to show")
    return web.json_response(link)


# --- attendance -------------------------------------------------------------------------------------------


@admin_endpoint
async def get_attendance(request: web.Request) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        activity = await _activity(session, request)
        rows = await report.activity_sheet(session, activity)
        tally = await ops.tally(session, activity)
        groups = (await report.names(session))["group"]
    _, per_group = report.count_rows(rows)
    open_ = activity.status is ActivityStatus.SCHEDULED
    return web.json_response({
        "activity": {"id": activity.id, "title": activity.title, "status": activity.status.value,
                     "starts_at": iso(activity.starts_at), "signin_closes_at": iso(activity.signin_closes_at)},
        "tally": tally_json(tally),
        "groups": [{"group": ref(group, groups), **counts.as_json(with_pending=open_)}
                   for group, counts in per_group.items()],
        "items": [_sheet_row_json(row, groups) for row in rows],
    })


@admin_endpoint
async def correct_attendance(request: web.Request) -> web.Response:
    body = await body_of(request, CorrectionBody)
    services = services_of(request.app)
    async with services.db.session() as session:
        activity = await _activity(session, request)
        member = await _member(session, request)
        try:
            await ops.correct_attendance(session, activity, member, status=body.status, reason=body.reason,
                                         by=None, now=services.clock.now())
        except ActivityError as exc:
            raise _refused(exc, services) from None
        answer = await _history(session, activity, member)
    return web.json_response(answer)


@admin_endpoint
async def attendance_history(request: web.Request) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        activity = await _activity(session, request)
        member = await _member(session, request)
        return web.json_response(await _history(session, activity, member))


@admin_endpoint
async def year_attendance(request: web.Request) -> web.Response:
    query = query_of(request.query, YearQuery)
    services = services_of(request.app)
    settings = services.settings
    bounds = report.year_bounds(query.year, ZoneInfo(settings.scheduler.timezone))
    async with services.db.reader() as session:
        members = await report.year_by_member(session, bounds, group_id=query.group_id, member_id=query.member_id)
        groups = await report.year_by_group(session, bounds, group_id=query.group_id, member_id=query.member_id)
        activities = await report.year_by_activity(session, bounds, group_id=query.group_id)
        names = await report.names(session)
    total = report.Counts()
    for group in groups:
        total.merge(group.counts)
    return web.json_response({
        "year": query.year,
        "timezone": settings.scheduler.timezone,
        "activities": len(activities),
        "totals": total.as_json(),
        "members": [{
            "member": {"id": m.member_id, "name": m.name},
            "group": ref(m.group_id, names["group"]),
            **m.counts.as_json(),
            "by_type": {type_.value: counts.as_json() for type_, counts in sorted(m.by_type.items())},
        } for m in members],
        "groups": [{"group": ref(g.group_id, names["group"]), "members": g.members, **g.counts.as_json()}
                   for g in groups],
    })


# --- leave ------------------------------------------------------------------------------------------------


@admin_endpoint
async def list_leave(request: web.Request) -> web.Response:
    query = query_of(request.query, LeaveQuery)
    filters = [column == value for column, value in (
        (LeaveRequest.status, query.status), (LeaveRequest.activity_id, query.activity_id),
        (LeaveRequest.member_id, query.member_id)) if value is not None]
    async with services_of(request.app).db.reader() as session:
        total = await session.scalar(select(func.count()).select_from(LeaveRequest).where(*filters))
        rows = (await session.execute(
            _leave_select().where(*filters).order_by(LeaveRequest.id)
            .offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
        groups = (await report.names(session))["group"]
    items = [leave_json(leave, activity, member, groups) for leave, activity, member in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


@admin_endpoint
async def approve_leave(request: web.Request) -> web.Response:
    return await _decide(request, approve=True)


@admin_endpoint
async def deny_leave(request: web.Request) -> web.Response:
    return await _decide(request, approve=False)


async def _decide(request: web.Request, *, approve: bool) -> web.Response:
    leave_id = path_id(request, "leave_id")
    body = await body_of(request, DecisionBody)
    services = services_of(request.app)
    async with services.db.session() as session:
        leave = await session.get(LeaveRequest, leave_id)
        if leave is None:
            raise not_found("leave request")
        try:
            await ops.decide_leave(session, leave, approve=approve, by=None, note=body.note,
                                   now=services.clock.now(), texts=services.texts)
        except ActivityError as exc:
            raise _refused(exc, services) from None
        leave, activity, member = (await session.execute(
            _leave_select().where(LeaveRequest.id == leave_id))).one()
        groups = (await report.names(session))["group"]
    services.wake_delivery()  # the member is told; after the commit, so the worker finds the row
    return web.json_response(leave_json(leave, activity, member, groups))


# --- helpers ----------------------------------------------------------------------------------------------


async def _activity(session: AsyncSession, request: web.Request) -> Activity:
    activity = await session.get(Activity, path_id(request, "activity_id"))
    if activity is None:
        raise not_found("activity")
    return activity


async def _member(session: AsyncSession, request: web.Request) -> Member:
    member = await session.get(Member, path_id(request, "member_id"))
    if member is None:
        raise not_found("member")
    return member


def _apply_fields(draft: ActivityDraft, body: ActivityFields, given: set[str]) -> None:
    """Copy the fields the request gave onto the draft (the rest keep the draft's values)."""
    for name in ("type", "title", "starts_at", "ends_at", "venue", "description", "require_location",
                 "group_id", "opens_minutes_before", "closes_minutes_after", "late_after_minutes"):
        if name in given:
            setattr(draft, name, getattr(body, name))
    if "geofence" in given:
        fence = body.geofence
        draft.latitude, draft.longitude, draft.radius_m = (
            (fence.latitude, fence.longitude, fence.radius_m) if fence else (None, None, None))
    if "audience" in given and body.audience is not None:
        draft.audience = body.audience.kind
        # "all" takes nobody's ids: stored empty, so a later change of kind starts clean.
        draft.audience_ids = [] if body.audience.kind is Audience.ALL else list(body.audience.ids)


async def _check_references(session: AsyncSession, draft: ActivityDraft) -> None:
    """Ids that must exist: the organising group and the audience's groups, sectors or committees
    (member ids are checked by bot.domain.activities, with its own message)."""
    if draft.group_id is not None and await session.get(LiaisonGroup, draft.group_id) is None:
        raise bad("group_id", f"unknown liaison group {draft.group_id}")
    table = {Audience.GROUPS: LiaisonGroup, Audience.SECTORS: Sector, Audience.COMMITTEES: Committee}.get(
        draft.audience)
    if table is None or not draft.audience_ids:
        return
    known = set((await session.scalars(
        select(table.id).where(table.id.in_(draft.audience_ids))  # type: ignore[attr-defined]
    )).all())
    unknown = sorted(set(draft.audience_ids) - known)
    if unknown:
        raise bad("audience.ids", f"unknown {draft.audience.value}: {unknown}")


def _filtered(statement: Any, query: ListQuery) -> Any:
    if query.starts_from is not None:
        statement = statement.where(Activity.starts_at >= query.starts_from)
    if query.starts_to is not None:
        statement = statement.where(Activity.starts_at < query.starts_to)
    if query.status is not None:
        statement = statement.where(Activity.status == query.status)
    if query.type is not None:
        statement = statement.where(Activity.type == query.type)
    if query.group_id is not None:
        statement = statement.where(Activity.group_id == query.group_id)
    return statement


async def _tallies(session: AsyncSession, activities: list[Activity]) -> dict[int, ops.Tally]:
    """Tallies of a page of activities: one grouped count for all, plus the audience size of the
    scheduled ones (a closed activity's rows are its audience)."""
    ids = [a.id for a in activities if a.id is not None]
    counts: dict[int, dict[str, int]] = {}
    if ids:
        for activity_id, status, count in (await session.execute(
            select(Attendance.activity_id, Attendance.status, func.count())
            .where(Attendance.activity_id.in_(ids))  # type: ignore[attr-defined]
            .group_by(Attendance.activity_id, Attendance.status)
        )).all():
            counts.setdefault(activity_id, {})[AttendanceStatus(status).value] = count
    found: dict[int, ops.Tally] = {}
    for activity in activities:
        by_status = counts.get(activity.id or 0, {})
        expected = (await ops.audience_size(session, activity) if activity.status is ActivityStatus.SCHEDULED
                    else sum(by_status.values()))
        found[activity.id or 0] = ops.Tally(expected, *(by_status.get(s, 0) for s in report.STATUSES))
    return found


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def activity_json(activity: Activity, groups: dict[int, str]) -> dict[str, Any]:
    fence = ({"latitude": activity.latitude, "longitude": activity.longitude, "radius_m": activity.radius_m}
             if activity.has_geofence else None)
    return {
        "id": activity.id,
        "type": activity.type.value,
        "title": activity.title,
        "status": activity.status.value,
        "starts_at": iso(activity.starts_at),
        "ends_at": iso(activity.ends_at),
        "venue": activity.venue,
        "description": activity.description,
        "geofence": fence,
        "require_location": activity.require_location,
        "audience": {"kind": activity.audience.value, "ids": list(activity.audience_ids or [])},
        "group": ref(activity.group_id, groups),
        "signin_opens_at": iso(activity.signin_opens_at),
        "signin_closes_at": iso(activity.signin_closes_at),
        "late_after": iso(activity.late_after),
        "opens_minutes_before": _minutes(activity.starts_at - activity.signin_opens_at),
        "closes_minutes_after": _minutes(activity.signin_closes_at - activity.starts_at),
        "late_after_minutes": _minutes(activity.late_after - activity.starts_at),
        "created_at": iso(activity.created_at),
        "updated_at": iso(activity.updated_at),
        "closed_at": iso(activity.closed_at),
    }


def tally_json(tally: ops.Tally) -> dict[str, Any]:
    return {"expected": tally.expected, "present": tally.present, "late": tally.late, "leave": tally.leave,
            "absent": tally.absent, "attended": tally.attended, "rate": round(tally.rate, 4)}


async def _detail(session: AsyncSession, activity: Activity) -> dict[str, Any]:
    groups = (await report.names(session))["group"]
    return {**activity_json(activity, groups), "tally": tally_json(await ops.tally(session, activity))}


async def _screen_link(services: Services, activity: Activity) -> dict[str, Any] | None:
    """The venue screen's signed link, or None once it would be dead on arrival (a day after the sign-in
    closed). Called outside any session: signing may load the key in a write session of its own."""
    expires_at = activity.signin_closes_at + TOKEN_GRACE
    if expires_at <= services.clock.now():
        return None
    return {"url": await screen_url(services, activity), "expires_at": iso(expires_at)}


async def _with_screen(services: Services, activity: Activity, answer: dict[str, Any]) -> dict[str, Any]:
    link = await _screen_link(services, activity)
    return {**answer, "screen_url": link["url"] if link else None}


def _sheet_row_json(row: report.SheetRow, groups: dict[int, str]) -> dict[str, Any]:
    leave = row.leave
    return {
        "member": {"id": row.member_id, "name": row.name},
        "group": ref(row.group_id, groups),
        "status": row.status,
        "method": row.method,
        "signed_in_at": iso(row.signed_in_at),
        "leave_id": leave.id if leave is not None else None,
        "leave": None if leave is None else {"id": leave.id, "kind": leave.kind.value, "status": leave.status.value},
        "corrected": bool(row.corrections),
    }


async def _history(session: AsyncSession, activity: Activity, member: Member) -> dict[str, Any]:
    row = await ops.attendance_of(session, activity.id or 0, member.id or 0)
    corrections = [] if row is None else (await session.scalars(
        select(AttendanceCorrection).where(AttendanceCorrection.attendance_id == row.id)
        .order_by(AttendanceCorrection.at, AttendanceCorrection.id)
    )).all()
    groups = (await report.names(session))["group"]
    return {
        "activity_id": activity.id,
        "member": {"id": member.id, "name": member.name},
        "attendance": None if row is None else {
            "status": row.status.value, "method": row.method.value, "signed_in_at": iso(row.signed_in_at),
            "group": ref(row.group_id, groups), "leave_id": row.leave_id, "updated_at": iso(row.updated_at),
        },
        "corrections": [{"from": c.from_status, "to": c.to_status, "reason": c.reason,
                         "by": c.by_name or None, "by_id": c.by_id, "at": iso(c.at)} for c in corrections],
    }


def _leave_select() -> Any:
    return (select(LeaveRequest, Activity, Member)
            .join(Activity, Activity.id == LeaveRequest.activity_id)
            .join(Member, Member.id == LeaveRequest.member_id))


def leave_json(leave: LeaveRequest, activity: Activity, member: Member, groups: dict[int, str]) -> dict[str, Any]:
    return {
        "id": leave.id,
        "activity": {"id": activity.id, "title": activity.title, "type": activity.type.value,
                     "starts_at": iso(activity.starts_at)},
        "member": {"id": member.id, "name": member.name},
        "group": ref(member.group_id, groups),
        "kind": leave.kind.value,
        "reason": leave.reason,
        "status": leave.status.value,
        "decided_by": leave.decided_by_name or None,
        "decided_by_id": leave.decided_by_id,
        "decision_note": leave.decision_note,
        "created_at": iso(leave.created_at),
        "decided_at": iso(leave.decided_at),
    }
