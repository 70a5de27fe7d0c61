"""``履职`` / ``duty`` (menu key ``DUTY``): a member's duty record of this year — points, grade, "five one"
progress and rank in the liaison group. ``履职明细 [页]`` lists the entries; ``补录`` reports a duty the
system cannot see (a proposal, a speech …) for a secretary to verify; ``申诉 N 理由`` disputes entry N of
the list; ``我的补录`` / ``我的申诉`` show them with their status, ``撤回补录 N`` / ``撤回申诉 N`` take
back a pending one.

```mermaid
stateDiagram-v2
    [*] --> [*]: not an active member / refused · secretary or admin / "not assessed"
    [*] --> [*]: 履职 / points, pending, grade, five-one ✓/✗, rank in the group
    [*] --> [*]: 履职明细 N / page N of the year's entries (numbered), how to appeal
    [*] --> kind: 补录 / numbered self-reported kinds of this year's rules
    kind --> day: a number or a name
    day --> description: 2026-10-01 · 10月1日 · 10.1 · 今天 · 昨天 (not in the future)
    description --> photos: 5–500 characters
    photos --> photos: an image (at most 9; kept in the conversation)
    photos --> [*]: 完成 · 跳过 / filed (pending), photos queued for fetching, secretaries told
    [*] --> reason: 申诉 N (no reason yet)
    [*] --> [*]: 申诉 N 理由 / appeal filed, secretaries told
    reason --> [*]: a reason (2–500) / appeal filed
    [*] --> [*]: 我的补录 · 我的申诉 / recent ones with status and the answer
    [*] --> [*]: 撤回补录 N · 撤回申诉 N / withdrawn (pending / open only)
```

This module's commands (``履职``, ``履职明细``, ``补录``, ``申诉 N``, ``我的补录``, ``我的申诉``) typed
inside 补录 or 申诉 mean the command, not an answer: they are declared ``reentry=True`` and end the
conversation first (the lists shown are kept).

``取消`` leaves the 补录 or 申诉 conversation at any step (``handlers.common``) and nothing is filed: the
claim and its photos are written together when the member says ``完成`` or ``跳过``, in that message's
transaction (the photos' media ids wait in the conversation, which is committed with every message, so a
restart loses nothing). The fetcher (:mod:`scheduler.photos`) then downloads them like a report's. A
claim left unfinished closes after ``conversation.idle_timeout_minutes`` like any conversation, and
nothing is filed.

The lists a member saw are remembered beside the conversation (data key ``duty_lists``, no state, so no
idle-timeout notice follows a mere listing): ``申诉 3`` means line 3 of the page shown, named by the
entry's source key — entry ids change whenever the ledger is rebuilt, the key does not. Without a
remembered list (another conversation came in between) the number is counted in the order ``履职明细``
shows now (:func:`bot.domain.ledger.entries_of` is deterministic), and the answer names the entry, so the
member sees which one was meant. ``撤回补录 N`` / ``撤回申诉 N`` work the same way with ids.

Every rule (future days, unknown kinds, one open appeal per entry, who may verify) is checked again by
:mod:`bot.domain.duty`; the ledger of the member is rebuilt after each change so ``履职`` is current.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.events import Kind
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import duty as ops
from bot.domain import ledger
from bot.domain.authz import Action, can
from bot.domain.duty_rules import YearRules, year_rules
from bot.domain.media import new_photo
from bot.domain.notify import tell_member
from bot.domain.refusals import Refusal
from handlers.kit import dates
from handlers.kit.choices import numbered, pick
from handlers.kit.paging import LINES_BUDGET, fit_pages
from handlers.kit.words import DONE, SKIP, SUBMIT, answer, flat
from models.duty import AppealStatus, ClaimStatus, DutyAppeal, DutyClaim, DutyClaimPhoto, DutyEntry
from models.member import Member, MemberStatus, Role


class ClaimFlow(StatesGroup):
    kind = State()
    day = State()
    description = State()
    photos = State()


class AppealFlow(StatesGroup):
    reason = State()


router = Router("duty")
router.describe("履职", "duty_chat.help.duty")
router.describe("履职明细", "duty_chat.help.detail")
router.describe("补录", "duty_chat.help.claim")
router.describe("我的补录", "duty_chat.help.my_claims")
router.describe("我的申诉", "duty_chat.help.my_appeals")

START_WORDS = ("履职", "duty", "我的履职", "履职情况", "履职积分", "我的积分")
CLAIM_WORDS = ("补录", "补报", "补录履职", "claim")
MY_CLAIMS_WORDS = ("我的补录", "补录记录", "my claims")
MY_APPEALS_WORDS = ("我的申诉", "申诉记录", "my appeals")
APPEAL_HOW_WORDS = ("申诉", "appeal")
DETAIL = r"^(?:履职明细|明细|duty details?)\s*(\d{0,3})$"
APPEAL = r"^(?:申诉|appeal)\s*\d"
WITHDRAW_CLAIM = r"^(?:撤回补录|withdraw claim)\s*(\d+)$"
WITHDRAW_APPEAL = r"^(?:撤回申诉|withdraw appeal)\s*(\d+)$"
_APPEAL_TEXT = re.compile(r"^(?:申诉|appeal)\s*(\d+)[\s,，.。:：、]*(.*)$", re.IGNORECASE | re.DOTALL)
_FILED = DONE | SUBMIT | SKIP | answer("没有照片", "no")  # the photos step: done, or no photos at all

LISTS = "duty_lists"  # conversation data beside any state: what the member's lists showed
PAGE_MAX = 10  # entries on a page of 履职明细, fewer when long lines would pass the byte budget
TITLE_CUT = 18  # characters of a title or description on a list line: enough to recognise it on a phone
MINE_LIMIT = 10  # recent claims or appeals listed
CLAIM_PHOTOS_MAX = 9


# --- 履职 -----------------------------------------------------------------------------------------

@router.command(*START_WORDS, reentry=True)
@router.click("DUTY")
async def overview(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    member = _member(ctx)
    year, rules = this_year(ctx)
    found = await ledger.member_year(ctx.session, rules, member, year, ctx.zone, now=ctx.now)
    score = found.score
    if score is None:  # not assessed after all (an inactive role): say so rather than show nothing
        return ctx.t("duty_chat.not_assessed", role=ctx.t(f"members.role.{member.role.value}"))
    lines = [ctx.t("duty_chat.summary.title", name=member.name, year=year),
             ctx.t("duty_chat.summary.points", total=points(score.total_tenths), grade=score.grade,
                   pass_mark=f"{rules.pass_mark:g}")]
    if score.pending_tenths:
        lines.append(ctx.t("duty_chat.summary.pending", pending=points(score.pending_tenths)))
    if member.group_id is not None:
        lines.append(ctx.t("duty_chat.summary.rank", rank=score.group_rank, size=score.group_size))
    if found.targets:
        lines.append(ctx.t("duty_chat.summary.targets"))
        for target in found.targets:
            key = "met" if target.met else "missing"
            line = ctx.t(f"duty_chat.summary.target_{key}", name=target.name, done=target.done, need=target.need)
            if target.pending and not target.met:
                line += ctx.t("duty_chat.summary.target_pending", pending=target.pending)
            lines.append(line)
    lines.append(ctx.t("duty_chat.summary.how"))
    return "\n".join(lines)


# --- 履职明细 -------------------------------------------------------------------------------------

@router.regex(DETAIL, reentry=True)
async def details(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    assert ctx.match is not None
    wanted = int(ctx.match.group(1) or 1)
    member = _member(ctx)
    year, rules = this_year(ctx)
    await ledger.refresh(ctx.session, rules, year, ctx.zone, now=ctx.now, members=[member.id or 0])
    entries = await ledger.entries_of(ctx.session, member.id or 0, year)
    if not entries:
        return ctx.t("duty_chat.detail.empty", year=year)
    lines = [entry_line(ctx, rules, number, entry) for number, entry in enumerate(entries, start=1)]
    pages = fit_pages(lines, LINES_BUDGET, PAGE_MAX)
    if not 1 <= wanted <= len(pages):
        return ctx.t("duty_chat.detail.no_page", page=wanted, pages=len(pages))
    first, count = pages[wanted - 1]
    shown = entries[first:first + count]
    _remember(ctx, entries={str(first + offset + 1): entry_key(entry) for offset, entry in enumerate(shown)},
              year=year)
    reply = [ctx.t("duty_chat.detail.title", year=year, count=len(entries), page=wanted, pages=len(pages)),
             *lines[first:first + count]]
    if wanted < len(pages):
        reply.append(ctx.t("duty_chat.detail.next", next=wanted + 1))
    reply.append(ctx.t("duty_chat.detail.how", example=first + 1))
    return "\n".join(reply)


def entry_line(ctx: Context, rules: YearRules, number: int, entry: DutyEntry) -> str:
    """``3. 10月1日 调研视察：城关镇农贸市场调研 +2 分，已确认``"""
    return ctx.t("duty_chat.detail.item", number=number, date=dates.day(ctx, entry.occurred_at),
                 what=entry_what(ctx, rules, entry.kind, entry.title), points=signed(entry.tenths),
                 status=ctx.t(f"duty.status.{entry.status}"))


def entry_what(ctx: Context, rules: YearRules, kind: str, title: str) -> str:
    label = label_of(ctx, rules, kind)
    title = cut(title)
    return f"{label}：{title}" if title and title != label else label


def entry_key(entry: DutyEntry) -> list[Any]:
    return [str(entry.source), entry.source_id, entry.kind]


# --- 申诉 -----------------------------------------------------------------------------------------

@router.regex(APPEAL, reentry=True)
async def appeal(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    found = _APPEAL_TEXT.match(flat(ctx.text))
    if found is None:
        return ctx.t("duty_chat.appeal.how")
    number, reason = int(found.group(1)), " ".join(found.group(2).split())
    entry = await _listed_entry(ctx, number)
    if entry is None:
        return ctx.t("duty_chat.appeal.no_such", number=number)
    _, rules = this_year(ctx)
    what = entry_line(ctx, rules, number, entry)
    if not reason:
        _finish_keeping_lists(ctx)
        ctx.conv.set(AppealFlow.reason, entry=entry_key(entry), line=what)
        return ctx.t("duty_chat.appeal.ask_reason", line=what, min=ops.REASON_MIN, max=ops.APPEAL_REASON_MAX)
    return await _file_appeal(ctx, entry, reason, what)


@router.command(*APPEAL_HOW_WORDS)
async def appeal_how(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    return ctx.t("duty_chat.appeal.how")


@router.state(AppealFlow.reason)
async def got_appeal_reason(ctx: Context) -> str:
    reason = " ".join(ctx.text.split())
    if not ops.REASON_MIN <= len(reason) <= ops.APPEAL_REASON_MAX:
        return ctx.re_ask("duty_chat.appeal.bad_reason", min=ops.REASON_MIN, max=ops.APPEAL_REASON_MAX,
                          length=len(reason))
    source, source_id, kind = ctx.conv.data.get("entry") or ("", 0, "")
    entry = await find_entry(ctx, _member(ctx).id or 0, str(source), int(source_id), str(kind))
    line = str(ctx.conv.data.get("line", ""))
    _finish_keeping_lists(ctx)
    if entry is None:
        return ctx.t("duty_chat.appeal.gone")
    return await _file_appeal(ctx, entry, reason, line)


@router.on_cancel(AppealFlow)
async def appeal_cancelled(ctx: Context) -> str:
    return ctx.t("duty_chat.appeal.cancelled")


async def _file_appeal(ctx: Context, entry: DutyEntry, reason: str, line: str) -> str:
    member = _member(ctx)
    _finish_keeping_lists(ctx)
    try:
        filed = await ops.open_appeal(ctx.session, member, entry, reason=reason, now=ctx.now)
    except Refusal as exc:
        return exc.render(ctx.services.texts)
    rules = year_rules(ctx.services, entry.year)
    await tell_verifiers(ctx, member, ctx.t("duty_chat.notify.new_appeal", name=member.name,
                                            what=entry_what(ctx, rules, entry.kind, entry.title)),
                         key=f"duty-appeal:{filed.id}:new")
    return ctx.t("duty_chat.appeal.filed", line=line)


async def _listed_entry(ctx: Context, number: int) -> DutyEntry | None:
    """Entry ``number`` of the page the member saw, or of the list as ``履职明细`` shows it now."""
    member = _member(ctx)
    year, rules = this_year(ctx)
    await ledger.refresh(ctx.session, rules, year, ctx.zone, now=ctx.now, members=[member.id or 0])
    listed = ctx.conv.data.get(LISTS) or {}
    key = (listed.get("entries") or {}).get(str(number)) if listed.get("year") == year else None
    if key is not None:
        return await find_entry(ctx, member.id or 0, *key)
    entries = await ledger.entries_of(ctx.session, member.id or 0, year)
    return entries[number - 1] if 1 <= number <= len(entries) else None


async def find_entry(ctx: Context, member_id: int, source: str, source_id: int, kind: str) -> DutyEntry | None:
    """The member's entry with this source key (after a rebuild, so it is the current one)."""
    return await ctx.session.scalar(select(DutyEntry).where(
        DutyEntry.source == source, DutyEntry.source_id == source_id, DutyEntry.kind == kind,
        DutyEntry.member_id == member_id))


