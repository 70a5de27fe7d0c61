"""Activities: creation, the audience, the rotating sign-in code, sign-in, leave and attendance.

Shared by the chat handlers (``签到``, ``请假``, ``活动``, ``审批``), the admin API, the venue screen, the
scheduler and the export. Every function works in the caller's transaction.

Lifecycle of one activity::

    create ──► scheduled ──(sign-in window: opens N min before the start, closes M min after)──►
        sign-in: present, or late after ``late_after``; leave requests: pending → approved / denied
    window closes (a scheduled task, and a sweep as a safety net) ──► closed:
        audience − signed in − approved leave = absent; approved leave = leave
    afterwards: corrections by secretaries (kept in history); a leave approved late turns absent into leave

**The rotating code.** The code of period ``p`` (``p = unix time // code_period_seconds``) is an HMAC of
the activity's own secret and ``p``, six digits. A code is accepted in its own period and the next one
(one period of grace), so the screen can change it every 30 s and a photo of it sent to somebody absent
stops working within a minute. The QR code on the screen carries the same code in its scene string
``signin:<activity id>:<code>``.

**Who approves leave** (DOMAIN.md): for plenary and standing-committee sessions, the chair's office —
lvzhi has no chair role, so this means secretaries with an unlimited scope and administrators
(:data:`Action.APPROVE_PLENARY_LEAVE`); otherwise the leader of the member's liaison group or a
secretary whose scope covers it (:data:`Action.APPROVE_LEAVE`).

**Audience** is evaluated when it is needed (at sign-in, at the close), over active members: a member who
joins a group before the close is expected; one who leaves it is not.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.audience import check_audience_reach, member_in, members_clause
from bot.domain.authz import Action, can, groups_within_reach
from bot.domain.notices import (
    Outbox,
    cancel_activity_pushes,
    schedule_activity_pushes,
    schedule_reminders,
    tell_notified,
)
from bot.domain.notify import tell_member
from bot.domain.refusals import Refusal, Term
from bot.domain.tasks import cancel_task, schedule_task
from bot.infra.config import ActivitySettings
from bot.infra.i18n import Catalogue
from bot.infra.sql import insert_for, insert_ignore
from models.activity import (
    Activity,
    ActivityStatus,
    ActivityType,
    Attendance,
    AttendanceCorrection,
    AttendanceStatus,
    Audience,
    LeaveKind,
    LeaveRequest,
    LeaveStatus,
    SignInMethod,
)
from models.member import Member, MemberStatus, Role
from models.notice import ActivityResponse, Response

log = logging.getLogger(__name__)

TITLE_MAX = 100
VENUE_MAX = 200
HALF_DAYS_MAX = 20  # a five-day plenary session
REASON_MIN, REASON_MAX = 2, 300
CLOSE_TASK = "activity.close"
SCENE_PREFIX = "signin:"
ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
OPEN_LEAVE = (LeaveStatus.PENDING, LeaveStatus.APPROVED)
CHAIR_APPROVED = frozenset({ActivityType.PLENARY, ActivityType.STANDING})
# How far around "now" a typed code is looked for: a code is only valid for two periods, but an activity
# whose window just closed (or has not opened) still deserves the right answer instead of "unknown code".
CODE_LOOKUP_MARGIN = timedelta(hours=12)


# --- creating and changing ------------------------------------------------------------------------------


@dataclass(slots=True)
class ActivityDraft:
    type: ActivityType
    title: str
    starts_at: datetime
    ends_at: datetime | None = None  # default: start + activities.default_duration_minutes
    venue: str = ""
    description: str = ""
    latitude: float | None = None
    longitude: float | None = None
    radius_m: int | None = None
    require_location: bool = False
    audience: Audience = Audience.ALL
    audience_ids: list[int] = field(default_factory=list)
    group_id: int | None = None  # the organising liaison group; None: the office
    opens_minutes_before: int | None = None  # None: the configured default
    closes_minutes_after: int | None = None
    late_after_minutes: int | None = None
    half_days: int | None = None  # how many half-days it counts for in the duty ledger; None: from its length


def half_days_between(starts_at: datetime, ends_at: datetime) -> int:
    """A half-day is a morning or an afternoon (about 4.5 hours); longer activities count two per day."""
    hours = (ends_at - starts_at).total_seconds() / 3600
    if hours <= 24:
        return max(1, round(hours / 4.5))
    return 2 * math.ceil(hours / 24)


def check_draft(draft: ActivityDraft) -> None:
    title = draft.title.strip()
    if not title or len(title) > TITLE_MAX:
        raise Refusal.invalid("activity.error.title", field="title", max=TITLE_MAX)
    if len(draft.venue) > VENUE_MAX:
        raise Refusal.invalid("activity.error.venue", field="venue", max=VENUE_MAX)
    if draft.ends_at is not None and draft.ends_at <= draft.starts_at:
        raise Refusal.invalid("activity.error.ends_before_start", field="ends_at")
    located = (draft.latitude is not None, draft.longitude is not None, draft.radius_m is not None)
    if any(located) and not all(located):
        raise Refusal.invalid("activity.error.geofence_incomplete", field="geofence")
    if draft.latitude is not None and not (-90 <= draft.latitude <= 90 and -180 <= (draft.longitude or 0) <= 180):
        raise Refusal.invalid("activity.error.geofence_range", field="geofence")
    if draft.radius_m is not None and not 10 <= draft.radius_m <= 50_000:
        raise Refusal.invalid("activity.error.radius", field="geofence.radius_m")
    if draft.half_days is not None and not 1 <= draft.half_days <= HALF_DAYS_MAX:
        raise Refusal.invalid("activity.error.half_days", max=HALF_DAYS_MAX)
    if draft.require_location and draft.latitude is None:
        raise Refusal.invalid("activity.error.location_needs_geofence", field="require_location")
    if draft.audience is not Audience.ALL and not draft.audience_ids:
        raise Refusal.invalid("activity.error.audience_empty", field="audience.ids")
    late, closes = draft.late_after_minutes, draft.closes_minutes_after
    if late is not None and closes is not None and late > closes:
        raise Refusal.invalid("activity.error.late_after_close", field="late_after_minutes")


def check_reach(by: Member | None, draft: ActivityDraft, member_groups: Sequence[int | None] = ()) -> None:
    """May ``by`` organise this activity for this audience? ``None`` is the admin API (anything).

    Somebody with every group in reach may organise anything. Otherwise the activity must belong to one
    of their groups and invite only those groups (or members of them: ``member_groups``)."""
    reach = groups_within_reach(by, Action.MANAGE_ACTIVITY) if by is not None else None
    if reach and (draft.group_id is None or draft.group_id not in reach):
        raise Refusal.forbidden("activity.error.group_out_of_reach")
    check_audience_reach(by, Action.MANAGE_ACTIVITY, draft.audience, draft.audience_ids, member_groups)


async def _member_groups(session: AsyncSession, draft: ActivityDraft) -> list[int | None]:
    if draft.audience is not Audience.MEMBERS:
        return []
    rows = (await session.execute(select(Member.id, Member.group_id).where(Member.id.in_(draft.audience_ids)))).all()  # type: ignore[union-attr]
    if len(rows) != len(set(draft.audience_ids)):
        raise Refusal.invalid("activity.error.unknown_members", field="audience.ids")
    return [group for _, group in rows]


def apply_window(activity: Activity, settings: ActivitySettings, draft: ActivityDraft | None = None) -> None:
    """Store the sign-in window and the late mark as moments (from the draft's overrides or defaults)."""
    opens = settings.signin_opens_minutes_before
    closes = settings.signin_closes_minutes_after
    late = settings.late_after_minutes
    if draft is not None:
        opens = draft.opens_minutes_before if draft.opens_minutes_before is not None else opens
        closes = draft.closes_minutes_after if draft.closes_minutes_after is not None else closes
        late = min(draft.late_after_minutes if draft.late_after_minutes is not None else late, closes)
    activity.signin_opens_at = activity.starts_at - timedelta(minutes=opens)
    activity.signin_closes_at = activity.starts_at + timedelta(minutes=closes)
    activity.late_after = activity.starts_at + timedelta(minutes=late)


async def create_activity(
    session: AsyncSession, draft: ActivityDraft, *, settings: ActivitySettings, by: Member | None, now: datetime,
    outbox: Outbox | None = None, notice_at: datetime | None = None, notify: bool = True,
) -> Activity:
    """Check, store, and schedule the close of the sign-in window. Raises :class:`~bot.domain.refusals.Refusal`.

    With an ``outbox`` the activity's pushes are arranged too (:func:`bot.domain.notices.schedule_activity_pushes`):
    the meeting notice at ``notice_at`` (default now; none when ``notify`` is false), reminders, last call."""
    check_draft(draft)
    check_reach(by, draft, await _member_groups(session, draft))
    ends_at = draft.ends_at or draft.starts_at + timedelta(minutes=settings.default_duration_minutes)
    activity = Activity(
        type=draft.type, title=draft.title.strip(), venue=draft.venue.strip(), description=draft.description,
        starts_at=draft.starts_at, ends_at=ends_at, latitude=draft.latitude, longitude=draft.longitude,
        radius_m=draft.radius_m, require_location=draft.require_location, audience=draft.audience,
        audience_ids=sorted(set(draft.audience_ids)), group_id=draft.group_id,
        code_secret=secrets.token_hex(16), created_by_id=by.id if by else None, created_at=now, updated_at=now,
        signin_opens_at=now, signin_closes_at=now, late_after=now,  # set just below
    )
    apply_window(activity, settings, draft)
    activity.half_days = draft.half_days or half_days_between(activity.starts_at, activity.ends_at)
    session.add(activity)
    await session.flush()
    await _schedule_close(session, activity, now)
    if outbox is not None:

        await schedule_activity_pushes(session, activity, outbox, notice_at=notice_at, notify=notify)
    await _audit(session, activity, "activity.create", by, now, after=audit.snapshot(activity, EDITED))
    log.info("activity %s created: %s %s at %s", activity.id, activity.type.value, activity.title,
             activity.starts_at.isoformat())
    return activity


# What a reschedule may change, as the audit log shows it.
EDITED = ("type", "title", "venue", "starts_at", "ends_at", "audience", "audience_ids", "group_id")


async def _audit(session: AsyncSession, activity: Activity, action: str, by: Member | None, now: datetime,
                 before: dict[str, object] | None = None, after: dict[str, object] | None = None) -> None:
    await audit.record(session, action=action, object_type="activity", object_id=activity.id,
                       group_id=activity.group_id, by=by, before=before, after=after, summary=activity.title,
                       at=now)


async def reschedule_activity(
    session: AsyncSession, activity: Activity, draft: ActivityDraft, *, settings: ActivitySettings,
    by: Member | None, now: datetime, outbox: Outbox | None = None,
) -> Activity:
    """Change a scheduled activity (time, venue, audience …); its window and close task follow. With an
    ``outbox`` its reminders move too, and members already notified are told when time or venue changed."""
    if activity.status is not ActivityStatus.SCHEDULED:
        raise Refusal.conflict("activity.error.not_scheduled", code="not_scheduled")
    check_draft(draft)
    check_reach(by, draft, await _member_groups(session, draft))
    before = (activity.starts_at, activity.venue)
    edited = audit.snapshot(activity, EDITED)
    activity.type, activity.title, activity.venue = draft.type, draft.title.strip(), draft.venue.strip()
    activity.description, activity.starts_at = draft.description, draft.starts_at
    activity.ends_at = draft.ends_at or draft.starts_at + timedelta(minutes=settings.default_duration_minutes)
    activity.latitude, activity.longitude, activity.radius_m = draft.latitude, draft.longitude, draft.radius_m
    activity.require_location, activity.audience = draft.require_location, draft.audience
    activity.audience_ids, activity.group_id = sorted(set(draft.audience_ids)), draft.group_id
    apply_window(activity, settings, draft)
    activity.half_days = draft.half_days or half_days_between(activity.starts_at, activity.ends_at)
    activity.updated_at = now
    await _audit(session, activity, "activity.reschedule", by, now, *audit.changes(edited, activity, EDITED))
    await _schedule_close(session, activity, now)
    if outbox is not None:

        await schedule_reminders(session, activity, outbox)
        if (activity.starts_at, activity.venue) != before:
            await tell_notified(session, activity, outbox, cancelled=False)
    return activity


async def cancel_activity(
    session: AsyncSession, activity: Activity, *, now: datetime, outbox: Outbox | None = None,
    by: Member | None = None,
) -> None:
    """Cancel; with an ``outbox`` its pending pushes are cancelled and those already notified are told."""

    if activity.status is not ActivityStatus.SCHEDULED:
        raise Refusal.conflict("activity.error.not_scheduled", code="not_scheduled")
    activity.status, activity.updated_at = ActivityStatus.CANCELLED, now
    await _audit(session, activity, "activity.cancel", by, now, before={"status": ActivityStatus.SCHEDULED},
                 after={"status": activity.status})
    await cancel_task(session, kind=CLOSE_TASK, ref=str(activity.id))
    # Nothing left to decide: pending requests leave the approvers' lists (the member is told of the
    # cancellation itself).
    pending = (await session.scalars(select(LeaveRequest).where(
        LeaveRequest.activity_id == activity.id, LeaveRequest.status == LeaveStatus.PENDING))).all()
    for leave in pending:
        leave.status, leave.decided_at, leave.decision_note = LeaveStatus.WITHDRAWN, now, "activity cancelled"
    if outbox is not None:

        await cancel_activity_pushes(session, activity, outbox)
        await tell_notified(session, activity, outbox, cancelled=True)


async def _schedule_close(session: AsyncSession, activity: Activity, now: datetime) -> None:

    await schedule_task(session, kind=CLOSE_TASK, ref=str(activity.id), run_at=activity.signin_closes_at, now=now)


def draft_of(activity: Activity) -> ActivityDraft:
    """The activity as a draft, for changing a few fields (window overrides kept as stored minutes)."""
    minutes = lambda delta: int(delta.total_seconds() // 60)  # noqa: E731
    return ActivityDraft(
        type=activity.type, title=activity.title, starts_at=activity.starts_at, ends_at=activity.ends_at,
        venue=activity.venue, description=activity.description, latitude=activity.latitude,
        longitude=activity.longitude, radius_m=activity.radius_m, require_location=activity.require_location,
        audience=activity.audience, audience_ids=list(activity.audience_ids), group_id=activity.group_id,
        opens_minutes_before=minutes(activity.starts_at - activity.signin_opens_at),
        closes_minutes_after=minutes(activity.signin_closes_at - activity.starts_at),
        late_after_minutes=minutes(activity.late_after - activity.starts_at),
        half_days=activity.half_days if activity.half_days != half_days_between(activity.starts_at, activity.ends_at)
        else None,
    )


# --- the audience -------------------------------------------------------------------------------------------


def audience_clause(activity: Activity) -> ColumnElement[bool]:
    """Which members an activity expects."""
    return members_clause(activity.audience, activity.audience_ids or ())


def in_audience(member: Member, activity: Activity) -> bool:
    return member_in(member, activity.audience, activity.audience_ids or ())


async def audience_size(session: AsyncSession, activity: Activity) -> int:
    return int(await session.scalar(select(func.count()).select_from(Member).where(audience_clause(activity))) or 0)


# --- the rotating code ----------------------------------------------------------------------------------------


def period_of(moment: datetime, period_seconds: int) -> int:
    return int(moment.timestamp()) // period_seconds


def code_for(activity: Activity, period: int) -> str:
    mac = hmac.new(activity.code_secret.encode(), f"{activity.id}:{period}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:4], 'big') % 1_000_000:06d}"


@dataclass(frozen=True, slots=True)
class ShownCode:
    code: str
    period: int
    changes_at: datetime  # when the screen shows the next one
    valid_until: datetime  # the end of the grace period


def shown_code(activity: Activity, now: datetime, period_seconds: int) -> ShownCode:
    period = period_of(now, period_seconds)
    changes_at = datetime.fromtimestamp((period + 1) * period_seconds, tz=now.tzinfo)
    return ShownCode(code_for(activity, period), period, changes_at, changes_at + timedelta(seconds=period_seconds))


def code_is_current(activity: Activity, code: str, now: datetime, period_seconds: int) -> bool:
    """The code of this period or the previous one (one period of grace)."""
    period = period_of(now, period_seconds)
    return any(hmac.compare_digest(code, code_for(activity, p)) for p in (period, period - 1))


_CODE_TEXT = re.compile(r"^(?:签到|sign\s*in|signin|qd)?\s*[:：]?\s*(\d{6})$", re.IGNORECASE)


def parse_code(text: str) -> str | None:
    """``签到 123456``, ``签到123456``, full-width digits, spaces inside: the six digits, or None."""
    flat = unicodedata.normalize("NFKC", text).strip()
    flat = re.sub(r"(?<=\d)[\s-]+(?=\d)", "", flat)
    found = _CODE_TEXT.match(flat)
    return found.group(1) if found else None


def scene_for(activity_id: int, code: str) -> str:
    return f"{SCENE_PREFIX}{activity_id}:{code}"


def parse_scene(key: str) -> tuple[int, str] | None:
    """``signin:<id>:<code>`` (a QR scene, maybe with WeChat's ``qrscene_`` prefix): (id, code)."""
    key = key.strip().removeprefix("qrscene_")
    if not key.startswith(SCENE_PREFIX):
        return None
    activity_id, _, code = key[len(SCENE_PREFIX):].partition(":")
    if not activity_id.isdigit() or not (len(code) == 6 and code.isdigit()):
        return None
    return int(activity_id), code


# The sign-in statements are built once: a plenary opening sends hundreds of them a minute, and a
# reused statement keeps its cache key and compiled form (bench/callback.py).
_OPEN_FOR_CODES = select(Activity).where(
    Activity.status != ActivityStatus.CANCELLED,
    Activity.signin_opens_at <= bindparam("opens_by"),
    Activity.signin_closes_at >= bindparam("closes_after"),
).order_by(Activity.starts_at)
_ATTENDANCE_OF = select(Attendance).where(
    Attendance.activity_id == bindparam("activity_id"), Attendance.member_id == bindparam("member_id")
)


async def find_by_code(session: AsyncSession, code: str, now: datetime, period_seconds: int) -> Activity | None:
    """The activity whose screen shows ``code`` now (or showed it one period ago)."""
    window = {"opens_by": now + CODE_LOOKUP_MARGIN, "closes_after": now - CODE_LOOKUP_MARGIN}
    candidates = (await session.scalars(_OPEN_FOR_CODES, window)).all()
    return next((activity for activity in candidates if code_is_current(activity, code, now, period_seconds)), None)


# --- signing in ----------------------------------------------------------------------------------------------


class Outcome:
    SIGNED_IN = "signed_in"
    LATE = "late"
    ALREADY = "already"
    NOT_OPEN = "not_open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    NOT_IN_AUDIENCE = "not_in_audience"
    BAD_CODE = "bad_code"  # unknown or expired
    NEED_LOCATION = "need_location"  # the code was right; the policy wants a location too
    NEED_CODE = "need_code"  # the location was right; the policy wants the code too
    OUTSIDE = "outside"  # a location outside the geofence
    NOTHING_OPEN = "nothing_open"  # a location, but no activity with a geofence open for this member


@dataclass(frozen=True, slots=True)
class SignInResult:
    outcome: str
    activity: Activity | None = None
    attendance: Attendance | None = None
    distance_m: float | None = None

    @property
    def recorded(self) -> bool:
        return self.outcome in (Outcome.SIGNED_IN, Outcome.LATE)


async def attendance_of(session: AsyncSession, activity_id: int, member_id: int) -> Attendance | None:
    return await session.scalar(_ATTENDANCE_OF, {"activity_id": activity_id, "member_id": member_id})


async def sign_in(
    session: AsyncSession, member: Member, activity: Activity, *, method: SignInMethod, now: datetime,
    code_checked: bool = False, location_checked: bool = False,
) -> SignInResult:
    """Record that ``member`` is here, once. The caller has checked the code or the location it got
    (``code_checked`` / ``location_checked``); an activity that requires both says which one is missing."""
    if activity.status is ActivityStatus.CANCELLED:
        return SignInResult(Outcome.CANCELLED, activity)
    if now < activity.signin_opens_at:
        return SignInResult(Outcome.NOT_OPEN, activity)
    existing = await attendance_of(session, activity.id or 0, member.id or 0)
    if existing is not None and existing.status in ATTENDED:
        return SignInResult(Outcome.ALREADY, activity, existing)
    if now > activity.signin_closes_at or activity.status is ActivityStatus.CLOSED:
        return SignInResult(Outcome.CLOSED, activity)
    if not in_audience(member, activity):
        return SignInResult(Outcome.NOT_IN_AUDIENCE, activity)
    if activity.require_location and not location_checked:
        return SignInResult(Outcome.NEED_LOCATION, activity)
    if activity.require_location and not code_checked:
        return SignInResult(Outcome.NEED_CODE, activity)
    status = AttendanceStatus.LATE if now > activity.late_after else AttendanceStatus.PRESENT
    if existing is not None:  # a row written by a secretary before the member arrived: the member is here
        existing.status, existing.method, existing.signed_in_at, existing.updated_at = status, method, now, now
        return SignInResult(status.value, activity, existing)
    values = {"activity_id": activity.id, "member_id": member.id, "group_id": member.group_id, "status": status,
              "method": method, "signed_in_at": now, "recorded_at": now, "updated_at": now}
    inserted = await insert_ignore(session, Attendance, values, ["activity_id", "member_id"])
    row = await attendance_of(session, activity.id or 0, member.id or 0)
    if not inserted:  # the same member signed in through another process a moment ago
        return SignInResult(Outcome.ALREADY, activity, row)
    return SignInResult(Outcome.LATE if status is AttendanceStatus.LATE else Outcome.SIGNED_IN, activity, row)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a geofence of some hundred metres)."""
    earth = 6_371_008.8
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * earth * math.asin(math.sqrt(a))


async def member_activities_around(
    session: AsyncSession, member: Member, now: datetime, *, geofenced: bool = False,
    ahead: timedelta = timedelta(hours=12),
) -> list[Activity]:
    """The member's scheduled activities whose sign-in is open now or opens within ``ahead``."""
    query = select(Activity).where(
        Activity.status == ActivityStatus.SCHEDULED,
        Activity.signin_opens_at <= now + ahead,
        Activity.signin_closes_at >= now,
    ).order_by(Activity.signin_opens_at)
    if geofenced:
        query = query.where(Activity.latitude.is_not(None), Activity.radius_m.is_not(None))  # type: ignore[union-attr]
    return [activity for activity in (await session.scalars(query)).all() if in_audience(member, activity)]


async def sign_in_by_location(
    session: AsyncSession, member: Member, latitude: float, longitude: float, *, now: datetime,
    code_checked_for: int | None = None,
) -> SignInResult:
    """Sign in to the geofenced activity open now that the member is inside of (the nearest one)."""
    around = await member_activities_around(session, member, now, geofenced=True)
    open_now = [activity for activity in around if activity.signin_opens_at <= now]
    if not open_now:
        return SignInResult(Outcome.NOT_OPEN, around[0]) if around else SignInResult(Outcome.NOTHING_OPEN)
    measured = sorted(
        ((distance_m(latitude, longitude, a.latitude or 0.0, a.longitude or 0.0), a) for a in open_now),
        key=lambda pair: pair[0],
    )
    distance, activity = measured[0]
    if distance > (activity.radius_m or 0):
        return SignInResult(Outcome.OUTSIDE, activity, distance_m=distance)
    result = await sign_in(session, member, activity, method=SignInMethod.LOCATION, now=now,
                           location_checked=True, code_checked=code_checked_for == activity.id)
    return SignInResult(result.outcome, result.activity, result.attendance, distance)


async def signed_in_count(session: AsyncSession, activity_id: int) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Attendance)
        .where(Attendance.activity_id == activity_id, Attendance.status.in_(ATTENDED))  # type: ignore[attr-defined]
    ) or 0)


