"""Queueing pushes (idempotency keys, the caller's transaction) and the customer-service window records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.outbound.message import Reply
from bot.outbound.queue import enqueue
from bot.outbound.window import record_interaction, reserve_custom_slot
from models.delivery import DUE_AT_ONCE, DeliveryStatus
from models.outbound import ChatWindow
from tests.outbound_support import delivery_rows


async def test_an_idempotency_key_is_queued_once(db: Database) -> None:
    async with db.session() as session:
        assert await enqueue(
            session, platform="mp", recipient="o-1", reply=Reply(text="会议通知"), key="notice:1:m:1"
        )
        assert not await enqueue(
            session, platform="mp", recipient="o-1", reply=Reply(text="改了"), key="notice:1:m:1"
        )
    async with db.session() as session:  # and in a later transaction, as a retried job would
        assert not await enqueue(
            session, platform="mp", recipient="o-1", reply=Reply(text="again"), key="notice:1:m:1"
        )
    rows = await delivery_rows(db)
    assert len(rows) == 1
    assert rows[0].payload["text"] == "会议通知"
    assert rows[0].status == DeliveryStatus.QUEUED and rows[0].attempts == 0
    assert rows[0].next_attempt_at == DUE_AT_ONCE


async def test_a_push_exists_only_if_its_cause_committed(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await enqueue(session, platform="sim", recipient="u", reply=Reply(text="x"), key="k1")
            raise RuntimeError("the handler failed after queueing")
    assert await delivery_rows(db) == []


async def test_not_before_and_member_are_stored(db: Database, clock: FrozenClock) -> None:
    later = clock.now() + timedelta(hours=2)
    async with db.session() as session:
        await enqueue(
            session, platform="wecom", recipient="zhang", reply=Reply(text="x"), key="k", not_before=later
        )
    (row,) = await delivery_rows(db)
    assert row.next_attempt_at == later and row.member_id is None


async def test_bad_platform_and_key_are_refused(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(ValueError):
            await enqueue(session, platform="sms", recipient="u", reply=Reply(text="x"), key="k")
        with pytest.raises(ValueError):
            await enqueue(session, platform="mp", recipient="u", reply=Reply(text="x"), key="")


async def test_window_slots_follow_the_platform_counts(db: Database, clock: FrozenClock) -> None:
    now = clock.now()
    async with db.session() as session:
        await record_interaction(session, platform="mp", user_id="o-1", kind="message", at=now)
        await record_interaction(session, platform="mp", user_id="o-2", kind="click", at=now)
    async with db.session() as session:
        message = [
            await reserve_custom_slot(session, platform="mp", user_id="o-1", now=now) for _ in range(6)
        ]
        click = [await reserve_custom_slot(session, platform="mp", user_id="o-2", now=now) for _ in range(4)]
        never = await reserve_custom_slot(session, platform="mp", user_id="o-3", now=now)
    assert message == [True] * 5 + [False]
    assert click == [True] * 3 + [False]
    assert never is False


async def test_windows_expire_and_reopen(db: Database, clock: FrozenClock) -> None:
    start = clock.now()
    async with db.session() as session:
        await record_interaction(session, platform="mp", user_id="o-1", kind="scan", at=start)
        assert not await reserve_custom_slot(
            session, platform="mp", user_id="o-1", now=start + timedelta(seconds=61)
        )
        await record_interaction(session, platform="mp", user_id="o-1", kind="message", at=start)
        assert await reserve_custom_slot(
            session, platform="mp", user_id="o-1", now=start + timedelta(hours=47)
        )
        assert not await reserve_custom_slot(
            session, platform="mp", user_id="o-1", now=start + timedelta(hours=49)
        )


async def test_a_late_older_interaction_never_shrinks_the_window(db: Database, clock: FrozenClock) -> None:
    now = clock.now()
    async with db.session() as session:
        await record_interaction(session, platform="mp", user_id="o-1", kind="message", at=now)
        await reserve_custom_slot(session, platform="mp", user_id="o-1", now=now)
        await record_interaction(
            session, platform="mp", user_id="o-1", kind="message", at=now - timedelta(hours=1)
        )
    async with db.reader() as session:
        window = (await session.execute(select(ChatWindow))).scalar_one()
    assert window.message_at == now and window.message_sent == 1
    async with db.session() as session:
        with pytest.raises(ValueError):
            await record_interaction(session, platform="mp", user_id="o-1", kind="view", at=now)
