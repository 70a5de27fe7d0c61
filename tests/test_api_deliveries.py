"""``GET /api/v1/deliveries``: a secretary sees, per recipient, whether a push was sent, failed (why) or given up."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from bot.api import API_PREFIX
from bot.infra.db import Database
from bot.outbound.message import Reply
from bot.outbound.queue import enqueue
from models.delivery import Delivery, DeliveryStatus
from tests.support import ADMIN_AUTH


async def queue_notice(db: Database) -> None:
    """Notice 17 to three members, with the outcomes a worker would have recorded; and an unrelated push."""
    async with db.session() as session:
        for user in ("o-a", "o-b", "o-c"):
            await enqueue(session, platform="mp", recipient=user, reply=Reply(text="会议通知"), key=f"notice:17:{user}")
        await enqueue(session, platform="mp", recipient="o-a", reply=Reply(text="别的"), key="notice:170:o-a")
    async with db.session() as session:
        await session.execute(update(Delivery).where(Delivery.idempotency_key == "notice:17:o-a")
                              .values(status=DeliveryStatus.SENT, channel="custom", attempts=1))
        await session.execute(update(Delivery).where(Delivery.idempotency_key == "notice:17:o-b")
                              .values(status=DeliveryStatus.FAILED, error_code=43004, attempts=1,
                                      last_error="the member unfollowed the account"))
        assert (await session.scalar(select(Delivery.status).where(Delivery.idempotency_key == "notice:17:o-c"))
                == DeliveryStatus.QUEUED)


async def test_lists_each_recipient_with_its_outcome(api: TestClient, db: Database) -> None:
    await queue_notice(db)
    response = await api.get(f"{API_PREFIX}/deliveries", params={"key_prefix": "notice:17:"}, headers=ADMIN_AUTH)
    assert response.status == 200
    body = await response.json()
    outcome = {item["recipient"]: (item["status"], item["channel"], item["error_code"]) for item in body["items"]}
    assert outcome == {"o-a": ("sent", "custom", None), "o-b": ("failed", None, 43004), "o-c": ("queued", None, None)}
    assert body["by_status"] == {"queued": 1, "sending": 0, "sent": 1, "failed": 1, "given_up": 0}
    assert body["total"] == 3


async def test_filters_by_status_and_rejects_bad_queries(api: TestClient, db: Database) -> None:
    await queue_notice(db)
    failed = await (await api.get(f"{API_PREFIX}/deliveries", params={"status": "failed"}, headers=ADMIN_AUTH)).json()
    assert [item["last_error"] for item in failed["items"]] == ["the member unfollowed the account"]
    bad = await api.get(f"{API_PREFIX}/deliveries", params={"status": "lost"}, headers=ADMIN_AUTH)
    assert bad.status == 422
    assert (await api.get(f"{API_PREFIX}/deliveries")).status == 401
