"""Queueing a push: one ``delivery`` row, written in the caller's transaction.

Because the row is inserted in the same transaction as whatever caused the push (a notice published,
a report's status changed), the push exists exactly when its cause does. The idempotency key (for
example ``notice:17:member:42``) makes queueing twice harmless: the second insert does nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from bot.infra.sql import insert_for, insert_ignore
from bot.outbound.message import Reply
from models.base import utc_now
from models.delivery import DUE_AT_ONCE, Delivery, DeliveryStatus

PLATFORMS = frozenset({"mp", "wecom", "sim", "robot", "appchat"})


class Push(TypedDict, total=False):
    """What a push is: ``reply`` for ``recipient`` on ``platform`` under the idempotency ``key``; optionally the
    member it is for, the earliest time to send it and the topic it belongs to (a notice, an activity)."""

    platform: Required[str]
    recipient: Required[str]
    reply: Required[Reply]
    key: Required[str]
    member_id: int | None
    not_before: datetime | None
    topic: str | None


async def enqueue(session: AsyncSession, **push: Unpack[Push]) -> bool:
    """Queue a push (platforms: "mp", "wecom", "sim"; "appchat" with a chat id; "robot" with a webhook key).
    Returns False, changing nothing, when its key was queued before.

    Call ``services.wake_delivery()`` after the transaction commits to send without waiting for the poll.
    """
    return await insert_ignore(session, Delivery, delivery_values(**push), ["idempotency_key"])


def delivery_values(
    *,
    platform: str,
    recipient: str,
    reply: Reply,
    key: str,
    member_id: int | None = None,
    not_before: datetime | None = None,
    topic: str | None = None,
) -> dict[str, Any]:
    """One ``delivery`` row as values, checked (for :func:`enqueue_many`)."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown delivery platform {platform!r}")
    if not key or len(key) > 200:
        raise ValueError("an idempotency key has 1 to 200 characters")
    return {
        "idempotency_key": key,
        "platform": platform,
        "recipient": recipient,
        "member_id": member_id,
        "topic": topic,
        "payload": reply.to_dict(),
        "status": DeliveryStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": not_before or DUE_AT_ONCE,
        "created_at": utc_now(),
    }


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]], chunk: int = 500) -> int:
    """Queue many rows made by :func:`delivery_values` in a few statements (a broadcast to thousands);
    rows whose key was queued before are skipped. Returns how many were queued."""
    queued = 0
    for start in range(0, len(rows), chunk):
        statement = insert_for(session, Delivery).values(rows[start:start + chunk])
        result = await session.execute(statement.on_conflict_do_nothing(index_elements=["idempotency_key"]))
        queued += max(result.rowcount or 0, 0)
    return queued
