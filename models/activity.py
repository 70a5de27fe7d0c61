"""Activities (会议/活动), their sign-in, leave requests and attendance. The rules live in
:mod:`bot.domain.activities`.

    Activity ──< Attendance            (one row per member: signed in / late, and at the close of the
             │      └──< AttendanceCorrection   sign-in window: on leave / absent; corrections kept)
             └──< LeaveRequest         (请假: pending → approved / denied / withdrawn)

A sign-in writes the member's ``Attendance`` row at once (present or late); when the window closes the
rest of the audience gets rows too: ``leave`` for approved requests, ``absent`` for everyone else.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import json_field, utc_field, utc_now


class ActivityType(enum.StrEnum):
    PLENARY = "plenary"  # 全体会议
    STANDING = "standing"  # 常委会
    CHAIRMEN = "chairmen"  # 主席会议
    INSPECTION = "inspection"  # 调研视察
    CONSULTATION = "consultation"  # 专题协商
    SUPERVISION = "supervision"  # 民主监督
    BRIEFING = "briefing"  # 政情通报
    STUDY = "study"  # 学习
    VISIT = "visit"  # 走访
    OTHER = "other"  # 其他


class ActivityStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # announced; sign-in follows its window
    CLOSED = "closed"  # the window closed and attendance was computed
    CANCELLED = "cancelled"


class Audience(enum.StrEnum):
    ALL = "all"  # every active member
    GROUPS = "groups"  # liaison groups in ``audience_ids``
    SECTORS = "sectors"
    COMMITTEES = "committees"
    MEMBERS = "members"  # an explicit list of member ids


class Activity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    type: ActivityType = Field(max_length=16, index=True)
    title: str = Field(max_length=100)
    venue: str = Field(default="", max_length=200)
    description: str = Field(default="", sa_type=Text())
    starts_at: datetime = utc_field(index=True)
    ends_at: datetime = utc_field()
    # The sign-in window and the late mark, stored as moments so "open now" is one indexed query.
    signin_opens_at: datetime = utc_field(index=True)
    signin_closes_at: datetime = utc_field(index=True)
    late_after: datetime = utc_field()
    latitude: float | None = Field(default=None, nullable=True)
    longitude: float | None = Field(default=None, nullable=True)
    radius_m: int | None = Field(default=None, nullable=True)
    half_days: int = Field(default=1)  # what it counts for in the duty ledger ("plenary: 5 points per half-day")
    require_location: bool = Field(default=False)  # a code alone is not enough: the member must be inside
    audience: Audience = Field(default=Audience.ALL, max_length=12)
    audience_ids: list[int] = json_field(default_factory=list)
    # The liaison group that organises it (谁组织谁记录): whose secretaries and leader may manage it.
    # None: organised by the office, for the whole committee.
    group_id: int | None = Field(default=None, foreign_key="liaison_group.id", index=True, nullable=True)
    status: ActivityStatus = Field(default=ActivityStatus.SCHEDULED, max_length=12, index=True)
    code_secret: str = Field(max_length=64)  # HMAC key of the rotating sign-in codes
    created_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    created_at: datetime = utc_field(default_factory=utc_now)
    updated_at: datetime = utc_field(default_factory=utc_now)
    closed_at: datetime | None = utc_field(default=None, nullable=True)

    @property
    def has_geofence(self) -> bool:
        return self.latitude is not None and self.longitude is not None and bool(self.radius_m)


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"
    LATE = "late"
    LEAVE = "leave"  # excused: an approved leave request
    ABSENT = "absent"  # unexcused


class SignInMethod(enum.StrEnum):
    CODE = "code"  # 签到 123456
    QR = "qr"  # the screen's QR, scanned with WeChat
    LOCATION = "location"  # a location message inside the geofence
    CLOSE = "close"  # written when the window closed (leave / absent)
    MANUAL = "manual"  # a secretary's correction


class Attendance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("activity_id", "member_id", name="uq_attendance_activity_member"),)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    # The member's liaison group at the time, so per-group reports do not move when members do.
    group_id: int | None = Field(default=None, foreign_key="liaison_group.id", index=True, nullable=True)
    status: AttendanceStatus = Field(max_length=8, index=True)
    method: SignInMethod = Field(max_length=8)
    signed_in_at: datetime | None = utc_field(default=None, nullable=True)
    leave_id: int | None = Field(default=None, foreign_key="leave_request.id", nullable=True)
    recorded_at: datetime = utc_field(default_factory=utc_now)
    updated_at: datetime = utc_field(default_factory=utc_now)


class AttendanceCorrection(SQLModel, table=True):
    """A secretary changed an attendance record: from what, to what, why, by whom."""

    __tablename__ = "attendance_correction"

    id: int | None = Field(default=None, primary_key=True)
    attendance_id: int = Field(foreign_key="attendance.id", index=True)
    from_status: str = Field(max_length=8)
    to_status: str = Field(max_length=8)
    reason: str = Field(max_length=300)
    by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)  # None: the admin API
    by_name: str = Field(default="", max_length=40)
    at: datetime = utc_field(default_factory=utc_now)


class LeaveKind(enum.StrEnum):
    SICK = "sick"  # 病假
    PERSONAL = "personal"  # 事假
    OFFICIAL = "official"  # 公务


class LeaveStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class LeaveRequest(SQLModel, table=True):
    __tablename__ = "leave_request"

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: LeaveKind = Field(max_length=10)
    reason: str = Field(max_length=300)
    status: LeaveStatus = Field(default=LeaveStatus.PENDING, max_length=10, index=True)
    decided_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    decided_by_name: str = Field(default="", max_length=40)
    decision_note: str = Field(default="", max_length=300)  # why it was denied, told to the member
    created_at: datetime = utc_field(default_factory=utc_now)
    decided_at: datetime | None = utc_field(default=None, nullable=True)
