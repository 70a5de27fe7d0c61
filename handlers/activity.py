"""``活动`` / ``activities``: a member's upcoming meetings and activities; ``新建活动``: organisers create a
quick activity in chat; ``大屏 N``: the venue screen's link for activity N of the list.

```mermaid
stateDiagram-v2
    [*] --> [*]: 活动 / the next 14 days (audience, or organised by me), with my state; organisers: how to create
    [*] --> [*]: 大屏 N (organiser of activity N) / the venue screen's link
    [*] --> [*]: 新建活动, not a group leader or secretary / refused
    [*] --> type: 新建活动 / 创建活动
    type --> title: a number or a name of the 10 types
    title --> start: 1–100 characters
    start --> venue: a time in the future (11月25日 9:00, 明天下午2点半 …, local time)
    venue --> place: 1–200 characters
    place --> audience: a location message (geofence, default radius) or 跳过 (secretaries)
    place --> preview: the same (group leaders: their own group, automatically)
    audience --> preview: 全体 (unlimited scope only) or group numbers "1 3" (groups within reach)
    preview --> [*]: 确认 / created: the sign-in window's times, the screen's link and 大屏 N
    preview --> start: 确认, but the start has passed meanwhile / a new time, then the preview again
    preview --> [*]: 取消 / nothing created
```

Who organises is :func:`bot.domain.activities.check_reach`'s rule: a group leader for their own group, a secretary
for the groups in scope (everything when unlimited). A group leader's activity belongs to and invites their
group; a secretary's belongs to the first group chosen (or to the office for 全体). ``create_activity``
checks the reach again when it stores the row.

``大屏 N`` counts in the list ``活动`` shows, recomputed when asked (the list is read-only, so no
conversation is kept open for it); the answer names the activity, so a list that moved is noticed.

**Scheduling.** ``create_activity`` schedules the close of the sign-in window, the meeting notice (sent at
once), the reminders and the last call in this message's transaction (:mod:`bot.domain.notices`); the handler sets
``ctx.pushed`` and ``ctx.scheduled`` so the dispatcher wakes the delivery worker and re-arms the scheduler
after the commit. The screen's link is signed with the key loaded when the app starts, so making it here
opens no second transaction.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.events import Kind
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import activities as ops
from bot.domain.authz import Action, can, groups_within_reach
from bot.domain.links import screen_url
from bot.domain.notices import outbox_for
from handlers.kit.choices import numbered, pick
from handlers.kit.timeparse import parse_when
from models.activity import (
    Activity,
    ActivityStatus,
    ActivityType,
    Attendance,
    AttendanceStatus,
    Audience,
    LeaveRequest,
    LeaveStatus,
)
from models.member import LiaisonGroup, Member, MemberStatus, Role


class NewActivity(StatesGroup):
    type = State()
    title = State()
    start = State()
    venue = State()
    place = State()
    audience = State()
    preview = State()


router = Router("activity")
router.describe("活动", "activity_chat.help.list")
router.describe("新建活动", "activity_chat.help.new", audience="secretary")

LIST_WORDS = ("活动", "activities", "我的活动", "近期活动")
NEW_WORDS = ("新建活动", "创建活动", "new activity")
_NEW = frozenset(normalise(word) for word in NEW_WORDS)
SKIP_WORDS = frozenset(normalise(word) for word in ("跳过", "不需要", "skip"))
ALL_WORDS = frozenset(normalise(word) for word in ("全体", "全体委员", "所有", "all"))
CONFIRM_WORDS = frozenset(normalise(word) for word in ("确认", "确定", "创建", "confirm", "yes"))
LIST_DAYS = 14
LIST_MAX = 10
TYPES = list(ActivityType)
WEEKDAYS = "一二三四五六日"


# --- the list -----------------------------------------------------------------------------------------------

@router.command(*LIST_WORDS)
async def show_list(ctx: Context) -> str:
    member = _active(ctx)
    if member is None:
        return ctx.t("activity_chat.not_member")
    rows = await upcoming_for(ctx, member)
    organiser = _is_organiser(member)
    if not rows:
        lines = [ctx.t("activity_chat.list.empty", days=LIST_DAYS)]
    else:
        states = await _states_of(ctx, member, [activity for activity, _ in rows])
        lines = [ctx.t("activity_chat.list.title", days=LIST_DAYS)]
        for number, (activity, invited) in enumerate(rows[:LIST_MAX], start=1):
            state = states.get(activity.id or 0, "waiting") if invited else "organiser"
            lines.append(ctx.t(
                "activity_chat.list.item", number=number, type=ctx.t(f"activity.type.{activity.type.value}"),
                title=activity.title, when=_when(ctx, activity.starts_at), venue=activity.venue or "-",
                state=ctx.t(f"activity_chat.state.{state}"),
            ))
        if len(rows) > LIST_MAX:
            lines.append(ctx.t("activity_chat.list.more", shown=LIST_MAX))
        if any(invited for _, invited in rows):
            lines.append(ctx.t("activity_chat.list.member_how"))
    if organiser:
        lines.append(ctx.t("activity_chat.list.organiser_how" if rows else "activity_chat.list.organiser_new"))
    return "\n".join(lines)


async def upcoming_for(ctx: Context, member: Member) -> list[tuple[Activity, bool]]:
    """Scheduled activities starting within 14 days (or whose sign-in is still open) that expect the member
    or that the member may manage, soonest first, each with "the member is expected"."""
    now = ctx.now
    candidates = (await ctx.session.scalars(
        select(Activity).where(
            Activity.status == ActivityStatus.SCHEDULED,
            Activity.signin_closes_at >= now,
            Activity.starts_at <= now + timedelta(days=LIST_DAYS),
        ).order_by(Activity.starts_at, Activity.id)
    )).all()
    rows = []
    for activity in candidates:
        invited = ops.in_audience(member, activity)
        if invited or _manages(member, activity):
            rows.append((activity, invited))
    return rows


async def _states_of(ctx: Context, member: Member, activities: list[Activity]) -> dict[int, str]:
    """The member's own state per activity: signed_in / late / leave / leave_pending (else waiting)."""
    ids = [activity.id for activity in activities]
    states: dict[int, str] = {}
    leaves = (await ctx.session.execute(
        select(LeaveRequest.activity_id, LeaveRequest.status).where(
            LeaveRequest.member_id == member.id, LeaveRequest.activity_id.in_(ids),  # type: ignore[attr-defined]
            LeaveRequest.status.in_(ops.OPEN_LEAVE),  # type: ignore[attr-defined]
        )
    )).all()
    for activity_id, status in leaves:
        states[activity_id] = "leave" if status is LeaveStatus.APPROVED else "leave_pending"
    rows = (await ctx.session.execute(
        select(Attendance.activity_id, Attendance.status).where(
            Attendance.member_id == member.id, Attendance.activity_id.in_(ids),  # type: ignore[attr-defined]
        )
    )).all()
    for activity_id, status in rows:
        if status in ops.ATTENDED:
            states[activity_id] = "late" if status is AttendanceStatus.LATE else "signed_in"
    return states


