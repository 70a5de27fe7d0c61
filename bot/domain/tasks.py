"""Writing scheduled tasks: rows that say "do <kind> about <ref> at <time>", next to the row they are about.

The domain writes and cancels them in its own transaction; :mod:`scheduler.tasks` runs them when the time
comes (each ``kind`` registered there with ``task_handler``). Kept in the domain so that activities, notices
and study schedule their work without depending on the scheduler.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utc_now
from models.scheduling import ScheduledTask, TaskStatus

# --- writing tasks -------------------------------------------------------------------------------------


async def schedule_task(
    session: AsyncSession,
    *,
    kind: str,
    ref: str,
    run_at: datetime | None = None,
    cron: str | None = None,
    now: datetime | None = None,
) -> ScheduledTask:
    """Create or reschedule the task for (kind, ref): exactly one of ``run_at`` (aware) or ``cron``
    (a crontab line in the configured time zone). A rescheduled task is pending again; a recurring one
    counts its fire times from ``now`` (pass ``services.clock.now()``), so none are "missed" before it
    existed. Call ``services.scheduler.sync()`` after the commit to arm it at once (else within 5 min)."""
    if (run_at is None) == (cron is None):
        raise ValueError("give either run_at or cron")
    if cron is not None:
        crontab_trigger(cron)  # raises ValueError on a bad line, before anything is stored
    task = (
        await session.execute(
            select(ScheduledTask).where(ScheduledTask.kind == kind, ScheduledTask.ref == ref)
        )
    ).scalar_one_or_none()
    now = now or utc_now()
    if task is None:
        task = ScheduledTask(kind=kind, ref=ref, created_at=now)
        session.add(task)
    task.run_at, task.cron, task.status, task.updated_at = run_at, cron, TaskStatus.PENDING, now
    task.last_fired_at = now if cron is not None else None
    await session.flush()
    return task


async def cancel_task(session: AsyncSession, *, kind: str, ref: str) -> bool:
    task = (
        await session.execute(
            select(ScheduledTask).where(ScheduledTask.kind == kind, ScheduledTask.ref == ref)
        )
    ).scalar_one_or_none()
    if task is None or task.status != TaskStatus.PENDING:
        return False
    task.status, task.updated_at = TaskStatus.CANCELLED, utc_now()
    return True


# --- crontab lines --------------------------------------------------------------------------------


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 (and 7) is Sunday


def crontab_trigger(line: str, zone: tzinfo | None = None) -> CronTrigger:
    """A trigger for a standard crontab line ("0 8 * * 1" = Mondays 08:00).

    APScheduler 3's own ``from_crontab`` counts weekdays from Monday = 0 (its issue 286, kept for
    compatibility), so "1" would mean Tuesday; numeric weekdays are translated to names here."""
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"a crontab line has 5 fields, not {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekday_names(weekday),
                       timezone=zone)


def _weekday_names(field: str) -> str:
    names: list[str] = []
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        if not any(char.isdigit() for char in span) and not step_text:
            names.append(part)  # "*", "mon-fri": APScheduler reads names as crontab does
            continue
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        else:
            low, _, high = span.partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                raise ValueError(f"weekday {part!r}: use numbers 0-7 or names, not both in one range")
            first, last = int(low), int(high) if high else (6 if step_text else int(low))
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step >= 1):
            raise ValueError(f"weekday {part!r} is out of range 0-7")
        names.extend(_WEEKDAYS[number % 7] for number in range(first, last + 1, step))
    return ",".join(dict.fromkeys(names))
