"""The inbox: messages answered "success" at once because the server was busy, handled right after.

WeChat gives a message 5 seconds and then retries it. When messages arrive faster than they can be
handled, making each one wait only makes every answer later, until the platform times out and sends
everything again — at a plenary opening, the busiest minute of the year. So the dispatcher handles at
most ``server.max_inflight`` messages at once. Beyond that, and for a member who already has a message
waiting here (so their messages keep their order), a message is written to this inbox, and "success" is
answered only once that write is committed. Everyone else is answered inline again as soon as there is
room: the server does not stay in this mode because of its own backlog.

    Dispatcher.feed ─► fewer than max_inflight in hand, nothing of the member's waiting ─► handled now
                   └─► otherwise ─► Inbox.put (group commit) ─► "success"
    inbox ─► the dispatcher's drainer, oldest first, one at a time ─► handled as usual, reply pushed

Nothing acknowledged is lost: the row is committed before the answer, and it is deleted in the very
transaction that handles the message and records its ``InboundMessage``, so a crash or a restart in
between leaves it to be handled once, by the next drainer (``lvzhi serve`` starts one at start-up, and
notes whose messages wait before it takes any new one).

Order across worker processes: a member's later message reaching another worker is not held back by
one waiting in this worker's inbox (each worker knows its own). WeChat sends a member's messages one
by one, so this needs a member to write twice within the moment one worker is overloaded.

Writes are grouped: the messages that arrive while one write commits go together into the next, so
under load a transaction (on SQLite, a turn at the single writer) is shared by many messages.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select

from bot.chat.events import Event
from bot.infra.db import Database
from bot.infra.direct import Direct
from bot.infra.sql import insert_ignore
from models.conversation import InboxMessage

_TABLE = InboxMessage.__table__
REMOVE = Direct(delete(_TABLE).where(_TABLE.c.dedupe_key == bindparam("key")))
_AFTER = select(_TABLE.c.id, _TABLE.c.event).where(_TABLE.c.id > bindparam("after")).order_by(_TABLE.c.id)


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._unwritten: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0  # writes committed so far: a reader compares it before and after its read

    @property
    def writing(self) -> bool:
        """Messages are being written that a reader may not see yet."""
        return self._writer is not None

    async def put(self, event: Event, now: datetime) -> None:
        """Return once ``event`` is committed to the inbox (a retry of a message already there is ignored)."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        row = {"dedupe_key": event.dedupe_key, "session_key": event.session_key, "event": event.to_dict(),
               "received_at": now}
        self._unwritten.append((row, written))
        if self._writer is None:
            self._writer = loop.create_task(self._write())
        await written

    async def settled(self) -> None:
        """Wait until every message put so far is committed (or has failed)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def waiting(self) -> list[tuple[str, str]]:
        """Dedupe key and session key of every message in the inbox."""
        async with self.db.reader() as session:
            return [(row.dedupe_key, row.session_key)
                    for row in await session.execute(select(_TABLE.c.dedupe_key, _TABLE.c.session_key))]

    async def after(self, row_id: int, limit: int = 100) -> list[tuple[int, Event]]:
        """The oldest messages with an id above ``row_id``."""
        async with self.db.reader() as session:
            rows = (await session.execute(_AFTER.limit(limit), {"after": row_id})).all()
        return [(row.id, Event.from_dict(row.event)) for row in rows]

    async def _write(self) -> None:
        try:
            while self._unwritten:
                batch, self._unwritten = self._unwritten, []
                try:
                    async with self.db.session() as session:
                        await insert_ignore(session, _TABLE, [row for row, _ in batch], ["dedupe_key"])
                except Exception as exc:
                    for _, written in batch:
                        if not written.done():
                            written.set_exception(exc)
                    continue
                self.commits += 1
                for _, written in batch:
                    if not written.done():
                        written.set_result(None)
        finally:
            self._writer = None

