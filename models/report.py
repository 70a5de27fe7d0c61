"""Social-condition and public-opinion reports (社情民意信息): the report, its photos, its history and
the leaders' instructions on it. The workflow itself lives in :mod:`bot.domain.reports`.

    Report ──< ReportPhoto      (media reference kept at once; the file fetched later, retried)
           ──< ReportEvent      (every transition: who, when, comment)
           ──< Instruction      (a leader's 批示 on an adopted report)
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now
from models.media import PhotoRecord, PhotoStatus  # noqa: F401  (PhotoStatus re-exported)


class ReportStatus(enum.StrEnum):
    DRAFT = "draft"  # being written (or withdrawn back to the member)
    SUBMITTED = "submitted"  # waiting for the information officer; the member may still withdraw
    UNDER_REVIEW = "under_review"  # accepted for review
    RETURNED = "returned"  # sent back with a comment; the member edits and resubmits
    ADOPTED = "adopted"  # 采用, at ``adoption_level``
    NOT_ADOPTED = "not_adopted"


class AdoptionLevel(enum.StrEnum):
    COUNTY = "county"
    CITY = "city"
    PROVINCIAL = "provincial"
    NATIONAL = "national"


ADOPTION_ORDER = (AdoptionLevel.COUNTY, AdoptionLevel.CITY, AdoptionLevel.PROVINCIAL, AdoptionLevel.NATIONAL)


class Report(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    # The member's liaison group when the report was last submitted: filtering by group must not move
    # old reports when a member changes group.
    group_id: int | None = Field(default=None, foreign_key="liaison_group.id", index=True, nullable=True)
    title: str = Field(default="", max_length=60)
    category: str = Field(default="", max_length=40)
    body: str = Field(default="", sa_type=Text())
    status: ReportStatus = Field(default=ReportStatus.DRAFT, max_length=16, index=True)
    step: str = Field(default="title", max_length=16)  # where the writing conversation resumes
    year: int = Field(index=True)  # the committee's local year (of creation, then of submission)
    adoption_level: AdoptionLevel | None = Field(default=None, max_length=12, nullable=True)
    review_comment: str = Field(default="", max_length=500)  # the last comment given to the member
    similar_report_id: int | None = Field(default=None, nullable=True)  # at submission, for the reviewer
    similarity: float | None = Field(default=None, nullable=True)
    created_at: datetime = utc_field(default_factory=utc_now)
    updated_at: datetime = utc_field(default_factory=utc_now)
    submitted_at: datetime | None = utc_field(default=None, nullable=True)
    decided_at: datetime | None = utc_field(default=None, nullable=True)


class ReportPhoto(PhotoRecord, table=True):
    __tablename__ = "report_photo"

    report_id: int = Field(foreign_key="report.id", index=True)


class ReportEvent(SQLModel, table=True):
    """One transition of a report (history). ``by_id`` is None for the admin API (a script or console)."""

    __tablename__ = "report_event"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    action: str = Field(max_length=20)  # submit, withdraw, accept, return, adopt, not_adopt, instruct
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    by_name: str = Field(default="", max_length=40)  # as shown to the member, kept if the member changes
    comment: str = Field(default="", max_length=1000)
    level: AdoptionLevel | None = Field(default=None, max_length=12, nullable=True)
    at: datetime = utc_field(default_factory=utc_now, index=True)


class Instruction(SQLModel, table=True):
    """A leader's instruction (批示) on an adopted report: the text, the leader, when."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    text: str = Field(max_length=1000)
    leader: str = Field(max_length=80)  # e.g. "市委书记 张某": leaders are not members of the system
    given_at: datetime = utc_field()  # when the leader gave it (may be earlier than recorded_at)
    recorded_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    recorded_at: datetime = utc_field(default_factory=utc_now)
