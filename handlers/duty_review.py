"""The secretaries' side of the duty record: ``补录审核`` verifies self-reported duties, ``申诉处理``
decides appeals (both review queues of :mod:`handlers.kit.review`: the lists, the numbers, the checks and
the texts' layout are the kit's), ``调整 <姓名或手机号> <±分> <理由>`` adjusts a member's points, ``履职排名``
shows how the liaison groups (or one group's members, or the sectors) stand.

```mermaid
stateDiagram-v2
    [*] --> [*]: may verify no group / refused
    [*] --> [*]: nothing pending / "nothing to verify"
    [*] --> claims: 补录审核 / numbered pending claims within reach (oldest first)
    claims --> claims: 通过 N / verified, member told, list again
    claims --> claims: 退回 N 理由 · 驳回 N 理由 / rejected, member told why, list again
    claims --> reason: 退回 N
    claims --> claim: N / the claim in full (then 通过 · 退回 [理由] decide it)
    reason --> claims: a reason (2–300) / rejected, member told why, list again
    [*] --> appeals: 申诉处理 / numbered open appeals within reach (oldest first)
    appeals --> appeals: 维持 N 答复 / dismissed · 更正 N [±分] 答复 / upheld (with an adjustment), member told
    appeals --> answer: 维持 N · 更正 N [±分]
    appeals --> appeal: N / the appeal in full (then 维持 · 更正 [±分] [答复] decide it)
    answer --> appeals: an answer (2–300) / decided, member told, list again
    claims --> [*]: list empty after a decision
    appeals --> [*]: list empty after a decision
    [*] --> [*]: 调整 王芳 +2 理由 / adjusted this year, who it hit and the new total said, member told
    [*] --> [*]: 履职排名 [界别 | 联络组名] / standings within reach, members below the pass mark
```

Who may do what is :mod:`bot.domain.authz` alone: ``VERIFY_DUTY`` (secretaries within their scope) for claims,
appeals and adjustments, ``VIEW_DUTY_OF_OTHERS`` (group leaders for their group, too) for the rankings.
The lists are stored as ids, so "通过 2" means the second line the secretary saw; :mod:`bot.domain.duty` checks
the reach and the status again at the moment of the decision (another secretary may have been quicker,
the member may have withdrawn). Commands of other modules still work while a list is open: only the
list's own answers are bound to it, anything else falls through. After every change the member's ledger
is rebuilt, and the member is told (:func:`bot.domain.notify.tell_member`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import duty as ops
from bot.domain import ledger
from bot.domain.authz import Action, groups_within_reach
from bot.domain.duty_rules import year_rules
from bot.domain.notify import tell_member
from bot.domain.refusals import Refusal
from handlers.duty import (
    appeal_what,
    claim_what,
    cut,
    points,
    signed,
    this_year,
)
from handlers.kit import dates, review, words
from handlers.kit.paging import LINES_BUDGET, lines_that_fit
from handlers.kit.words import flat
from models.duty import AppealStatus, ClaimStatus, DutyAppeal, DutyClaim, DutyClaimPhoto
from models.member import LiaisonGroup, Member, MemberStatus


class ClaimReview(StatesGroup):
    choose = State()
    decide = State()
    reason = State()


class AppealReview(StatesGroup):
    choose = State()
    decide = State()
    answer = State()


router = Router("duty_review")
router.describe("补录审核", "duty_chat.help.claims_review", audience="secretary")
router.describe("申诉处理", "duty_chat.help.appeals_review", audience="secretary")
router.describe("调整", "duty_chat.help.adjust", audience="secretary")
router.describe("履职排名", "duty_chat.help.ranking", audience="secretary")

CLAIMS_WORDS = ("补录审核", "审核补录", "review claims")
APPEALS_WORDS = ("申诉处理", "处理申诉", "review appeals")
ADJUST = r"^(?:调整|adjust)(?:\s|$)"
RANKING = r"^(?:履职排名|排名|ranking)(?:\s+(.+))?$"
_POINTS = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*分?(?:\s+|$)(.*)$", re.DOTALL)
_ADJUST_TEXT = re.compile(r"^(?:调整|adjust)\s+(\S+)\s+([+-]?\d+(?:\.\d+)?)\s*分?\s*(.*)$", re.IGNORECASE | re.DOTALL)
_SECTORS = words.answer("界别", "按界别", "sector", "sectors")
SHOWN = 8  # claims or appeals listed at once; the rest follow once these are decided
DESCRIPTION_CUT = 40

Listed = tuple[Any, Member]  # a claim or an appeal, with its member
Answered = tuple[str, float | None]  # an appeal's answer, and the points of an upheld one


def _allowed(ctx: Context) -> bool:
    return groups_within_reach(ctx.member, Action.VERIFY_DUTY) != frozenset()


def _refuse(ctx: Context) -> str:
    return ctx.t("duty_chat.review.forbidden")


def _waiting(model: Any, status: Any, noun: str) -> Callable[[Context, int], Awaitable[Listed | str]]:
    """The check of both queues: the claim or appeal (with its member) while it still waits for a decision
    within the secretary's reach; otherwise why not."""

    async def check(ctx: Context, item_id: int) -> Listed | str:
        item = await ctx.session.get(model, item_id)
        member = await ctx.session.get(Member, item.member_id) if item is not None else None
        if item is None or member is None:
            return ctx.t("duty_chat.review.gone")
        if not ops.may_verify(ctx.member, member):
            return ctx.t("duty.error.not_allowed")
        if item.status is not status:
            return ctx.t(f"duty_chat.review.{noun}_decided", name=member.name,
                         status=ctx.t(f"duty.{noun}_status.{item.status.value}"))
        return item, member

    return check


