"""``审核`` / ``review``: secretaries approve or reject pending registrations in chat, as a review queue
(:mod:`handlers.kit.review`: the list, the numbers, the checks and the texts' layout are the kit's).

```mermaid
stateDiagram-v2
    [*] --> [*]: not a secretary / refused
    [*] --> [*]: nothing pending / "no applications"
    [*] --> choose: 审核 / numbered list (oldest first, within the secretary's groups)
    choose --> choose: 通过 N / approved, applicant told, list again
    choose --> reason: 不通过 N · 驳回 N · 拒绝 N
    choose --> choose: 不通过 N 原因 / rejected, applicant told with it, list again
    choose --> decide: N / that application in full
    decide --> choose: 通过 / approved, applicant told, list again
    decide --> reason: 不通过
    reason --> choose: a reason (2–200) / rejected, applicant told with it, list again
    reason --> choose: 通过 N / a change of mind
    choose --> [*]: list empty after a decision
```

The list shown is stored as member ids, so "通过 2" means the second line the secretary saw even if
another application arrived meanwhile. Each decision checks again that the secretary may decide it
(scope) and that it is still pending (another secretary may have been quicker).
"""

from __future__ import annotations

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup
from bot.domain import members as ops
from bot.domain.authz import Action, can, groups_within_reach
from handlers.kit import dates, review, words
from models.member import Member, MemberStatus


class Review(StatesGroup):
    choose = State()
    decide = State()
    reason = State()


router = Router("review")
router.describe("审核", "members.help.review", audience="secretary")

START_WORDS = ("审核", "review", "审核注册")
REASON_MIN, REASON_MAX = ops.REASON_MIN, ops.REASON_MAX  # the domain checks them again


def _allowed(ctx: Context) -> bool:
    return groups_within_reach(ctx.member, Action.APPROVE_MEMBER) != frozenset()


async def _pending(ctx: Context) -> review.Page[Member]:
    reach = groups_within_reach(ctx.member, Action.APPROVE_MEMBER)
    rows = await ops.pending_applications(ctx.session, reach)
    return review.Page([member for _, member in rows], await ops.count_pending_applications(ctx.session, reach))


async def _line(ctx: Context, number: int, member: Member) -> str:
    names = await ops.names_of(ctx.session, member)
    assert member.id is not None
    application = await ops.latest_application(ctx.session, member.id)
    applied = application.created_at if application else member.created_at
    return ctx.t(
        "members.review.item", number=number, name=member.name, mobile=member.mobile or "-",
        sector=names["sector"] or "-", group=names["group"] or "-", date=dates.stamp(ctx, applied),
    )


async def _detail(ctx: Context, number: int, member: Member) -> str:
    return ctx.t("members.review.ask_decision", item=await _line(ctx, number, member))


async def _decidable(ctx: Context, member_id: int) -> Member | str:
    """The pending member, or the sentence that explains why this secretary cannot decide it now."""
    member = await ctx.session.get(Member, member_id)
    if member is None:
        return ctx.t("members.review.already_decided", name="-", status="-")
    if not can(ctx.member, Action.APPROVE_MEMBER, group_id=member.group_id):
        return ctx.t("members.review.out_of_scope", name=member.name)
    if member.status is not MemberStatus.PENDING:
        status = ctx.t(f"members.status.{member.status.value}")
        return ctx.t("members.review.already_decided", name=member.name, status=status)
    return member


async def _approve(ctx: Context, member: Member, _: None) -> str:
    await ops.approve(ctx.session, member.id or 0, by=ctx.member, now=ctx.now, texts=ctx.services.texts)
    ctx.pushed = True  # the applicant's notice: wake the delivery worker after the commit
    return ctx.t("members.review.approved", name=member.name)


async def _reject(ctx: Context, member: Member, reason: str) -> str:
    await ops.reject(ctx.session, member.id or 0, reason=reason, by=ctx.member, now=ctx.now,
                     texts=ctx.services.texts)
    ctx.pushed = True
    return ctx.t("members.review.rejected", name=member.name)


QUEUE = review.ReviewQueue(
    Review, START_WORDS, "REVIEW", allowed=_allowed, load=_pending, ident=lambda member: member.id or 0,
    line=_line, check=_decidable, detail=_detail,
    actions=[
        review.Action("approve", words.APPROVE, _approve),
        review.Action("reject", words.REJECT, _reject, ask=review.Ask(
            Review.reason, lambda ctx, member: ctx.t("members.review.ask_reason", name=member.name),
            review.read_reason(REASON_MIN, REASON_MAX, "members.review.bad_reason"))),
    ],
    texts=review.QueueTexts(
        forbidden="members.forbidden", empty="members.review.empty", title="members.review.title",
        more="members.review.more", how="members.review.how", bad_input="members.review.bad_input",
        bad_decision="members.review.bad_decision", bad_number="members.review.bad_number"),
)
QUEUE.install(router)
