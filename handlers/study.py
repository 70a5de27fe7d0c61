"""``学习`` / ``study``: the newest study materials meant for the member, with what they have read; a number
opens one. ``已学`` / ``studied``: the newest material pushed to the member counts as read.

```mermaid
stateDiagram-v2
    [*] --> [*]: not an active member / "注册 first" (or "wait for the review")
    [*] --> [*]: nothing pushed yet / "new materials will be sent to you"
    [*] --> listed: 学习 / numbered list, each ✓ 已学 or 未读
    [*] --> listed: 学习 N / material N of the list as it is now (below)
    listed --> listed: N or 学习 N / a text material in chat (read, via chat); a link: the member's own link
    listed --> listed: a number not in the list / asked again
    [*] --> [*]: 已学 / the newest unread pushed material read (via reply), thanks; none / said so
```

``新建学习`` / ``添加学习材料``: a secretary adds a material and pushes it, like ``群发`` (its audience steps are
:data:`handlers.kit.audience.BROADCAST_PICKER`'s, its ``定时`` parsing :func:`handlers.broadcast.scheduled_at`;
``新建学习`` typed at any step starts again, ``reentry=True``):

```mermaid
stateDiagram-v2
    [*] --> [*]: not allowed Action.BROADCAST / refused
    [*] --> title: 新建学习 / the title (1–100 characters)
    title --> content: a link (http/https, the whole message) or the text itself (≤ 5000 characters)
    content --> summary: one line ≤ 500, or 跳过
    summary --> kind: the audience choices of 群发 (within reach)
    kind --> choose: groups / sectors / committees
    kind --> members: names
    kind --> preview: 全体
    choose --> preview
    members --> preview
    preview --> [*]: 确认 / stored and pushed now
    preview --> [*]: 定时 <time in the future> / stored, push scheduled (a task row)
    preview --> [*]: 取消 / nothing stored
```

Nothing is stored before ``确认`` / ``定时``: :func:`bot.domain.study.add_material` and
:func:`bot.domain.study.push_material` run in that message's transaction, and both check the sender's
reach again. A message that looks like a link but is not one (``www.…``, a link with words after it) is
asked again rather than stored as a text.

Reading is counted once per member and material (:func:`bot.domain.study.mark_read`), whichever way. A link
material is not counted when its link is handed out, only when the member opens it (``/r/``,
:mod:`bot.web.reading`). The list is read-only, so while it is open only a bare number (one or two digits:
a six-digit sign-in code still goes to ``签到``) is taken as an answer; any other text is routed as
usual. There are no points, streaks or reminders here: DOMAIN.md says members resent forced daily study.

A long text is cut at :data:`CHAT_TEXT_MAX` characters with the member's link to the whole text: the
dispatcher would split any length into 2048-byte messages, but a dozen messages in a row is not reading.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, leave_conversation, normalise
from bot.domain.authz import Action
from bot.domain.links import material_link
from bot.domain.notices import TITLE_MAX, URL_MAX, outbox_for
from bot.domain.refusals import Refusal
from bot.domain.study import (
    SUMMARY_MAX,
    add_material,
    audience_count,
    latest_unread_pushed,
    mark_read,
    materials_for,
    push_material,
)
from handlers.broadcast import CONFIRM_WORDS, broadcaster, scheduled_at
from handlers.kit.audience import BROADCAST_PICKER, ChosenAudience
from handlers.kit.paging import line_of
from handlers.kit.words import SKIP
from handlers.notice_reply import refusal_for
from models.activity import Audience
from models.member import Member, MemberStatus
from models.notice import NoticeReceipt, NoticeStatus, ReadVia, StudyMaterial


class StudyList(StatesGroup):
    listed = State()


class NewMaterial(StatesGroup):
    title = State()
    content = State()
    summary = State()
    kind = State()
    choose = State()
    members = State()
    preview = State()


router = Router("study")
router.describe("学习", "study_chat.help.study")
router.describe("已学", "study_chat.help.studied")
router.describe("新建学习", "study_admin.help.new", audience="secretary")
router.on_reentry(leave_conversation)  # 新建学习 typed at a step drops the draft (refused or started again)

LIST_WORDS = ("学习", "study", "学习材料", "我的学习")
STUDIED_WORDS = ("已学", "已学习", "学完了", "学过了", "studied")
CHAT_TEXT_MAX = 2000  # characters (about 6 KB: three chat messages); beyond, the page behind the link
NEW_WORDS = ("新建学习", "添加学习材料", "添加学习", "新建学习材料", "new study")
TEXT_MAX = 5000  # characters of a text material typed in chat (one message; longer texts: the admin API)
PREVIEW_CHARS = 100  # of a text material, in the preview
_LINKISH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)", re.IGNORECASE)


@router.command(*LIST_WORDS)
@router.click("STUDY")
async def show_list(ctx: Context) -> str:
    if (refusal := refusal_for(ctx, Action.VIEW_OWN_PROFILE)) is not None:
        return refusal
    ctx.conv.finish()  # a fresh list forgets any other conversation's data
    rows = await materials_for(ctx.session, _member(ctx))
    if not rows:
        return ctx.t("study_chat.list.empty")
    ctx.conv.set(StudyList.listed, ids=[material.id for material, _ in rows])
    lines = [ctx.t("study_chat.list.title", count=len(rows))]
    for number, (material, read) in enumerate(rows, start=1):
        mark = ctx.t("study_chat.list.read" if read else "study_chat.list.unread")
        lines.append(ctx.t("study_chat.list.item", number=number, title=material.title, mark=mark))
    lines.append(ctx.t("study_chat.list.how"))
    return "\n".join(lines)


@router.regex(r"^(?:学习|study)?\s*(\d{1,2})$", state=StudyList.listed)
async def open_listed(ctx: Context) -> str:
    """A number of the list the member saw (kept as ids: a material pushed meanwhile does not shift it)."""
    if (refusal := refusal_for(ctx, Action.VIEW_OWN_PROFILE)) is not None:
        ctx.conv.finish()
        return refusal
    line = line_of(ctx)
    if line.id is None:
        return ctx.re_ask("study_chat.list.bad_number", number=line.number, count=line.count)
    material = await ctx.session.get(StudyMaterial, line.id)
    if material is None:  # removed meanwhile: the list as it is now
        return await show_list(ctx)
    return await _open(ctx, material)


@router.regex(r"^(?:学习|study)\s*(\d{1,2})$")
async def open_fresh(ctx: Context) -> str:
    """``学习 N`` without a list open: N counts in the list ``学习`` would show now."""
    if (refusal := refusal_for(ctx, Action.VIEW_OWN_PROFILE)) is not None:
        return refusal
    assert ctx.match is not None
    number = int(ctx.match.group(1))
    ctx.conv.finish()
    rows = await materials_for(ctx.session, _member(ctx))
    if not rows:
        return ctx.t("study_chat.list.empty")
    ctx.conv.set(StudyList.listed, ids=[material.id for material, _ in rows])  # so a next "2" works too
    if not 1 <= number <= len(rows):
        return ctx.t("study_chat.list.bad_number", number=number, count=len(rows))
    return await _open(ctx, rows[number - 1][0])


@router.command(*STUDIED_WORDS)
async def studied(ctx: Context) -> str:
    if (refusal := refusal_for(ctx, Action.VIEW_OWN_PROFILE)) is not None:
        return refusal
    member = _member(ctx)
    material = await latest_unread_pushed(ctx.session, member.id or 0)
    if material is None:
        return ctx.t("study_chat.studied.nothing")
    await mark_read(ctx.session, material.id or 0, member.id or 0, ReadVia.REPLY, ctx.now)
    return ctx.t("study_chat.studied.thanks", title=material.title)


async def _open(ctx: Context, material: StudyMaterial) -> str:
    """A text material in chat (counted read now); a link material as the member's own tracked link."""
    member = _member(ctx)
    if material.url:
        summary = f"\n{material.summary}" if material.summary else ""
        return ctx.t("study_chat.open.link", title=material.title, summary=summary, link=await _link(ctx, material))
    await mark_read(ctx.session, material.id or 0, member.id or 0, ReadVia.CHAT, ctx.now)
    body = material.body
    if len(body) > CHAT_TEXT_MAX:
        body = _cut(body) + ctx.t("study_chat.open.cut", link=await _link(ctx, material))
    return "\n\n".join([ctx.t("study_chat.open.text", title=material.title, body=body),
                        ctx.t("study_chat.open.marked")])


