"""The Official Account customer-service window, as lvzhi sees it from inbound events.

The platform allows customer-service messages only after the member interacted (since 2023):

* up to **5** messages within **48 hours** after a member's message;
* up to **3** messages within **1 minute** after a menu click, a follow or a QR scan.

Beyond the count the platform answers 45047, outside the window 45015. Which window a message counts
against when both are open is not documented; lvzhi (and the mock) count it against the message window
while that one has room, else against the event window, and a 45047/45015 anyway makes the worker fall
back to a template message, so a wrong guess costs one refused call, never a lost message.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.infra.direct import Direct
from bot.infra.sql import dialect_of, insert_of
from models.outbound import ChatWindow

MESSAGE_WINDOW = timedelta(hours=48)
MESSAGE_WINDOW_COUNT = 5
EVENT_WINDOW = timedelta(minutes=1)
EVENT_WINDOW_COUNT = 3

InteractionKind = Literal["message", "click", "subscribe", "scan"]
EVENT_KINDS = frozenset({"click", "subscribe", "scan"})


async def record_interaction(session: AsyncSession, *, platform: str, user_id: str, kind: str, at: datetime) -> None:
    """Note that a member interacted: ``kind`` is "message" (opens the 48-h window) or "click" /
    "subscribe" / "scan" (open the 1-minute window). Call it for every inbound Official Account event,
    in the dispatcher's transaction. An older interaction arriving late never shrinks a window."""
    if kind != "message" and kind not in EVENT_KINDS:
        raise ValueError(f"unknown interaction kind {kind!r}")
    statement = _window_upsert(dialect_of(session), "message" if kind == "message" else "event")
    await statement.run(session, {"platform": platform, "user_id": user_id, "at": at})


@functools.cache
def _window_upsert(dialect: str, window: str) -> Direct:
    """The upsert that (re)opens a window, built once per dialect and window.

    It runs for every inbound event: a statement object built once keeps its cache key and compiled
    form, where building it per call cost about a quarter of a ``帮助`` message's CPU (bench/callback.py).
    A new row gets both counts explicitly, as a :class:`Direct` statement takes no column defaults.
    """
    table = ChatWindow.__table__
    opened, count = f"{window}_at", f"{window}_sent"
    at = bindparam("at")
    return Direct(insert_of(dialect, table).values(
        {"platform": bindparam("platform"), "user_id": bindparam("user_id"), opened: at,
         "message_sent": 0, "event_sent": 0, "updated_at": at}
    ).on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={opened: at, count: 0, "updated_at": at},
        where=or_(table.c[opened].is_(None), table.c[opened] < at),
    ))


async def reserve_custom_slot(session: AsyncSession, *, platform: str, user_id: str, now: datetime) -> bool:
    """Take one customer-service message from the member's open window, atomically; False when no window
    is open or its count is used up (the caller then sends a template message)."""
    windows = (
        (ChatWindow.message_at, ChatWindow.message_sent, MESSAGE_WINDOW, MESSAGE_WINDOW_COUNT),
        (ChatWindow.event_at, ChatWindow.event_sent, EVENT_WINDOW, EVENT_WINDOW_COUNT),
    )
    for opened, count, length, limit in windows:
        result = await session.execute(
            update(ChatWindow)
            .where(ChatWindow.platform == platform, ChatWindow.user_id == user_id)
            .where(opened.is_not(None), opened > now - length, count < limit)
            .values({count: count + 1})
        )
        if result.rowcount:
            return True
    return False


async def members_with_open_window(session: AsyncSession, user_ids: list[str], now: datetime) -> set[str]:
    """Which of these Official Account members have a window open (full or not): the others need no
    reservation attempt, which keeps a broadcast to thousands of silent members cheap."""
    if not user_ids:
        return set()
    rows = await session.execute(
        select(ChatWindow.user_id).where(
            ChatWindow.platform == "mp",
            ChatWindow.user_id.in_(set(user_ids)),
            or_(ChatWindow.message_at > now - MESSAGE_WINDOW, ChatWindow.event_at > now - EVENT_WINDOW),
        )
    )
    return set(rows.scalars())


async def close_window(session: AsyncSession, *, platform: str, user_id: str) -> None:
    """The platform said the window is closed or full (45015 / 45047): trust it until the next interaction."""
    await session.execute(
        update(ChatWindow)
        .where(ChatWindow.platform == platform, ChatWindow.user_id == user_id)
        .values({ChatWindow.message_sent: MESSAGE_WINDOW_COUNT, ChatWindow.event_sent: EVENT_WINDOW_COUNT})
    )
