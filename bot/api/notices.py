"""``/api/v1/notices`` and ``/api/v1/activities/{id}/answers``: the office's broadcasts (群发) and what came of
every push (meeting notices and study pushes are notices too).

    POST /notices                         a broadcast: now, or at send_at (201, with the report when sent)
    GET  /notices?kind=&status=&activity_id=&page=&per_page=     newest send time first, each with counts
    GET  /notices/{id}                    with the report: reached, failed, pending, not bound, read, unreached
    POST /notices/{id}/cancel             a scheduled notice only (409 not_scheduled otherwise)
    POST /notices/{id}/resend             again to the members whose every push failed (409 not_sent before)
    GET  /activities/{id}/answers         参加 / 请假 / no answer to an activity's notice, with names

The API acts as the office (``by=None`` in :mod:`bot.domain.notices`), and follows :mod:`bot.api.activities`:
times with an offset only, bad input **400** with the catalogue's message and the field it is about, a
state that does not allow the action **409**.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import String, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.common import ApiError, admin_endpoint, not_found, path_id

# The conventions of the activities part (400 for bad input, aware times only, strict bodies, the arming
# of jobs after a commit) are shared rather than copied, so the two parts cannot drift apart.
from bot.api.forms import MAX_PER_PAGE, AudienceBody, Aware, Strict, arm, bad, body_of, iso, query_of, ref
from bot.domain import attendance as report
from bot.domain import notices as ops
from bot.domain.activities import ActivityError, members_clause
from bot.infra.services import Services, services_of
from models.activity import Activity, Audience
from models.delivery import Delivery, DeliveryStatus
from models.member import Committee, LiaisonGroup, Member, Sector
from models.notice import Notice, NoticeKind, NoticeReceipt, NoticeStatus

# Which request field a refusal of bot.domain.notices / bot.domain.study is about, so a form can show the
# message beside it.
FIELD_OF = {
    "notice.error.title": "title",
    "notice.error.body": "body",
    "notice.error.url": "url",
    "activity.error.audience_empty": "audience.ids",
    "activity.error.unknown_members": "audience.ids",
    "study.error.link_or_text": "url",
    "study.error.summary": "summary",
    "study.error.tags": "tags",
    "study.error.no_plan": "plan_id",
    "study.error.plan_name": "name",
    "study.error.cron": "cron",
}
# Refusals about the state of the notice, not the input: 409 with these error codes.
CONFLICTS = {
    "notice.error.not_scheduled": "not_scheduled",
    "notice.error.not_sent": "not_sent",
}
COUNT_NAMES = ("recipients", "reached", "failed", "pending", "not_bound", "read")


# --- bodies and queries ---------------------------------------------------------------------------------


class BroadcastBody(Strict):
    title: str
    body: str = ""
    url: str = ""
    audience: AudienceBody = Field(default_factory=AudienceBody)
    send_at: Aware | None = Field(None, description="when to send; default (or a past time): now")
    to_group_chats: bool = Field(True, description="also post to the configured WeCom group chats")


class ListQuery(Strict):
    kind: NoticeKind | None = None
    status: NoticeStatus | None = None
    activity_id: int | None = Field(None, ge=1)
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


def refused(error: ActivityError, services: Services) -> ApiError:
    """A refusal of bot.domain.notices or bot.domain.study, in the words of the catalogue."""
    message = services.texts(error.key, **error.values)
    if error.key in CONFLICTS:
        return ApiError(409, CONFLICTS[error.key], message)
    return bad(FIELD_OF.get(error.key, "body"), message)


def audience_of(body: AudienceBody) -> tuple[Audience, list[int]]:
    # "all" takes nobody's ids: stored empty, as the activities part does.
    return body.kind, [] if body.kind is Audience.ALL else list(body.ids)


async def check_audience(session: AsyncSession, audience: Audience, ids: Sequence[int]) -> None:
    """The audience's groups, sectors or committees must exist (member ids are checked by the core, with
    its own message); an audience other than "all" needs ids."""
    if audience is not Audience.ALL and not ids:
        raise ActivityError("activity.error.audience_empty")
    table = {Audience.GROUPS: LiaisonGroup, Audience.SECTORS: Sector, Audience.COMMITTEES: Committee}.get(audience)
    if table is None:
        return
    known = set((await session.scalars(select(table.id).where(table.id.in_(list(ids))))).all())  # type: ignore[attr-defined]
    unknown = sorted(set(ids) - known)
    if unknown:
        raise bad("audience.ids", f"unknown {audience.value}: {unknown}")


# --- notices ----------------------------------------------------------------------------------------------


@admin_endpoint
async def create_broadcast(request: web.Request) -> web.Response:
    body = await body_of(request, BroadcastBody)
    services = services_of(request.app)
    audience, ids = audience_of(body.audience)
    async with services.db.session() as session:
        try:
            await check_audience(session, audience, ids)
            notice = await ops.create_notice(
                session, await ops.outbox_for(services, session), kind=NoticeKind.BROADCAST, title=body.title,
                body=body.body, url=body.url, audience=audience, audience_ids=ids, send_at=body.send_at,
                by=None, to_group_chats=body.to_group_chats)
        except ActivityError as exc:
            raise refused(exc, services) from None
        answer = await notice_detail(session, notice)
    await arm(services)  # the pushes are queued, or the send task is armed
    return web.json_response(answer, status=201)


@admin_endpoint
async def list_notices(request: web.Request) -> web.Response:
    query = query_of(request.query, ListQuery)
    filters = [column == value for column, value in (
        (Notice.kind, query.kind), (Notice.status, query.status), (Notice.activity_id, query.activity_id))
        if value is not None]
    async with services_of(request.app).db.reader() as session:
        total = await session.scalar(select(func.count()).select_from(Notice).where(*filters))
        rows = (await session.scalars(
            select(Notice).where(*filters).order_by(Notice.send_at.desc(), Notice.id.desc())  # type: ignore[attr-defined]
            .offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
        counts = await page_counts(session, [n.id for n in rows if n.id is not None])
    zero = dict.fromkeys(COUNT_NAMES, 0)
    items = [{**notice_json(n), "counts": counts.get(n.id or 0, zero)} for n in rows]
    return web.json_response({"items": items, "total": total or 0, "page": query.page, "per_page": query.per_page})


@admin_endpoint
async def get_notice(request: web.Request) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        notice = await _notice(session, request)
        return web.json_response(await notice_detail(session, notice))


@admin_endpoint
async def cancel_notice(request: web.Request) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        notice = await _notice(session, request)
        try:
            await ops.cancel_notice(session, notice)
        except ActivityError as exc:
            raise refused(exc, services) from None
        answer = await notice_detail(session, notice)
    await arm(services)  # drops the armed send job
    return web.json_response(answer)


@admin_endpoint
async def resend_notice(request: web.Request) -> web.Response:
    services = services_of(request.app)
    async with services.db.session() as session:
        notice = await _notice(session, request)
        try:
            queued = await ops.resend_unreached(session, notice, await ops.outbox_for(services, session))
        except ActivityError as exc:
            raise refused(exc, services) from None
        answer = await notice_detail(session, notice)
    services.wake_delivery()  # after the commit, so the worker finds the rows
    return web.json_response({**answer, "queued": queued})


@admin_endpoint
async def activity_answers(request: web.Request) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        activity = await session.get(Activity, path_id(request, "activity_id"))
        if activity is None:
            raise not_found("activity")
        answers = await ops.answers_for(session, activity)
        # The same audience answers_for walked, by a clause rather than a list of ids of any length.
        people = {ident: (name, group) for ident, name, group in (await session.execute(
            select(Member.id, Member.name, Member.group_id)
            .where(members_clause(activity.audience, activity.audience_ids)))).all()}
        groups = (await report.names(session))["group"]

    def listed(ids: list[int]) -> list[dict[str, Any]]:
        return [{"id": ident, "name": people.get(ident, ("", None))[0],
                 "group": ref(people.get(ident, ("", None))[1], groups)} for ident in ids]

    return web.json_response({
        "activity": {"id": activity.id, "title": activity.title, "status": activity.status.value,
                     "starts_at": iso(activity.starts_at)},
        "counts": {"attend": len(answers.attend), "leave": len(answers.leave),
                   "no_answer": len(answers.no_answer)},
        "attend": listed(answers.attend),
        "leave": listed(answers.leave),
        "no_answer": listed(answers.no_answer),
    })


# --- helpers ----------------------------------------------------------------------------------------------


async def _notice(session: AsyncSession, request: web.Request) -> Notice:
    notice = await session.get(Notice, path_id(request, "notice_id"))
    if notice is None:
        raise not_found("notice")
    return notice


def notice_json(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "kind": notice.kind.value,
        "title": notice.title,
        "body": notice.body,
        "url": notice.url,
        "status": notice.status.value,
        "activity_id": notice.activity_id,
        "material_id": notice.material_id,
        "audience": {"kind": notice.audience.value, "ids": list(notice.audience_ids or [])},
        "to_group_chats": notice.to_group_chats,
        "send_at": iso(notice.send_at),
        "sent_at": iso(notice.sent_at),
        "created_at": iso(notice.created_at),
        "created_by_id": notice.created_by_id,
        "recipients": notice.recipients,
        "resends": notice.resends,
    }


async def notice_detail(session: AsyncSession, notice: Notice) -> dict[str, Any]:
    """The notice with its report (null until it is sent: before that nobody is expected)."""
    return {**notice_json(notice), "report": await report_json(session, notice)
            if notice.status is NoticeStatus.SENT else None}


async def report_json(session: AsyncSession, notice: Notice) -> dict[str, Any]:
    found = await ops.notice_report(session, notice)
    # The group a member was in when the notice went out (the receipt keeps it), as per-group figures of
    # attendance do: a member who moved since is listed where they were addressed.
    group_of = dict((await session.execute(select(NoticeReceipt.member_id, NoticeReceipt.group_id)
                                           .where(NoticeReceipt.notice_id == notice.id))).all())
    groups = (await report.names(session))["group"]
    unreached = []
    for item in found.unreached:
        reason, _, error = item.reason.partition(": ")
        unreached.append({"member": {"id": item.member_id, "name": item.name},
                          "group": ref(group_of.get(item.member_id), groups),
                          "reason": reason, "error": error or None})
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
