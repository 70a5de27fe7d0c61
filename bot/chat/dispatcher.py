"""The dispatcher: from a parsed event to a reply, safely.

For every event, in this order:

1. **Retry dedupe.** A retry of a message still being handled in this process gets ``None`` ("success")
   at once; one already handled gets the stored answer again (or ``None`` if it went out as a push).
2. **Per-member order.** Messages of one member are handled one at a time, in arrival order (a FIFO
   ``asyncio.Lock`` per member, taken before any ``await``, and on PostgreSQL an advisory transaction
   lock so several worker processes keep the same order). Different members run in parallel.
3. **One transaction.** Conversation state, the handler's writes, queued pushes and the inbound
   record are committed together before the reply leaves: nothing acknowledged is lost, and a message
   is never handled twice.
4. **The 5-second rule.** :meth:`Dispatcher.feed` waits at most until the transport's deadline. A
   handler still running then is left to finish; its reply goes out as a push, and the transport
   answers "success" in time.
4b. **Overload.** With ``server.max_inflight`` messages already in hand, or while an older message of
   the same member waits in the inbox, a message is committed to the inbox and answered "success" at
   once; the drainer handles the inbox oldest first and pushes the replies (bot/chat/inbox.py). The answer
   stays fast however far the load exceeds what the server can handle, members' messages keep their
   order, and everyone else is answered inline again as soon as there is room.
5. **Error boundary.** A handler's exception rolls its transaction back and becomes a polite apology
   with a reference number; the traceback is logged with that number.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.context import Context
from bot.chat.conversations import load_conversation, save_conversation
from bot.chat.events import Event, Kind
from bot.chat.inbox import REMOVE as _UNQUEUE
from bot.chat.inbox import Inbox
from bot.chat.router import Router, RouteTable
from bot.domain.audit import acting_through
from bot.infra.direct import Direct
from bot.infra.services import Services
from bot.outbound.message import Reply, as_reply
from bot.outbound.queue import enqueue
from bot.outbound.window import record_interaction
from models.audit import Channel
from models.conversation import InboundMessage
from models.member import Identity, Member

log = logging.getLogger(__name__)

# A passive reply over 2048 bytes is refused by the platform; longer texts are split and the rest pushed.
PASSIVE_LIMITED = frozenset({"mp", "wecom"})
PASSIVE_REPLY_BYTES = 2000

# Events of these kinds are answered with nothing, per the platform's rules (LOCATION reports).
SILENT_KINDS = frozenset({Kind.REPORT_LOCATION, Kind.UNSUBSCRIBE, Kind.VIEW})
_INTERACTION_OF = {Kind.CLICK: "click", Kind.SUBSCRIBE: "subscribe", Kind.SCAN: "scan"}


@dataclass(slots=True)
class Outcome:
    reply: Reply | None
    pushed: bool = False  # the reply was already queued as a push (the deadline had passed)


class _Deadline:
    """Set by :meth:`Dispatcher.feed` when it stopped waiting: the reply must go out as a push."""

    __slots__ = ("passed",)

    def __init__(self) -> None:
        self.passed = False


class Dispatcher:
    def __init__(self, services: Services, routers: Iterable[Router]) -> None:
        self.services = services
        self.table = RouteTable(routers)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._inflight: dict[str, asyncio.Task[Outcome]] = {}
        self._late: set[asyncio.Task[None]] = set()
        self.inbox = Inbox(services.db)
        self.max_inflight = services.settings.server.max_inflight
        self._drainer: asyncio.Task[None] | None = None
        self._stopping = False
        # What this process has in the inbox: dedupe key → session key, and how many per session key
        # (a member with a message waiting there has the next ones wait there too, to keep their order).
        self._waiting: dict[str, str] = {}
        self._waiting_members: collections.Counter[str] = collections.Counter()

    # --- entry point ------------------------------------------------------------------------------

    async def feed(self, event: Event, deadline: float | None = None) -> Reply | None:
        """Handle ``event`` and return the reply to give inline, or ``None`` for "success".

        ``deadline`` is a ``loop.time()`` by which the transport must answer; by default the reply
        budget from now.
        """
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self.services.settings.server.reply_budget_seconds
        if event.dedupe_key in self._inflight:
            log.info("retry of a message still being handled: %s", event.dedupe_key)
            return None
        if len(self._inflight) >= self.max_inflight or event.session_key in self._waiting_members:
            await self._defer(event)
            return None
        late = _Deadline()
        # No await before create_task: tasks start in creation order, so they queue on the
        # member's lock in arrival order.
        task = loop.create_task(self._process(event, late))
        self._inflight[event.dedupe_key] = task
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        if task in done:
            self._inflight.pop(event.dedupe_key, None)
            return task.result().reply
        late.passed = True
        log.warning("handler passed the reply deadline; the reply will be pushed: %s", event.dedupe_key)
        follow_up = loop.create_task(self._push_when_done(event, task))
        self._late.add(follow_up)
        follow_up.add_done_callback(self._late.discard)
        return None

    async def drain(self) -> None:
        """Shutdown: stop taking messages from the inbox (they stay there for the next start) and wait
        for the one in hand and for handlers that passed their deadline."""
        self._stopping = True
        try:
            await self.drainer_done()
            while self._late:
                await asyncio.gather(*list(self._late), return_exceptions=True)
        finally:
            self._stopping = False

    @property
    def busy(self) -> bool:
        """The drainer is handling the inbox."""
        return self._drainer is not None

    @property
    def in_hand(self) -> int:
        """Messages being handled (counted against ``server.max_inflight``)."""
        return len(self._inflight)

    @property
    def waiting(self) -> int:
        """Messages this process put in the inbox that are not handled yet."""
        return len(self._waiting)

    async def resume_inbox(self) -> None:
        """Start-up, before the first message: what a stop left in the inbox is handled first."""
        for dedupe_key, session_key in await self.inbox.waiting():
            self._note_waiting(dedupe_key, session_key)
        self.start_drainer()

    async def handle_inbox(self) -> None:
        """Handle what waits in the inbox and return when it is empty."""
        self.start_drainer()
        await self.drainer_done()

    async def drainer_done(self) -> None:
        """Wait for the drainer's current run, if any, to end (without starting one)."""
        if self._drainer is not None:
            await asyncio.shield(self._drainer)

    # --- overload: the inbox ------------------------------------------------------------------------

    async def _defer(self, event: Event) -> None:
        if self._drainer is None:
            log.warning("busy (%d messages in hand): answering 'success' and handling from the inbox",
                        len(self._inflight))
        # Noted before the write: from now on this member's messages queue behind this one.
        noted = self._note_waiting(event.dedupe_key, event.session_key)
        self.start_drainer()
        try:
            await self.inbox.put(event, self.services.clock.now())
        except BaseException:
            if noted:
                self._forget_waiting(event.dedupe_key)
            raise

    def _note_waiting(self, dedupe_key: str, session_key: str) -> bool:
        if dedupe_key in self._waiting:
            return False  # a retry of a message already waiting
        self._waiting[dedupe_key] = session_key
        self._waiting_members[session_key] += 1
        return True

    def _forget_waiting(self, dedupe_key: str) -> None:
        session_key = self._waiting.pop(dedupe_key, None)
        if session_key is not None:
            self._waiting_members[session_key] -= 1
            if self._waiting_members[session_key] <= 0:
                del self._waiting_members[session_key]

    def start_drainer(self) -> None:
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain_inbox())

    async def _drain_inbox(self) -> None:
        """Oldest first, one at a time, until the inbox is empty. Each message is tried once per run: one
        whose handling and apology both failed (a broken database) stays for the next run."""
        tried: set[str] = set()
        after = 0
        emptied = False
        try:
            while not self._stopping:
                commits = self.inbox.commits
                rows = [(row_id, event) for row_id, event in await self.inbox.after(after)
                        if event.dedupe_key not in tried]
                if not rows:
                    if self.inbox.writing or self.inbox.commits != commits:
                        # a write is going on, or committed while we read (perhaps after our snapshot)
                        await self.inbox.settled()
                    elif after:
                        after = 0  # once more from the start: PostgreSQL may commit ids out of order
                    else:
                        emptied = True
                        break
                    continue
                for row_id, event in rows:
                    if self._stopping:
                        break
                    after = row_id
                    tried.add(event.dedupe_key)
                    await self._handle_deferred(event)
                    self._forget_waiting(event.dedupe_key)
        except Exception:
            log.exception("the inbox drainer stopped; what is left is handled by the next one")
        finally:
            self._drainer = None
            if emptied:  # what is still noted was handled by another worker's drainer
                self._waiting.clear()
                self._waiting_members.clear()
            if tried:
                log.warning("inbox: handled %d messages; answering inline again", len(tried))

    async def _handle_deferred(self, event: Event) -> None:
        late = _Deadline()
        late.passed = True  # "success" was answered long ago: the reply can only be pushed
        task = asyncio.get_running_loop().create_task(self._process(event, late, from_inbox=True))
        self._inflight[event.dedupe_key] = task
        await self._push_when_done(event, task)

    # --- the per-message transaction ----------------------------------------------------------------

    async def _process(self, event: Event, late: _Deadline, *, from_inbox: bool = False) -> Outcome:
        async with self._member_lock(event.session_key):
            started = time.perf_counter()
            try:
                with acting_through(Channel.CHAT):  # also for the inbox drainer: it was a message all the same
                    outcome = await self._handle_once(event, late, from_inbox)
            except Exception:
                outcome = await self._apologise(event)
            # DEBUG, not INFO (bench/callback.py): one formatted, masked line per message cost ~40 µs of
            # the loop's time at thousands of messages a second; warnings and errors still log.
            log.debug(
                "handled %s from %s in %.1f ms",
                event.kind.value, event.session_key, (time.perf_counter() - started) * 1000,
            )
            return outcome

    async def _handle_once(self, event: Event, late: _Deadline, from_inbox: bool) -> Outcome:
        services = self.services
        now = services.clock.now()
        async with services.db.session() as session:
            await self._lock_member_across_processes(session, event.session_key)
            if from_inbox:
                await _UNQUEUE.run(session, {"key": event.dedupe_key})  # in the transaction that handles it
            prior = await _PRIOR.first(session, {"key": event.dedupe_key})
            if prior is not None:
                log.info("duplicate delivery of %s answered from the record", event.dedupe_key)
                return _outcome_of(prior)
            await self._record_interaction(session, event, now)
            ctx = await self._context(session, event)
            reply = await self._run_handler(ctx)
            if reply is not None and event.platform in PASSIVE_LIMITED:
                reply = await self._fit_passive_limit(session, event, reply, now)
            await save_conversation(session, ctx.conv, now)
            replied_later = reply is not None and late.passed
            if replied_later:
                await self._queue_late_reply(session, event, reply)
            await _RECORD.run(session, {
                "dedupe_key": event.dedupe_key, "session_key": event.session_key, "received_at": now,
                "replied_later": replied_later, "reply": None if replied_later or reply is None else reply.to_dict(),
            })
        if replied_later or ctx.pushed:
            services.wake_delivery()
        if ctx.scheduled and services.scheduler is not None:
            services.scheduler.sync_soon()
        return Outcome(reply, pushed=replied_later)

    async def _context(self, session: AsyncSession, event: Event) -> Context:
        idle = timedelta(minutes=self.services.settings.conversation.idle_timeout_minutes)
        conversation = await load_conversation(session, event.session_key, self.services.clock.now(), idle)
        member = await find_member(session, event.platform, event.user_id)
        return Context(event=event, session=session, services=self.services, conv=conversation, routes=self.table,
                       member=member)

    async def _run_handler(self, ctx: Context) -> Reply | None:
        event = ctx.event
        if event.kind in SILENT_KINDS:
            return None
        found = self.table.find(event.kind, event.text, event.key, ctx.conv.state)
        if found is None:
            reply = None
        else:
            route, ctx.match = found
            reply = as_reply(await route.handler(ctx))
        if ctx.conv.expired_state:
            reply = _with_notice(ctx.t("conversation.expired_before"), reply)
        return reply

    # --- what happens around the handler ----------------------------------------------------------

    async def _lock_member_across_processes(self, session: AsyncSession, session_key: str) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs an explicit lock so
        # that two worker processes never interleave one member's messages.
        if not self.services.db.is_sqlite:
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(session_key.encode())})

    async def _record_interaction(self, session: AsyncSession, event: Event, now: datetime) -> None:
        if event.platform != "mp" or event.kind in SILENT_KINDS:
            return

        kind = _INTERACTION_OF.get(event.kind, "message")
        await record_interaction(session, platform=event.platform, user_id=event.user_id, kind=kind, at=now)

    async def _queue_late_reply(self, session: AsyncSession, event: Event, reply: Reply) -> None:

        await enqueue(session, platform=event.platform, recipient=event.user_id, reply=reply,
                      key=f"late-reply:{event.dedupe_key}")

    async def _fit_passive_limit(self, session: AsyncSession, event: Event, reply: Reply, now: datetime) -> Reply:
        if reply.article is not None or len(reply.text.encode()) <= PASSIVE_REPLY_BYTES:
            return reply

        first, *rest = split_text(reply.text, PASSIVE_REPLY_BYTES)
        for number, part in enumerate(rest, start=1):
            # a moment later, so the pushed parts arrive after the inline first part
            await enqueue(session, platform=event.platform, recipient=event.user_id, reply=Reply(text=part),
                          key=f"reply-part:{number}:{event.dedupe_key}", not_before=now + timedelta(seconds=2))
        return Reply(text=first, extra=reply.extra)

    async def _push_when_done(self, event: Event, task: asyncio.Task[Outcome]) -> None:
        """The deadline passed (or "success" was answered from the inbox): the reply reaches the member once,
        as a push."""
        try:
            outcome = await task
            if outcome.reply is None or outcome.pushed:
                return
            # The handler committed its reply inline just as the deadline passed: push it now.
            async with self.services.db.session() as session:
                record = await session.get(InboundMessage, event.dedupe_key)
                if record is not None:
                    record.reply, record.replied_later = None, True
                await self._queue_late_reply(session, event, outcome.reply)
            self.services.wake_delivery()
        except Exception:
            log.exception("could not push the late reply to %s", event.dedupe_key)
        finally:
            self._inflight.pop(event.dedupe_key, None)

    async def _apologise(self, event: Event) -> Outcome:
        ref = secrets.token_hex(4).upper()
        log.exception("handler failed for %s, reference %s", event.dedupe_key, ref)
        reply = Reply(text=self.services.texts("error.apology", ref=ref))
        try:
            async with self.services.db.session() as session:
                if await session.get(InboundMessage, event.dedupe_key) is None:
                    session.add(InboundMessage(
                        dedupe_key=event.dedupe_key, session_key=event.session_key, reply=reply.to_dict(),
                        error_ref=ref, received_at=self.services.clock.now(),
                    ))
        except Exception:
            log.exception("could not record the failed message %s (reference %s)", event.dedupe_key, ref)
        return Outcome(reply)

    def _member_lock(self, session_key: str) -> _MemberLock:
        return _MemberLock(self._locks, session_key)


