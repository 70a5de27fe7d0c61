"""The report workflow, shared by the chat handlers, the admin API and the export.

```mermaid
stateDiagram-v2
    [*] --> draft: 报送
    draft --> submitted: submit (member)
    submitted --> draft: withdraw (member, while nobody has accepted it)
    submitted --> under_review: accept (reviewer)
    submitted --> returned: return + comment (reviewer)
    under_review --> returned: return + comment (reviewer)
    returned --> submitted: submit again (member, after editing)
    under_review --> adopted: adopt + level (reviewer)
    adopted --> adopted: adopt at a higher level / instruction (批示) recorded
    under_review --> not_adopted: not_adopt (+ comment) (reviewer)
```

Every function works in the caller's transaction: a transition, its history row and the pushes that
tell the member are committed together or not at all. A transition made by someone other than the
member is pushed to every chat identity of the member, keyed by the history row, so it is told once.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.authz import Action, can
from bot.domain.notify import tell_member
from bot.domain.refusals import Refusal, Term
from bot.infra.i18n import Catalogue
from bot.outbound.message import Reply
from bot.outbound.queue import enqueue
from models.member import Identity, Member, MemberStatus, Role
from models.report import (
    ADOPTION_ORDER,
    AdoptionLevel,
    Instruction,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)

log = logging.getLogger(__name__)

TITLE_MAX = 60
BODY_MIN, BODY_MAX = 50, 1500  # "at most about 1,500 characters" (DOMAIN.md)
MAX_PHOTOS = 9  # what WeChat lets a member pick at once; enough for one issue
COMMENT_MAX = 500
INSTRUCTION_MAX = 1000
SIMILARITY_THRESHOLD = 0.5  # bigram Jaccard; near-copies score > 0.8, unrelated reports < 0.15
QUEUE_LIMIT = 10  # reports shown per 审核报送 page

# Statuses a report has once it was submitted: these are what a new report is compared against.
SUBMITTED_STATUSES = (ReportStatus.SUBMITTED, ReportStatus.UNDER_REVIEW, ReportStatus.RETURNED,
                      ReportStatus.ADOPTED, ReportStatus.NOT_ADOPTED)
EDITABLE_STATUSES = (ReportStatus.DRAFT, ReportStatus.RETURNED)
QUEUE_STATUSES = (ReportStatus.SUBMITTED, ReportStatus.UNDER_REVIEW)

S = ReportStatus
# action -> (statuses it may start from, status it leads to, who may do it)
TRANSITIONS: dict[str, tuple[tuple[ReportStatus, ...], ReportStatus, str]] = {
    "submit": ((S.DRAFT, S.RETURNED), S.SUBMITTED, "owner"),
    "withdraw": ((S.SUBMITTED,), S.DRAFT, "owner"),
    "accept": ((S.SUBMITTED,), S.UNDER_REVIEW, "reviewer"),
    "return": ((S.SUBMITTED, S.UNDER_REVIEW), S.RETURNED, "reviewer"),
    "adopt": ((S.UNDER_REVIEW, S.ADOPTED), S.ADOPTED, "reviewer"),
    "not_adopt": ((S.UNDER_REVIEW,), S.NOT_ADOPTED, "reviewer"),
    "instruct": ((S.ADOPTED,), S.ADOPTED, "reviewer"),
}
ACTIONS = tuple(TRANSITIONS)


# --- refusals -------------------------------------------------------------------------------------

def _not_found() -> Refusal:
    return Refusal.not_found("report.errors.not_found")


def _illegal(action: str, status: ReportStatus) -> Refusal:
    """The report's status does not allow the action (named in the reader's words when rendered)."""
    return Refusal.conflict("report.errors.illegal", code="illegal_transition",
                            action=Term(f"report.action.{action}"), status=Term(f"report.status.{status.value}"))


def _forbidden() -> Refusal:
    return Refusal.forbidden("report.errors.forbidden")


# --- text measures --------------------------------------------------------------------------------

def text_length(body: str) -> int:
    """Characters that count towards the limits: whitespace between messages does not."""
    return sum(1 for char in body if not char.isspace())


_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the text with punctuation and spaces removed (works without a tokenizer)."""
    folded = _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())
    if len(folded) < 2:
        return frozenset({folded}) if folded else frozenset()
    return frozenset(folded[i:i + 2] for i in range(len(folded) - 1))


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def report_text(report: Report) -> str:
    return f"{report.title}\n{report.body}"


