"""The delivery worker against the mock platform and a real database: channels, errors, retries, crashes.

The worker is driven by ``run_once()`` and the clock is frozen: time moves only when a test says so.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.infra.services import Services
from bot.outbound.client import client_msg_id
from bot.outbound.message import Article, Reply
from bot.outbound.queue import enqueue
from bot.outbound.window import record_interaction
from bot.outbound.worker import DEFAULT_LEASE, DeliveryWorker
from models.delivery import Channel, DeliveryStatus, SimMessage
from models.outbound import ChatWindow
from tests import outbound_support as support
from tests.outbound_support import MockApi, build_services, delivery_by_key, delivery_rows, outbound_settings

mock_api, http, services = support.mock_api, support.http, support.services  # fixtures

TEMPLATE = "/cgi-bin/message/template/send"
CUSTOM = "/cgi-bin/message/custom/send"


def worker_for(services: Services) -> DeliveryWorker:
    return DeliveryWorker(services, rng=random.Random(7))


async def queue(services: Services, *items: tuple[str, str, str] | tuple[str, str, str, Reply]) -> None:
    """Queue (platform, recipient, key[, reply]) rows in one transaction."""
    async with services.db.session() as session:
        for platform, recipient, key, *rest in items:
            reply = rest[0] if rest else Reply(text=f"消息 {key}")
            await enqueue(session, platform=platform, recipient=recipient, reply=reply, key=key)


async def member_wrote(services: Services, api: MockApi, openid: str, kind: str = "message") -> None:
    """A member interacted: lvzhi's dispatcher records it, and the platform knows it from its callback."""
    async with services.db.session() as session:
        await record_interaction(session, platform="mp", user_id=openid, kind=kind, at=services.clock.now())
    api.mock.record_interaction(openid, kind)


# --- channels -------------------------------------------------------------------------------------


async def test_simulator_members_get_pushes_on_the_simulator_page(services: Services) -> None:
    await queue(services, ("sim", "sim-zhang", "k1", Reply(text="会议提醒")))
    worker = worker_for(services)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    async with services.db.reader() as session:
        (message,) = (await session.execute(select(SimMessage))).scalars().all()
    assert (message.user_id, message.direction, message.payload["text"]) == ("sim-zhang", "out", "会议提醒")
    row = await delivery_by_key(services.db, "k1")
    assert (row.status, row.channel, row.attempts, row.sent_at) == (
        DeliveryStatus.SENT,
        Channel.SIM,
        1,
        services.clock.now(),
    )


async def test_open_window_gets_customer_service_closed_window_gets_template(
    services: Services, mock_api: MockApi
) -> None:
    await member_wrote(services, mock_api, "o-talking")
    await queue(
        services, ("mp", "o-talking", "a"), ("mp", "o-quiet", "b", Reply(text="提案已立案\n第12号提案已被立案"))
    )
    await worker_for(services).run_once()
    assert (await delivery_by_key(services.db, "a")).channel == Channel.CUSTOM
    assert (await delivery_by_key(services.db, "b")).channel == Channel.TEMPLATE
    assert mock_api.mock.sent_to("o-talking", "custom")[0].body["text"]["content"] == "消息 a"
    template = mock_api.mock.sent_to("o-quiet", "template")[0].body
    assert template["client_msg_id"] == client_msg_id("b")
    assert template["data"] == {"thing1": {"value": "提案已立案"}, "thing2": {"value": "第12号提案已被立案"}}
    assert all(r.status == DeliveryStatus.SENT for r in await delivery_rows(services.db))


async def test_window_count_then_template(services: Services, mock_api: MockApi, clock: FrozenClock) -> None:
    await member_wrote(services, mock_api, "o-1")
    await queue(services, *[("mp", "o-1", f"k{n}") for n in range(7)])
    await worker_for(services).run_once()
    channels = [row.channel for row in await delivery_rows(services.db)]
    assert channels == [Channel.CUSTOM] * 5 + [Channel.TEMPLATE] * 2
    assert len(mock_api.mock.sent_to("o-1")) == 7


