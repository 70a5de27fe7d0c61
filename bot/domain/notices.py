"""Pushes to an audience: meeting notices, reminders and last calls, broadcasts (群发), and what came of
them (receipts, reads, answers, the unreached). Study materials ride on notices too (:mod:`bot.domain.study`).

```mermaid
flowchart LR
    C[create_notice] -->|send_at in the future| T[(task notice.send)] --> S
    C -->|due now| S[send_notice: receipts = the audience now; one delivery per chat identity; group chats]
    S --> R[member reads the link /r/token → receipt.read_at] & A[参加 / 请假 → activity_response]
    S --> Rep[notice_report: reached / failed why / not bound / read] --> Again[resend_unreached]
```

An activity's pushes (:func:`schedule_activity_pushes`): its meeting notice (at a chosen time, default
now), a reminder ``notices.reminder_before_minutes`` before the start (24 h and 1 h) to the audience
minus those on approved leave, and a last call when sign-in opens to those not signed in either. The
tasks are keyed by the activity (``activity.remind`` ``<id>:<minutes>``, ``activity.last_call`` ``<id>``),
so a change of time moves them; their delivery keys hold the start time, so a reminder for the old time
and one for the new time are both sent, but never one twice. A change or a cancellation is told to
everyone the notice already reached.

Every function works in the caller's transaction; every push is a ``delivery`` row with an idempotency
key, so running anything twice (a retry, a second process) sends nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.audience import check_audience_reach, members_clause
from bot.domain.authz import Action
from bot.domain.links import reading_link
from bot.domain.refusals import Refusal
from bot.domain.tasks import cancel_task, schedule_task
from bot.infra.config import Settings
from bot.infra.i18n import Catalogue
from bot.infra.signing import Signer
from bot.infra.sql import insert_for
from bot.outbound.message import Reply
from bot.outbound.queue import delivery_values, enqueue_many
from models.activity import Activity, ActivityStatus, Attendance, Audience, LeaveRequest, LeaveStatus
from models.base import utc_now
from models.delivery import Delivery, DeliveryStatus
from models.member import Identity, LiaisonGroup, Member
from models.notice import (
    ActivityResponse,
    Notice,
    NoticeKind,
    NoticeReceipt,
    NoticeStatus,
    Response,
    StudyMaterial,
)

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

NOTICE_TASK = "notice.send"
REMIND_TASK = "activity.remind"
LAST_CALL_TASK = "activity.last_call"
TITLE_MAX, BODY_MAX = 100, 1500
URL_MAX = 500
IN_CLAUSE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Outbox:
    """What rendering and queueing pushes needs: texts, settings, the link signer, the time."""

    texts: Catalogue
    settings: Settings
    signer: Signer
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.scheduler.zone

    def when(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        return self.texts("notice.when", month=local.month, day=local.day, time=local.strftime("%H:%M"),
                          weekday=self.texts(f"notice.weekday.{local.weekday()}"))

    def read_link(self, notice_id: int, member_id: int) -> str:
        return reading_link(self.signer, self.settings, f"n{notice_id}-{member_id}", self.now)


async def outbox_for(services: Services, session: AsyncSession | None = None) -> Outbox:
    """An :class:`Outbox` at the services' current time (``session``: an open write transaction)."""
    signer = await services.signer(session)
    return Outbox(services.texts, services.settings, signer, services.clock.now())


def parse_read_token(payload: str) -> tuple[int, int] | None:
    """``n<notice id>-<member id>`` → (notice id, member id)."""
    notice_id, _, member_id = payload.removeprefix("n").partition("-")
    if not payload.startswith("n") or not notice_id.isdigit() or not member_id.isdigit():
        return None
    return int(notice_id), int(member_id)


# --- the audience -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    member_id: int
    group_id: int | None
    name: str
    mobile: str | None
    identities: tuple[tuple[int, str, str], ...] = ()  # (identity id, platform, external id)


