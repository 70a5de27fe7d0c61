"""``/api/v1/duty``: the duty ledger (履职档案) and the annual assessment, from the office's side.

    GET  /duty/{year}/members/{member_id}        score, categories (raw and capped), "five one", entries
    GET  /duty/{year}/members?group_id=&sector_id=&below_pass=&page=&per_page=   scores, best first
    GET  /duty/{year}/rankings?by=group|sector   liaison groups or sectors by their members' average
    GET  /duty/{year}/groups                     the group assessment (联络组考核)
    POST /duty/{year}/rebuild                    rebuild the year's ledger from its sources
    GET  /duty/rules/{year}                      the year's rules as JSON
    GET  /duty/claims?status=&member_id=&year=&page=&per_page=      self-reported duties (补录)
    POST /duty/claims/{id}/verify                {note?}
    POST /duty/claims/{id}/reject                {note}: told to the member
    GET  /duty/appeals?status=&member_id=&year=&page=&per_page=     appeals (申诉)
    POST /duty/appeals/{id}/decide               {upheld, answer, points?}
    POST /duty/adjustments                       {member_id, year, points, reason} (201)
    GET  /duty/adjustments?member_id=&year=&page=&per_page=

The API acts as the office (``by=None`` in :mod:`bot.domain.duty`). Every decision and adjustment refreshes the
member's ledger in the same transaction and tells the member in chat (:func:`bot.domain.notify.tell_member`).

**Freshness.** A member's page rebuilds the member's liaison group first (their rank depends on it), as
the chat's ``履职`` does. The lists (members, rankings) read the ledger as last rebuilt — by the nightly
job, ``POST …/rebuild``, an export or a decision — and say when (``rebuilt_at``); they rebuild the year
first only when it was never rebuilt or the rules changed since, so they never mix two sets of rules.
The group assessment is counted from the sources directly and is always current.

Errors as in :mod:`bot.api.common`: bad input is **422** ``invalid`` (with the catalogue's message and the
field), an unknown id in the path **404**, a claim or appeal decided before **409** ``already_decided``. A year
that is not one from 2000 to 2100 is 422 (field ``year``); an unknown ``member_id`` in a body or query is 422
(the field is wrong, the resource exists).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.api.answers import Day, Decided, Page, Ref, Time, decided_json, iso, paged, ref
from bot.api.common import PageQuery, Strict, fetch_page, found, invalid_field, page_of
from bot.api.registry import Routes
from bot.domain import duty as ops
from bot.domain import ledger
from bot.domain.duty_rules import ADJUSTMENT_CATEGORY, GroupRules, YearRules, year_rules
from bot.domain.notify import tell_member
from bot.exports.duty import bonus_of, category_label, number, source_ref, suffixes
from bot.infra.services import Services, services_of
from models import duty as d
from models.member import Member

YEAR_MIN, YEAR_MAX = 2000, 2100
Year = Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX)]
routes = Routes("duty", parameters={"year": Year})
DECIDED = {409: "already_decided: it was decided before."}


# --- bodies and queries ---------------------------------------------------------------------------------


class ScoresQuery(PageQuery):
    group_id: int | None = Field(None, ge=1)
    sector_id: int | None = Field(None, ge=1)
    below_pass: bool = Field(False, description="only members below the pass mark")


class RankingQuery(Strict):
    by: Literal["group", "sector"] = "group"


class MemberYearQuery(PageQuery):
    member_id: int | None = Field(None, ge=1)
    year: Year | None = None


class ClaimQuery(MemberYearQuery):
    status: d.ClaimStatus | None = None


class AppealQuery(MemberYearQuery):
    status: d.AppealStatus | None = None


class ClaimNote(Strict):
    note: str = Field("", max_length=ops.REASON_MAX, description="told to the member; needed (2 to 300 "
                                                                 "characters) to reject")


class AppealDecision(Strict):
    upheld: bool
    answer: str = Field(description="told to the member (2 to 300 characters)")
    points: float | None = Field(None, description="with upheld: an adjustment of this many points (±100 at most, "
                                                   "one decimal)")


class AdjustmentCreate(Strict):
    member_id: int = Field(ge=1)
    year: Year
    points: float = Field(description="±100 at most, not 0, one decimal")
    reason: str = Field(description="2 to 300 characters, told to the member")


# --- answers ----------------------------------------------------------------------------------------------


class ScoreOut(TypedDict):
    total: float
    pending: Annotated[float, Field(description="what entries not confirmed yet would add (not in total)")]
    grade: str
    passed: bool
    overall_rank: Annotated[int, Field(description="ties share a rank")]
    group_rank: int
    group_size: int
    sector_rank: int


class YearScore(ScoreOut):
    base: float
    bonus: Annotated[float | None, Field(description="the bonus categories after their caps and bonus_cap")]
    bonus_cap: float | None
    pass_mark: float


class CategoryOut(TypedDict):
    name: str
    label: str
    cap: float | None
    floor: float | None
    penalty: bool
    raw: Annotated[float | None, Field(description="confirmed points before the cap")]
    points: Annotated[float | None, Field(description="after the cap (or floor)")]


class TargetOut(TypedDict):
    name: str
    need: int
    done: int
    pending: int
    met: bool


class EntryOut(TypedDict):
    source: d.EntrySource
    source_id: int
    ref: Annotated[str, Field(description="source#id, e.g. attendance#123")]
    kind: str
    label: str
    category: str
    category_label: str
    points: float
    status: d.EntryStatus
    occurred_at: Time
    title: str
    open_appeal_id: int | None


class MemberYearOut(TypedDict):
    year: int
    member: Ref
    group: Ref | None
    sector: Ref | None
    assessed: Annotated[bool, Field(description="false for secretaries and inactive members")]
    rebuilt_at: Time | None
    score: YearScore | None
    categories: list[CategoryOut]
    five_one: list[TargetOut]
    entries: list[EntryOut]


class FiveOneSummary(TypedDict):
    met: int
    targets: int
    missing: list[str]


class ScoreRow(ScoreOut):
    member: Ref
    group: Ref | None
    sector: Ref | None
    categories: Annotated[dict[str, float | None], Field(description="category → points after its cap; the "
                                                                     "adjustments included")]
    five_one: FiveOneSummary


class ScorePage(Page):
    year: int
    rebuilt_at: Time | None
    pass_mark: float
    items: list[ScoreRow]


class StandingOut(TypedDict):
    rank: int
    id: Annotated[int | None, Field(description="null: the members of no group (or sector)")]
    name: str
    members: int
    average: float
    below_pass: int


class Rankings(TypedDict):
    year: int
    by: Literal["group", "sector"]
    rebuilt_at: Time | None
    pass_mark: float
    items: list[StandingOut]


class GroupScore(TypedDict):
    rank: int
    group: Ref
    activities_held: int
    reports_submitted: int
    reports_adopted: int
    attended: int
    expected: int
    attendance_rate: float
    score: float


class GroupAssessment(TypedDict):
    year: int
    weights: GroupRules
    items: list[GroupScore]


class Rebuilt(TypedDict):
    year: int
    entries: int
    rebuilt_at: Time | None


class RulesOut(TypedDict):
    name: str
    year: int
    from_year: Annotated[int, Field(description="the entry of the rules file that applies to the year")]
    digest: str
    terms: dict[str, list[int]]
    rules: YearRules


class ClaimOut(Decided):
    id: int
    member: Ref
    group: Ref | None
    year: int
    kind: str
    label: str
    points: float | None
    day: Day
    occurred_at: Time
    description: str
    status: d.ClaimStatus
    decision_note: str


class ListedClaim(ClaimOut):
    photos: int


class ClaimPage(Page):
    items: list[ListedClaim]


class DecidedClaim(ClaimOut):
    notified: Annotated[bool, Field(description="a chat message to the member was queued")]


class AppealEntry(TypedDict):
    source: d.EntrySource
    source_id: int
    ref: str
    kind: str
    label: str
    title: str
    points: Annotated[float, Field(description="as the member saw it")]
    points_now: Annotated[float | None, Field(description="as the ledger has it now (null: gone)")]


class AppealOut(Decided):
    id: int
    member: Ref
    group: Ref | None
    year: int
    entry: AppealEntry
    reason: str
    status: d.AppealStatus
    answer: str


class AppealPage(Page):
    items: list[AppealOut]


class AdjustmentOut(TypedDict):
    id: int
    member: Ref
    year: int
    points: float
    reason: str
    appeal_id: int | None
    by: Annotated[str | None, Field(description="null: the admin API")]
    by_id: int | None
    at: Time


class DecidedAppeal(AppealOut):
    adjustment: AdjustmentOut | None
    notified: bool


class AdjustmentPage(Page):
    items: list[AdjustmentOut]


class MadeAdjustment(AdjustmentOut):
    notified: bool


def _points(tenths: int | None) -> float | None:
    return None if tenths is None else tenths / 10


async def _current_year(services: Services, rules: YearRules, year: int) -> d.DutyYear:
    """The year's rebuild record, rebuilding first when there is none or the rules changed since."""
    async with services.db.reader() as session:
        state = await session.get(d.DutyYear, year)
    if state is None or state.rules_hash != rules.digest:
        async with services.db.session() as session:
            await ledger.refresh(session, rules, year, services.zone, now=services.clock.now())
            state = await session.get(d.DutyYear, year)
    assert state is not None
    return state