def _duty_queue(states: type[StatesGroup], start: tuple[str, ...], menu_key: str, noun: str, *,
                waiting: Callable[[Any, frozenset[int] | None], Awaitable[list[Listed]]], model: Any, status: Any,
                line: Callable[[Context, int, Listed], Awaitable[str]],
                detail: Callable[[Context, int, Listed], Awaitable[str]],
                actions: list[review.Action[Listed]]) -> review.ReviewQueue[Listed, Listed]:
    """What both queues share: secretaries within reach, every claim (appeal) waiting there, oldest first, as
    many lines as a passive reply holds; ``noun`` (claim, appeal) names the texts."""

    async def load(ctx: Context) -> review.Page[Listed]:
        rows = await waiting(ctx.session, groups_within_reach(ctx.member, Action.VERIFY_DUTY))
        return review.Page(rows, len(rows))

    how = f"duty_chat.review.{noun}s_how"
    texts = review.QueueTexts(
        forbidden="duty_chat.review.forbidden", empty=f"duty_chat.review.{noun}s_empty",
        done=f"duty_chat.review.{noun}s_done", title=f"duty_chat.review.{noun}s_title", more="duty_chat.review.more",
        how=how, bad_input=how, bad_decision=how, bad_number="duty_chat.review.bad_number")
    queue: review.ReviewQueue[Listed, Listed] = review.ReviewQueue(
        states, start, menu_key, allowed=_allowed, load=load, ident=lambda row: row[0].id or 0, line=line,
        check=_waiting(model, status, noun), detail=detail, actions=actions, texts=texts, shown=SHOWN,
        budget=LINES_BUDGET)
    queue.install(router)
    return queue


async def _refreshed(ctx: Context, member: Member, year: int) -> None:
    """The member's ledger rebuilt after a decision changed what counts."""
    await ledger.refresh(ctx.session, year_rules(ctx.services, year), year, ctx.zone, now=ctx.now,
                         members=[member.id or 0])


# --- 补录审核 -------------------------------------------------------------------------------------

async def _claim_line(ctx: Context, number: int, row: Listed) -> str:
    claim, member = row
    return ctx.t("duty_chat.review.claim_item", number=number, name=member.name, what=_claim_what(ctx, claim),
                 photos=await _photo_count(ctx, claim.id or 0), description=cut(claim.description, DESCRIPTION_CUT))


async def _claim_detail(ctx: Context, number: int, found: Listed) -> str:
    claim, member = found
    return ctx.t("duty_chat.review.claim_detail", number=number, name=member.name,
                 group=await _group_name(ctx, member), what=_claim_what(ctx, claim), description=claim.description,
                 photos=await _photo_count(ctx, claim.id or 0), created=dates.day(ctx, claim.created_at))


def _ask_reject_reason(ctx: Context, found: Listed) -> str:
    claim, member = found
    return ctx.t("duty_chat.review.ask_reject_reason", name=member.name, what=_claim_what(ctx, claim),
                 min=ops.REASON_MIN, max=ops.REASON_MAX)


