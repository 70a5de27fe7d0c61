"""The scheduler: APScheduler 3's ``AsyncIOScheduler`` on the app's event loop, rebuilt from the database.

* Jobs are never persisted by APScheduler. At start (and every 5 minutes, and on :meth:`sync`) they are
  rebuilt from ``scheduled_task`` rows, with deterministic ids (``task:<id>``) and ``replace_existing``.
* Misfire policy: a fire time that passed within ``scheduler.misfire_grace_seconds`` runs once, now
  (several coalesce into one); older ones are recorded as ``missed`` in ``job_run`` and not sent late.
  While running, APScheduler applies the same grace (``coalesce=True``, ``misfire_grace_time``) and its
  missed-job events are recorded the same way.
* At start, the recurring tasks of settings are kept in line with them (the year-end nudge, the duty
  ledger's nightly rebuild, and a rebuild of any year whose assessment rules changed).
* Housekeeping: conversation timeouts, delivery retries, token refresh, old inbound-record purge, report
  photos, and closing activities whose sign-in window closed while no task ran.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from models.scheduling import ScheduledTask, TaskStatus
from scheduler import activities as _activity_tasks  # noqa: F401  (registers the activities' task handlers)
from scheduler import duty as _duty_tasks  # also registers the duty ledger's task handler
from scheduler import jobs
from scheduler import notices as _notice_tasks  # also registers the notices' task handlers
from scheduler.tasks import TaskPlan, cron_trigger, job_id_for, plan_task, record_missed

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

HOUSEKEEPING: tuple[tuple[str, Any, timedelta], ...] = (
    ("housekeeping:conversations", jobs.sweep_idle_conversations, timedelta(minutes=1)),
    ("housekeeping:delivery", jobs.wake_delivery, timedelta(seconds=30)),
    ("housekeeping:tokens", jobs.refresh_tokens, timedelta(minutes=5)),
    ("housekeeping:inbound-purge", jobs.purge_inbound_messages, timedelta(hours=1)),
    ("housekeeping:resync", jobs.resync_tasks, timedelta(minutes=5)),
    ("housekeeping:report-photos", jobs.fetch_report_photos, timedelta(minutes=1)),
    ("housekeeping:activities", jobs.close_due_activities, timedelta(minutes=5)),
)
CATCH_UP_SUFFIX = ":catch-up"


class LvzhiScheduler:
    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings.scheduler
        self.zone = settings.zone
        self.grace = timedelta(seconds=settings.misfire_grace_seconds)
        self.aps = AsyncIOScheduler(
            timezone=self.zone,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                # APScheduler wants a positive number; a grace of 0 means "on time or not at all".
                "misfire_grace_time": max(1, settings.misfire_grace_seconds),
            },
        )
        self.aps.add_listener(self._on_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        self._background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        jobs.bind(self.services)
        await _notice_tasks.ensure_year_end_nudge(self.services)
        await _duty_tasks.ensure_duty_rebuild(self.services)
        for job_id, func, every in HOUSEKEEPING:
            self.aps.add_job(
                func,
                IntervalTrigger(seconds=every.total_seconds(), timezone=self.zone),
                id=job_id,
                name=job_id,
                replace_existing=True,
            )
        await self.sync()
        self.aps.start()

    async def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler stops in a callback on the loop: let it run
        for task in list(self._background):
            await task
        jobs.unbind(self.services)

    def sync_soon(self) -> None:
        """:meth:`sync` in the background: for a chat message whose transaction just scheduled tasks (its
        reply should not wait for the rebuild; the 5-minute resync would catch it anyway)."""
        task = asyncio.get_running_loop().create_task(self._sync_logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sync_logged(self) -> None:
        try:
            await self.sync()
        except Exception:
            log.exception("scheduler sync after a chat message failed; the periodic resync will catch up")

    # --- the database is the source of truth ---------------------------------------------------------

    async def sync(self) -> dict[str, int]:
        """Rebuild the task jobs from ``scheduled_task``; returns counts of what was armed, caught up,
        recorded as missed, and removed."""
        now = self.services.clock.now()
        counts = {"armed": 0, "catch_up": 0, "missed": 0, "removed": 0}
        wanted: set[str] = set()
        async with self.services.db.session() as session:
            pending = (
                (
                    await session.execute(
                        select(ScheduledTask)
                        .where(ScheduledTask.status == TaskStatus.PENDING)
                        .order_by(ScheduledTask.id)
                    )
                )
                .scalars()
                .all()
            )
            for task in pending:
                plan = plan_task(task, now, self.grace, self.zone)
                if plan.missed is not None:
                    await record_missed(session, task, plan, now)
                    counts["missed"] += 1
                wanted |= self._arm(task, plan, counts)
        counts["removed"] = self._remove_jobs_not_in(wanted)
        return counts

    def _arm(self, task: ScheduledTask, plan: TaskPlan, counts: dict[str, int]) -> set[str]:
        assert task.id is not None
        job_id, armed = job_id_for(task.id), set()
        if plan.run_now is not None:
            # A run at "now" (APScheduler's clock); the fire time it stands for is worked out by the job.
            self._put_job(job_id + CATCH_UP_SUFFIX, DateTrigger(timezone=self.zone), task, "(catch-up)")
            armed.add(job_id + CATCH_UP_SUFFIX)
            counts["catch_up"] += 1
        if plan.upcoming:
            if task.cron:
                trigger: Any = cron_trigger(task, self.zone)
            else:
                trigger = DateTrigger(task.run_at, timezone=self.zone)
            self._put_job(job_id, trigger, task)
            armed.add(job_id)
            counts["armed"] += 1
        return armed

    def _put_job(self, job_id: str, trigger: Any, task: ScheduledTask, note: str = "") -> None:
        """Add or replace a task's job. Before start, APScheduler queues jobs without replacing them,
        so an earlier one with the same id is removed first."""
        if not self.aps.running and self.aps.get_job(job_id) is not None:
            self.aps.remove_job(job_id)
        name = f"{task.kind} {task.ref} {note}".strip()
        self.aps.add_job(jobs.run_task, trigger, args=[task.id], id=job_id, name=name, replace_existing=True)

    def _remove_jobs_not_in(self, wanted: set[str]) -> int:
        removed = 0
        for job in self.aps.get_jobs():
            if job.id.startswith("task:") and job.id not in wanted and not job.id.endswith(CATCH_UP_SUFFIX):
                self.aps.remove_job(job.id)
                removed += 1
        return removed

    def task_job_ids(self) -> list[str]:
        return sorted(job.id for job in self.aps.get_jobs() if job.id.startswith("task:"))

    # --- APScheduler's own misfires while running ---------------------------------------------------

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            log.error("job %s raised", event.job_id, exc_info=event.exception)
            return
        task = asyncio.get_running_loop().create_task(
            self._record_live_miss(event.job_id, event.scheduled_run_time)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _record_live_miss(self, job_id: str, scheduled: datetime) -> None:
        if not job_id.startswith("task:"):
            log.warning("housekeeping job %s missed its run at %s", job_id, scheduled)
            return
        task_id = int(job_id.split(":")[1])
        async with self.services.db.session() as session:
            task = await session.get(ScheduledTask, task_id)
            if task is not None and task.status == TaskStatus.PENDING:
                plan = TaskPlan(missed=scheduled, missed_count=1)
                await record_missed(session, task, plan, self.services.clock.now())