async def recipients_of(
    session: AsyncSession, audience: Audience, ids: Sequence[int], *, exclude: Sequence[int] = ()
) -> list[Recipient]:
    """The active members of an audience, with their chat identities (two queries, whatever the size)."""
    query = select(Member.id, Member.group_id, Member.name, Member.mobile).where(members_clause(audience, ids))
    members = (await session.execute(query.order_by(Member.id))).all()
    excluded = set(exclude)
    members = [row for row in members if row[0] not in excluded]
    by_member: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    identity_rows = (await session.execute(
        select(Identity.member_id, Identity.id, Identity.platform, Identity.external_id)
        .join(Member, Member.id == Identity.member_id).where(members_clause(audience, ids))
        .order_by(Identity.id)
    )).all()
    for member_id, identity_id, platform, external_id in identity_rows:
        by_member[member_id].append((identity_id, str(platform.value if hasattr(platform, "value") else platform),
                                     external_id))
    return [Recipient(member_id, group_id, name, mobile, tuple(by_member.get(member_id, ())))
            for member_id, group_id, name, mobile in members]


def push_rows(recipients: Sequence[Recipient], key: str, topic: str | None,
              text_for: callable) -> list[dict]:  # type: ignore[valid-type]
    """One delivery row per chat identity of every recipient; ``key`` gets ``:<member>:<identity>``."""
    rows = []
    for recipient in recipients:
        reply = Reply(text=text_for(recipient))
        for identity_id, platform, external_id in recipient.identities:
            rows.append(delivery_values(platform=platform, recipient=external_id, reply=reply,
                                        key=f"{key}:{recipient.member_id}:{identity_id}",
                                        member_id=recipient.member_id, topic=topic))
    return rows


# --- notices ------------------------------------------------------------------------------------------------


def check_notice(title: str, body: str, url: str) -> None:
    if not title.strip() or len(title.strip()) > TITLE_MAX:
        raise Refusal.invalid("notice.error.title", field="title", max=TITLE_MAX)
    if len(body) > BODY_MAX:
        raise Refusal.invalid("notice.error.body", field="body", max=BODY_MAX)
    if url and (len(url) > URL_MAX or not url.startswith(("https://", "http://"))):
        raise Refusal.invalid("notice.error.url", field="url")


async def member_groups_of(session: AsyncSession, audience: Audience, ids: Sequence[int]) -> list[int | None]:
    """For a list of members: their groups (to check a limited secretary's reach)."""
    if audience is not Audience.MEMBERS:
        return []
    rows = (await session.execute(select(Member.id, Member.group_id).where(Member.id.in_(list(ids))))).all()  # type: ignore[union-attr]
    if len(rows) != len(set(ids)):
        raise Refusal.invalid("activity.error.unknown_members", field="audience.ids")
    return [group for _, group in rows]


async def create_notice(
    session: AsyncSession, outbox: Outbox, *, kind: NoticeKind, title: str, body: str = "", url: str = "",
    audience: Audience = Audience.ALL, audience_ids: Sequence[int] = (), send_at: datetime | None = None,
    by: Member | None = None, activity_id: int | None = None, material_id: int | None = None,
    to_group_chats: bool = True,
) -> Notice:
    """Store a notice and send it now (``send_at`` None or past) or schedule it. ``by`` None is the office
    (the admin API, the scheduler); a member needs :data:`Action.BROADCAST` over the whole audience."""

    check_notice(title, body, url)
    if audience is not Audience.ALL and not audience_ids:
        raise Refusal.invalid("activity.error.audience_empty", field="audience.ids")
    if kind is not NoticeKind.MEETING:  # a meeting notice follows the activity, whose creator was checked
        check_audience_reach(by, Action.BROADCAST, audience, audience_ids,
                             await member_groups_of(session, audience, audience_ids))
    now = outbox.now
    notice = Notice(kind=kind, title=title.strip(), body=body.strip(), url=url.strip(), activity_id=activity_id,
                    material_id=material_id, audience=audience, audience_ids=sorted(set(audience_ids)),
                    to_group_chats=to_group_chats, send_at=max(send_at or now, now) if send_at else now,
                    created_by_id=by.id if by else None, created_at=now)
    session.add(notice)
    await session.flush()
    if notice.send_at > now:
        await schedule_task(session, kind=NOTICE_TASK, ref=str(notice.id), run_at=notice.send_at, now=now)
    else:
        await send_notice(session, notice, outbox)
    await _audit(session, notice, f"notice.{notice.kind.value}", by, now,
                 after={"send_at": notice.send_at, "audience": notice.audience, "audience_ids": notice.audience_ids})
    return notice


