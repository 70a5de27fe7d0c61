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
and out are ISO 8601 with an offset; a time without one is refused rather than guessed. Leave takes a personal
token too: it lists the requests of its secretary's groups (APPROVE_LEAVE) and decides as them (the domain's
may_decide_leave: 403 otherwise); the other endpoints take the superuser token only.

Errors (:mod:`bot.api.common`): a body or query that is not valid, and a rule of :mod:`bot.domain.activities`
that refuses the input, are **422** ``invalid`` with the catalogue's message and the field. A state that does
not allow the action is **409**: ``not_scheduled`` (changing a closed or cancelled activity), ``not_open``
(closing before the window opened), ``unchanged`` (a correction to the status it already has),
``already_decided`` (a leave request decided before), ``screen_expired`` (a screen link asked for a day after
the sign-in closed).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, NotRequired

from aiohttp import web
from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.api.answers import Decided, Page, Ref, Time, decided_json, iso, paged, ref
from bot.api.common import ApiError, Aware, PageQuery, Strict, fetch_page, found, invalid_field
from bot.api.forms import AudienceBody, AudienceOut, arm, audience_json, audience_of, check_audience
from bot.api.registry import Routes
from bot.api.scope import caller, reach_of, within
from bot.domain import activities as ops
from bot.domain import attendance as report
from bot.domain.authz import Action
from bot.domain.links import TOKEN_GRACE, screen_url
from bot.domain.notices import outbox_for
from bot.domain.refusals import Refusal
from bot.domain.tasks import cancel_task
from bot.infra.services import Services, services_of
from models import activity as a
from models.member import LiaisonGroup, Member

log = logging.getLogger(__name__)
routes = Routes("activities")

WINDOW_MAX = 24 * 60  # minutes, as the configured defaults (bot.infra.config.ActivitySettings)
DESCRIPTION_MAX = 5000
NO_ACTIVITY = {404: "No activity with this id."}
NOT_SCHEDULED = {409: "not_scheduled: the activity is closed or cancelled."}


# --- bodies and queries ---------------------------------------------------------------------------------


class GeofenceBody(Strict):
    latitude: float
    longitude: float
    radius_m: int = Field(description="10 to 50000 metres")


class ActivityFields(Strict):
    """Every field of an activity, all optional: the PATCH body (``null`` resets the optional ones:
    ``ends_at``, ``geofence``, ``group_id`` and the window minutes go back to their defaults)."""

    # Fields a stored activity always has: null would mean nothing, so it is refused.
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"type", "title", "starts_at", "venue", "description",
                                                    "require_location", "audience"})

    type: a.ActivityType | None = None
    title: str | None = Field(None, description=f"at most {ops.TITLE_MAX} characters")
    starts_at: Aware | None = None
    ends_at: Aware | None = Field(None, description="default: the start + the configured duration")
    venue: str | None = Field(None, description=f"at most {ops.VENUE_MAX} characters")
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)
    geofence: GeofenceBody | None = None
    require_location: bool | None = Field(None, description="a code alone is not enough: the member must be "
                                                            "inside the geofence")
    audience: AudienceBody | None = None
    group_id: int | None = Field(None, ge=1, description="the organising liaison group; null: the office")
    opens_minutes_before: int | None = Field(None, ge=0, le=WINDOW_MAX)
    closes_minutes_after: int | None = Field(None, ge=0, le=WINDOW_MAX)
    late_after_minutes: int | None = Field(None, ge=0, le=WINDOW_MAX)

    @model_validator(mode="after")
    def _no_null_where_a_value_is_needed(self) -> ActivityFields:
        nulls = sorted(name for name in self.model_fields_set & self.NOT_NULL if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"may not be null: {', '.join(nulls)}")
        return self


class ActivityPatch(ActivityFields):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _something(self) -> ActivityPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class ActivityCreate(ActivityFields):
    type: a.ActivityType
    title: str = Field(description=f"at most {ops.TITLE_MAX} characters")
    starts_at: Aware
    notify: bool = Field(True, description="push the meeting notice (and arm reminders and the last call)")
    notice_at: Aware | None = Field(None, description="when to push the notice; default: now")


class ActivityQuery(PageQuery):
    starts_from: Aware | None = Field(None, alias="from", description="starts at or after")
    starts_to: Aware | None = Field(None, alias="to", description="starts before")
    status: a.ActivityStatus | None = None
    type: a.ActivityType | None = None
    group_id: int | None = Field(None, ge=1, description="the organising liaison group")