def _decide_claim(verified: bool) -> Callable[[Context, Listed, str | None], Awaitable[str]]:
    async def decide(ctx: Context, found: Listed, note: str | None) -> str:
        claim, member = found
        await ops.decide_claim(ctx.session, claim, verified=verified, note=note or "", by=ctx.member, now=ctx.now)
        await _refreshed(ctx, member, claim.year)
        what = _claim_what(ctx, claim)
        if verified:
            rules = year_rules(ctx.services, claim.year)
            told = ctx.t("duty_chat.notify.claim_verified", what=what, points=f"{rules.duties[claim.kind].points:g}"
                         if claim.kind in rules.duties else "0")
        else:
            told = ctx.t("duty_chat.notify.claim_rejected", what=what, note=claim.decision_note)
        await _tell(ctx, member, told, key=f"duty-claim:{claim.id}:{claim.status.value}")
        done = "duty_chat.review.verified" if verified else "duty_chat.review.rejected"
        return ctx.t(done, name=member.name, what=what)

    return decide


def _claim_what(ctx: Context, claim: DutyClaim) -> str:
    day = ctx.local(claim.occurred_at).date()
    return claim_what(ctx, year_rules(ctx.services, claim.year), claim.kind, day)


async def _photo_count(ctx: Context, claim_id: int) -> int:
    return len((await ctx.session.scalars(select(DutyClaimPhoto.id).where(DutyClaimPhoto.claim_id == claim_id))).all())


CLAIMS = _duty_queue(
    ClaimReview, CLAIMS_WORDS, "DUTY_CLAIMS", "claim", waiting=ops.pending_claims, model=DutyClaim,
    status=ClaimStatus.PENDING, line=_claim_line, detail=_claim_detail,
    actions=[
        review.Action("verify", words.APPROVE | words.answer("核实", "verify"), _decide_claim(verified=True)),
        review.Action("reject", words.REJECT | words.answer("退回"), _decide_claim(verified=False), ask=review.Ask(
            ClaimReview.reason, _ask_reject_reason,
            review.read_reason(ops.REASON_MIN, ops.REASON_MAX, "duty_chat.review.bad_reason",
                               min=ops.REASON_MIN, max=ops.REASON_MAX))),
    ],
)


# --- 申诉处理 -------------------------------------------------------------------------------------

async def _appeal_line(ctx: Context, number: int, row: Listed) -> str:
    item, member = row
    return ctx.t("duty_chat.review.appeal_item", number=number, name=member.name, what=appeal_what(ctx, item),
                 reason=cut(item.reason, DESCRIPTION_CUT))


async def _appeal_detail(ctx: Context, number: int, found: Listed) -> str:
    item, member = found
    return ctx.t("duty_chat.review.appeal_detail", number=number, name=member.name,
                 group=await _group_name(ctx, member), what=appeal_what(ctx, item), reason=item.reason,
                 created=dates.day(ctx, item.created_at))


def _ask_answer(ctx: Context, found: Listed) -> str:
    item, member = found
    return ctx.t("duty_chat.review.ask_answer", name=member.name, what=appeal_what(ctx, item), min=ops.REASON_MIN,
                 max=ops.REASON_MAX)


def _read_answer(upheld: bool) -> Callable[[Context, Listed, str, Mapping[str, Any]], Answered | review.Retry]:
    """What follows ``维持 N`` / ``更正 N``: (for 更正, optional points, then) the answer told to the member.
    Points given before the answer was asked for are kept for the next message."""

    def read(ctx: Context, found: Listed, text: str, kept: Mapping[str, Any]) -> Answered | review.Retry:
        item, member = found
        value, rest = kept.get("points"), text.strip()
        if upheld and value is None and (given := _POINTS.match(rest)) is not None:
            value, rest = float(given.group(1)), given.group(2).strip()
        answer = " ".join(rest.split())
        if ops.REASON_MIN <= len(answer) <= ops.REASON_MAX:
            return answer, value
        key = "duty_chat.review.ask_answer" if not answer else "duty_chat.review.bad_answer"
        return review.Retry(key, {"name": member.name, "what": appeal_what(ctx, item), "min": ops.REASON_MIN,
                                  "max": ops.REASON_MAX}, kept={"points": value})

    return read