async def _audit(session: AsyncSession, notice: Notice, action: str, by: Member | None, now: datetime,
                 before: dict[str, object] | None = None, after: dict[str, object] | None = None) -> None:
    """A meeting notice follows its activity (whose creation, change or cancellation is the event): not logged.
    A notice to one liaison group belongs to it; any other audience to no group (only the unlimited see it)."""
    if notice.kind is NoticeKind.MEETING:
        return
    one_group = notice.audience is Audience.GROUPS and len(notice.audience_ids) == 1
    await audit.record(session, action=action, object_type="notice", object_id=notice.id,
                       group_id=notice.audience_ids[0] if one_group else None, by=by, before=before, after=after,
                       summary=notice.title, at=now)


async def cancel_notice(session: AsyncSession, notice: Notice, *, by: Member | None = None,
                        now: datetime | None = None) -> None:

    if notice.status is not NoticeStatus.SCHEDULED:
        raise Refusal.conflict("notice.error.not_scheduled", code="not_scheduled")
    notice.status = NoticeStatus.CANCELLED
    await cancel_task(session, kind=NOTICE_TASK, ref=str(notice.id))
    await _audit(session, notice, "notice.cancel", by, now or utc_now(), before={"status": NoticeStatus.SCHEDULED},
                 after={"status": notice.status})


async def send_notice(session: AsyncSession, notice: Notice, outbox: Outbox) -> int:
    """Write a receipt per audience member and queue the pushes. Idempotent: 0 when already sent."""
    if notice.status is not NoticeStatus.SCHEDULED:
        return 0
    activity = await session.get(Activity, notice.activity_id) if notice.activity_id else None
    recipients = await recipients_of(session, notice.audience, notice.audience_ids)
    receipts = [{"notice_id": notice.id, "member_id": r.member_id, "group_id": r.group_id,
                 "identities": len(r.identities), "created_at": outbox.now} for r in recipients]
    for start in range(0, len(receipts), IN_CLAUSE_CHUNK):
        statement = insert_for(session, NoticeReceipt).values(receipts[start:start + IN_CLAUSE_CHUNK])
        await session.execute(statement.on_conflict_do_nothing(index_elements=["notice_id", "member_id"]))
    rows = push_rows(recipients, f"notice:{notice.id}", f"notice:{notice.id}",
                     lambda r: notice_text(notice, outbox, activity, r.member_id))
    queued = await enqueue_many(session, rows)
    if notice.to_group_chats:
        await post_to_group_chats(session, outbox, key=f"notice:{notice.id}", audience=notice.audience,
                                  ids=notice.audience_ids, text=notice_text(notice, outbox, activity, None))
    notice.status, notice.recipients, notice.sent_at = NoticeStatus.SENT, len(recipients), outbox.now
    if notice.material_id is not None:
        # Marked when it really went out: a push scheduled and then cancelled leaves the material queued.
        await session.execute(update(StudyMaterial).where(
            StudyMaterial.id == notice.material_id, StudyMaterial.pushed_at.is_(None)  # type: ignore[union-attr]
        ).values(pushed_at=outbox.now))
    unbound = sum(1 for r in recipients if not r.identities)
    log.info("notice %s (%s) sent: %d members, %d pushes, %d not bound to a chat", notice.id, notice.kind.value,
             len(recipients), queued, unbound)
    return queued


