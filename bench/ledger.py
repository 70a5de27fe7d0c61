"""The duty ledger at county scale (issue 8): 10,000 members, 5 years, about a million source records.
Rebuild a year's ledger and export the county workbook; time and peak memory on SQLite and PostgreSQL,
against the database's raw speed measured in the same run.

    python -m bench.ledger [--quick] [--members 10000] [--year 2025] [--no-pg] [--index-trials] [--keep]
                           [--json FILE]

1. **Seed** (reported apart from the steps) the alembic schema, 24 liaison groups, 12 sectors and
   ``--members`` members, then five years (2022–2026) of sources with Core executemany inserts in batches:
   40 activities a year (a plenary of 5 half-days, the standing committee, six activities for everyone, one
   per liaison group, eight per sector), each with an attendance row per member of its audience (present /
   late / leave / absent) and closed; 1.5 reports per member-year (some adopted at a level, some with a
   leader's instruction); 12 study materials a year, read by ~75 %; self-reported claims; adjustments. The
   ledgers of the other years are rebuilt too (a production database holds them), then PostgreSQL gets
   VACUUM ANALYZE (as autovacuum would have done; SQLite gets no ANALYZE: lvzhi never runs one).
2. **Measure** in a fresh process (its memory is only what the steps use): the baselines, ``refresh`` of the
   year twice (first: the year's ledger is empty; second: a rebuild over it, which must give the same number
   of entries), ``scores`` of everyone with categories, the same for one liaison group (what ``member_year``
   reads), ``standings`` (groups and sectors), ``group_assessment``, ``five_one`` of everyone, a scoped
   refresh of one liaison group (~417 members) and ``member_year`` (what ``履职`` does: the scoped refresh,
   the group's scores and the member's targets), and ``export_ledger`` without and with the 明细 sheet when
   ``bot/exports/duty.py`` exists. Small steps are repeated (median; each run on another group or member).
3. **Baselines**, per database, in the same run. *copy* (the ratio column's base): a bare ``INSERT … SELECT``
   of the year's source rows (attendance, reports, study reads, claims: member, id, moment, title) into a
   scratch table without indexes. *scan*: ``SELECT member_id, SUM(…) … GROUP BY`` over the year's
   attendance. *ledger-shaped*: the previous year's entries (about as many) written again into a copy of
   ``duty_entry`` (primary key, unique source key, (year, member_id) index, member foreign key, ``ON CONFLICT
   DO NOTHING``): what writing the ledger's rows costs whatever computes them — the floor of a refresh.
4. **Peak memory**: the process's resident set high-water mark during the step (VmHWM, reset before each
   step by writing 5 to ``/proc/self/clear_refs``; ``ru_maxrss``, never reset, where that is refused). It
   includes what was resident when the step began; Δ is what the step added. On PostgreSQL the database
   works in its own processes: the figure is lvzhi's side only; on SQLite it includes SQLite's page cache.
5. **EXPLAIN** (``EXPLAIN QUERY PLAN`` / ``EXPLAIN``) of the refresh's source selects, full and scoped, the
   scoped DELETE and the score queries: which index each reads, printed with the plan. ``--index-trials``
   creates candidate indexes in the bench database only, times the statements and steps they could speed
   up again, prints the gain and whether the planner used the index, and drops it.

PostgreSQL is used when one answers at 127.0.0.1:5432 (database ``lvzhi_bench_ledger``, dropped afterwards
unless ``--keep``). ``python -m bench`` runs this (``--quick`` and ``--no-pg`` passed through) and writes its
table to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEMBERS = 10_000
QUICK_MEMBERS = 1_000
YEARS = range(2022, 2027)
YEAR = 2025  # the year measured: complete, as at the year-end assessment
GROUPS = 24
SECTORS = 12
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)  # fixed: the data and the ledger do not depend on the clock
PG_DB = "lvzhi_bench_ledger"
BATCH = 20_000
REPEAT = 5  # small steps: median of this many runs (another group / member each time)


# --- seeding ------------------------------------------------------------------------------------------------------


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


@dataclass
class Plan:
    """The organisation the sources are drawn for (members 1..n; group and sector by id)."""

    members: int
    rng: random.Random

    def group_of(self, member: int) -> int:
        return (member - 1) % GROUPS + 1

    def sector_of(self, member: int) -> int:
        return (member * 7 + member // 13) % SECTORS + 1

    def standing(self) -> list[int]:
        return [m for m in range(1, self.members + 1) if m % 33 == 0]


ALL_TYPES = ("study", "briefing", "study", "briefing", "consultation", "supervision")
GROUP_TYPES = ("inspection", "visit", "supervision", "study")
SECTOR_TYPES = ("consultation", "other", "study", "inspection")
ATTENDANCE_MIX = (("present", 0.75), ("late", 0.08), ("leave", 0.07), ("absent", 0.10))
REPORT_MIX = (("draft", 0.05), ("submitted", 0.08), ("under_review", 0.05), ("returned", 0.04),
              ("adopted", 0.25), ("not_adopted", 0.53))
LEVEL_MIX = (("county", 0.60), ("city", 0.25), ("provincial", 0.12), ("national", 0.03))
CLAIM_KINDS = ("proposal", "proposal_filed", "proposal_cosigned", "speech", "research_report", "good_deed")
CLAIM_MIX = (("verified", 0.70), ("pending", 0.15), ("rejected", 0.10), ("withdrawn", 0.05))


def pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for value, share in mix:
        total += share
        if roll < total:
            return value
    return mix[-1][0]


def activities_of(plan: Plan, year: int) -> list[dict[str, Any]]:
    """40 activities: (type, audience, audience ids, organising group, half-days, members)."""
    everyone = list(range(1, plan.members + 1))
    found: list[dict[str, Any]] = [
        {"type": "plenary", "audience": "all", "ids": [], "group": None, "half_days": 5, "who": everyone},
        {"type": "standing", "audience": "members", "ids": plan.standing(), "group": None, "half_days": 1,
         "who": plan.standing()},
    ]
    found += [{"type": t, "audience": "all", "ids": [], "group": None, "half_days": 1, "who": everyone}
              for t in ALL_TYPES]
    for group in range(1, GROUPS + 1):
        found.append({"type": GROUP_TYPES[group % len(GROUP_TYPES)], "audience": "groups", "ids": [group],
                      "group": group, "half_days": 1,
                      "who": [m for m in everyone if plan.group_of(m) == group]})
    for n in range(8):
        sector = (year + n) % SECTORS + 1
        found.append({"type": SECTOR_TYPES[n % len(SECTOR_TYPES)], "audience": "sectors", "ids": [sector],
                      "group": None, "half_days": 1, "who": [m for m in everyone if plan.sector_of(m) == sector]})
    for number, activity in enumerate(found):
        # spread over the year, 09:00 local; the plenary in March
        day_of_year = 70 if activity["type"] == "plenary" else 10 + number * 8
        activity["starts_at"] = local(year, 1, 1) + timedelta(days=day_of_year)
    return found


class Writer:
    """Core executemany in batches: one INSERT statement per batch, no ORM objects."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.counts: dict[str, int] = {}
        self.pending: dict[Any, list[dict[str, Any]]] = {}

    async def add(self, table: Any, row: dict[str, Any]) -> None:
        rows = self.pending.setdefault(table, [])
        rows.append(row)
        if len(rows) >= BATCH:
            await self.flush(table)

    async def flush(self, table: Any = None) -> None:
        from sqlalchemy import insert

        for key in [table] if table is not None else list(self.pending):
            rows = self.pending.get(key) or []
            if rows:
                await self.session.execute(insert(key.__table__), rows)
                name = key.__tablename__
                self.counts[name] = self.counts.get(name, 0) + len(rows)
                self.pending[key] = []


