"""The secretary console at county scale (issue 18): every page's p95 next to a trivial page of the same server.

    python -m bench.console [--quick] [--members 10000] [--requests 200] [--no-pg] [--keep]

1. **Seed** a SQLite database (PostgreSQL too when one answers at 127.0.0.1:5432, unless ``--no-pg``) with
   ``bench/ledger.py``'s county: ``--members`` members in 24 liaison groups, five years of activities with
   attendance, reports (some adopted, some with a leader's instruction), study reads and claims. On top:
   WeChat bindings for two members in three (so 未绑定 has a third of the roster), 1 % pending registrations,
   leave requests (a tenth pending) and ten audit events per member, as a busy office's log holds.
2. **Serve** it with ``lvzhi serve`` in a subprocess (WeChat and the scheduler off: nothing else runs).
3. **Log in** without a browser: the CLI's one-time link (``bot.domain.console.issue_link``, what
   ``lvzhi console link`` calls) for an unlimited secretary and for one limited to liaison group 1, each
   followed by an aiohttp ``ClientSession`` that keeps the session cookie.
4. **Measure**: after a warm-up, ``--requests`` GETs of each page, each preceded by a GET of ``/healthz`` (the
   trivial page: the same middleware and one ``SELECT 1`` on the same database, nothing else), so both see
   the same server state. Printed per page: p50, p95 and p95 ÷ the trivial page's p95. Every answer must
   be 200, or the run fails.

``python -m bench`` runs this (``--quick`` and ``--no-pg`` passed through) and writes its table to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import callback, ledger  # noqa: E402  (the path above makes `python bench/console.py` work too)

MEMBERS = 10_000
QUICK_MEMBERS = 1_000
REQUESTS = 200
QUICK_REQUESTS = 30
WARMUP = 5
SCOPED_GROUP = 1
PG_DB = "lvzhi_bench_console"
TRIVIAL = "/healthz"


# --- seeding ------------------------------------------------------------------------------------------------------


def _secretaries(members: int) -> tuple[int, int]:
    """ledger.seed makes the last ten members secretaries: the last one unlimited, the one before it scoped."""
    return members, members - 1


async def seed_extras(url: str, members: int) -> dict[str, int]:
    """What the ledger's county lacks and the console shows: bindings, registrations, leave, an audit log."""
    from sqlalchemy import text, update

    from bot.infra.db import Database
    from models.member import Member

    rng = random.Random(18)
    db = Database(url)
    now = datetime.now(UTC)
    async with db.session() as session:
        writer = ledger.Writer(session)
        await add_bindings(writer, members, now)
        await add_registrations(writer, members, now)
        await add_leave(writer, members, rng)
        await add_audit_log(writer, members, rng, now)
        await writer.flush()
        _, scoped = _secretaries(members)
        await session.execute(update(Member).where(Member.id == scoped).values(scope_group_ids=[SCOPED_GROUP]))
        if not db.is_sqlite:  # the pending members were given explicit ids: move the sequence past them
            await session.execute(text(
                "SELECT setval(pg_get_serial_sequence('member', 'id'), (SELECT max(id) FROM member))"))
    await db.dispose()
    return writer.counts


async def add_bindings(writer: ledger.Writer, members: int, now: datetime) -> None:
    """Two members in three bound to WeChat: 未绑定 lists the third."""
    from models.member import Identity, Platform

    for m in range(1, members + 1):
        if m % 3:
            await writer.add(Identity, {"member_id": m, "platform": Platform.OFFICIAL,
                                        "external_id": f"o-bench-{m}", "bound_at": now})