def notice_text(notice: Notice, outbox: Outbox, activity: Activity | None, member_id: int | None) -> str:
    """The pushed text; ``member_id`` None renders the group-chat version (no personal link)."""
    texts = outbox.texts
    link = ""
    if notice.url:
        link = outbox.read_link(notice.id or 0, member_id) if member_id is not None else notice.url
    elif notice.kind is NoticeKind.STUDY and notice.material_id is not None and member_id is not None:
        link = outbox.read_link(notice.id or 0, member_id)  # a text material: /r/ shows the text and counts it
    if notice.kind is NoticeKind.MEETING and activity is not None:
        return texts("notice.text.meeting", title=activity.title, when=outbox.when(activity.starts_at),
                     venue=activity.venue or "-", body=f"\n{notice.body}" if notice.body else "",
                     type=texts(f"activity.type.{activity.type.value}")).strip()
    key = "notice.text.study" if notice.kind is NoticeKind.STUDY else "notice.text.broadcast"
    return texts(key, title=notice.title, body=notice.body, link=f"\n{link}" if link else "").strip()


async def record_read(session: AsyncSession, notice_id: int, member_id: int, now: datetime) -> Notice | None:
    """The member opened the notice's link (or answered it): the receipt's first read time."""
    notice = await session.get(Notice, notice_id)
    receipt = await session.scalar(select(NoticeReceipt).where(
        NoticeReceipt.notice_id == notice_id, NoticeReceipt.member_id == member_id))
    if notice is None or receipt is None:
        return None
    if receipt.read_at is None:
        receipt.read_at = now
    return notice


# --- group chats ----------------------------------------------------------------------------------------------


async def post_to_group_chats(
    session: AsyncSession, outbox: Outbox, *, key: str, audience: Audience, ids: Sequence[int], text: str,
    mention: dict[int | None, list[str]] | None = None,
) -> int:
    """Post ``text`` to the configured WeCom group chats this audience touches: the committee-wide chat
    ("*") always, a liaison group's chat when the audience includes that group. ``mention``: mobiles to
    ``@`` per liaison group (robots only; an app group chat has no mentions)."""
    chats = outbox.settings.notices.group_chats
    if not chats:
        return 0
    names = dict((await session.execute(select(LiaisonGroup.name, LiaisonGroup.id))).all())
    reached_groups = None if audience is Audience.ALL else set(
        (await session.scalars(select(Member.group_id).where(members_clause(audience, ids)).distinct())).all())
    rows = []
    for index, chat in enumerate(outbox.settings.notices.group_chats):
        group_id = names.get(chat.group)
        if chat.group != "*" and (group_id is None or (reached_groups is not None and group_id not in reached_groups)):
            continue
        mobiles = sorted({mobile for gid, found in (mention or {}).items()
                          if chat.group == "*" or gid == group_id for mobile in found})
        extra = {"mentioned_mobile_list": mobiles} if mobiles and chat.robot_key.get_secret_value() else {}
        platform, recipient = (("robot", chat.robot_key.get_secret_value()) if chat.robot_key.get_secret_value()
                               else ("appchat", chat.appchat_id))
        rows.append(delivery_values(platform=platform, recipient=recipient, reply=Reply(text=text, extra=extra),
                                    key=f"{key}:chat{index}", topic=key[:40]))
    return await enqueue_many(session, rows)


# --- an activity's pushes -----------------------------------------------------------------------------------


