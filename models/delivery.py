"""Outbound messages: one row per (message × recipient), drained by the delivery worker.

The life of a row (see docs/delivery.md)::

    queued --claimed--> sending --ok--> sent
                           |--permanent error--> failed      (reason in last_error / error_code)
                           |--transient error--> queued      (next_attempt_at = now + backoff)
                           |--attempts used up--> given_up
                           '--process died--> (lease expires) resolved by the crash policy
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.base import json_field, utc_field, utc_now

# ``next_attempt_at`` of a row queued without ``not_before``: due at once, whatever any clock says, so
# tests with a frozen clock and processes with skewed clocks all see it as due. Rows stay FIFO by id.
DUE_AT_ONCE = datetime(2000, 1, 1, tzinfo=UTC)


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # a permanent failure, with its reason
    GIVEN_UP = "given_up"  # transient failures until max_attempts


class Channel(enum.StrEnum):
    """How a row was (or is being) sent: recorded on the row before the send starts."""

    CUSTOM = "custom"  # Official Account customer-service message (inside the member's window)
    TEMPLATE = "template"  # Official Account template message (outside the window)
    APP = "app"  # WeCom app message
    APPCHAT = "appchat"  # WeCom app group chat
    ROBOT = "robot"  # WeCom group robot webhook
    SIM = "sim"  # the simulator page


class Delivery(SQLModel, table=True):
    __table_args__ = (Index("ix_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    platform: str = Field(max_length=10)  # mp | wecom | sim | robot | appchat
    recipient: str = Field(max_length=128, index=True)  # openid / userid / sim id / chat id / robot key
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True, nullable=True)
    # What the push is about ("notice:17"), so a broadcast's report finds its rows by an index.
    topic: str | None = Field(default=None, max_length=40, index=True, nullable=True)
    payload: dict[str, Any] = json_field(default_factory=dict)  # a serialised bot.outbound.message.Reply
    channel: str | None = Field(default=None, max_length=20)  # a Channel value, once chosen
    status: DeliveryStatus = Field(default=DeliveryStatus.QUEUED, max_length=12, index=True)
    attempts: int = 0
    next_attempt_at: datetime = utc_field(default_factory=utc_now)
    claimed_at: datetime | None = utc_field(default=None, nullable=True)  # start of the current lease
    # Since when an attempt may have reached the platform without lvzhi knowing (a crash or a timeout
    # mid-request): the channel is then pinned, and only a channel whose platform dedupe id still covers
    # that first attempt may be tried again (see docs/delivery.md, "crash policy").
    in_doubt_since: datetime | None = utc_field(default=None, nullable=True)
    last_error: str | None = Field(default=None, max_length=500, nullable=True)
    error_code: int | None = Field(default=None, nullable=True)
    created_at: datetime = utc_field(default_factory=utc_now)
    sent_at: datetime | None = utc_field(default=None, nullable=True)


class SimMessage(SQLModel, table=True):
    """The simulator's chat log: what a simulated member sent and what the bot answered or pushed."""

    __tablename__ = "sim_message"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=128, index=True)
    direction: str = Field(max_length=3)  # "in" | "out"
    payload: dict[str, Any] = json_field(default_factory=dict)
    created_at: datetime = utc_field(default_factory=utc_now)