# --- leave ---------------------------------------------------------------------------------------------------


def approval_action(activity: Activity) -> Action:
    return Action.APPROVE_PLENARY_LEAVE if activity.type in CHAIR_APPROVED else Action.APPROVE_LEAVE


def may_decide_leave(approver: Member | None, activity: Activity, applicant: Member) -> bool:
    if approver is None or approver.id == applicant.id:
        return False
    return can(approver, approval_action(activity), group_id=applicant.group_id)


async def leave_candidates(session: AsyncSession, member: Member, now: datetime, limit: int = 9) -> list[Activity]:
    """Upcoming activities of the member's that leave can still be asked for (before the window closes,
    not signed in, no open request)."""
    taken = select(LeaveRequest.activity_id).where(
        LeaveRequest.member_id == member.id, LeaveRequest.status.in_(OPEN_LEAVE)  # type: ignore[attr-defined]
    )
    attended = select(Attendance.activity_id).where(Attendance.member_id == member.id)
    rows = (await session.scalars(
        select(Activity).where(
            Activity.status == ActivityStatus.SCHEDULED,
            Activity.signin_closes_at > now,
            Activity.id.not_in(taken),  # type: ignore[union-attr]
            Activity.id.not_in(attended),  # type: ignore[union-attr]
        ).order_by(Activity.starts_at)
    )).all()
    return [activity for activity in rows if in_audience(member, activity)][:limit]


