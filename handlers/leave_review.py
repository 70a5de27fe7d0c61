"""``审批`` / ``审批请假`` / ``approve leave``: group leaders and secretaries decide leave requests in chat, as a
review queue (:mod:`handlers.kit.review`: the list, the numbers, the checks and the texts' layout are the kit's).

```mermaid
stateDiagram-v2
    [*] --> [*]: may approve no leave at all / refused
    [*] --> [*]: nothing pending / "nothing to approve"
    [*] --> choose: 审批 / numbered pending requests this person may decide (oldest first)
    choose --> choose: 批准 N · 同意 N / approved, member told, list again
    choose --> reason: 不批准 N · 驳回 N · 拒绝 N
    choose --> choose: 不批准 N 原因 / denied, member told with it, list again
    choose --> decide: N / that request in full
    decide --> choose: 批准 / approved, member told, list again
    decide --> reason: 不批准
    decide --> decide: N / another request in full
    reason --> choose: a reason (2–300) / denied, member told with it, list again
    reason --> choose: 批准 N · 不批准 N / a change of mind
    choose --> [*]: list empty after a decision / "all done"
```

Who may decide what is :func:`bot.domain.activities.may_decide_leave` alone (plenary and standing-committee
sessions: the chair's office; otherwise the member's group leader or a secretary in scope); this module
never looks at roles. The list shown is stored as leave ids, so "批准 2" means the second line the
approver saw. :func:`bot.domain.activities.decide_leave` checks the right and the status again at the moment of
the decision: somebody else may have decided, or the member withdrawn, meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup
from bot.domain import activities as ops
from bot.domain.authz import Action, can, groups_within_reach
from handlers.kit import review, words
from handlers.kit.dates import day_time
from handlers.leave import activity_line
from models.activity import Activity, LeaveRequest, LeaveStatus
from models.member import LiaisonGroup, Member


class LeaveReview(StatesGroup):
    choose = State()
    decide = State()
    reason = State()


router = Router("leave_review")
router.describe("审批", "leave_chat.help.review", audience="secretary")

START_WORDS = ("审批", "审批请假", "approve leave", "请假审批")
SHOWN = 10  # a phone screen's worth; the rest follow once these are decided

Pending = tuple[LeaveRequest, Activity, Member]


def _allowed(ctx: Context) -> bool:
    """May this person decide any leave at all? (Which requests, :func:`may_decide_leave` says per request.)"""
    return groups_within_reach(ctx.member, Action.APPROVE_LEAVE) != frozenset() or can(
        ctx.member, Action.APPROVE_PLENARY_LEAVE)


async def _pending(ctx: Context) -> review.Page[Pending]:
    assert ctx.member is not None
    rows = await ops.pending_leave_for(ctx.session, ctx.member, limit=None)
    return review.Page(rows, len(rows))


async def _line(ctx: Context, number: int, row: Pending) -> str:
    leave, activity, member = row
    return ctx.t("leave_chat.review.item", number=number, name=member.name, activity=activity_line(ctx, activity),
                 kind=ctx.t(f"leave.kind.{leave.kind.value}"), reason=leave.reason)


async def _detail(ctx: Context, number: int, found: Pending) -> str:
    leave, activity, member = found
    return ctx.t("leave_chat.review.detail", name=member.name, group=await _group_name(ctx, member),
                 activity=activity_line(ctx, activity), kind=ctx.t(f"leave.kind.{leave.kind.value}"),
                 reason=leave.reason, created=day_time(ctx, leave.created_at))


async def _decidable(ctx: Context, leave_id: int) -> Pending | str:
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


def _decide(approve: bool) -> Callable[[Context, Pending, str | None], Awaitable[str]]:
    async def decide(ctx: Context, found: Pending, note: str | None) -> str:
        leave, activity, member = found
        await ops.decide_leave(ctx.session, leave, approve=approve, by=ctx.member, note=note or "", now=ctx.now,
                               texts=ctx.services.texts)
        ctx.pushed = True  # the member's notice: wake the delivery worker after the commit
        key = "leave_chat.review.approved" if approve else "leave_chat.review.denied"
        return ctx.t(key, name=member.name, activity=activity_line(ctx, activity))

    return decide


def _ask_reason(ctx: Context, found: Pending) -> str:
    _, activity, member = found
    return ctx.t("leave_chat.review.ask_reason", name=member.name, activity=activity_line(ctx, activity),
                 min=ops.REASON_MIN, max=ops.REASON_MAX)


async def _group_name(ctx: Context, member: Member) -> str:
    group = await ctx.session.get(LiaisonGroup, member.group_id) if member.group_id is not None else None
    return group.name if group is not None else "-"


QUEUE = review.ReviewQueue(
    LeaveReview, START_WORDS, "LEAVE_REVIEW", allowed=_allowed, load=_pending, ident=lambda row: row[0].id or 0,
    line=_line, check=_decidable, detail=_detail, shown=SHOWN,
    actions=[
        review.Action("approve", words.APPROVE, _decide(approve=True)),
        review.Action("deny", words.REJECT, _decide(approve=False), ask=review.Ask(
            LeaveReview.reason, _ask_reason,
            review.read_reason(ops.REASON_MIN, ops.REASON_MAX, "leave_chat.review.bad_reason",
                               min=ops.REASON_MIN, max=ops.REASON_MAX))),
    ],
    texts=review.QueueTexts(
        forbidden="leave_chat.review.forbidden", empty="leave_chat.review.empty", done="leave_chat.review.done",
        title="leave_chat.review.title", more="leave_chat.review.more", how="leave_chat.review.how",
        bad_input="leave_chat.review.bad_input", bad_decision="leave_chat.review.bad_decision",
        bad_number="leave_chat.review.bad_number",
        gap="\n", done_after_refusal=True),  # "已批准…" and "都处理完了" read as one message
)
QUEUE.install(router)