class Correction(Strict):
    status: a.AttendanceStatus
    reason: str = Field(description=f"{ops.REASON_MIN} to {ops.REASON_MAX} characters, kept in the history")


class YearQuery(Strict):
    year: int = Field(ge=2000, le=2100)
    group_id: int | None = Field(None, ge=1)
    member_id: int | None = Field(None, ge=1)


class LeaveQuery(PageQuery):
    status: a.LeaveStatus | None = None
    activity_id: int | None = Field(None, ge=1)
    member_id: int | None = Field(None, ge=1)


class LeaveDecision(Strict):
    note: str = Field("", description="told to the member; needed (2 to 300 characters) to deny")


# --- answers ----------------------------------------------------------------------------------------------


class Counts(TypedDict):
    expected: int
    present: int
    late: int
    leave: int
    absent: int
    attended: Annotated[int, Field(description="present + late")]
    rate: Annotated[float, Field(description="attended / (expected − leave); 0 when nobody is expected")]


class GeofenceOut(TypedDict):
    latitude: float
    longitude: float
    radius_m: int


class ActivityOut(TypedDict):
    id: int
    type: a.ActivityType
    title: str
    status: a.ActivityStatus
    starts_at: Time
    ends_at: Time
    venue: str
    description: str
    geofence: GeofenceOut | None
    require_location: bool
    audience: AudienceOut
    group: Ref | None
    signin_opens_at: Time
    signin_closes_at: Time
    late_after: Time
    opens_minutes_before: int
    closes_minutes_after: int
    late_after_minutes: int
    created_at: Time
    updated_at: Time
    closed_at: Time | None


class TalliedActivity(ActivityOut):
    tally: Counts


class ActivityPage(Page):
    items: list[TalliedActivity]


class ActivityDetail(TalliedActivity):
    screen_url: Annotated[str | None, Field(description="the venue screen's signed link; null a day after "
                                                        "the sign-in closed")]


class ClosedActivity(ActivityDetail):
    closed_now: Annotated[bool, Field(description="false when it was closed already")]


class ScreenLink(TypedDict):
    url: str
    expires_at: Time


class SheetActivity(TypedDict):
    id: int
    title: str
    status: a.ActivityStatus
    starts_at: Time
    signin_closes_at: Time


class GroupCounts(Counts):
    group: Ref | None
    pending: NotRequired[Annotated[int, Field(description="only while the activity is scheduled")]]


class SheetLeave(TypedDict):
    id: int
    kind: a.LeaveKind
    status: a.LeaveStatus


class SheetRowOut(TypedDict):
    member: Ref
    group: Ref | None
    status: a.AttendanceStatus | Literal["pending"]
    method: a.SignInMethod | None
    signed_in_at: Time | None
    leave_id: int | None
    leave: SheetLeave | None
    corrected: bool


class AttendanceSheet(TypedDict):
    """One row per member (while the activity is scheduled, audience members without a row are pending)."""

    activity: SheetActivity
    tally: Counts
    groups: list[GroupCounts]
    items: list[SheetRowOut]


class AttendanceRecord(TypedDict):
    status: a.AttendanceStatus
    method: a.SignInMethod
    signed_in_at: Time | None
    group: Ref | None
    leave_id: int | None
    updated_at: Time


CorrectionOut = TypedDict("CorrectionOut", {
    "from": Annotated[str, Field(description="an attendance status, or none")], "to": a.AttendanceStatus,
    "reason": str, "by": Annotated[str | None, Field(description="null: the admin API")], "by_id": int | None,
    "at": Time,
})


class AttendanceHistory(TypedDict):
    activity_id: int
    member: Ref
    attendance: AttendanceRecord | None
    corrections: Annotated[list[CorrectionOut], Field(description="oldest first")]


class MemberYear(Counts):
    member: Ref
    group: Ref | None
    by_type: dict[a.ActivityType, Counts]


class GroupYear(Counts):
    group: Ref | None
    members: int


class YearAttendance(TypedDict):
    year: int
    timezone: str
    activities: Annotated[int, Field(description="closed activities counted")]
    totals: Counts
    members: list[MemberYear]
    groups: Annotated[list[GroupYear], Field(description="by the group a member was in at the time")]