async def open_leave_of(session: AsyncSession, activity_id: int, member_id: int) -> LeaveRequest | None:
    return await session.scalar(select(LeaveRequest).where(
        LeaveRequest.activity_id == activity_id, LeaveRequest.member_id == member_id,
        LeaveRequest.status.in_(OPEN_LEAVE),  # type: ignore[attr-defined]
    ))


async def request_leave(
    session: AsyncSession, member: Member, activity: Activity, *, kind: LeaveKind, reason: str, now: datetime,
    texts: Catalogue,
) -> LeaveRequest:
    """File a pending request and tell the approvers. Raises :class:`~bot.domain.refusals.Refusal`."""
    reason = reason.strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise Refusal.invalid("leave.error.reason", field="reason", min=REASON_MIN, max=REASON_MAX)
    if activity.status is not ActivityStatus.SCHEDULED or now > activity.signin_closes_at:
        raise Refusal.conflict("leave.error.too_late", code="too_late")
    if not in_audience(member, activity):
        raise Refusal.conflict("leave.error.not_in_audience", code="not_in_audience")
    if await open_leave_of(session, activity.id or 0, member.id or 0) is not None:
        raise Refusal.conflict("leave.error.already", code="already_requested")
    signed = await attendance_of(session, activity.id or 0, member.id or 0)
    if signed is not None and signed.status in ATTENDED:
        raise Refusal.conflict("leave.error.signed_in", code="signed_in")
    leave = LeaveRequest(activity_id=activity.id, member_id=member.id, kind=kind, reason=reason, created_at=now)
    session.add(leave)
    await session.flush()
    await _tell_approvers(session, leave, activity, member, texts)
    return leave


