"""``审核`` / ``review``: secretaries approve or reject pending registrations in chat.

```mermaid
stateDiagram-v2
    [*] --> [*]: not a secretary / refused
    [*] --> [*]: nothing pending / "no applications"
    [*] --> choose: 审核 / numbered list (oldest first, within the secretary's groups)
    choose --> choose: 通过 N / approved, applicant told, list again
    choose --> reason: 不通过 N
    choose --> decide: N / that application in full
    decide --> choose: 通过 / approved, applicant told, list again
    decide --> reason: 不通过
    reason --> choose: a reason / rejected, applicant told with it, list again
    choose --> [*]: list empty after a decision
```

The list shown is stored as member ids, so "通过 2" means the second line the secretary saw even if
another application arrived meanwhile. Each decision checks again that the secretary may decide it
(scope) and that it is still pending (another secretary may have been quicker).
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import members as ops
from bot.domain.authz import Action, can, groups_within_reach
from models.member import ApplicationStatus, Member, MemberApplication, MemberStatus


class Review(StatesGroup):
    choose = State()
    decide = State()
    reason = State()


router = Router("review")
router.describe("审核", "members.help.review", audience="secretary")

APPROVE_WORDS = ("通过", "同意", "批准", "approve", "yes")
REJECT_WORDS = ("不通过", "不同意", "驳回", "拒绝", "reject", "no")
_APPROVE = re.compile(rf"^(?:{'|'.join(APPROVE_WORDS)})\s*(\d+)$")
_REJECT = re.compile(rf"^(?:{'|'.join(REJECT_WORDS)})\s*(\d+)$")
_NUMBER = re.compile(r"^(\d+)$")
REASON_MIN, REASON_MAX = 2, 200
START_WORDS = ("审核", "review", "审核注册")
_START = frozenset(normalise(word) for word in START_WORDS)


@router.command(*START_WORDS)
@router.click("REVIEW")
async def start_review(ctx: Context) -> str:
    if not _allowed(ctx):
        return ctx.t("members.forbidden")
    return await _show_list(ctx)


@router.state(Review.choose)
async def chose(ctx: Context) -> str:
    if not _allowed(ctx):
        ctx.conv.finish()
        return ctx.t("members.forbidden")
    text = normalise(ctx.text)
    if text in _START:
        return await _show_list(ctx)  # 审核 again: a fresh list, not a wrong answer
    for pattern, action in ((_REJECT, "reject"), (_APPROVE, "approve"), (_NUMBER, "show")):
        found = pattern.match(text)
        if found:
            return await _act(ctx, action, int(found.group(1)))
    return ctx.re_ask("members.review.bad_input")


@router.state(Review.decide)
async def decided(ctx: Context) -> str:
    if not _allowed(ctx):
        ctx.conv.finish()
        return ctx.t("members.forbidden")
    text = normalise(ctx.text)
    member_id = int(ctx.conv.data["current"])
    if text in {normalise(word) for word in REJECT_WORDS}:
        return await _ask_reason(ctx, member_id)
    if text in {normalise(word) for word in APPROVE_WORDS}:
        return await _approve(ctx, member_id)
    return ctx.re_ask("members.review.bad_decision")


@router.state(Review.reason)
async def got_reason(ctx: Context) -> str:
    if not _allowed(ctx):
        ctx.conv.finish()
        return ctx.t("members.forbidden")
    reason = ctx.text
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        return ctx.re_ask("members.review.bad_reason")
    member_id = int(ctx.conv.data["current"])
    member = await _decidable(ctx, member_id)
    if isinstance(member, str):
        return await _show_list(ctx, member)
    texts = ctx.services.texts
    await ops.reject(ctx.session, member_id, reason=reason, by=ctx.member, now=ctx.now, texts=texts)
    ctx.pushed = True
    return await _show_list(ctx, ctx.t("members.review.rejected", name=member.name))


# --- steps ----------------------------------------------------------------------------------------

async def _act(ctx: Context, action: str, number: int) -> str:
    ids = [int(ident) for ident in ctx.conv.data.get("ids", [])]
    if not 1 <= number <= len(ids):
        return ctx.re_ask("members.review.bad_number", number=str(number))
    member_id = ids[number - 1]
    if action == "approve":
        return await _approve(ctx, member_id)
    if action == "reject":
        return await _ask_reason(ctx, member_id)
    member = await _decidable(ctx, member_id)
    if isinstance(member, str):
        return await _show_list(ctx, member)
    ctx.conv.set(Review.decide, current=member_id)
    return ctx.t("members.review.ask_decision", item=await _item(ctx, number, member))


async def _approve(ctx: Context, member_id: int) -> str:
    member = await _decidable(ctx, member_id)
    if isinstance(member, str):
        return await _show_list(ctx, member)
    await ops.approve(ctx.session, member_id, by=ctx.member, now=ctx.now, texts=ctx.services.texts)
    ctx.pushed = True  # the applicant's notice: wake the delivery worker after the commit
    return await _show_list(ctx, ctx.t("members.review.approved", name=member.name))


async def _ask_reason(ctx: Context, member_id: int) -> str:
    member = await _decidable(ctx, member_id)
    if isinstance(member, str):
        return await _show_list(ctx, member)
    ctx.conv.set(Review.reason, current=member_id)
    return ctx.t("members.review.ask_reason", name=member.name)


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


async def _show_list(ctx: Context, before: str = "") -> str:
    """The pending applications within reach, numbered; ends the conversation when there are none."""
    reach = groups_within_reach(ctx.member, Action.APPROVE_MEMBER)
    rows = await ops.pending_applications(ctx.session, reach)
    lines = [before] if before else []
    if not rows:
        ctx.conv.finish()
        return "\n\n".join([*lines, ctx.t("members.review.empty")])
    total = await _count_pending(ctx, reach)
    ctx.conv.set(Review.choose, ids=[member.id for _, member in rows])
    items = [await _item(ctx, number, member) for number, (_, member) in enumerate(rows, start=1)]
    listing = [ctx.t("members.review.title", count=total), *items]
    if total > len(rows):
        listing.append(ctx.t("members.review.more", shown=len(rows)))
    listing.append(ctx.t("members.review.how"))
    return "\n\n".join([*lines, "\n".join(listing)])


async def _item(ctx: Context, number: int, member: Member) -> str:
    names = await ops.names_of(ctx.session, member)
    assert member.id is not None
    application = await ops.latest_application(ctx.session, member.id)
    local = (application.created_at if application else member.created_at).astimezone(_zone(ctx))
    return ctx.t(
        "members.review.item", number=number, name=member.name, mobile=member.mobile or "-",
        sector=names["sector"] or "-", group=names["group"] or "-", date=local.strftime("%m-%d %H:%M"),
    )


async def _count_pending(ctx: Context, reach: frozenset[int] | None) -> int:
    statement = (
        select(func.count())
        .select_from(MemberApplication)
        .join(Member, Member.id == MemberApplication.member_id)
        .where(MemberApplication.status == ApplicationStatus.PENDING, Member.status == MemberStatus.PENDING)
    )
    if reach is not None:
        statement = statement.where(Member.group_id.in_(reach))  # type: ignore[union-attr]
    return int(await ctx.session.scalar(statement) or 0)


def _zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.services.settings.scheduler.timezone)  # the committee's local time


def _allowed(ctx: Context) -> bool:
    return groups_within_reach(ctx.member, Action.APPROVE_MEMBER) != frozenset()
