"""``群发`` / ``broadcast``: a secretary pushes a notice to an audience, now or at a chosen time;
``群发记录`` / ``通知记录``: the recent notices with what came of them (``详情 N``, ``补发 N``, ``撤销 N``).

```mermaid
stateDiagram-v2
    [*] --> [*]: 群发, not a secretary / refused
    [*] --> kind: 群发 / 1 全体委员 (unlimited reach only) · 2 联络组 · 3 界别 · 4 专委会 (unlimited) · 5 指定委员
    kind --> choose: 2–4 / numbered groups (within reach), sectors or committees
    kind --> members: 5 / names
    kind --> title: 1
    choose --> title: numbers or names ("1 3")
    members --> title: names that each match one active member within reach (else listed back)
    title --> body: 1–100 characters
    body --> preview: 1–1500 characters; the first link is tracked (each member gets a personal link)
    preview --> [*]: 确认 / sent: how many queued, how many not bound
    preview --> [*]: 定时 <time in the future> / scheduled (a task at that moment)
    preview --> body: 修改
    preview --> [*]: 取消 / nothing sent
    [*] --> listed: 群发记录 / the newest notices within reach, numbered, with counts
    listed --> listed: 详情 N / report · 补发 N / resend to the failed · 撤销 N / cancel a scheduled one
```

**Who may.** :data:`Action.BROADCAST`: secretaries within their scope (a limited secretary reaches only
their groups or members of them, so 全体 / 界别 / 专委会 are not offered), admins everywhere. The audience
steps are :data:`handlers.kit.audience.BROADCAST_PICKER`'s (shared with 新建学习);
:func:`bot.domain.notices.create_notice` checks the reach again when the notice is stored, so a scope changed
mid-conversation is still refused. ``群发`` and ``群发记录`` typed at any step mean the command
(``reentry=True``: the draft, not confirmed, is dropped).

**The link.** A notice carries one tracked link (``Notice.url``): every member receives a personal, signed
link that records the read. So the first ``http(s)://`` link of the content moves there; when it stood
in the middle of a sentence a short "link below" marker takes its place. The preview shows the result.

**Lists.** The notices listed by ``群发记录`` are stored as ids in the conversation, so ``撤销 2`` cancels the
line the secretary saw even if a newer notice arrived meanwhile (cancelling the wrong one would be silent).
``详情``/``补发``/``撤销`` answer only in that state: outside it they are nobody's command words.

**Scheduling.** Sending now queues the pushes in this message's transaction; scheduling writes a task row.
The handler sets ``ctx.pushed`` / ``ctx.scheduled`` so the dispatcher wakes the delivery worker or
re-arms the scheduler after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import notices as core
from bot.domain.audience import check_audience_reach, members_clause
from bot.domain.authz import Action, groups_within_reach
from bot.domain.notices import Outbox, outbox_for
from bot.domain.refusals import Refusal
from bot.domain.study import audience_count
from handlers.kit.audience import BROADCAST_PICKER, OPTION_TABLES, SHOWN_NAMES, ChosenAudience, cut_names, kind_name
from handlers.kit.dates import day_time
from handlers.kit.paging import line_of
from handlers.kit.timeparse import parse_when
from handlers.kit.words import CONFIRM, EDIT, REWRITE, answer
from models.activity import Audience
from models.delivery import Delivery
from models.member import LiaisonGroup, Member, MemberStatus
from models.notice import Notice, NoticeKind, NoticeReceipt, NoticeStatus


class NewBroadcast(StatesGroup):
    kind = State()
    choose = State()
    members = State()
    title = State()
    body = State()
    preview = State()


class Records(StatesGroup):
    listed = State()


router = Router("broadcast")
router.describe("群发", "broadcast_chat.help.new", audience="secretary")
router.describe("群发记录", "broadcast_chat.help.records", audience="secretary")
router.describe("回执", "broadcast_chat.help.receipts", audience="secretary")

START_WORDS = ("群发", "broadcast", "群发通知", "发通知")
RECORD_WORDS = ("群发记录", "通知记录", "broadcasts", "notices")
CONFIRM_WORDS = CONFIRM | answer("发送", "立即发送", "send")  # confirming a notice sends it
EDIT_WORDS = EDIT | REWRITE  # back to the text, which the next message replaces: both mean that here
_SCHEDULE = re.compile(r"^(?:定时发送|定时|schedule)\s*(.*)$")
_DETAIL = re.compile(r"^(?:详情|detail|details)\s*(\d+)$")
_RESEND = re.compile(r"^(?:补发|resend)\s*(\d+)$")
_CANCEL = re.compile(r"^(?:撤销|revoke)\s*(\d+)$")
_NUMBER = re.compile(r"^(\d+)$")

_URL = re.compile(r"https?://[^\s，。；！？、（）()【】《》<>\"“”'‘’]+", re.IGNORECASE)
LIST_MAX = 10
CANDIDATES = 200  # notices looked at for a limited secretary's list (most are filtered out)


# --- 群发: the steps ------------------------------------------------------------------------------------------

@router.command(*START_WORDS, reentry=True)
async def start(ctx: Context) -> str:
    if broadcaster(ctx) is None:
        return refusal(ctx)
    ctx.conv.finish()  # a fresh start forgets any other conversation's data
    ctx.conv.set(NewBroadcast.kind)
    return BROADCAST_PICKER.ask_kind(ctx, "broadcast_chat.new.ask_kind")


@router.on_cancel(NewBroadcast)
async def cancelled(ctx: Context) -> str:
    return ctx.t("broadcast_chat.new.cancelled")


@router.state(NewBroadcast.kind)
async def got_kind(ctx: Context) -> str:
    if (stopped := _stopped(ctx)) is not None:
        return stopped
    return await _audience_chosen(ctx, await BROADCAST_PICKER.answer_kind(ctx, choose=NewBroadcast.choose,
                                                                          members=NewBroadcast.members))


@router.state(NewBroadcast.choose)
async def got_choice(ctx: Context) -> str:
    if (stopped := _stopped(ctx)) is not None:
        return stopped
    return await _audience_chosen(ctx, await BROADCAST_PICKER.answer_choice(ctx))


@router.state(NewBroadcast.members)
async def got_members(ctx: Context) -> str:
    if (stopped := _stopped(ctx)) is not None:
        return stopped
    return await _audience_chosen(ctx, await BROADCAST_PICKER.answer_members(ctx))


async def _audience_chosen(ctx: Context, answer: str | ChosenAudience) -> str:
    if isinstance(answer, str):
        return answer
    ctx.conv.set(NewBroadcast.title, audience=answer.audience.value, ids=answer.ids, label=answer.label)
    return await _ask_title(ctx)


@router.state(NewBroadcast.title)
async def got_title(ctx: Context) -> str:
    if (stopped := _stopped(ctx)) is not None:
        return stopped
    title = " ".join(ctx.text.split())
    if not title or len(title) > core.TITLE_MAX:
        return ctx.re_ask("broadcast_chat.new.bad_title", max=core.TITLE_MAX, length=len(title))
    ctx.conv.set(NewBroadcast.body, title=title)
    return ctx.t("broadcast_chat.new.ask_body", max=core.BODY_MAX)


@router.state(NewBroadcast.body)
async def got_body(ctx: Context) -> str:
    if (stopped := _stopped(ctx)) is not None:
        return stopped
    text = ctx.text  # line breaks are part of the content: not folded like a title
    if not text or len(text) > core.BODY_MAX:
        return ctx.re_ask("broadcast_chat.new.bad_body", max=core.BODY_MAX, length=len(text))
    body, url = split_link(text, ctx.t("broadcast_chat.link_below"))
    ctx.conv.set(NewBroadcast.preview, body=body, url=url)
    return await _preview(ctx)


@router.state(NewBroadcast.preview)
async def got_decision(ctx: Context) -> str:
    if (stopped := _stopped(ctx)) is not None:
        return stopped
    typed = normalise(ctx.text)
    if typed in EDIT_WORDS:
        ctx.conv.set(NewBroadcast.body)
        return ctx.t("broadcast_chat.new.ask_body", max=core.BODY_MAX)
    if typed in CONFIRM_WORDS:
        return await _create(ctx, None)
    if (send_at := scheduled_at(ctx)) is not None:
        return send_at if isinstance(send_at, str) else await _create(ctx, send_at)
    return ctx.re_ask("broadcast_chat.new.preview_how")


def scheduled_at(ctx: Context) -> datetime | str | None:
    """``定时 <time>`` typed at a preview: the moment (UTC, in the future), or the question asked again when
    the time is missing, unreadable or past; None when the text is not ``定时 …`` at all."""
    found = _SCHEDULE.match(normalise(ctx.text))
    if found is None:
        return None
    if not found.group(1):
        return ctx.re_ask("broadcast_chat.new.schedule_how")
    local_now = ctx.local_now
    parsed = parse_when(found.group(1), local_now.date())
    if parsed is None:
        return ctx.re_ask("broadcast_chat.new.bad_time", text=found.group(1)[:30])
    send_at = parsed.replace(tzinfo=ctx.zone)
    if send_at <= local_now:
        # the year too: a wrong year is the usual reason a time is in the past
        return ctx.re_ask("broadcast_chat.new.past_time", when=day_time(ctx, send_at, year=True))
    return send_at.astimezone(UTC)


# --- 群发: helpers --------------------------------------------------------------------------------------------

def _stopped(ctx: Context) -> str | None:
    """A member who lost the right to broadcast during the flow is told so at the next answer."""
    return refusal(ctx) if broadcaster(ctx) is None else None


async def _ask_title(ctx: Context) -> str:
    count = await audience_count(ctx.session, Audience(ctx.conv.data["audience"]), ctx.conv.data.get("ids", []))
    return ctx.t("broadcast_chat.new.ask_title", audience=ctx.conv.data["label"], count=count, max=core.TITLE_MAX)


async def _preview(ctx: Context) -> str:
    data = ctx.conv.data
    audience, ids = Audience(data["audience"]), [int(i) for i in data.get("ids", [])]
    recipients = await core.recipients_of(ctx.session, audience, ids)
    unbound = sum(1 for recipient in recipients if not recipient.identities)
    draft = Notice(kind=NoticeKind.BROADCAST, title=data["title"], body=data["body"], url=data["url"])
    text = core.notice_text(draft, await outbox_for(ctx.services, ctx.session), None, None)
    chats = await _group_chats(ctx, audience, ids)
    return ctx.t(
        "broadcast_chat.new.preview", text=text, audience=data["label"], count=len(recipients),
        unbound=ctx.t("broadcast_chat.new.unbound", count=unbound) if unbound else "",
        link=ctx.t("broadcast_chat.new.link_tracked") if data["url"] else "",
        chats=ctx.t("broadcast_chat.new.chats", names="、".join(chats)) if chats else "",
    )


async def _group_chats(ctx: Context, audience: Audience, ids: Sequence[int]) -> list[str]:
    """The configured WeCom group chats the notice will be posted to as well (the rule of
    :func:`bot.domain.notices.post_to_group_chats`: the committee-wide chat always, a group's chat when the
    audience includes members of that group), so the secretary knows who else reads it."""
    chats = ctx.services.settings.notices.group_chats
    if not chats:
        return []
    touched = set((await ctx.session.scalars(
        select(LiaisonGroup.name).join(Member, Member.group_id == LiaisonGroup.id)
        .where(members_clause(audience, list(ids))).distinct()
    )).all())
    return [ctx.t("broadcast_chat.new.chat_all") if chat.group == "*" else ctx.t("broadcast_chat.new.chat_of",
                                                                                   group=chat.group)
            for chat in chats if chat.group == "*" or chat.group in touched]


async def _create(ctx: Context, send_at: datetime | None) -> str:
    member = broadcaster(ctx)
    assert member is not None
    data = ctx.conv.data
    outbox = await outbox_for(ctx.services, ctx.session)
    try:
        notice = await core.create_notice(
            ctx.session, outbox, kind=NoticeKind.BROADCAST, title=data["title"], body=data["body"], url=data["url"],
            audience=Audience(data["audience"]), audience_ids=[int(i) for i in data.get("ids", [])],
            send_at=send_at, by=member,
        )
    except Refusal as refused:
        ctx.conv.finish()
        return _refused(ctx, refused)
    label = data["label"]
    ctx.conv.finish()
    if notice.status is NoticeStatus.SCHEDULED:
        ctx.scheduled = True  # the send task was written: the scheduler arms it after the commit
        count = await audience_count(ctx.session, notice.audience, notice.audience_ids)
        return ctx.t("broadcast_chat.new.scheduled", title=notice.title, when=outbox.when(notice.send_at),
                     audience=label, count=count)
    ctx.pushed = True  # the pushes were queued: wake the delivery worker after the commit
    bound = int(await ctx.session.scalar(select(func.count()).select_from(NoticeReceipt).where(
        NoticeReceipt.notice_id == notice.id, NoticeReceipt.identities > 0)) or 0)
    return ctx.t("broadcast_chat.new.sent", title=notice.title, count=notice.recipients, queued=bound,
                 unbound=ctx.t("broadcast_chat.new.sent_unbound", count=notice.recipients - bound)
                 if notice.recipients > bound else "")


def split_link(text: str, marker: str) -> tuple[str, str]:
    """The content without its first link, and that link (tracked per member). A link on a line of its
    own or at the very end simply moves; one inside a sentence leaves ``marker`` ("see the link below")."""
    found = _URL.search(text)
    if found is None or len(found.group(0)) > core.URL_MAX:
        return text, ""
    url = found.group(0)
    before, after = text[:found.start()], text[found.end():]
    line_before = before.rsplit("\n", 1)[-1].strip()
    line_after = after.split("\n", 1)[0].strip()
    if (not line_before and not line_after) or not after.strip():
        body = (before.rstrip() + after).strip()  # "填报说明：" keeps its colon: the link follows at the end
    else:
        body = f"{before}{marker}{after}".strip()
    return body, url


def _refused(ctx: Context, refused: Refusal) -> str:
    """The core's refusals speak of activities; say them in a broadcast's words where they differ."""
    key = {"activity.error.audience_out_of_reach": "broadcast_chat.error.out_of_reach",
           "activity.error.forbidden": "broadcast_chat.forbidden",
           "activity.error.unknown_members": "broadcast_chat.error.unknown_members"}.get(refused.key)
    return ctx.t(key) if key else refused.render(ctx.services.texts)


# --- 群发记录: the list and what can be done with it -----------------------------------------------------------

@router.command(*RECORD_WORDS, reentry=True)
async def show_records(ctx: Context) -> str:
    member = broadcaster(ctx)
    if member is None:
        return refusal(ctx)
    ctx.conv.finish()
    notices = await visible_notices(ctx, member)
    if not notices:
        return ctx.t("broadcast_chat.records.empty")
    ctx.conv.set(Records.listed, ids=[notice.id for notice in notices])
    outbox = await outbox_for(ctx.services, ctx.session)
    lines = [ctx.t("broadcast_chat.records.title")]
    for number, notice in enumerate(notices, start=1):
        lines.append(ctx.t("broadcast_chat.records.item", number=number,
                           kind=ctx.t(f"broadcast_chat.notice_kind.{notice.kind.value}"), title=notice.title,
                           state=await _state_line(ctx, notice, outbox)))
    lines.append(ctx.t("broadcast_chat.records.how"))
    return "\n".join(lines)


@router.regex(_DETAIL.pattern, state=Records.listed)
@router.regex(_NUMBER.pattern, state=Records.listed)
async def detail(ctx: Context) -> str:
    picked = await _picked(ctx)
    if isinstance(picked, str):
        return picked
    number, notice = picked
    outbox = await outbox_for(ctx.services, ctx.session)
    head = ctx.t("broadcast_chat.detail.head", kind=ctx.t(f"broadcast_chat.notice_kind.{notice.kind.value}"),
                 title=notice.title, audience=await _audience_label(ctx, notice))
    if notice.status is not NoticeStatus.SENT:
        key = "broadcast_chat.detail.scheduled" if notice.status is NoticeStatus.SCHEDULED \
            else "broadcast_chat.detail.cancelled"
        return "\n".join([head, ctx.t(key, when=outbox.when(notice.send_at), number=number)])
    report = await core.notice_report(ctx.session, notice)
    lines = [head, ctx.t("broadcast_chat.detail.counts", when=outbox.when(notice.sent_at or notice.send_at),
                         recipients=report.recipients, reached=report.reached, failed=report.failed,
                         pending=report.pending, not_bound=report.not_bound, read=report.read)]
    if notice.resends:
        lines.append(ctx.t("broadcast_chat.detail.resent", times=notice.resends))
    if report.unreached:
        codes = await _error_codes(ctx, notice)
        lines.append(ctx.t("broadcast_chat.detail.unreached_title", count=len(report.unreached)))
        for item in report.unreached[:SHOWN_NAMES]:
            lines.append(ctx.t("broadcast_chat.detail.unreached_item", name=item.name,
                               reason=_reason(ctx, item.reason, codes.get(item.member_id))))
        if len(report.unreached) > SHOWN_NAMES:
            lines.append(ctx.t("broadcast_chat.detail.unreached_more", count=len(report.unreached) - SHOWN_NAMES))
    else:
        lines.append(ctx.t("broadcast_chat.detail.all_reached"))
    if report.failed:
        lines.append(ctx.t("broadcast_chat.detail.resend_how", number=number))
    return "\n".join(lines)


@router.regex(_RESEND.pattern, state=Records.listed)
async def resend(ctx: Context) -> str:
    picked = await _picked(ctx)
    if isinstance(picked, str):
        return picked
    _, notice = picked
    if notice.status is not NoticeStatus.SENT:
        return ctx.t("broadcast_chat.resend.not_sent", title=notice.title)
    report = await core.notice_report(ctx.session, notice)
    failed = sum(1 for item in report.unreached if item.reason.startswith("failed"))
    try:
        queued = await core.resend_unreached(ctx.session, notice, await outbox_for(ctx.services, ctx.session),
                                             by=ctx.member)
    except Refusal as refused:
        return _refused(ctx, refused)
    if not queued:
        return ctx.t("broadcast_chat.resend.nothing", title=notice.title, pending=report.pending,
                     not_bound=report.not_bound)
    ctx.pushed = True  # the resends were queued: wake the delivery worker after the commit
    return ctx.t("broadcast_chat.resend.done", title=notice.title, count=failed, not_bound=report.not_bound)


@router.regex(_CANCEL.pattern, state=Records.listed)
async def revoke(ctx: Context) -> str:
    picked = await _picked(ctx)
    if isinstance(picked, str):
        return picked
    _, notice = picked
    try:
        await core.cancel_notice(ctx.session, notice, by=ctx.member, now=ctx.now)
    except Refusal:
        return ctx.t("broadcast_chat.revoke.not_scheduled", title=notice.title)
    ctx.scheduled = True  # the send task was cancelled: the scheduler drops it after the commit
    return ctx.t("broadcast_chat.revoke.done", title=notice.title)


async def _picked(ctx: Context) -> tuple[int, Notice] | str:
    """The notice of line N of the list the secretary saw, or why not (rights lost, bad number)."""
    member = broadcaster(ctx)
    if member is None:
        ctx.conv.finish()
        return refusal(ctx)
    line = line_of(ctx)
    if line.id is None:
        return ctx.t("broadcast_chat.records.bad_number", count=line.count)
    notice = await ctx.session.get(Notice, line.id)
    if notice is None or not await _may_see(ctx, member, [notice]):
        return ctx.t("broadcast_chat.records.gone")
    return line.number, notice


async def visible_notices(ctx: Context, member: Member) -> list[Notice]:
    """The newest notices (any kind) this secretary created or whose audience lies within their reach."""
    query = select(Notice).order_by(Notice.created_at.desc(), Notice.id.desc())  # type: ignore[attr-defined]
    if groups_within_reach(member, Action.BROADCAST) is None:
        return list((await ctx.session.scalars(query.limit(LIST_MAX))).all())
    # A limited reach only ever covers group and member-list audiences (or the secretary's own notices).
    narrow: ColumnElement[bool] = or_(Notice.created_by_id == member.id,
                                      Notice.audience.in_([Audience.GROUPS, Audience.MEMBERS]))  # type: ignore[attr-defined]
    candidates = list((await ctx.session.scalars(query.where(narrow).limit(CANDIDATES))).all())
    return (await _may_see(ctx, member, candidates))[:LIST_MAX]


async def _may_see(ctx: Context, member: Member, notices: list[Notice]) -> list[Notice]:
    """Those of ``notices`` the member created or could have sent (the core's own reach rule)."""
    listed = [n.id for n in notices if n.audience is Audience.MEMBERS]
    everyone = {int(i) for n in notices if n.audience is Audience.MEMBERS for i in n.audience_ids}
    groups = dict((await ctx.session.execute(
        select(Member.id, Member.group_id).where(Member.id.in_(sorted(everyone)))  # type: ignore[union-attr]
    )).all()) if listed and everyone else {}
    visible = []
    for notice in notices:
        if notice.created_by_id == member.id:
            visible.append(notice)
            continue
        member_groups = [groups.get(int(i)) for i in notice.audience_ids] if notice.audience is Audience.MEMBERS \
            else []
        try:
            check_audience_reach(member, Action.BROADCAST, notice.audience, notice.audience_ids, member_groups)
        except Refusal:
            continue
        visible.append(notice)
    return visible


async def _state_line(ctx: Context, notice: Notice, outbox: Outbox) -> str:
    if notice.status is NoticeStatus.SCHEDULED:
        return ctx.t("broadcast_chat.records.state_scheduled", when=outbox.when(notice.send_at))
    if notice.status is NoticeStatus.CANCELLED:
        return ctx.t("broadcast_chat.records.state_cancelled", when=outbox.when(notice.send_at))
    report = await core.notice_report(ctx.session, notice)
    pending = ctx.t("broadcast_chat.records.pending", count=report.pending) if report.pending else ""
    return ctx.t("broadcast_chat.records.state_sent", when=outbox.when(notice.sent_at or notice.send_at),
                 recipients=report.recipients, reached=report.reached, failed=report.failed,
                 not_bound=report.not_bound, read=report.read, pending=pending)


async def _audience_label(ctx: Context, notice: Notice) -> str:
    if notice.audience is Audience.ALL:
        return kind_name(ctx, Audience.ALL)
    table = OPTION_TABLES.get(notice.audience, Member)
    rows = (await ctx.session.execute(select(table.id, table.name).where(  # type: ignore[attr-defined]
        table.id.in_([int(i) for i in notice.audience_ids])))).all()  # type: ignore[attr-defined]
    names = dict((int(row[0]), str(row[1])) for row in rows)
    return f"{kind_name(ctx, notice.audience)}：{cut_names(ctx, [names.get(int(i), '?') for i in notice.audience_ids])}"


def _reason(ctx: Context, reason: str, code: int | None) -> str:
    """The core's reason codes (``not_bound``, ``pending``, ``failed: <error>``) in words. A platform error
    the secretary can act on (the member unfollowed) is said in plain Chinese instead of the API's text."""
    if reason.startswith("failed"):
        known = f"broadcast_chat.reason.code_{code}"
        error = ctx.t(known) if code is not None and ctx.services.texts.has(known) \
            else reason.partition(":")[2].strip() or "-"
        return ctx.t("broadcast_chat.reason.failed", error=error)
    return ctx.t(f"broadcast_chat.reason.{reason}")


async def _error_codes(ctx: Context, notice: Notice) -> dict[int, int]:
    """Per member, the platform error code of a failed push of this notice (the report keeps only the text)."""
    rows = (await ctx.session.execute(
        select(Delivery.member_id, func.max(Delivery.error_code))
        .where(Delivery.topic == f"notice:{notice.id}", Delivery.error_code.is_not(None))  # type: ignore[union-attr]
        .group_by(Delivery.member_id)
    )).all()
    return {int(member_id): int(code) for member_id, code in rows if member_id is not None}


# --- small helpers ------------------------------------------------------------------------------------------

broadcaster = BROADCAST_PICKER.sender  # the sender when they may broadcast to at least one group


def refusal(ctx: Context) -> str:
    member = ctx.member
    return ctx.t("broadcast_chat.not_member" if member is None or member.status is not MemberStatus.ACTIVE
                 else "broadcast_chat.forbidden")

