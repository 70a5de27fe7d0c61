"""``审批`` / ``审批请假`` / ``approve leave``: group leaders and secretaries decide leave requests in chat.

```mermaid
stateDiagram-v2
    [*] --> [*]: may approve no leave at all / refused
    [*] --> [*]: nothing pending / "nothing to approve"
    [*] --> choose: 审批 / numbered pending requests this person may decide (oldest first)
    choose --> choose: 批准 N · 同意 N / approved, member told, list again
    choose --> reason: 不批准 N · 驳回 N
    choose --> decide: N / that request in full
    decide --> choose: 批准 / approved, member told, list again
    decide --> reason: 不批准
    reason --> choose: a reason (2–300) / denied, member told with it, list again
    choose --> [*]: list empty after a decision / "all done"
```

Who may decide what is :func:`bot.domain.activities.may_decide_leave` alone (plenary and standing-committee
sessions: the chair's office; otherwise the member's group leader or a secretary in scope); this module
never looks at roles. The list shown is stored as leave ids, so "批准 2" means the second line the
approver saw. :func:`bot.domain.activities.decide_leave` checks the right and the status again at the moment of
the decision: somebody else may have decided, or the member withdrawn, meanwhile.
"""

from __future__ import annotations

import re

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import activities as ops
from bot.domain.authz import Action, can, groups_within_reach
from handlers.leave import activity_line, local_when, render_error
from models.activity import Activity, LeaveRequest, LeaveStatus
from models.member import LiaisonGroup, Member


class LeaveReview(StatesGroup):
    choose = State()
    decide = State()
    reason = State()


router = Router("leave_review")
router.describe("审批", "leave_chat.help.review", audience="secretary")

START_WORDS = ("审批", "审批请假", "approve leave", "请假审批")
APPROVE_WORDS = ("批准", "同意", "通过", "approve", "yes")
DENY_WORDS = ("不批准", "不同意", "不通过", "驳回", "deny", "reject", "no")
_START = frozenset(normalise(word) for word in START_WORDS)
_APPROVE_WORD = frozenset(normalise(word) for word in APPROVE_WORDS)
_DENY_WORD = frozenset(normalise(word) for word in DENY_WORDS)
_APPROVE = re.compile(rf"^(?:{'|'.join(APPROVE_WORDS)})\s*(\d+)$")
_DENY = re.compile(rf"^(?:{'|'.join(DENY_WORDS)})\s*(\d+)$")
_NUMBER = re.compile(r"^(\d+)[.、]?$")
SHOWN = 10  # a phone screen's worth; the rest follow once these are decided


@router.command(*START_WORDS)
@router.click("LEAVE_REVIEW")
async def start_review(ctx: Context) -> str:
    if not _allowed(ctx):
        return ctx.t("leave_chat.review.forbidden")
    ctx.conv.finish()  # a fresh start forgets any other conversation's data
    return await _show_list(ctx, after_decision=False)


@router.state(LeaveReview.choose)
async def chose(ctx: Context) -> str:
    if not _allowed(ctx):
        ctx.conv.finish()
        return ctx.t("leave_chat.review.forbidden")
    return await _numbered_command(ctx) or ctx.re_ask("leave_chat.review.bad_input")


@router.state(LeaveReview.decide)
async def decided(ctx: Context) -> str:
    if not _allowed(ctx):
        ctx.conv.finish()
        return ctx.t("leave_chat.review.forbidden")
    typed = normalise(ctx.text)
    leave_id = int(ctx.conv.data["current"])
    if typed in _DENY_WORD:
        return await _ask_reason(ctx, leave_id)
    if typed in _APPROVE_WORD:
        return await _decide(ctx, leave_id, approve=True)
    # "批准 2" or another number here still means the list the approver saw.
    return await _numbered_command(ctx) or ctx.re_ask("leave_chat.review.bad_decision")


@router.state(LeaveReview.reason)
async def got_reason(ctx: Context) -> str:
    if not _allowed(ctx):
        ctx.conv.finish()
        return ctx.t("leave_chat.review.forbidden")
    # A change of mind ("批准 1", "审批") is a command: no denial reason looks like that.
    if (command := await _numbered_command(ctx, numbers_alone=False)) is not None:
        return command
    note = " ".join(ctx.text.split())
    if not ops.REASON_MIN <= len(note) <= ops.REASON_MAX:
        return ctx.re_ask("leave_chat.review.bad_reason", min=ops.REASON_MIN, max=ops.REASON_MAX)
    return await _decide(ctx, int(ctx.conv.data["current"]), approve=False, note=note)


# --- steps ----------------------------------------------------------------------------------------

async def _numbered_command(ctx: Context, *, numbers_alone: bool = True) -> str | None:
    """``审批`` (a fresh list), ``批准 N``, ``不批准 N`` or ``N``; None when the text is none of them."""
    typed = normalise(ctx.text)
    if typed in _START:
        return await _show_list(ctx, after_decision=False)
    patterns = [(_DENY, "deny"), (_APPROVE, "approve")] + ([(_NUMBER, "show")] if numbers_alone else [])
    for pattern, action in patterns:
        found = pattern.match(typed)
        if found:
            return await _act(ctx, action, int(found.group(1)))
    return None


