"""``报送`` / ``report`` (menu key ``REPORT``): a member writes a social-condition report (社情民意信息);
``继续`` resumes a draft; ``我的报送`` lists this year's reports.

```mermaid
stateDiagram-v2
    [*] --> [*]: not an active member / refused
    [*] --> existing: 报送, a draft exists
    existing --> step: 继续 / the draft where it was left
    existing --> title: 新写 / the old draft is deleted
    [*] --> title: 报送
    title --> category: 1–60 characters / the draft row is created
    category --> body: a number or a name from report_categories
    body --> body: text (appended, length told) · image (photo stored) · 重写 (body cleared)
    body --> preview: 完成, 50–1500 characters
    preview --> [*]: 提交 / submitted, reviewers told
    preview --> part: 修改
    part --> title: 1 标题
    part --> category: 2 类别
    part --> body: 3 正文 (texts are appended; 重写 clears)
    part --> preview: 4 删除图片
    title --> preview: (editing)
    category --> preview: (editing)
    preview --> [*]: 放弃 / a draft is deleted (a returned report is kept)
    [*] --> step: 继续 / the latest draft or returned report, at its saved step
    [*] --> mine: 我的报送 / this year's reports, numbered
    mine --> detail: N / details and history
    detail --> [*]: 撤回 (submitted only) / back to draft
    detail --> preview: 修改 (draft or returned only)
```

The draft is a ``report`` row (status ``draft``) written at every step together with ``report.step``,
so ``继续`` finds it after ``取消``, an idle timeout or a restart. ``取消`` (handled first, by
``handlers.common``) ends the conversation but keeps the draft: nothing a member typed is lost by a
slip of the finger; ``放弃`` in the preview deletes it. A returned report is edited in place and
resubmitted with ``提交``. ``报送`` and ``继续`` typed inside these conversations mean the command, not a title
or a line of the body (``reentry=True``); ``继续`` there resumes the report of the conversation.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.chat.context import Context
from bot.chat.events import Kind
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import reports as ops
from bot.domain.authz import Action, can
from bot.domain.media import new_photo
from bot.domain.refusals import Refusal
from handlers.kit.choices import numbered, pick
from handlers.kit.dates import stamp
from handlers.kit.paging import line_of
from handlers.kit.words import DONE, EDIT, REWRITE, SUBMIT, answer
from models.report import Report, ReportEvent, ReportPhoto, ReportStatus


class ReportFlow(StatesGroup):
    existing = State()
    title = State()
    category = State()
    body = State()
    preview = State()
    part = State()


class MyReports(StatesGroup):
    choose = State()
    detail = State()


router = Router("report")
router.describe("报送", "report.help.report")
router.describe("继续", "report.help.resume")
router.describe("我的报送", "report.help.mine")

START_WORDS = ("报送", "report", "写报送", "社情民意")
RESUME_WORDS = ("继续", "resume", "continue")
MINE_WORDS = ("我的报送", "my reports")
# Answers of this flow only (the shared ones: handlers.kit.words).
DISCARD_WORDS = answer("放弃", "删除草稿", "discard")
NEW_WORDS = answer("新写", "重新开始", "new")
WITHDRAW_WORDS = answer("撤回", "withdraw")
PARTS = ("title", "category", "body", "photos")
SNIPPET = 80  # characters of the body shown in the preview: enough to recognise it on a phone


# --- starting and resuming ------------------------------------------------------------------------

@router.command(*START_WORDS, reentry=True)
@router.click("REPORT")
async def start(ctx: Context) -> str:
    if not _may_report(ctx):
        return ctx.t("report.not_member")
    drafts = [r for r in await ops.editable_reports(ctx.session, _member_id(ctx)) if r.status is ReportStatus.DRAFT]
    ctx.conv.finish()  # a fresh start forgets any other conversation's data (and this one's, typed inside it)
    if drafts:
        ctx.conv.set(ReportFlow.existing, report_id=drafts[0].id)
        return ctx.t("report.existing", title=drafts[0].title or ctx.t("report.untitled"))
    ctx.conv.set(ReportFlow.title)
    return ctx.t("report.ask_title", limit=ops.TITLE_MAX)


@router.command(*RESUME_WORDS, reentry=True)
async def resume(ctx: Context) -> str:
    if not _may_report(ctx):
        return ctx.t("report.not_member")
    # Inside the flow (a draft waiting at 报送, or a step) 继续 means the report of this conversation.
    current = await _current(ctx) if ReportFlow.contains(ctx.conv.state) else None
    if current is not None:
        return await _resume_at_step(ctx, current)
    reports = await ops.editable_reports(ctx.session, _member_id(ctx))
    if not reports:
        return ctx.t("report.nothing_to_resume")
    return await _resume_at_step(ctx, reports[0])


@router.state(ReportFlow.existing)
async def existing_choice(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None:
        return await start(ctx)
    typed = normalise(ctx.text)
    if typed in NEW_WORDS:
        await _delete_draft(ctx, report)
        ctx.conv.finish()
        ctx.conv.set(ReportFlow.title)
        return ctx.t("report.ask_title", limit=ops.TITLE_MAX)
    return _again(ctx, "report.existing_how")


async def _resume_at_step(ctx: Context, report: Report) -> str:
    ctx.conv.finish()
    step = report.step if report.step in ("title", "category", "body") else "preview"
    ctx.conv.set(getattr(ReportFlow, step), report_id=report.id)
    if step == "title":
        return ctx.t("report.ask_title", limit=ops.TITLE_MAX)
    if step == "category":
        return _ask_category(ctx)
    if step == "body":
        return ctx.t("report.resume_body", length=ops.text_length(report.body),
                     photos=len(await ops.photos_of(ctx.session, _id(report))), min=ops.BODY_MIN,
                     max=ops.BODY_MAX)
    return await _preview(ctx, report)


# --- the steps ------------------------------------------------------------------------------------

@router.state(ReportFlow.title)
async def got_title(ctx: Context) -> str:
    title = " ".join(ctx.text.split())
    if not title:
        return _again(ctx, "report.ask_title", limit=ops.TITLE_MAX)
    if len(title) > ops.TITLE_MAX:
        return _again(ctx, "report.title_too_long", limit=ops.TITLE_MAX, length=len(title))
    report = await _current(ctx)
    if report is None:
        report = Report(member_id=_member_id(ctx), group_id=_group_id(ctx), year=_year(ctx),
                        created_at=ctx.now)
        ctx.session.add(report)
    report.title = title
    if ctx.conv.data.get("editing"):
        return await _back_to_preview(ctx, report)
    _save_step(ctx, report, "category")
    await ctx.session.flush()
    ctx.conv.set(ReportFlow.category, report_id=report.id)
    return _ask_category(ctx)


@router.state(ReportFlow.category)
async def got_category(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None:
        return await _lost(ctx)
    category = choose_category(ctx.text, _categories(ctx))
    if category is None:
        return _again(ctx, "report.bad_category", text=ctx.text[:20],
                      choices=numbered(_categories(ctx)))
    report.category = category
    if ctx.conv.data.get("editing"):
        return await _back_to_preview(ctx, report)
    _save_step(ctx, report, "body")
    ctx.conv.set(ReportFlow.body)
    return ctx.t("report.ask_body", min=ops.BODY_MIN, max=ops.BODY_MAX, photos=ops.MAX_PHOTOS)


@router.state(ReportFlow.body)
async def got_body_text(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None:
        return await _lost(ctx)
    typed = normalise(ctx.text)
    if typed in DONE:
        return await _body_done(ctx, report)
    if typed in REWRITE:  # 重写: the body cleared, written again from nothing
        report.body = ""
        _save_step(ctx, report, "body")
        return ctx.t("report.body_cleared", min=ops.BODY_MIN, max=ops.BODY_MAX)
    report.body = f"{report.body}\n{ctx.text}" if report.body else ctx.text
    _save_step(ctx, report, "body")
    return _length_note(ctx, ops.text_length(report.body))


@router.state(ReportFlow.body, kinds=(Kind.IMAGE,))
async def got_body_image(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None:
        return await _lost(ctx)
    count = await _add_photo(ctx, report)
    if count is None:
        return ctx.t("report.too_many_photos", limit=ops.MAX_PHOTOS)
    _save_step(ctx, report, "body")
    return ctx.t("report.photo_received", count=count)


async def _body_done(ctx: Context, report: Report) -> str:
    length = ops.text_length(report.body)
    if length < ops.BODY_MIN:
        return ctx.t("report.body_too_short", length=length, missing=ops.BODY_MIN - length, min=ops.BODY_MIN)
    if length > ops.BODY_MAX:
        return ctx.t("report.body_too_long", length=length, over=length - ops.BODY_MAX, max=ops.BODY_MAX)
    return await _back_to_preview(ctx, report)


@router.state(ReportFlow.preview)
async def preview_answer(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None:
        return await _lost(ctx)
    typed = normalise(ctx.text)
    if typed in SUBMIT:
        return await _submit(ctx, report)
    if typed in EDIT:
        ctx.conv.set(ReportFlow.part)
        return ctx.t("report.ask_part")
    if typed in DISCARD_WORDS:
        return await _discard(ctx, report)
    return _again(ctx, "report.preview_how")


@router.state(ReportFlow.preview, kinds=(Kind.IMAGE,))
async def preview_image(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None:
        return await _lost(ctx)
    if await _add_photo(ctx, report) is None:
        return ctx.t("report.too_many_photos", limit=ops.MAX_PHOTOS)
    return await _preview(ctx, report)


@router.state(ReportFlow.part)
async def chose_part(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None:
        return await _lost(ctx)
    typed = normalise(ctx.text).rstrip(".、")
    names = {"1": "title", "标题": "title", "2": "category", "类别": "category", "3": "body", "正文": "body",
             "4": "photos", "图片": "photos", "删除图片": "photos"}
    part = names.get(typed)
    if part is None:
        return _again(ctx, "report.ask_part")
    if part == "photos":
        await ctx.session.execute(delete(ReportPhoto).where(ReportPhoto.report_id == _id(report)))
        return await _back_to_preview(ctx, report, ctx.t("report.photos_deleted"))
    ctx.conv.set(getattr(ReportFlow, part), editing=part != "body")
    if part == "title":
        return ctx.t("report.edit_title", title=report.title, limit=ops.TITLE_MAX)
    if part == "category":
        return _ask_category(ctx)
    _save_step(ctx, report, "body")
    return ctx.t("report.edit_body", length=ops.text_length(report.body), min=ops.BODY_MIN, max=ops.BODY_MAX)


@router.state(ReportFlow, kinds=(Kind.IMAGE,))
async def image_elsewhere(ctx: Context) -> str:
    return ctx.t("report.photo_later")


@router.on_cancel(ReportFlow)
async def cancelled_with_draft_kept(ctx: Context) -> str | None:
    """取消 leaves the report but keeps the draft: nothing typed is lost by a slip of the finger."""
    report = await _current(ctx)
    return ctx.t("report.cancelled_draft_kept", title=report.title) if report is not None else None


# --- submitting -----------------------------------------------------------------------------------

async def _submit(ctx: Context, report: Report) -> str:
    problems = ops.problems_of(report, _categories(ctx))
    if problems:
        return ctx.t(problems[0], min=ops.BODY_MIN, max=ops.BODY_MAX) + "\n" + ctx.t("report.preview_how")
    try:
        outcome = await ops.transition(ctx.session, _id(report), "submit", by=ctx.member, now=ctx.now,
                                       texts=ctx.services.texts, categories=_categories(ctx), zone=ctx.zone)
    except Refusal as exc:
        ctx.conv.finish()
        return exc.render(ctx.services.texts)
    ctx.pushed = ctx.pushed or outcome.notified
    ctx.conv.finish()
    return ctx.t("report.submitted", title=report.title)


async def _discard(ctx: Context, report: Report) -> str:
    ctx.conv.finish()
    if report.status is not ReportStatus.DRAFT:
        return ctx.t("report.kept_returned", title=report.title)  # a returned report stays on record
    await _delete_draft(ctx, report)
    return ctx.t("report.discarded")


async def _delete_draft(ctx: Context, report: Report) -> None:
    """Only a never-submitted draft leaves no trace; one withdrawn after submission keeps its history."""
    has_history = await ctx.session.scalar(
        select(ReportEvent.id).where(ReportEvent.report_id == _id(report)).limit(1)
    )
    if has_history is not None:
        report.step = "preview"
        return
    await ctx.session.execute(delete(ReportPhoto).where(ReportPhoto.report_id == _id(report)))
    await ctx.session.delete(report)


# --- 我的报送 -------------------------------------------------------------------------------------

@router.command(*MINE_WORDS)
@router.click("MY_REPORTS")
async def my_reports(ctx: Context) -> str:
    if not _may_report(ctx):
        return ctx.t("report.not_member")
    year = _year(ctx)
    rows = await ops.reports_of(ctx.session, _member_id(ctx), year)
    if not rows:
        ctx.conv.finish()
        return ctx.t("report.mine.empty", year=year)
    ctx.conv.finish()
    ctx.conv.set(MyReports.choose, ids=[row.id for row in rows])
    lines = [ctx.t("report.mine.title", year=year, count=len(rows))]
    lines += [ctx.t("report.mine.item", number=n, title=r.title or ctx.t("report.untitled"),
                    status=_status_text(ctx, r)) for n, r in enumerate(rows, start=1)]
    lines.append(ctx.t("report.mine.how"))
    return "\n".join(lines)


@router.state(MyReports.choose)
async def chose_mine(ctx: Context) -> str:
    typed = normalise(ctx.text).rstrip(".、")
    line = line_of(ctx, int(typed) if typed.isdigit() else 0)
    if line.id is None:
        return _again(ctx, "report.mine.bad_number", count=line.count)
    report = await ctx.session.get(Report, line.id)
    if report is None or report.member_id != _member_id(ctx):
        ctx.conv.finish()
        return ctx.t("report.errors.not_found")
    ctx.conv.set(MyReports.detail, report_id=report.id)
    return await render_detail(ctx, report, for_member=True)


@router.state(MyReports.detail)
async def detail_answer(ctx: Context) -> str:
    report = await _current(ctx)
    if report is None or report.member_id != _member_id(ctx):
        return await _lost(ctx)
    typed = normalise(ctx.text)
    if typed in WITHDRAW_WORDS:
        ctx.conv.finish()
        try:
            await ops.transition(ctx.session, _id(report), "withdraw", by=ctx.member, now=ctx.now,
                                 texts=ctx.services.texts)
        except Refusal as exc:
            return exc.render(ctx.services.texts)
        return ctx.t("report.withdrawn", title=report.title)
    if typed in EDIT:
        if report.status not in ops.EDITABLE_STATUSES:
            ctx.conv.finish()
            return ctx.t("report.not_editable", status=_status_text(ctx, report))
        ctx.conv.finish()
        ctx.conv.set(ReportFlow.preview, report_id=report.id)
        return await _preview(ctx, report)
    return await my_reports(ctx) if typed.isdigit() else _again(ctx, "report.mine.detail_how")


async def render_detail(ctx: Context, report: Report, *, for_member: bool) -> str:
    """A report with its history and instructions (the member's view, or a reviewer's with the body)."""
    photos = await ops.photos_of(ctx.session, _id(report))
    lines = [ctx.t("report.detail.head", title=report.title, category=report.category or "-",
                   status=_status_text(ctx, report), length=ops.text_length(report.body), photos=len(photos))]
    if report.review_comment and report.status in (ReportStatus.RETURNED, ReportStatus.NOT_ADOPTED):
        lines.append(ctx.t("report.detail.comment", comment=report.review_comment))
    for event in await ops.history(ctx.session, _id(report)):
        lines.append(ctx.t("report.detail.event", date=stamp(ctx, event.at),
                           action=ctx.t(f"report.action.{event.action}"),
                           comment=f"：{event.comment}" if event.comment else ""))
    for instruction in await ops.instructions(ctx.session, _id(report)):
        lines.append(ctx.t("report.detail.instruction", date=stamp(ctx, instruction.given_at),
                           leader=instruction.leader, text=instruction.text))
    if for_member:
        if report.status is ReportStatus.SUBMITTED:
            lines.append(ctx.t("report.mine.can_withdraw"))
        elif report.status in ops.EDITABLE_STATUSES:
            lines.append(ctx.t("report.mine.can_edit"))
        else:
            lines.append(ctx.t("report.mine.back"))
    return "\n".join(lines)


# --- helpers --------------------------------------------------------------------------------------

async def _preview(ctx: Context, report: Report) -> str:
    photos = await ops.photos_of(ctx.session, _id(report))
    body = report.body.replace("\n", " ")
    lines = [ctx.t("report.preview", title=report.title, category=report.category,
                   length=ops.text_length(report.body), photos=len(photos),
                   snippet=body[:SNIPPET] + ("…" if len(body) > SNIPPET else ""))]
    if report.status is ReportStatus.RETURNED and report.review_comment:
        lines.append(ctx.t("report.detail.comment", comment=report.review_comment))
    similar = await ops.find_similar(ctx.session, report)
    if similar is not None:
        lines.append(ctx.t("report.similar", title=similar.report.title, percent=round(similar.score * 100)))
    lines.append(ctx.t("report.preview_how"))
    return "\n".join(lines)


async def _back_to_preview(ctx: Context, report: Report, before: str = "") -> str:
    _save_step(ctx, report, "preview")
    ctx.conv.set(ReportFlow.preview, editing=False)
    await ctx.session.flush()
    text = await _preview(ctx, report)
    return f"{before}\n{text}" if before else text


async def _add_photo(ctx: Context, report: Report) -> int | None:
    """Store the image's reference (fetched later by the media job); None when the report is full."""
    count = len(await ops.photos_of(ctx.session, _id(report)))
    if count >= ops.MAX_PHOTOS:
        return None
    ctx.session.add(new_photo(_id(report), ctx.event.platform, ctx.event.media_id, ctx.event.pic_url, ctx.now))
    report.updated_at = ctx.now
    return count + 1