# --- the year -------------------------------------------------------------------------------------------


@routes.get("/duty/{year}/members/{member_id}", "A member's year: score and ranks, each category's raw and capped "
            "points, \"five one\" progress and every entry with its source.",
            description="The member's liaison group is rebuilt first.", ok=MemberYearOut,
            errors={404: "No member with this id."})
async def get_member_year(request: web.Request, year: int, member_id: int) -> web.Response:
    services = services_of(request.app)
    rules = year_rules(services, year)
    async with services.db.session() as session:
        member = await found(session, Member, member_id, "member")
        await ledger.refresh(session, rules, year, services.zone, now=services.clock.now(),
                             members=ledger.group_of(member))
    async with services.db.reader() as session:
        state = await session.get(d.DutyYear, year)
        everyone = await ledger.scores(session, rules, year)  # ranks among everyone, not just the group
        mine = await ledger.scores(session, rules, year, members=[member_id], with_categories=True)
        targets = (await ledger.five_one(session, rules, year, members=[member_id]))[member_id]
        entries = await ledger.entries_of(session, member_id, year)
        appeals = {(str(source), source_id, kind): appeal_id for source, source_id, kind, appeal_id in (
            await session.execute(
                select(d.DutyAppeal.source, d.DutyAppeal.source_id, d.DutyAppeal.kind, d.DutyAppeal.id)
                .where(d.DutyAppeal.member_id == member_id, d.DutyAppeal.year == year,
                       d.DutyAppeal.status == d.AppealStatus.OPEN))).all()}
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


