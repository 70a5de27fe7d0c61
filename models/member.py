"""The organisation: members, their chat identities, liaison groups, sectors and committees.

A stranger who registers in chat without matching the roster becomes a ``Member`` with status
``pending`` plus a :class:`MemberApplication` that remembers which chat identity asked. The identity is
bound only when a secretary approves, so ``ctx.member`` is never a pending or rejected member.

    roster import ──► Member(active)
    注册, roster match ──► Identity bound to that Member
    注册, no match ──► Member(pending) + MemberApplication(pending) ──approve──► active + Identity
                                                                    └─reject──► Member(rejected)
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import json_field, utc_field, utc_now


class Role(enum.StrEnum):
    MEMBER = "member"
    GROUP_LEADER = "group_leader"
    SECRETARY = "secretary"
    ADMIN = "admin"


class MemberStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"
    REJECTED = "rejected"  # an application a secretary turned down; the row keeps the audit trail


class Platform(enum.StrEnum):
    OFFICIAL = "mp"  # 公众号 openid
    WECOM = "wecom"  # 企业微信 userid
    SIMULATOR = "sim"


class LiaisonGroup(SQLModel, table=True):
    __tablename__ = "liaison_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    # A member id, deliberately without a foreign key: member.group_id already points here, and a
    # cycle of foreign keys cannot be created table by table in a migration.
    leader_id: int | None = Field(default=None, nullable=True)


class Sector(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)


class Committee(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, index=True)
    gender: str = Field(default="", max_length=4)
    mobile: str | None = Field(default=None, max_length=11, unique=True, nullable=True)
    sector_id: int | None = Field(default=None, foreign_key="sector.id", index=True)
    committee_id: int | None = Field(default=None, foreign_key="committee.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="liaison_group.id", index=True)
    work_unit: str = Field(default="", max_length=200)
    term: str = Field(default="", max_length=20)
    role: Role = Field(default=Role.MEMBER, max_length=20)
    status: MemberStatus = Field(default=MemberStatus.ACTIVE, max_length=20, index=True)
    # Liaison-group ids a secretary is limited to; empty means every group (see bot.domain.authz).
    scope_group_ids: list[int] = json_field(default_factory=list)
    created_at: datetime = utc_field(default_factory=utc_now)
    updated_at: datetime = utc_field(default_factory=utc_now)


class Identity(SQLModel, table=True):
    """A chat identity bound to a member: at most one member per (platform, external id), and at most
    one identity per member on each platform."""

    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_identity_platform_external"),
        # One account per platform per member: a second WeChat account cannot take over a member.
        UniqueConstraint("member_id", "platform", name="uq_identity_member_platform"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    platform: Platform = Field(max_length=10)
    external_id: str = Field(max_length=128)
    bound_at: datetime = utc_field(default_factory=utc_now)


class ApplicationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the applicant bound to a roster entry instead, or unfollowed


class MemberApplication(SQLModel, table=True):
    """A registration that did not match the roster, waiting for a secretary.

    Keeps the chat identity that asked, so the applicant can be bound and told the outcome.
    """

    __tablename__ = "member_application"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    platform: Platform = Field(max_length=10)
    external_id: str = Field(max_length=128, index=True)
    status: ApplicationStatus = Field(default=ApplicationStatus.PENDING, max_length=12, index=True)
    reason: str = Field(default="", max_length=200)  # why it was rejected, told to the applicant
    decided_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    created_at: datetime = utc_field(default_factory=utc_now)
    decided_at: datetime | None = utc_field(default=None, nullable=True)
