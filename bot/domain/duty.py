"""What people do to the ledger: members report duties the system cannot see (补录) and appeal entries
(申诉); secretaries verify, reject, decide and adjust. Each function checks, writes in the caller's
transaction and raises a :class:`~bot.domain.refusals.Refusal` (a text key and its values) for the caller to show.

    补录: submit_claim (pending) ──verify──► verified (entry confirmed)
                                 └─reject──► rejected (entry listed, not counted; the member is told why)
                                 └─withdraw (the member, while pending)
    申诉: open_appeal (on one entry) ──uphold (optionally with an adjustment)──► upheld
                                    └─dismiss (with an answer)──► dismissed
    调整: adjust (± points with a reason; kept forever, reversed only by another adjustment)

Callers follow a change with :func:`bot.domain.ledger.refresh` of the member, so what they see next is current.
Telling the member the outcome is the caller's job (it knows the channel and the locale).
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.authz import Action, can
from bot.domain.duty_rules import YearRules, tenths
from bot.domain.refusals import Refusal
from models.duty import (
    AppealStatus,
    ClaimStatus,
    DutyAdjustment,
    DutyAppeal,
    DutyClaim,
    DutyEntry,
    EntrySource,
)
from models.member import Member

DESCRIPTION_MIN, DESCRIPTION_MAX = 5, 500
REASON_MIN, REASON_MAX = 2, 300
APPEAL_REASON_MAX = 500
ADJUSTMENT_MAX = 100  # points, either way, in one adjustment
CLAIM_YEARS_BACK = 1  # a duty of last year may still be reported (the assessment closes early in the year)


def may_verify(by: Member | None, member: Member) -> bool:
    """Secretaries within their scope (and administrators); ``None`` is the admin API."""
    return by is None or can(by, Action.VERIFY_DUTY, group_id=member.group_id)


def _check_may_verify(by: Member | None, member: Member) -> None:
    if not may_verify(by, member):
        raise Refusal.forbidden("duty.error.not_allowed")


def _name(by: Member | None) -> str:
    return by.name if by is not None else ""


def _check_text(text: str, low: int, high: int, key: str, field: str) -> str:
    """``text`` stripped, or a refusal about ``field`` (the request field it came from)."""
    text = text.strip()
    if not low <= len(text) <= high:
        raise Refusal.invalid(key, field=field, min=low, max=high)
    return text


# --- 补录: self-reported duties ------------------------------------------------------------------------------------


def claim_moment(day: date, zone: ZoneInfo) -> datetime:
    """Noon of the member's day, so the stored moment has that local date whatever the zone."""
    return datetime.combine(day, time(12), tzinfo=zone)


async def submit_claim(
    session: AsyncSession, member: Member, rules: YearRules, *, kind: str, day: date, description: str,
    zone: ZoneInfo, now: datetime,
) -> DutyClaim:
    """Store a self-reported duty, pending verification (photos are added with the claim's id)."""
    today = now.astimezone(zone).date()
    if day > today:
        raise Refusal.invalid("duty.error.future_day", field="day")
    if day.year < today.year - CLAIM_YEARS_BACK:
        raise Refusal.invalid("duty.error.too_old", field="day", year=today.year - CLAIM_YEARS_BACK)
    if kind not in rules.self_reported_kinds:
        raise Refusal.invalid("duty.error.unknown_kind", field="kind")
    claim = DutyClaim(
        member_id=member.id or 0, year=day.year, kind=kind, occurred_at=claim_moment(day, zone),
        description=_check_text(description, DESCRIPTION_MIN, DESCRIPTION_MAX, "duty.error.description", "description"),
        created_at=now,
    )
    session.add(claim)
    await session.flush()
    return claim


async def withdraw_claim(session: AsyncSession, member: Member, claim: DutyClaim) -> None:
    _withdraw(member, claim, waiting=ClaimStatus.PENDING, withdrawn=ClaimStatus.WITHDRAWN,
              decided_key="duty.error.claim_decided")


def _withdraw(member: Member, row: DutyClaim | DutyAppeal, *, waiting: enum.Enum, withdrawn: enum.Enum,
              decided_key: str) -> None:
    """A member takes back their own claim or appeal while it still waits for the office."""
    if row.member_id != member.id:
        raise Refusal.forbidden("duty.error.not_yours")
    if row.status is not waiting:
        raise Refusal.conflict(decided_key, code="already_decided")
    row.status = withdrawn  # type: ignore[assignment]


