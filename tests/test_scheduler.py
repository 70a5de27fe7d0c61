"""The scheduler: jobs rebuilt from database rows, the misfire policy, at-most-once runs, housekeeping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.tasks import cancel_task, schedule_task
from bot.infra.clock import Clock, FrozenClock
from bot.infra.db import Database
from bot.infra.services import Services
from bot.outbound.message import Reply
from bot.outbound.queue import enqueue
from models.conversation import ConversationState, InboundMessage
from models.scheduling import JobRun, RunOutcome, ScheduledTask, TaskStatus
from scheduler import jobs
from scheduler.core import LvzhiScheduler
from scheduler.tasks import execute_task, plan_task, task_handler
from tests import outbound_support as support
from tests.outbound_support import MockApi, build_services, delivery_rows, outbound_settings

mock_api, http, services = support.mock_api, support.http, support.services  # fixtures

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(hours=1)  # the default scheduler.misfire_grace_seconds


@task_handler("test.notice")
async def push_notice(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    for member in ("sim-a", "sim-b"):
        await enqueue(
            session,
            platform="sim",
            recipient=member,
            reply=Reply(text=f"通知 {task.ref}"),
            key=f"notice:{task.ref}:{member}",
        )


@task_handler("test.broken")
async def broken(services: Services, session: AsyncSession, task: ScheduledTask) -> None:
    await enqueue(session, platform="sim", recipient="sim-a", reply=Reply(text="never"), key=f"broken:{task.ref}")
    raise RuntimeError("the notice was deleted")


async def add_task(services: Services, kind: str, ref: str, **when: object) -> int:
    async with services.db.session() as session:
        task = await schedule_task(session, kind=kind, ref=ref, now=services.clock.now(), **when)  # type: ignore[arg-type]
        assert task.id is not None
        return task.id


async def job_runs(db: Database) -> list[JobRun]:
    async with db.reader() as session:
        return list((await session.execute(select(JobRun).order_by(JobRun.id))).scalars().all())


async def task_status(db: Database, task_id: int) -> TaskStatus:
    async with db.reader() as session:
        task = await session.get(ScheduledTask, task_id)
        assert task is not None
        return task.status


# --- the misfire policy, as a pure function ---------------------------------------------------------------


def one_shot(run_at: datetime) -> ScheduledTask:
    return ScheduledTask(id=1, kind="k", ref="r", run_at=run_at, created_at=run_at - timedelta(days=1))


def recurring(cron: str, since: datetime) -> ScheduledTask:
    return ScheduledTask(id=2, kind="k", ref="r", cron=cron, created_at=since, last_fired_at=since)


def test_one_shot_plans() -> None:
    now = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    assert plan_task(one_shot(now + timedelta(minutes=5)), now, GRACE, SHANGHAI).upcoming
    assert plan_task(one_shot(now - timedelta(minutes=59)), now, GRACE, SHANGHAI).run_now == now - timedelta(minutes=59)
    late = plan_task(one_shot(now - timedelta(minutes=61)), now, GRACE, SHANGHAI)
    assert (late.run_now, late.missed, late.upcoming) == (None, now - timedelta(minutes=61), False)


def test_recurring_misfires_coalesce_and_old_ones_are_missed() -> None:
    # Every day at 09:00 Shanghai (01:00 UTC); lvzhi was down from three days ago until 01:30 UTC today.
    now = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)
    plan = plan_task(recurring("0 9 * * *", now - timedelta(days=3)), now, GRACE, SHANGHAI)
    assert plan.run_now == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # today's, within the grace: run once
    assert plan.missed == datetime(2026, 11, 19, 1, 0, tzinfo=UTC)  # the earliest of the two older ones
    assert plan.missed_count == 2 and plan.upcoming
    quiet = plan_task(recurring("0 9 * * *", now - timedelta(minutes=10)), now, GRACE, SHANGHAI)
    assert (quiet.run_now, quiet.missed) == (None, None)


# --- rebuilding from the database ------------------------------------------------------------------------


async def test_jobs_are_rebuilt_from_rows_with_deterministic_ids(services: Services, clock: FrozenClock) -> None:
    now = clock.now()
    future = await add_task(services, "test.notice", "future", run_at=now + timedelta(hours=2))
    recent = await add_task(services, "test.notice", "recent", run_at=now - timedelta(minutes=30))
    old = await add_task(services, "test.notice", "old", run_at=now - timedelta(hours=3))
    daily = await add_task(services, "test.notice", "daily", cron="0 9 * * *")
    scheduler = LvzhiScheduler(services)
    counts = await scheduler.sync()
    assert counts == {"armed": 2, "catch_up": 1, "missed": 1, "removed": 0}
    assert scheduler.task_job_ids() == sorted([f"task:{future}", f"task:{recent}:catch-up", f"task:{daily}"])
    jobs_by_id = {job.id: job for job in scheduler.aps.get_jobs()}
    future_job = jobs_by_id[f"task:{future}"]
    assert future_job.func is jobs.run_task and future_job.args == (future,)
    assert isinstance(future_job.trigger, DateTrigger)
    assert future_job.trigger.run_date == now + timedelta(hours=2)
    assert isinstance(jobs_by_id[f"task:{daily}"].trigger, CronTrigger)
    assert await task_status(services.db, old) == TaskStatus.MISSED
    (missed,) = await job_runs(services.db)
    assert (missed.job_id, missed.outcome, missed.scheduled_for) == (
        f"task:{old}",
        RunOutcome.MISSED,
        now - timedelta(hours=3),
    )

    # A second rebuild (a restart, or the periodic resync) changes nothing and records nothing twice.
    again = await scheduler.sync()
    assert again["missed"] == 0 and scheduler.task_job_ids() == sorted(jobs_by_id)
    assert len(await job_runs(services.db)) == 1


async def test_cancelled_and_moved_tasks_follow_their_rows(services: Services, clock: FrozenClock) -> None:
    task_id = await add_task(services, "test.notice", "n1", run_at=clock.now() + timedelta(hours=1))
    scheduler = LvzhiScheduler(services)
    await scheduler.sync()
    await add_task(services, "test.notice", "n1", run_at=clock.now() + timedelta(hours=5))  # moved
    await scheduler.sync()
    (job,) = [job for job in scheduler.aps.get_jobs() if job.id == f"task:{task_id}"]
    assert job.trigger.run_date == clock.now() + timedelta(hours=5)
    async with services.db.session() as session:
        assert await cancel_task(session, kind="test.notice", ref="n1")
    assert (await scheduler.sync())["removed"] == 1
    assert scheduler.task_job_ids() == []


async def test_bad_schedules_are_refused(services: Services) -> None:
    async with services.db.session() as session:
        with pytest.raises(ValueError):
            await schedule_task(session, kind="test.notice", ref="x")
        with pytest.raises(ValueError):
            await schedule_task(session, kind="test.notice", ref="x", cron="every day")


# --- running a fire time ---------------------------------------------------------------------------------


async def test_a_fire_time_runs_once_even_when_fired_twice(services: Services, clock: FrozenClock) -> None:
    task_id = await add_task(services, "test.notice", "n7", run_at=clock.now() - timedelta(minutes=5))
    scheduler = LvzhiScheduler(services)
    outcomes = await asyncio.gather(
        execute_task(services, task_id, grace=GRACE, zone=SHANGHAI),  # the catch-up …
        execute_task(services, task_id, grace=GRACE, zone=SHANGHAI),  # … and a second process's
    )
    assert sorted(outcomes, key=str) == sorted([RunOutcome.RAN, None], key=str)
    assert await execute_task(services, task_id, grace=GRACE, zone=SHANGHAI) is None
    assert [row.recipient for row in await delivery_rows(services.db)] == ["sim-a", "sim-b"]
    assert await task_status(services.db, task_id) == TaskStatus.DONE
    (run,) = await job_runs(services.db)
    assert (run.outcome, run.scheduled_for) == (RunOutcome.RAN, clock.now() - timedelta(minutes=5))
    assert (await scheduler.sync())["catch_up"] == 0  # done: nothing to rebuild


async def test_a_recurring_task_runs_each_fire_time_once(services: Services, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 11, 21, 0, 59, tzinfo=UTC))
    task_id = await add_task(services, "test.notice", "daily", cron="0 9 * * *")
    clock.set(datetime(2026, 11, 21, 1, 0, 1, tzinfo=UTC))
    assert await execute_task(services, task_id, grace=GRACE, zone=SHANGHAI) == RunOutcome.RAN
    assert await execute_task(services, task_id, grace=GRACE, zone=SHANGHAI) is None
    assert await task_status(services.db, task_id) == TaskStatus.PENDING
    clock.advance(days=1)
    assert await execute_task(services, task_id, grace=GRACE, zone=SHANGHAI) == RunOutcome.RAN
    assert [run.scheduled_for.day for run in await job_runs(services.db)] == [21, 22]


async def test_a_failing_handler_is_recorded_and_its_effects_rolled_back(
    services: Services, clock: FrozenClock
) -> None:
    task_id = await add_task(services, "test.broken", "b1", run_at=clock.now())
    assert await execute_task(services, task_id, grace=GRACE, zone=SHANGHAI) == RunOutcome.FAILED
    assert await delivery_rows(services.db) == []
    (run,) = await job_runs(services.db)
    assert run.outcome == RunOutcome.FAILED and "the notice was deleted" in run.detail
    assert await task_status(services.db, task_id) == TaskStatus.FAILED


async def test_a_miss_reported_by_apscheduler_while_running_is_recorded(services: Services, clock: FrozenClock) -> None:
    task_id = await add_task(services, "test.notice", "n", run_at=clock.now() - timedelta(hours=2))
    await LvzhiScheduler(services)._record_live_miss(f"task:{task_id}", clock.now() - timedelta(hours=2))
    assert await task_status(services.db, task_id) == TaskStatus.MISSED
    assert [run.outcome for run in await job_runs(services.db)] == [RunOutcome.MISSED]


async def test_start_runs_the_catch_up_and_shutdown_stops(
    db: Database, tmp_path: Path, db_url: str, mock_api: MockApi, http: aiohttp.ClientSession
) -> None:
    """The real thing on the wall clock: a notice due 10 minutes ago is sent once when lvzhi starts."""
    services = build_services(db, Clock(), outbound_settings(tmp_path, db_url, mock_api.url), http)
    ran = asyncio.Event()

    class Worker:
        def wake(self) -> None:
            ran.set()  # execute_task wakes the delivery worker after committing the run

    services.delivery = Worker()
    await add_task(services, "test.notice", "on-start", run_at=Clock().now() - timedelta(minutes=10))
    services.scheduler = LvzhiScheduler(services)
    await services.scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=10)
        assert {job.id for job in services.scheduler.aps.get_jobs()} >= {
            "housekeeping:conversations",
            "housekeeping:delivery",
            "housekeeping:tokens",
            "housekeeping:inbound-purge",
            "housekeeping:resync",
            "housekeeping:report-photos",
        }
    finally:
        await services.scheduler.shutdown()
    assert not services.scheduler.aps.running
    assert len(await delivery_rows(db)) == 2


# --- housekeeping ----------------------------------------------------------------------------------------


@pytest.fixture
def bound(services: Services) -> Iterator[Services]:
    jobs.bind(services)
    yield services
    jobs.unbind(services)


async def test_purge_drops_inbound_records_older_than_three_days(bound: Services, clock: FrozenClock) -> None:
    now = clock.now()
    async with bound.db.session() as session:
        session.add(
            InboundMessage(dedupe_key="old", session_key="mp:o", received_at=now - timedelta(days=3, seconds=1))
        )
        session.add(InboundMessage(dedupe_key="new", session_key="mp:o", received_at=now - timedelta(days=2)))
    assert await jobs.purge_inbound_messages() == 1
    async with bound.db.reader() as session:
        assert [m.dedupe_key for m in (await session.execute(select(InboundMessage))).scalars()] == ["new"]


async def test_token_job_refreshes_ahead_of_expiry(bound: Services, mock_api: MockApi, clock: FrozenClock) -> None:
    await jobs.refresh_tokens()
    assert mock_api.mock.token_fetches == {"mp": 1, "wecom": 1}
    clock.advance(minutes=100)  # 20 minutes left: not yet within the job's 15-minute horizon
    await jobs.refresh_tokens()
    assert mock_api.mock.token_fetches == {"mp": 1, "wecom": 1}
    clock.advance(minutes=6)
    await jobs.refresh_tokens()
    assert mock_api.mock.token_fetches == {"mp": 2, "wecom": 2}


async def test_conversation_sweep_and_delivery_wake(bound: Services, clock: FrozenClock) -> None:
    async with bound.db.session() as session:
        session.add(
            ConversationState(
                session_key="sim:sim-a", state="report:title", updated_at=clock.now() - timedelta(hours=2)
            )
        )
    await jobs.sweep_idle_conversations()
    (row,) = await delivery_rows(bound.db)
    assert row.recipient == "sim-a"
    woken = asyncio.Event()

    class Worker:
        def wake(self) -> None:
            woken.set()

    bound.delivery = Worker()
    await jobs.wake_delivery()
    assert woken.is_set()
