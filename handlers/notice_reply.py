"""``参加`` / ``出席`` / ``attend``: a member answers the latest meeting notice they received.

```mermaid
stateDiagram-v2
    [*] --> [*]: not an active member / "注册 first" (or "wait for the review")
    [*] --> [*]: no notice still answerable / "nothing to answer", 活动 lists what is coming
    [*] --> [*]: already signed in, or on leave for it / said so (withdraw the leave first)
    [*] --> [*]: 参加 / ATTEND recorded: title, local time, venue, how to sign in on the day
```

No conversation is kept: the answer is one message, and a second ``参加`` records nothing new and says so
(:func:`bot.domain.notices.respond` is idempotent). "The latest answerable notice" is
:func:`bot.domain.notices.latest_meeting_for`: the newest meeting notice the member received whose activity is
still scheduled and whose sign-in has not closed.

``请假`` after a notice is :mod:`handlers.leave`'s: it asks :func:`unanswered_notice` whether a recent
notice is waiting and, if so, goes straight to that activity. A request filed in chat answers the notice
请假 (``record_leave_answer``, at the bottom); :mod:`bot.domain.activities` takes that answer back when the request
is withdrawn or denied.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.context import Context
from bot.chat.router import Router
from bot.domain import activities as ops
from bot.domain.authz import Action, can
from bot.domain.notices import latest_meeting_for, respond
from handlers.kit.dates import hhmm, weekday_when
from models.activity import Activity, LeaveStatus
from models.member import Member, MemberStatus
from models.notice import ActivityResponse, Notice, NoticeKind, NoticeReceipt, Response

router = Router("notice_reply")
router.describe("参加", "study_chat.help.attend")

ATTEND_WORDS = ("参加", "出席", "attend", "我参加", "确认参加", "参加会议")
# A notice older than this is no longer "the one being answered": a 请假 then means the usual list.
NOTICE_FRESH = timedelta(hours=72)


@router.command(*ATTEND_WORDS)
async def attend(ctx: Context) -> str:
    if (refusal := refusal_for(ctx, Action.REQUEST_LEAVE)) is not None:
        return refusal
    member = ctx.member
    assert member is not None and member.id is not None
    activity = await latest_meeting_for(ctx.session, member.id, ctx.now)
    if activity is None:
        return ctx.t("study_chat.attend.nothing")
    signed = await ops.attendance_of(ctx.session, activity.id or 0, member.id)
    if signed is not None and signed.status in ops.ATTENDED:
        return ctx.t("study_chat.attend.signed_in", title=activity.title)
    leave = await ops.open_leave_of(ctx.session, activity.id or 0, member.id)
    if leave is not None:  # attending while on leave would leave the secretaries two answers: ask to choose
        key = "on_leave_approved" if leave.status is LeaveStatus.APPROVED else "on_leave_pending"
        return ctx.t(f"study_chat.attend.{key}", title=activity.title)
    changed = await respond(ctx.session, member.id, activity, Response.ATTEND, ctx.now)
    return "\n".join([ctx.t("study_chat.attend.confirmed" if changed else "study_chat.attend.again"),
                      *confirmation(ctx, activity)])


def confirmation(ctx: Context, activity: Activity) -> list[str]:
    """What the member needs on the day: the activity, where and when, and how sign-in works."""
    same_day = ctx.local(activity.signin_opens_at).date() == ctx.local(activity.starts_at).date()
    opens_text = (ctx.t("study_chat.attend.same_day", time=hhmm(ctx, activity.signin_opens_at)) if same_day
                  else when(ctx, activity.signin_opens_at))
    lines = [
        ctx.t("study_chat.attend.detail", type=ctx.t(f"activity.type.{activity.type.value}"), title=activity.title,
              when=when(ctx, activity.starts_at), venue=activity.venue or "-"),
        ctx.t("study_chat.attend.signin", opens=opens_text),
    ]
    if activity.require_location:
        lines.append(ctx.t("study_chat.attend.signin_location"))
    lines.append(ctx.t("study_chat.attend.change"))
    return lines


def when(ctx: Context, moment: datetime) -> str:
    """``11月25日（周三）09:00``: the same words as the notice the member is answering."""
    return weekday_when(ctx, moment, year=False)


def refusal_for(ctx: Context, action: Action) -> str | None:
    """Why this person cannot use the member side (not registered, or still waiting), or None."""
    if can(ctx.member, action):
        return None
    if ctx.member is not None and ctx.member.status is MemberStatus.PENDING:
        return ctx.t("study_chat.pending_member")
    return ctx.t("study_chat.not_member")


# --- the notice's answer, for handlers.leave ----------------------------------------------------------------


async def unanswered_notice(session: AsyncSession, member: Member, now: datetime) -> Activity | None:
    """The activity of the member's latest meeting notice if it arrived within :data:`NOTICE_FRESH` and
    the member has not answered it (参加 or 请假); whether leave can still be asked is the caller's rule."""
    activity = await latest_meeting_for(session, member.id or 0, now)
    if activity is None:
        return None
    received = await session.scalar(
        select(NoticeReceipt.created_at).join(Notice, Notice.id == NoticeReceipt.notice_id)
        .where(Notice.activity_id == activity.id, Notice.kind == NoticeKind.MEETING,
               NoticeReceipt.member_id == member.id)
        .order_by(NoticeReceipt.created_at.desc()).limit(1)  # type: ignore[attr-defined]
    )
    if received is None or now - received > NOTICE_FRESH:
        return None
    answered = await session.scalar(select(ActivityResponse.id).where(
        ActivityResponse.activity_id == activity.id, ActivityResponse.member_id == member.id))
    return activity if answered is None else None


async def record_leave_answer(session: AsyncSession, member_id: int, activity: Activity, now: datetime) -> None:
    """A leave request filed in chat answers the activity's meeting notice, if the member received one."""
    received = await session.scalar(
        select(NoticeReceipt.id).join(Notice, Notice.id == NoticeReceipt.notice_id)
        .where(Notice.activity_id == activity.id, Notice.kind == NoticeKind.MEETING,
               NoticeReceipt.member_id == member_id).limit(1)
    )
    if received is not None:
        await respond(session, member_id, activity, Response.LEAVE, now)