class LeaveActivity(TypedDict):
    id: int
    title: str
    type: a.ActivityType
    starts_at: Time


class LeaveOut(Decided):
    id: int
    activity: LeaveActivity
    member: Ref
    group: Ref | None
    kind: a.LeaveKind
    reason: str
    status: a.LeaveStatus
    decision_note: str


class LeavePage(Page):
    items: list[LeaveOut]


# --- activities -------------------------------------------------------------------------------------------


@routes.post("/activities", "Create an activity; its sign-in window and the close task follow.",
             body=ActivityCreate, ok=ActivityDetail, status=201)
async def create_activity(request: web.Request, body: ActivityCreate) -> web.Response:
    services = services_of(request.app)
    draft = ops.ActivityDraft(type=body.type, title=body.title, starts_at=body.starts_at)
    _apply_fields(draft, body, body.model_fields_set)
    async with services.db.session() as session:
        await _check_references(session, draft)
        activity = await ops.create_activity(session, draft, settings=services.settings.activities, by=None,
                                             now=services.clock.now(), outbox=await outbox_for(services, session),
                                             notice_at=body.notice_at, notify=body.notify)
        answer = await _detail(session, activity)
    await arm(services)
    return web.json_response(await _with_screen(services, activity, answer), status=201)


@routes.get("/activities", "List activities by start, filtered and paginated, each with its tally.",
            query=ActivityQuery, ok=ActivityPage)
async def list_activities(request: web.Request, query: ActivityQuery) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        total, rows = await fetch_page(
            session, _filtered(select(a.Activity), query).order_by(a.Activity.starts_at, a.Activity.id), query)
        groups = (await report.names(session))["group"]
        tallies = await _tallies(session, rows)
        items = [{**activity_json(row, groups), "tally": tally_json(tallies[row.id or 0])} for row in rows]
    return web.json_response(paged(items, total, query))


@routes.get("/activities/{activity_id}", "One activity with its tally and the venue screen's signed link.",
            ok=ActivityDetail, errors=NO_ACTIVITY)
async def get_activity(request: web.Request, activity_id: int) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        activity = await _activity(session, activity_id)
        answer = await _detail(session, activity)
    return web.json_response(await _with_screen(services, activity, answer))


@routes.patch("/activities/{activity_id}", "Change any of the create fields of a scheduled activity.",
              description="The window and the close task move with it. Moving starts_at without ends_at keeps the "
                          "duration; null resets ends_at, geofence, group_id and the window minutes.",
              body=ActivityPatch, ok=ActivityDetail, errors={**NO_ACTIVITY, **NOT_SCHEDULED})
async def patch_activity(request: web.Request, activity_id: int, body: ActivityPatch) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        activity = await _activity(session, activity_id)
        draft = ops.draft_of(activity)
        if "starts_at" in body.model_fields_set and "ends_at" not in body.model_fields_set and body.starts_at:
            # Moving the start moves the end with it: the duration stays, rather than an end before the start.
            draft.ends_at = activity.ends_at + (body.starts_at - activity.starts_at)
        _apply_fields(draft, body, body.model_fields_set)
        await _check_references(session, draft)
        await ops.reschedule_activity(session, activity, draft, settings=services.settings.activities,
                                      by=None, now=services.clock.now(), outbox=await outbox_for(services, session))
        answer = await _detail(session, activity)
    await arm(services)
    return web.json_response(await _with_screen(services, activity, answer))


@routes.post("/activities/{activity_id}/cancel", "Cancel a scheduled activity (its close task is cancelled too).",
             ok=ActivityDetail, errors={**NO_ACTIVITY, **NOT_SCHEDULED})
async def cancel_activity(request: web.Request, activity_id: int) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        activity = await _activity(session, activity_id)
        await ops.cancel_activity(session, activity, now=services.clock.now(),
                                  outbox=await outbox_for(services, session))
        answer = await _detail(session, activity)
    await arm(services)  # drops the armed close job
    return web.json_response(await _with_screen(services, activity, answer))


@routes.post("/activities/{activity_id}/close", "Close the sign-in now: audience − signed in − approved leave are "
             "recorded absent. Idempotent (closed_now is false the second time).", ok=ClosedActivity,
             errors={**NO_ACTIVITY, 409: "not_open: the sign-in window has not opened yet; not_scheduled: the "
                                         "activity is cancelled."})
