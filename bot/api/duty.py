"""``/api/v1/duty``: the duty ledger (履职档案) and the annual assessment, from the office's side.

    GET  /duty/{year}/members/{member_id}        score, categories (raw and capped), "five one", entries
    GET  /duty/{year}/members?group_id=&sector_id=&below_pass=&page=&per_page=   scores, best first
    GET  /duty/{year}/rankings?by=group|sector   liaison groups or sectors by their members' average
    GET  /duty/{year}/groups                     the group assessment (联络组考核)
    POST /duty/{year}/rebuild                    rebuild the year's ledger from its sources
    GET  /duty/claims?status=&member_id=&year=&page=&per_page=      self-reported duties (补录)
    POST /duty/claims/{id}/verify                {note?}
    POST /duty/claims/{id}/reject                {note}: told to the member
    GET  /duty/appeals?status=&member_id=&year=&page=&per_page=     appeals (申诉)
    POST /duty/appeals/{id}/decide               {upheld, answer, points?}
    POST /duty/adjustments                       {member_id, year, points, reason} (201)
    GET  /duty/adjustments?member_id=&year=&page=&per_page=
    GET  /duty/rules/{year}                      the year's rules as JSON

The API acts as the office (``by=None`` in :mod:`bot.domain.duty`). Every decision and adjustment refreshes the
member's ledger in the same transaction and tells the member in chat (:func:`bot.domain.notify.tell_member`).

**Freshness.** A member's page rebuilds the member's liaison group first (their rank depends on it), as
the chat's ``履职`` does. The lists (members, rankings) read the ledger as last rebuilt — by the nightly
job, ``POST …/rebuild``, an export or a decision — and say when (``rebuilt_at``); they rebuild the year
first only when it was never rebuilt or the rules changed since, so they never mix two sets of rules.
The group assessment is counted from the sources directly and is always current.

Errors as in :mod:`bot.api.activities`: bad input is **400** ``invalid`` (with the catalogue's message and
the field), an unknown id in the path **404**, a claim or appeal decided before **409** ``already_decided``.
A year outside 2000–2100 is 400; an unknown ``member_id`` in a body or query is 400 (the field is wrong,
the resource exists).
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.common import ApiError, admin_endpoint, not_found, path_id
from bot.api.forms import MAX_PER_PAGE, Strict, bad, body_of, iso, query_of, ref
from bot.domain import duty as ops
from bot.domain import ledger
from bot.domain.duty import DutyError
from bot.domain.duty_rules import ADJUSTMENT_CATEGORY, YearRules
from bot.domain.notify import tell_member
from bot.exports.duty import bonus_of, category_label, number, source_ref, suffixes
from bot.infra.services import Services, services_of
from models.duty import (
    AppealStatus,
    ClaimStatus,
    DutyAdjustment,
    DutyAppeal,
    DutyClaim,
    DutyClaimPhoto,
    DutyEntry,
    DutyYear,
)
from models.member import Member

YEAR_MIN, YEAR_MAX = 2000, 2100
PREFIX = "/duty"

# Which request field a refusal of bot.domain.duty is about; refusals about the state of the thing are 409.
CONFLICTS = {"duty.error.claim_decided": "already_decided", "duty.error.appeal_decided": "already_decided"}
FIELD_OF = {"duty.error.points": "points", "duty.error.dismiss_with_points": "points",
            "duty.error.no_member": "member_id"}


def add_routes(app: web.Application, prefix: str) -> None:
    """The routes of this part under ``prefix`` (``/api/v1``); literal paths before ``{year}`` ones."""
    duty = prefix + PREFIX
    app.router.add_get(f"{duty}/claims", list_claims)
    app.router.add_post(f"{duty}/claims/{{claim_id}}/verify", verify_claim)
    app.router.add_post(f"{duty}/claims/{{claim_id}}/reject", reject_claim)
    app.router.add_get(f"{duty}/appeals", list_appeals)
    app.router.add_post(f"{duty}/appeals/{{appeal_id}}/decide", decide_appeal)
    app.router.add_get(f"{duty}/adjustments", list_adjustments)
    app.router.add_post(f"{duty}/adjustments", create_adjustment)
    app.router.add_get(f"{duty}/rules/{{year}}", get_rules)
    app.router.add_get(f"{duty}/{{year}}/members", list_scores)
    app.router.add_get(f"{duty}/{{year}}/members/{{member_id}}", get_member_year)
    app.router.add_get(f"{duty}/{{year}}/rankings", rankings)
    app.router.add_get(f"{duty}/{{year}}/groups", group_assessment)
    app.router.add_post(f"{duty}/{{year}}/rebuild", rebuild)


# --- bodies and queries ---------------------------------------------------------------------------------


class Paging(Strict):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class ScoresQuery(Paging):
    group_id: int | None = Field(None, ge=1)
    sector_id: int | None = Field(None, ge=1)
    below_pass: bool = Field(False, description="only members below the pass mark")


class RankingQuery(Strict):
    by: Literal["group", "sector"] = "group"


class ClaimQuery(Paging):
    status: ClaimStatus | None = None
    member_id: int | None = Field(None, ge=1)
    year: int | None = Field(None, ge=YEAR_MIN, le=YEAR_MAX)


class AppealQuery(Paging):
    status: AppealStatus | None = None
    member_id: int | None = Field(None, ge=1)
    year: int | None = Field(None, ge=YEAR_MIN, le=YEAR_MAX)


class AdjustmentQuery(Paging):
    member_id: int | None = Field(None, ge=1)
    year: int | None = Field(None, ge=YEAR_MIN, le=YEAR_MAX)


class NoteBody(Strict):
    note: str = Field("", max_length=ops.REASON_MAX)


class AppealDecision(Strict):
    upheld: bool
    answer: str
    points: float | None = Field(None, description="with upheld: an adjustment of this many points")


class AdjustmentBody(Strict):
    member_id: int = Field(ge=1)
    year: int = Field(ge=YEAR_MIN, le=YEAR_MAX)
    points: float
    reason: str


def _refused(error: DutyError, services: Services, reason_field: str) -> ApiError:
    """A refusal of bot.domain.duty, in the words of the catalogue."""
    message = services.texts(error.key, **error.values)
    if error.key in CONFLICTS:
        return ApiError(409, CONFLICTS[error.key], message)
    field = reason_field if error.key in ("duty.error.reason", "duty.error.description") else FIELD_OF.get(
        error.key, "body")
    return bad(field, message)


def _year(request: web.Request) -> int:
    raw = request.match_info["year"]
    if not raw.isdigit() or len(raw) > 6:
        raise not_found("year")
    year = int(raw)
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise bad("year", f"the year must be between {YEAR_MIN} and {YEAR_MAX}")
    return year


def _zone(services: Services) -> ZoneInfo:
    return ZoneInfo(services.settings.scheduler.timezone)


def _points(tenths: int | None) -> float | None:
    return None if tenths is None else tenths / 10


async def _current_year(services: Services, rules: YearRules, year: int) -> DutyYear:
    """The year's rebuild record, rebuilding first when there is none or the rules changed since."""
    async with services.db.reader() as session:
        state = await session.get(DutyYear, year)
    if state is None or state.rules_hash != rules.digest:
        async with services.db.session() as session:
            await ledger.refresh(session, rules, year, _zone(services), now=services.clock.now())
            state = await session.get(DutyYear, year)
    assert state is not None
    return state


