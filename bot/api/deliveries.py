"""``GET /api/v1/deliveries``: for each recipient of a push, whether it was sent (and by which channel),
is still queued, failed (and why), or was given up. Filter by a key prefix (``notice:17:`` is every
delivery of notice 17), a status, or a member."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from typing_extensions import TypedDict

from bot.api.answers import Page, Time, iso, paged
from bot.api.common import PageQuery, fetch_page
from bot.api.registry import Routes
from bot.infra.services import services_of
from models.delivery import Delivery, DeliveryStatus

routes = Routes("deliveries")
MAX_PER_PAGE = 500  # rows are small, and a broadcast's report wants them all


class DeliveryQuery(PageQuery):
    key_prefix: str | None = Field(None, min_length=1, max_length=200,
                                   description="idempotency key prefix, e.g. notice:17:")
    status: DeliveryStatus | None = None
    member: int | None = Field(None, ge=1, description="member id")
    per_page: int = Field(100, ge=1, le=MAX_PER_PAGE)


class DeliveryOut(TypedDict):
    id: int
    key: str
    platform: str
    recipient: str
    member_id: int | None
    status: DeliveryStatus
    channel: str | None
    attempts: int
    error_code: int | None
    last_error: str | None
    next_attempt_at: Time
    sent_at: Time | None
    created_at: Time


class DeliveryPage(Page):
    items: list[DeliveryOut]
    by_status: Annotated[dict[DeliveryStatus, int], Field(description="every status, filtered as the items are")]


def _filtered(statement: Any, query: DeliveryQuery) -> Any:
    if query.key_prefix:
        # LIKE with the prefix escaped, so a "%" or "_" in a key is taken literally
        escaped = query.key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Delivery.idempotency_key.like(escaped + "%", escape="\\"))
    if query.status:
        statement = statement.where(Delivery.status == query.status)
    if query.member:
        statement = statement.where(Delivery.member_id == query.member)
    return statement


def delivery_json(row: Delivery) -> DeliveryOut:
    return {
        "id": row.id,
        "key": row.idempotency_key,
        "platform": row.platform,
        "recipient": row.recipient,
        "member_id": row.member_id,
        "status": row.status,
        "channel": row.channel,
        "attempts": row.attempts,
        "error_code": row.error_code,
        "last_error": row.last_error,
        "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at),
        "created_at": iso(row.created_at),
    }


@routes.get("/deliveries", "Each recipient's push: sent (channel), queued, failed (why) or given up.",
            query=DeliveryQuery, ok=DeliveryPage)
async def list_deliveries(request: web.Request, query: DeliveryQuery) -> web.Response:
    async with services_of(request.app).db.reader() as session:
        total, rows = await fetch_page(session, _filtered(select(Delivery), query).order_by(Delivery.id), query)
        counts = dict((await session.execute(
            _filtered(select(Delivery.status, func.count()).group_by(Delivery.status), query)
        )).all())
    by_status = {status.value: int(counts.get(status, 0)) for status in DeliveryStatus}
    return web.json_response(paged([delivery_json(row) for row in rows], total, query, by_status=by_status))