# --- the venue screen -------------------------------------------------------------------------------------

@router.regex(r"^(?:大屏|screen)\s*(\d*)$")
async def screen_link(ctx: Context) -> str:
    member = _active(ctx)
    if member is None:
        return ctx.t("activity_chat.not_member")
    if not _is_organiser(member):
        return ctx.t("activity_chat.screen.forbidden_role")
    rows = await upcoming_for(ctx, member)
    if not rows:
        return ctx.t("activity_chat.screen.none", days=LIST_DAYS)
    typed = ctx.match.group(1) if ctx.match else ""
    count = min(len(rows), LIST_MAX)
    if not typed or not 1 <= int(typed) <= count:
        return ctx.t("activity_chat.screen.bad_number", count=count)
    activity = rows[int(typed) - 1][0]
    if not _manages(member, activity):
        return ctx.t("activity_chat.screen.forbidden", title=activity.title)
    url = await screen_url(ctx.services, activity)
    return ctx.t("activity_chat.screen.link", title=activity.title, url=url)


# --- answers to the notice ----------------------------------------------------------------------------------

@router.regex(r"^(?:回执|receipts?)\s*(\d*)$")
async def receipts(ctx: Context) -> str:
    """``回执 N``: who confirmed, asked for leave or did not answer, for activity N of the list (organisers of it).
    The texts and the rendering live with the other notice reports in :mod:`handlers.broadcast`."""
    from handlers.broadcast import answers_text  # imported here: handlers.broadcast imports this module

    member = _active(ctx)
    if member is None:
        return ctx.t("activity_chat.not_member")
    if not _is_organiser(member):
        return ctx.t("broadcast_chat.receipts.forbidden_role")
    rows = await upcoming_for(ctx, member)
    if not rows:
        return ctx.t("broadcast_chat.receipts.none", days=LIST_DAYS)
    typed = ctx.match.group(1) if ctx.match else ""
    count = min(len(rows), LIST_MAX)
    if not typed or not 1 <= int(typed) <= count:
        return ctx.t("broadcast_chat.receipts.bad_number", count=count)
    activity = rows[int(typed) - 1][0]
    if not _manages(member, activity):
        return ctx.t("broadcast_chat.receipts.forbidden", title=activity.title)
    return await answers_text(ctx, activity, _when(ctx, activity.starts_at))


