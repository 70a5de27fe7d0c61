"""``请假`` / ``leave``: a member asks for leave from an upcoming meeting or activity; ``我的请假`` lists the
member's requests, and ``撤回 N`` withdraws a pending one.

```mermaid
stateDiagram-v2
    [*] --> [*]: not an active member / "注册 first"
    [*] --> [*]: nothing upcoming / "no leave needed"
    [*] --> choose: 请假 / numbered upcoming activities (local time)
    choose --> kind: a number or part of a title
    [*] --> kind: start_leave_for(activity) (a reply to a meeting notice)
    [*] --> kind: 请假 within 72 h of an unanswered meeting notice / that activity, "其他 for another"
    kind --> choose: 其他 / the numbered list
    kind --> reason: 1 病假 · 2 事假 · 3 公务 (number or word)
    reason --> [*]: 2–300 characters / filed (pending), approvers told, who decides is said
    [*] --> mine: 我的请假 / recent requests with status and the denial reason
    mine --> [*]: 撤回 N (pending only) / withdrawn
```

Wrong answers are asked again (``ctx.re_ask``); ``取消`` leaves at any step (``handlers.common``) and
nothing is filed. ``请假`` or ``我的请假`` typed inside the flow means the command, not an answer (both
are declared ``reentry=True``: :mod:`bot.chat.router`).

``请假`` soon after a meeting notice means that meeting: when the member's latest notice arrived within
72 hours, is unanswered and leave can still be asked for it, the flow starts at the type for it and says
how to pick another activity (``其他``). A request filed in chat answers the notice too (``请假`` in
:func:`bot.domain.notices.answers_for`); withdrawing it takes that answer back.

The lists shown are stored as ids in the conversation, so "2" and "撤回 2" mean the line the member saw,
even if another activity or request appeared meanwhile. Every rule (the window, the audience, one open
request per activity, who approves) is checked again by :mod:`bot.domain.activities` when the request is filed.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import activities as ops
from bot.domain.authz import Action, can
from bot.domain.refusals import Refusal
from handlers.kit.choices import numbered, pick
from handlers.kit.dates import day_time
from handlers.kit.paging import line_of
from handlers.notice_reply import record_leave_answer, unanswered_notice
from models.activity import Activity, ActivityStatus, LeaveKind, LeaveRequest, LeaveStatus
from models.member import Member, MemberStatus


class LeaveFlow(StatesGroup):
    choose = State()
    kind = State()
    reason = State()


class MyLeave(StatesGroup):
    listed = State()


router = Router("leave")
router.describe("请假", "leave_chat.help.leave")
router.describe("我的请假", "leave_chat.help.mine")

START_WORDS = ("请假", "leave", "我要请假")
MINE_WORDS = ("我的请假", "my leave", "请假记录")
_OTHER = frozenset(normalise(word) for word in ("其他", "其它", "别的", "其他活动", "other"))
KINDS = (LeaveKind.SICK, LeaveKind.PERSONAL, LeaveKind.OFFICIAL)
# Words members use for a kind that are not part of its name (a part of the name already works: 病, 公).
KIND_ALIASES = {"生病": LeaveKind.SICK, "住院": LeaveKind.SICK, "出差": LeaveKind.OFFICIAL,
                "公差": LeaveKind.OFFICIAL, "公事": LeaveKind.OFFICIAL}
WITHDRAW = r"^(?:撤回请假|撤回|取消请假|withdraw)\s*(\d+)$"
MINE_LIMIT = 10  # the most recent requests: enough for a season of meetings, short enough for a phone


# --- 请假 -----------------------------------------------------------------------------------------

@router.command(*START_WORDS, reentry=True)
@router.click("LEAVE")
async def start(ctx: Context) -> str:
    if (refusal := _refusal(ctx)) is not None:
        return refusal
    ctx.conv.finish()  # a fresh start forgets any other conversation's data
    noticed = await unanswered_notice(ctx.session, _member(ctx), ctx.now)
    if noticed is not None and await _why_not(ctx, noticed) is None:
        # Most 请假 right after a notice are about that notice: skip the list, but say how to get it.
        return "\n".join([await start_leave_for(ctx, noticed.id or 0), ctx.t("study_chat.leave_other")])
    return await _choose_list(ctx)


async def _choose_list(ctx: Context) -> str:
    """The numbered list of activities leave can be asked for."""
    ctx.conv.finish()
    activities = await ops.leave_candidates(ctx.session, _member(ctx), ctx.now)
    if not activities:
        return ctx.t("leave_chat.nothing_upcoming")
    ctx.conv.set(LeaveFlow.choose, ids=[activity.id for activity in activities])
    return ctx.t("leave_chat.choose", choices=numbered([_line(ctx, a) for a in activities]))


async def start_leave_for(ctx: Context, activity_id: int) -> str:
    """Jump straight to the leave type for one activity, e.g. when a member answers a meeting notice
    with 请假. Returns the reply to send: the type question, or why leave cannot be asked for."""
    if (refusal := _refusal(ctx)) is not None:
        return refusal
    ctx.conv.finish()
    activity = await ctx.session.get(Activity, activity_id)
    if activity is None:
        return ctx.t("leave_chat.no_such_activity")
    return await _begin(ctx, activity)


@router.state(LeaveFlow.choose)
async def chose_activity(ctx: Context) -> str:
    ids = [int(ident) for ident in ctx.conv.data.get("ids", [])]
    activities = [activity for ident in ids if (activity := await ctx.session.get(Activity, ident)) is not None]
    lines = [_line(ctx, activity) for activity in activities]
    index = pick(ctx.text, lines)
    if index is None:
        return ctx.re_ask("leave_chat.bad_choice", text=ctx.text[:20], choices=numbered(lines))
    return await _begin(ctx, activities[index])


@router.state(LeaveFlow.kind)
async def chose_kind(ctx: Context) -> str:
    if normalise(ctx.text) in _OTHER:  # not this activity after all: the whole list
        return await _choose_list(ctx)
    activity = await _current_activity(ctx)
    if activity is None:
        return _lost(ctx)
    kind = choose_kind(ctx.text, _kind_names(ctx))
    if kind is None:
        return ctx.re_ask("leave_chat.bad_kind", kinds=numbered(_kind_names(ctx)))
    ctx.conv.set(LeaveFlow.reason, kind=kind.value)
    return ctx.t("leave_chat.ask_reason", kind=ctx.t(f"leave.kind.{kind.value}"), min=ops.REASON_MIN,
                 max=ops.REASON_MAX)


@router.state(LeaveFlow.reason)
async def got_reason(ctx: Context) -> str:
    activity = await _current_activity(ctx)
    if activity is None:
        return _lost(ctx)
    reason = " ".join(ctx.text.split())  # line breaks from a phone keyboard are not part of the reason
    if not ops.REASON_MIN <= len(reason) <= ops.REASON_MAX:
        return ctx.re_ask("leave_chat.bad_reason", min=ops.REASON_MIN, max=ops.REASON_MAX, length=len(reason))
    kind = LeaveKind(ctx.conv.data["kind"])
    ctx.conv.finish()
    try:
        await ops.request_leave(ctx.session, _member(ctx), activity, kind=kind, reason=reason, now=ctx.now,
                                texts=ctx.services.texts)
    except Refusal as exc:  # closed, already asked (another device) …: say why, nothing filed
        return exc.render(ctx.services.texts)
    await record_leave_answer(ctx.session, _member(ctx).id or 0, activity, ctx.now)
    ctx.pushed = True  # the approvers' notices: wake the delivery worker after the commit
    decider = "chair" if ops.approval_action(activity) is Action.APPROVE_PLENARY_LEAVE else "group"
    return ctx.t("leave_chat.filed", activity=_line(ctx, activity), kind=ctx.t(f"leave.kind.{kind.value}"),
                 decider=ctx.t(f"leave_chat.decider.{decider}"))


@router.on_cancel(LeaveFlow)
async def cancelled(ctx: Context) -> str:
    """Say plainly that nothing was filed: an older member may wonder whether half a request was sent."""
    return ctx.t("leave_chat.cancelled")


async def _begin(ctx: Context, activity: Activity) -> str:
    """Ask the leave type for ``activity``, or say why leave cannot be asked for it (now)."""
    problem = await _why_not(ctx, activity)
    if problem is not None:
        ctx.conv.finish()
        return problem
    ctx.conv.set(LeaveFlow.kind, activity_id=activity.id)
    return ctx.t("leave_chat.ask_kind", activity=_line(ctx, activity), kinds=numbered(_kind_names(ctx)))


async def _why_not(ctx: Context, activity: Activity) -> str | None:
    """The same rules as :func:`bot.domain.activities.request_leave`, asked before the member types a reason."""
    member = _member(ctx)
    if activity.status is ActivityStatus.CANCELLED:
        return ctx.t("leave_chat.cancelled_activity", title=activity.title)
    if activity.status is not ActivityStatus.SCHEDULED or ctx.now > activity.signin_closes_at:
        return ctx.t("leave.error.too_late")
    if not ops.in_audience(member, activity):
        return ctx.t("leave.error.not_in_audience")
    if await ops.open_leave_of(ctx.session, activity.id or 0, member.id or 0) is not None:
        return ctx.t("leave.error.already")
    if await ops.attendance_of(ctx.session, activity.id or 0, member.id or 0) is not None:
        return ctx.t("leave_chat.already_recorded", title=activity.title)
    return None


def choose_kind(text: str, names: list[str]) -> LeaveKind | None:
    """``1``–``3``, a kind's name or part of it (``病``), its English value, or a common word (``出差``)."""
    index = pick(text, names)
    if index is not None:
        return KINDS[index]
    typed = normalise(text)
    by_value = {kind.value: kind for kind in KINDS}
    return by_value.get(typed) or KIND_ALIASES.get(typed)


