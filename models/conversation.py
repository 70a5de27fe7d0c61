"""Conversation state and inbound-message records: what makes restarts and retries safe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import json_field, utc_field, utc_now


class ConversationState(SQLModel, table=True):
    """Where one chat user is in a conversation. Written on every transition, in the handler's transaction."""

    __tablename__ = "conversation_state"

    session_key: str = Field(primary_key=True, max_length=160)  # "<platform>:<user id>"
    state: str | None = Field(default=None, max_length=120)
    data: dict[str, Any] = json_field(default_factory=dict)
    updated_at: datetime = utc_field(default_factory=utc_now, index=True)


class InboundMessage(SQLModel, table=True):
    """One message or event received from a platform, keyed for retry dedupe.

    Inserted in the same transaction as the handler's effects, so a message is either handled and
    recorded, or neither. ``reply`` is the answer given inline, returned again to a retry;
    ``replied_later`` means the answer went out as a push and a retry gets "success".
    """

    __tablename__ = "inbound_message"

    dedupe_key: str = Field(primary_key=True, max_length=200)
    session_key: str = Field(max_length=160, index=True)
    reply: dict[str, Any] | None = json_field(default=None, nullable=True)
    replied_later: bool = False
    error_ref: str | None = Field(default=None, max_length=16)
    received_at: datetime = utc_field(default_factory=utc_now, index=True)


class InboxMessage(SQLModel, table=True):
    """A message answered "success" at once because the server was busy, waiting to be handled.

    Written (and committed) before the platform gets its answer, so nothing acknowledged is lost; deleted
    in the transaction that handles it and records its :class:`InboundMessage`, so it is handled once.
    ``id`` gives the order of arrival (bot/chat/inbox.py).
    """

    __tablename__ = "inbox_message"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    session_key: str = Field(max_length=160)
    event: dict[str, Any] = json_field(default_factory=dict)
    received_at: datetime = utc_field(default_factory=utc_now)
