"""The audit log: one row per change made by someone with a role (or by the system on their behalf), whatever
the channel. Written by :func:`bot.domain.audit.record` in the transaction of the change it records, so a
change and its row commit together or not at all.

    AuditEvent  who (actor_member_id, actor_label: the name as it was), when (at, UTC), how (channel, ip),
                what (action: a stable dotted name, object_type + object_id, the object's liaison group),
                the change itself (before / after: only the fields that changed), summary (a short text)
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.base import json_field, utc_field, utc_now


class Channel(enum.StrEnum):
    CHAT = "chat"  # a message to the bot (also when handled later from the inbox)
    API = "api"  # the admin JSON API
    CONSOLE = "console"  # the secretaries' web console
    CLI = "cli"  # the lvzhi command
    SYSTEM = "system"  # scheduled jobs and anything else without a person behind it


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_actor_at", "actor_member_id", "at"),
        Index("ix_audit_event_object", "object_type", "object_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(default_factory=utc_now)
    # None: the admin API's superuser token, the CLI or the system (actor_label says which).
    actor_member_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    actor_label: str = Field(default="", max_length=80)  # the name when it happened: names change, logs do not
    channel: Channel = Field(max_length=10)
    action: str = Field(max_length=60)  # "member.approve", "report.adopt" …
    object_type: str = Field(max_length=40)
    object_id: int | None = Field(default=None, nullable=True)
    # The liaison group the object belongs to, so a secretary's log is limited to their groups; None: no group.
    group_id: int | None = Field(default=None, foreign_key="liaison_group.id", nullable=True, index=True)
    before: dict[str, Any] | None = json_field(default=None, nullable=True)
    after: dict[str, Any] | None = json_field(default=None, nullable=True)
    summary: str = Field(default="", max_length=200)
    ip: str | None = Field(default=None, max_length=45, nullable=True)
