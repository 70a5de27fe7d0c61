"""Scheduled work of the duty ledger (履职档案): rebuilding it in full, so what members and the office
see is current even where no scoped refresh (a member's ``履职``, a secretary's decision) reached.

* ``duty.rebuild`` / ``nightly``: every day at ``duty.rebuild_at`` (local time; "" disables it), this
  year's ledger — and last year's too during January, while the annual assessment is being closed.
* ``duty.rebuild`` / ``year:<year>``: once, soon after a start that found the rules of a year changed
  since its last full rebuild (``DutyYear.rules_hash``): a rule change recomputes the year.

Both are kept in line at scheduler start (:func:`ensure_duty_rebuild`), as the year-end nudge is.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.duty_rules import year_rules
from bot.domain.ledger import refresh
from bot.domain.tasks import cancel_task, schedule_task
from models.duty import DutyYear
from models.scheduling import ScheduledTask, TaskStatus
from scheduler.tasks import task_handler

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

REBUILD_TASK = "duty.rebuild"
NIGHTLY_REF = "nightly"
YEAR_REF_PREFIX = "year:"
# A rebuild for changed rules runs this long after the start: off the start's path (the server comes up
# first), and in the future, so even a misfire grace of 0 runs it rather than recording it as missed.
RULES_CHANGE_DELAY = timedelta(minutes=1)


def years_to_rebuild(ref: str, local_now: datetime) -> list[int]:
    """The years a run of the task ``ref`` rebuilds, at the committee's local ``local_now``."""
    if ref.startswith(YEAR_REF_PREFIX):
        return [int(ref.removeprefix(YEAR_REF_PREFIX))]
    if local_now.month == 1:  # last year's assessment is still being closed
        return [local_now.year - 1, local_now.year]
    return [local_now.year]


@task_handler(REBUILD_TASK)
async def rebuild_ledger(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    now = services.clock.now()
    zone = services.zone
    for year in years_to_rebuild(task.ref, now.astimezone(zone)):
        await refresh(session, year_rules(services, year), year, zone, now=now)


def nightly_cron(rebuild_at: str) -> str:
    hour, minute = (int(part) for part in rebuild_at.split(":"))
    return f"{minute} {hour} * * *"


async def ensure_duty_rebuild(services: Services) -> list[int]:
    """Keep the nightly rebuild in line with ``duty.rebuild_at`` and schedule a one-off rebuild of every
    year whose rules changed since it was last rebuilt (called at start). Returns those years."""
    setting = services.settings.duty.rebuild_at
    now = services.clock.now()
    async with services.db.session() as session:
        if not setting:
            await cancel_task(session, kind=REBUILD_TASK, ref=NIGHTLY_REF)
        else:
            cron = nightly_cron(setting)
            existing = await session.scalar(select(ScheduledTask).where(ScheduledTask.kind == REBUILD_TASK,
                                                                        ScheduledTask.ref == NIGHTLY_REF))
            if existing is None or existing.cron != cron or existing.status is not TaskStatus.PENDING:
                await schedule_task(session, kind=REBUILD_TASK, ref=NIGHTLY_REF, cron=cron, now=now)
        changed = [state.year for state in (await session.scalars(select(DutyYear).order_by(DutyYear.year))).all()
                   if state.rules_hash != year_rules(services, state.year).digest]
        for year in changed:
            await schedule_task(session, kind=REBUILD_TASK, ref=f"{YEAR_REF_PREFIX}{year}",
                                run_at=now + RULES_CHANGE_DELAY, now=now)
    if changed:
        log.info("duty rules changed for %s: rebuilding %s", ", ".join(map(str, changed)),
                 "it" if len(changed) == 1 else "them")
    return changed
