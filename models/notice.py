"""Pushes to an audience: meeting notices, broadcasts (群发) and study materials, with who received,
read and answered what. The sending lives in :mod:`bot.domain.notices`, study in :mod:`bot.domain.study`.

    Notice ──< NoticeReceipt         (one per expected member, written when the notice goes out: the
                                       audience as it was; delivery rows keyed by the receipt)
    Activity ──< ActivityResponse    (参加 / 请假 answers to its notices; leave itself is a LeaveRequest)
    StudyPlan ──< StudyMaterial ──< StudyRead
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.activity import Audience
from models.base import json_field, utc_field, utc_now


class NoticeKind(enum.StrEnum):
    MEETING = "meeting"  # the notice of an activity
    BROADCAST = "broadcast"  # a secretary's 群发
    STUDY = "study"  # a study material pushed


class NoticeStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waits for ``send_at`` (a scheduled task)
    SENT = "sent"  # receipts written, deliveries queued
    CANCELLED = "cancelled"


class Notice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: NoticeKind = Field(max_length=10, index=True)
    title: str = Field(max_length=100)
    body: str = Field(default="", sa_type=Text())
    url: str = Field(default="", max_length=500)  # a link, pushed through the signed read-tracking redirect
    activity_id: int | None = Field(default=None, foreign_key="activity.id", index=True, nullable=True)
    material_id: int | None = Field(default=None, foreign_key="study_material.id", index=True, nullable=True)
    audience: Audience = Field(default=Audience.ALL, max_length=12)
    audience_ids: list[int] = json_field(default_factory=list)
    to_group_chats: bool = Field(default=True)  # also post to the configured WeCom group chats
    send_at: datetime = utc_field(index=True)
    status: NoticeStatus = Field(default=NoticeStatus.SCHEDULED, max_length=10, index=True)
    recipients: int = Field(default=0)  # receipts written when sent
    resends: int = Field(default=0)  # how many times the unreached were sent it again
    created_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    created_at: datetime = utc_field(default_factory=utc_now)
    sent_at: datetime | None = utc_field(default=None, nullable=True)


class NoticeReceipt(SQLModel, table=True):
    __tablename__ = "notice_receipt"
    __table_args__ = (UniqueConstraint("notice_id", "member_id", name="uq_notice_receipt_member"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="liaison_group.id", nullable=True)
    identities: int = Field(default=0)  # chat identities the notice was queued to (0: the member is not bound)
    read_at: datetime | None = utc_field(default=None, nullable=True)  # opened the link, or answered
    created_at: datetime = utc_field(default_factory=utc_now)


class Response(enum.StrEnum):
    ATTEND = "attend"  # 参加
    LEAVE = "leave"  # 请假 (the request itself is a LeaveRequest)


class ActivityResponse(SQLModel, table=True):
    __tablename__ = "activity_response"
    __table_args__ = (UniqueConstraint("activity_id", "member_id", name="uq_activity_response_member"),)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    response: Response = Field(max_length=8)
    at: datetime = utc_field(default_factory=utc_now)


class StudyPlan(SQLModel, table=True):
    """A recurring push (cron-like, local time): each fire time sends the plan's next unsent material."""

    __tablename__ = "study_plan"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60)
    cron: str = Field(max_length=100)  # e.g. "0 8 * * 1": every Monday 08:00 in scheduler.timezone
    audience: Audience = Field(default=Audience.ALL, max_length=12)
    audience_ids: list[int] = json_field(default_factory=list)
    active: bool = Field(default=True)
    created_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    created_at: datetime = utc_field(default_factory=utc_now)


class StudyMaterial(SQLModel, table=True):
    __tablename__ = "study_material"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=100)
    summary: str = Field(default="", max_length=500)
    url: str = Field(default="", max_length=500)  # either a link …
    body: str = Field(default="", sa_type=Text())  # … or the text itself
    tags: list[str] = json_field(default_factory=list)
    audience: Audience = Field(default=Audience.ALL, max_length=12)
    audience_ids: list[int] = json_field(default_factory=list)
    plan_id: int | None = Field(default=None, foreign_key="study_plan.id", index=True, nullable=True)
    pushed_at: datetime | None = utc_field(default=None, nullable=True, index=True)
    created_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    created_at: datetime = utc_field(default_factory=utc_now)


class ReadVia(enum.StrEnum):
    LINK = "link"  # the signed redirect
    CHAT = "chat"  # a text material opened in chat
    REPLY = "reply"  # 已学


class StudyRead(SQLModel, table=True):
    __tablename__ = "study_read"
    __table_args__ = (UniqueConstraint("material_id", "member_id", name="uq_study_read_member"),)

    id: int | None = Field(default=None, primary_key=True)
    material_id: int = Field(foreign_key="study_material.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    via: ReadVia = Field(max_length=6)
    read_at: datetime = utc_field(default_factory=utc_now, index=True)