async def withdraw_leave(session: AsyncSession, leave: LeaveRequest, member: Member, *, now: datetime) -> None:
    if leave.member_id != member.id:
        raise Refusal.forbidden("leave.error.not_yours")
    if leave.status is not LeaveStatus.PENDING:
        raise Refusal.conflict("leave.error.decided", code="already_decided",
                                status=Term(f"leave.status.{leave.status.value}"))
    leave.status, leave.decided_at = LeaveStatus.WITHDRAWN, now
    await _forget_leave_answer(session, leave)


async def decide_leave(
    session: AsyncSession, leave: LeaveRequest, *, approve: bool, by: Member | None, note: str = "",
    now: datetime, texts: Catalogue,
) -> LeaveRequest:
    """Approve or deny a pending request (``by`` None: the admin API) and tell the member. A leave
    approved after the window closed turns the member's absence into leave, with a correction row."""
    activity = await session.get(Activity, leave.activity_id)
    applicant = await session.get(Member, leave.member_id)
    assert activity is not None and applicant is not None
    if by is not None and not may_decide_leave(by, activity, applicant):
        raise Refusal.forbidden("leave.error.forbidden")
    if leave.status is not LeaveStatus.PENDING:
        raise Refusal.conflict("leave.error.decided", code="already_decided",
                                status=Term(f"leave.status.{leave.status.value}"))
    note = note.strip()
    if not approve and not REASON_MIN <= len(note) <= REASON_MAX:
        raise Refusal.invalid("leave.error.deny_reason", field="note", min=REASON_MIN, max=REASON_MAX)
    leave.status = LeaveStatus.APPROVED if approve else LeaveStatus.DENIED
    leave.decided_by_id, leave.decided_by_name = (by.id, by.name) if by else (None, "")
    leave.decision_note, leave.decided_at = note[:REASON_MAX], now
    if approve:
        await _excuse_recorded_absence(session, leave, by, now, texts)
    else:
        await _forget_leave_answer(session, leave)
    await audit.record(session, action="leave.decide", object_type="leave", object_id=leave.id,
                       group_id=applicant.group_id, by=by, before={"status": LeaveStatus.PENDING},
                       after={"status": leave.status}, summary=f"{applicant.name} · {activity.title}", at=now)
    key = "leave.notify.approved" if approve else "leave.notify.denied"
    text = texts(key, title=activity.title, note=note or "-")
    await tell_member(session, applicant.id or 0, text, key=f"leave:{leave.id}:{leave.status.value}")
    return leave


