"""The duty ledger's scheduling (scheduler/duty.py): the nightly full rebuild at ``duty.rebuild_at`` (last
year's too in January), kept in line with the setting at start, and a one-off rebuild of a year whose
rules changed since it was last rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from bot.domain.duty_rules import load_rules, year_rules
from bot.domain.ledger import scores
from bot.infra.clock import Clock, FrozenClock
from bot.infra.db import Database
from bot.infra.services import Services
from models.activity import ActivityType
from models.duty import DutyEntry, DutyYear
from models.scheduling import JobRun, RunOutcome, ScheduledTask, TaskStatus
from scheduler import duty as duty_tasks
from scheduler.core import LvzhiScheduler
from scheduler.tasks import execute_task
from tests import outbound_support as support
from tests.activity_support import Org
from tests.outbound_support import MockApi, build_services, outbound_settings
from tests.test_ledger_core import RULES_2026, attend, new_activity, write_rules

mock_api, http, services = support.mock_api, support.http, support.services  # fixtures

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(hours=1)  # the default scheduler.misfire_grace_seconds
REBUILD = duty_tasks.REBUILD_TASK


def local(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


def services_with(db: Database, clock: Clock, tmp_path: Path, db_url: str, mock_api: MockApi,
                  http: aiohttp.ClientSession, **duty: str) -> Services:
    return build_services(db, clock, outbound_settings(tmp_path, db_url, mock_api.url, duty=duty), http)


async def rebuild_tasks(db: Database) -> dict[str, ScheduledTask]:
    async with db.reader() as session:
        rows = (await session.scalars(select(ScheduledTask).where(ScheduledTask.kind == REBUILD))).all()
    return {row.ref: row for row in rows}


async def duty_years(db: Database) -> dict[int, DutyYear]:
    async with db.reader() as session:
        return {row.year: row for row in (await session.scalars(select(DutyYear))).all()}


async def run(services: Services, task: ScheduledTask) -> RunOutcome | None:
    assert task.id is not None
    return await execute_task(services, task.id, grace=GRACE, zone=SHANGHAI)


# --- which years a run rebuilds ------------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "moment", "years"), [
    ("nightly", datetime(2026, 11, 21, 2, 30, tzinfo=SHANGHAI), [2026]),
    ("nightly", datetime(2027, 1, 31, 23, 59, tzinfo=SHANGHAI), [2026, 2027]),  # the assessment is being closed
    ("nightly", datetime(2027, 2, 1, 0, 0, tzinfo=SHANGHAI), [2027]),
    ("nightly", datetime(2027, 1, 1, 0, 30, tzinfo=SHANGHAI), [2026, 2027]),
    ("year:2024", datetime(2026, 11, 21, 2, 30, tzinfo=SHANGHAI), [2024]),
])
def test_years_to_rebuild(ref: str, moment: datetime, years: list[int]) -> None:
    assert duty_tasks.years_to_rebuild(ref, moment) == years


# --- the nightly rebuild ---------------------------------------------------------------------------------------


async def test_the_nightly_task_follows_the_setting(db: Database, clock: FrozenClock, tmp_path: Path, db_url: str,
                                                    mock_api: MockApi, http: aiohttp.ClientSession) -> None:
    default = services_with(db, clock, tmp_path, db_url, mock_api, http)
    assert await duty_tasks.ensure_duty_rebuild(default) == []
    nightly = (await rebuild_tasks(db))["nightly"]
    assert (nightly.cron, nightly.status, nightly.run_at) == ("30 2 * * *", TaskStatus.PENDING, None)
    clock.advance(hours=1)
    await duty_tasks.ensure_duty_rebuild(default)  # unchanged: left alone (its fire times count on)
    assert (await rebuild_tasks(db))["nightly"].updated_at == nightly.updated_at

    later = services_with(db, clock, tmp_path, db_url, mock_api, http, rebuild_at="23:05")
    await duty_tasks.ensure_duty_rebuild(later)
    moved = (await rebuild_tasks(db))["nightly"]
    assert (moved.id, moved.cron, moved.status) == (nightly.id, "5 23 * * *", TaskStatus.PENDING)

    off = services_with(db, clock, tmp_path, db_url, mock_api, http, rebuild_at="")
    await duty_tasks.ensure_duty_rebuild(off)
    assert (await rebuild_tasks(db))["nightly"].status is TaskStatus.CANCELLED
    scheduler = LvzhiScheduler(off)
    await scheduler.sync()
    assert scheduler.task_job_ids() == []

    await duty_tasks.ensure_duty_rebuild(default)  # switched on again
    assert (await rebuild_tasks(db))["nightly"].status is TaskStatus.PENDING
    scheduler = LvzhiScheduler(default)
    assert (await scheduler.sync())["armed"] == 1
    assert scheduler.task_job_ids() == [f"task:{nightly.id}"]


async def test_the_nightly_run_rebuilds_this_year_in_full(services: Services, clock: FrozenClock, org: Org) -> None:
    db = services.db
    starts = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    await attend(db, await new_activity(db, starts, ActivityType.PLENARY, hours=9), present=[org.wang])
    await attend(db, await new_activity(db, datetime(2025, 6, 2, 1, 0, tzinfo=UTC)), present=[org.wang])
    clock.set(local(2026, 11, 22, 2, 29))
    await duty_tasks.ensure_duty_rebuild(services)
    nightly = (await rebuild_tasks(db))["nightly"]
    clock.set(local(2026, 11, 22, 2, 30, 1))
    assert await run(services, nightly) == RunOutcome.RAN
    assert await run(services, nightly) is None  # the same fire time runs once
    years = await duty_years(db)
    rules = year_rules(services, 2026)
    assert list(years) == [2026]  # November: this year only
    assert (years[2026].rules_hash, years[2026].recomputed_at) == (rules.digest, clock.now())
    async with db.reader() as session:
        found = {s.member_id: s for s in await scores(session, rules, 2026)}
        kinds = set((await session.scalars(select(DutyEntry.kind).where(DutyEntry.member_id == org.wang.id))).all())
    assert kinds == {"plenary"} and found[org.wang.id or 0].total == 20  # county rules: 10 × 2 half-days
    assert found[org.li.id or 0].total == -20  # absent from a plenary of two half-days: −10 × 2
    assert years[2026].entries > 0

    # A source changes during the day; the next night's run catches it without anyone looking.
    await attend(db, await new_activity(db, starts + timedelta(days=30)), present=[org.li])
    clock.set(local(2026, 11, 23, 2, 30, 1))
    assert await run(services, nightly) == RunOutcome.RAN
    async with db.reader() as session:
        found = {s.member_id: s for s in await scores(session, rules, 2026)}
    assert found[org.li.id or 0].total == -20 + 2
    async with db.reader() as session:
        runs = (await session.scalars(select(JobRun.scheduled_for).order_by(JobRun.id))).all()
    assert [run_at.day for run_at in runs] == [21, 22]  # 02:30 local is 18:30 UTC the day before


async def test_in_january_last_year_is_rebuilt_too(services: Services, clock: FrozenClock, org: Org) -> None:
    db = services.db
    await attend(db, await new_activity(db, datetime(2026, 12, 30, 1, 0, tzinfo=UTC)), present=[org.wang])
    await attend(db, await new_activity(db, datetime(2027, 1, 5, 1, 0, tzinfo=UTC)), present=[org.li])
    clock.set(local(2027, 1, 14, 2, 29))
    await duty_tasks.ensure_duty_rebuild(services)
    clock.set(local(2027, 1, 14, 2, 30, 1))
    assert await run(services, (await rebuild_tasks(db))["nightly"]) == RunOutcome.RAN
    assert sorted(await duty_years(db)) == [2026, 2027]
    async with db.reader() as session:
        by_year = set((await session.execute(select(DutyEntry.year, DutyEntry.member_id, DutyEntry.kind)
                                             .where(DutyEntry.kind == "inspection"))).all())
    assert by_year == {(2026, org.wang.id, "inspection"), (2027, org.li.id, "inspection")}


# --- a change of rules ------------------------------------------------------------------------------------------


async def test_a_change_of_rules_rebuilds_that_year_once(db: Database, clock: FrozenClock, org: Org, tmp_path: Path,
                                                         db_url: str, mock_api: MockApi,
                                                         http: aiohttp.ClientSession) -> None:
    first_file = write_rules(tmp_path, {2025: RULES_2026, 2026: RULES_2026}, name="first.yaml")
    dearer = RULES_2026.replace("points: 4, late: 3", "points: 6, late: 3")
    second_file = write_rules(tmp_path, {2025: RULES_2026, 2026: dearer}, name="second.yaml")
    await attend(db, await new_activity(db, datetime(2026, 3, 2, 1, 0, tzinfo=UTC), ActivityType.PLENARY),
                 present=[org.wang])
    await attend(db, await new_activity(db, datetime(2025, 3, 2, 1, 0, tzinfo=UTC), ActivityType.PLENARY),
                 present=[org.wang])

    before = services_with(db, clock, tmp_path, db_url, mock_api, http, rules_file=str(first_file))
    clock.set(local(2026, 11, 21, 2, 29))
    assert await duty_tasks.ensure_duty_rebuild(before) == []  # nothing rebuilt yet: nothing to compare
    clock.set(local(2026, 11, 21, 2, 30, 1))
    await run(before, (await rebuild_tasks(db))["nightly"])
    async with db.session() as session:  # 2025 was built too (by hand, as `lvzhi duty rebuild 2025` would)
        from bot.domain.ledger import refresh

        await refresh(session, year_rules(before, 2025), 2025, SHANGHAI, now=clock.now())
    built = await duty_years(db)
    assert built[2026].rules_hash == built[2025].rules_hash == load_rules(first_file).for_year(2026).digest

    after = services_with(db, clock, tmp_path, db_url, mock_api, http, rules_file=str(second_file))
    clock.set(local(2026, 11, 21, 10, 0))  # restarted with the new file
    assert await duty_tasks.ensure_duty_rebuild(after) == [2026]  # 2025's rules did not change
    once = (await rebuild_tasks(db))["year:2026"]
    assert (once.run_at, once.cron, once.status) == (clock.now() + duty_tasks.RULES_CHANGE_DELAY, None,
                                                     TaskStatus.PENDING)
    scheduler = LvzhiScheduler(after)
    counts = await scheduler.sync()  # (the activities' close tasks of March are long missed)
    assert (counts["armed"], counts["catch_up"]) == (2, 0)
    assert scheduler.task_job_ids() == sorted([f"task:{once.id}", f"task:{(await rebuild_tasks(db))['nightly'].id}"])

    clock.advance(minutes=1)
    assert await run(after, once) == RunOutcome.RAN
    rebuilt = await duty_years(db)
    assert rebuilt[2026].rules_hash == year_rules(after, 2026).digest != built[2026].rules_hash
    assert rebuilt[2026].recomputed_at == clock.now() and rebuilt[2025].recomputed_at == built[2025].recomputed_at
    async with db.reader() as session:
        points = dict((await session.execute(select(DutyEntry.year, DutyEntry.tenths).where(
            DutyEntry.member_id == org.wang.id, DutyEntry.kind == "plenary"))).all())
    assert points == {2025: 40, 2026: 60}  # the new rules for 2026 only
    assert (await rebuild_tasks(db))["year:2026"].status is TaskStatus.DONE
    clock.advance(minutes=5)
    assert await duty_tasks.ensure_duty_rebuild(after) == []  # current again: a restart does nothing more
    assert (await rebuild_tasks(db))["year:2026"].status is TaskStatus.DONE


async def test_a_rules_change_rebuild_is_armed_even_with_no_grace(db: Database, clock: FrozenClock, tmp_path: Path,
                                                                  db_url: str, mock_api: MockApi,
                                                                  http: aiohttp.ClientSession) -> None:
    settings = outbound_settings(tmp_path, db_url, mock_api.url, scheduler={"misfire_grace_seconds": 0})
    services = build_services(db, clock, settings, http)
    async with db.session() as session:
        session.add(DutyYear(year=2026, rules_hash="an older rules file", entries=0, recomputed_at=clock.now()))
    assert await duty_tasks.ensure_duty_rebuild(services) == [2026]
    clock.advance(seconds=5)  # the scheduler arms its jobs a moment after the start scheduled them
    counts = await LvzhiScheduler(services).sync()
    assert (counts["armed"], counts["missed"]) == (2, 0)


# --- at start ---------------------------------------------------------------------------------------------------


async def test_start_keeps_the_duty_tasks_in_line(db: Database, tmp_path: Path, db_url: str, mock_api: MockApi,
                                                  http: aiohttp.ClientSession) -> None:
    """The real start, on the wall clock: the nightly rebuild and a changed year's rebuild are armed."""
    services: Any = build_services(db, Clock(), outbound_settings(tmp_path, db_url, mock_api.url), http)
    async with db.session() as session:
        session.add(DutyYear(year=2020, rules_hash="rules of another file", entries=0, recomputed_at=Clock().now()))
        session.add(DutyYear(year=2021, rules_hash=year_rules(services, 2021).digest, entries=0,
                             recomputed_at=Clock().now()))
    services.scheduler = LvzhiScheduler(services)
    await services.scheduler.start()
    try:
        found = await rebuild_tasks(db)
        assert sorted(found) == ["nightly", "year:2020"]
        assert found["nightly"].cron == "30 2 * * *"
        assert {f"task:{task.id}" for task in found.values()} <= set(services.scheduler.task_job_ids())
    finally:
        await services.scheduler.shutdown()