async def decide_claim(
    session: AsyncSession, claim: DutyClaim, *, verified: bool, note: str = "", by: Member | None, now: datetime,
) -> DutyClaim:
    """Verify or reject a pending claim (a rejection needs a note: the member is told why)."""
    member = await _member(session, claim.member_id)
    _check_may_verify(by, member)
    if claim.status is not ClaimStatus.PENDING:
        raise Refusal.conflict("duty.error.claim_decided", code="already_decided")
    if not verified:
        note = _check_text(note, REASON_MIN, REASON_MAX, "duty.error.reason", "note")
    claim.status = ClaimStatus.VERIFIED if verified else ClaimStatus.REJECTED
    claim.decision_note, claim.decided_at = note.strip(), now
    claim.decided_by_id, claim.decided_by_name = (by.id if by else None), _name(by)
    await _audit(session, "duty.claim.verify" if verified else "duty.claim.reject", "duty_claim", claim.id, member,
                 by, now, before={"status": ClaimStatus.PENDING}, after={"status": claim.status},
                 summary=f"{member.name}：{note.strip()}" if note.strip() else member.name)
    return claim


async def _audit(session: AsyncSession, action: str, object_type: str, object_id: int | None, member: Member,
                 by: Member | None, now: datetime, *, before: dict[str, object] | None = None,
                 after: dict[str, object], summary: str) -> None:
    await audit.record(session, action=action, object_type=object_type, object_id=object_id,
                       group_id=member.group_id, by=by, before=before, after=after, summary=summary, at=now)


async def pending_claims(session: AsyncSession, groups: frozenset[int] | None) -> list[tuple[DutyClaim, Member]]:
    """Claims waiting for verification, oldest first, within ``groups`` (None: every group)."""
    query = _waiting(select(DutyClaim, Member), DutyClaim, groups).order_by(DutyClaim.id)
    return [(claim, member) for claim, member in (await session.execute(query)).all()]


async def waiting_count(session: AsyncSession, model: type[DutyClaim] | type[DutyAppeal],
                        groups: frozenset[int] | None) -> int:
    """How many claims (or appeals) wait for the office within ``groups``, counted in the database."""
    return int(await session.scalar(_waiting(select(func.count()).select_from(model), model, groups)) or 0)


def _waiting(query: Any, model: type[DutyClaim] | type[DutyAppeal], groups: frozenset[int] | None) -> Any:
    """``query`` over the claims (or appeals) that wait for the office, with their members, within ``groups``."""
    status = ClaimStatus.PENDING if model is DutyClaim else AppealStatus.OPEN
    query = query.join(Member, Member.id == model.member_id).where(model.status == status)
    return query if groups is None else query.where(Member.group_id.in_(groups))


# --- 申诉: appeals ------------------------------------------------------------------------------------------------


async def open_appeal(
    session: AsyncSession, member: Member, entry: DutyEntry, *, reason: str, now: datetime
) -> DutyAppeal:
    """Dispute one of the member's own entries; one open appeal per entry."""
    if entry.member_id != member.id:
        raise Refusal.forbidden("duty.error.not_yours")
    if entry.source == EntrySource.ADJUSTMENT:  # an adjustment is already a secretary's decision
        raise Refusal.conflict("duty.error.appeal_adjustment", code="not_appealable")
    already = await session.scalar(select(DutyAppeal.id).where(
        DutyAppeal.source == entry.source, DutyAppeal.source_id == entry.source_id, DutyAppeal.kind == entry.kind,
        DutyAppeal.status == AppealStatus.OPEN))
    if already is not None:
        raise Refusal.conflict("duty.error.appeal_open", code="appeal_open", id=already)
    appeal = DutyAppeal(
        member_id=member.id or 0, year=entry.year, source=EntrySource(entry.source), source_id=entry.source_id,
        kind=entry.kind, entry_title=entry.title, entry_tenths=entry.tenths,
        reason=_check_text(reason, REASON_MIN, APPEAL_REASON_MAX, "duty.error.reason", "reason"), created_at=now,
    )
    session.add(appeal)
    await session.flush()
    return appeal