def _cut(body: str) -> str:
    """The first :data:`CHAT_TEXT_MAX` characters, ending with a whole paragraph when one ends in the second
    half (a sentence cut in the middle reads like an error)."""
    head = body[:CHAT_TEXT_MAX]
    paragraph_end = head.rfind("\n")
    return (head[:paragraph_end] if paragraph_end > CHAT_TEXT_MAX // 2 else head).rstrip()


async def _link(ctx: Context, material: StudyMaterial) -> str:
    signer = await ctx.services.signer(ctx.session)  # inside this message's transaction: pass it on
    return material_link(signer, ctx.services.settings, material.id or 0, _member(ctx).id or 0, ctx.now)


def _member(ctx: Context) -> Member:
    assert ctx.member is not None and ctx.member.id is not None
    return ctx.member


# --- 新建学习: a secretary adds a material ------------------------------------------------------------------------

@router.command(*NEW_WORDS, reentry=True)
async def new_material(ctx: Context) -> str:
    if broadcaster(ctx) is None:
        return _admin_refusal(ctx)
    ctx.conv.finish()  # a fresh start forgets any other conversation's data
    ctx.conv.set(NewMaterial.title)
    return ctx.t("study_admin.new.ask_title", max=TITLE_MAX)


@router.on_cancel(NewMaterial)
async def new_cancelled(ctx: Context) -> str:
    return ctx.t("study_admin.new.cancelled")


@router.state(NewMaterial.title)
async def got_title(ctx: Context) -> str:
    if (stopped := _admin_stopped(ctx)) is not None:
        return stopped
    title = " ".join(ctx.text.split())
    if not title or len(title) > TITLE_MAX:
        return ctx.re_ask("study_admin.new.bad_title", max=TITLE_MAX, length=len(title))
    ctx.conv.set(NewMaterial.content, title=title)
    return ctx.t("study_admin.new.ask_content", max=TEXT_MAX)


@router.state(NewMaterial.content)
async def got_content(ctx: Context) -> str:
    if (stopped := _admin_stopped(ctx)) is not None:
        return stopped
    text = ctx.text  # line breaks are part of a text material
    if _LINKISH.match(text):
        if not _is_link(text):
            return ctx.re_ask("study_admin.new.bad_link", max=URL_MAX)
        ctx.conv.set(NewMaterial.summary, url=text, body="")
    elif not text or len(text) > TEXT_MAX:
        return ctx.re_ask("study_admin.new.bad_text", max=TEXT_MAX, length=len(text))
    else:
        ctx.conv.set(NewMaterial.summary, url="", body=text)
    return ctx.t("study_admin.new.ask_summary", max=SUMMARY_MAX)


@router.state(NewMaterial.summary)
async def got_summary(ctx: Context) -> str:
    if (stopped := _admin_stopped(ctx)) is not None:
        return stopped
    summary = " ".join(ctx.text.split())  # one line: a summary is shown under the title in the push
    if normalise(summary) in SKIP:
        summary = ""
    elif not summary or len(summary) > SUMMARY_MAX:
        return ctx.re_ask("study_admin.new.bad_summary", max=SUMMARY_MAX, length=len(summary))
    ctx.conv.set(NewMaterial.kind, summary=summary)
    return BROADCAST_PICKER.ask_kind(ctx, "study_admin.new.ask_kind")


@router.state(NewMaterial.kind)
async def got_kind(ctx: Context) -> str:
    if (stopped := _admin_stopped(ctx)) is not None:
        return stopped
    return await _audience_chosen(ctx, await BROADCAST_PICKER.answer_kind(ctx, choose=NewMaterial.choose,
                                                                          members=NewMaterial.members))


@router.state(NewMaterial.choose)
async def got_choice(ctx: Context) -> str:
    if (stopped := _admin_stopped(ctx)) is not None:
        return stopped
    return await _audience_chosen(ctx, await BROADCAST_PICKER.answer_choice(ctx))


@router.state(NewMaterial.members)
async def got_members(ctx: Context) -> str:
    if (stopped := _admin_stopped(ctx)) is not None:
        return stopped
    return await _audience_chosen(ctx, await BROADCAST_PICKER.answer_members(ctx))


@router.state(NewMaterial.preview)
async def got_decision(ctx: Context) -> str:
    if (stopped := _admin_stopped(ctx)) is not None:
        return stopped
    if normalise(ctx.text) in CONFIRM_WORDS:
        return await _add(ctx, None)
    if (send_at := scheduled_at(ctx)) is not None:
        return send_at if isinstance(send_at, str) else await _add(ctx, send_at)
    return ctx.re_ask("study_admin.new.preview_how")


async def _audience_chosen(ctx: Context, answer: str | ChosenAudience) -> str:
    if isinstance(answer, str):
        return answer
    ctx.conv.set(NewMaterial.preview, audience=answer.audience.value, ids=answer.ids, label=answer.label)
    data = ctx.conv.data
    if data["url"]:
        content = ctx.t("study_admin.new.preview_link", url=data["url"])
    else:
        body: str = data["body"]
        head = body[:PREVIEW_CHARS] + ("……" if len(body) > PREVIEW_CHARS else "")
        content = ctx.t("study_admin.new.preview_text", length=len(body), head=head)
    count = await audience_count(ctx.session, answer.audience, answer.ids)
    return ctx.t("study_admin.new.preview", title=data["title"], content=content, audience=answer.label,
                 count=count, summary=data["summary"] or ctx.t("study_admin.new.no_summary"))


async def _add(ctx: Context, send_at: datetime | None) -> str:
    member = broadcaster(ctx)
    assert member is not None
    data = ctx.conv.data
    ctx.conv.finish()
    audience, ids = Audience(data["audience"]), [int(i) for i in data.get("ids", [])]
    outbox = await outbox_for(ctx.services, ctx.session)
    try:
        material = await add_material(ctx.session, title=data["title"], summary=data["summary"], url=data["url"],
                                      body=data["body"], audience=audience, audience_ids=ids, by=member,
                                      now=ctx.now)
        notice = await push_material(ctx.session, material, outbox, send_at=send_at, by=member)
    except Refusal as refused:
        return refused.render(ctx.services.texts)
    if notice.status is NoticeStatus.SCHEDULED:
        ctx.scheduled = True  # the push task was written: the scheduler arms it after the commit
        return ctx.t("study_admin.new.scheduled", title=material.title, when=outbox.when(notice.send_at),
                     audience=data["label"], count=await audience_count(ctx.session, audience, ids))
    ctx.pushed = True  # the pushes were queued: wake the delivery worker after the commit
    bound = int(await ctx.session.scalar(select(func.count()).select_from(NoticeReceipt).where(
        NoticeReceipt.notice_id == notice.id, NoticeReceipt.identities > 0)) or 0)
    unbound = notice.recipients - bound
    return ctx.t("study_admin.new.sent", title=material.title, count=notice.recipients, queued=bound,
                 unbound=ctx.t("study_admin.new.sent_unbound", count=unbound) if unbound else "")


def _admin_stopped(ctx: Context) -> str | None:
    """A member who lost the right to push during the flow is stopped (and the draft dropped)."""
    if broadcaster(ctx) is None:
        ctx.conv.finish()
        return _admin_refusal(ctx)
    return None


def _admin_refusal(ctx: Context) -> str:
    member = ctx.member
    return ctx.t("study_admin.not_member" if member is None or member.status is not MemberStatus.ACTIVE
                 else "study_admin.forbidden")


def _is_link(text: str) -> bool:
    """The whole message is one http(s) link with a host."""
    if len(text) > URL_MAX or any(char.isspace() for char in text):
        return False
    return text.startswith(("http://", "https://")) and bool(urlsplit(text).netloc)
