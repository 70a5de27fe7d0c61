"""``GET /api/v1/deliveries``: for each recipient of a push, whether it was sent (and by which channel),
is still queued, failed (and why), or was given up. Filter by a key prefix (``notice:17:`` is every
delivery of notice 17), a status, or a member."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from bot.api.common import admin_endpoint, iso, parse_query
from bot.infra.services import services_of
from models.delivery import Delivery, DeliveryStatus

MAX_PER_PAGE = 500


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_prefix: str | None = Field(None, min_length=1, max_length=200, description="idempotency key prefix")
    status: DeliveryStatus | None = None
    member: int | None = Field(None, ge=1, description="member id")
    page: int = Field(1, ge=1)
    per_page: int = Field(100, ge=1, le=MAX_PER_PAGE)


def _filtered(statement: Any, query: ListQuery) -> Any:
    if query.key_prefix:
        # LIKE with the prefix escaped, so a "%" or "_" in a key is taken literally
        escaped = query.key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Delivery.idempotency_key.like(escaped + "%", escape="\\"))
    if query.status:
        statement = statement.where(Delivery.status == query.status)
    if query.member:
        statement = statement.where(Delivery.member_id == query.member)
    return statement


def delivery_json(row: Delivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.idempotency_key,
        "platform": row.platform,
        "recipient": row.recipient,
        "member_id": row.member_id,
        "status": row.status.value,
        "channel": row.channel,
        "attempts": row.attempts,
        "error_code": row.error_code,
        "last_error": row.last_error,
        "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at),
        "created_at": iso(row.created_at),
    }


@admin_endpoint
async def list_deliveries(request: web.Request) -> web.Response:
    query = parse_query(request.query, ListQuery)
    async with services_of(request.app).db.reader() as session:
        total = await session.scalar(_filtered(select(func.count()).select_from(Delivery), query))
        counts = dict((await session.execute(
            _filtered(select(Delivery.status, func.count()).group_by(Delivery.status), query)
        )).all())
        rows = (await session.scalars(
            _filtered(select(Delivery), query).order_by(Delivery.id)
            .offset((query.page - 1) * query.per_page).limit(query.per_page)
        )).all()
    return web.json_response({
        "items": [delivery_json(row) for row in rows],
        "total": total or 0,
        "by_status": {status.value: int(counts.get(status, 0)) for status in DeliveryStatus},
        "page": query.page,
        "per_page": query.per_page,
    })
