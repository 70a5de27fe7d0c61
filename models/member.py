"""The organisation: members, their chat identities, liaison groups, sectors and committees."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now


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


class Platform(enum.StrEnum):
    OFFICIAL = "mp"  # 公众号 openid
    WECOM = "wecom"  # 企业微信 userid
    SIMULATOR = "sim"


class LiaisonGroup(SQLModel, table=True):
    __tablename__ = "liaison_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    leader_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)


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
    created_at: datetime = utc_field(default_factory=utc_now)
    updated_at: datetime = utc_field(default_factory=utc_now)


class Identity(SQLModel, table=True):
    """A chat identity bound to a member: at most one member per (platform, external id)."""

    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_identity_platform_external"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    platform: Platform = Field(max_length=10)
    external_id: str = Field(max_length=128)
    bound_at: datetime = utc_field(default_factory=utc_now)