def _length_note(ctx: Context, length: int) -> str:
    if length > ops.BODY_MAX:
        return ctx.t("report.body_over", length=length, over=length - ops.BODY_MAX, max=ops.BODY_MAX)
    if length < ops.BODY_MIN:
        return ctx.t("report.body_short", length=length, missing=ops.BODY_MIN - length, left=ops.BODY_MAX - length)
    return ctx.t("report.body_ok", length=length, left=ops.BODY_MAX - length)


def _again(ctx: Context, key: str, **values: object) -> str:
    """A wrong answer; after too many the conversation ends, and the member learns the draft is kept."""
    return ctx.re_ask(key, closing_note=ctx.t("report.draft_kept"), **values)


async def _lost(ctx: Context) -> str:
    """The report of this conversation is gone (deleted, or no longer the member's): start over."""
    ctx.conv.finish()
    return ctx.t("report.errors.not_found")


async def _current(ctx: Context) -> Report | None:
    report_id = ctx.conv.data.get("report_id")
    if report_id is None:
        return None
    report = await ctx.session.get(Report, int(report_id))
    if report is None or ctx.member is None or report.member_id != ctx.member.id:
        return None
    if ctx.conv.state != str(MyReports.detail) and report.status not in ops.EDITABLE_STATUSES:
        return None  # submitted meanwhile (another device): no more editing here
    return report