async def withdraw_appeal(session: AsyncSession, member: Member, appeal: DutyAppeal) -> None:
    _withdraw(member, appeal, waiting=AppealStatus.OPEN, withdrawn=AppealStatus.WITHDRAWN,
              decided_key="duty.error.appeal_decided")


async def decide_appeal(
    session: AsyncSession, appeal: DutyAppeal, *, upheld: bool, answer: str, by: Member | None, now: datetime,
    points: float | None = None,
) -> DutyAdjustment | None:
    """Uphold (with ``points``, an adjustment is made; without, the source was corrected elsewhere, e.g. an
    attendance correction) or dismiss an open appeal. The answer is told to the member."""
    member = await _member(session, appeal.member_id)
    _check_may_verify(by, member)
    if appeal.status is not AppealStatus.OPEN:
        raise Refusal.conflict("duty.error.appeal_decided", code="already_decided")
    answer = _check_text(answer, REASON_MIN, REASON_MAX, "duty.error.reason", "answer")
    if points is not None and not upheld:
        raise Refusal.invalid("duty.error.dismiss_with_points", field="points")
    if points is not None:
        _check_points(points)  # before anything changes: a caller may show the refusal and commit
    appeal.status = AppealStatus.UPHELD if upheld else AppealStatus.DISMISSED
    appeal.answer, appeal.decided_at = answer, now
    appeal.decided_by_id, appeal.decided_by_name = (by.id if by else None), _name(by)
    # One event for the decision, its points included (the adjustment it makes is not logged again).
    await _audit(session, "duty.appeal.uphold" if upheld else "duty.appeal.dismiss", "duty_appeal", appeal.id,
                 member, by, now, before={"status": AppealStatus.OPEN},
                 after={"status": appeal.status, **({"points": points} if points is not None else {})},
                 summary=f"{member.name}：{answer}")
    if points is None:
        return None
    return await adjust(session, member, appeal.year, points=points, reason=answer, by=by, now=now,
                        appeal_id=appeal.id)


async def open_appeals(session: AsyncSession, groups: frozenset[int] | None) -> list[tuple[DutyAppeal, Member]]:
    query = _waiting(select(DutyAppeal, Member), DutyAppeal, groups).order_by(DutyAppeal.id)
    return [(appeal, member) for appeal, member in (await session.execute(query)).all()]


# --- 调整: manual adjustments --------------------------------------------------------------------------------------


async def adjust(
    session: AsyncSession, member: Member, year: int, *, points: float, reason: str, by: Member | None,
    now: datetime, appeal_id: int | None = None,
) -> DutyAdjustment:
    """Add (or, negative, take) points with a reason; the adjustment is an entry of its own."""
    _check_may_verify(by, member)
    value = _check_points(points)
    adjustment = DutyAdjustment(
        member_id=member.id or 0, year=year, tenths=value,
        reason=_check_text(reason, REASON_MIN, REASON_MAX, "duty.error.reason", "reason"),
        appeal_id=appeal_id, by_id=by.id if by else None, by_name=_name(by), at=now,
    )
    session.add(adjustment)
    await session.flush()
    if appeal_id is None:  # an appeal's adjustment is in the appeal's own event
        await _audit(session, "duty.adjust", "duty_adjustment", adjustment.id, member, by, now,
                     after={"year": year, "points": points}, summary=f"{member.name}：{adjustment.reason}")
    return adjustment


def _check_points(points: float) -> int:
    """An adjustment's points in tenths: not zero, at most ADJUSTMENT_MAX either way, one decimal."""
    value = tenths(points)
    if value == 0 or abs(value) > tenths(ADJUSTMENT_MAX) or abs(points * 10 - value) > 1e-9:
        raise Refusal.invalid("duty.error.points", field="points", max=ADJUSTMENT_MAX)
    return value


async def adjustments_of(session: AsyncSession, member_id: int, year: int | None = None) -> list[DutyAdjustment]:
    query = select(DutyAdjustment).where(DutyAdjustment.member_id == member_id).order_by(DutyAdjustment.id)
    if year is not None:
        query = query.where(DutyAdjustment.year == year)
    return list((await session.scalars(query)).all())


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise Refusal.invalid("duty.error.no_member", field="member_id")
    return member