async def schedule_activity_pushes(session: AsyncSession, activity: Activity, outbox: Outbox,
                                   *, notice_at: datetime | None = None, notify: bool = True) -> Notice | None:
    """For a new activity: its meeting notice (now, or at ``notice_at``), its reminders and last call."""
    notice = None
    if notify:
        notice = await create_notice(session, outbox, kind=NoticeKind.MEETING, title=activity.title,
                                     audience=activity.audience, audience_ids=activity.audience_ids,
                                     send_at=notice_at, activity_id=activity.id)
    await schedule_reminders(session, activity, outbox)
    return notice


async def schedule_reminders(session: AsyncSession, activity: Activity, outbox: Outbox) -> None:
    """(Re)arm the reminder and last-call tasks for the activity's current times; times already past
    are left alone (a reminder 24 h before a meeting moved to tomorrow morning is not sent late)."""

    settings = outbox.settings.notices
    for minutes in settings.reminder_before_minutes:
        run_at, ref = activity.starts_at - timedelta(minutes=minutes), f"{activity.id}:{minutes}"
        if run_at > outbox.now:
            await schedule_task(session, kind=REMIND_TASK, ref=ref, run_at=run_at, now=outbox.now)
        else:
            await cancel_task(session, kind=REMIND_TASK, ref=ref)
    if settings.last_call and activity.signin_opens_at > outbox.now:
        await schedule_task(session, kind=LAST_CALL_TASK, ref=str(activity.id), run_at=activity.signin_opens_at,
                            now=outbox.now)
    else:
        await cancel_task(session, kind=LAST_CALL_TASK, ref=str(activity.id))


async def cancel_activity_pushes(session: AsyncSession, activity: Activity, outbox: Outbox) -> None:

    for minutes in outbox.settings.notices.reminder_before_minutes:
        await cancel_task(session, kind=REMIND_TASK, ref=f"{activity.id}:{minutes}")
    await cancel_task(session, kind=LAST_CALL_TASK, ref=str(activity.id))
    pending = (await session.scalars(select(Notice).where(
        Notice.activity_id == activity.id, Notice.status == NoticeStatus.SCHEDULED))).all()
    for notice in pending:
        await cancel_notice(session, notice)


async def excused_members(session: AsyncSession, activity_id: int) -> set[int]:
    return set((await session.scalars(select(LeaveRequest.member_id).where(
        LeaveRequest.activity_id == activity_id, LeaveRequest.status == LeaveStatus.APPROVED))).all())


async def remind(session: AsyncSession, activity: Activity, outbox: Outbox, *, minutes: int | None) -> int:
    """A reminder (``minutes`` before the start) or, with ``minutes`` None, the last call: to the audience
    except those on approved leave (and, for the last call, those already signed in)."""
    if activity.status is not ActivityStatus.SCHEDULED:
        return 0
    exclude = await excused_members(session, activity.id or 0)
    if minutes is None:
        exclude |= set((await session.scalars(
            select(Attendance.member_id).where(Attendance.activity_id == activity.id))).all())
    recipients = await recipients_of(session, activity.audience, activity.audience_ids, exclude=sorted(exclude))
    label = "last" if minutes is None else f"r{minutes}"
    key = f"activity:{activity.id}:{int(activity.starts_at.timestamp())}:{label}"
    text = reminder_text(activity, outbox, minutes)
    queued = await enqueue_many(session, push_rows(recipients, key, f"activity:{activity.id}", lambda _: text))
    confirmed = set((await session.scalars(select(ActivityResponse.member_id).where(
        ActivityResponse.activity_id == activity.id, ActivityResponse.response == Response.ATTEND))).all())
    mention: dict[int | None, list[str]] = defaultdict(list)
    for recipient in recipients:
        if recipient.member_id not in confirmed and recipient.mobile:
            mention[recipient.group_id].append(recipient.mobile)
    await post_to_group_chats(session, outbox, key=key, audience=activity.audience, ids=activity.audience_ids,
                              text=text, mention=mention)
    return queued