# --- 我的请假 and 撤回 N --------------------------------------------------------------------------

@router.command(*MINE_WORDS, reentry=True)
@router.click("MY_LEAVE")
async def my_leave(ctx: Context) -> str:
    if (refusal := _refusal(ctx)) is not None:
        return refusal
    listing, _ = await _listing(ctx)
    return listing


async def _listing(ctx: Context, before: str = "") -> tuple[str, bool]:
    """The member's recent requests, and whether any can be withdrawn. Only then does the conversation
    keep the listed ids (state ``MyLeave.listed``): with nothing pending there is nothing to answer."""
    ctx.conv.finish()
    rows = await recent_requests(ctx, MINE_LIMIT)
    if not rows:
        return "\n".join(filter(None, [before, ctx.t("leave_chat.mine.empty")])), False
    lines = [before] if before else []
    lines.append(ctx.t("leave_chat.mine.title", count=len(rows)))
    for number, (leave, activity) in enumerate(rows, start=1):
        lines.append(ctx.t("leave_chat.mine.item", number=number, activity=_line(ctx, activity),
                           kind=ctx.t(f"leave.kind.{leave.kind.value}"),
                           status=ctx.t(f"leave.status.{leave.status.value}")))
        if leave.status is LeaveStatus.DENIED and leave.decision_note:
            lines.append(ctx.t("leave_chat.mine.note", note=leave.decision_note))
    pending = any(leave.status is LeaveStatus.PENDING for leave, _ in rows)
    if pending:
        ctx.conv.set(MyLeave.listed, ids=[leave.id for leave, _ in rows])
        lines.append(ctx.t("leave_chat.mine.how"))
    return "\n".join(lines), pending