def _score_json(score: ledger.Score) -> ScoreOut:
    return {"total": score.total, "pending": score.pending, "grade": score.grade, "passed": score.passed,
            "group_rank": score.group_rank, "group_size": score.group_size, "sector_rank": score.sector_rank,
            "overall_rank": score.overall_rank}


def _categories_json(rules: YearRules, score: ledger.Score | None, services: Services) -> list[CategoryOut]:
    raw = score.raw if score else {}
    capped = score.by_category if score else {}
    found: list[CategoryOut] = [
        {"name": name, "label": c.label, "cap": c.cap, "floor": c.floor, "penalty": c.penalty,
         "raw": _points(raw.get(name, 0)), "points": _points(capped.get(name, 0))}
        for name, c in rules.categories.items()]
    if ADJUSTMENT_CATEGORY in raw:
        found.append({"name": ADJUSTMENT_CATEGORY, "label": services.texts("duty.suffix.adjustment"), "cap": None,
                      "floor": None, "penalty": False, "raw": _points(raw[ADJUSTMENT_CATEGORY]),
                      "points": _points(raw[ADJUSTMENT_CATEGORY])})
    return found


@routes.get("/duty/{year}/members", "The assessed members' scores, best first (ties share a rank), filtered and "
            "paginated. Read from the ledger as last rebuilt (rebuilt_at).", query=ScoresQuery, ok=ScorePage)
