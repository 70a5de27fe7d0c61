"""The duty record (履职档案): a points ledger derived from what members did, plus what only people can
say (self-reported duties, adjustments, appeals). The rules live in :mod:`bot.domain.duty_rules`, the ledger
in :mod:`bot.domain.ledger`.

    sources (attendance, reports, instructions, study reads)  ─┐
    DutyClaim (补录, verified by a secretary) ──< DutyClaimPhoto ├─► DutyEntry (one per source and kind)
    DutyAdjustment (a secretary's ± with a reason)             ─┘        ▲
    DutyAppeal (申诉 on one entry: open → upheld / dismissed) ────────────┘ (by the entry's source key)

``DutyEntry`` rows are never edited by hand: :func:`bot.domain.ledger.refresh` rebuilds them from the sources
and the year's rules, so a recompute always gives the same ledger. A change goes through its source (an
attendance correction, a verified claim, an adjustment), which keeps every point traceable.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now
from models.media import PhotoRecord


class EntrySource(enum.StrEnum):
    ATTENDANCE = "attendance"  # an Attendance row (present / late / leave / absent)
    REPORT = "report"  # a report submitted, and its adoption
    INSTRUCTION = "instruction"  # a leader's instruction on a report
    STUDY_READ = "study_read"  # a StudyRead row
    CLAIM = "claim"  # a DutyClaim (补录)
    ADJUSTMENT = "adjustment"  # a DutyAdjustment


class EntryStatus(enum.StrEnum):
    PENDING = "pending"  # its source may still change (activity not closed, report not decided, claim unverified)
    CONFIRMED = "confirmed"  # counted in the score
    REJECTED = "rejected"  # a claim a secretary did not accept; listed, never counted


class DutyEntry(SQLModel, table=True):
    """Points for one thing a member did, keyed by its source so it can always be traced back."""

    __tablename__ = "duty_entry"
    __table_args__ = (
        UniqueConstraint("source", "source_id", "kind", name="uq_duty_entry_source"),
        Index("ix_duty_entry_year_member", "year", "member_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    year: int
    member_id: int = Field(foreign_key="member.id")
    kind: str = Field(max_length=40)  # a duty kind of the rules: "plenary", "plenary_absent", "report_adopted" …
    category: str = Field(max_length=40)  # the rules' category the points count in (caps apply per category)
    # Plain strings, not enums: the ledger is written by INSERT … SELECT with literal values.
    source: EntrySource = Field(sa_type=String(12))
    source_id: int
    # Points × 10: rules allow one decimal (0.5 for a study read), and integer sums stay exact in SQL.
    tenths: int
    status: EntryStatus = Field(sa_type=String(10))
    occurred_at: datetime = utc_field()
    title: str = Field(default="", max_length=120)  # what it was, as the member knows it (activity, report …)

    @property
    def points(self) -> float:
        return self.tenths / 10


class ClaimStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class DutyClaim(SQLModel, table=True):
    """A duty the system could not see (补录): a proposal, a speech, a good deed …, with evidence."""

    __tablename__ = "duty_claim"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    year: int = Field(index=True)  # the local year of ``occurred_at``
    kind: str = Field(max_length=40)  # a self-reported kind of that year's rules
    occurred_at: datetime = utc_field()  # noon, local time, of the day the member gave
    description: str = Field(max_length=500)
    status: ClaimStatus = Field(default=ClaimStatus.PENDING, max_length=10, index=True)
    decided_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    decided_by_name: str = Field(default="", max_length=40)
    decision_note: str = Field(default="", max_length=300)  # why it was rejected, told to the member
    created_at: datetime = utc_field(default_factory=utc_now)
    decided_at: datetime | None = utc_field(default=None, nullable=True)


class DutyClaimPhoto(PhotoRecord, table=True):
    __tablename__ = "duty_claim_photo"

    claim_id: int = Field(foreign_key="duty_claim.id", index=True)


class DutyAdjustment(SQLModel, table=True):
    """A secretary's manual change of a member's points for a year: never edited, only added to."""

    __tablename__ = "duty_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    year: int = Field(index=True)
    tenths: int  # signed
    reason: str = Field(max_length=300)
    appeal_id: int | None = Field(default=None, foreign_key="duty_appeal.id", nullable=True)
    by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)  # None: the admin API
    by_name: str = Field(default="", max_length=40)
    at: datetime = utc_field(default_factory=utc_now)


class AppealStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the member was right: the source was corrected or an adjustment made
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"


class DutyAppeal(SQLModel, table=True):
    """申诉: a member disputes one ledger entry. The entry is named by its source key (entries are rebuilt
    by a recompute and get new ids) and copied as the member saw it."""

    __tablename__ = "duty_appeal"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    year: int = Field(index=True)
    source: EntrySource = Field(max_length=12)
    source_id: int
    kind: str = Field(max_length=40)
    entry_title: str = Field(default="", max_length=120)
    entry_tenths: int = 0
    reason: str = Field(max_length=500)
    status: AppealStatus = Field(default=AppealStatus.OPEN, max_length=10, index=True)
    answer: str = Field(default="", max_length=300)  # told to the member
    decided_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    decided_by_name: str = Field(default="", max_length=40)
    created_at: datetime = utc_field(default_factory=utc_now)
    decided_at: datetime | None = utc_field(default=None, nullable=True)


class DutyYear(SQLModel, table=True):
    """When a year's ledger was last rebuilt in full, and under which rules (a change of rules rebuilds it)."""

    __tablename__ = "duty_year"

    year: int = Field(primary_key=True, default=None)
    rules_hash: str = Field(max_length=64)
    entries: int = 0
    recomputed_at: datetime = utc_field(default_factory=utc_now)
