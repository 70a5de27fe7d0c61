"""``审核报送`` (menu key ``REPORT_REVIEW``): secretaries review social-condition reports in chat.

``审核`` alone belongs to the registration review (``handlers.review``), so this one has its own word.

```mermaid
stateDiagram-v2
    [*] --> [*]: not a reviewer / refused
    [*] --> [*]: queue empty / "nothing waiting"
    [*] --> choose: 审核报送 / numbered queue (submitted and under review, oldest first, within reach)
    choose --> decide: N / the report in full, the actions its status allows
    decide --> decide: 受理 / under review, member told
    decide --> comment: 退回 / 不采用
    comment --> choose: a comment (不采用: or 无) / decided, member told, queue again
    decide --> level: 采用
    level --> choose: 1–4 or 县级/市级/省级/全国 / adopted, member told, queue again
    choose --> [*]: queue empty after a decision
```

The queue shown is stored as report ids, so "2" means the second line the secretary saw. Every
decision goes through :func:`bot.domain.reports.transition`, which checks the reviewer's reach and the
report's current status again (another secretary, or the member withdrawing, may have been quicker).
Instructions (批示) and adoption at a higher level are recorded through the admin API.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import reports as ops
from bot.domain.authz import Action, groups_within_reach
from handlers.report import render_detail
from models.member import LiaisonGroup, Member
from models.report import Report, ReportStatus


class ReportReview(StatesGroup):
    choose = State()
    decide = State()
    comment = State()
    level = State()


router = Router("report_review")
router.describe("审核报送", "report.help.review", audience="secretary")

WORDS = {
    "accept": ("受理", "accept"),
    "return": ("退回", "return"),
    "adopt": ("采用", "adopt"),
    "not_adopt": ("不采用", "reject"),
}
_ACTION_OF = {normalise(word): action for action, words in WORDS.items() for word in words}
NO_COMMENT = frozenset(normalise(w) for w in ("无", "没有", "none", "-"))


@router.command("审核报送", "review reports")
@router.click("REPORT_REVIEW")
async def start_review(ctx: Context) -> str:
    if not _allowed(ctx):
        return ctx.t("report.review.forbidden")
    ctx.conv.finish()
    return await _show_queue(ctx)


@router.state(ReportReview.choose)
async def chose(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    ids = [int(i) for i in ctx.conv.data.get("ids", [])]
    typed = normalise(ctx.text).rstrip(".、")
    if not typed.isdigit() or not 1 <= int(typed) <= len(ids):
        return ctx.re_ask("report.review.bad_number", count=len(ids))
    return await _show_report(ctx, ids[int(typed) - 1])


@router.state(ReportReview.decide)
async def decided(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    report_id = int(ctx.conv.data["current"])
    action = _ACTION_OF.get(normalise(ctx.text))
    if action is None:
        return ctx.re_ask("report.review.bad_action")
    if action == "accept":
        return await _apply(ctx, report_id, "accept", then_show=True)
    if action == "adopt":
        ctx.conv.set(ReportReview.level, current=report_id)
        return ctx.t("report.review.ask_level")
    ctx.conv.set(ReportReview.comment, current=report_id, action=action)
    return ctx.t(f"report.review.ask_comment_{action}")


@router.state(ReportReview.comment)
async def got_comment(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    action = str(ctx.conv.data.get("action", "return"))
    comment = "" if action == "not_adopt" and normalise(ctx.text) in NO_COMMENT else ctx.text
    if action == "return" and len(comment) < 2:
        return ctx.re_ask("report.review.ask_comment_return")
    if len(comment) > ops.COMMENT_MAX:
        return ctx.re_ask("report.errors.comment_too_long", limit=ops.COMMENT_MAX)
    return await _apply(ctx, int(ctx.conv.data["current"]), action, comment=comment)


@router.state(ReportReview.level)
async def got_level(ctx: Context) -> str:
    if not _allowed(ctx):
        return _refuse(ctx)
    level = ops.parse_level(ctx.text)
    if level is None:
        return ctx.re_ask("report.review.ask_level")
    return await _apply(ctx, int(ctx.conv.data["current"]), "adopt", level=level)


# --- steps ----------------------------------------------------------------------------------------

async def _apply(ctx: Context, report_id: int, action: str, *, comment: str = "", level: object = None,
                 then_show: bool = False) -> str:
    try:
        outcome = await ops.transition(ctx.session, report_id, action, by=ctx.member, now=ctx.now,
                                       texts=ctx.services.texts, comment=comment, level=level,  # type: ignore[arg-type]
                                       zone=_zone(ctx))
    except ops.ReportError as exc:
        return await _show_queue(ctx, exc.render(ctx.services.texts))
    ctx.pushed = ctx.pushed or outcome.notified
    done = ctx.t("report.review.done", title=outcome.report.title,
                 status=ctx.t(f"report.status.{outcome.report.status.value}"))
    if then_show:
        return await _show_report(ctx, report_id, done)
    return await _show_queue(ctx, done)


async def _show_report(ctx: Context, report_id: int, before: str = "") -> str:
    report = await ctx.session.get(Report, report_id)
    if report is None or report.status not in ops.QUEUE_STATUSES:
        return await _show_queue(ctx, ctx.t("report.review.gone"))
    author = await ctx.session.get(Member, report.member_id)
    group = await ctx.session.get(LiaisonGroup, report.group_id) if report.group_id else None
    lines = [before] if before else []
    lines.append(ctx.t("report.review.author", name=author.name if author else "-",
                       group=group.name if group else "-"))
    lines.append(await render_detail(ctx, report, for_member=False))
    lines.append(ctx.t("report.review.body", body=report.body))
    if report.similar_report_id is not None:
        other = await ctx.session.get(Report, report.similar_report_id)
        if other is not None:
            lines.append(ctx.t("report.similar", title=other.title, percent=round((report.similarity or 0) * 100)))
    how = "report.review.how_submitted" if report.status is ReportStatus.SUBMITTED else "report.review.how_reviewing"
    lines.append(ctx.t(how))
    ctx.conv.set(ReportReview.decide, current=report_id)
    return "\n".join(lines)


async def _show_queue(ctx: Context, before: str = "") -> str:
    reach = groups_within_reach(ctx.member, Action.REVIEW_REPORT)
    rows, total = await ops.review_queue(ctx.session, reach)
    lines = [before] if before else []
    if not rows:
        ctx.conv.finish()
        return "\n\n".join([*lines, ctx.t("report.review.empty")])
    ctx.conv.set(ReportReview.choose, ids=[row.id for row in rows])
    listing = [ctx.t("report.review.title", count=total)]
    for number, report in enumerate(rows, start=1):
        author = await ctx.session.get(Member, report.member_id)
        listing.append(ctx.t("report.review.item", number=number, title=report.title,
                             name=author.name if author else "-",
                             status=ctx.t(f"report.status.{report.status.value}"),
                             date=_local(ctx, report)))
    if total > len(rows):
        listing.append(ctx.t("report.review.more", shown=len(rows)))
    listing.append(ctx.t("report.review.how"))
    return "\n\n".join([*lines, "\n".join(listing)])


def _refuse(ctx: Context) -> str:
    ctx.conv.finish()
    return ctx.t("report.review.forbidden")


def _allowed(ctx: Context) -> bool:
    return groups_within_reach(ctx.member, Action.REVIEW_REPORT) != frozenset()


def _zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.services.settings.scheduler.timezone)


def _local(ctx: Context, report: Report) -> str:
    moment = report.submitted_at or report.created_at
    return moment.astimezone(_zone(ctx)).strftime("%m-%d %H:%M")