async def test_click_window_is_one_minute(services: Services, mock_api: MockApi, clock: FrozenClock) -> None:
    await member_wrote(services, mock_api, "o-1", kind="click")
    await queue(services, ("mp", "o-1", "now"))
    await worker_for(services).run_once()
    clock.advance(seconds=61)
    await queue(services, ("mp", "o-1", "later"))
    await worker_for(services).run_once()
    assert (await delivery_by_key(services.db, "now")).channel == Channel.CUSTOM
    assert (await delivery_by_key(services.db, "later")).channel == Channel.TEMPLATE


async def test_platform_refusing_the_window_falls_back_to_template_at_once(
    services: Services, mock_api: MockApi
) -> None:
    async with services.db.session() as session:  # lvzhi believes the window is open; the platform does not
        await record_interaction(session, platform="mp", user_id="o-1", kind="message", at=services.clock.now())
    await queue(services, ("mp", "o-1", "k"))
    await worker_for(services).run_once()
    row = await delivery_by_key(services.db, "k")
    assert (row.status, row.channel, row.attempts) == (DeliveryStatus.SENT, Channel.TEMPLATE, 1)
    assert len(mock_api.mock.requests_to(CUSTOM)) == 1 and len(mock_api.mock.sent_to("o-1", "template")) == 1
    async with services.db.reader() as session:
        window = (await session.execute(select(ChatWindow))).scalar_one()
    assert window.message_sent == 5  # believed closed until the member writes again


async def test_wecom_members_groups_and_robots(services: Services, mock_api: MockApi) -> None:
    article = Reply(article=Article(title="学习材料第3期", description="请阅读", url="https://example.org/s/3"))
    await queue(services, ("wecom", "zhangsan", "w", article), ("appchat", "chat-7", "c"), ("robot", "rk", "r"))
    await worker_for(services).run_once()
    assert mock_api.mock.sent_to("zhangsan", "app")[0].body["news"]["articles"][0]["title"] == "学习材料第3期"
    assert mock_api.mock.sent_to("chat-7", "appchat") and mock_api.mock.sent_to("rk", "robot")
    assert {row.idempotency_key: row.channel for row in await delivery_rows(services.db)} == {
        "w": Channel.APP,
        "c": Channel.APPCHAT,
        "r": Channel.ROBOT,
    }


# --- errors, retries, limits ---------------------------------------------------------------------------


async def test_unsubscribed_member_is_a_permanent_failure(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.unsubscribe("o-gone")
    await queue(services, ("mp", "o-gone", "k"))
    worker = worker_for(services)
    await worker.run_once()
    row = await delivery_by_key(services.db, "k")
    assert (row.status, row.error_code, row.last_error) == (DeliveryStatus.FAILED, 43004, "member unsubscribed")
    assert await worker.run_once() == 0


async def test_daily_quota_is_retried_no_sooner_than_half_an_hour(
    services: Services, mock_api: MockApi, clock: FrozenClock
) -> None:
    mock_api.mock.fail_next(45009, path=TEMPLATE)
    await queue(services, ("mp", "o-1", "k"))
    worker = worker_for(services)
    await worker.run_once()
    row = await delivery_by_key(services.db, "k")
    assert (row.status, row.error_code) == (DeliveryStatus.QUEUED, 45009)
    assert row.next_attempt_at >= clock.now() + timedelta(minutes=30)
    clock.advance(minutes=29)
    assert await worker.run_once() == 0
    clock.advance(minutes=2)
    await worker.run_once()
    assert (await delivery_by_key(services.db, "k")).status == DeliveryStatus.SENT


async def test_transient_errors_back_off_exponentially_then_succeed(
    services: Services, mock_api: MockApi, clock: FrozenClock
) -> None:
    mock_api.mock.fail_next(-1, times=2, path=TEMPLATE)
    await queue(services, ("mp", "o-1", "k"))
    worker = worker_for(services)
    delays = []
    for _ in range(2):
        await worker.run_once()
        row = await delivery_by_key(services.db, "k")
        assert row.status == DeliveryStatus.QUEUED and row.error_code == -1
        delays.append(row.next_attempt_at - clock.now())
        assert await worker.run_once() == 0  # not due yet
        clock.set(row.next_attempt_at)
    await worker.run_once()
    row = await delivery_by_key(services.db, "k")
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 3, None)
    # base 2 s: the first wait is 1–2 s, the second 2–4 s (half fixed, half jitter)
    assert timedelta(seconds=1) <= delays[0] <= timedelta(seconds=2)
    assert timedelta(seconds=2) <= delays[1] <= timedelta(seconds=4)
    assert len(mock_api.mock.sent_to("o-1")) == 1