def reminder_text(activity: Activity, outbox: Outbox, minutes: int | None) -> str:
    texts = outbox.texts
    values = {"title": activity.title, "when": outbox.when(activity.starts_at), "venue": activity.venue or "-"}
    if minutes is None:
        return texts("notice.text.last_call", **values)
    hours, rest = divmod(minutes, 60)
    ahead = texts("notice.ahead.hours", hours=hours) if rest == 0 else texts("notice.ahead.minutes", minutes=minutes)
    return texts("notice.text.reminder", ahead=ahead, **values)


async def tell_notified(session: AsyncSession, activity: Activity, outbox: Outbox, *, cancelled: bool) -> int:
    """Tell everyone a meeting notice of this activity reached that it changed or was cancelled."""
    notified = (await session.scalars(
        select(NoticeReceipt.member_id).join(Notice, Notice.id == NoticeReceipt.notice_id)
        .where(Notice.activity_id == activity.id, Notice.kind == NoticeKind.MEETING).distinct()
    )).all()
    if not notified:
        return 0
    recipients = await recipients_of(session, Audience.MEMBERS, notified)
    stamp = int(activity.updated_at.timestamp())
    key = f"activity:{activity.id}:{'cancelled' if cancelled else f'changed{stamp}'}"
    values = {"title": activity.title, "when": outbox.when(activity.starts_at), "venue": activity.venue or "-"}
    text = outbox.texts("notice.text.cancelled" if cancelled else "notice.text.changed", **values)
    queued = await enqueue_many(session, push_rows(recipients, key, f"activity:{activity.id}", lambda _: text))
    await post_to_group_chats(session, outbox, key=key, audience=activity.audience, ids=activity.audience_ids,
                              text=text)
    return queued


# --- answers to a meeting notice ------------------------------------------------------------------------------


async def latest_meeting_for(session: AsyncSession, member_id: int, now: datetime) -> Activity | None:
    """The activity of the newest meeting notice the member received that can still be answered."""
    return await session.scalar(
        select(Activity).join(Notice, Notice.activity_id == Activity.id)
        .join(NoticeReceipt, NoticeReceipt.notice_id == Notice.id)
        .where(NoticeReceipt.member_id == member_id, Notice.kind == NoticeKind.MEETING,
               Activity.status == ActivityStatus.SCHEDULED, Activity.signin_closes_at > now)
        .order_by(NoticeReceipt.created_at.desc(), NoticeReceipt.id.desc()).limit(1)  # type: ignore[attr-defined]
    )


async def respond(session: AsyncSession, member_id: int, activity: Activity, response: Response,
                  now: datetime) -> bool:
    """Record 参加 / 请假 (the latest answer counts); marks the notice read. False if unchanged."""
    row = await session.scalar(select(ActivityResponse).where(
        ActivityResponse.activity_id == activity.id, ActivityResponse.member_id == member_id))
    receipts = (await session.scalars(
        select(NoticeReceipt).join(Notice, Notice.id == NoticeReceipt.notice_id)
        .where(Notice.activity_id == activity.id, NoticeReceipt.member_id == member_id,
               NoticeReceipt.read_at.is_(None))  # type: ignore[union-attr]
    )).all()
    for receipt in receipts:
        receipt.read_at = now
    if row is not None and row.response is response:
        return False
    if row is None:
        session.add(ActivityResponse(activity_id=activity.id, member_id=member_id, response=response, at=now))
    else:
        row.response, row.at = response, now
    return True


@dataclass
class Answers:
    """Who answered an activity's notice how (member ids), for the secretaries."""

    attend: list[int] = field(default_factory=list)
    leave: list[int] = field(default_factory=list)  # asked for leave (pending or approved), or said 请假
    no_answer: list[int] = field(default_factory=list)