# --- 补录 -----------------------------------------------------------------------------------------

@router.command(*CLAIM_WORDS, reentry=True)
@router.click("DUTY_CLAIM")
async def start_claim(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    _finish_keeping_lists(ctx)  # a fresh start forgets any other conversation's data
    year, rules = this_year(ctx)
    kinds = rules.self_reported_kinds
    if not kinds:
        return ctx.t("duty_chat.claim.no_kinds", year=year)
    ctx.conv.set(ClaimFlow.kind, kinds=kinds, photos=[])
    return ctx.t("duty_chat.claim.ask_kind", choices=numbered(_kind_choices(ctx, rules, kinds)))


@router.state(ClaimFlow.kind)
async def chose_kind(ctx: Context) -> str:
    _, rules = this_year(ctx)
    kinds = [str(kind) for kind in ctx.conv.data.get("kinds", [])]
    index = pick(ctx.text, [label_of(ctx, rules, kind) for kind in kinds])
    if index is None:
        return ctx.re_ask("duty_chat.claim.bad_kind", choices=numbered(_kind_choices(ctx, rules, kinds)))
    kind = kinds[index]
    ctx.conv.set(ClaimFlow.day, kind=kind)
    return ctx.t("duty_chat.claim.ask_day", kind=label_of(ctx, rules, kind))


@router.state(ClaimFlow.day)
async def got_day(ctx: Context) -> str:
    today = ctx.local_now.date()
    day = parse_day(ctx.text, today)
    if day is None:
        return ctx.re_ask("duty_chat.claim.bad_day")
    if day > today:
        return ctx.re_ask("duty_chat.claim.future_day", day=_day_text(ctx, day))
    earliest = today.year - ops.CLAIM_YEARS_BACK
    if day.year < earliest:
        return ctx.re_ask("duty_chat.claim.too_old", year=earliest)
    kind = str(ctx.conv.data.get("kind", ""))
    rules = year_rules(ctx.services, day.year)
    if kind not in rules.self_reported_kinds:  # a day of last year, whose rules had no such kind
        return ctx.re_ask("duty_chat.claim.kind_not_that_year", year=day.year,
                          kind=label_of(ctx, this_year(ctx)[1], kind))
    ctx.conv.set(ClaimFlow.description, day=day.isoformat())
    return ctx.t("duty_chat.claim.ask_description", day=_day_text(ctx, day), min=ops.DESCRIPTION_MIN,
                 max=ops.DESCRIPTION_MAX)


@router.state(ClaimFlow.description)
async def got_description(ctx: Context) -> str:
    description = " ".join(ctx.text.split())
    if not ops.DESCRIPTION_MIN <= len(description) <= ops.DESCRIPTION_MAX:
        return ctx.re_ask("duty_chat.claim.bad_description", min=ops.DESCRIPTION_MIN, max=ops.DESCRIPTION_MAX,
                          length=len(description))
    ctx.conv.set(ClaimFlow.photos, description=description)
    return ctx.t("duty_chat.claim.ask_photos", limit=CLAIM_PHOTOS_MAX, count=len(_photos(ctx)))


@router.state(ClaimFlow.photos)
async def photos_answer(ctx: Context) -> str:
    typed = normalise(ctx.text)
    if typed in _FILED:
        return await _file_claim(ctx)
    return ctx.re_ask("duty_chat.claim.photos_how", limit=CLAIM_PHOTOS_MAX)


@router.state(ClaimFlow, kinds=(Kind.IMAGE,))
async def got_photo(ctx: Context) -> str:
    """An image at any step is kept (in the conversation) and filed with the claim."""
    photos = _photos(ctx)
    if len(photos) >= CLAIM_PHOTOS_MAX:
        return ctx.t("duty_chat.claim.too_many_photos", limit=CLAIM_PHOTOS_MAX)
    photos.append([ctx.event.platform, ctx.event.media_id, ctx.event.pic_url])
    ctx.conv.update(photos=photos)
    if ctx.conv.state == str(ClaimFlow.photos):
        return ctx.t("duty_chat.claim.photo_received", count=len(photos))
    return ctx.t("duty_chat.claim.photo_early", count=len(photos))


@router.on_cancel(ClaimFlow)
async def claim_cancelled(ctx: Context) -> str:
    """Say plainly that nothing was filed: an older member may wonder whether half a claim was sent."""
    return ctx.t("duty_chat.claim.cancelled")


async def _file_claim(ctx: Context) -> str:
    member = _member(ctx)
    data = ctx.conv.data
    kind, day, description = str(data["kind"]), date.fromisoformat(str(data["day"])), str(data["description"])
    photos = _photos(ctx)
    rules = year_rules(ctx.services, day.year)
    _finish_keeping_lists(ctx)
    try:
        claim = await ops.submit_claim(ctx.session, member, rules, kind=kind, day=day, description=description,
                                       zone=ctx.zone, now=ctx.now)
    except Refusal as exc:
        return "\n".join([exc.render(ctx.services.texts), ctx.t("duty_chat.claim.start_again")])
    assert claim.id is not None
    for platform, media_id, pic_url in photos:
        ctx.session.add(new_photo(claim.id, str(platform), str(media_id), str(pic_url), ctx.now,
                                  model=DutyClaimPhoto))
    await ledger.refresh(ctx.session, rules, day.year, ctx.zone, now=ctx.now, members=[member.id or 0])
    what = claim_what(ctx, rules, kind, day)
    await tell_verifiers(ctx, member, ctx.t("duty_chat.notify.new_claim", name=member.name, what=what),
                         key=f"duty-claim:{claim.id}:new")
    return ctx.t("duty_chat.claim.filed", what=what, photos=len(photos),
                 points=f"{rules.duties[kind].points:g}")


def _kind_choices(ctx: Context, rules: YearRules, kinds: list[str]) -> list[str]:
    return [ctx.t("duty_chat.claim.kind", label=label_of(ctx, rules, kind), points=f"{rules.duties[kind].points:g}")
            for kind in kinds if kind in rules.duties]


def _photos(ctx: Context) -> list[list[str]]:
    return [list(photo) for photo in ctx.conv.data.get("photos", [])]


_DAY_WORDS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3}
_FULL_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_SHORT_DATE = re.compile(r"^(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")