async def add_registrations(writer: ledger.Writer, members: int, now: datetime) -> None:
    """1 % of the roster again as strangers waiting for 注册审核 (pending members with their applications)."""
    from models.member import ApplicationStatus, Member, MemberApplication, MemberStatus, Platform, Role

    pending = range(members + 1, members + 1 + max(members // 100, 1))
    for n, member_id in enumerate(pending):
        await writer.add(Member, {
            "id": member_id, "name": f"申请人{n:04d}", "gender": "男", "mobile": None, "sector_id": None,
            "committee_id": None, "group_id": n % ledger.GROUPS + 1, "work_unit": "", "term": "第六届",
            "role": Role.MEMBER, "status": MemberStatus.PENDING, "scope_group_ids": [], "created_at": now,
            "updated_at": now})
    await writer.flush(Member)  # before the applications that point to them
    for n, member_id in enumerate(pending):
        await writer.add(MemberApplication, {
            "member_id": member_id, "platform": Platform.OFFICIAL, "external_id": f"o-applicant-{n}",
            "status": ApplicationStatus.PENDING, "reason": "", "created_at": now - timedelta(hours=n)})


async def add_leave(writer: ledger.Writer, members: int, rng: random.Random) -> None:
    """A leave request per ten members over the activities, one in ten still pending."""
    from sqlalchemy import select

    from models.activity import Activity, LeaveKind, LeaveRequest, LeaveStatus

    activities = list((await writer.session.execute(select(Activity.id, Activity.starts_at))).all())
    for n in range(members // 10):
        activity_id, starts = rng.choice(activities)
        await writer.add(LeaveRequest, {
            "activity_id": activity_id, "member_id": rng.randrange(1, members + 1), "kind": LeaveKind.PERSONAL,
            "reason": "因公出差", "status": LeaveStatus.PENDING if n % 10 == 0 else LeaveStatus.APPROVED,
            "decided_by_name": "", "decision_note": "", "created_at": starts - timedelta(days=2)})


async def add_audit_log(writer: ledger.Writer, members: int, rng: random.Random, now: datetime) -> None:
    """Ten events per member, a minute apart, by the secretaries, through every channel."""
    from models.audit import AuditEvent, Channel

    for n in range(members * 10):
        m = rng.randrange(1, members + 1)
        await writer.add(AuditEvent, {
            "at": now - timedelta(minutes=n), "actor_member_id": members - rng.randrange(10), "actor_label": "秘书",
            "channel": rng.choice((Channel.CONSOLE, Channel.CHAT, Channel.API)),
            "action": rng.choice(("member.update", "member.approve", "report.adopt", "leave.approve")),
            "object_type": "member", "object_id": m, "group_id": (m - 1) % ledger.GROUPS + 1,
            "before": {"mobile": "13800000000"}, "after": {"mobile": "13900000000"}, "summary": f"委员{m:05d}"})


async def login_links(url: str, members: int) -> dict[str, str]:
    """One-time login tokens for the two secretaries, as ``lvzhi console link`` issues them."""
    from bot.domain.audit import acting_through
    from bot.domain.console import issue_link
    from bot.infra.config import ConsoleSettings
    from bot.infra.db import Database
    from models.audit import Channel
    from models.member import Member

    db = Database(url)
    tokens = {}
    everywhere, scoped = _secretaries(members)
    with acting_through(Channel.CLI):
        async with db.session() as session:
            for name, member_id in (("all groups", everywhere), (f"group {SCOPED_GROUP}", scoped)):
                member = await session.get(Member, member_id)
                tokens[name] = await issue_link(session, member, now=datetime.now(UTC), settings=ConsoleSettings())
    await db.dispose()
    return tokens


async def sample_ids(url: str) -> dict[str, int]:
    """A member and a submitted report of the scoped group: pages both secretaries may open."""
    from sqlalchemy import func, select

    from bot.infra.db import Database
    from models.member import Member
    from models.report import Report

    db = Database(url)
    async with db.reader() as session:
        member = await session.scalar(select(func.max(Member.id)).where(
            Member.group_id == SCOPED_GROUP, Member.status == "active", Member.role == "member"))
        report = await session.scalar(select(func.max(Report.id)).where(
            Report.group_id == SCOPED_GROUP, Report.status == "adopted"))
    await db.dispose()
    return {"member": int(member), "report": int(report)}


# --- measuring ----------------------------------------------------------------------------------------------------


def pages_of(ids: dict[str, int]) -> list[tuple[str, str]]:
    """(name, path) of every console page measured; the filters are ones an office uses."""
    return [
        ("工作台", "/console/"),
        ("委员 list", "/console/members"),
        ("委员 search", "/console/members?q=委员0012"),
        ("委员 filter", f"/console/members?group={SCOPED_GROUP}&status=active&bound=yes"),
        ("委员 page 50", "/console/members?page=50"),
        ("a member's page", f"/console/members/{ids['member']}"),
        ("未绑定", "/console/members?bound=no&status=active"),
        ("注册审核", "/console/registrations"),
        ("请假审批", "/console/leave"),
        ("社情民意 list", "/console/reports"),
        ("社情民意 adopted", "/console/reports?status=adopted"),
        ("one report", f"/console/reports/{ids['report']}"),
        ("操作日志", "/console/audit"),
        ("操作日志 page 20", "/console/audit?page=20"),
        ("登录设备", "/console/sessions"),
    ]


@dataclass
class Timings:
    seconds: list[float]
    statuses: dict[int, int]

    def add(self, seconds: float, status: int) -> None:
        self.seconds.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


async def _get(client: Any, base: str, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    async with client.get(base + path, allow_redirects=False) as answer:
        await answer.read()
        return time.perf_counter() - started, answer.status


async def measure_secretary(base: str, token: str, pages: list[tuple[str, str]], requests: int
                            ) -> dict[str, Any]:
    """Log in with the link, then ``requests`` rounds over the pages, each page right after the trivial one."""
    import aiohttp

    trivial = Timings([], {})
    found = {name: Timings([], {}) for name, _ in pages}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:  # unsafe: an IP host
        async with client.get(f"{base}/console/link/{token}") as answer:
            await answer.read()
            if answer.status != 200 or answer.url.path != "/console/":
                raise RuntimeError(f"console login by link failed: {answer.status} at {answer.url}")
        for round_number in range(WARMUP + requests):
            for name, path in pages:
                trivial_seconds, trivial_status = await _get(client, base, TRIVIAL)
                seconds, status = await _get(client, base, path)
                if round_number >= WARMUP:
                    trivial.add(trivial_seconds, trivial_status)
                    found[name].add(seconds, status)
    failed = {name: t.statuses for name, t in found.items() if set(t.statuses) != {200}}
    if failed or set(trivial.statuses) != {200}:
        raise RuntimeError(f"console pages did not all answer 200: {failed or trivial.statuses}")
    base_p95 = p95(trivial.seconds)
    rows = [{"page": name, "path": path, "p50_ms": statistics.median(found[name].seconds) * 1000,
             "p95_ms": p95(found[name].seconds) * 1000, "ratio": p95(found[name].seconds) / base_p95,
             "statuses": found[name].statuses} for name, path in pages]
    return {"trivial": {"p50_ms": statistics.median(trivial.seconds) * 1000, "p95_ms": base_p95 * 1000},
            "pages": rows}


def show(label: str, found: dict[str, Any]) -> None:
    trivial = found["trivial"]
    print(f"  {label}: trivial page {TRIVIAL} p50 {trivial['p50_ms']:.1f} ms, p95 {trivial['p95_ms']:.1f} ms",
          flush=True)
    for row in found["pages"]:
        codes = ", ".join(f"{code}×{n}" for code, n in sorted(row["statuses"].items()))
        print(f"    {row['page']:<18} p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
              f"{row['ratio']:6.1f}× trivial  [{codes}]", flush=True)


def run_backend(url: str, label: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    print(f"\n{label}: seeding {args.members:,} members …", flush=True)
    started = time.perf_counter()
    seeded = asyncio.run(ledger.seed(url, args.members))
    extras = asyncio.run(seed_extras(url, args.members))
    seed_s = time.perf_counter() - started
    print(f"  seeded in {seed_s:.0f} s: {seeded['source_rows']:,} ledger source rows, extras {extras}", flush=True)
    tokens = asyncio.run(login_links(url, args.members))
    pages = pages_of(asyncio.run(sample_ids(url)))
    port = callback.free_port()
    config = callback.write_config(workdir, url, port, 0, wechat={"enabled": False},
                                   scheduler={"enabled": False}, logging={"level": "WARNING"})
    argv = [sys.executable, "-m", "bot", "--config", str(config), "serve"]
    counts = {table: seeded["counts"].get(table, 0) + extras.get(table, 0) for table in {**seeded["counts"], **extras}}
    results: dict[str, Any] = {"seed_s": seed_s, "counts": counts, "secretaries": {}}
    with callback.Server(argv, port, workdir / f"lvzhi-{label}.log"):
        for who, token in tokens.items():
            found = asyncio.run(measure_secretary(f"http://127.0.0.1:{port}", token, pages, args.requests))
            show(f"{label}, secretary of {who}", found)
            results["secretaries"][who] = found
    return results


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="lvzhi-bench-console-"))
    results: dict[str, Any] = {"members": args.members, "requests": args.requests, "notes": []}
    try:
        results["sqlite"] = run_backend(f"sqlite+aiosqlite:///{workdir / 'console.db'}", "SQLite", args, workdir)
        with callback.pg_database(PG_DB, args, results) as pg_url:
            if pg_url:
                results["postgresql"] = run_backend(pg_url, "PostgreSQL", args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


# --- the report ---------------------------------------------------------------------------------------------------


def _runs(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{label}, {who}", found) for key, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
            for who, found in results.get(key, {}).get("secretaries", {}).items()]


def section(results: dict[str, Any]) -> list[str]:
    """The BENCHMARKS.md section (``python -m bench``): one column per database and secretary."""
    runs = _runs(results)
    title = (f"### Secretary console (`bench/console.py`): {results['members']:,} members, "
             f"{results['requests']} requests per page")
    if not runs:
        return [title, "", "No result."]
    seeded = results["sqlite"]
    lines = [
        title, "",
        f"Seeded as the duty ledger's county (five years) plus bindings, registrations, leave and an audit log "
        f"(SQLite {seeded['seed_s']:.0f} s; rows: " + ", ".join(
            f"{table} {count:,}" for table, count in seeded["counts"].items()) + "). `lvzhi serve`, one worker; "
        f"each page GET right after a GET of the trivial page `{TRIVIAL}` (same middleware, one `SELECT 1`), "
        f"after {WARMUP} warm-up rounds; a client logged in by the CLI's one-time link. Every answer was 200. "
        "Cells: p50 / p95 ms (p95 ÷ the trivial page's p95).",
        "",
        "| page | " + " | ".join(name for name, _ in runs) + " |",
        "|---|" + "---:|" * len(runs),
        f"| trivial `{TRIVIAL}` | " + " | ".join(
            f"{found['trivial']['p50_ms']:.1f} / {found['trivial']['p95_ms']:.1f}" for _, found in runs) + " |",
    ]
    for number, row in enumerate(runs[0][1]["pages"]):
        cells = [found["pages"][number] for _, found in runs]
        lines.append(f"| {row['page']} `{row['path']}` | " + " | ".join(
            f"{cell['p50_ms']:.1f} / {cell['p95_ms']:.1f} ({cell['ratio']:.1f}×)" for cell in cells) + " |")
    lines += ["", *[f"- {note}" for note in results.get("notes", [])]]
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_MEMBERS:,} members, {QUICK_REQUESTS} requests per page")
    parser.add_argument("--members", type=int, help=f"members (default {MEMBERS:,}; quick {QUICK_MEMBERS:,})")
    parser.add_argument("--requests", type=int, help=f"GETs per page (default {REQUESTS}; quick {QUICK_REQUESTS})")
    parser.add_argument("--no-pg", dest="pg", action="store_false", help="skip PostgreSQL")
    parser.add_argument("--keep", action="store_true", help=f"keep the work dir and the PostgreSQL database {PG_DB}")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    args.members = args.members or (QUICK_MEMBERS if args.quick else MEMBERS)
    args.requests = args.requests or (QUICK_REQUESTS if args.quick else REQUESTS)
    results = run_all(args)
    print("\n" + "\n".join(section(results)), flush=True)
    return results


if __name__ == "__main__":
    main()