async def seed(url: str, members: int) -> dict[str, Any]:
    """Schema at head, the organisation and five years of sources. Returns row counts and seconds."""
    from sqlalchemy import insert, text

    from bot.infra.db import Database
    from models.activity import Activity, Attendance
    from models.duty import DutyAdjustment, DutyClaim
    from models.member import LiaisonGroup, Member, Sector
    from models.notice import StudyMaterial, StudyRead
    from models.report import Instruction, Report

    started = time.perf_counter()
    db = Database(url)
    await db.upgrade()
    plan = Plan(members, random.Random(8))
    rng = plan.rng
    created = local(2021, 12, 1)
    async with db.session() as session:
        if db.is_sqlite:  # the bench database only: a large page cache, no waiting on the disk while seeding
            for pragma in ("PRAGMA cache_size=-262144", "PRAGMA temp_store=MEMORY"):
                await session.execute(text(pragma))
        writer = Writer(session)
        await session.execute(insert(LiaisonGroup), [
            {"id": g, "name": f"第{g}联络组", "leader_id": g} for g in range(1, GROUPS + 1)])
        await session.execute(insert(Sector), [{"id": s, "name": f"界别{s}"} for s in range(1, SECTORS + 1)])
        writer.counts.update(liaison_group=GROUPS, sector=SECTORS)
        for m in range(1, members + 1):
            role = "group_leader" if m <= GROUPS else "secretary" if m > members - 10 else "member"
            status = "left" if m % 97 == 0 else "active"
            await writer.add(Member, {
                "id": m, "name": f"委员{m:05d}", "gender": "女" if m % 3 == 0 else "男", "mobile": None,
                "sector_id": plan.sector_of(m), "committee_id": None, "group_id": plan.group_of(m),
                "work_unit": "某单位", "term": "第六届", "role": role, "status": status, "scope_group_ids": [],
                "created_at": created, "updated_at": created})
        await writer.flush()
        activity_id = report_id = material_id = 0
        for year in YEARS:
            held = []
            for activity in activities_of(plan, year):
                activity_id += 1
                starts, half_days = activity["starts_at"], activity["half_days"]
                if starts < NOW:
                    held.append((activity_id, activity))
                await writer.add(Activity, {
                    "id": activity_id, "type": activity["type"], "title": f"{year}年第{activity_id}次活动",
                    "venue": "政协机关", "description": "", "starts_at": starts,
                    "ends_at": starts + timedelta(hours=4 * half_days), "signin_opens_at": starts - timedelta(hours=1),
                    "signin_closes_at": starts + timedelta(hours=1), "late_after": starts + timedelta(minutes=15),
                    "latitude": None, "longitude": None, "radius_m": None, "half_days": half_days,
                    "require_location": False, "audience": activity["audience"], "audience_ids": activity["ids"],
                    "group_id": activity["group"], "status": "closed" if starts < NOW else "scheduled",
                    "code_secret": "0" * 32, "created_by_id": None, "created_at": starts - timedelta(days=10),
                    "updated_at": starts, "closed_at": starts + timedelta(hours=1) if starts < NOW else None})
            await writer.flush(Activity)
            for activity_id_held, activity in held:
                starts = activity["starts_at"]
                for m in activity["who"]:
                    status = pick(rng, ATTENDANCE_MIX)
                    signed = status in ("present", "late")
                    await writer.add(Attendance, {
                        "activity_id": activity_id_held, "member_id": m, "group_id": plan.group_of(m), "status": status,
                        "method": "code" if signed else "close",
                        "signed_in_at": starts + timedelta(minutes=20 if status == "late" else -5) if signed else None,
                        "leave_id": None, "recorded_at": starts, "updated_at": starts})
            last_day = min(local(year + 1, 1, 1), NOW) - local(year, 1, 1)
            for m in range(1, members + 1):
                for _ in range(rng.choice((1, 1, 2))):
                    report_id += 1
                    at = local(year, 1, 1) + timedelta(seconds=rng.uniform(0, last_day.total_seconds()))
                    status = pick(rng, REPORT_MIX)
                    submitted = status != "draft"
                    decided = status in ("adopted", "not_adopted")
                    await writer.add(Report, {
                        "id": report_id, "member_id": m, "group_id": plan.group_of(m),
                        "title": f"关于{year}年第{report_id}号社情民意的建议", "category": "民生", "body": "正文",
                        "status": status, "step": "done", "year": year,
                        "adoption_level": pick(rng, LEVEL_MIX) if status == "adopted" else None,
                        "review_comment": "", "similar_report_id": None, "similarity": None,
                        "created_at": at, "updated_at": at,
                        "submitted_at": at + timedelta(hours=1) if submitted else None,
                        "decided_at": at + timedelta(days=3) if decided else None})
                    if status == "adopted" and rng.random() < 0.15:
                        await writer.add(Instruction, {
                            "report_id": report_id, "text": "请有关部门研究办理。", "leader": "县委书记 张某",
                            "given_at": at + timedelta(days=5), "recorded_by_id": None,
                            "recorded_at": at + timedelta(days=6)})
                for _ in range(rng.choice((0, 0, 0, 1, 1))):
                    at = local(year, 1, 1) + timedelta(days=rng.randrange(max(last_day.days, 1)), hours=4)
                    await writer.add(DutyClaim, {
                        "member_id": m, "year": year, "kind": rng.choice(CLAIM_KINDS), "occurred_at": at,
                        "description": "在县政协全会上作大会发言", "status": pick(rng, CLAIM_MIX),
                        "decided_by_id": None, "decided_by_name": "", "decision_note": "", "created_at": at,
                        "decided_at": None})
            await writer.flush(Report)
            await writer.flush(Instruction)
            for month in range(1, 13):
                pushed = local(year, month, 3, 8)
                if pushed >= NOW:
                    continue
                material_id += 1
                await writer.add(StudyMaterial, {
                    "id": material_id, "title": f"{year}年{month}月学习材料", "summary": "", "url": "", "body": "正文",
                    "tags": [], "audience": "all", "audience_ids": [], "plan_id": None, "pushed_at": pushed,
                    "created_by_id": None, "created_at": pushed})
                await writer.flush(StudyMaterial)
                for m in range(1, members + 1):
                    if rng.random() < 0.75:
                        read_at = min(pushed + timedelta(minutes=rng.uniform(5, 40_000)), NOW)
                        await writer.add(StudyRead, {"material_id": material_id, "member_id": m, "via": "link",
                                                     "read_at": read_at})
            for _ in range(max(members // 200, 1)):
                await writer.add(DutyAdjustment, {
                    "member_id": rng.randrange(1, members + 1), "year": year, "tenths": rng.choice((-50, -20, 20, 50)),
                    "reason": "根据申诉复核调整", "appeal_id": None, "by_id": None, "by_name": "管理员",
                    "at": local(year, 12, 20)})
        await writer.flush()
        if not db.is_sqlite:  # explicit ids were given: move the sequences past them
            for table in ("member", "liaison_group", "sector", "activity", "report", "study_material"):
                await session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    seeded = time.perf_counter() - started
    ledgers = await rebuild_other_years(db)
    analyzed = time.perf_counter()
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    analyze_s = time.perf_counter() - analyzed
    await db.dispose()
    return {"counts": writer.counts, "source_rows": sum(writer.counts.values()), "seconds": seeded,
            "ledgers": ledgers, "analyze_s": analyze_s}


async def rebuild_other_years(db: Any, skip: int | None = None) -> dict[str, Any]:
    """The ledger of every year but the measured one (a production database holds them all)."""
    from bot.domain.duty_rules import load_rules
    from bot.domain.ledger import refresh

    rules = load_rules()
    started = time.perf_counter()
    entries = 0
    for year in YEARS:
        if year == (skip if skip is not None else YEAR):
            continue
        async with db.session() as session:
            entries += (await refresh(session, rules.for_year(year), year, ZONE, now=NOW)).entries
    return {"entries": entries, "seconds": time.perf_counter() - started}


# --- memory and timing --------------------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    """Reset the process's VmHWM to its current RSS (Linux ≥ 4.0); False where that is refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Measured:
    seconds: float
    peak_mb: float  # resident high-water mark during the step
    delta_mb: float  # that peak above the resident size when the step began
    value: Any = None


async def measure(work: Callable[[], Awaitable[Any]]) -> Measured:
    resettable = reset_peak()
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    value = await work()
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM") if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Measured(seconds, peak / 1024, max(peak - before, 0) / 1024, value)


# --- the steps ------------------------------------------------------------------------------------------------------


def year_sources_sql(year: int, start: str, end: str) -> str:
    """The year's source rows, bare: what a refresh reads, without the rules' CASEs and the ledger's indexes."""
    return f"""
        INSERT INTO bench_copy (member_id, source_id, occurred_at, title)
        SELECT attendance.member_id, attendance.id, activity.starts_at, activity.title
          FROM attendance JOIN activity ON activity.id = attendance.activity_id
         WHERE activity.starts_at >= {start} AND activity.starts_at < {end}
        UNION ALL
        SELECT member_id, id, coalesce(submitted_at, created_at), title FROM report WHERE year = {year}
        UNION ALL
        SELECT study_read.member_id, study_read.id, study_read.read_at, study_material.title
          FROM study_read JOIN study_material ON study_material.id = study_read.material_id
         WHERE study_read.read_at >= {start} AND study_read.read_at < {end}
        UNION ALL
        SELECT member_id, id, occurred_at, description FROM duty_claim WHERE year = {year}"""


def bounds_sql(db: Any, year: int) -> tuple[str, str]:
    from bot.domain.ledger import year_bounds

    start, end = year_bounds(year, ZONE)
    if db.is_sqlite:  # as SQLAlchemy stores them there: naive UTC text
        return (f"'{start.replace(tzinfo=None).isoformat(' ', 'microseconds')}'",
                f"'{end.replace(tzinfo=None).isoformat(' ', 'microseconds')}'")
    return f"'{start.isoformat()}'::timestamptz", f"'{end.isoformat()}'::timestamptz"


async def copy_baseline(db: Any, year: int) -> int:
    from sqlalchemy import text

    start, end = bounds_sql(db, year)
    async with db.session() as session:
        await session.execute(text("DELETE FROM bench_copy"))
        result = await session.execute(text(year_sources_sql(year, start, end)))
        return int(result.rowcount or 0)


async def scan_baseline(db: Any, year: int) -> int:
    from sqlalchemy import text

    start, end = bounds_sql(db, year)
    async with db.reader() as session:
        rows = (await session.execute(text(f"""
            SELECT attendance.member_id,
                   SUM(CASE WHEN attendance.status IN ('PRESENT', 'LATE') THEN 20 ELSE -50 END)
              FROM attendance JOIN activity ON activity.id = attendance.activity_id
             WHERE activity.starts_at >= {start} AND activity.starts_at < {end}
             GROUP BY attendance.member_id"""))).all()
        return len(rows)


LEDGER_COLUMNS = "year, member_id, kind, category, source, source_id, tenths, status, occurred_at, title"


async def ledger_copy_baseline(db: Any, year: int) -> int:
    """A year's entries written again into a table shaped like the ledger: its primary key, unique source key,
    (year, member_id) index and member foreign key, with the refresh's ON CONFLICT: the writing alone. Read
    from a year rebuilt while seeding (not the one the refreshes just rewrote, whose fresh pages the first
    reader would have to clean up on PostgreSQL)."""
    from sqlalchemy import text

    async with db.session() as session:
        await session.execute(text("DELETE FROM bench_ledger"))
        result = await session.execute(text(
            f"INSERT INTO bench_ledger ({LEDGER_COLUMNS}) SELECT {LEDGER_COLUMNS} FROM duty_entry WHERE year = {year} "
            "ON CONFLICT (source, source_id, kind) DO NOTHING"))
        return int(result.rowcount or 0)


async def create_scratch(db: Any) -> None:
    from sqlalchemy import text

    timestamp = "TIMESTAMP" if db.is_sqlite else "TIMESTAMPTZ"
    await drop_scratch(db)
    async with db.session() as session:
        await session.execute(text(f"CREATE TABLE bench_copy (member_id INTEGER, source_id INTEGER, "
                                   f"occurred_at {timestamp}, title VARCHAR(500))"))
        if db.is_sqlite:
            ddl = await session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'duty_entry'"))
            await session.execute(text(str(ddl).replace("duty_entry", "bench_ledger", 1)))
        else:
            await session.execute(text("CREATE TABLE bench_ledger (LIKE duty_entry INCLUDING ALL)"))
            await session.execute(text("ALTER TABLE bench_ledger ADD FOREIGN KEY (member_id) REFERENCES member (id)"))
        await session.execute(text("CREATE INDEX ix_bench_ledger_year_member ON bench_ledger (year, member_id)"))


async def drop_scratch(db: Any) -> None:
    from sqlalchemy import text

    async with db.session() as session:
        await session.execute(text("DROP TABLE IF EXISTS bench_copy"))
        await session.execute(text("DROP TABLE IF EXISTS bench_ledger"))


class Steps:
    """Each step as one call, as lvzhi would make it: write steps in a write session, reads in a reader."""

    def __init__(self, db: Any, year: int) -> None:
        from bot.domain.duty_rules import load_rules

        self.db, self.year = db, year
        self.rules_file = load_rules()
        self.rules = self.rules_file.for_year(year)

    async def refresh(self, members: Any = None) -> int:
        from bot.domain.ledger import refresh

        async with self.db.session() as session:
            return (await refresh(session, self.rules, self.year, ZONE, now=NOW, members=members)).entries

    async def scores(self) -> list[Any]:
        from bot.domain.ledger import scores

        async with self.db.reader() as session:
            return await scores(session, self.rules, self.year, with_categories=True)

    async def group_scores(self, member_id: int) -> int:
        """What member_year reads after its scoped refresh: the member's liaison group's scores."""
        from bot.domain.ledger import group_of, scores
        from models.member import Member

        async with self.db.reader() as session:
            member = await session.get(Member, member_id)
            return len(await scores(session, self.rules, self.year, members=group_of(member), with_categories=True))

    async def standings(self, found: list[Any]) -> int:
        from bot.domain.ledger import group_names, sector_names, standings

        async with self.db.reader() as session:
            groups, sectors = await group_names(session), await sector_names(session)
        return len(standings(found, groups, "group_id", "未分组")) + len(standings(found, sectors, "sector_id", "—"))

    async def group_assessment(self) -> int:
        from bot.domain.ledger import group_assessment

        async with self.db.reader() as session:
            return len(await group_assessment(session, self.rules, self.year, ZONE))

    async def five_one(self) -> int:
        from bot.domain.ledger import five_one

        async with self.db.reader() as session:
            return len(await five_one(session, self.rules, self.year))

    async def scoped_refresh(self, member_id: int) -> int:
        from bot.domain.ledger import group_of, refresh
        from models.member import Member

        async with self.db.session() as session:
            member = await session.get(Member, member_id)
            return (await refresh(session, self.rules, self.year, ZONE, now=NOW, members=group_of(member))).entries

    async def member_year(self, member_id: int) -> float:
        from bot.domain.ledger import member_year
        from models.member import Member

        async with self.db.session() as session:
            member = await session.get(Member, member_id)
            found = await member_year(session, self.rules, member, self.year, ZONE, now=NOW)
        assert found.score is not None, f"member {member_id} should be assessed"
        return found.score.total

    async def export(self, path: Path, *, entries: bool) -> int:
        from bot.infra.i18n import Catalogue

        export_ledger = importlib.import_module("bot.exports.duty").export_ledger  # another helper's, when it exists
        await export_ledger(self.db, self.rules_file, self.year, path, zone=ZONE, texts=Catalogue("zh_CN"), now=NOW,
                            entries=entries)
        return (await asyncio.to_thread(path.stat)).st_size


def export_available() -> bool:
    return (ROOT / "bot" / "duty_export.py").exists()


async def run_steps(url: str, year: int, members: int, repeat: int, workdir: Path, trials: bool) -> dict[str, Any]:
    from bot.infra.db import Database

    db = Database(url)
    steps = Steps(db, year)
    backend = "SQLite" if db.is_sqlite else "PostgreSQL"
    rows: list[dict[str, Any]] = []
    await create_scratch(db)

    def record(name: str, found: Measured | list[Measured], note: str = "", key: str = "") -> Measured:
        runs = found if isinstance(found, list) else [found]
        middle = sorted(runs, key=lambda m: m.seconds)[len(runs) // 2]
        row = {"step": name, "key": key or name, "seconds": middle.seconds, "peak_mb": max(m.peak_mb for m in runs),
               "delta_mb": max(m.delta_mb for m in runs), "runs": len(runs), "note": note}
        rows.append(row)
        times = f"median of {len(runs)}, " if len(runs) > 1 else ""
        print(f"  {backend:10s} {name:62s} {middle.seconds * 1000:9.1f} ms  ({times}peak RSS {row['peak_mb']:.0f} MB, "
              f"Δ {row['delta_mb']:.0f} MB) {note}", flush=True)
        return middle

    copied = await measure(lambda: copy_baseline(db, year))
    record("baseline: copy the year's source rows", copied, f"{copied.value:,} rows", key="copy")
    scanned = await measure(lambda: scan_baseline(db, year))
    record("baseline: scan attendance, SUM … GROUP BY", scanned, f"{scanned.value:,} members", key="scan")
    cold = await measure(steps.refresh)
    record("refresh the year, first (empty ledger)", cold, f"{cold.value:,} entries", key="refresh_cold")
    warm = await measure(steps.refresh)
    same = cold.value == warm.value
    record("refresh the year, second (rebuild)", warm,
           f"{warm.value:,} entries, {'same as first' if same else 'DIFFERENT FROM FIRST'}", key="refresh_warm")
    other = year - 1 if year - 1 in YEARS else year + 1
    written = await measure(lambda: ledger_copy_baseline(db, other))
    record("baseline: write a year's entries into a ledger-shaped table", written,
           f"{written.value:,} rows ({other}'s)", key="ledger_copy")
    rows.insert(2, rows.pop())  # with the other baselines in the table
    found = [await measure(steps.scores) for _ in range(repeat)]
    record("scores: all members, with categories", found, f"{len(found[0].value):,} members", key="scores")
    everyone = found[0].value
    record("standings: groups and sectors", [await measure(lambda: steps.standings(everyone)) for _ in range(repeat)],
           key="standings")
    record("group_assessment", [await measure(steps.group_assessment) for _ in range(repeat)],
           f"{GROUPS} groups", key="group_assessment")
    record("five_one: all members", [await measure(steps.five_one) for _ in range(repeat)], key="five_one")
    # One member per run, each of another liaison group (members 1..24 lead groups 1..24; take ordinary ones).
    picks = [GROUPS + 1 + n * 7 for n in range(repeat)]
    size = (members + GROUPS - 1) // GROUPS
    groups = [await measure(lambda m=m: steps.group_scores(m)) for m in picks]
    record("scores: one liaison group, with categories", groups, f"~{size} members", key="group_scores")
    scoped = [await measure(lambda m=m: steps.scoped_refresh(m)) for m in picks]
    record("scoped refresh: one liaison group", scoped, f"~{size} members, {scoped[0].value:,} entries",
           key="scoped_refresh")
    years = [await measure(lambda m=m: steps.member_year(m)) for m in picks]
    record("member_year (履职): scoped refresh + read", years, key="member_year")
    after = await steps.refresh()
    if after != cold.value:
        print(f"  {backend}: a full refresh after the scoped ones gave {after:,} entries, not {cold.value:,}",
              flush=True)
    export_note = None
    if export_available():
        for entries in (False, True):
            path = workdir / f"ledger-{backend}-{entries}.xlsx"
            try:
                done = await measure(lambda p=path, e=entries: steps.export(p, entries=e))
            except Exception as exc:  # another helper's module: its failure is a result, not the end of the run
                export_note = f"export_ledger failed: {type(exc).__name__}: {exc}"
                print(f"  {backend}: {export_note}", flush=True)
                break
            label = "export_ledger, with every entry" if entries else "export_ledger (refresh + workbook)"
            record(label, done, f"{done.value / 1024:,.0f} KiB", key="export_entries" if entries else "export")
    else:
        export_note = "bot/exports/duty.py does not exist yet: export_ledger not measured (rerun when it does)"
        print(f"  {backend}: {export_note}", flush=True)
    plans = await explain_all(db, steps)
    index_trials = await run_trials(db, steps, picks, repeat) if trials else []
    await drop_scratch(db)
    await db.dispose()
    return {"backend": backend, "rows": rows, "same_entries": same, "entries": cold.value,
            "export_note": export_note, "plans": plans, "trials": index_trials,
            "peak_source": "VmHWM (reset per step)" if reset_peak() else "ru_maxrss (not reset)"}


# --- EXPLAIN ------------------------------------------------------------------------------------------------------


def compiled_sql(statement: Any, dialect: Any) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


SOURCE_NAMES = ("attendance", "report", "adoption", "instruction", "study_read", "claim", "adjustment")
PLAN_GROUP = 5  # the liaison group whose scoped statements are explained
# What each query should read through an index (name fragments as the plans print them).
EXPECTED = {
    "attendance": ("ix_activity_starts_at",),
    "report": ("ix_report_year",),
    "adoption": ("ix_report_year",),
    "instruction": ("ix_report_year",),
    "study_read": ("ix_study_read_read_at",),
    "delete": ("ix_duty_entry_year_member",),
    "scores": ("ix_duty_entry_year_member",),
}


def plan_queries(steps: Steps) -> dict[str, Any]:
    """The refresh's statements (full, and scoped to one liaison group) and the score queries, by name."""
    from sqlalchemy import delete, select

    from bot.domain.ledger import _member_filter, _score_query, _source_selects, year_bounds
    from models.duty import DutyEntry
    from models.member import Member

    group = select(Member.id).where(Member.group_id == PLAN_GROUP)
    bounds = year_bounds(steps.year, ZONE)
    queries: dict[str, Any] = {}
    for scope, members in (("full", None), ("scoped", group)):
        selects = _source_selects(steps.rules, steps.year, bounds, members)
        queries.update({f"{name}, {scope}": query for name, query in zip(SOURCE_NAMES, selects, strict=True)})
    queries["delete, scoped"] = delete(DutyEntry).where(DutyEntry.year == steps.year,
                                                        _member_filter(DutyEntry.member_id, group))
    queries["scores, full"] = _score_query(steps.rules, steps.year, None)
    queries["scores, scoped"] = _score_query(steps.rules, steps.year, group)
    return queries


async def explain(db: Any, statement: Any) -> list[str]:
    async with db.reader() as session:
        connection = await session.connection()
        sql = compiled_sql(statement, connection.dialect)
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        return [str(row[-1]) for row in (await connection.exec_driver_sql(prefix + sql)).all()]


async def explain_all(db: Any, steps: Steps) -> list[dict[str, Any]]:
    found = []
    backend = "SQLite" if db.is_sqlite else "PostgreSQL"
    for name, query in plan_queries(steps).items():
        lines = await explain(db, query)
        expected = EXPECTED.get(name.split(",")[0], ())
        uses = [index for index in expected if any(index in line for line in lines)]
        found.append({"query": name, "plan": lines, "expected": list(expected), "uses": uses})
    print(f"\n  {backend}: query plans (EXPLAIN{' QUERY PLAN' if db.is_sqlite else ''}; scoped: liaison group "
          f"{PLAN_GROUP})", flush=True)
    for item in found:
        print(f"    {item['query']}{verdict(item)}", flush=True)
        for line in item["plan"]:
            print(f"      {line}", flush=True)
    return found


def verdict(item: dict[str, Any]) -> str:
    if not item["expected"]:
        return ""
    missing = [index for index in item["expected"] if index not in item["uses"]]
    return f"  [{'does NOT use ' + ', '.join(missing) if missing else 'uses ' + ', '.join(item['uses'])}]"


# --- index trials ---------------------------------------------------------------------------------------------------

# Candidate indexes (--index-trials), created in the bench database only: (name, table, columns, the statements
# of plan_queries and the steps they could speed up). Each is dropped after its trial.
TRIALS = (
    ("ix_bench_study_read_member_read", "study_read", "(member_id, read_at)", ("study_read, scoped",),
     ("scoped_refresh",)),
    ("ix_bench_duty_entry_year_status", "duty_entry", "(year, status, member_id, category, tenths)",
     ("scores, full", "scores, scoped"), ("scores", "refresh_warm")),
)


async def run_trials(db: Any, steps: Steps, picks: list[int], repeat: int) -> list[dict[str, Any]]:
    from sqlalchemy import func, select, text

    backend = "SQLite" if db.is_sqlite else "PostgreSQL"
    queries = plan_queries(steps)
    work = {
        "scoped_refresh": lambda m: steps.scoped_refresh(m),
        "scores": lambda _m: steps.scores(),
        "refresh_warm": lambda _m: steps.refresh(),
    }

    async def statement(name: str) -> int:
        async with db.reader() as session:
            return int(await session.scalar(select(func.count()).select_from(queries[name].subquery())) or 0)

    async def timed(key: str) -> float:
        if key in queries:
            runs = [(await measure(lambda k=key: statement(k))).seconds for _ in range(repeat)]
        else:  # a step; a full rebuild once (it takes seconds)
            members = picks[:1] if key == "refresh_warm" else picks
            runs = [(await measure(lambda m=m, k=key: work[k](m))).seconds for m in members]
        return statistics.median(runs)

    async def analyze(table: str) -> None:
        if not db.is_sqlite:
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f"ANALYZE {table}"))

    found = []
    print(f"\n  {backend}: candidate indexes (bench database only; each dropped after its trial)", flush=True)
    for name, table, columns, statements, keys in TRIALS:
        measured = (*statements, *keys)
        before = {key: await timed(key) for key in measured}
        async with db.session() as session:
            await session.execute(text(f"CREATE INDEX {name} ON {table} {columns}"))
        await analyze(table)
        plans = {key: await explain(db, queries[key]) for key in statements}
        after = {key: await timed(key) for key in measured}
        async with db.session() as session:
            await session.execute(text(f"DROP INDEX {name}"))
        await analyze(table)
        used = all(any(name in line for line in plans[key]) for key in statements)
        print(f"    {table} {columns}: {'used by the planner' if used else 'NOT used by the planner'}", flush=True)
        for key in measured:
            gain = before[key] / after[key] if after[key] else 0
            kind = "statement" if key in queries else "step"
            print(f"      {kind:9s} {key:18s} {before[key] * 1000:8.1f} → {after[key] * 1000:8.1f} ms  ({gain:.2f}×)",
                  flush=True)
        found.append({"index": f"{table} {columns}", "used": used, "before": before, "after": after,
                      "plans": plans})
    return found


# --- the run --------------------------------------------------------------------------------------------------------


def measure_in_child(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / f"steps-{'sqlite' if url.startswith('sqlite') else 'pg'}.json"
    argv = [sys.executable, "-m", "bench.ledger", "--measure", url, "--out", str(out), "--year", str(args.year),
            "--members", str(args.members), "--repeat", str(args.repeat), "--workdir", str(workdir)]
    if args.trials:
        argv.append("--index-trials")
    subprocess.run(argv, check=True, cwd=ROOT)
    return json.loads(out.read_text(encoding="utf-8"))


def backend_run(name: str, url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    print(f"\n{name}: seeding {args.members:,} members and five years of sources …", flush=True)
    seeded = asyncio.run(seed(url, args.members))
    counts = ", ".join(f"{table} {count:,}" for table, count in seeded["counts"].items())
    print(f"  seeded {seeded['source_rows']:,} rows in {seeded['seconds']:.1f} s: {counts}", flush=True)
    print(f"  ledgers of the other years: {seeded['ledgers']['entries']:,} entries in "
          f"{seeded['ledgers']['seconds']:.1f} s" + (f"; VACUUM ANALYZE {seeded['analyze_s']:.1f} s"
                                                      if seeded["analyze_s"] else ""), flush=True)
    measured = measure_in_child(url, args, workdir)
    return {"seed": seeded, **measured}


def table(results: dict[str, Any]) -> list[str]:
    """The summary table: step, time on each database, ratio to that database's copy baseline, peak memory."""
    backends = [(key, label) for key, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")) if key in results]
    head = "| step |" + "".join(f" {label} | × copy | peak RSS MB (Δ) |" for _, label in backends) + " |"
    lines = [head, "|---|" + "---:|---:|---:|" * len(backends) + "---|"]
    steps = [row["key"] for row in results[backends[0][0]]["rows"]]
    for key in steps:
        cells, name, notes = [], key, []
        for backend, _ in backends:
            rows = {row["key"]: row for row in results[backend]["rows"]}
            copy = rows["copy"]["seconds"]
            row = rows.get(key)
            if row is None:
                cells.append(" — | — | — |")
                continue
            name = row["step"] + (f" (median of {row['runs']})" if row["runs"] > 1 else "")
            cells.append(f" {_seconds(row['seconds'])} | {row['seconds'] / copy:.2f}× | "
                         f"{row['peak_mb']:.0f} ({row['delta_mb']:.0f}) |")
            if row["note"] and row["note"] not in notes:
                notes.append(row["note"])
        if len(notes) > 1:  # the databases disagree: say which is which
            notes = [f"{label}: {note}" for (_, label), note in zip(backends, notes, strict=False)]
        lines.append(f"| {name} |" + "".join(cells) + f" {'; '.join(notes)} |")
    return lines


def section(results: dict[str, Any]) -> list[str]:
    """The BENCHMARKS.md section (``python -m bench``): what was seeded, the table, and what the plans say."""
    backends = [(key, label) for key, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")) if key in results]
    if not backends:
        return ["### Duty ledger (`bench/ledger.py`)", "", "No result."]
    first = results[backends[0][0]]["seed"]
    lines = [
        f"### Duty ledger (`bench/ledger.py`): {results['members']:,} members, {YEARS[0]}–{YEARS[-1]}, "
        f"{first['source_rows']:,} source rows; year {results['year']} measured",
        "",
        "Seeded with Core executemany: " + "; ".join(
            f"{label} {results[key]['seed']['seconds']:.0f} s (+ {results[key]['seed']['ledgers']['seconds']:.0f} s "
            f"for the other years' ledgers)" for key, label in backends) + ". Rows: " + ", ".join(
            f"{table} {count:,}" for table, count in first["counts"].items()) + ".",
        "",
        *table(results),
        "",
        "- *× copy*: the step's time ÷ the bare copy of the year's source rows into an unindexed table, same "
        "database, same run. The ledger-shaped baseline writes a year's entries (the previous one's) into a copy of "
        "`duty_entry` (its indexes, foreign key and `ON CONFLICT`): the floor of a refresh, whatever computes the "
        "rows.",
        "- Peak RSS: the process's VmHWM during the step (reset before each step), in brackets what the step added "
        "to the resident size it started with. PostgreSQL's own processes are not counted; SQLite's page cache is.",
        f"- Small steps: median of {results['repeat']} (another liaison group or member each run). The second "
        "refresh rebuilds over the first; both must give the same entries.",
    ]
    for key, label in backends:
        found = results[key]
        missing = [f"{item['query']} ({', '.join(i for i in item['expected'] if i not in item['uses'])})"
                   for item in found["plans"] if item["expected"] and len(item["uses"]) < len(item["expected"])]
        checked = sum(1 for item in found["plans"] if item["expected"])
        lines.append(f"- {label} plans: {checked - len(missing)} of {checked} checked statements read through the "
                     "expected index" + (f"; not: {'; '.join(missing)}" if missing else "") + ".")
        for trial in found.get("trials") or []:
            gains = ", ".join(f"{k} {trial['before'][k] * 1000:.0f} → {trial['after'][k] * 1000:.0f} ms"
                              for k in trial["before"])
            lines.append(f"- {label}, candidate index {trial['index']} "
                         f"({'used' if trial['used'] else 'not used'} by the planner): {gains}.")
        if found.get("export_note"):
            lines.append(f"- {label}: {found['export_note']}.")
    lines += [f"- {note}" for note in results.get("notes", [])]
    return lines


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    from bench import callback

    workdir = Path(tempfile.mkdtemp(prefix="lvzhi-ledger-"))
    results: dict[str, Any] = {"members": args.members, "year": args.year, "repeat": args.repeat, "notes": [],
                               "workdir": str(workdir)}
    print(f"lvzhi duty ledger benchmark: {args.members:,} members, years {YEARS[0]}–{YEARS[-1]}, year {args.year} "
          f"measured (work dir {workdir})", flush=True)
    started = time.perf_counter()
    try:
        results["sqlite"] = backend_run("SQLite", f"sqlite+aiosqlite:///{workdir / 'ledger.db'}", args, workdir)
        with callback.pg_database(PG_DB, args, results) as url:
            if url is not None:
                results["postgresql"] = backend_run("PostgreSQL", url, args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    results["seconds"] = time.perf_counter() - started
    print("\n" + "\n".join(table(results)), flush=True)
    for backend in ("sqlite", "postgresql"):
        if backend in results and not results[backend]["same_entries"]:
            print(f"  {backend}: the two refreshes gave different entry counts", flush=True)
    print(f"\ntotal {results['seconds']:.0f} s", flush=True)
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MEMBERS:,} members, 3 repeats")
    parser.add_argument("--members", type=int, help=f"members (default {MEMBERS:,}; quick {QUICK_MEMBERS:,})")
    parser.add_argument("--year", type=int, default=YEAR, help=f"the year measured (default {YEAR})")
    parser.add_argument("--repeat", type=int, help=f"runs of the small steps, median reported (default {REPEAT})")
    parser.add_argument("--no-pg", dest="pg", action="store_false", help="skip PostgreSQL")
    parser.add_argument("--index-trials", dest="trials", action="store_true",
                        help="create candidate indexes in the bench database and time the statements again")
    parser.add_argument("--keep", action="store_true", help=f"keep the work dir and the PostgreSQL database {PG_DB}")
    parser.add_argument("--json", help="write the results as JSON to this file")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the measuring child process
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    args.members = args.members or (QUICK_MEMBERS if args.quick else MEMBERS)
    args.repeat = args.repeat or (3 if args.quick else REPEAT)
    if args.measure:
        found = asyncio.run(run_steps(args.measure, args.year, args.members, args.repeat, Path(args.workdir),
                                      args.trials))
        Path(args.out).write_text(json.dumps(found, ensure_ascii=False, default=str), encoding="utf-8")
        return found
    results = run_all(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