@dataclass(frozen=True, slots=True)
class Similar:
    report: Report
    score: float


async def find_similar(session: AsyncSession, report: Report) -> Similar | None:
    """The most similar report submitted this year by anyone (the report itself excluded), if any is
    above the threshold. Computed in Python: a committee has hundreds, at most thousands, a year."""
    mine = bigrams(report_text(report))
    if not mine:
        return None
    others = (await session.scalars(
        select(Report).where(Report.year == report.year, Report.status.in_(SUBMITTED_STATUSES),  # type: ignore[attr-defined]
                             Report.id != report.id)
    )).all()
    best: Similar | None = None
    for other in others:
        score = jaccard(mine, bigrams(report_text(other)))
        if score >= SIMILARITY_THRESHOLD and (best is None or score > best.score):
            best = Similar(other, score)
    return best


def local_year(now: datetime, zone: ZoneInfo) -> int:
    return now.astimezone(zone).year


def problems_of(report: Report, categories: list[str]) -> list[str]:
    """Text keys of what keeps a report from being submitted (empty: it may be submitted)."""
    problems = []
    if not report.title.strip():
        problems.append("report.problems.title")
    if report.category not in categories:
        problems.append("report.problems.category")
    length = text_length(report.body)
    if length < BODY_MIN:
        problems.append("report.problems.too_short")
    elif length > BODY_MAX:
        problems.append("report.problems.too_long")
    return problems


def parse_level(text: str) -> AdoptionLevel | None:
    """“县级”, “市”, “3”, “national” … → a level; None when it is not one."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    words = {
        AdoptionLevel.COUNTY: ("1", "县", "县级", "区", "区级", "县区级", "county"),
        AdoptionLevel.CITY: ("2", "市", "市级", "city"),
        AdoptionLevel.PROVINCIAL: ("3", "省", "省级", "provincial", "province"),
        AdoptionLevel.NATIONAL: ("4", "全国", "国家", "国家级", "全国政协", "national"),
    }
    for level, options in words.items():
        if folded in options:
            return level
    return None


# --- lookups --------------------------------------------------------------------------------------

async def editable_reports(session: AsyncSession, member_id: int) -> list[Report]:
    """The member's drafts and returned reports, most recently touched first."""
    return list((await session.scalars(
        select(Report).where(Report.member_id == member_id, Report.status.in_(EDITABLE_STATUSES))  # type: ignore[attr-defined]
        .order_by(Report.updated_at.desc(), Report.id.desc())  # type: ignore[attr-defined]
    )).all())


async def reports_of(session: AsyncSession, member_id: int, year: int) -> list[Report]:
    return list((await session.scalars(
        select(Report).where(Report.member_id == member_id, Report.year == year)
        .order_by(Report.created_at, Report.id)
    )).all())


async def review_queue(session: AsyncSession, groups: frozenset[int] | None, limit: int = QUEUE_LIMIT
                       ) -> tuple[list[Report], int]:
    """Reports waiting for a reviewer (submitted, then under review), oldest first, and their total."""
    condition = Report.status.in_(QUEUE_STATUSES)  # type: ignore[attr-defined]
    if groups is not None:
        condition = condition & Report.group_id.in_(groups)  # type: ignore[union-attr]
    rows = (await session.scalars(
        select(Report).where(condition).order_by(Report.submitted_at, Report.id).limit(limit)
    )).all()
    total = await session.scalar(select(func.count()).select_from(Report).where(condition))
    return list(rows), int(total or 0)


async def photos_of(session: AsyncSession, report_id: int) -> list[ReportPhoto]:
    return list((await session.scalars(
        select(ReportPhoto).where(ReportPhoto.report_id == report_id).order_by(ReportPhoto.id)
    )).all())