class _MemberLock:
    """A per-member ``asyncio.Lock`` that is forgotten when nobody holds or waits for it."""

    __slots__ = ("_key", "_lock", "_locks")

    def __init__(self, locks: dict[str, tuple[asyncio.Lock, int]], key: str) -> None:
        self._locks, self._key = locks, key
        lock, users = locks.get(key) or (asyncio.Lock(), 0)
        locks[key] = (lock, users + 1)
        self._lock = lock

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()
        lock, users = self._locks[self._key]
        if users <= 1:
            del self._locks[self._key]
        else:
            self._locks[self._key] = (lock, users - 1)


def split_text(text: str, limit_bytes: int) -> list[str]:
    """Cut ``text`` into parts of at most ``limit_bytes`` UTF-8 bytes, at line ends where possible."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > limit_bytes:  # a single over-long line: cut by characters
            cut = len(line.encode()[:limit_bytes].decode(errors="ignore"))
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > limit_bytes:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    return [part.rstrip("\n") for part in parts]


def _with_notice(notice: str, reply: Reply | None) -> Reply:
    if reply is None:
        return Reply(text=notice)
    if reply.article is not None:
        return reply
    return Reply(text=f"{notice}\n\n{reply.text}", extra=reply.extra)


def _outcome_of(record: Any) -> Outcome:
    if record.replied_later or record.reply is None:
        return Outcome(None, pushed=record.replied_later)
    return Outcome(Reply.from_dict(record.reply))


# The statements every message runs, built once: a statement object that is reused keeps its cache key
# and compiled form (building them per message cost more CPU than executing them, bench/callback.py).
# The frame's own are Direct statements: on SQLite they skip SQLAlchemy's execution pipeline (bot/infra/direct.py).
_INBOUND = InboundMessage.__table__
_PRIOR = Direct(select(_INBOUND.c.reply, _INBOUND.c.replied_later).where(_INBOUND.c.dedupe_key == bindparam("key")))
_RECORD = Direct(insert(_INBOUND).values({
    name: bindparam(name) for name in ("dedupe_key", "session_key", "received_at", "replied_later", "reply")
}))
_MEMBER_OF_IDENTITY = (
    select(Member)
    .join(Identity, Identity.member_id == Member.id)
    .where(Identity.platform == bindparam("platform"), Identity.external_id == bindparam("user_id"))
)


async def find_member(session: AsyncSession, platform: str, user_id: str) -> Member | None:
    """The member bound to this chat identity, if any."""
    return (await session.scalars(_MEMBER_OF_IDENTITY, {"platform": platform, "user_id": user_id})).first()
