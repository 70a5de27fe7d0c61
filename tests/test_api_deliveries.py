"""``GET /api/v1/deliveries``: a secretary sees, per recipient, whether a push was sent, failed (why) or given up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from bot.api import API_PREFIX
from bot.clock import FrozenClock
from bot.db import Database
from bot.events import Reply
from bot.outbound.queue import enqueue
from models.delivery import Delivery, DeliveryStatus
from tests.conftest import make_settings
from tests.test_api_members import TOKEN, make_client

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api(db: Database, tmp_path: Path, db_url: str, clock: FrozenClock) -> AsyncIterator[TestClient]:
    settings = make_settings(tmp_path, db_url, admin={"api_token": TOKEN})
    client = await make_client(db, settings, clock)
    yield client
    await client.close()


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
    response = await api.get(f"{API_PREFIX}/deliveries", params={"key_prefix": "notice:17:"}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    outcome = {item["recipient"]: (item["status"], item["channel"], item["error_code"]) for item in body["items"]}
    assert outcome == {"o-a": ("sent", "custom", None), "o-b": ("failed", None, 43004), "o-c": ("queued", None, None)}
    assert body["by_status"] == {"queued": 1, "sending": 0, "sent": 1, "failed": 1, "given_up": 0}
    assert body["total"] == 3


async def test_filters_by_status_and_rejects_bad_queries(api: TestClient, db: Database) -> None:
    await queue_notice(db)
    failed = await (await api.get(f"{API_PREFIX}/deliveries", params={"status": "failed"}, headers=AUTH)).json()
    assert [item["last_error"] for item in failed["items"]] == ["the member unfollowed the account"]
    bad = await api.get(f"{API_PREFIX}/deliveries", params={"status": "lost"}, headers=AUTH)
    assert bad.status == 422
    assert (await api.get(f"{API_PREFIX}/deliveries")).status == 401
