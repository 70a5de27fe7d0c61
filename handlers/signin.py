"""``签到`` / ``signin`` (menu key ``SIGNIN``): a member signs in to a meeting or activity at the venue.

Three ways, any of them: type the six digits shown on the venue screen (``签到 123456``), scan the
screen's QR code (its scene is ``signin:<activity id>:<code>``; a SCAN event, the menu scanner's result,
or a follow through the code), or send a location inside the activity's geofence. The rules (window,
rotating code, audience, late mark, one row per member) live in :mod:`bot.domain.activities`.

```mermaid
stateDiagram-v2
    [*] --> [*]: not registered / "send 注册 first"
    [*] --> [*]: 签到, nothing open / when the next opens today, or nothing to sign in to
    [*] --> code: 签到, an activity open / the ways to sign in
    code --> [*]: 123456 / signed in (late?) or why not
    [*] --> [*]: 签到 123456 · scan · location inside / signed in (late?) or why not
    [*] --> need_location: code or scan right, require_location / "send your location"
    need_location --> need_location: a location outside / distance and radius
    need_location --> [*]: a location inside / signed in
    [*] --> need_code: a location inside, require_location / "send the code"
    need_code --> [*]: 123456 · 签到 123456 · scan / signed in
```

Scans and locations are routes without a state, so they work in the middle of another conversation
(a report draft, a registration): a sign-in that completes at once leaves that conversation alone, and
a half-done one (the code is right, the location is still needed) is kept as a side note
(``conv.data["signin"]``) beside it instead of taking it over. A bare six-digit number is a code only
in ``code`` and ``need_code``: elsewhere it is too ambiguous. A fresh ``签到`` starts over. Everything
is idempotent: the attendance row is written with INSERT … ON CONFLICT DO NOTHING, and WeChat's
retries are answered from the dispatcher's record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.chat.context import Context
from bot.chat.events import Kind
from bot.chat.router import Router, State, StatesGroup
from bot.domain.activities import (
    ATTENDED,
    SCENE_PREFIX,
    Outcome,
    SignInResult,
    attendance_of,
    code_is_current,
    find_by_code,
    in_audience,
    member_activities_around,
    parse_code,
    parse_scene,
    sign_in,
    sign_in_by_location,
)
from handlers.kit.dates import day, hhmm
from models.activity import Activity, ActivityStatus, SignInMethod
from models.member import Member, MemberStatus


class SignIn(StatesGroup):
    code = State()  # after a bare 签到: the next six digits are the code
    need_location = State()  # the code was right; the activity wants the member's location too
    need_code = State()  # the location was right; the activity wants the code too


router = Router("signin")
router.describe("签到", "signin.help")

START_WORDS = ("签到", "signin", "sign in", "我要签到")
# Matched on the normalised text (full-width folded, lower case, single spaces); parse_code reads the digits.
CODE_COMMAND = r"^(?:签到|signin|sign in)\s?:?\s?\d[\d -]*$"
BARE_DIGITS = r"^\d[\d -]*$"
PENDING = "signin"  # conversation data: the half of a two-step sign-in already checked
# The two halves of a require_location sign-in belong together only for a short while.
PENDING_FOR = timedelta(minutes=10)


# --- the routes -----------------------------------------------------------------------------------


@router.command(*START_WORDS)
@router.click("SIGNIN")
async def how_to_sign_in(ctx: Context) -> str:
    """A bare 签到: how to sign in to what is open now, or when the next one opens today."""
    member, refusal = _signer(ctx)
    if member is None:
        return refusal
    _forget(ctx)  # a fresh 签到 starts over
    now = ctx.now
    around = await member_activities_around(ctx.session, member, now, ahead=_end_of_day(ctx) - now)
    open_now = [activity for activity in around if activity.signin_opens_at <= now]
    if not open_now:
        if around:
            first = around[0]
            return ctx.t("signin.opens_later", title=first.title, when=_day(ctx, first.signin_opens_at),
                         time=hhmm(ctx, first.signin_opens_at))
        return ctx.t("signin.nothing_now")
    waiting: list[Activity] = []
    done: list[SignInResult] = []
    for activity in open_now:
        row = await attendance_of(ctx.session, activity.id or 0, member.id or 0)
        if row is not None and row.status in ATTENDED:
            done.append(SignInResult(Outcome.ALREADY, activity, row))
        else:
            waiting.append(activity)
    if not waiting:
        return _answer(ctx, done[0])
    # 签到 (typed or from the menu) starts this conversation like any command; a report draft stays saved.
    ctx.conv.finish()
    ctx.conv.set(SignIn.code)
    return _ways(ctx, waiting)


@router.regex(CODE_COMMAND)
async def typed_code(ctx: Context) -> str:
    """``签到 123456`` in any form, outside a conversation or inside this one."""
    return await _code(ctx)


@router.regex(BARE_DIGITS, state=SignIn.code)
@router.regex(BARE_DIGITS, state=SignIn.need_code)
async def bare_code(ctx: Context) -> str:
    return await _code(ctx)


@router.scene(SCENE_PREFIX)
async def scanned(ctx: Context) -> str:
    """The screen's QR code: scanned by a follower, or followed through (then the welcome comes first)."""
    answer = await _scan(ctx)
    if ctx.event.kind is not Kind.SUBSCRIBE:
        return answer
    welcome = ctx.t("welcome.back", name=ctx.member.name) if ctx.member else ctx.t("welcome.new")
    return f"{welcome}\n\n{answer}"


