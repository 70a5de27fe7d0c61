"""Outbound messages: one row per (message × recipient), drained by the delivery worker."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import json_field, utc_field, utc_now


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # a permanent failure, with its reason
    GIVEN_UP = "given_up"  # transient failures until max_attempts


class Delivery(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    platform: str = Field(max_length=10)  # mp | wecom | sim | robot | appchat
    recipient: str = Field(max_length=128, index=True)  # openid / userid / sim id / chat id
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True, nullable=True)
    payload: dict[str, Any] = json_field(default_factory=dict)  # a serialised bot.events.Reply
    channel: str | None = Field(default=None, max_length=20)  # what was used: custom / template / app / sim …
    status: DeliveryStatus = Field(default=DeliveryStatus.QUEUED, max_length=12, index=True)
    attempts: int = 0
    next_attempt_at: datetime = utc_field(default_factory=utc_now, index=True)
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