async def close_activity(request: web.Request, activity_id: int) -> web.Response:
    """Close the sign-in now, for an office that wants the sheet before the scheduled moment."""
    services = services_of(request.app)
    now = services.clock.now()
    async with services.db.session() as session:
        activity = await _activity(session, activity_id)
        if activity.status is a.ActivityStatus.CANCELLED:  # a closed one is closed again: nothing changes
            raise Refusal.conflict("activity.error.not_scheduled", code="not_scheduled")
        if activity.status is a.ActivityStatus.SCHEDULED and now < activity.signin_opens_at:
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


@routes.get("/activities/{activity_id}/screen-link", "The signed link of the venue screen (rotating code and QR); "
            "it works until a day after the sign-in closes.", ok=ScreenLink,
            errors={**NO_ACTIVITY, 409: "screen_expired: the sign-in closed more than a day ago."})
async def screen_link(request: web.Request, activity_id: int) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        activity = await _activity(session, activity_id)
    link = await _screen_link(services, activity)
    if link is None:
        raise ApiError(409, "screen_expired", "the sign-in closed more than a day ago: the venue screen has "
                       "nothing left to show")
    return web.json_response(link)


# --- attendance -------------------------------------------------------------------------------------------


@routes.get("/activities/{activity_id}/attendance", "One row per member, the tally and per-group counts.",
            ok=AttendanceSheet, errors=NO_ACTIVITY)
async def get_attendance(request: web.Request, activity_id: int) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        activity = await _activity(session, activity_id)
        rows = await report.activity_sheet(session, activity)
        tally = await ops.tally(session, activity)
        groups = (await report.names(session))["group"]
    _, per_group = report.count_rows(rows)
    open_ = activity.status is a.ActivityStatus.SCHEDULED
    return web.json_response({
        "activity": {"id": activity.id, "title": activity.title, "status": activity.status,
                     "starts_at": iso(activity.starts_at), "signin_closes_at": iso(activity.signin_closes_at)},
        "tally": tally_json(tally),
        "groups": [{"group": ref(group, groups), **counts.as_json(with_pending=open_)}
                   for group, counts in per_group.items()],
        "items": [_sheet_row_json(row, groups) for row in rows],
    })


@routes.put("/activities/{activity_id}/attendance/{member_id}", "Correct a member's attendance, with a reason "
            "kept in the history.", body=Correction, ok=AttendanceHistory,
            errors={404: "No activity or no member with this id.",
                    409: "unchanged: the member has this status already; not_scheduled: the activity is "
                         "cancelled."})
async def correct_attendance(request: web.Request, activity_id: int, member_id: int, body: Correction
                             ) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        activity = await _activity(session, activity_id)
        member = await _member(session, member_id)
        await ops.correct_attendance(session, activity, member, status=body.status, reason=body.reason,
                                     by=None, now=services.clock.now())
        answer = await _history(session, activity, member)
    return web.json_response(answer)


@routes.get("/activities/{activity_id}/attendance/{member_id}/history", "A member's record of one activity and "
            "every correction, oldest first.", ok=AttendanceHistory,
            errors={404: "No activity or no member with this id."})
async def attendance_history(request: web.Request, activity_id: int, member_id: int) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        activity = await _activity(session, activity_id)
        member = await _member(session, member_id)
        return web.json_response(await _history(session, activity, member))


@routes.get("/attendance", "A year's attendance (closed activities starting in the committee's local year): per "
            "member by status and by activity type, and per liaison group.", query=YearQuery, ok=YearAttendance)
async def year_attendance(request: web.Request, query: YearQuery) -> web.Response:
    services = services_of(request.app)
    bounds = report.year_bounds(query.year, services.zone)
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
        "timezone": services.settings.scheduler.timezone,
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


@routes.get("/leave", "Leave requests (请假), oldest first, filtered and paginated.", query=LeaveQuery, ok=LeavePage,
            personal=True)
async def list_leave(request: web.Request, query: LeaveQuery) -> web.Response:
    filters = [column == value for column, value in (
        (a.LeaveRequest.status, query.status), (a.LeaveRequest.activity_id, query.activity_id),
        (a.LeaveRequest.member_id, query.member_id)) if value is not None]
    filters += within(Member.group_id, reach_of(request, Action.APPROVE_LEAVE))  # the applicant's group
    async with services_of(request.app).db.reader() as session:
        total, rows = await fetch_page(session, _leave_select().where(*filters).order_by(a.LeaveRequest.id), query)
        groups = (await report.names(session))["group"]
    return web.json_response(paged([leave_json(leave, activity, member, groups) for leave, activity, member in rows],
                                   total, query))