async def _act(ctx: Context, action: str, number: int) -> str:
    ids = [int(ident) for ident in ctx.conv.data.get("ids", [])]
    if not 1 <= number <= len(ids):
        return ctx.re_ask("leave_chat.review.bad_number", number=number)
    leave_id = ids[number - 1]
    if action == "approve":
        return await _decide(ctx, leave_id, approve=True)
    if action == "deny":
        return await _ask_reason(ctx, leave_id)
    found = await _decidable(ctx, leave_id)
    if isinstance(found, str):
        return await _show_list(ctx, found)
    leave, activity, member = found
    ctx.conv.set(LeaveReview.decide, current=leave_id)
    return ctx.t("leave_chat.review.detail", name=member.name, group=await _group_name(ctx, member),
                 activity=activity_line(ctx, activity), kind=ctx.t(f"leave.kind.{leave.kind.value}"),
                 reason=leave.reason, created=local_when(ctx, leave.created_at))


async def _ask_reason(ctx: Context, leave_id: int) -> str:
    found = await _decidable(ctx, leave_id)
    if isinstance(found, str):
        return await _show_list(ctx, found)
    _, activity, member = found
    ctx.conv.set(LeaveReview.reason, current=leave_id)
    return ctx.t("leave_chat.review.ask_reason", name=member.name, activity=activity_line(ctx, activity),
                 min=ops.REASON_MIN, max=ops.REASON_MAX)


async def _decide(ctx: Context, leave_id: int, *, approve: bool, note: str = "") -> str:
    found = await _decidable(ctx, leave_id)
    if isinstance(found, str):
        return await _show_list(ctx, found)
    leave, activity, member = found
    try:
        await ops.decide_leave(ctx.session, leave, approve=approve, by=ctx.member, note=note, now=ctx.now,
                               texts=ctx.services.texts)
    except ops.ActivityError as exc:
        return await _show_list(ctx, render_error(ctx, exc))
    ctx.pushed = True  # the member's notice: wake the delivery worker after the commit
    key = "leave_chat.review.approved" if approve else "leave_chat.review.denied"
    return await _show_list(ctx, ctx.t(key, name=member.name, activity=activity_line(ctx, activity)))


async def _decidable(ctx: Context, leave_id: int) -> tuple[LeaveRequest, Activity, Member] | str:
    """The pending request with its activity and member, or the sentence saying why it cannot be decided
    by this person now. The same checks run again inside :func:`bot.domain.activities.decide_leave`."""
    leave = await ctx.session.get(LeaveRequest, leave_id)
    activity = await ctx.session.get(Activity, leave.activity_id) if leave is not None else None
    member = await ctx.session.get(Member, leave.member_id) if leave is not None else None
    if leave is None or activity is None or member is None:
        return ctx.t("leave_chat.review.gone")
    if not ops.may_decide_leave(ctx.member, activity, member):
        return ctx.t("leave.error.forbidden")
    if leave.status is not LeaveStatus.PENDING:
        return ctx.t("leave_chat.review.already_decided", name=member.name,
                     status=ctx.t(f"leave.status.{leave.status.value}"))
    return leave, activity, member


async def _show_list(ctx: Context, before: str = "", *, after_decision: bool = True) -> str:
    """The pending requests this person may decide, numbered; ends the conversation when there are none."""
    assert ctx.member is not None
    rows = await ops.pending_leave_for(ctx.session, ctx.member, limit=SHOWN + 1)
    lines = [before] if before else []
    if not rows:
        ctx.conv.finish()
        lines.append(ctx.t("leave_chat.review.done" if after_decision else "leave_chat.review.empty"))
        return "\n".join(lines)
    shown = rows[:SHOWN]
    ctx.conv.set(LeaveReview.choose, ids=[leave.id for leave, _, _ in shown], current=None)
    listing = [ctx.t("leave_chat.review.title", count=len(shown))]
    for number, (leave, activity, member) in enumerate(shown, start=1):
        listing.append(ctx.t("leave_chat.review.item", number=number, name=member.name,
                             activity=activity_line(ctx, activity), kind=ctx.t(f"leave.kind.{leave.kind.value}"),
                             reason=leave.reason))
    if len(rows) > SHOWN:
        listing.append(ctx.t("leave_chat.review.more", shown=SHOWN))
    listing.append(ctx.t("leave_chat.review.how"))
    return "\n\n".join([*lines, "\n".join(listing)]) if lines else "\n".join(listing)


async def _group_name(ctx: Context, member: Member) -> str:
    group = await ctx.session.get(LiaisonGroup, member.group_id) if member.group_id is not None else None
    return group.name if group is not None else "-"


def _allowed(ctx: Context) -> bool:
    """May this person decide any leave at all? (Which requests, :func:`may_decide_leave` says per request.)"""
    return groups_within_reach(ctx.member, Action.APPROVE_LEAVE) != frozenset() or can(
        ctx.member, Action.APPROVE_PLENARY_LEAVE)