async def history(session: AsyncSession, report_id: int) -> list[ReportEvent]:
    return list((await session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.at, ReportEvent.id)
    )).all())


async def instructions(session: AsyncSession, report_id: int) -> list[Instruction]:
    return list((await session.scalars(
        select(Instruction).where(Instruction.report_id == report_id).order_by(Instruction.given_at,
                                                                             Instruction.id)
    )).all())


# --- the console's lists: within the reviewer's reach, filtered and paged in the database ----------

@dataclass(frozen=True, slots=True)
class ReportFilter:
    """What a reviewer narrows the list by; empty values do not narrow it."""

    status: ReportStatus | None = None
    category: str = ""
    year: int | None = None
    member_name: str = ""  # a part of the author's name


@dataclass(frozen=True, slots=True)
class Listed:
    report: Report
    author: str


def _within(groups: frozenset[int] | None) -> Any:
    """Submitted reports (drafts are the members' own business) of the groups in reach (None: every group)."""
    condition = Report.status.in_(SUBMITTED_STATUSES)  # type: ignore[attr-defined]
    if groups is not None:
        condition = condition & Report.group_id.in_(groups)  # type: ignore[union-attr]
    return condition


async def search_reports(session: AsyncSession, groups: frozenset[int] | None, filters: ReportFilter, *,
                         page: int = 1, per_page: int = 20) -> tuple[list[Listed], int]:
    """One page of the reports in reach matching ``filters``, newest submission first, and how many match."""
    condition = _within(groups)
    if filters.status is not None:
        condition = condition & (Report.status == filters.status)
    if filters.category:
        condition = condition & (Report.category == filters.category)
    if filters.year is not None:
        condition = condition & (Report.year == filters.year)
    if filters.member_name.strip():
        condition = condition & Member.name.contains(filters.member_name.strip(), autoescape=True)  # type: ignore[attr-defined]
    joined = select(Report, Member.name).join(Member, Member.id == Report.member_id).where(condition)
    rows = (await session.execute(
        joined.order_by(Report.submitted_at.desc(), Report.id.desc())  # type: ignore[union-attr]
        .offset((max(page, 1) - 1) * per_page).limit(per_page)
    )).all()
    total = await session.scalar(
        select(func.count()).select_from(Report).join(Member, Member.id == Report.member_id).where(condition))
    return [Listed(report, name) for report, name in rows], int(total or 0)


async def report_for_reviewer(session: AsyncSession, reviewer: Member, report_id: int) -> Report:
    """The report, if ``reviewer`` may review it; one outside their reach is as unknown as one that never was."""
    report = await session.get(Report, report_id)
    if report is None or report.status is S.DRAFT or not can(reviewer, Action.REVIEW_REPORT,
                                                                group_id=report.group_id):
        raise _not_found()
    return report


async def similar_within(session: AsyncSession, report: Report, groups: frozenset[int] | None,
                         limit: int = 5) -> list[Similar]:
    """The reports of the same year in reach most like ``report`` (above the threshold), best first."""
    mine = bigrams(report_text(report))
    others = (await session.scalars(
        select(Report).where(_within(groups), Report.year == report.year, Report.id != report.id))).all()
    scored = [Similar(other, jaccard(mine, bigrams(report_text(other)))) for other in others]
    return sorted((found for found in scored if found.score >= SIMILARITY_THRESHOLD),
                  key=lambda found: -found.score)[:limit]


async def adopted_within(session: AsyncSession, groups: frozenset[int] | None, report_ids: list[int]
                         ) -> list[Report]:
    """Of ``report_ids``, the adopted reports in reach, in the order they were submitted (a bulletin's order)."""
    if not report_ids:
        return []
    return list((await session.scalars(
        select(Report).where(_within(groups), Report.status == S.ADOPTED, Report.id.in_(report_ids))  # type: ignore[union-attr]
        .order_by(Report.submitted_at, Report.id)
    )).all())