async def _forget_leave_answer(session: AsyncSession, leave: LeaveRequest) -> None:
    """A request withdrawn or denied no longer answers the activity's meeting notice (filing it in chat
    answered 请假): the member is "no answer" again, not "leave", until they reply 参加 or ask again."""
    await session.execute(delete(ActivityResponse).where(
        ActivityResponse.activity_id == leave.activity_id, ActivityResponse.member_id == leave.member_id,
        ActivityResponse.response == Response.LEAVE,
    ))


async def _excuse_recorded_absence(
    session: AsyncSession, leave: LeaveRequest, by: Member | None, now: datetime, texts: Catalogue
) -> None:
    row = await attendance_of(session, leave.activity_id, leave.member_id)
    if row is None or row.status is not AttendanceStatus.ABSENT:
        return
    session.add(AttendanceCorrection(
        attendance_id=row.id, from_status=row.status.value, to_status=AttendanceStatus.LEAVE.value,
        reason=texts("attendance.leave_approved_late"), by_id=by.id if by else None, by_name=by.name if by else "",
        at=now,
    ))
    row.status, row.leave_id, row.updated_at = AttendanceStatus.LEAVE, leave.id, now


async def leave_approvers(session: AsyncSession, activity: Activity, applicant: Member) -> list[Member]:
    staff = (await session.scalars(
        select(Member).where(
            Member.status == MemberStatus.ACTIVE,
            Member.role.in_([Role.GROUP_LEADER, Role.SECRETARY, Role.ADMIN]),  # type: ignore[attr-defined]
        ).order_by(Member.id)
    )).all()
    return [approver for approver in staff if may_decide_leave(approver, activity, applicant)]