# --- creating: the steps ------------------------------------------------------------------------------------

@router.command(*NEW_WORDS)
async def start_new(ctx: Context) -> str:
    member = _active(ctx)
    if member is None:
        return ctx.t("activity_chat.not_member")
    if not _is_organiser(member):
        return ctx.t("activity_chat.new.forbidden")
    ctx.conv.finish()  # a fresh start forgets any other conversation's data
    ctx.conv.set(NewActivity.type)
    return ctx.t("activity_chat.new.ask_type", choices=numbered(_type_names(ctx)))


@router.on_cancel(NewActivity)
async def cancelled(ctx: Context) -> str:
    return ctx.t("activity_chat.new.cancelled")


@router.state(NewActivity.type)
async def got_type(ctx: Context) -> str:
    if (interrupted := await _interrupted(ctx)) is not None:
        return interrupted
    names = _type_names(ctx)
    index = pick(ctx.text, names)
    if index is None:
        return ctx.re_ask("activity_chat.new.bad_type", text=ctx.text[:20], count=len(names),
                          choices=numbered(names))
    ctx.conv.set(NewActivity.title, type=TYPES[index].value)
    return ctx.t("activity_chat.new.ask_title", max=ops.TITLE_MAX)


@router.state(NewActivity.title)
async def got_title(ctx: Context) -> str:
    if (interrupted := await _interrupted(ctx)) is not None:
        return interrupted
    title = " ".join(ctx.text.split())
    if not title or len(title) > ops.TITLE_MAX:
        return ctx.re_ask("activity_chat.new.bad_title", max=ops.TITLE_MAX, length=len(title))
    ctx.conv.set(NewActivity.start, title=title)
    return ctx.t("activity_chat.new.ask_start")


@router.state(NewActivity.start)
async def got_start(ctx: Context) -> str:
    if (interrupted := await _interrupted(ctx)) is not None:
        return interrupted
    zone = _zone(ctx)
    local_now = ctx.now.astimezone(zone)
    parsed = parse_when(ctx.text, local_now.date())
    if parsed is None:
        return ctx.re_ask("activity_chat.new.bad_start", text=ctx.text[:30])
    starts_at = parsed.replace(tzinfo=zone)
    if starts_at <= local_now:
        return ctx.re_ask("activity_chat.new.past_start", when=_when(ctx, starts_at, year=True))
    ctx.conv.set(NewActivity.venue, starts_at=starts_at.astimezone(UTC).isoformat())
    if "audience" in ctx.conv.data:  # a new time for a preview that waited past its start
        return await _preview(ctx)
    return ctx.t("activity_chat.new.ask_venue", when=_when(ctx, starts_at, year=True), max=ops.VENUE_MAX)


@router.state(NewActivity.venue)
async def got_venue(ctx: Context) -> str:
    if (interrupted := await _interrupted(ctx)) is not None:
        return interrupted
    venue = " ".join(ctx.text.split())
    if not venue or len(venue) > ops.VENUE_MAX:
        return ctx.re_ask("activity_chat.new.bad_venue", max=ops.VENUE_MAX)
    ctx.conv.set(NewActivity.place, venue=venue)
    return ctx.t("activity_chat.new.ask_place", radius=_radius(ctx))


@router.state(NewActivity.place, kinds=(Kind.LOCATION,))
async def got_location(ctx: Context) -> str:
    member = _organiser(ctx)
    if member is None:
        ctx.conv.finish()
        return ctx.t("activity_chat.new.forbidden")
    latitude, longitude = ctx.event.latitude, ctx.event.longitude
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return ctx.re_ask("activity_chat.new.bad_place", radius=_radius(ctx))
    ctx.conv.update(latitude=latitude, longitude=longitude, radius_m=_radius(ctx))
    note = ctx.t("activity_chat.new.place_noted", radius=_radius(ctx))
    return await _after_place(ctx, member, note)