def _save_step(ctx: Context, report: Report, step: str) -> None:
    report.step, report.updated_at = step, ctx.now


def choose_category(text: str, categories: list[str]) -> str | None:
    index = pick(text, categories)
    return categories[index] if index is not None else None


def _ask_category(ctx: Context) -> str:
    return ctx.t("report.ask_category", choices=numbered(_categories(ctx)))


def _categories(ctx: Context) -> list[str]:
    return list(ctx.services.settings.report_categories)


def _status_text(ctx: Context, report: Report) -> str:
    status = ctx.t(f"report.status.{report.status.value}")
    if report.status is ReportStatus.ADOPTED and report.adoption_level is not None:
        return f"{status}（{ctx.t(f'report.level.{report.adoption_level.value}')}）"
    return status


def _may_report(ctx: Context) -> bool:
    return can(ctx.member, Action.SUBMIT_REPORT)


def _member_id(ctx: Context) -> int:
    assert ctx.member is not None and ctx.member.id is not None
    return ctx.member.id


def _group_id(ctx: Context) -> int | None:
    return ctx.member.group_id if ctx.member is not None else None


def _id(report: Report) -> int:
    assert report.id is not None
    return report.id


def _year(ctx: Context) -> int:
    return ops.local_year(ctx.now, ctx.zone)