async def list_scores(request: web.Request, year: int, query: ScoresQuery) -> web.Response:
    services = services_of(request.app)
    rules = year_rules(services, year)
    state = await _current_year(services, rules, year)
    async with services.db.reader() as session:
        everyone = await ledger.scores(session, rules, year)
        chosen = [s for s in everyone if (query.group_id is None or s.group_id == query.group_id)
                  and (query.sector_id is None or s.sector_id == query.sector_id)
                  and (not query.below_pass or not s.passed)]
        page = page_of(chosen, query)
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
    return web.json_response(paged(items, len(chosen), query, year=year, rebuilt_at=iso(state.recomputed_at),
                                   pass_mark=rules.pass_mark))


@routes.get("/duty/{year}/rankings", "Liaison groups or sectors ranked by their members' average score (ties "
            "share a rank).", query=RankingQuery, ok=Rankings)
async def rankings(request: web.Request, year: int, query: RankingQuery) -> web.Response:
    services = services_of(request.app)
    rules = year_rules(services, year)
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


@routes.get("/duty/{year}/groups", "The group assessment (联络组考核): activities held, reports, attendance rate, "
            "score, rank.", ok=GroupAssessment)
async def group_assessment(request: web.Request, year: int) -> web.Response:
    services = services_of(request.app)
    rules = year_rules(services, year)
    async with services.db.reader() as session:
        found = await ledger.group_assessment(session, rules, year, services.zone)
    return web.json_response({
        "year": year,
        "weights": rules.groups.model_dump(mode="json"),
        "items": [{"rank": g.rank, "group": {"id": g.group_id, "name": g.name},
                   "activities_held": g.activities_held, "reports_submitted": g.reports_submitted,
                   "reports_adopted": g.reports_adopted, "attended": g.attended, "expected": g.expected,
                   "attendance_rate": round(g.attendance_rate, 4), "score": g.score} for g in found],
    })


@routes.post("/duty/{year}/rebuild", "Rebuild the year's ledger from its sources under the year's rules "
             "(idempotent).", ok=Rebuilt)
async def rebuild(request: web.Request, year: int) -> web.Response:
    services = services_of(request.app)
    rules = year_rules(services, year)
    async with services.db.session() as session:
        result = await ledger.rebuild(session, rules, year, services.zone, by=None, now=services.clock.now())
        state = await session.get(d.DutyYear, year)
    return web.json_response({"year": year, "entries": result.entries,
                              "rebuilt_at": iso(state.recomputed_at) if state else None})


@routes.get("/duty/rules/{year}", "The rules that apply to a year (a year without its own entry uses the closest "
            "earlier one: from_year).", ok=RulesOut)
async def get_rules(request: web.Request, year: int) -> web.Response:
    services = services_of(request.app)
    rules = year_rules(services, year)
    loaded = services.rules
    assert loaded is not None  # year_rules loaded them
    known = sorted(loaded.file.years)
    earlier = [y for y in known if y <= year]
    return web.json_response({
        "name": loaded.name, "year": year, "from_year": max(earlier) if earlier else known[0],
        "digest": rules.digest, "terms": {name: list(span) for name, span in loaded.file.terms.items()},
        "rules": rules.model_dump(mode="json"),
    })


