"""Scheduled work as database rows: the source of truth the scheduler rebuilds its jobs from."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now


class TaskStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its time (a recurring task stays pending)
    DONE = "done"  # a one-shot task that ran
    MISSED = "missed"  # its time passed longer ago than the grace period while lvzhi was down
    FAILED = "failed"  # its handler raised
    CANCELLED = "cancelled"


class ScheduledTask(SQLModel, table=True):
    """Something to do at a time (``run_at``) or on a schedule (``cron``, in the configured time zone).

    ``kind`` names a handler registered with :func:`scheduler.tasks.task_handler` ("notice.send");
    ``ref`` is what it is about (a notice id). One task per (kind, ref): rescheduling updates the row.
    """

    __tablename__ = "scheduled_task"
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_scheduled_task_kind_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)
    ref: str = Field(max_length=100)
    run_at: datetime | None = utc_field(default=None, nullable=True)
    cron: str | None = Field(default=None, max_length=100, nullable=True)
    status: TaskStatus = Field(default=TaskStatus.PENDING, max_length=12, index=True)
    last_fired_at: datetime | None = utc_field(default=None, nullable=True)  # the last fire time handled
    created_at: datetime = utc_field(default_factory=utc_now)
    updated_at: datetime = utc_field(default_factory=utc_now)


class RunOutcome(enum.StrEnum):
    RAN = "ran"
    MISSED = "missed"
    FAILED = "failed"


class JobRun(SQLModel, table=True):
    """One fire time of a job and what became of it. Unique per (job, fire time): the row is also the
    claim that stops two processes (or a retried job) from running the same fire time twice."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for", name="uq_job_run_fire"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=120, index=True)
    scheduled_for: datetime = utc_field()
    outcome: RunOutcome = Field(max_length=10)
    recorded_at: datetime = utc_field(default_factory=utc_now, index=True)
    detail: str = Field(default="", max_length=500)