@router.state(NewActivity.place)
async def got_place_text(ctx: Context) -> str:
    if (interrupted := await _interrupted(ctx)) is not None:
        return interrupted
    member = _organiser(ctx)
    assert member is not None  # checked by _interrupted
    if normalise(ctx.text) not in SKIP_WORDS:
        return ctx.re_ask("activity_chat.new.bad_place", radius=_radius(ctx))
    ctx.conv.update(latitude=None, longitude=None, radius_m=None)
    return await _after_place(ctx, member, "")


async def _after_place(ctx: Context, member: Member, note: str) -> str:
    """Group leaders (one group within reach, no unlimited scope): their group, straight to the preview."""
    if member.role is Role.GROUP_LEADER and member.group_id is not None:
        ctx.conv.update(audience=Audience.GROUPS.value, group_ids=[member.group_id], group_id=member.group_id)
        return _joined(note, await _preview(ctx))
    ctx.conv.set(NewActivity.audience)
    return _joined(note, await _ask_audience(ctx, member))


@router.state(NewActivity.audience)
async def got_audience(ctx: Context) -> str:
    if (interrupted := await _interrupted(ctx)) is not None:
        return interrupted
    member = _organiser(ctx)
    assert member is not None
    reach = groups_within_reach(member, Action.MANAGE_ACTIVITY)
    groups = await _groups_within(ctx, reach)
    typed = normalise(ctx.text)
    if reach is None and typed in ALL_WORDS:
        ctx.conv.update(audience=Audience.ALL.value, group_ids=[], group_id=None)
        return await _preview(ctx)
    chosen = choose_groups(ctx.text, [group.name for group in groups])
    if not chosen:
        return ctx.re_ask("activity_chat.new.bad_audience", text=ctx.text[:20], choices=_group_choices(groups),
                          all=ctx.t("activity_chat.new.or_all") if reach is None else "")
    ids = [groups[index].id for index in chosen]
    ctx.conv.update(audience=Audience.GROUPS.value, group_ids=ids, group_id=ids[0])
    return await _preview(ctx)


@router.state(NewActivity.preview)
async def got_confirmation(ctx: Context) -> str:
    if (interrupted := await _interrupted(ctx)) is not None:
        return interrupted
    if normalise(ctx.text) not in CONFIRM_WORDS:
        return ctx.re_ask("activity_chat.new.preview_how")
    member = _organiser(ctx)
    assert member is not None
    draft = _draft(ctx)
    if draft.starts_at <= ctx.now:  # the preview waited past the start
        ctx.conv.set(NewActivity.start)
        return ctx.t("activity_chat.new.past_start", when=_when(ctx, draft.starts_at, year=True))
    try:
        activity = await ops.create_activity(ctx.session, draft, settings=ctx.services.settings.activities,
                                             by=member, now=ctx.now,
                                             outbox=await outbox_for(ctx.services, ctx.session))
    except ops.ActivityError as refused:
        ctx.conv.finish()
        return ctx.t(refused.key, **refused.values)
    ctx.conv.finish()
    ctx.pushed = ctx.scheduled = True  # the meeting notice was queued; close and reminder tasks were scheduled
    rows = await upcoming_for(ctx, member)
    number = next((n for n, (row, _) in enumerate(rows, start=1) if row.id == activity.id), None)
    url = await screen_url(ctx.services, activity)  # the signing key is loaded at start: no second transaction
    screen = ctx.t("activity_chat.new.screen_how", number=number, url=url) if number and number <= LIST_MAX \
        else ctx.t("activity_chat.new.screen_later", url=url)
    return ctx.t(
        "activity_chat.new.created", type=ctx.t(f"activity.type.{activity.type.value}"), title=activity.title,
        when=_when(ctx, activity.starts_at, year=True), opens=_clock(ctx, activity.signin_opens_at, activity),
        late=_clock(ctx, activity.late_after, activity), closes=_clock(ctx, activity.signin_closes_at, activity),
        screen=screen,
    )


# --- creating: helpers ----------------------------------------------------------------------------------

async def _interrupted(ctx: Context) -> str | None:
    """新建活动 typed inside the flow starts it again; a member who lost the right to organise is stopped."""
    if normalise(ctx.text) in _NEW or _organiser(ctx) is None:
        return await start_new(ctx)
    return None


async def _ask_audience(ctx: Context, member: Member) -> str:
    reach = groups_within_reach(member, Action.MANAGE_ACTIVITY)
    groups = await _groups_within(ctx, reach)
    key = "activity_chat.new.ask_audience_all" if reach is None else "activity_chat.new.ask_audience"
    return ctx.t(key, choices=_group_choices(groups))