async def _tell_approvers(
    session: AsyncSession, leave: LeaveRequest, activity: Activity, applicant: Member, texts: Catalogue
) -> None:
    text = texts("leave.notify.new", name=applicant.name, title=activity.title,
                 kind=texts(f"leave.kind.{leave.kind.value}"), reason=leave.reason)
    approvers = await leave_approvers(session, activity, applicant)
    for approver in approvers:
        await tell_member(session, approver.id or 0, text, key=f"leave:{leave.id}:new:{approver.id}")
    if not approvers:
        log.warning("leave %s: nobody may approve it (activity %s, group %s)", leave.id, activity.id,
                    applicant.group_id)


def _groups_clause(reach: frozenset[int] | None) -> ColumnElement[bool]:
    if reach is None:
        return true()
    return Member.group_id.in_(sorted(reach)) if reach else false()  # type: ignore[union-attr]


def _decidable_by(approver: Member) -> ColumnElement[bool]:
    """:func:`may_decide_leave` as a condition on a request's activity and member, so lists filter and page in
    the database: not their own, and the applicant's group within the reach of the activity's approval action."""
    chair = Activity.type.in_(CHAIR_APPROVED)  # type: ignore[attr-defined]
    return and_(
        Member.id != approver.id,
        or_(and_(~chair, _groups_clause(groups_within_reach(approver, Action.APPROVE_LEAVE))),
            and_(chair, _groups_clause(groups_within_reach(approver, Action.APPROVE_PLENARY_LEAVE)))),
    )