def parse_day(text: str, today: date) -> date | None:
    """A past day as members type it: ``2026-10-01``, ``2026年10月1日``, ``10月1日``, ``10.1``, ``10/1``,
    ``今天``, ``昨天``, ``前天`` (full-width digits too). Without a year it is this year's day, or last
    year's when this year's lies more than half a year ahead (``12月20日`` typed in January)."""
    typed = flat(text).replace(" ", "")
    if typed in _DAY_WORDS:
        return today - timedelta(days=_DAY_WORDS[typed])
    if found := _FULL_DATE.match(typed):
        return _date(*(int(part) for part in found.groups()))
    if found := _SHORT_DATE.match(typed):
        month, number = int(found.group(1)), int(found.group(2))
        day = _date(today.year, month, number)
        if day is not None and day > today + timedelta(days=183):
            day = _date(today.year - 1, month, number)
        return day
    return None


def _date(year: int, month: int, number: int) -> date | None:
    try:
        return date(year, month, number)
    except ValueError:
        return None


def _day_text(ctx: Context, day: date) -> str:
    return ctx.t("duty_chat.day", year=day.year, month=day.month, day=day.day)


def claim_what(ctx: Context, rules: YearRules, kind: str, day: date) -> str:
    """``大会发言（2026年10月1日）``"""
    return ctx.t("duty_chat.claim.what", kind=label_of(ctx, rules, kind), day=_day_text(ctx, day))


