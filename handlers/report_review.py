"""``审核报送`` (menu key ``REPORT_REVIEW``): secretaries review social-condition reports in chat, as a review
queue (:mod:`handlers.kit.review`: the list, the numbers, the checks and the texts' layout are the kit's).

``审核`` alone belongs to the registration review (``handlers.review``), so this one has its own word.

```mermaid
stateDiagram-v2
    [*] --> [*]: not a reviewer / refused
    [*] --> [*]: queue empty / "nothing waiting"
    [*] --> choose: 审核报送 / numbered queue (submitted and under review, oldest first, within reach)
    choose --> decide: N / the report in full, the actions its status allows
    decide --> decide: 受理 / under review, member told, the report again
    decide --> comment: 退回 / 不采用 (· 驳回 · 拒绝)
    comment --> choose: a comment (不采用: or 无) / decided, member told, queue again
    decide --> level: 采用
    level --> choose: 1–4 or 县级/市级/省级/全国 / adopted, member told, queue again
    choose --> choose: 受理 N · 退回 N 意见 · 采用 N 省级 · 不采用 N 无 / the same from the queue, in one line
    choose --> [*]: queue empty after a decision
```

The queue shown is stored as report ids, so "2" means the second line the secretary saw. Every
decision goes through :func:`bot.domain.reports.transition`, which checks the reviewer's reach and the
report's current status again (another secretary, or the member withdrawing, may have been quicker).
Instructions (批示) and adoption at a higher level are recorded through the admin API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import reports as ops
from bot.domain.authz import Action, groups_within_reach
from handlers.kit import dates, review, words
from handlers.report import render_detail
from models.member import LiaisonGroup, Member
from models.report import AdoptionLevel, Report, ReportStatus


class ReportReview(StatesGroup):
    choose = State()
    decide = State()
    comment = State()
    level = State()


router = Router("report_review")
router.describe("审核报送", "report.help.review", audience="secretary")

START_WORDS = ("审核报送", "review reports")
NO_COMMENT = words.SKIP | words.answer("-")  # 不采用 without a reason


def _allowed(ctx: Context) -> bool:
    return groups_within_reach(ctx.member, Action.REVIEW_REPORT) != frozenset()


async def _queue(ctx: Context) -> review.Page[Report]:
    rows, total = await ops.review_queue(ctx.session, groups_within_reach(ctx.member, Action.REVIEW_REPORT))
    return review.Page(rows, total)


async def _line(ctx: Context, number: int, report: Report) -> str:
    author = await ctx.session.get(Member, report.member_id)
    return ctx.t("report.review.item", number=number, title=report.title, name=author.name if author else "-",
                 status=ctx.t(f"report.status.{report.status.value}"),
                 date=dates.stamp(ctx, report.submitted_at or report.created_at))


async def _waiting(ctx: Context, report_id: int) -> Report | str:
    """The report while it is still in the queue; who may decide it, :func:`ops.transition` says."""
    report = await ctx.session.get(Report, report_id)
    if report is None or report.status not in ops.QUEUE_STATUSES:
        return ctx.t("report.review.gone")
    return report


async def _detail(ctx: Context, number: int, report: Report) -> str:
    author = await ctx.session.get(Member, report.member_id)
    group = await ctx.session.get(LiaisonGroup, report.group_id) if report.group_id else None
    lines = [ctx.t("report.review.author", name=author.name if author else "-", group=group.name if group else "-"),
             await render_detail(ctx, report, for_member=False), ctx.t("report.review.body", body=report.body)]
    if report.similar_report_id is not None:
        other = await ctx.session.get(Report, report.similar_report_id)
        if other is not None:
            lines.append(ctx.t("report.similar", title=other.title, percent=round((report.similarity or 0) * 100)))
    how = "report.review.how_submitted" if report.status is ReportStatus.SUBMITTED else "report.review.how_reviewing"
    lines.append(ctx.t(how))
    return "\n".join(lines)


def _apply(action: str) -> Callable[[Context, Report, Any], Awaitable[str]]:
    """Run ``action`` through the workflow; ``value`` is the comment or the level the reviewer gave."""

    async def apply(ctx: Context, report: Report, value: Any) -> str:
        outcome = await ops.transition(
            ctx.session, report.id or 0, action, by=ctx.member, now=ctx.now, texts=ctx.services.texts,
            comment=value if isinstance(value, str) else "",
            level=value if isinstance(value, AdoptionLevel) else None, zone=ctx.zone)
        ctx.pushed = ctx.pushed or outcome.notified
        return ctx.t("report.review.done", title=outcome.report.title,
                     status=ctx.t(f"report.status.{outcome.report.status.value}"))

    return apply


def _comment(required: bool) -> Callable[[Context, Report, str, Mapping[str, Any]], str | review.Retry]:
    """退回 needs a comment (the member revises by it); 不采用 may go without (无)."""

    def read(ctx: Context, report: Report, text: str, kept: Mapping[str, Any]) -> str | review.Retry:
        comment = "" if not required and normalise(text) in NO_COMMENT else text
        if required and len(comment) < 2:
            return review.Retry("report.review.ask_comment_return")
        if len(comment) > ops.COMMENT_MAX:
            return review.Retry("report.errors.comment_too_long", {"limit": ops.COMMENT_MAX})
        return comment

    return read


def _level(ctx: Context, report: Report, text: str, kept: Mapping[str, Any]) -> AdoptionLevel | review.Retry:
    return ops.parse_level(text) or review.Retry("report.review.ask_level")


def _asking(key: str) -> Callable[[Context, Report], str]:
    return lambda ctx, report: ctx.t(key)


QUEUE = review.ReviewQueue(
    ReportReview, START_WORDS, "REPORT_REVIEW", allowed=_allowed, load=_queue, ident=lambda report: report.id or 0,
    line=_line, check=_waiting, detail=_detail,
    actions=[
        review.Action("accept", words.answer("受理", "accept"), _apply("accept"), stay=True),
        review.Action("return", words.answer("退回", "return"), _apply("return"), ask=review.Ask(
            ReportReview.comment, _asking("report.review.ask_comment_return"), _comment(required=True))),
        review.Action("adopt", words.answer("采用", "adopt"), _apply("adopt"), ask=review.Ask(
            ReportReview.level, _asking("report.review.ask_level"), _level)),
        review.Action("not_adopt", words.answer("不采用") | words.REJECT, _apply("not_adopt"), ask=review.Ask(
            ReportReview.comment, _asking("report.review.ask_comment_not_adopt"), _comment(required=False))),
    ],
    texts=review.QueueTexts(
        forbidden="report.review.forbidden", empty="report.review.empty", title="report.review.title",
        more="report.review.more", how="report.review.how", bad_input="report.review.bad_number",
        bad_decision="report.review.bad_action", bad_number="report.review.bad_number"),
)
QUEUE.install(router)
