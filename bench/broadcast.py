"""Benchmark: a broadcast to 10,000 members through the mock WeChat API, and a kill -9 in the middle.

    .venv/bin/python bench/broadcast.py            # 10,000 members, 50 ms per call, 200 sends/s
    .venv/bin/python bench/broadcast.py --quick    # 2,000 members
    .venv/bin/python bench/broadcast.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The broadcast is made as the admin API makes one: ``bot.domain.notices.create_notice`` to a liaison group whose
members are bound to the Official Account, which runs ``send_notice`` (a receipt per member and a delivery
per chat identity, in one transaction); its time is reported next to the send rate. The roster is seeded
before and not timed. ``--db`` is emptied first (every lvzhi table): give it a database of its own.

The mock API runs in this process (it survives the kill and counts what arrived); the delivery worker
runs in a child process, which phase 2 kills with SIGKILL once half the members have been sent to, then
starts again. Members have not written to the account, so every push is a template message (the
channel whose ``client_msg_id`` makes a repeat after a crash harmless; see docs/delivery.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from sqlalchemy import func, select, text
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)
from bot.devtools.mock_platform import MockWechat, create_mock_app
from bot.domain.notices import create_notice, outbox_for
from bot.infra.clock import Clock
from bot.infra.config import Settings, load_settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.infra.services import Services
from bot.outbound.worker import DeliveryWorker
from models.activity import Audience
from models.delivery import Delivery, DeliveryStatus
from models.member import Identity, LiaisonGroup, Member, Platform
from models.notice import NoticeKind

TEMPLATE = "/cgi-bin/message/template/send"
TITLE, BODY = "关于召开第一季度委员学习会的通知", "3月12日 14:30 机关三楼会议室，请准时参加。"
SEED_CHUNK = 1_000


# --- the worker process ---------------------------------------------------------------------------


def worker_settings(db_url: str, api_url: str, rate: float, workdir: Path) -> Settings:
    config = workdir / "config.yaml"
    config.write_text("{}\n", encoding="utf-8")  # never a developer's config.yaml
    mock = MockWechat()
    return load_settings(
        config,
        database={"url": db_url},
        wechat={"app_id": mock.app_id, "app_secret": mock.app_secret, "api_base": api_url, "template_id": "TPL"},
        delivery={"rate_per_second": rate, "batch_size": 100, "max_attempts": 6, "base_backoff_seconds": 0.5},
        scheduler={"enabled": False},
        media_dir=str(workdir / "media"),
    )


async def run_worker(args: argparse.Namespace) -> None:
    """Drain the queue until nothing is queued or sending; print elapsed time and peak memory."""
    import resource

    settings = worker_settings(args.db, args.api, args.rate, Path(args.workdir))
    db = Database(settings.database.url)
    async with aiohttp.ClientSession() as http:
        services = Services(settings=settings, db=db, clock=Clock(), texts=Catalogue(settings.locale), http=http)
        worker = DeliveryWorker(services, lease=timedelta(seconds=args.lease), poll_seconds=0.5)
        started = time.monotonic()
        await worker.start()  # the worker's own background loop, as in the running app
        while await unfinished(db):  # noqa: ASYNC110 - no event crosses processes: the bench polls the table
            await asyncio.sleep(0.1)
        await worker.stop()
        elapsed = time.monotonic() - started
    await db.dispose()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"elapsed": elapsed, "peak_rss_mb": peak_kb / 1024}), flush=True)


async def unfinished(db: Database) -> int:
    async with db.reader() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]))
                )
            ).scalar_one()
        )


# --- the bench process ---------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    members: int
    seconds: float
    worker_seconds: float
    peak_rss_mb: float
    requests: int
    delivered: int
    duplicates: int
    deduped: int
    lost: int
    not_sent_rows: int
    peak_per_second: int


async def prepare_database(db: Database) -> None:
    async with db.engine.begin() as conn:
        if not db.is_sqlite:
            # Members, identities and notices of an earlier run would collide with this run's (a fresh SQLite
            # file needs nothing). CASCADE: tables of an older schema may still hang on them.
            for table in reversed(SQLModel.metadata.sorted_tables):
                await conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
        await conn.run_sync(SQLModel.metadata.create_all)


async def seed_group(db: Database, prefix: str, members: int) -> int:
    """A liaison group of ``members`` active members, each bound to the Official Account as
    ``<prefix>-NNNNN`` (the openid the mock counts by); returns the group's id."""
    async with db.session() as session:
        group = LiaisonGroup(name=f"bench-{prefix}")
        session.add(group)
        await session.flush()
        for start in range(0, members, SEED_CHUNK):
            batch = [Member(name=f"委员{prefix}{n:05}", group_id=group.id)
                     for n in range(start, min(start + SEED_CHUNK, members))]
            session.add_all(batch)
            await session.flush()
            session.add_all([Identity(member_id=member.id or 0, platform=Platform.OFFICIAL,
                                      external_id=f"{prefix}-{start + i:05}") for i, member in enumerate(batch)])
            await session.flush()
        return group.id or 0


