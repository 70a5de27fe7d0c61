"""``/api/v1/notices`` and ``/api/v1/activities/{id}/answers``: the office's broadcasts (群发) and what came of
every push (meeting notices and study pushes are notices too).

    POST /notices                         a broadcast: now, or at send_at (201, with the report when sent)
    GET  /notices?kind=&status=&activity_id=&page=&per_page=     newest send time first, each with counts
    GET  /notices/{id}                    with the report: reached, failed, pending, not bound, read, unreached
    POST /notices/{id}/cancel             a scheduled notice only (409 not_scheduled otherwise)
    POST /notices/{id}/resend             again to the members whose every push failed (409 not_sent before)
    GET  /activities/{id}/answers         参加 / 请假 / no answer to an activity's notice, with names

The API acts as the office (``by=None`` in :mod:`bot.domain.notices`), and follows :mod:`bot.api.activities`:
times with an offset only, a refused input **422** with the catalogue's message and the field it is about, a
state that does not allow the action **409**.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import String, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.api.answers import Page, Ref, Time, iso, paged, ref
from bot.api.common import Aware, PageQuery, Strict, fetch_page, found
from bot.api.forms import AudienceBody, AudienceOut, arm, audience_json, checked_audience
from bot.api.registry import Routes
from bot.domain import attendance as report
from bot.domain import notices as ops
from bot.domain.audience import members_clause
from bot.infra.services import services_of
from models.activity import Activity, ActivityStatus
from models.delivery import Delivery, DeliveryStatus
from models.member import Member
from models.notice import Notice, NoticeKind, NoticeReceipt, NoticeStatus

routes = Routes("notices")
COUNT_NAMES = ("recipients", "reached", "failed", "pending", "not_bound", "read")
NO_NOTICE = {404: "No notice with this id."}


# --- bodies and queries ---------------------------------------------------------------------------------


class BroadcastCreate(Strict):
    title: str = Field(description=f"at most {ops.TITLE_MAX} characters")
    body: str = Field("", description=f"at most {ops.BODY_MAX} characters")
    url: str = Field("", description="http(s); each member gets a personal read-tracking link to it")
    audience: AudienceBody = Field(default_factory=AudienceBody)
    send_at: Aware | None = Field(None, description="when to send; default (or a past time): now")
    to_group_chats: bool = Field(True, description="also post to the configured WeCom group chats")


class NoticeQuery(PageQuery):
    kind: NoticeKind | None = None
    status: NoticeStatus | None = None
    activity_id: int | None = Field(None, ge=1)


# --- answers ----------------------------------------------------------------------------------------------


class NoticeCounts(TypedDict):
    recipients: Annotated[int, Field(description="members addressed when it was sent")]
    reached: Annotated[int, Field(description="at least one push sent")]
    failed: Annotated[int, Field(description="every push failed or was given up")]
    pending: Annotated[int, Field(description="a push still queued or being sent")]
    not_bound: Annotated[int, Field(description="no chat identity: nothing could be pushed")]
    read: Annotated[int, Field(description="opened the link or answered")]


class UnreachedOut(TypedDict):
    member: Ref
    group: Annotated[Ref | None, Field(description="the member's group when the notice went out")]
    reason: Literal["not_bound", "pending", "failed"]
    error: Annotated[str | None, Field(description="the last error, when failed")]


class NoticeReportOut(NoticeCounts):
    unreached: list[UnreachedOut]


class NoticeOut(TypedDict):
    id: int
    kind: NoticeKind
    title: str
    body: str
    url: str
    status: NoticeStatus
    activity_id: int | None
    material_id: int | None
    audience: AudienceOut
    to_group_chats: bool
    send_at: Time
    sent_at: Time | None
    created_at: Time
    created_by_id: Annotated[int | None, Field(description="null: the office (the admin API)")]
    recipients: int
    resends: Annotated[int, Field(description="times the unreached were sent it again")]


class CountedNotice(NoticeOut):
    counts: NoticeCounts


class NoticePage(Page):
    items: list[CountedNotice]


class NoticeDetail(NoticeOut):
    report: Annotated[NoticeReportOut | None, Field(description="null until the notice is sent")]


class ResentNotice(NoticeDetail):
    queued: Annotated[int, Field(description="pushes queued again")]


class Person(TypedDict):
    id: int
    name: str
    group: Ref | None


class AnswerCounts(TypedDict):
    attend: int
    leave: int
    no_answer: int


class AnsweredActivity(TypedDict):
    id: int
    title: str
    status: ActivityStatus
    starts_at: Time


class Answers(TypedDict):
    activity: AnsweredActivity
    counts: AnswerCounts
    attend: list[Person]
    leave: Annotated[list[Person], Field(description="said 请假, or asked for leave (pending or approved)")]
    no_answer: list[Person]


# --- notices ----------------------------------------------------------------------------------------------


@routes.post("/notices", "A broadcast (群发) to an audience: sent now (receipts written, one push per chat identity) "
             "or at send_at (a scheduled task).", body=BroadcastCreate, ok=NoticeDetail, status=201)
async def create_broadcast(request: web.Request, body: BroadcastCreate) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        audience, ids = await checked_audience(session, body.audience)
        notice = await ops.create_notice(
            session, await ops.outbox_for(services, session), kind=NoticeKind.BROADCAST, title=body.title,
            body=body.body, url=body.url, audience=audience, audience_ids=ids, send_at=body.send_at,
            by=None, to_group_chats=body.to_group_chats)
        answer = await notice_detail(session, notice)
    await arm(services)  # the pushes are queued, or the send task is armed
    return web.json_response(answer, status=201)


@routes.get("/notices", "Notices of every kind (broadcasts, meeting notices, study pushes), latest send time first, "
            "each with the report's counts.", query=NoticeQuery, ok=NoticePage)
async def list_notices(request: web.Request, query: NoticeQuery) -> web.Response:
    filters = [column == value for column, value in (
        (Notice.kind, query.kind), (Notice.status, query.status), (Notice.activity_id, query.activity_id))
        if value is not None]
    async with services_of(request.app).db.reader() as session:
        total, rows = await fetch_page(session, select(Notice).where(*filters).order_by(
            Notice.send_at.desc(), Notice.id.desc()), query)  # type: ignore[attr-defined]
        counts = await page_counts(session, [n.id for n in rows if n.id is not None])
    zero = dict.fromkeys(COUNT_NAMES, 0)
    return web.json_response(paged([{**notice_json(n), "counts": counts.get(n.id or 0, zero)} for n in rows],
                                   total, query))


@routes.get("/notices/{notice_id}", "One notice with its report: reached, failed (why), pending, not bound, read, "
            "and every member not reached.", ok=NoticeDetail, errors=NO_NOTICE)
async def get_notice(request: web.Request, notice_id: int) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        notice = await _notice(session, notice_id)
        return web.json_response(await notice_detail(session, notice))


@routes.post("/notices/{notice_id}/cancel", "Cancel a scheduled notice (its send task is cancelled).",
             ok=NoticeDetail, errors={**NO_NOTICE, 409: "not_scheduled: sent or cancelled already."})
async def cancel_notice(request: web.Request, notice_id: int) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        notice = await _notice(session, notice_id)
        await ops.cancel_notice(session, notice, now=services.clock.now())
        answer = await notice_detail(session, notice)
    await arm(services)  # drops the armed send job
    return web.json_response(answer)


@routes.post("/notices/{notice_id}/resend", "Send a sent notice again to the members whose every push failed (not "
             "to those still pending or not bound).", ok=ResentNotice,
             errors={**NO_NOTICE, 409: "not_sent: not sent yet, or cancelled."})
async def resend_notice(request: web.Request, notice_id: int) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        notice = await _notice(session, notice_id)
        queued = await ops.resend_unreached(session, notice, await ops.outbox_for(services, session))
        answer = await notice_detail(session, notice)
    services.wake_delivery()  # after the commit, so the worker finds the rows
    return web.json_response({**answer, "queued": queued})


@routes.get("/activities/{activity_id}/answers", "Answers to an activity's notice: 参加, 请假 and no answer, over "
            "the activity's active audience.", ok=Answers, errors={404: "No activity with this id."})
async def activity_answers(request: web.Request, activity_id: int) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        activity = await found(session, Activity, activity_id, "activity")
        answers = await ops.answers_for(session, activity)
        # The same audience answers_for walked, by a clause rather than a list of ids of any length.
        people = {ident: (name, group) for ident, name, group in (await session.execute(
            select(Member.id, Member.name, Member.group_id)
            .where(members_clause(activity.audience, activity.audience_ids)))).all()}
        groups = (await report.names(session))["group"]

    def listed(ids: list[int]) -> list[Person]:
        return [{"id": ident, "name": people.get(ident, ("", None))[0],
                 "group": ref(people.get(ident, ("", None))[1], groups)} for ident in ids]

    return web.json_response({
        "activity": {"id": activity.id, "title": activity.title, "status": activity.status,
                     "starts_at": iso(activity.starts_at)},
        "counts": {"attend": len(answers.attend), "leave": len(answers.leave),
                   "no_answer": len(answers.no_answer)},
        "attend": listed(answers.attend),
        "leave": listed(answers.leave),
        "no_answer": listed(answers.no_answer),
    })


# --- helpers ----------------------------------------------------------------------------------------------


async def _notice(session: AsyncSession, notice_id: int) -> Notice:
    return await found(session, Notice, notice_id, "notice")


def notice_json(notice: Notice) -> NoticeOut:
    return {
        "id": notice.id,
        "kind": notice.kind,
        "title": notice.title,
        "body": notice.body,
        "url": notice.url,
        "status": notice.status,
        "activity_id": notice.activity_id,
        "material_id": notice.material_id,
        "audience": audience_json(notice.audience, notice.audience_ids),
        "to_group_chats": notice.to_group_chats,
        "send_at": iso(notice.send_at),
        "sent_at": iso(notice.sent_at),
        "created_at": iso(notice.created_at),
        "created_by_id": notice.created_by_id,
        "recipients": notice.recipients,
        "resends": notice.resends,
    }


async def notice_detail(session: AsyncSession, notice: Notice) -> NoticeDetail:
    """The notice with its report (null until it is sent: before that nobody is expected)."""
    return {**notice_json(notice), "report": await report_json(session, notice)
            if notice.status is NoticeStatus.SENT else None}


async def report_json(session: AsyncSession, notice: Notice) -> NoticeReportOut:
    found = await ops.notice_report(session, notice)
    # The group a member was in when the notice went out (the receipt keeps it), as per-group figures of
    # attendance do: a member who moved since is listed where they were addressed.
    group_of = dict((await session.execute(select(NoticeReceipt.member_id, NoticeReceipt.group_id)
                                           .where(NoticeReceipt.notice_id == notice.id))).all())
    groups = (await report.names(session))["group"]
    unreached: list[UnreachedOut] = []
    for item in found.unreached:
        reason, _, error = item.reason.partition(": ")
        unreached.append({"member": {"id": item.member_id, "name": item.name},
                          "group": ref(group_of.get(item.member_id), groups),
                          "reason": reason, "error": error or None})  # type: ignore[typeddict-item]
    return {"recipients": found.recipients, "reached": found.reached, "failed": found.failed,
            "pending": found.pending, "not_bound": found.not_bound, "read": found.read, "unreached": unreached}


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


async def page_counts(session: AsyncSession, notice_ids: list[int]) -> dict[int, dict[str, int]]:
    """The report's counts for a page of notices in two grouped queries (not a report per notice), by the
    same rule as :func:`bot.domain.notices.notice_report`: a member is reached when any of their pushes was sent;
    otherwise not bound (no chat identity), pending (a push still queued or sending) or failed."""
    if not notice_ids:
        return {}
    sent = func.sum(_flag(Delivery.status == DeliveryStatus.SENT))
    open_ = func.sum(_flag(Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING])))  # type: ignore[attr-defined]
    per_member = (
        select(Delivery.topic, Delivery.member_id, sent.label("sent"), open_.label("open"))
        .where(Delivery.topic.in_([f"notice:{ident}" for ident in notice_ids]),  # type: ignore[union-attr]
               Delivery.member_id.is_not(None))  # type: ignore[union-attr]
        .group_by(Delivery.topic, Delivery.member_id).subquery()
    )
    n_sent, n_open = func.coalesce(per_member.c.sent, 0), func.coalesce(per_member.c.open, 0)
    unsent_bound = and_(n_sent == 0, NoticeReceipt.identities > 0)
    topic = literal("notice:") + cast(NoticeReceipt.notice_id, String)
    rows = (await session.execute(
        select(NoticeReceipt.notice_id, func.count(),
               func.sum(_flag(n_sent > 0)),
               func.sum(_flag(and_(unsent_bound, n_open == 0))),
               func.sum(_flag(and_(unsent_bound, n_open > 0))),
               func.sum(_flag(and_(n_sent == 0, NoticeReceipt.identities == 0))),
               func.sum(_flag(NoticeReceipt.read_at.is_not(None))))  # type: ignore[union-attr]
        .outerjoin(per_member, and_(per_member.c.topic == topic, per_member.c.member_id == NoticeReceipt.member_id))
        .where(NoticeReceipt.notice_id.in_(notice_ids))  # type: ignore[attr-defined]
        .group_by(NoticeReceipt.notice_id)
    )).all()
    return {row[0]: dict(zip(COUNT_NAMES, (int(value or 0) for value in row[1:]), strict=True)) for row in rows}
