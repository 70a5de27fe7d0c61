"""The delivery worker: drains the ``delivery`` table, once per idempotency key, at the allowed rate.

One pass (:meth:`DeliveryWorker.run_once`):

1. **resolve stale claims** — rows left ``sending`` past the lease by a process that died go back to
   ``queued``, marked *in doubt* if their send may have started;
2. **claim** due rows atomically (``queued → sending``, ``attempts + 1``) in one ``UPDATE … RETURNING``
   whose subquery uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's write lock serialises claims);
3. hold back rows over the **per-recipient** limit (they go back to ``queued`` for later, attempt refunded);
4. **choose and record the channel** of every row before anything is sent, so that after a crash it is
   known what may have been sent; simulator rows are written to the simulator log right there;
5. **send** concurrently through one global rate limiter, and record each outcome in its own transaction.

Errors: transient ones (-1, 5xx, network, token trouble) are retried with exponential backoff and jitter
until ``max_attempts``, then ``given_up``; 45009 (daily quota) is retried no sooner than 30 minutes;
43004 and other permanent errors are ``failed`` with the reason; a customer-service message refused for
its window (45015 / 45047) falls back to a template message at once. The crash policy is in
docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter
from sqlalchemy import select, update

from bot.outbound.client import client_msg_id, template_fields, wechat_client, wecom_client
from bot.outbound.errors import (
    WINDOW_COUNT_EXCEEDED,
    NotSubscribedError,
    OutOfWindowError,
    QuotaError,
    TokenError,
    TransientError,
    WechatError,
)
from bot.outbound.message import Reply
from bot.outbound.window import close_window, members_with_open_window, reserve_custom_slot
from models.delivery import Channel, Delivery, DeliveryStatus, SimMessage

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

# A claim older than this is presumed dead (its process crashed). It must exceed the longest time a live
# worker holds a row: the rate limiter's queue for one batch plus an HTTP timeout plus a token refresh.
DEFAULT_LEASE = timedelta(minutes=2)
POLL_SECONDS = 5.0
STOP_GRACE_SECONDS = 20.0
MAX_BACKOFF = timedelta(hours=1)
QUOTA_RETRY = timedelta(minutes=30)

# How long the platform's dedupe id covers a repeat, with a margin for clock skew. A send in doubt is
# repeated only inside this window; beyond it, repeating could duplicate, so the row is failed instead.
DEDUPE_WINDOWS: dict[str, timedelta] = {
    Channel.TEMPLATE: timedelta(minutes=9),  # client_msg_id: 10 minutes
    Channel.APP: timedelta(hours=3, minutes=50),  # enable_duplicate_check with a 4-hour interval
}

UNKNOWN_OUTCOME = (
    "outcome unknown: the {channel} send may have reached the member; not repeated "
    "because the platform cannot dedupe it ({why})"
)


@dataclass(slots=True)
class Claimed:
    """A row this worker holds (status ``sending``) for one attempt."""

    id: int
    key: str
    platform: str
    recipient: str
    reply: Reply
    channel: str | None
    attempts: int
    claimed_at: datetime
    in_doubt_since: datetime | None


class DeliveryWorker:
    def __init__(
        self,
        services: Services,
        *,
        lease: timedelta = DEFAULT_LEASE,
        poll_seconds: float = POLL_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings.delivery
        self.lease = lease
        self.poll_seconds = poll_seconds
        self._rng = rng or random.Random()
        rate = self.settings.rate_per_second
        self._limiter = rate_limiter(rate)
        self._recent: dict[str, deque[datetime]] = defaultdict(deque)
        self._wake = asyncio.Event()
        self._outbox: list[tuple[Claimed, dict[str, Any]]] = []
        self._write_lock = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle (the app factory) ----------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="lvzhi-delivery")

    async def stop(self) -> None:
        """Let the batch in hand finish (up to 20 s), then cancel; unfinished rows stay ``sending`` and
        are resolved by the crash policy after the lease."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_SECONDS)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        """Passes overlap by one: the next batch is claimed as soon as every send of the current one has
        passed the rate limiter, so the limiter never idles while the last responses come back."""
        previous: asyncio.Task[int] | None = None
        while not self._stopping:
            self._wake.clear()
            all_started = asyncio.Event()
            current = asyncio.create_task(self._guarded_pass(all_started))
            await asyncio.wait({current, asyncio.create_task(all_started.wait())}, return_when=asyncio.FIRST_COMPLETED)
            if previous is not None:
                await previous
            previous = current
            if current.done() and not current.result() and not self._stopping:
                previous = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        if previous is not None:
            await previous

    async def _guarded_pass(self, all_started: asyncio.Event) -> int:
        try:
            return await self.run_once(all_started=all_started)
        except Exception:
            log.exception("delivery pass failed; trying again after the poll interval")
            return 0
        finally:
            all_started.set()

    # --- one pass ------------------------------------------------------------------------------------

    async def run_once(self, *, all_started: asyncio.Event | None = None) -> int:
        """Claim, send and settle one batch of due rows; the number of rows settled or deferred.
        ``all_started`` is set once every send of the batch has passed the rate limiter."""
        now = self.services.clock.now()
        await self.resolve_stale(now)
        rows = await self._claim(now)
        if not rows:
            return 0
        rows = await self._hold_back_over_limit(rows, now)
        to_send = await self._choose_channels(rows, now)
        started = _Countdown(len(to_send), all_started)
        await asyncio.gather(*(self._send(row, started) for row in to_send))
        return len(rows)

    async def resolve_stale(self, now: datetime) -> int:
        """Rows whose claim outlived the lease: back to ``queued``; in doubt if their channel was chosen
        (the send may have started). The next pass applies the crash policy to them."""
        cutoff = now - self.lease
        async with self.services.db.session() as session:
            stale = (
                await session.execute(
                    select(Delivery.id, Delivery.channel, Delivery.claimed_at, Delivery.in_doubt_since).where(
                        Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at < cutoff
                    )
                )
            ).all()
            for row_id, channel, claimed_at, doubt in stale:
                await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == row_id,
                        Delivery.status == DeliveryStatus.SENDING,
                        Delivery.claimed_at == claimed_at,
                    )
                    .values(
                        status=DeliveryStatus.QUEUED,
                        claimed_at=None,
                        next_attempt_at=now,
                        in_doubt_since=doubt or (claimed_at if channel else None),
                    )
                )
        if stale:
            log.warning("recovered %d deliveries left sending by a stopped worker", len(stale))
        return len(stale)

    async def _claim(self, now: datetime) -> list[Claimed]:
        due = (
            select(Delivery.id)
            .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(self.settings.batch_size)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(Delivery)
            .where(Delivery.id.in_(due.scalar_subquery()))
            .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1, claimed_at=now)
            .returning(
                Delivery.id,
                Delivery.idempotency_key,
                Delivery.platform,
                Delivery.recipient,
                Delivery.payload,
                Delivery.channel,
                Delivery.attempts,
                Delivery.in_doubt_since,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.services.db.session() as session:
            result = (await session.execute(claim)).all()
        rows = [
            Claimed(
                r.id,
                r.idempotency_key,
                r.platform,
                r.recipient,
                Reply.from_dict(r.payload or {}),
                r.channel,
                r.attempts,
                now,
                r.in_doubt_since,
            )
            for r in result
        ]
        return sorted(rows, key=lambda row: row.id)

    async def _hold_back_over_limit(self, rows: list[Claimed], now: datetime) -> list[Claimed]:
        """Keep each recipient within ``per_recipient_per_minute``; the rest wait, their attempt refunded."""
        limit, kept, held = self.settings.per_recipient_per_minute, [], []
        taken: dict[str, int] = defaultdict(int)
        for row in rows:
            if row.platform == "sim":
                kept.append(row)
                continue
            recent = self._recent_sends(row.recipient, now)
            if len(recent) + taken[row.recipient] < limit:
                taken[row.recipient] += 1
                kept.append(row)
            else:
                held.append((row, recent[0] + timedelta(minutes=1) if recent else now + timedelta(minutes=1)))
        if held:
            async with self.services.db.session() as session:
                for row, when in held:
                    await session.execute(
                        update(Delivery)
                        .where(Delivery.id == row.id, Delivery.status == DeliveryStatus.SENDING)
                        .values(
                            status=DeliveryStatus.QUEUED,
                            attempts=Delivery.attempts - 1,
                            claimed_at=None,
                            next_attempt_at=when,
                        )
                    )
        return kept

    def _recent_sends(self, recipient: str, now: datetime) -> deque[datetime]:
        recent = self._recent[recipient]
        while recent and recent[0] <= now - timedelta(minutes=1):
            recent.popleft()
        if not recent:
            self._recent.pop(recipient, None)  # keeps the map as small as the active recipients
            return deque()
        return recent

    async def _choose_channels(self, rows: list[Claimed], now: datetime) -> list[Claimed]:
        """Decide each row's channel and commit it before sending. Simulator rows are delivered here, in the
        same transaction that marks them sent; rows in doubt that cannot be repeated are failed."""
        to_send: list[Claimed] = []
        async with self.services.db.session() as session:
            windows = await members_with_open_window(session, [r.recipient for r in rows if r.platform == "mp"], now)
            for row in rows:
                if row.platform == "sim":
                    await self._deliver_to_simulator(session, row, now)
                    continue
                if row.in_doubt_since is not None and row.channel:
                    reason = self._doubt_forbids_repeat(row, now)
                    if reason:
                        await _settle(session, row, status=DeliveryStatus.FAILED, error=reason, code=None)
                        continue
                else:
                    row.channel = await self._channel_for(session, row, now, row.recipient in windows)
                to_send.append(row)
            for channel in {row.channel for row in to_send}:
                ids = [row.id for row in to_send if row.channel == channel]
                await session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(channel=channel))
        return to_send

    async def _channel_for(self, session: Any, row: Claimed, now: datetime, window_open: bool) -> str:
        if row.platform == "mp":
            reserved = window_open and await reserve_custom_slot(session, platform="mp", user_id=row.recipient, now=now)
            return Channel.CUSTOM if reserved else Channel.TEMPLATE
        return {"wecom": Channel.APP, "appchat": Channel.APPCHAT, "robot": Channel.ROBOT}[row.platform]

    def _doubt_forbids_repeat(self, row: Claimed, now: datetime) -> str | None:
        """Why a send in doubt must not be repeated, or None when the platform's dedupe id still covers it."""
        window = DEDUPE_WINDOWS.get(row.channel or "")
        if window is None:
            return UNKNOWN_OUTCOME.format(channel=row.channel, why="it has no dedupe id")
        assert row.in_doubt_since is not None
        if now - row.in_doubt_since > window:
            return UNKNOWN_OUTCOME.format(channel=row.channel, why="its dedupe window has passed")
        return None

    async def _deliver_to_simulator(self, session: Any, row: Claimed, now: datetime) -> None:
        session.add(SimMessage(user_id=row.recipient, direction="out", payload=row.reply.to_dict(), created_at=now))
        row.channel = Channel.SIM
        await _settle(session, row, status=DeliveryStatus.SENT, sent_at=now)

    # --- sending ---------------------------------------------------------------------------------------

    async def _send(self, row: Claimed, started: _Countdown) -> None:
        try:
            async with self._limiter:
                # Counted when it starts, so overlapping passes cannot exceed the per-recipient limit.
                self._recent[row.recipient].append(self.services.clock.now())
                started.tick()
                await self._transmit(row)
        except WechatError as error:
            outcome = self._outcome_of(row, error)
        except Exception as error:  # a bug or a database hiccup: retry, keep the reason visible
            log.exception("delivery %s failed unexpectedly", row.id)
            outcome = self._outcome_of(row, TransientError(None, f"{type(error).__name__}: {error}"))
        else:
            outcome = {"status": DeliveryStatus.SENT, "sent_at": self.services.clock.now()}
        await self._record(row, outcome)

    async def _record(self, row: Claimed, outcome: dict[str, Any]) -> None:
        """Write an outcome. Outcomes that finish while another write is under way are committed together
        with the next one (group commit): one transaction per handful of sends, not per send, and a row
        still waits only milliseconds in ``sending`` after its send returned."""
        self._outbox.append((row, outcome))
        async with self._write_lock:
            batch, self._outbox = self._outbox, []
            if not batch:
                return  # an earlier writer committed this one along with its own
            async with self.services.db.session() as session:
                for done, values in batch:
                    await _settle(session, done, **values)

    async def _transmit(self, row: Claimed) -> None:
        if row.channel == Channel.CUSTOM:
            try:
                await wechat_client(self.services).send_custom(row.recipient, row.reply)
                return
            except (OutOfWindowError, QuotaError) as error:
                if isinstance(error, QuotaError) and error.code != WINDOW_COUNT_EXCEEDED:
                    raise
                await self._fall_back_to_template(row)
        if row.channel == Channel.TEMPLATE:
            data, url = template_fields(row.reply)
            await wechat_client(self.services).send_template(
                row.recipient, data, url=url, dedupe_id=client_msg_id(row.key)
            )
        elif row.channel == Channel.APP:
            await wecom_client(self.services).send_app_message([row.recipient], row.reply)
        elif row.channel == Channel.APPCHAT:
            await wecom_client(self.services).send_appchat(row.recipient, row.reply)
        elif row.channel == Channel.ROBOT:
            await wecom_client(self.services).send_webhook(row.recipient, row.reply)

    async def _fall_back_to_template(self, row: Claimed) -> None:
        """The platform refused the customer-service message (so nothing was sent): record the switch to
        a template message before sending it, and remember the window is closed."""
        row.channel = Channel.TEMPLATE
        async with self.services.db.session() as session:
            await close_window(session, platform="mp", user_id=row.recipient)
            await session.execute(update(Delivery).where(Delivery.id == row.id).values(channel=row.channel))

    def _outcome_of(self, row: Claimed, error: WechatError) -> dict[str, Any]:
        if isinstance(error, NotSubscribedError):
            return {"status": DeliveryStatus.FAILED, "error": "member unsubscribed", "code": error.code}
        if isinstance(error, TransientError) and error.uncertain and row.channel not in DEDUPE_WINDOWS:
            why = f"{error.message}; it has no dedupe id"
            return {
                "status": DeliveryStatus.FAILED,
                "code": error.code,
                "error": UNKNOWN_OUTCOME.format(channel=row.channel, why=why),
            }
        if not _is_retryable(error):
            return {"status": DeliveryStatus.FAILED, "error": str(error), "code": error.code}
        if row.attempts >= self.settings.max_attempts:
            return {
                "status": DeliveryStatus.GIVEN_UP,
                "code": error.code,
                "error": f"gave up after {row.attempts} attempts: {error}",
            }
        delay = self.backoff(row.attempts)
        if isinstance(error, QuotaError):
            delay = max(delay, QUOTA_RETRY)
        doubt = row.in_doubt_since
        if isinstance(error, TransientError) and error.uncertain and doubt is None:
            doubt = row.claimed_at
        return {
            "status": DeliveryStatus.QUEUED,
            "error": str(error),
            "code": error.code,
            "next_attempt_at": self.services.clock.now() + delay,
            "in_doubt_since": doubt,
        }

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with "equal jitter": half the step fixed, half random, capped at an hour."""
        step = min(self.settings.base_backoff_seconds * 2 ** (attempts - 1), MAX_BACKOFF.total_seconds())
        return timedelta(seconds=step / 2 + self._rng.uniform(0, step / 2))


def rate_limiter(rate: float) -> AsyncLimiter:
    """A leaky bucket that never lets more than ``rate`` sends start within any one second.

    A bucket of size b leaking at r admits up to r + b in a second, so it leaks at ``rate - b``: the small
    burst absorbs event-loop jitter without ever exceeding the configured rate (the price: at most 5 %
    below it on a long run). Tiny rates get a bucket of one, i.e. strict spacing.
    """
    burst = max(1.0, rate / 20)
    if rate < 2 * burst:
        return AsyncLimiter(1, 1 / rate)
    return AsyncLimiter(burst, burst / (rate - burst))


class _Countdown:
    """Sets an event after ``count`` ticks (at once when there is nothing to count)."""

    def __init__(self, count: int, event: asyncio.Event | None) -> None:
        self._left, self._event = count, event
        if count == 0 and event is not None:
            event.set()

    def tick(self) -> None:
        self._left -= 1
        if self._left <= 0 and self._event is not None:
            self._event.set()


def _is_retryable(error: WechatError) -> bool:
    return isinstance(error, TransientError | TokenError) or (
        isinstance(error, QuotaError) and error.code != WINDOW_COUNT_EXCEEDED
    )


async def _settle(
    session: Any,
    row: Claimed,
    *,
    status: DeliveryStatus,
    error: str | None = None,
    code: int | None = None,
    sent_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
    in_doubt_since: datetime | None = None,
) -> None:
    """Write an attempt's outcome, only if this worker's claim still holds the row."""
    values: dict[str, Any] = {
        "status": status,
        "channel": row.channel,
        "claimed_at": None,
        "in_doubt_since": in_doubt_since if status == DeliveryStatus.QUEUED else None,
    }
    if status == DeliveryStatus.SENT:
        values.update(sent_at=sent_at, last_error=None, error_code=None)
    else:
        values.update(last_error=(error or "")[:500], error_code=code)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    await session.execute(
        update(Delivery)
        .where(
            Delivery.id == row.id,
            Delivery.status == DeliveryStatus.SENDING,
            Delivery.claimed_at == row.claimed_at,
        )
        .values(**values)
    )
