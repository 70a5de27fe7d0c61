"""Scheduled work of notices and study: a notice at its time, an activity's reminders and last call,
a study plan's fire times, and the year-end nudge (after rebuilding the year's duty ledger, so "five one"
progress is current). Each handler only queues deliveries, in the task's transaction, keyed so that a
second run sends nothing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.duty_rules import year_rules
from bot.domain.ledger import missing_targets, refresh
from bot.domain.notices import LAST_CALL_TASK, NOTICE_TASK, REMIND_TASK, outbox_for
from bot.domain.study import PLAN_TASK, run_plan
from models.activity import Activity
from models.notice import Notice, StudyPlan
from models.scheduling import ScheduledTask, TaskStatus
from scheduler.tasks import task_handler

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

NUDGE_TASK = "nudge.year_end"
NUDGE_REF = "five-one"


@task_handler(NOTICE_TASK)
async def send_scheduled_notice(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    notice = await session.get(Notice, int(task.ref))
    if notice is not None:
        await notices.send_notice(session, notice, await outbox_for(services, session))


@task_handler(REMIND_TASK)
async def remind_before_start(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    activity_id, _, minutes = task.ref.partition(":")
    activity = await session.get(Activity, int(activity_id))
    if activity is not None:
        await notices.remind(session, activity, await outbox_for(services, session), minutes=int(minutes))


@task_handler(LAST_CALL_TASK)
async def last_call(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    activity = await session.get(Activity, int(task.ref))
    if activity is not None:
        await notices.remind(session, activity, await outbox_for(services, session), minutes=None)


@task_handler(PLAN_TASK)
async def study_plan_fire(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    plan = await session.get(StudyPlan, int(task.ref))
    if plan is not None:
        await run_plan(session, plan, await outbox_for(services, session))


@task_handler(NUDGE_TASK)
async def year_end_nudge(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    from bot.domain.notify import tell_member

    outbox = await outbox_for(services, session)
    year = outbox.now.astimezone(outbox.zone).year
    rules = year_rules(services, year)
    await refresh(session, rules, year, outbox.zone, now=outbox.now)  # what members did up to today
    missing = await missing_targets(session, rules, year)
    for member_id, names in sorted(missing.items()):
        text = outbox.texts("notice.text.nudge", year=year, missing="、".join(names))
        await tell_member(session, member_id, text, key=f"nudge:{year}:{member_id}")
    log.info("year-end nudge %s: %d members still miss a target", year, len(missing))


async def ensure_year_end_nudge(services: Services) -> None:
    """Keep the nudge's recurring task in line with ``notices.year_end_nudge`` (called at start)."""
    from bot.domain.tasks import cancel_task, schedule_task

    setting = services.settings.notices.year_end_nudge
    async with services.db.session() as session:
        if not setting:
            await cancel_task(session, kind=NUDGE_TASK, ref=NUDGE_REF)
            return
        month_day, _, clock = setting.partition(" ")
        month, day = (int(part) for part in month_day.split("-"))
        hour, minute = (int(part) for part in clock.split(":"))
        cron = f"{minute} {hour} {day} {month} *"
        existing = await session.scalar(select(ScheduledTask).where(ScheduledTask.kind == NUDGE_TASK,
                                                                    ScheduledTask.ref == NUDGE_REF))
        if existing is None or existing.cron != cron or existing.status is not TaskStatus.PENDING:
            await schedule_task(session, kind=NUDGE_TASK, ref=NUDGE_REF, cron=cron, now=services.clock.now())