def _decide_appeal(upheld: bool) -> Callable[[Context, Listed, Answered], Awaitable[str]]:
    async def decide(ctx: Context, found: Listed, given: Answered) -> str:
        item, member = found
        answer, value = given
        adjustment = await ops.decide_appeal(ctx.session, item, upheld=upheld, answer=answer, by=ctx.member,
                                             now=ctx.now, points=value)
        await _refreshed(ctx, member, item.year)
        what = appeal_what(ctx, item)
        if not upheld:
            told = ctx.t("duty_chat.notify.appeal_dismissed", what=what, answer=answer)
        elif adjustment is not None:
            told = ctx.t("duty_chat.notify.appeal_adjusted", what=what, answer=answer,
                         points=signed(adjustment.tenths))
        else:
            told = ctx.t("duty_chat.notify.appeal_upheld", what=what, answer=answer)
        await _tell(ctx, member, told, key=f"duty-appeal:{item.id}:{item.status.value}")
        if adjustment is not None:
            return ctx.t("duty_chat.review.upheld_with_points", name=member.name, points=signed(adjustment.tenths))
        return ctx.t("duty_chat.review.upheld" if upheld else "duty_chat.review.dismissed", name=member.name)

    return decide


APPEALS = _duty_queue(
    AppealReview, APPEALS_WORDS, "DUTY_APPEALS", "appeal", waiting=ops.open_appeals, model=DutyAppeal,
    status=AppealStatus.OPEN, line=_appeal_line, detail=_appeal_detail,
    actions=[
        review.Action("uphold", words.answer("更正", "uphold") | words.APPROVE, _decide_appeal(upheld=True),
                      ask=review.Ask(AppealReview.answer, _ask_answer, _read_answer(upheld=True))),
        review.Action("dismiss", words.answer("维持", "dismiss") | words.REJECT, _decide_appeal(upheld=False),
                      ask=review.Ask(AppealReview.answer, _ask_answer, _read_answer(upheld=False))),
    ],
)


# --- 调整 -----------------------------------------------------------------------------------------