# --- 我的补录 · 我的申诉 · 撤回 ----------------------------------------------------------------------

@router.command(*MY_CLAIMS_WORDS, reentry=True)
async def my_claims(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    return await _claims_listing(ctx)


async def _claims_listing(ctx: Context, before: str = "") -> str:
    claims = await _recent_claims(ctx)
    head = [before] if before else []
    if not claims:
        return "\n".join([*head, ctx.t("duty_chat.mine.no_claims")])
    _remember(ctx, claims=[claim.id for claim in claims])
    lines = [*head, ctx.t("duty_chat.mine.claims_title", count=len(claims))]
    for number, claim in enumerate(claims, start=1):
        rules = year_rules(ctx.services, claim.year)
        lines.append(ctx.t("duty_chat.mine.claim", number=number, date=dates.day(ctx, claim.occurred_at),
                           kind=label_of(ctx, rules, claim.kind), description=cut(claim.description),
                           status=ctx.t(f"duty.claim_status.{claim.status.value}")))
        if claim.status is ClaimStatus.REJECTED and claim.decision_note:
            lines.append(ctx.t("duty_chat.mine.claim_note", note=claim.decision_note))
    if any(claim.status is ClaimStatus.PENDING for claim in claims):
        lines.append(ctx.t("duty_chat.mine.claims_how"))
    return "\n".join(lines)


@router.regex(WITHDRAW_CLAIM)
async def withdraw_my_claim(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    assert ctx.match is not None
    number = int(ctx.match.group(1))
    claim = await _listed(ctx, "claims", number, DutyClaim, _recent_claims)
    if claim is None:
        return await _claims_listing(ctx, ctx.t("duty_chat.mine.bad_number", number=number))
    try:
        await ops.withdraw_claim(ctx.session, _member(ctx), claim)
    except Refusal as exc:
        return await _claims_listing(ctx, exc.render(ctx.services.texts))
    rules = year_rules(ctx.services, claim.year)
    await ledger.refresh(ctx.session, rules, claim.year, ctx.zone, now=ctx.now, members=[_member(ctx).id or 0])
    return ctx.t("duty_chat.mine.claim_withdrawn", kind=label_of(ctx, rules, claim.kind),
                 date=dates.day(ctx, claim.occurred_at))


@router.command(*MY_APPEALS_WORDS, reentry=True)
async def my_appeals(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    return await _appeals_listing(ctx)


async def _appeals_listing(ctx: Context, before: str = "") -> str:
    appeals = await _recent_appeals(ctx)
    head = [before] if before else []
    if not appeals:
        return "\n".join([*head, ctx.t("duty_chat.mine.no_appeals")])
    _remember(ctx, appeals=[appeal.id for appeal in appeals])
    lines = [*head, ctx.t("duty_chat.mine.appeals_title", count=len(appeals))]
    for number, item in enumerate(appeals, start=1):
        lines.append(ctx.t("duty_chat.mine.appeal", number=number, what=appeal_what(ctx, item),
                           status=ctx.t(f"duty.appeal_status.{item.status.value}")))
        if item.answer:
            lines.append(ctx.t("duty_chat.mine.appeal_answer", answer=item.answer))
    if any(item.status is AppealStatus.OPEN for item in appeals):
        lines.append(ctx.t("duty_chat.mine.appeals_how"))
    return "\n".join(lines)


@router.regex(WITHDRAW_APPEAL)
async def withdraw_my_appeal(ctx: Context) -> str:
    if (refusal := refusal_of(ctx)) is not None:
        return refusal
    assert ctx.match is not None
    number = int(ctx.match.group(1))
    item = await _listed(ctx, "appeals", number, DutyAppeal, _recent_appeals)
    if item is None:
        return await _appeals_listing(ctx, ctx.t("duty_chat.mine.bad_number", number=number))
    try:
        await ops.withdraw_appeal(ctx.session, _member(ctx), item)
    except Refusal as exc:
        return await _appeals_listing(ctx, exc.render(ctx.services.texts))
    return ctx.t("duty_chat.mine.appeal_withdrawn", what=appeal_what(ctx, item))


def appeal_what(ctx: Context, item: DutyAppeal) -> str:
    """``调研视察：城关镇农贸市场调研（+2 分）``: the entry as the member saw it when appealing."""
    what = entry_what(ctx, year_rules(ctx.services, item.year), item.kind, item.entry_title)
    return ctx.t("duty_chat.appeal_what", what=what, points=signed(item.entry_tenths))


async def _recent_claims(ctx: Context) -> list[Any]:
    return list((await ctx.session.scalars(
        select(DutyClaim).where(DutyClaim.member_id == _member(ctx).id)
        .order_by(DutyClaim.id.desc()).limit(MINE_LIMIT)  # type: ignore[union-attr]
    )).all())


async def _recent_appeals(ctx: Context) -> list[Any]:
    return list((await ctx.session.scalars(
        select(DutyAppeal).where(DutyAppeal.member_id == _member(ctx).id)
        .order_by(DutyAppeal.id.desc()).limit(MINE_LIMIT)  # type: ignore[union-attr]
    )).all())


async def _listed(ctx: Context, name: str, number: int, model: Any, recent: Any) -> Any:
    """Line ``number`` of the list ``name`` the member saw, or of that list as it is now."""
    ids = (ctx.conv.data.get(LISTS) or {}).get(name)
    if not ids:
        ids = [row.id for row in await recent(ctx)]
    if not 1 <= number <= len(ids):
        return None
    row = await ctx.session.get(model, int(ids[number - 1]))
    return row if row is not None and row.member_id == _member(ctx).id else None


# --- shared with handlers.duty_review --------------------------------------------------------------

def this_year(ctx: Context) -> tuple[int, YearRules]:
    """The committee's current (local) year and its rules."""
    year = ctx.local_now.year
    return year, year_rules(ctx.services, year)


def label_of(ctx: Context, rules: YearRules, kind: str) -> str:
    return rules.label_of(kind, {suffix: ctx.t(f"duty.suffix.{suffix}") for suffix in ("_leave", "_absent",
                                                                                      "adjustment")})


def points(tenths: int) -> str:
    """``32``, ``2.5``, ``-10``."""
    return f"{tenths / 10:g}"


def signed(tenths: int) -> str:
    """``+2``, ``-10``, ``0``."""
    return f"{tenths / 10:+g}" if tenths else "0"


def cut(text: str, limit: int = TITLE_CUT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def is_assessed(member: Member) -> bool:
    return member.role in ledger.ASSESSED_ROLES


def refusal_of(ctx: Context) -> str | None:
    """Why this person has no duty record to look at or add to, or None."""
    member = ctx.member
    if not can(member, Action.VIEW_OWN_PROFILE):
        if member is not None and member.status is MemberStatus.PENDING:
            return ctx.t("duty_chat.pending_member")
        return ctx.t("duty_chat.not_member")
    assert member is not None
    if not is_assessed(member):
        return ctx.t("duty_chat.not_assessed", role=ctx.t(f"members.role.{member.role.value}"))
    return None


async def tell_verifiers(ctx: Context, member: Member, text: str, *, key: str) -> None:
    """Tell the secretaries who may verify this member's record that something waits for them."""
    staff = (await ctx.session.scalars(
        select(Member).where(Member.status == MemberStatus.ACTIVE,
                             Member.role.in_([Role.SECRETARY, Role.ADMIN]))  # type: ignore[attr-defined]
        .order_by(Member.id)
    )).all()
    for secretary in staff:
        if secretary.id != member.id and ops.may_verify(secretary, member):
            ctx.pushed = await tell_member(ctx.session, secretary.id or 0, text, f"{key}:{secretary.id}") or ctx.pushed


# --- helpers --------------------------------------------------------------------------------------

def _remember(ctx: Context, **lists: Any) -> None:
    """Note what a list showed, beside whatever conversation is going on."""
    ctx.conv.update(**{LISTS: {**(ctx.conv.data.get(LISTS) or {}), **lists}})


@router.on_reentry  # this module's commands typed inside its conversations end them first, lists kept
def _finish_keeping_lists(ctx: Context) -> None:
    """End this module's conversation (or whichever was going on) but keep the notes of the lists shown."""
    lists = ctx.conv.data.get(LISTS)
    ctx.conv.finish()
    if lists:
        ctx.conv.update(**{LISTS: lists})


def _member(ctx: Context) -> Member:
    assert ctx.member is not None and ctx.member.id is not None
    return ctx.member
