"""Conversation state, loaded before a handler runs and written in the same transaction after it.

A conversation idle for longer than ``conversation.idle_timeout_minutes`` is over: the next message
starts afresh (its reply says the old one was closed), and the housekeeping sweep
(:func:`close_idle_conversations`) closes the rest with a short push so nobody is left hanging.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.states import State
from bot.infra.direct import Direct
from bot.infra.sql import dialect_of, insert_of
from bot.outbound.message import Reply
from bot.outbound.queue import enqueue
from models.conversation import ConversationState

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

WRONG_ANSWERS = "_wrong"


class Conversation:
    """Where one chat user is. Handlers change it; the dispatcher persists it."""

    def __init__(self, session_key: str, state: str | None = None, data: dict[str, Any] | None = None) -> None:
        self.session_key = session_key
        self.state = state
        self.data: dict[str, Any] = dict(data or {})
        self.changed = False
        self.expired_state: str | None = None  # set when an idle conversation was closed on this message

    def set(self, state: State | str | None, **data: Any) -> None:
        """Move to ``state``; ``data`` is merged into what the conversation already holds."""
        new_state = str(state) if state is not None else None
        if new_state != self.state:
            self.data.pop(WRONG_ANSWERS, None)
        self.state = new_state
        self.data.update(data)
        self.changed = True

    def update(self, **data: Any) -> None:
        self.data.update(data)
        self.changed = True

    def forget(self, *keys: str) -> None:
        """Drop these keys from the data and keep the state (a side note beside another conversation)."""
        for key in keys:
            if key in self.data:
                del self.data[key]
                self.changed = True

    def finish(self) -> None:
        """Leave the conversation and forget what it collected."""
        self.state = None
        self.data = {}
        self.changed = True

    def wrong_answer(self) -> int:
        """Count a wrong answer in the current step and return how many there were in a row."""
        count = int(self.data.get(WRONG_ANSWERS, 0)) + 1
        self.update(**{WRONG_ANSWERS: count})
        return count

    @property
    def active(self) -> bool:
        return self.state is not None


# Built once (the load and the save run for every message) as Direct statements: on SQLite they skip
# SQLAlchemy's execution pipeline (bot/infra/direct.py); elsewhere a reused statement keeps its compiled form.
_STATE = ConversationState.__table__
_LOAD = Direct(
    select(_STATE.c.state, _STATE.c.data, _STATE.c.updated_at).where(_STATE.c.session_key == bindparam("key"))
)
_FORGET = Direct(delete(_STATE).where(_STATE.c.session_key == bindparam("key")))


@functools.cache
def _save_statement(dialect: str) -> Direct:
    statement = insert_of(dialect, _STATE).values(
        {name: bindparam(name) for name in ("session_key", "state", "data", "updated_at")}
    )
    return Direct(statement.on_conflict_do_update(
        index_elements=["session_key"],
        set_={"state": statement.excluded.state, "data": statement.excluded.data,
              "updated_at": statement.excluded.updated_at},
    ))


async def load_conversation(session: AsyncSession, session_key: str, now: datetime, idle: timedelta) -> Conversation:
    row = await _LOAD.first(session, {"key": session_key})
    if row is None:
        return Conversation(session_key)
    state, data, updated_at = row
    if state is not None and now - updated_at > idle:
        conversation = Conversation(session_key)
        conversation.expired_state = state
        conversation.changed = True
        return conversation
    return Conversation(session_key, state, data)


async def save_conversation(session: AsyncSession, conversation: Conversation, now: datetime) -> None:
    if not conversation.changed:
        return
    if conversation.state is None and not conversation.data:
        await _FORGET.run(session, {"key": conversation.session_key})
        return
    values = {"session_key": conversation.session_key, "state": conversation.state, "data": conversation.data,
              "updated_at": now}
    await _save_statement(dialect_of(session)).run(session, values)


async def close_idle_conversations(services: Services) -> int:
    """Close conversations idle past the timeout and tell each member once. Returns how many were closed."""
    now = services.clock.now()
    cutoff = now - timedelta(minutes=services.settings.conversation.idle_timeout_minutes)
    async with services.db.session() as session:
        rows = (
            await session.scalars(
                select(ConversationState)
                .where(ConversationState.state.is_not(None), ConversationState.updated_at < cutoff)
                .limit(500)
            )
        ).all()
        for row in rows:
            platform, _, user_id = row.session_key.partition(":")
            notice = Reply(text=services.texts("conversation.timed_out"))
            key = f"timeout:{row.session_key}:{row.updated_at.isoformat()}"
            await enqueue(session, platform=platform, recipient=user_id, reply=notice, key=key)
            await session.delete(row)
    if rows:
        log.info("closed %d idle conversations", len(rows))
        services.wake_delivery()
    return len(rows)