@router.event(Kind.LOCATION)
async def located(ctx: Context) -> str:
    """A location the member chose to send (never the periodic LOCATION report, which stays silent)."""
    member, refusal = _signer(ctx)
    if member is None:
        return refusal
    latitude, longitude = ctx.event.latitude, ctx.event.longitude
    if latitude is None or longitude is None:
        return ctx.t("signin.no_location_activity")
    pending = _pending(ctx, "code")
    result = await sign_in_by_location(ctx.session, member, latitude, longitude, now=ctx.now,
                                       code_checked_for=pending)
    activity = result.activity
    if result.outcome == Outcome.NEED_CODE and activity is not None:
        _wait(ctx, SignIn.need_code, {"activity": activity.id, "has": "location", "at": ctx.now.isoformat()})
        return ctx.t("signin.need_code")
    if result.outcome == Outcome.OUTSIDE and activity is not None:
        # Keep whatever half is pending: the member may walk in and send the location again.
        key = "signin.outside_only_location" if activity.require_location else "signin.outside"
        return ctx.t(key, distance=round(result.distance_m or 0), radius=activity.radius_m)
    _forget(ctx)
    if result.outcome == Outcome.NOTHING_OPEN:
        return ctx.t("signin.no_location_activity")
    return _answer(ctx, result)


@router.fallback(state=SignIn.code)
@router.fallback(state=SignIn.need_code)
async def remind_code(ctx: Context) -> str:
    """Something else typed while a code is awaited (commands still work: they are tried first)."""
    return ctx.re_ask("signin.remind_code")


@router.fallback(state=SignIn.need_location)
async def remind_location(ctx: Context) -> str:
    return ctx.re_ask("signin.remind_location")


# --- the steps ------------------------------------------------------------------------------------


async def _code(ctx: Context) -> str:
    member, refusal = _signer(ctx)
    if member is None:
        return refusal
    code = parse_code(ctx.text)
    if code is None:
        return _again(ctx, "signin.bad_format")
    period = ctx.services.settings.activities.code_period_seconds
    activity = await find_by_code(ctx.session, code, ctx.now, period)
    if activity is None:  # a typed code names no activity, so "unknown" and "expired" are one answer
        return _again(ctx, "signin.bad_code", code=code)
    return await _with_code(ctx, member, activity, SignInMethod.CODE)


async def _scan(ctx: Context) -> str:
    member, refusal = _signer(ctx)
    if member is None:
        return refusal
    scene = parse_scene(ctx.event.key)
    activity = await ctx.session.get(Activity, scene[0]) if scene else None
    if scene is None or activity is None:
        return ctx.t("signin.bad_scan")
    period = ctx.services.settings.activities.code_period_seconds
    if not code_is_current(activity, scene[1], ctx.now, period):
        return await _stale_scan(ctx, member, activity)
    return await _with_code(ctx, member, activity, SignInMethod.QR)


async def _with_code(ctx: Context, member: Member, activity: Activity, method: SignInMethod) -> str:
    """The code (typed or scanned) is right for ``activity``: sign in, or wait for the location."""
    location_checked = _pending(ctx, "location") == activity.id
    result = await sign_in(ctx.session, member, activity, method=method, now=ctx.now, code_checked=True,
                           location_checked=location_checked)
    if result.outcome == Outcome.NEED_LOCATION:
        _wait(ctx, SignIn.need_location, {"activity": activity.id, "has": "code", "at": ctx.now.isoformat()})
        return ctx.t("signin.need_location", title=activity.title)
    _forget(ctx)
    return _answer(ctx, result)


async def _stale_scan(ctx: Context, member: Member, activity: Activity) -> str:
    """An old QR code still names its activity: say what matters more than the code, if anything does
    (the same order as :func:`bot.domain.activities.sign_in`), else ask for a fresh scan."""
    now = ctx.now
    if activity.status is ActivityStatus.CANCELLED:
        return _answer(ctx, SignInResult(Outcome.CANCELLED, activity))
    if now < activity.signin_opens_at:
        return _answer(ctx, SignInResult(Outcome.NOT_OPEN, activity))
    row = await attendance_of(ctx.session, activity.id or 0, member.id or 0)
    if row is not None and row.status in ATTENDED:
        return _answer(ctx, SignInResult(Outcome.ALREADY, activity, row))
    if now > activity.signin_closes_at or activity.status is ActivityStatus.CLOSED:
        return _answer(ctx, SignInResult(Outcome.CLOSED, activity))
    if not in_audience(member, activity):
        return _answer(ctx, SignInResult(Outcome.NOT_IN_AUDIENCE, activity))
    return ctx.t("signin.expired_scan")


