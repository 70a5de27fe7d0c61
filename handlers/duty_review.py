"""The secretaries' side of the duty record: ``补录审核`` verifies self-reported duties, ``申诉处理``
decides appeals, ``调整 <姓名或手机号> <±分> <理由>`` adjusts a member's points, ``履职排名`` shows how the
liaison groups (or one group's members, or the sectors) stand.

```mermaid
stateDiagram-v2
    [*] --> [*]: may verify no group / refused
    [*] --> [*]: nothing pending / "nothing to verify"
    [*] --> claims: 补录审核 / numbered pending claims within reach (oldest first)
    claims --> claims: 通过 N / verified, member told, list again · N / the claim in full
    claims --> claims: 退回 N 理由 / rejected, member told why, list again
    claims --> reason: 退回 N
    reason --> claims: a reason (2–300) / rejected, member told why, list again
    [*] --> appeals: 申诉处理 / numbered open appeals within reach (oldest first)
    appeals --> appeals: 维持 N 答复 / dismissed · 更正 N [±分] 答复 / upheld (with an adjustment), member told
    appeals --> answer: 维持 N · 更正 N [±分]
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
from typing import Any

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import duty as ops
from bot.domain import ledger
from bot.domain.authz import Action, groups_within_reach
from bot.domain.notify import tell_member
from handlers.duty import (
    LINES_BUDGET,
    appeal_what,
    claim_what,
    cut,
    flat,
    local_day,
    points,
    render_error,
    signed,
    this_year,
    zone,
)
from models.duty import AppealStatus, ClaimStatus, DutyAppeal, DutyClaim, DutyClaimPhoto
from models.member import LiaisonGroup, Member, MemberStatus


class ClaimReview(StatesGroup):
    listed = State()
    reason = State()


class AppealReview(StatesGroup):
    listed = State()
    answer = State()


router = Router("duty_review")
router.describe("补录审核", "duty_chat.help.claims_review", audience="secretary")
router.describe("申诉处理", "duty_chat.help.appeals_review", audience="secretary")
router.describe("调整", "duty_chat.help.adjust", audience="secretary")
router.describe("履职排名", "duty_chat.help.ranking", audience="secretary")

CLAIMS_WORDS = ("补录审核", "审核补录", "review claims")
APPEALS_WORDS = ("申诉处理", "处理申诉", "review appeals")
VERIFY = r"^(?:通过|核实|同意|verify)\s*(\d+)$"
REJECT = r"^(?:退回|不通过|驳回|reject)\s*\d+"
DISMISS = r"^(?:维持|dismiss)\s*\d+"
UPHOLD = r"^(?:更正|uphold)\s*\d+"
NUMBER = r"^(\d+)[.、]?$"
ADJUST = r"^(?:调整|adjust)(?:\s|$)"
RANKING = r"^(?:履职排名|排名|ranking)(?:\s+(.+))?$"
_REJECT_TEXT = re.compile(r"^(?:退回|不通过|驳回|reject)\s*(\d+)[\s,，:：]*(.*)$", re.IGNORECASE | re.DOTALL)
_DECIDE_TEXT = re.compile(r"^(维持|dismiss|更正|uphold)\s*(\d+)[\s,，:：]*(.*)$", re.IGNORECASE | re.DOTALL)
_POINTS = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*分?(?:\s+|$)(.*)$", re.DOTALL)
_ADJUST_TEXT = re.compile(r"^(?:调整|adjust)\s+(\S+)\s+([+-]?\d+(?:\.\d+)?)\s*分?\s*(.*)$", re.IGNORECASE | re.DOTALL)
_SECTORS = frozenset(normalise(w) for w in ("界别", "按界别", "sector", "sectors"))
_UPHOLD_WORDS = frozenset(("更正", "uphold"))
SHOWN = 8  # claims or appeals listed at once; the rest follow once these are decided
DESCRIPTION_CUT = 40


def _allowed(ctx: Context) -> bool:
    return groups_within_reach(ctx.member, Action.VERIFY_DUTY) != frozenset()


def _refuse(ctx: Context) -> str:
    if ctx.conv.state is not None and (ClaimReview.contains(ctx.conv.state) or AppealReview.contains(ctx.conv.state)):
        ctx.conv.finish()
    return ctx.t("duty_chat.review.forbidden")


# --- 补录审核 -------------------------------------------------------------------------------------

@router.command(*CLAIMS_WORDS)
@router.click("DUTY_CLAIMS")
async def start_claims(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    ctx.conv.finish()  # a fresh start forgets any other conversation's data
    return await _claims_list(ctx, after_decision=False)


@router.regex(VERIFY, state=ClaimReview.listed)
async def verify(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    assert ctx.match is not None
    return await _decide_claim(ctx, int(ctx.match.group(1)), verified=True)


@router.regex(REJECT, state=ClaimReview.listed)
async def reject(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    found = _REJECT_TEXT.match(flat(ctx.text))
    if found is None:
        return ctx.re_ask("duty_chat.review.claims_how")
    number, note = int(found.group(1)), " ".join(found.group(2).split())
    if not note:
        claim = await _listed_claim(ctx, number)
        if isinstance(claim, str):
            return claim
        ctx.conv.set(ClaimReview.reason, current=number)
        return ctx.t("duty_chat.review.ask_reject_reason", name=claim[1].name, what=_claim_what(ctx, claim[0]),
                     min=ops.REASON_MIN, max=ops.REASON_MAX)
    return await _decide_claim(ctx, number, verified=False, note=note)


@router.regex(NUMBER, state=ClaimReview.listed)
async def claim_detail(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    assert ctx.match is not None
    found = await _listed_claim(ctx, int(ctx.match.group(1)))
    if isinstance(found, str):
        return found
    claim, member = found
    photos = await _photo_count(ctx, claim.id or 0)
    return ctx.t("duty_chat.review.claim_detail", number=int(ctx.match.group(1)), name=member.name,
                 group=await _group_name(ctx, member), what=_claim_what(ctx, claim), description=claim.description,
                 photos=photos, created=local_day(ctx, claim.created_at))


@router.fallback(state=ClaimReview.listed)
async def claims_unclear(ctx: Context) -> str:
    return ctx.re_ask("duty_chat.review.claims_how")


@router.state(ClaimReview.reason)
async def got_reject_reason(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    typed = normalise(ctx.text)
    if typed in {normalise(w) for w in CLAIMS_WORDS}:
        return await _claims_list(ctx, after_decision=False)
    if (again := re.search(VERIFY, typed)) is not None:  # a change of mind: no reason looks like "通过 2"
        return await _decide_claim(ctx, int(again.group(1)), verified=True)
    if re.search(REJECT, typed):  # "退回 2 …": another line after all
        return await reject(ctx)
    note = " ".join(ctx.text.split())
    if not ops.REASON_MIN <= len(note) <= ops.REASON_MAX:
        return ctx.re_ask("duty_chat.review.bad_reason", min=ops.REASON_MIN, max=ops.REASON_MAX)
    return await _decide_claim(ctx, int(ctx.conv.data.get("current", 0)), verified=False, note=note)


async def _decide_claim(ctx: Context, number: int, *, verified: bool, note: str = "") -> str:
    found = await _listed_claim(ctx, number)
    if isinstance(found, str):
        return found
    claim, member = found
    if not verified and not ops.REASON_MIN <= len(note) <= ops.REASON_MAX:
        ctx.conv.set(ClaimReview.reason, current=number)
        return ctx.t("duty_chat.review.bad_reason", min=ops.REASON_MIN, max=ops.REASON_MAX)
    try:
        await ops.decide_claim(ctx.session, claim, verified=verified, note=note, by=ctx.member, now=ctx.now)
    except ops.DutyError as exc:
        return await _claims_list(ctx, render_error(ctx, exc), after_decision=False)
    rules = ctx.services.year_rules(claim.year)
    await ledger.refresh(ctx.session, rules, claim.year, zone(ctx), now=ctx.now, members=[member.id or 0])
    what = _claim_what(ctx, claim)
    if verified:
        told = ctx.t("duty_chat.notify.claim_verified", what=what, points=f"{rules.duties[claim.kind].points:g}"
                     if claim.kind in rules.duties else "0")
    else:
        told = ctx.t("duty_chat.notify.claim_rejected", what=what, note=claim.decision_note)
    await _tell(ctx, member, told, key=f"duty-claim:{claim.id}:{claim.status.value}")
    done = "duty_chat.review.verified" if verified else "duty_chat.review.rejected"
    return await _claims_list(ctx, ctx.t(done, name=member.name, what=what))


async def _listed_claim(ctx: Context, number: int) -> tuple[DutyClaim, Member] | str:
    """The claim on line ``number`` of the list shown, or the sentence (with the list again) saying why not."""
    return await _listed(ctx, number, DutyClaim, ClaimStatus.PENDING, _claims_list, "claim")


async def _claims_list(ctx: Context, before: str = "", *, after_decision: bool = True) -> str:
    """The pending claims within reach, numbered; ends the conversation when there are none."""
    rows = await ops.pending_claims(ctx.session, groups_within_reach(ctx.member, Action.VERIFY_DUTY))
    head = [before] if before else []
    if not rows:
        ctx.conv.finish()
        return "\n\n".join([*head, ctx.t("duty_chat.review.claims_done" if after_decision
                                          else "duty_chat.review.claims_empty")])
    blocks = []
    for number, (claim, member) in enumerate(rows[:SHOWN], start=1):
        blocks.append(ctx.t("duty_chat.review.claim_item", number=number, name=member.name,
                            what=_claim_what(ctx, claim), photos=await _photo_count(ctx, claim.id or 0),
                            description=cut(claim.description, DESCRIPTION_CUT)))
    shown = _fitting(blocks, LINES_BUDGET - sum(len(line.encode()) for line in head))
    ctx.conv.set(ClaimReview.listed, ids=[claim.id for claim, _ in rows[:shown]], current=None)
    listing = [ctx.t("duty_chat.review.claims_title", count=len(rows)), *blocks[:shown]]
    if len(rows) > shown:
        listing.append(ctx.t("duty_chat.review.more", shown=shown))
    listing.append(ctx.t("duty_chat.review.claims_how"))
    return "\n\n".join([*head, "\n".join(listing)])


def _claim_what(ctx: Context, claim: DutyClaim) -> str:
    day = claim.occurred_at.astimezone(zone(ctx)).date()
    return claim_what(ctx, ctx.services.year_rules(claim.year), claim.kind, day)


async def _photo_count(ctx: Context, claim_id: int) -> int:
    return len((await ctx.session.scalars(select(DutyClaimPhoto.id).where(DutyClaimPhoto.claim_id == claim_id))).all())


# --- 申诉处理 -------------------------------------------------------------------------------------

@router.command(*APPEALS_WORDS)
@router.click("DUTY_APPEALS")
async def start_appeals(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    ctx.conv.finish()
    return await _appeals_list(ctx, after_decision=False)


@router.regex(DISMISS, state=AppealReview.listed)
@router.regex(UPHOLD, state=AppealReview.listed)
async def decide(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    found = _DECIDE_TEXT.match(flat(ctx.text))
    if found is None:
        return ctx.re_ask("duty_chat.review.appeals_how")
    upheld = found.group(1).lower() in _UPHOLD_WORDS
    number, rest = int(found.group(2)), found.group(3).strip()
    return await _answer(ctx, number, upheld=upheld, rest=rest)


@router.regex(NUMBER, state=AppealReview.listed)
async def appeal_detail(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    assert ctx.match is not None
    number = int(ctx.match.group(1))
    found = await _listed_appeal(ctx, number)
    if isinstance(found, str):
        return found
    item, member = found
    return ctx.t("duty_chat.review.appeal_detail", number=number, name=member.name,
                 group=await _group_name(ctx, member), what=appeal_what(ctx, item), reason=item.reason,
                 created=local_day(ctx, item.created_at))


@router.fallback(state=AppealReview.listed)
async def appeals_unclear(ctx: Context) -> str:
    return ctx.re_ask("duty_chat.review.appeals_how")


@router.state(AppealReview.answer)
async def got_answer(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    typed = normalise(ctx.text)
    if typed in {normalise(w) for w in APPEALS_WORDS}:
        return await _appeals_list(ctx, after_decision=False)
    if (found := _DECIDE_TEXT.match(flat(ctx.text))) is not None:  # a change of mind: "维持 2 …"
        return await _answer(ctx, int(found.group(2)), upheld=found.group(1).lower() in _UPHOLD_WORDS,
                             rest=found.group(3).strip())
    data = ctx.conv.data
    value = data.get("points")
    return await _answer(ctx, int(data.get("current", 0)), upheld=bool(data.get("upheld")), rest=ctx.text.strip(),
                         value=float(value) if value is not None else None)


async def _answer(ctx: Context, number: int, *, upheld: bool, rest: str, value: float | None = None) -> str:
    """``rest`` is what followed ``维持 N`` / ``更正 N``: (for 更正, optional points, then) the answer."""
    found = await _listed_appeal(ctx, number)
    if isinstance(found, str):
        return found
    item, member = found
    if upheld and value is None and (given := _POINTS.match(rest)) is not None:
        value, rest = float(given.group(1)), given.group(2).strip()
    answer = " ".join(rest.split())
    if not ops.REASON_MIN <= len(answer) <= ops.REASON_MAX:
        ctx.conv.set(AppealReview.answer, current=number, upheld=upheld, points=value)
        key = "duty_chat.review.ask_answer" if not answer else "duty_chat.review.bad_answer"
        return ctx.t(key, name=member.name, what=appeal_what(ctx, item), min=ops.REASON_MIN, max=ops.REASON_MAX)
    try:
        adjustment = await ops.decide_appeal(ctx.session, item, upheld=upheld, answer=answer, by=ctx.member,
                                             now=ctx.now, points=value)
    except ops.DutyError as exc:
        return await _appeals_list(ctx, render_error(ctx, exc), after_decision=False)
    rules = ctx.services.year_rules(item.year)
    await ledger.refresh(ctx.session, rules, item.year, zone(ctx), now=ctx.now, members=[member.id or 0])
    what = appeal_what(ctx, item)
    if not upheld:
        told = ctx.t("duty_chat.notify.appeal_dismissed", what=what, answer=answer)
    elif adjustment is not None:
        told = ctx.t("duty_chat.notify.appeal_adjusted", what=what, answer=answer, points=signed(adjustment.tenths))
    else:
        told = ctx.t("duty_chat.notify.appeal_upheld", what=what, answer=answer)
    await _tell(ctx, member, told, key=f"duty-appeal:{item.id}:{item.status.value}")
    if adjustment is not None:
        done = ctx.t("duty_chat.review.upheld_with_points", name=member.name, points=signed(adjustment.tenths))
    else:
        done = ctx.t("duty_chat.review.upheld" if upheld else "duty_chat.review.dismissed", name=member.name)
    return await _appeals_list(ctx, done)


async def _listed_appeal(ctx: Context, number: int) -> tuple[DutyAppeal, Member] | str:
    return await _listed(ctx, number, DutyAppeal, AppealStatus.OPEN, _appeals_list, "appeal")


async def _listed(ctx: Context, number: int, model: Any, waiting: Any, relist: Any, noun: str) -> Any:
    """Line ``number`` of the claims or appeals list shown (with its member) while it still waits for a
    decision within the secretary's reach; otherwise the reason, with the list again."""
    ids = [int(i) for i in ctx.conv.data.get("ids", [])]
    if not 1 <= number <= len(ids):
        return ctx.re_ask("duty_chat.review.bad_number", number=number)
    item = await ctx.session.get(model, ids[number - 1])
    member = await ctx.session.get(Member, item.member_id) if item is not None else None
    if item is None or member is None:
        return await relist(ctx, ctx.t("duty_chat.review.gone"), after_decision=False)
    if not ops.may_verify(ctx.member, member):
        return await relist(ctx, ctx.t("duty.error.not_allowed"), after_decision=False)
    if item.status is not waiting:
        return await relist(ctx, ctx.t(f"duty_chat.review.{noun}_decided", name=member.name,
                                       status=ctx.t(f"duty.{noun}_status.{item.status.value}")),
                            after_decision=False)
    return item, member