@routes.post("/leave/{leave_id}/approve", "Approve a pending request; the member is told. After the close, their "
             "absence becomes leave (with a correction row).", body=LeaveDecision, ok=LeaveOut,
             errors={404: "No leave request with this id.", 409: "already_decided: it was decided before."},
             personal=True)
async def approve_leave(request: web.Request, leave_id: int, body: LeaveDecision) -> web.Response:
    return await _decide(request, leave_id, body, approve=True)


@routes.post("/leave/{leave_id}/deny", "Deny a pending request with a note the member is told.", body=LeaveDecision,
             body_required=True, ok=LeaveOut,
             errors={404: "No leave request with this id.", 409: "already_decided: it was decided before."},
             personal=True)
async def deny_leave(request: web.Request, leave_id: int, body: LeaveDecision) -> web.Response:
    return await _decide(request, leave_id, body, approve=False)


async def _decide(request: web.Request, leave_id: int, body: LeaveDecision, *, approve: bool) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        leave = await found(session, a.LeaveRequest, leave_id, "leave request")
        await ops.decide_leave(session, leave, approve=approve, by=caller(request), note=body.note,
                               now=services.clock.now(), texts=services.texts)
        leave, activity, member = (await session.execute(
            _leave_select().where(a.LeaveRequest.id == leave_id))).one()
        groups = (await report.names(session))["group"]
    services.wake_delivery()  # the member is told; after the commit, so the worker finds the row
    return web.json_response(leave_json(leave, activity, member, groups))


# --- helpers ----------------------------------------------------------------------------------------------


async def _activity(session: AsyncSession, activity_id: int) -> a.Activity:
    return await found(session, a.Activity, activity_id, "activity")


async def _member(session: AsyncSession, member_id: int) -> Member:
    return await found(session, Member, member_id, "member")


def _apply_fields(draft: ops.ActivityDraft, body: ActivityFields, given: set[str]) -> None:
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
        draft.audience, draft.audience_ids = audience_of(body.audience)


async def _check_references(session: AsyncSession, draft: ops.ActivityDraft) -> None:
    """Ids that must exist: the organising group and the audience's groups, sectors or committees
    (member ids are checked by bot.domain.activities, with its own message)."""
    if draft.group_id is not None and await session.get(LiaisonGroup, draft.group_id) is None:
        raise invalid_field("group_id", f"unknown liaison group {draft.group_id}")
    if draft.audience_ids:  # none: bot.domain.activities says what is missing, after the other rules
        await check_audience(session, draft.audience, draft.audience_ids)


def _filtered(statement: Any, query: ActivityQuery) -> Any:
    if query.starts_from is not None:
        statement = statement.where(a.Activity.starts_at >= query.starts_from)
    if query.starts_to is not None:
        statement = statement.where(a.Activity.starts_at < query.starts_to)
    if query.status is not None:
        statement = statement.where(a.Activity.status == query.status)
    if query.type is not None:
        statement = statement.where(a.Activity.type == query.type)
    if query.group_id is not None:
        statement = statement.where(a.Activity.group_id == query.group_id)
    return statement