# --- the year -------------------------------------------------------------------------------------------


@admin_endpoint
async def get_member_year(request: web.Request) -> web.Response:
    year = _year(request)
    member_id = path_id(request)
    services = services_of(request.app)
    rules = services.year_rules(year)
    async with services.db.session() as session:
        member = await session.get(Member, member_id)
        if member is None:
            raise not_found("member")
        await ledger.refresh(session, rules, year, _zone(services), now=services.clock.now(),
                             members=ledger.group_of(member))
    async with services.db.reader() as session:
        state = await session.get(DutyYear, year)
        everyone = await ledger.scores(session, rules, year)  # ranks among everyone, not just the group
        mine = await ledger.scores(session, rules, year, members=[member_id], with_categories=True)
        targets = (await ledger.five_one(session, rules, year, members=[member_id]))[member_id]
        entries = await ledger.entries_of(session, member_id, year)
        appeals = {(str(source), source_id, kind): appeal_id for source, source_id, kind, appeal_id in (
            await session.execute(
                select(DutyAppeal.source, DutyAppeal.source_id, DutyAppeal.kind, DutyAppeal.id)
                .where(DutyAppeal.member_id == member_id, DutyAppeal.year == year,
                       DutyAppeal.status == AppealStatus.OPEN))).all()}
        groups, sectors = await ledger.group_names(session), await ledger.sector_names(session)
    ranked = next((s for s in everyone if s.member_id == member_id), None)
    score = mine[0] if mine else None
    words = suffixes(services.texts)
    return web.json_response({
        "year": year,
        "member": {"id": member.id, "name": member.name},
        "group": ref(member.group_id, groups),
        "sector": ref(member.sector_id, sectors),
        "assessed": score is not None,
        "rebuilt_at": iso(state.recomputed_at) if state else None,
        "score": None if score is None or ranked is None else {
            **_score_json(ranked), "base": rules.base, "bonus": _points(bonus_of(rules, score)),
            "bonus_cap": rules.bonus_cap, "pass_mark": rules.pass_mark,
        },
        "categories": _categories_json(rules, score, services),
        "five_one": [{"name": t.name, "need": t.need, "done": t.done, "pending": t.pending, "met": t.met}
                     for t in targets],
        "entries": [{
            "source": str(e.source), "source_id": e.source_id, "ref": source_ref(str(e.source), e.source_id),
            "kind": e.kind, "label": rules.label_of(e.kind, words), "category": e.category,
            "category_label": category_label(rules, e.category, services.texts), "points": e.points,
            "status": str(e.status), "occurred_at": iso(e.occurred_at), "title": e.title,
            "open_appeal_id": appeals.get((str(e.source), e.source_id, e.kind)),
        } for e in entries],
    })