def _pending_leave(statement: Select[Any], approver: Member) -> Select[Any]:
    return (statement.join(Activity, Activity.id == LeaveRequest.activity_id)
            .join(Member, Member.id == LeaveRequest.member_id)
            .where(LeaveRequest.status == LeaveStatus.PENDING, _decidable_by(approver)))


async def pending_leave_for(
    session: AsyncSession, approver: Member, limit: int | None = 10, offset: int = 0
) -> list[tuple[LeaveRequest, Activity, Member]]:
    """Pending requests this approver may decide, oldest first (``limit`` None: all of them)."""
    rows = (await session.execute(
        _pending_leave(select(LeaveRequest, Activity, Member), approver)
        .order_by(LeaveRequest.created_at, LeaveRequest.id).limit(limit).offset(offset)
    )).all()
    return [(leave, activity, member) for leave, activity, member in rows]


async def count_pending_leave_for(session: AsyncSession, approver: Member) -> int:
    """How many requests :func:`pending_leave_for` would list without a limit, counted in the database."""
    return int(await session.scalar(_pending_leave(select(func.count()).select_from(LeaveRequest), approver)) or 0)


# --- attendance -------------------------------------------------------------------------------------------------


class AttendanceRate:
    """Who attended and the usual 出席率 (attended over those not excused), for any counts of an audience."""

    __slots__ = ()
    expected: int
    present: int
    late: int
    leave: int

    @property
    def attended(self) -> int:
        return self.present + self.late

    @property
    def rate(self) -> float:
        basis = self.expected - self.leave
        return self.attended / basis if basis else 0.0