async def _page_with_members(session: AsyncSession, model: Any, query: MemberYearQuery) -> tuple[int, list[Any]]:
    """One page of claims, appeals or adjustments (filtered by member, year and any status) with their members,
    oldest first, and the total."""
    status = getattr(query, "status", None)
    filters = [column == value for column, value in (
        (getattr(model, "status", None), status), (model.member_id, query.member_id), (model.year, query.year))
        if value is not None]
    rows = select(model, Member).join(Member, Member.id == model.member_id).where(*filters).order_by(model.id)
    return await fetch_page(session, rows, query)


# --- claims (补录) -------------------------------------------------------------------------------------------


@routes.get("/duty/claims", "Self-reported duties (补录), oldest first, filtered and paginated.", query=ClaimQuery,
            ok=ClaimPage)
async def list_claims(request: web.Request, query: ClaimQuery) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        total, rows = await _page_with_members(session, d.DutyClaim, query)
        ids = [claim.id for claim, _ in rows]
        photos = dict((await session.execute(
            select(d.DutyClaimPhoto.claim_id, func.count()).where(d.DutyClaimPhoto.claim_id.in_(ids))  # type: ignore[attr-defined]
            .group_by(d.DutyClaimPhoto.claim_id))).all()) if ids else {}
        groups = await ledger.group_names(session)
    items = [{**claim_json(claim, member, groups, services), "photos": photos.get(claim.id, 0)}
             for claim, member in rows]
    return web.json_response(paged(items, total, query))


def claim_json(claim: d.DutyClaim, member: Member, groups: dict[int, str], services: Services) -> ClaimOut:
    rules = year_rules(services, claim.year)
    rule = rules.duties.get(claim.kind)
    return {
        "id": claim.id,
        "member": {"id": member.id, "name": member.name},
        "group": ref(member.group_id, groups),
        "year": claim.year,
        "kind": claim.kind,
        "label": rules.label_of(claim.kind, suffixes(services.texts)),
        "points": rule.points if rule is not None else None,
        "day": claim.occurred_at.astimezone(services.zone).date().isoformat(),
        "occurred_at": iso(claim.occurred_at),
        "description": claim.description,
        "status": claim.status,
        "decision_note": claim.decision_note,
        **decided_json(claim),
    }


@routes.post("/duty/claims/{claim_id}/verify", "Verify a pending claim: its entry is confirmed and the member is "
             "told.", body=ClaimNote, ok=DecidedClaim, errors={404: "No claim with this id.", **DECIDED})
async def verify_claim(request: web.Request, claim_id: int, body: ClaimNote) -> web.Response:
    return await _decide_claim(request, claim_id, body, verified=True)


@routes.post("/duty/claims/{claim_id}/reject", "Reject a pending claim with a note the member is told.",
             body=ClaimNote, body_required=True, ok=DecidedClaim, errors={404: "No claim with this id.", **DECIDED})
async def reject_claim(request: web.Request, claim_id: int, body: ClaimNote) -> web.Response:
    return await _decide_claim(request, claim_id, body, verified=False)


async def _decide_claim(request: web.Request, claim_id: int, body: ClaimNote, *, verified: bool) -> web.Response:
    services = services_of(request.app)
    now, texts = services.clock.now(), services.texts
    async with services.db.session() as session:
        claim = await found(session, d.DutyClaim, claim_id, "claim")
        await ops.decide_claim(session, claim, verified=verified, note=body.note, by=None, now=now)
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


@routes.get("/duty/appeals", "Appeals (申诉) on ledger entries, oldest first, filtered and paginated.",
            query=AppealQuery, ok=AppealPage)
async def list_appeals(request: web.Request, query: AppealQuery) -> web.Response:
    services = services_of(request.app)
    async with services.db.reader() as session:
        total, rows = await _page_with_members(session, d.DutyAppeal, query)
        groups = await ledger.group_names(session)
        current = await _current_entries(session, [appeal for appeal, _ in rows])
    return web.json_response(paged([appeal_json(appeal, member, groups, services, current) for appeal, member in rows],
                                   total, query))


