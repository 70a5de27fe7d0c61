"""Scheduled tasks: rows that say "do <kind> about <ref> at <time>", and the handlers that do it.

A feature schedules work in its own transaction, next to the row it is about, with
:func:`bot.domain.tasks.schedule_task`::

    await schedule_task(session, kind="notice.send", ref=str(notice.id), run_at=notice.send_at)

and registers here what to do when the time comes (handlers only enqueue deliveries)::

    @task_handler("notice.send")
    async def send_notice(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
        ...  # enqueue(session, ...) for every recipient, keyed notice × member

The handler runs in the same transaction that records the run (``job_run``), so a run and its effects
commit together, and a fire time runs at most once even when two processes schedule it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.tasks import crontab_trigger
from bot.infra.sql import insert_ignore
from models.scheduling import JobRun, RunOutcome, ScheduledTask, TaskStatus

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

TaskHandler = Callable[["Services", AsyncSession, ScheduledTask], Awaitable[None]]
_HANDLERS: dict[str, TaskHandler] = {}


def task_handler(kind: str) -> Callable[[TaskHandler], TaskHandler]:
    """Register the coroutine that performs tasks of ``kind``."""

    def register(handler: TaskHandler) -> TaskHandler:
        _HANDLERS[kind] = handler
        return handler

    return register


def job_id_for(task_id: int) -> str:
    return f"task:{task_id}"


# --- the misfire policy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """What to do with a pending task at (re)start.

    ``run_now``: a fire time within the grace period that has not run — run it once, now (several
    missed fire times of a recurring task coalesce into the latest). ``missed``: the earliest fire time
    older than the grace period — recorded, not run. ``upcoming``: whether fire times remain ahead.
    """

    run_now: datetime | None = None
    missed: datetime | None = None
    missed_count: int = 0
    upcoming: bool = False


def cron_trigger(task: ScheduledTask, zone: tzinfo) -> CronTrigger:
    assert task.cron is not None
    return crontab_trigger(task.cron, zone)


def fire_times(trigger: CronTrigger, after: datetime, until: datetime, limit: int = 10_000) -> list[datetime]:
    """The trigger's fire times in (after, until], in UTC, at most ``limit`` of them."""
    times: list[datetime] = []
    moment = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    while moment is not None and moment <= until and len(times) < limit:
        times.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return times


def plan_task(task: ScheduledTask, now: datetime, grace: timedelta, zone: tzinfo) -> TaskPlan:
    if task.cron is None:
        assert task.run_at is not None
        if task.run_at > now:
            return TaskPlan(upcoming=True)
        if now - task.run_at <= grace:
            return TaskPlan(run_now=task.run_at)
        return TaskPlan(missed=task.run_at, missed_count=1)
    trigger = cron_trigger(task, zone)
    due = fire_times(trigger, task.last_fired_at or task.created_at, now)
    in_grace = [moment for moment in due if now - moment <= grace]
    too_old = [moment for moment in due if now - moment > grace]
    return TaskPlan(
        run_now=in_grace[-1] if in_grace else None,
        missed=too_old[0] if too_old else None,
        missed_count=len(too_old),
        upcoming=True,
    )


def latest_fire_time(task: ScheduledTask, now: datetime, grace: timedelta, zone: tzinfo) -> datetime:
    """The fire time a run at ``now`` stands for: ``run_at``, or a recurring task's latest fire time."""
    if task.cron is None:
        assert task.run_at is not None
        return task.run_at
    recent = fire_times(cron_trigger(task, zone), now - max(grace, timedelta(minutes=1)), now)
    return recent[-1] if recent else now.replace(microsecond=0)


# --- running and recording --------------------------------------------------------------------------


async def record_missed(session: AsyncSession, task: ScheduledTask, plan: TaskPlan, now: datetime) -> None:
    """Write down that fire times passed while lvzhi was not running (nothing is sent late)."""
    assert plan.missed is not None
    detail = f"{task.kind} {task.ref}: {plan.missed_count} fire time(s) passed more than the grace period ago"
    await insert_ignore(
        session,
        JobRun,
        {
            "job_id": job_id_for(task.id or 0),
            "scheduled_for": plan.missed,
            "outcome": RunOutcome.MISSED,
            "recorded_at": now,
            "detail": detail[:500],
        },
        ["job_id", "scheduled_for"],
    )
    if task.cron is None:
        task.status = TaskStatus.MISSED
    else:
        task.last_fired_at = max(task.last_fired_at or plan.missed, plan.missed)
    task.updated_at = now
    log.warning("missed: %s", detail)


async def execute_task(
    services: Services, task_id: int, *, grace: timedelta, zone: tzinfo
) -> RunOutcome | None:
    """Run one fire time of a task, at most once across processes. None when there was nothing to run
    (cancelled, already done, or another process took this fire time)."""
    now = services.clock.now()
    try:
        async with services.db.session() as session:
            task = await session.get(ScheduledTask, task_id)
            if task is None or task.status != TaskStatus.PENDING:
                return None
            fire_time = latest_fire_time(task, now, grace, zone)
            claimed = await insert_ignore(
                session,
                JobRun,
                {
                    "job_id": job_id_for(task_id),
                    "scheduled_for": fire_time,
                    "outcome": RunOutcome.RAN,
                    "recorded_at": now,
                    "detail": f"{task.kind} {task.ref}",
                },
                ["job_id", "scheduled_for"],
            )
            if not claimed:
                return None
            handler = _HANDLERS.get(task.kind)
            if handler is None:
                raise LookupError(f"no handler registered for task kind {task.kind!r}")
            await handler(services, session, task)
            task.last_fired_at, task.updated_at = fire_time, now
            if task.cron is None:
                task.status = TaskStatus.DONE
    except Exception as error:
        log.exception("scheduled task %s failed", task_id)
        await _record_failure(services, task_id, error, grace, zone, now)
        return RunOutcome.FAILED
    services.wake_delivery()
    return RunOutcome.RAN


async def _record_failure(
    services: Services, task_id: int, error: Exception, grace: timedelta, zone: tzinfo, now: datetime
) -> None:
    async with services.db.session() as session:
        task = await session.get(ScheduledTask, task_id)
        if task is None:
            return
        fire_time = latest_fire_time(task, now, grace, zone)
        await insert_ignore(
            session,
            JobRun,
            {
                "job_id": job_id_for(task_id),
                "scheduled_for": fire_time,
                "outcome": RunOutcome.FAILED,
                "recorded_at": now,
                "detail": f"{type(error).__name__}: {error}"[:500],
            },
            ["job_id", "scheduled_for"],
        )
        task.last_fired_at, task.updated_at = fire_time, now
        if task.cron is None:
            task.status = TaskStatus.FAILED