@router.regex(ADJUST)
async def adjust(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    found = _ADJUST_TEXT.match(flat(ctx.text))
    if found is None:
        return ctx.t("duty_chat.adjust.how")
    who, value, reason = found.group(1), float(found.group(2)), " ".join(found.group(3).split())
    if not reason:
        return ctx.t("duty_chat.adjust.no_reason", min=ops.REASON_MIN, max=ops.REASON_MAX)
    candidates = await _members_called(ctx, who)
    if not candidates:
        return ctx.t("duty_chat.adjust.nobody", who=who)
    within = [member for member in candidates if ops.may_verify(ctx.member, member)]
    if not within:
        return ctx.t("duty.error.not_allowed")
    if len(within) > 1:
        lines = [ctx.t("duty_chat.adjust.which", who=who)]
        lines += [ctx.t("duty_chat.adjust.candidate", name=member.name, group=await _group_name(ctx, member),
                        tail=member.mobile[-4:]) for member in within]
        return "\n".join(lines)
    member = within[0]
    year, rules = this_year(ctx)
    try:
        adjustment = await ops.adjust(ctx.session, member, year, points=value, reason=reason, by=ctx.member,
                                      now=ctx.now)
    except Refusal as exc:
        return exc.render(ctx.services.texts)
    await ledger.refresh(ctx.session, rules, year, ctx.zone, now=ctx.now, members=[member.id or 0])
    score = next(iter(await ledger.scores(ctx.session, rules, year, members=[member.id or 0])), None)
    await _tell(ctx, member, ctx.t("duty_chat.notify.adjusted", year=year, points=signed(adjustment.tenths),
                                   reason=adjustment.reason), key=f"duty-adjustment:{adjustment.id}")
    return ctx.t("duty_chat.adjust.done", name=member.name, group=await _group_name(ctx, member),
                 tail=member.mobile[-4:], points=signed(adjustment.tenths), reason=adjustment.reason, year=year,
                 total=points(score.total_tenths) if score is not None else "-")


async def _members_called(ctx: Context, who: str) -> list[Member]:
    """Active members whose mobile number or name is ``who``."""
    column = Member.mobile if re.fullmatch(r"\d{11}", who) else Member.name
    return list((await ctx.session.scalars(
        select(Member).where(column == who, Member.status == MemberStatus.ACTIVE,
                             Member.role.in_(ledger.ASSESSED_ROLES))  # type: ignore[attr-defined]
        .order_by(Member.id)
    )).all())


# --- 履职排名 -------------------------------------------------------------------------------------

@router.regex(RANKING)
async def ranking(ctx: Context) -> str:
    reach = groups_within_reach(ctx.member, Action.VIEW_DUTY_OF_OTHERS)
    if reach == frozenset():
        return ctx.t("duty_chat.ranking.forbidden")
    assert ctx.match is not None
    wanted = (ctx.match.group(1) or "").strip()
    year, rules = this_year(ctx)
    scope = None if reach is None else select(Member.id).where(Member.group_id.in_(reach))  # type: ignore[union-attr]
    await ledger.refresh(ctx.session, rules, year, ctx.zone, now=ctx.now, members=scope)
    found = await ledger.scores(ctx.session, rules, year, members=scope)
    names = {gid: name for gid, name in (await ledger.group_names(ctx.session)).items()
             if reach is None or gid in reach}
    head = ctx.t("duty_chat.ranking.title", year=year, pass_mark=f"{rules.pass_mark:g}")
    if normalise(wanted) in _SECTORS:
        standings = ledger.standings(found, await ledger.sector_names(ctx.session), "sector_id",
                                     ctx.t("duty_chat.ranking.no_sector"))
        return _standings_reply(ctx, head, ctx.t("duty_chat.ranking.by_sector"), standings, found, "sector_id")
    if wanted:
        group_id = next((gid for gid, name in names.items() if normalise(name) == normalise(wanted)), None)
        if group_id is None:
            return ctx.t("duty_chat.ranking.no_group", name=wanted, groups="、".join(sorted(names.values())))
        return _group_reply(ctx, head, names[group_id], [s for s in found if s.group_id == group_id])
    if reach is not None and len(reach) == 1:
        [group_id] = reach
        return _group_reply(ctx, head, names.get(group_id, "-"), [s for s in found if s.group_id == group_id])
    standings = ledger.standings(found, names, "group_id", ctx.t("duty_chat.ranking.no_group_name"))
    return _standings_reply(ctx, head, ctx.t("duty_chat.ranking.by_group"), standings, found, "group_id")


def _standings_reply(ctx: Context, head: str, kind: str, standings: list[ledger.Standing],
                     found: list[ledger.Score], key: str) -> str:
    if not standings:
        return "\n".join([head, ctx.t("duty_chat.ranking.nobody")])
    lines = [head, kind]
    lines += [ctx.t("duty_chat.ranking.standing", rank=row.rank, name=row.name, average=f"{row.average:g}",
                    members=row.members, below=row.below_pass) for row in standings]
    below = [score for score in found if not score.passed]
    if below:
        names = {row.id: row.name for row in standings}
        by_bucket: dict[Any, list[str]] = {}
        for score in below:
            by_bucket.setdefault(getattr(score, key), []).append(
                ctx.t("duty_chat.ranking.person", name=score.name, total=points(score.total_tenths)))
        lines.append(ctx.t("duty_chat.ranking.below_title", count=len(below)))
        budget = LINES_BUDGET - sum(len(line.encode()) + 1 for line in lines)
        for row in standings:
            people = by_bucket.get(row.id, [])
            if not people:
                continue
            line = ctx.t("duty_chat.ranking.below_line", name=names.get(row.id, row.name), people="、".join(people))
            if len(line.encode()) + 1 > budget:
                lines.append(ctx.t("duty_chat.ranking.cut"))
                break
            budget -= len(line.encode()) + 1
            lines.append(line)
    else:
        lines.append(ctx.t("duty_chat.ranking.all_passed"))
    return "\n".join(lines)


def _group_reply(ctx: Context, head: str, name: str, found: list[ledger.Score]) -> str:
    if not found:
        return "\n".join([head, ctx.t("duty_chat.ranking.group_empty", name=name)])
    below = sum(not score.passed for score in found)
    average = round(sum(s.total_tenths for s in found) / 10 / len(found), 1)
    lines = [head, ctx.t("duty_chat.ranking.group_title", name=name, members=len(found), average=f"{average:g}",
                         below=below)]
    blocks = [ctx.t("duty_chat.ranking.member", rank=score.group_rank, name=score.name,
                    total=points(score.total_tenths), grade=score.grade,
                    mark="" if score.passed else ctx.t("duty_chat.ranking.below_mark"))
              for score in sorted(found, key=lambda s: (s.group_rank, s.member_id))]
    shown = lines_that_fit(blocks, LINES_BUDGET - sum(len(line.encode()) + 1 for line in lines))
    lines += blocks[:shown]
    if shown < len(blocks):
        lines.append(ctx.t("duty_chat.ranking.more", more=len(blocks) - shown))
    return "\n".join(lines)


# --- helpers --------------------------------------------------------------------------------------

async def _tell(ctx: Context, member: Member, text: str, *, key: str) -> None:
    ctx.pushed = await tell_member(ctx.session, member.id or 0, text, key) or ctx.pushed


async def _group_name(ctx: Context, member: Member) -> str:
    group = await ctx.session.get(LiaisonGroup, member.group_id) if member.group_id is not None else None
    return group.name if group is not None else "-"