# --- transitions ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Outcome:
    report: Report
    event: ReportEvent
    notified: bool  # a push was queued (wake the delivery worker after the commit)


async def transition(
    session: AsyncSession,
    report_id: int,
    action: str,
    *,
    by: Member | None,
    now: datetime,
    texts: Catalogue,
    categories: list[str] | None = None,
    comment: str = "",
    level: AdoptionLevel | None = None,
    zone: ZoneInfo | None = None,
) -> Outcome:
    """Move a report along the workflow, record it, tell the member. ``by`` None means the admin API
    (the token already authorised it). Raises a :class:`~bot.domain.refusals.Refusal` when refused."""
    if action not in TRANSITIONS or action == "instruct":
        raise ValueError(f"unknown report action {action!r}")
    report = await session.get(Report, report_id, with_for_update=True)
    if report is None:
        raise _not_found()
    starts, target, actor = TRANSITIONS[action]
    _check_actor(report, actor, by)
    if report.status not in starts:
        raise _illegal(action, report.status)
    comment = comment.strip()
    if action == "return" and not comment:
        raise Refusal.invalid("report.errors.comment_required")
    if len(comment) > COMMENT_MAX:
        raise Refusal.invalid("report.errors.comment_too_long", limit=str(COMMENT_MAX))
    if action == "adopt":
        _check_level(report, level)
    if action == "submit":
        await _prepare_submission(session, report, categories, now, zone)
    previous = report.status
    report.status, report.updated_at = target, now
    if action in ("return", "not_adopt"):
        report.review_comment = comment
    if action == "adopt":
        report.adoption_level = level
    if target in (S.ADOPTED, S.NOT_ADOPTED):
        report.decided_at = report.decided_at or now
    if action == "withdraw":
        report.step = "preview"
    event = await _record(session, report, action, previous, by, now, comment, level)
    notified = await _notify_member(session, report, event, by, texts)
    if action == "submit":
        notified = await _notify_reviewers(session, report, event, texts) or notified
    return Outcome(report, event, notified)


async def record_instruction(
    session: AsyncSession,
    report_id: int,
    *,
    text: str,
    leader: str,
    given_at: datetime | None,
    by: Member | None,
    now: datetime,
    texts: Catalogue,
) -> Outcome:
    """A leader's instruction (批示) on an adopted report: stored, in the history, told to the member."""
    report = await session.get(Report, report_id, with_for_update=True)
    if report is None:
        raise _not_found()
    _check_actor(report, "reviewer", by)
    if report.status is not S.ADOPTED:
        raise _illegal("instruct", report.status)
    text, leader = text.strip(), leader.strip()
    if not text or not leader:
        raise Refusal.invalid("report.errors.instruction_required")
    if len(text) > INSTRUCTION_MAX or len(leader) > 80:
        raise Refusal.invalid("report.errors.comment_too_long", limit=str(INSTRUCTION_MAX))
    assert report.id is not None
    session.add(Instruction(report_id=report.id, text=text, leader=leader, given_at=given_at or now,
                            recorded_by_id=by.id if by else None, recorded_at=now))
    report.updated_at = now
    event = await _record(session, report, "instruct", report.status, by, now, f"{leader}：{text}", None)
    notified = await _notify_member(session, report, event, by, texts)
    return Outcome(report, event, notified)


def _check_actor(report: Report, actor: str, by: Member | None) -> None:
    if by is None:
        return  # the admin API, authorised by its token
    if actor == "owner":
        if by.id != report.member_id or not can(by, Action.SUBMIT_REPORT):
            raise _forbidden()
    elif not can(by, Action.REVIEW_REPORT, group_id=report.group_id):
        raise _forbidden()


def _check_level(report: Report, level: AdoptionLevel | None) -> None:
    if level is None:
        raise Refusal.invalid("report.errors.level_required")
    if report.status is S.ADOPTED:
        # Adopting again only moves a report up the ladder (county → city → …), never down.
        current = ADOPTION_ORDER.index(report.adoption_level) if report.adoption_level else -1
        if ADOPTION_ORDER.index(level) <= current:
            raise Refusal.invalid("report.errors.level_not_higher",
                                  level=Term(f"report.level.{report.adoption_level.value}")
                                  if report.adoption_level else "-")


