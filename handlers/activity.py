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
    [*] --> [*]: 回执 N (organiser of activity N) / who confirmed, asked for leave, did not answer the notice
```

``新建活动`` typed at any step starts again (``reentry=True``). The audience step is
:data:`handlers.kit.audience.ACTIVITY_PICKER`'s "by group" answer (the picker of 群发 and 新建学习, limited by
:data:`Action.MANAGE_ACTIVITY`), asked in this module's words.

Who organises is :func:`bot.domain.activities.check_reach`'s rule: a group leader for their own group, a secretary
for the groups in scope (everything when unlimited). A group leader's activity belongs to and invites their
group; a secretary's belongs to the first group chosen (or to the office for 全体). ``create_activity``
checks the reach again when it stores the row.

``大屏 N`` and ``回执 N`` count in the list ``活动`` shows, recomputed when asked (the list is read-only, so no
conversation is kept open for it); the answer names the activity, so a list that moved is noticed.

**Scheduling.** ``create_activity`` schedules the close of the sign-in window, the meeting notice (sent at
once), the reminders and the last call in this message's transaction (:mod:`bot.domain.notices`); the handler sets
``ctx.pushed`` and ``ctx.scheduled`` so the dispatcher wakes the delivery worker and re-arms the scheduler
after the commit. The screen's link is signed with the key loaded when the app starts, so making it here
opens no second transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.events import Kind
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import activities as ops
from bot.domain.audience import members_clause
from bot.domain.authz import Action, can, groups_within_reach
from bot.domain.links import screen_url
from bot.domain.notices import answers_for, outbox_for
from bot.domain.refusals import Refusal
from handlers.kit.audience import ACTIVITY_PICKER, cut_names
from handlers.kit.choices import numbered, pick
from handlers.kit.dates import day_time, hhmm, weekday_when
from handlers.kit.timeparse import parse_when
from handlers.kit.words import CONFIRM, SKIP, answer
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
from models.member import Identity, LiaisonGroup, Member, MemberStatus, Role


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
CONFIRM_WORDS = CONFIRM | answer("创建")  # the preview says 回复“确认”创建活动: 创建 is taken at its word
LIST_DAYS = 14
LIST_MAX = 10
TYPES = list(ActivityType)


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
    """``回执 N``: who confirmed, asked for leave or did not answer, for activity N of the list (organisers of it);
    the texts are the other notice reports' (``broadcast_chat.receipts.*``)."""
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
    return await _answers_text(ctx, activity)


async def _answers_text(ctx: Context, activity: Activity) -> str:
    """Who confirmed, who asked for leave, who did not answer: names per answer, long lines cut with a count;
    and how many of the silent are not bound (they never received the notice)."""
    answers = await answers_for(ctx.session, activity)
    clause = members_clause(activity.audience, activity.audience_ids or [])
    names = dict((await ctx.session.execute(select(Member.id, Member.name).where(clause))).all())
    bound = set((await ctx.session.scalars(
        select(Identity.member_id).join(Member, Member.id == Identity.member_id).where(clause).distinct()
    )).all())
    total = len(answers.attend) + len(answers.leave) + len(answers.no_answer)
    lines = [ctx.t("broadcast_chat.receipts.head", title=activity.title, when=_when(ctx, activity.starts_at),
                   total=total)]
    for key, ids in (("attend", answers.attend), ("leave", answers.leave), ("no_answer", answers.no_answer)):
        lines.append(ctx.t(f"broadcast_chat.receipts.{key}", count=len(ids), names=_names(ctx, ids, names)))
    unbound = sum(1 for member_id in answers.no_answer if member_id not in bound)
    if unbound:
        lines.append(ctx.t("broadcast_chat.receipts.unbound", count=unbound))
    return "\n".join(lines)


def _names(ctx: Context, ids: Sequence[int], names: dict[int, str]) -> str:
    if not ids:
        return ctx.t("broadcast_chat.receipts.nobody")
    return cut_names(ctx, [names.get(member_id, "?") for member_id in ids])


# --- creating: the steps ------------------------------------------------------------------------------------

@router.command(*NEW_WORDS, reentry=True)
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
    if (stopped := await _stopped(ctx)) is not None:
        return stopped
    names = _type_names(ctx)
    index = pick(ctx.text, names)
    if index is None:
        return ctx.re_ask("activity_chat.new.bad_type", text=ctx.text[:20], count=len(names),
                          choices=numbered(names))
    ctx.conv.set(NewActivity.title, type=TYPES[index].value)
    return ctx.t("activity_chat.new.ask_title", max=ops.TITLE_MAX)


@router.state(NewActivity.title)
async def got_title(ctx: Context) -> str:
    if (stopped := await _stopped(ctx)) is not None:
        return stopped
    title = " ".join(ctx.text.split())
    if not title or len(title) > ops.TITLE_MAX:
        return ctx.re_ask("activity_chat.new.bad_title", max=ops.TITLE_MAX, length=len(title))
    ctx.conv.set(NewActivity.start, title=title)
    return ctx.t("activity_chat.new.ask_start")


@router.state(NewActivity.start)
async def got_start(ctx: Context) -> str:
    if (stopped := await _stopped(ctx)) is not None:
        return stopped
    local_now = ctx.local_now
    parsed = parse_when(ctx.text, local_now.date())
    if parsed is None:
        return ctx.re_ask("activity_chat.new.bad_start", text=ctx.text[:30])
    starts_at = parsed.replace(tzinfo=ctx.zone)
    if starts_at <= local_now:
        return ctx.re_ask("activity_chat.new.past_start", when=_when(ctx, starts_at, year=True))
    ctx.conv.set(NewActivity.venue, starts_at=starts_at.astimezone(UTC).isoformat())
    if "audience" in ctx.conv.data:  # a new time for a preview that waited past its start
        return await _preview(ctx)
    return ctx.t("activity_chat.new.ask_venue", when=_when(ctx, starts_at, year=True), max=ops.VENUE_MAX)


@router.state(NewActivity.venue)
async def got_venue(ctx: Context) -> str:
    if (stopped := await _stopped(ctx)) is not None:
        return stopped
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
    if (stopped := await _stopped(ctx)) is not None:
        return stopped
    member = _organiser(ctx)
    assert member is not None  # checked by _stopped
    if normalise(ctx.text) not in SKIP:
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
    if (stopped := await _stopped(ctx)) is not None:
        return stopped
    member = _organiser(ctx)
    assert member is not None
    chosen = await ACTIVITY_PICKER.answer_groups(ctx, member)
    if chosen is None:
        everyone = ACTIVITY_PICKER.reach(member) is None
        return ctx.re_ask("activity_chat.new.bad_audience", text=ctx.text[:20],
                          choices=await _group_choices(ctx, member),
                          all=ctx.t("activity_chat.new.or_all") if everyone else "")
    # a secretary's activity belongs to the first group chosen (to the office for 全体)
    ctx.conv.update(audience=chosen.audience.value, group_ids=chosen.ids, group_id=next(iter(chosen.ids), None))
    return await _preview(ctx)


@router.state(NewActivity.preview)
async def got_confirmation(ctx: Context) -> str:
    if (stopped := await _stopped(ctx)) is not None:
        return stopped
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
    except Refusal as refused:
        ctx.conv.finish()
        return refused.render(ctx.services.texts)
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

async def _stopped(ctx: Context) -> str | None:
    """A member who lost the right to organise during the flow is refused, as 新建活动 would refuse them."""
    return await start_new(ctx) if _organiser(ctx) is None else None


async def _ask_audience(ctx: Context, member: Member) -> str:
    everyone = ACTIVITY_PICKER.reach(member) is None
    key = "activity_chat.new.ask_audience_all" if everyone else "activity_chat.new.ask_audience"
    return ctx.t(key, choices=await _group_choices(ctx, member))


async def _group_choices(ctx: Context, member: Member) -> str:
    """The groups within the organiser's reach, numbered."""
    _, names = await ACTIVITY_PICKER.options(ctx, member, Audience.GROUPS)
    return numbered(names)


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


def _when(ctx: Context, moment: datetime, *, year: bool = False) -> str:
    """``11月25日（周三）09:00`` in local time, with the year when asked or when it is not this year's."""
    return weekday_when(ctx, moment, year=True if year else None)


def _clock(ctx: Context, moment: datetime, activity: Activity) -> str:
    """A moment of the sign-in window: ``08:00`` on the start's day, else ``11月24日 20:00``."""
    same_day = ctx.local(moment).date() == ctx.local(activity.starts_at).date()
    return hhmm(ctx, moment) if same_day else day_time(ctx, moment)


def _joined(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)