@router.regex(WITHDRAW, state=MyLeave.listed)
async def withdraw(ctx: Context) -> str:
    if (refusal := _refusal(ctx)) is not None:
        ctx.conv.finish()
        return refusal
    line = line_of(ctx)
    if line.id is None:
        return ctx.re_ask("leave_chat.mine.bad_number", number=line.number)
    leave = await ctx.session.get(LeaveRequest, line.id)
    activity = await ctx.session.get(Activity, leave.activity_id) if leave is not None else None
    if leave is None or activity is None:
        return (await _listing(ctx))[0]
    try:
        await ops.withdraw_leave(ctx.session, leave, _member(ctx), now=ctx.now)
    except Refusal as exc:  # decided meanwhile: say so, and show the list as it is now
        return (await _listing(ctx, exc.render(ctx.services.texts)))[0]
    ctx.conv.finish()
    return ctx.t("leave_chat.mine.withdrawn", activity=_line(ctx, activity))


@router.regex(WITHDRAW)
async def withdraw_without_list(ctx: Context) -> str:
    """``撤回 2`` outside the list: the number means nothing yet, so show the list it would refer to."""
    if (refusal := _refusal(ctx)) is not None:
        return refusal
    listing, pending = await _listing(ctx)
    if pending:
        return "\n".join([ctx.t("leave_chat.mine.list_first"), listing])
    return "\n".join([listing, ctx.t("leave_chat.mine.nothing_to_withdraw")])


async def recent_requests(ctx: Context, limit: int) -> list[tuple[LeaveRequest, Activity]]:
    """The member's requests, newest first, each with its activity."""
    rows = (await ctx.session.execute(
        select(LeaveRequest, Activity).join(Activity, Activity.id == LeaveRequest.activity_id)
        .where(LeaveRequest.member_id == _member(ctx).id)
        .order_by(LeaveRequest.created_at.desc(), LeaveRequest.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
    )).all()
    return [(leave, activity) for leave, activity in rows]


# --- shared with handlers.leave_review ------------------------------------------------------------

def activity_line(ctx: Context, activity: Activity) -> str:
    """``11月25日 09:00 县政协常委会`` in the committee's local time."""
    return _line(ctx, activity)


# --- helpers --------------------------------------------------------------------------------------

async def _current_activity(ctx: Context) -> Activity | None:
    activity_id = ctx.conv.data.get("activity_id")
    return await ctx.session.get(Activity, int(activity_id)) if activity_id is not None else None


def _lost(ctx: Context) -> str:
    ctx.conv.finish()
    return ctx.t("leave_chat.no_such_activity")


def _refusal(ctx: Context) -> str | None:
    """Why this person cannot ask for leave, or None when they can."""
    if can(ctx.member, Action.REQUEST_LEAVE):
        return None
    if ctx.member is not None and ctx.member.status is MemberStatus.PENDING:
        return ctx.t("leave_chat.pending_member")
    return ctx.t("leave_chat.not_member")


def _kind_names(ctx: Context) -> list[str]:
    return [ctx.t(f"leave.kind.{kind.value}") for kind in KINDS]


def _line(ctx: Context, activity: Activity) -> str:
    return ctx.t("leave_chat.activity", when=day_time(ctx, activity.starts_at), title=activity.title)


def _member(ctx: Context) -> Member:
    assert ctx.member is not None and ctx.member.id is not None
    return ctx.member