@dataclass(frozen=True, slots=True)
class Tally(AttendanceRate):
    expected: int
    present: int
    late: int
    leave: int
    absent: int


async def close_attendance(session: AsyncSession, activity: Activity, *, now: datetime) -> bool:
    """Write ``leave`` and ``absent`` rows for the audience members who did not sign in, and mark the
    activity closed. Idempotent: False when it was already closed (or cancelled)."""
    if activity.status is not ActivityStatus.SCHEDULED:
        return False
    approved = dict((await session.execute(
        select(LeaveRequest.member_id, LeaveRequest.id).where(
            LeaveRequest.activity_id == activity.id, LeaveRequest.status == LeaveStatus.APPROVED)
    )).all())
    recorded = select(Attendance.member_id).where(Attendance.activity_id == activity.id)
    missing = (await session.execute(
        select(Member.id, Member.group_id).where(audience_clause(activity), Member.id.not_in(recorded))  # type: ignore[union-attr]
    )).all()
    rows = [
        {"activity_id": activity.id, "member_id": member_id, "group_id": group_id,
         "status": AttendanceStatus.LEAVE if member_id in approved else AttendanceStatus.ABSENT,
         "method": SignInMethod.CLOSE, "leave_id": approved.get(member_id), "signed_in_at": None,
         "recorded_at": now, "updated_at": now}
        for member_id, group_id in missing
    ]
    for start in range(0, len(rows), 500):  # bounded statements: SQLite allows 32k bound parameters
        statement = insert_for(session, Attendance).values(rows[start:start + 500])
        await session.execute(statement.on_conflict_do_nothing(index_elements=["activity_id", "member_id"]))
    activity.status, activity.closed_at, activity.updated_at = ActivityStatus.CLOSED, now, now
    log.info("activity %s closed: %d not signed in (%d on leave)", activity.id, len(rows),
             sum(1 for row in rows if row["status"] is AttendanceStatus.LEAVE))
    return True


async def close_due_activities(session: AsyncSession, now: datetime) -> list[int]:
    """Close every scheduled activity whose window has closed (the safety net of the close task)."""
    due = (await session.scalars(select(Activity).where(
        Activity.status == ActivityStatus.SCHEDULED, Activity.signin_closes_at <= now
    ).order_by(Activity.id))).all()
    return [activity.id or 0 for activity in due if await close_attendance(session, activity, now=now)]


async def tally(session: AsyncSession, activity: Activity) -> Tally:
    counts = dict((await session.execute(
        select(Attendance.status, func.count()).where(Attendance.activity_id == activity.id)
        .group_by(Attendance.status)
    )).all())
    expected = await audience_size(session, activity) if activity.status is ActivityStatus.SCHEDULED \
        else sum(counts.values())
    return Tally(expected=expected, present=counts.get(AttendanceStatus.PRESENT, 0),
                 late=counts.get(AttendanceStatus.LATE, 0), leave=counts.get(AttendanceStatus.LEAVE, 0),
                 absent=counts.get(AttendanceStatus.ABSENT, 0))


async def correct_attendance(
    session: AsyncSession, activity: Activity, member: Member, *, status: AttendanceStatus, reason: str,
    by: Member | None, now: datetime,
) -> Attendance:
    """A secretary's correction, with its reason kept in ``attendance_correction``."""
    if by is not None and not can(by, Action.RECORD_ATTENDANCE, group_id=member.group_id):
        raise Refusal.forbidden("attendance.error.forbidden")
    reason = reason.strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise Refusal.invalid("attendance.error.reason", field="reason", min=REASON_MIN, max=REASON_MAX)
    if activity.status is ActivityStatus.CANCELLED:
        raise Refusal.conflict("activity.error.not_scheduled", code="not_scheduled")
    row = await attendance_of(session, activity.id or 0, member.id or 0)
    if row is None:
        row = Attendance(activity_id=activity.id, member_id=member.id, group_id=member.group_id, status=status,
                         method=SignInMethod.MANUAL, recorded_at=now, updated_at=now)
        session.add(row)
        await session.flush()
        previous = "none"
    else:
        previous = row.status.value
    if previous == status.value:
        raise Refusal.conflict("attendance.error.unchanged", code="unchanged")
    session.add(AttendanceCorrection(attendance_id=row.id, from_status=previous, to_status=status.value,
                                     reason=reason, by_id=by.id if by else None, by_name=by.name if by else "",
                                     at=now))
    row.status, row.updated_at = status, now
    if status in ATTENDED and row.signed_in_at is None:
        row.signed_in_at = now
    await audit.record(session, action="attendance.correct", object_type="attendance", object_id=row.id,
                       group_id=member.group_id, by=by, before={"status": previous}, after={"status": status},
                       summary=f"{member.name} · {activity.title}：{reason}", at=now)
    return row