async def _appeals_list(ctx: Context, before: str = "", *, after_decision: bool = True) -> str:
    rows = await ops.open_appeals(ctx.session, groups_within_reach(ctx.member, Action.VERIFY_DUTY))
    head = [before] if before else []
    if not rows:
        ctx.conv.finish()
        return "\n\n".join([*head, ctx.t("duty_chat.review.appeals_done" if after_decision
                                          else "duty_chat.review.appeals_empty")])
    blocks = [ctx.t("duty_chat.review.appeal_item", number=number, name=member.name, what=appeal_what(ctx, item),
                    reason=cut(item.reason, DESCRIPTION_CUT))
              for number, (item, member) in enumerate(rows[:SHOWN], start=1)]
    shown = _fitting(blocks, LINES_BUDGET - sum(len(line.encode()) for line in head))
    ctx.conv.set(AppealReview.listed, ids=[item.id for item, _ in rows[:shown]], current=None)
    listing = [ctx.t("duty_chat.review.appeals_title", count=len(rows)), *blocks[:shown]]
    if len(rows) > shown:
        listing.append(ctx.t("duty_chat.review.more", shown=shown))
    listing.append(ctx.t("duty_chat.review.appeals_how"))
    return "\n\n".join([*head, "\n".join(listing)])


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
    except ops.DutyError as exc:
        return render_error(ctx, exc)
    await ledger.refresh(ctx.session, rules, year, zone(ctx), now=ctx.now, members=[member.id or 0])
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
    await ledger.refresh(ctx.session, rules, year, zone(ctx), now=ctx.now, members=scope)
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
    shown = _fitting(blocks, LINES_BUDGET - sum(len(line.encode()) + 1 for line in lines))
    lines += blocks[:shown]
    if shown < len(blocks):
        lines.append(ctx.t("duty_chat.ranking.more", more=len(blocks) - shown))
    return "\n".join(lines)


# --- helpers --------------------------------------------------------------------------------------

def _fitting(blocks: list[str], budget: int) -> int:
    """How many of ``blocks`` (one per line, in order) fit in ``budget`` bytes; at least one."""
    used = 0
    for count, block in enumerate(blocks):
        used += len(block.encode()) + 1
        if used > budget:
            return max(count, 1)
    return len(blocks)


async def _tell(ctx: Context, member: Member, text: str, *, key: str) -> None:
    ctx.pushed = await tell_member(ctx.session, member.id or 0, text, key) or ctx.pushed


async def _group_name(ctx: Context, member: Member) -> str:
    group = await ctx.session.get(LiaisonGroup, member.group_id) if member.group_id is not None else None
    return group.name if group is not None else "-"