async def _current_entries(session: AsyncSession, appeals: list[d.DutyAppeal]) -> dict[tuple[str, int, str], int]:
    """The entries the appeals are about as the ledger has them now (points in tenths), by source key."""
    keys = {(str(a.source), a.source_id, a.kind) for a in appeals}
    if not keys:
        return {}
    rows = (await session.execute(
        select(d.DutyEntry.source, d.DutyEntry.source_id, d.DutyEntry.kind, d.DutyEntry.tenths)
        .where(d.DutyEntry.source_id.in_({key[1] for key in keys}))  # type: ignore[attr-defined]
    )).all()
    return {(str(source), source_id, kind): tenths for source, source_id, kind, tenths in rows
            if (str(source), source_id, kind) in keys}


def appeal_json(appeal: d.DutyAppeal, member: Member, groups: dict[int, str], services: Services,
                current: dict[tuple[str, int, str], int]) -> AppealOut:
    rules = year_rules(services, appeal.year)
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
        "status": appeal.status,
        "answer": appeal.answer,
        **decided_json(appeal),
    }


@routes.post("/duty/appeals/{appeal_id}/decide", "Uphold (optionally with an adjustment of `points`) or dismiss an "
             "open appeal; the member is told the answer.", body=AppealDecision, ok=DecidedAppeal,
             errors={404: "No appeal with this id.", **DECIDED})
async def decide_appeal(request: web.Request, appeal_id: int, body: AppealDecision) -> web.Response:
    services = services_of(request.app)
    texts = services.texts
    async with services.db.session() as session:
        appeal = await found(session, d.DutyAppeal, appeal_id, "appeal")
        adjustment = await ops.decide_appeal(session, appeal, upheld=body.upheld, answer=body.answer, by=None,
                                             now=services.clock.now(), points=body.points)
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


def adjustment_json(adjustment: d.DutyAdjustment, member: Member) -> AdjustmentOut:
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


@routes.post("/duty/adjustments", "Add or take points with a reason (never capped, kept forever); the member is "
             "told.", body=AdjustmentCreate, ok=MadeAdjustment, status=201,
             errors={422: "Not valid, or no member with member_id."})
async def create_adjustment(request: web.Request, body: AdjustmentCreate) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        member = await session.get(Member, body.member_id)
        if member is None:
            raise invalid_field("member_id", f"no member with id {body.member_id}")
        adjustment = await ops.adjust(session, member, body.year, points=body.points, reason=body.reason,
                                      by=None, now=services.clock.now())
        await _refresh_member(session, services, body.year, body.member_id)
        text = services.texts("duty_api.notify.adjusted", year=body.year, points=_signed(adjustment.tenths),
                              reason=adjustment.reason)
        notified = await tell_member(session, body.member_id, text, key=f"duty-adjustment:{adjustment.id}")
        answer = adjustment_json(adjustment, member)
    services.wake_delivery()
    return web.json_response({**answer, "notified": notified}, status=201)


@routes.get("/duty/adjustments", "Manual adjustments, oldest first, filtered and paginated.", query=MemberYearQuery,
            ok=AdjustmentPage)
async def list_adjustments(request: web.Request, query: MemberYearQuery) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        total, rows = await _page_with_members(session, d.DutyAdjustment, query)
    return web.json_response(paged([adjustment_json(adjustment, member) for adjustment, member in rows], total, query))


# --- helpers ----------------------------------------------------------------------------------------------


async def _refresh_member(session: AsyncSession, services: Services, year: int, member_id: int) -> None:
    await ledger.refresh(session, year_rules(services, year), year, services.zone, now=services.clock.now(),
                         members=[member_id])


async def _member_of(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    assert member is not None  # a foreign key
    return member