async def test_gives_up_after_max_attempts(services: Services, mock_api: MockApi, clock: FrozenClock) -> None:
    mock_api.mock.fail_next(-1, times=100, path=TEMPLATE)
    await queue(services, ("mp", "o-1", "k"))
    worker = worker_for(services)
    for _ in range(10):
        await worker.run_once()
        clock.advance(hours=1)
    row = await delivery_by_key(services.db, "k")
    assert row.status == DeliveryStatus.GIVEN_UP
    assert row.attempts == services.settings.delivery.max_attempts == 4
    assert row.last_error is not None and row.last_error.startswith("gave up after 4 attempts")
    assert len(mock_api.mock.requests_to(TEMPLATE)) == 4 and not mock_api.mock.sent


async def test_http_errors_and_bad_requests(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.fail_next(0, path="/cgi-bin/message/send", http_status=503)
    mock_api.mock.fail_next(47003, path=TEMPLATE)
    await queue(services, ("wecom", "zhang", "w"), ("mp", "o-1", "t"))
    await worker_for(services).run_once()
    wecom, template = await delivery_by_key(services.db, "w"), await delivery_by_key(services.db, "t")
    assert wecom.status == DeliveryStatus.QUEUED and wecom.last_error == "HTTP 503"
    assert (template.status, template.error_code) == (DeliveryStatus.FAILED, 47003)


async def test_per_recipient_limit_defers_without_spending_attempts(
    services: Services, mock_api: MockApi, clock: FrozenClock
) -> None:
    await queue(services, *[("wecom", "zhang", f"k{n:02}") for n in range(25)])
    worker = worker_for(services)
    assert await worker.run_once() == 20
    rows = await delivery_rows(services.db)
    waiting = [row for row in rows if row.status == DeliveryStatus.QUEUED]
    assert len(waiting) == 5 and all(row.attempts == 0 for row in waiting)
    assert all(row.next_attempt_at == clock.now() + timedelta(minutes=1) for row in waiting)
    assert await worker.run_once() == 0
    clock.advance(minutes=1, seconds=1)
    assert await worker.run_once() == 5
    assert len(mock_api.mock.sent_to("zhang")) == 25 and mock_api.mock.dropped == 0


async def test_global_rate_limit_is_honoured(
    db: Database, clock: FrozenClock, tmp_path: Path, db_url: str, mock_api: MockApi, http: aiohttp.ClientSession
) -> None:
    settings = outbound_settings(tmp_path, db_url, mock_api.url, delivery={"rate_per_second": 20})
    services = build_services(db, clock, settings, http)
    await queue(services, *[("wecom", f"u{n}", f"k{n}") for n in range(50)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    await worker_for(services).run_once()
    elapsed = loop.time() - started
    assert len(mock_api.mock.sent) == 50
    assert elapsed >= (50 - 2) / 20  # a bucket of 2 may go at once; the rest at 20 per second
    assert mock_api.mock.peak_rate() <= 22


# --- crashes ---------------------------------------------------------------------------------------------


async def crash_mid_batch(services: Services, api: MockApi, *, after_requests: int, path: str) -> None:
    """Run a worker until the platform has received ``after_requests`` sends, then kill it the way
    a crash would: its coroutines stop where they are, rows stay as they were."""
    api.mock.latency = 0.05  # sends are in flight when the crash comes
    doomed = asyncio.create_task(worker_for(services).run_once())
    await api.mock.wait_for_requests(after_requests, path)
    doomed.cancel()
    await asyncio.gather(doomed, return_exceptions=True)
    await api.mock.wait_until_idle()  # the platform finishes what it received
    api.mock.latency = 0.0


async def test_crash_mid_batch_of_templates_then_restart_sends_each_once(
    services: Services, mock_api: MockApi, clock: FrozenClock, db_url: str, http: aiohttp.ClientSession
) -> None:
    openids = [f"o-{n:03}" for n in range(60)]
    await queue(services, *[("mp", openid, f"notice:1:{openid}") for openid in openids])
    await crash_mid_batch(services, mock_api, after_requests=30, path=TEMPLATE)
    rows = await delivery_rows(services.db)
    assert any(row.status == DeliveryStatus.SENDING and row.channel == Channel.TEMPLATE for row in rows)
    arrived_before_crash = len(mock_api.mock.sent)
    assert arrived_before_crash >= 30

    # A new process: fresh Services and worker over the same database and platform.
    restarted_db = Database(db_url)
    try:
        restarted = build_services(restarted_db, clock, services.settings, http)
        worker = worker_for(restarted)
        await worker.run_once()  # the claims are younger than the lease: nothing is touched
        assert len(mock_api.mock.sent) == arrived_before_crash
        clock.advance(seconds=DEFAULT_LEASE.total_seconds() + 1)
        while await worker.run_once():
            pass
    finally:
        await restarted_db.dispose()

    assert sorted(s.to for s in mock_api.mock.sent) == openids  # every member exactly once
    assert mock_api.mock.deduped >= 1  # some repeats happened and the platform's client_msg_id caught them
    assert all(row.status == DeliveryStatus.SENT for row in await delivery_rows(services.db))


async def test_customer_service_send_in_doubt_is_not_repeated(
    services: Services, mock_api: MockApi, clock: FrozenClock
) -> None:
    await member_wrote(services, mock_api, "o-1")
    await queue(services, ("mp", "o-1", "late-reply"))
    await crash_mid_batch(services, mock_api, after_requests=1, path=CUSTOM)
    clock.advance(seconds=DEFAULT_LEASE.total_seconds() + 1)
    worker = worker_for(services)
    await worker.run_once()
    await worker.run_once()
    row = await delivery_by_key(services.db, "late-reply")
    assert row.status == DeliveryStatus.FAILED
    assert row.last_error is not None and row.last_error.startswith("outcome unknown")
    assert len(mock_api.mock.requests_to(CUSTOM)) == 1 and not mock_api.mock.requests_to(TEMPLATE)


async def test_template_in_doubt_past_the_dedupe_window_is_not_repeated(
    services: Services, mock_api: MockApi, clock: FrozenClock
) -> None:
    await queue(services, ("mp", "o-1", "k"))
    await crash_mid_batch(services, mock_api, after_requests=1, path=TEMPLATE)
    clock.advance(minutes=15)  # the process stayed down longer than client_msg_id protects
    await worker_for(services).run_once()
    await worker_for(services).run_once()
    row = await delivery_by_key(services.db, "k")
    assert row.status == DeliveryStatus.FAILED and "dedupe window has passed" in (row.last_error or "")
    assert len(mock_api.mock.requests_to(TEMPLATE)) == 1


async def test_a_claim_that_never_chose_a_channel_is_simply_sent_again(
    services: Services, mock_api: MockApi, clock: FrozenClock
) -> None:
    await member_wrote(services, mock_api, "o-1")
    await queue(services, ("mp", "o-1", "k"))
    await worker_for(services)._claim(clock.now())  # the process died right after claiming
    clock.advance(seconds=DEFAULT_LEASE.total_seconds() + 1)
    await worker_for(services).run_once()  # back to queued, not in doubt …
    await worker_for(services).run_once()  # … and sent, still by customer-service message
    row = await delivery_by_key(services.db, "k")
    assert (row.status, row.channel, row.attempts) == (DeliveryStatus.SENT, Channel.CUSTOM, 2)


# --- the background loop ------------------------------------------------------------------------------


async def test_start_wake_stop(services: Services, mock_api: MockApi) -> None:
    worker = worker_for(services)
    services.delivery = worker
    await worker.start()
    try:
        await queue(services, ("wecom", "zhang", "k"))
        services.wake_delivery()
        await mock_api.mock.wait_for_requests(1, "/cgi-bin/message/send")
    finally:
        await worker.stop()
    assert (await delivery_by_key(services.db, "k")).status == DeliveryStatus.SENT