def _score_json(score: ledger.Score) -> dict[str, Any]:
    return {"total": score.total, "pending": score.pending, "grade": score.grade, "passed": score.passed,
            "group_rank": score.group_rank, "group_size": score.group_size, "sector_rank": score.sector_rank,
            "overall_rank": score.overall_rank}


def _categories_json(rules: YearRules, score: ledger.Score | None, services: Services) -> list[dict[str, Any]]:
    raw = score.raw if score else {}
    capped = score.by_category if score else {}
    found = [{"name": name, "label": c.label, "cap": c.cap, "floor": c.floor, "penalty": c.penalty,
              "raw": _points(raw.get(name, 0)), "points": _points(capped.get(name, 0))}
             for name, c in rules.categories.items()]
    if ADJUSTMENT_CATEGORY in raw:
        found.append({"name": ADJUSTMENT_CATEGORY, "label": services.texts("duty.suffix.adjustment"), "cap": None,
                      "floor": None, "penalty": False, "raw": _points(raw[ADJUSTMENT_CATEGORY]),
                      "points": _points(raw[ADJUSTMENT_CATEGORY])})
    return found


@admin_endpoint
async def list_scores(request: web.Request) -> web.Response:
    year = _year(request)
    query = query_of(request.query, ScoresQuery)
    services = services_of(request.app)
    rules = services.year_rules(year)
    state = await _current_year(services, rules, year)
    async with services.db.reader() as session:
        everyone = await ledger.scores(session, rules, year)
        chosen = [s for s in everyone if (query.group_id is None or s.group_id == query.group_id)
                  and (query.sector_id is None or s.sector_id == query.sector_id)
                  and (not query.below_pass or not s.passed)]
        page = chosen[(query.page - 1) * query.per_page:query.page * query.per_page]
        ids = [s.member_id for s in page]
        await ledger.add_categories(session, rules, year, page, ids)
        progress = await ledger.five_one(session, rules, year, members=ids) if ids else {}
        groups, sectors = await ledger.group_names(session), await ledger.sector_names(session)
    items = []
    for score in page:
        targets = progress.get(score.member_id, [])
        items.append({
            "member": {"id": score.member_id, "name": score.name},
            "group": ref(score.group_id, groups), "sector": ref(score.sector_id, sectors),
            **_score_json(score),
            "categories": {name: _points(score.by_category.get(name, 0))
                           for name in [*rules.categories, ADJUSTMENT_CATEGORY]},
            "five_one": {"met": sum(t.met for t in targets), "targets": len(targets),
                         "missing": [t.name for t in targets if not t.met]},
        })
    return web.json_response({"year": year, "rebuilt_at": iso(state.recomputed_at), "pass_mark": rules.pass_mark,
                              "items": items, "total": len(chosen), "page": query.page, "per_page": query.per_page})