async def answers_for(session: AsyncSession, activity: Activity) -> Answers:
    audience = (await session.scalars(select(Member.id).where(members_clause(activity.audience,
                                                                             activity.audience_ids)))).all()
    responses = dict((await session.execute(select(ActivityResponse.member_id, ActivityResponse.response)
                                            .where(ActivityResponse.activity_id == activity.id))).all())
    asked_leave = set((await session.scalars(select(LeaveRequest.member_id).where(
        LeaveRequest.activity_id == activity.id,
        LeaveRequest.status.in_([LeaveStatus.PENDING, LeaveStatus.APPROVED])))).all())  # type: ignore[attr-defined]
    answers = Answers()
    for member_id in sorted(audience):
        if member_id in asked_leave or responses.get(member_id) is Response.LEAVE:
            answers.leave.append(member_id)
        elif responses.get(member_id) is Response.ATTEND:
            answers.attend.append(member_id)
        else:
            answers.no_answer.append(member_id)
    return answers


# --- the broadcast report -------------------------------------------------------------------------------------


@dataclass
class Unreached:
    member_id: int
    name: str
    reason: str  # "not_bound", "failed: <error>", "pending"


@dataclass
class NoticeReport:
    recipients: int
    reached: int
    failed: int
    pending: int
    not_bound: int
    read: int
    unreached: list[Unreached]


async def notice_report(session: AsyncSession, notice: Notice) -> NoticeReport:
    """Per member: reached when any of their pushes was sent; otherwise why not (aggregated in SQL)."""
    topic = f"notice:{notice.id}"
    sent = func.sum(func.cast(Delivery.status == DeliveryStatus.SENT, type_=Delivery.attempts.type))  # type: ignore[attr-defined]
    open_ = func.sum(func.cast(Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]),  # type: ignore[attr-defined]
                               type_=Delivery.attempts.type))  # type: ignore[attr-defined]
    per_member = dict((row[0], row[1:]) for row in (await session.execute(
        select(Delivery.member_id, sent, open_, func.max(Delivery.last_error))
        .where(Delivery.topic == topic).group_by(Delivery.member_id)
    )).all())
    receipts = (await session.execute(
        select(NoticeReceipt.member_id, Member.name, NoticeReceipt.identities, NoticeReceipt.read_at)
        .join(Member, Member.id == NoticeReceipt.member_id)
        .where(NoticeReceipt.notice_id == notice.id).order_by(NoticeReceipt.member_id)
    )).all()
    reached = failed = pending = not_bound = read = 0
    unreached: list[Unreached] = []
    for member_id, name, identities, read_at in receipts:
        read += read_at is not None
        n_sent, n_open, error = per_member.get(member_id, (0, 0, None))
        if n_sent:
            reached += 1
        elif not identities:
            not_bound += 1
            unreached.append(Unreached(member_id, name, "not_bound"))
        elif n_open:
            pending += 1
            unreached.append(Unreached(member_id, name, "pending"))
        else:
            failed += 1
            unreached.append(Unreached(member_id, name, f"failed: {error or '-'}"))
    return NoticeReport(len(receipts), reached, failed, pending, not_bound, read, unreached)


async def resend_unreached(session: AsyncSession, notice: Notice, outbox: Outbox, *, by: Member | None = None) -> int:
    """Queue the notice again for members whose every push failed (not those still pending or unbound)."""
    if notice.status is not NoticeStatus.SENT:
        raise Refusal.conflict("notice.error.not_sent", code="not_sent")
    report = await notice_report(session, notice)
    failed = [item.member_id for item in report.unreached if item.reason.startswith("failed")]
    if not failed:
        return 0
    notice.resends += 1
    activity = await session.get(Activity, notice.activity_id) if notice.activity_id else None
    recipients = await recipients_of(session, Audience.MEMBERS, failed)
    rows = push_rows(recipients, f"notice:{notice.id}:again{notice.resends}", f"notice:{notice.id}",
                     lambda r: notice_text(notice, outbox, activity, r.member_id))
    await _audit(session, notice, "notice.resend", by, outbox.now, after={"members": len(failed)})
    return await enqueue_many(session, rows)