async def _prepare_submission(
    session: AsyncSession, report: Report, categories: list[str] | None, now: datetime, zone: ZoneInfo | None
) -> None:
    if categories is not None:
        problems = problems_of(report, categories)
        if problems:
            raise Refusal.invalid(problems[0], min=str(BODY_MIN), max=str(BODY_MAX))
    owner = await session.get(Member, report.member_id)
    report.group_id = owner.group_id if owner is not None else report.group_id
    if zone is not None and report.submitted_at is None:
        report.year = local_year(now, zone)  # a report counts for the year it was first submitted
    report.submitted_at = now
    report.step = "preview"
    similar = await find_similar(session, report)
    report.similar_report_id = similar.report.id if similar else None
    report.similarity = round(similar.score, 3) if similar else None


async def _record(
    session: AsyncSession, report: Report, action: str, previous: ReportStatus, by: Member | None,
    now: datetime, comment: str, level: AdoptionLevel | None,
) -> ReportEvent:
    assert report.id is not None
    event = ReportEvent(report_id=report.id, action=action, from_status=previous.value,
                        to_status=report.status.value, by_id=by.id if by else None,
                        by_name=by.name if by else "", comment=comment, level=level, at=now)
    session.add(event)
    if TRANSITIONS[action][2] == "reviewer":  # the author's own submit and withdraw are not the office's doing
        await _audit(session, report, action, previous, by, now, comment)
    await session.flush()
    return event


async def _audit(session: AsyncSession, report: Report, action: str, previous: ReportStatus, by: Member | None,
                 now: datetime, comment: str) -> None:
    before: dict[str, object] = {"status": previous}
    after: dict[str, object] = {"status": report.status}
    if action == "adopt":
        after["adoption_level"] = report.adoption_level
    await audit.record(session, action=f"report.{action}", object_type="report", object_id=report.id,
                       group_id=report.group_id, by=by, before=before, after=after,
                       summary=f"{report.title}{'：' + comment if comment else ''}", at=now)


def member_notice(report: Report, event: ReportEvent, texts: Catalogue) -> str:
    """What the member is told about a transition (the comment included)."""
    values = {"title": report.title, "comment": event.comment or texts("report.notify.no_comment"),
              "level": texts(f"report.level.{event.level.value}") if event.level else ""}
    return texts(f"report.notify.{event.action}", **values)


async def _notify_member(
    session: AsyncSession, report: Report, event: ReportEvent, by: Member | None, texts: Catalogue
) -> bool:
    """Push the transition to the member, unless the member made it (their chat reply says it)."""
    if by is not None and by.id == report.member_id:
        return False
    return await tell_member(session, report.member_id, member_notice(report, event, texts),
                             key=f"report:{report.id}:event:{event.id}")


async def _notify_reviewers(session: AsyncSession, report: Report, event: ReportEvent, texts: Catalogue) -> bool:
    """Tell the secretaries who may review this report that it arrived (so it is not left waiting)."""

    rows = (await session.execute(
        select(Member, Identity).join(Identity, Identity.member_id == Member.id)
        .where(Member.role.in_([Role.SECRETARY, Role.ADMIN]), Member.status == MemberStatus.ACTIVE)  # type: ignore[attr-defined]
        .order_by(Identity.id)
    )).all()
    owner = await session.get(Member, report.member_id)
    text = texts("report.review.new_report", title=report.title, name=owner.name if owner else "-")
    told = False
    for secretary, identity in rows:
        if secretary.id == report.member_id or not can(secretary, Action.REVIEW_REPORT, group_id=report.group_id):
            continue
        told = await enqueue(
            session, platform=identity.platform.value, recipient=identity.external_id, reply=Reply(text=text),
            key=f"report-submitted:{event.id}:{identity.id}", member_id=secretary.id,
        ) or told
    return told