@admin_endpoint
async def rankings(request: web.Request) -> web.Response:
    year = _year(request)
    query = query_of(request.query, RankingQuery)
    services = services_of(request.app)
    rules = services.year_rules(year)
    state = await _current_year(services, rules, year)
    async with services.db.reader() as session:
        everyone = await ledger.scores(session, rules, year)
        names = await (ledger.group_names(session) if query.by == "group" else ledger.sector_names(session))
    unassigned = services.texts("duty_export.no_group" if query.by == "group" else "duty_export.no_sector")
    found = ledger.standings(everyone, names, key=f"{query.by}_id", unassigned=unassigned)
    return web.json_response({
        "year": year, "by": query.by, "rebuilt_at": iso(state.recomputed_at), "pass_mark": rules.pass_mark,
        "items": [{"rank": s.rank, "id": s.id, "name": s.name, "members": s.members, "average": s.average,
                   "below_pass": s.below_pass} for s in found],
    })


@admin_endpoint
async def group_assessment(request: web.Request) -> web.Response:
    year = _year(request)
    services = services_of(request.app)
    rules = services.year_rules(year)
    async with services.db.reader() as session:
        found = await ledger.group_assessment(session, rules, year, _zone(services))
    weights = rules.groups
    return web.json_response({
        "year": year,
        "weights": weights.model_dump(mode="json"),
        "items": [{"rank": g.rank, "group": {"id": g.group_id, "name": g.name},
                   "activities_held": g.activities_held, "reports_submitted": g.reports_submitted,
                   "reports_adopted": g.reports_adopted, "attended": g.attended, "expected": g.expected,
                   "attendance_rate": round(g.attendance_rate, 4), "score": g.score} for g in found],
    })


@admin_endpoint
async def rebuild(request: web.Request) -> web.Response:
    year = _year(request)
    services = services_of(request.app)
    rules = services.year_rules(year)
    async with services.db.session() as session:
        result = await ledger.refresh(session, rules, year, _zone(services), now=services.clock.now())
        state = await session.get(DutyYear, year)
    return web.json_response({"year": year, "entries": result.entries,
                              "rebuilt_at": iso(state.recomputed_at) if state else None})


@admin_endpoint
async def get_rules(request: web.Request) -> web.Response:
    year = _year(request)
    services = services_of(request.app)
    rules = services.year_rules(year)
    loaded = services.rules
    assert loaded is not None  # year_rules loaded them
    known = sorted(loaded.file.years)
    earlier = [y for y in known if y <= year]
    return web.json_response({
        "name": loaded.name, "year": year, "from_year": max(earlier) if earlier else known[0],
        "digest": rules.digest, "terms": {name: list(span) for name, span in loaded.file.terms.items()},
        "rules": rules.model_dump(mode="json"),
    })


async def _page_with_members(
    session: AsyncSession, model: type[DutyClaim] | type[DutyAppeal], query: ClaimQuery | AppealQuery
) -> tuple[int, list[Any]]:
    """One page of claims or appeals (filtered by status, member, year) with their members, and the total."""
    filters = [column == value for column, value in (
        (model.status, query.status), (model.member_id, query.member_id), (model.year, query.year))
        if value is not None]
    total = await session.scalar(select(func.count()).select_from(model).where(*filters)) or 0
    rows = (await session.execute(
        select(model, Member).join(Member, Member.id == model.member_id).where(*filters)
        .order_by(model.id).offset((query.page - 1) * query.per_page).limit(query.per_page)
    )).all()
    return total, list(rows)


# --- claims (补录) -------------------------------------------------------------------------------------------