def _answer(ctx: Context, result: SignInResult) -> str:
    """The sentence for a final outcome of :func:`bot.domain.activities.sign_in`."""
    activity, row = result.activity, result.attendance
    assert activity is not None
    title = activity.title
    signed_at = hhmm(ctx, row.signed_in_at) if row is not None and row.signed_in_at else "-"
    match result.outcome:
        case Outcome.SIGNED_IN:
            return ctx.t("signin.signed_in", title=title, time=signed_at)
        case Outcome.LATE:
            return ctx.t("signin.late", title=title, start=hhmm(ctx, activity.starts_at), time=signed_at)
        case Outcome.ALREADY:
            return ctx.t("signin.already", title=title, time=signed_at)
        case Outcome.NOT_OPEN:
            opens = activity.signin_opens_at
            return ctx.t("signin.not_open", title=title, when=_day(ctx, opens), time=hhmm(ctx, opens))
        case Outcome.CLOSED:
            return ctx.t("signin.closed", title=title, time=hhmm(ctx, activity.signin_closes_at))
        case Outcome.CANCELLED:
            return ctx.t("signin.cancelled", title=title)
        case Outcome.NOT_IN_AUDIENCE:
            return ctx.t("signin.not_in_audience", title=title)
    raise ValueError(f"no answer for sign-in outcome {result.outcome}")


def _ways(ctx: Context, activities: list[Activity]) -> str:
    lines = [ctx.t("signin.how.open", title=a.title, closes=hhmm(ctx, a.signin_closes_at)) for a in activities]
    lines += [ctx.t("signin.how.ways"), ctx.t("signin.how.code"), ctx.t("signin.how.scan")]
    if any(activity.has_geofence and not activity.require_location for activity in activities):
        lines.append(ctx.t("signin.how.location"))
    if any(activity.require_location for activity in activities):
        lines.append(ctx.t("signin.how.both"))
    return "\n".join(lines)


# --- who may sign in ------------------------------------------------------------------------------


def _signer(ctx: Context) -> tuple[Member, str] | tuple[None, str]:
    """The active member signing in, or None and the sentence saying why this person cannot."""
    member = ctx.member
    if member is None:
        return None, ctx.t("signin.not_registered")
    if member.status is MemberStatus.PENDING:
        return None, ctx.t("signin.pending")
    if member.status is not MemberStatus.ACTIVE:
        return None, ctx.t("signin.not_active", status=ctx.t(f"members.status.{member.status.value}"))
    return member, ""


# --- the conversation -----------------------------------------------------------------------------


def _wait(ctx: Context, state: State, pending: dict[str, Any]) -> None:
    """Wait for the other half, without breaking another conversation: in the middle of one (a scan or a
    location needs no typing) the checked half is only noted beside it."""
    if ctx.conv.active and not SignIn.contains(ctx.conv.state):
        ctx.conv.update(**{PENDING: pending})
        return
    ctx.conv.finish()
    ctx.conv.set(state, **{PENDING: pending})


def _forget(ctx: Context) -> None:
    """The sign-in is over (or starts again): end our conversation, or drop our note beside another."""
    if SignIn.contains(ctx.conv.state):
        ctx.conv.finish()
    else:
        ctx.conv.forget(PENDING)


def _pending(ctx: Context, has: str) -> int | None:
    """The activity whose ``has`` half ("code" or "location") was checked a moment ago, if any."""
    pending = ctx.conv.data.get(PENDING)
    if not isinstance(pending, dict) or pending.get("has") != has:
        return None
    try:
        checked_at = datetime.fromisoformat(str(pending["at"]))
        activity_id = int(pending["activity"])
    except (KeyError, TypeError, ValueError):
        return None
    return activity_id if ctx.now - checked_at <= PENDING_FOR else None


def _again(ctx: Context, key: str, **values: Any) -> str:
    """A wrong code: inside our conversation it counts towards the polite end, elsewhere it is just said."""
    if SignIn.contains(ctx.conv.state):
        return ctx.re_ask(key, **values)
    return ctx.t(key, **values)


# --- local time -----------------------------------------------------------------------------------


def _day(ctx: Context, moment: datetime) -> str:
    """``今天`` or ``11月21日``: members read dates, not ISO strings."""
    if ctx.local(moment).date() == ctx.local_now.date():
        return ctx.t("signin.today")
    return day(ctx, moment)


def _end_of_day(ctx: Context) -> datetime:
    local = ctx.local_now
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