async def _tallies(session: AsyncSession, activities: list[a.Activity]) -> dict[int, ops.Tally]:
    """Tallies of a page of activities: one grouped count for all, plus the audience size of the
    scheduled ones (a closed activity's rows are its audience)."""
    ids = [activity.id for activity in activities if activity.id is not None]
    counts: dict[int, dict[str, int]] = {}
    if ids:
        for activity_id, status, count in (await session.execute(
            select(a.Attendance.activity_id, a.Attendance.status, func.count())
            .where(a.Attendance.activity_id.in_(ids))  # type: ignore[attr-defined]
            .group_by(a.Attendance.activity_id, a.Attendance.status)
        )).all():
            counts.setdefault(activity_id, {})[a.AttendanceStatus(status).value] = count
    found: dict[int, ops.Tally] = {}
    for activity in activities:
        by_status = counts.get(activity.id or 0, {})
        expected = (await ops.audience_size(session, activity) if activity.status is a.ActivityStatus.SCHEDULED
                    else sum(by_status.values()))
        found[activity.id or 0] = ops.Tally(expected, *(by_status.get(s, 0) for s in report.STATUSES))
    return found


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def activity_json(activity: a.Activity, groups: dict[int, str]) -> ActivityOut:
    fence: GeofenceOut | None = (
        {"latitude": activity.latitude, "longitude": activity.longitude, "radius_m": activity.radius_m}
        if activity.has_geofence else None)
    return {
        "id": activity.id,
        "type": activity.type,
        "title": activity.title,
        "status": activity.status,
        "starts_at": iso(activity.starts_at),
        "ends_at": iso(activity.ends_at),
        "venue": activity.venue,
        "description": activity.description,
        "geofence": fence,
        "require_location": activity.require_location,
        "audience": audience_json(activity.audience, activity.audience_ids),
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


def tally_json(tally: ops.Tally) -> Counts:
    return {"expected": tally.expected, "present": tally.present, "late": tally.late, "leave": tally.leave,
            "absent": tally.absent, "attended": tally.attended, "rate": round(tally.rate, 4)}


async def _detail(session: AsyncSession, activity: a.Activity) -> TalliedActivity:
    groups = (await report.names(session))["group"]
    return {**activity_json(activity, groups), "tally": tally_json(await ops.tally(session, activity))}


async def _screen_link(services: Services, activity: a.Activity) -> ScreenLink | None:
    """The venue screen's signed link, or None once it would be dead on arrival (a day after the sign-in
    closed). Called outside any session: signing may load the key in a write session of its own."""
    expires_at = activity.signin_closes_at + TOKEN_GRACE
    if expires_at <= services.clock.now():
        return None
    return {"url": await screen_url(services, activity), "expires_at": iso(expires_at)}


async def _with_screen(services: Services, activity: a.Activity, answer: TalliedActivity) -> ActivityDetail:
    link = await _screen_link(services, activity)
    return {**answer, "screen_url": link["url"] if link else None}


def _sheet_row_json(row: report.SheetRow, groups: dict[int, str]) -> SheetRowOut:
    leave = row.leave
    return {
        "member": {"id": row.member_id, "name": row.name},
        "group": ref(row.group_id, groups),
        "status": row.status,
        "method": row.method,
        "signed_in_at": iso(row.signed_in_at),
        "leave_id": leave.id if leave is not None else None,
        "leave": None if leave is None else {"id": leave.id, "kind": leave.kind, "status": leave.status},
        "corrected": bool(row.corrections),
    }


async def _history(session: AsyncSession, activity: a.Activity, member: Member) -> AttendanceHistory:
    row = await ops.attendance_of(session, activity.id or 0, member.id or 0)
    corrections = [] if row is None else (await session.scalars(
        select(a.AttendanceCorrection).where(a.AttendanceCorrection.attendance_id == row.id)
        .order_by(a.AttendanceCorrection.at, a.AttendanceCorrection.id)
    )).all()
    groups = (await report.names(session))["group"]
    return {
        "activity_id": activity.id,
        "member": {"id": member.id, "name": member.name},
        "attendance": None if row is None else {
            "status": row.status, "method": row.method, "signed_in_at": iso(row.signed_in_at),
            "group": ref(row.group_id, groups), "leave_id": row.leave_id, "updated_at": iso(row.updated_at),
        },
        "corrections": [{"from": c.from_status, "to": c.to_status, "reason": c.reason,
                         "by": c.by_name or None, "by_id": c.by_id, "at": iso(c.at)} for c in corrections],
    }


def _leave_select() -> Any:
    return (select(a.LeaveRequest, a.Activity, Member)
            .join(a.Activity, a.Activity.id == a.LeaveRequest.activity_id)
            .join(Member, Member.id == a.LeaveRequest.member_id))


def leave_json(leave: a.LeaveRequest, activity: a.Activity, member: Member, groups: dict[int, str]) -> LeaveOut:
    return {
        "id": leave.id,
        "activity": {"id": activity.id, "title": activity.title, "type": activity.type,
                     "starts_at": iso(activity.starts_at)},
        "member": {"id": member.id, "name": member.name},
        "group": ref(member.group_id, groups),
        "kind": leave.kind,
        "reason": leave.reason,
        "status": leave.status,
        "decision_note": leave.decision_note,
        **decided_json(leave),
    }