@admin_endpoint
async def list_claims(request: web.Request) -> web.Response:
    query = query_of(request.query, ClaimQuery)
    services = services_of(request.app)
    async with services.db.reader() as session:
        total, rows = await _page_with_members(session, DutyClaim, query)
        ids = [claim.id for claim, _ in rows]
        photos = dict((await session.execute(
            select(DutyClaimPhoto.claim_id, func.count()).where(DutyClaimPhoto.claim_id.in_(ids))  # type: ignore[attr-defined]
            .group_by(DutyClaimPhoto.claim_id))).all()) if ids else {}
        groups = await ledger.group_names(session)
    items = [{**claim_json(claim, member, groups, services), "photos": photos.get(claim.id, 0)}
             for claim, member in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


def claim_json(claim: DutyClaim, member: Member, groups: dict[int, str], services: Services) -> dict[str, Any]:
    rules = services.year_rules(claim.year)
    rule = rules.duties.get(claim.kind)
    return {
        "id": claim.id,
        "member": {"id": member.id, "name": member.name},
        "group": ref(member.group_id, groups),
        "year": claim.year,
        "kind": claim.kind,
        "label": rules.label_of(claim.kind, suffixes(services.texts)),
        "points": rule.points if rule is not None else None,
        "day": claim.occurred_at.astimezone(_zone(services)).date().isoformat(),
        "occurred_at": iso(claim.occurred_at),
        "description": claim.description,
        "status": claim.status.value,
        "decision_note": claim.decision_note,
        "decided_by": claim.decided_by_name or None,
        "decided_by_id": claim.decided_by_id,
        "created_at": iso(claim.created_at),
        "decided_at": iso(claim.decided_at),
    }


@admin_endpoint
async def verify_claim(request: web.Request) -> web.Response:
    return await _decide_claim(request, verified=True)


@admin_endpoint
async def reject_claim(request: web.Request) -> web.Response:
    return await _decide_claim(request, verified=False)


async def _decide_claim(request: web.Request, *, verified: bool) -> web.Response:
    claim_id = path_id(request, "claim_id")
    body = await body_of(request, NoteBody)
    services = services_of(request.app)
    now, texts = services.clock.now(), services.texts
    async with services.db.session() as session:
        claim = await session.get(DutyClaim, claim_id)
        if claim is None:
            raise not_found("claim")
        try:
            await ops.decide_claim(session, claim, verified=verified, note=body.note, by=None, now=now)
        except DutyError as exc:
            raise _refused(exc, services, "note") from None
        await _refresh_member(session, services, claim.year, claim.member_id)
        answer = claim_json(claim, await _member_of(session, claim.member_id), await ledger.group_names(session),
                            services)
        values = {"kind": answer["label"], "day": answer["day"], "year": claim.year}
        text = (texts("duty_api.notify.claim_verified", points=number(answer["points"] or 0), **values) if verified
                else texts("duty_api.notify.claim_rejected", note=claim.decision_note, **values))
        notified = await tell_member(session, claim.member_id, text, key=f"duty-claim:{claim.id}:{claim.status.value}")
    services.wake_delivery()  # after the commit, so the worker finds the row
    return web.json_response({**answer, "notified": notified})


# --- appeals (申诉) ------------------------------------------------------------------------------------------


@admin_endpoint
async def list_appeals(request: web.Request) -> web.Response:
    query = query_of(request.query, AppealQuery)
    services = services_of(request.app)
    async with services.db.reader() as session:
        total, rows = await _page_with_members(session, DutyAppeal, query)
        groups = await ledger.group_names(session)
        current = await _current_entries(session, [appeal for appeal, _ in rows])
    items = [appeal_json(appeal, member, groups, services, current) for appeal, member in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


async def _current_entries(session: AsyncSession, appeals: list[DutyAppeal]) -> dict[tuple[str, int, str], int]:
    """The entries the appeals are about as the ledger has them now (points in tenths), by source key."""
    keys = {(str(a.source), a.source_id, a.kind) for a in appeals}
    if not keys:
        return {}
    rows = (await session.execute(
        select(DutyEntry.source, DutyEntry.source_id, DutyEntry.kind, DutyEntry.tenths)
        .where(DutyEntry.source_id.in_({key[1] for key in keys}))  # type: ignore[attr-defined]
    )).all()
    return {(str(source), source_id, kind): tenths for source, source_id, kind, tenths in rows
            if (str(source), source_id, kind) in keys}


def appeal_json(appeal: DutyAppeal, member: Member, groups: dict[int, str], services: Services,
                current: dict[tuple[str, int, str], int]) -> dict[str, Any]:
    rules = services.year_rules(appeal.year)
    source = str(appeal.source)
    return {
        "id": appeal.id,
        "member": {"id": member.id, "name": member.name},
        "group": ref(member.group_id, groups),
        "year": appeal.year,
        "entry": {
            "source": source, "source_id": appeal.source_id, "ref": source_ref(source, appeal.source_id),
            "kind": appeal.kind, "label": rules.label_of(appeal.kind, suffixes(services.texts)),
            "title": appeal.entry_title, "points": appeal.entry_tenths / 10,
            "points_now": _points(current.get((source, appeal.source_id, appeal.kind))),
        },
        "reason": appeal.reason,
        "status": str(appeal.status),
        "answer": appeal.answer,
        "decided_by": appeal.decided_by_name or None,
        "decided_by_id": appeal.decided_by_id,
        "created_at": iso(appeal.created_at),
        "decided_at": iso(appeal.decided_at),
    }


@admin_endpoint
async def decide_appeal(request: web.Request) -> web.Response:
    appeal_id = path_id(request, "appeal_id")
    body = await body_of(request, AppealDecision)
    services = services_of(request.app)
    texts = services.texts
    async with services.db.session() as session:
        appeal = await session.get(DutyAppeal, appeal_id)
        if appeal is None:
            raise not_found("appeal")
        try:
            adjustment = await ops.decide_appeal(session, appeal, upheld=body.upheld, answer=body.answer, by=None,
                                                 now=services.clock.now(), points=body.points)
        except DutyError as exc:
            raise _refused(exc, services, "answer") from None
        await _refresh_member(session, services, appeal.year, appeal.member_id)
        member = await _member_of(session, appeal.member_id)
        groups = await ledger.group_names(session)
        answer = appeal_json(appeal, member, groups, services, await _current_entries(session, [appeal]))
        change = (texts("duty_api.notify.appeal_change", points=_signed(adjustment.tenths)) if adjustment else "")
        text = (texts("duty_api.notify.appeal_upheld", title=appeal.entry_title, answer=appeal.answer, change=change)
                if body.upheld else
                texts("duty_api.notify.appeal_dismissed", title=appeal.entry_title, answer=appeal.answer))
        notified = await tell_member(session, appeal.member_id, text, key=f"duty-appeal:{appeal.id}")
        adjusted = adjustment_json(adjustment, member) if adjustment else None
    services.wake_delivery()
    return web.json_response({**answer, "adjustment": adjusted, "notified": notified})


# --- adjustments (调整) --------------------------------------------------------------------------------------


def _signed(tenths: int) -> str:
    return f"{tenths / 10:+g}"


def adjustment_json(adjustment: DutyAdjustment, member: Member) -> dict[str, Any]:
    return {
        "id": adjustment.id,
        "member": {"id": member.id, "name": member.name},
        "year": adjustment.year,
        "points": adjustment.tenths / 10,
        "reason": adjustment.reason,
        "appeal_id": adjustment.appeal_id,
        "by": adjustment.by_name or None,
        "by_id": adjustment.by_id,
        "at": iso(adjustment.at),
    }


@admin_endpoint
async def create_adjustment(request: web.Request) -> web.Response:
    body = await body_of(request, AdjustmentBody)
    services = services_of(request.app)
    async with services.db.session() as session:
        member = await session.get(Member, body.member_id)
        if member is None:
            raise bad("member_id", f"no member with id {body.member_id}")
        try:
            adjustment = await ops.adjust(session, member, body.year, points=body.points, reason=body.reason,
                                          by=None, now=services.clock.now())
        except DutyError as exc:
            raise _refused(exc, services, "reason") from None
        await _refresh_member(session, services, body.year, body.member_id)
        text = services.texts("duty_api.notify.adjusted", year=body.year, points=_signed(adjustment.tenths),
                              reason=adjustment.reason)
        notified = await tell_member(session, body.member_id, text, key=f"duty-adjustment:{adjustment.id}")
        answer = adjustment_json(adjustment, member)
    services.wake_delivery()
    return web.json_response({**answer, "notified": notified}, status=201)


@admin_endpoint
async def list_adjustments(request: web.Request) -> web.Response:
    query = query_of(request.query, AdjustmentQuery)
    filters = [column == value for column, value in (
        (DutyAdjustment.member_id, query.member_id), (DutyAdjustment.year, query.year)) if value is not None]
    async with services_of(request.app).db.reader() as session:
        total = await session.scalar(select(func.count()).select_from(DutyAdjustment).where(*filters))
        rows = (await session.execute(
            select(DutyAdjustment, Member).join(Member, Member.id == DutyAdjustment.member_id).where(*filters)
            .order_by(DutyAdjustment.id).offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
    items = [adjustment_json(adjustment, member) for adjustment, member in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


# --- helpers ----------------------------------------------------------------------------------------------


async def _refresh_member(session: AsyncSession, services: Services, year: int, member_id: int) -> None:
    await ledger.refresh(session, services.year_rules(year), year, _zone(services), now=services.clock.now(),
                         members=[member_id])


async def _member_of(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    assert member is not None  # a foreign key
    return member

