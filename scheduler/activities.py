"""Scheduled work of activities: closing the sign-in window (absence computed) at the moment it closes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.activities import CLOSE_TASK, close_attendance
from models.activity import Activity
from models.scheduling import ScheduledTask
from scheduler.tasks import task_handler

if TYPE_CHECKING:
    from bot.infra.services import Services


@task_handler(CLOSE_TASK)
async def close_activity_window(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    activity = await session.get(Activity, int(task.ref))
    if activity is not None:
        await close_attendance(session, activity, now=services.clock.now())