async def send_broadcast(services: Services, group_id: int) -> float:
    """The broadcast, as ``POST /api/v1/notices`` makes it: send_notice's receipts and deliveries, committed.
    Returns the seconds it took (the transaction included)."""
    started = time.monotonic()
    async with services.db.session() as session:
        notice = await create_notice(session, await outbox_for(services, session), kind=NoticeKind.BROADCAST,
                                     title=TITLE, body=BODY, audience=Audience.GROUPS, audience_ids=[group_id],
                                     to_group_chats=False)
    seconds = time.monotonic() - started
    if notice.recipients == 0:
        raise SystemExit("the broadcast addressed nobody")
    return seconds


async def spawn_worker(args: argparse.Namespace, api_url: str, workdir: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--worker",
        "--db",
        args.db,
        "--api",
        api_url,
        "--rate",
        str(args.rate),
        "--lease",
        str(args.lease),
        "--workdir",
        str(workdir),
        stdout=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> dict[str, Any]:
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"worker failed with exit code {process.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1])


def summarise(
    name: str,
    prefix: str,
    members: int,
    mock: MockWechat,
    first_request: int,
    seconds: float,
    worker: dict[str, Any],
    not_sent: int,
) -> PhaseResult:
    sent = [s.to for s in mock.sent if s.to.startswith(prefix + "-")]
    requests = [r for r in mock.requests[first_request:] if r.path == TEMPLATE]
    times = sorted(r.monotonic for r in requests)
    peak, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return PhaseResult(
        name,
        members,
        seconds,
        worker["elapsed"],
        worker["peak_rss_mb"],
        len(requests),
        len(set(sent)),
        len(sent) - len(set(sent)),
        mock.deduped,
        members - len(set(sent)),
        not_sent,
        peak,
    )


async def phase_clean(
    args: argparse.Namespace, services: Services, mock: MockWechat, api_url: str, workdir: Path, group: int
) -> tuple[PhaseResult, float]:
    db = services.db
    notice_seconds = await send_broadcast(services, group)
    first, started = len(mock.requests), time.monotonic()
    worker = await finish(await spawn_worker(args, api_url, workdir))
    seconds = time.monotonic() - started
    result = summarise("clean run", "a", args.members, mock, first, seconds, worker, await unfinished(db))
    return result, notice_seconds


async def phase_crash(
    args: argparse.Namespace, services: Services, mock: MockWechat, api_url: str, workdir: Path, group: int
) -> tuple[PhaseResult, int]:
    db = services.db
    await send_broadcast(services, group)
    deduped_before, first, started = mock.deduped, len(mock.requests), time.monotonic()
    doomed = await spawn_worker(args, api_url, workdir)
    await mock.wait_for_requests(first + args.members // 2, TEMPLATE)
    os.kill(doomed.pid, signal.SIGKILL)
    await doomed.wait()
    await mock.wait_until_idle()
    sent_at_kill = len([s for s in mock.sent if s.to.startswith("b-")])
    worker = await finish(await spawn_worker(args, api_url, workdir))
    seconds = time.monotonic() - started
    mock.deduped -= deduped_before
    result = summarise(
        "kill -9 at half, restart", "b", args.members, mock, first, seconds, worker, await unfinished(db)
    )
    return result, sent_at_kill


def print_table(
    results: list[PhaseResult], args: argparse.Namespace, notice_seconds: float, sent_at_kill: int
) -> None:
    print(
        f"\nbroadcast to {args.members:,} members · mock latency {args.latency * 1000:.0f} ms/call · "
        f"rate limit {args.rate:g}/s · database {'SQLite' if args.db.startswith('sqlite') else 'PostgreSQL'}"
    )
    print(
        f"send_notice to {args.members:,} members in one transaction ({args.members:,} receipts + "
        f"{args.members:,} deliveries): {notice_seconds:.2f} s ({args.members / notice_seconds:,.0f} members/s)\n"
    )
    header = (
        "phase",
        "total s",
        "sends/s",
        "peak/1s",
        "RSS MB",
        "requests",
        "delivered",
        "dupes",
        "deduped",
        "lost",
        "not sent",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in results:
        row = (
            r.name,
            f"{r.seconds:.1f}",
            f"{r.delivered / r.seconds:.0f}",
            str(r.peak_per_second),
            f"{r.peak_rss_mb:.0f}",
            f"{r.requests:,}",
            f"{r.delivered:,}",
            str(r.duplicates),
            str(r.deduped),
            str(r.lost),
            str(r.not_sent_rows),
        )
        print("| " + " | ".join(row) + " |")
    clean = results[0]
    floor = args.members / args.rate
    print(
        f"\nclean run: {clean.seconds:.1f} s vs the rate limit's floor {floor:.1f} s "
        f"(ratio {clean.seconds / floor:.2f}); achieved/configured rate "
        f"{clean.delivered / clean.worker_seconds / args.rate:.2f}; "
        f"busiest second {clean.peak_per_second} sends (limit {args.rate:g})"
    )
    print(
        f"send_notice: {args.members / notice_seconds:,.0f} members/s vs sending at "
        f"{clean.delivered / clean.seconds:,.0f}/s: queueing the broadcast took {notice_seconds:.2f} s, "
        f"{notice_seconds / clean.seconds:.0%} of the time the clean run took to send it"
    )
    if len(results) > 1:
        crash = results[1]
        print(
            f"kill -9: {sent_at_kill:,} members reached before the kill; restart delivered the rest; "
            f"{crash.requests - args.members} repeat requests, {crash.deduped} dropped by client_msg_id, "
            f"{crash.duplicates} duplicates reached members, {crash.lost} lost; "
            f"{crash.seconds / clean.seconds:.2f}× the clean run's time (includes the {args.lease:g} s lease)"
        )


async def run_bench(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="lvzhi-bench-"))
    if not args.db:
        args.db = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    db = Database(args.db)
    await prepare_database(db)
    groups = {prefix: await seed_group(db, prefix, args.members) for prefix in ("a", "b")}
    mock = MockWechat(latency=args.latency)
    runner = web.AppRunner(create_mock_app(mock=mock))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api_url = f"http://127.0.0.1:{port}"
    settings = worker_settings(args.db, api_url, args.rate, workdir)
    services = Services(settings=settings, db=db, clock=Clock(), texts=Catalogue(settings.locale))
    try:
        started = time.monotonic()
        clean, notice_seconds = await phase_clean(args, services, mock, api_url, workdir, groups["a"])
        results, sent_at_kill = [clean], 0
        if not args.skip_crash:
            crash, sent_at_kill = await phase_crash(args, services, mock, api_url, workdir, groups["b"])
            results.append(crash)
        print_table(results, args, notice_seconds, sent_at_kill)
        print(f"\nwall time {time.monotonic() - started:.0f} s")
    finally:
        await runner.cleanup()
        await db.dispose()
        shutil.rmtree(workdir, ignore_errors=True)  # the database and the workers' configs and logs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="2,000 members")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per mock API call")
    parser.add_argument("--rate", type=float, default=200.0, help="delivery.rate_per_second")
    parser.add_argument("--lease", type=float, default=5.0, help="claim lease of the worker, seconds")
    parser.add_argument("--db", default="", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--skip-crash", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.members = 2_000
    return args


def main() -> None:
    args = parse_args()
    asyncio.run(run_worker(args) if args.worker else run_bench(args))


if __name__ == "__main__":
    main()