async def _preview(ctx: Context) -> str:
    draft = _draft(ctx)
    probe = Activity(audience=draft.audience, audience_ids=draft.audience_ids)
    count = await ops.audience_size(ctx.session, probe)
    if draft.audience is Audience.ALL:
        audience = ctx.t("activity_chat.new.audience_all")
    else:
        names = dict((await ctx.session.execute(
            select(LiaisonGroup.id, LiaisonGroup.name).where(LiaisonGroup.id.in_(draft.audience_ids))  # type: ignore[union-attr]
        )).all())
        audience = "、".join(names.get(group_id, "?") for group_id in draft.audience_ids)
    place = ctx.t("activity_chat.new.place_set", radius=draft.radius_m) if draft.radius_m \
        else ctx.t("activity_chat.new.place_none")
    ctx.conv.set(NewActivity.preview)
    return ctx.t(
        "activity_chat.new.preview", type=ctx.t(f"activity.type.{draft.type.value}"), title=draft.title,
        when=_when(ctx, draft.starts_at, year=True), venue=draft.venue, place=place, audience=audience, count=count,
    )


def _draft(ctx: Context) -> ops.ActivityDraft:
    data = ctx.conv.data
    return ops.ActivityDraft(
        type=ActivityType(data["type"]), title=data["title"], starts_at=datetime.fromisoformat(data["starts_at"]),
        venue=data["venue"], latitude=data.get("latitude"), longitude=data.get("longitude"),
        radius_m=data.get("radius_m"), audience=Audience(data.get("audience", Audience.ALL.value)),
        audience_ids=[int(group) for group in data.get("group_ids", [])], group_id=data.get("group_id"),
    )


async def _groups_within(ctx: Context, reach: frozenset[int] | None) -> list[LiaisonGroup]:
    query = select(LiaisonGroup).order_by(LiaisonGroup.id)
    if reach is not None:
        query = query.where(LiaisonGroup.id.in_(reach))  # type: ignore[union-attr]
    return list((await ctx.session.scalars(query)).all())


def _group_choices(groups: list[LiaisonGroup]) -> str:
    return numbered([group.name for group in groups])


def choose_groups(text: str, names: list[str]) -> list[int]:
    """``1 3``, ``1、3``, ``1,3`` or names: the chosen indexes in ``names`` (in the order typed, without
    repeats); empty when any part chooses nothing."""
    parts = [part for part in re.split(r"[\s,，、;；和]+", normalise(text)) if part]
    chosen: list[int] = []
    for part in parts:
        index = pick(part, names)
        if index is None:
            return []
        if index not in chosen:
            chosen.append(index)
    return chosen


# --- small helpers ------------------------------------------------------------------------------------------

def _active(ctx: Context) -> Member | None:
    member = ctx.member
    return member if member is not None and member.status is MemberStatus.ACTIVE else None


def _is_organiser(member: Member | None) -> bool:
    return groups_within_reach(member, Action.MANAGE_ACTIVITY) != frozenset()


def _organiser(ctx: Context) -> Member | None:
    member = _active(ctx)
    return member if _is_organiser(member) else None


def _manages(member: Member, activity: Activity) -> bool:
    """May organise it: its group within reach, or (an office activity) every group within reach."""
    if activity.group_id is None:
        return groups_within_reach(member, Action.MANAGE_ACTIVITY) is None
    return can(member, Action.MANAGE_ACTIVITY, group_id=activity.group_id)


def _type_names(ctx: Context) -> list[str]:
    return [ctx.t(f"activity.type.{kind.value}") for kind in TYPES]


def _radius(ctx: Context) -> int:
    return ctx.services.settings.activities.default_radius_m


def _zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.services.settings.scheduler.timezone)  # the committee's local time


def _when(ctx: Context, moment: datetime, *, year: bool = False) -> str:
    """``11月25日（周三）09:00`` in local time, with the year when asked or when it is not this year's."""
    local = moment.astimezone(_zone(ctx))
    shown_year = year or local.year != ctx.now.astimezone(_zone(ctx)).year
    prefix = f"{local.year}年" if shown_year else ""
    return f"{prefix}{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def _clock(ctx: Context, moment: datetime, activity: Activity) -> str:
    """A moment of the sign-in window: ``08:00`` on the start's day, else ``11月24日 20:00``."""
    local, start = moment.astimezone(_zone(ctx)), activity.starts_at.astimezone(_zone(ctx))
    return f"{local:%H:%M}" if local.date() == start.date() else f"{local.month}月{local.day}日 {local:%H:%M}"


def _joined(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)
