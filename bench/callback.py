"""The WeChat callback benchmark: lvzhi against the protocol floor, side by side, in one run.

    python -m bench.callback [--quick] [--repeat 3] [--messages 20000] [--no-pg] [--no-workers]
                             [--no-overload] [--memory-messages N]

What it does, on the same machine and in one run:

1. **Floor vs lvzhi (SQLite).** ``bench/floor.py`` and ``lvzhi serve`` (safe mode, WeChat enabled with
   test credentials from a config file in a temp dir, simulator off, scheduler on, INFO logging to a
   file) are each pinned to core 0 with ``taskset``; the load generator (``bench/loadgen.py``, its own
   process) runs on core 1. The database holds 10,000 registered members (each bound to an Official
   Account openid through an ``Identity`` row). Runs alternate floor / lvzhi ``--repeat`` times and the
   median of each figure is reported.
2. **The same on PostgreSQL** when one answers at 127.0.0.1:5432 (a database ``lvzhi_bench`` is created
   and dropped again).
3. **1 vs 2 workers** (``lvzhi serve --workers 2``, SQLite): both cores, unpinned; the generator then
   shares the cores with the server, so the 1-worker figure here is measured unpinned too.
4. **Overload**: the open-loop generator sends at twice the rate lvzhi sustained in (1), the way the
   platform does (it does not wait for answers). Counts answers over 5 s and bare ``success`` answers
   (messages past ``server.max_inflight`` go to the inbox, bot/chat/inbox.py; their replies go out as pushes,
   to the mock WeChat API of ``lvzhi dev mock-wechat``). Then it waits for the inbox to empty and checks
   in the database that every message was recorded once and every ``success`` got its reply queued.
5. **Memory** (``--memory-messages``, 100,000 unless ``--quick``): one long run, VmHWM of the server afterwards.

The message mix, from the seeded members: ``帮助`` (30 %), ``我的`` (30 %), ``签到 <code>`` (20 %) and a
conversation step (20 %: a not-yet-registered visitor sends ``注册`` and then their name, two messages).
``签到`` carries the real current code of an open activity seeded with the members (the bench server's
code period is 600 s, the most the configuration allows, so a code read when a plan is built stays valid
through the run; a ``--memory-messages`` run longer than ten minutes would see it expire): a member's first
sign-in is recorded, later ones are answered "already signed in".
Commands that have no handler yet are answered by the unknown-input fallback; the plan checks the
reply against whichever answer the code in this tree gives, and the table notes say which.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TOKEN = "lvzhi-bench-token"
APP_ID = "wx-mock-app"  # the mock WeChat API's default app, so late replies can be pushed to it
APP_SECRET = "mock-app-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MEMBERS = 10_000
CODE_PERIOD_SECONDS = 600  # the bench server's sign-in code period: a code read for a plan outlives the run
ACTIVITY_TITLE = "第十四届委员会第五次全体会议"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "lvzhi_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强海燕红梅晓东文俊玉兰"


def member_openid(number: int) -> str:
    return f"o_bench_member_{number:05d}"


def member_name(number: int) -> str:
    rng = random.Random(number)
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


# --- the message plan ---------------------------------------------------------------------------------


@dataclass
class Mix:
    """Which answer each kind of message gets from the code in this tree (checked on every reply)."""

    notes: list[str] = field(default_factory=list)
    activity: dict[str, Any] | None = None  # the open activity members sign in to (seed_activity)

    def __post_init__(self) -> None:
        from bot.chat.router import RouteTable
        from bot.infra.i18n import Catalogue
        from handlers import ROUTERS

        self.t = Catalogue("zh_CN")
        self.words = RouteTable(ROUTERS).command_words
        unknown = [self.t("unknown.suggest").split("{")[0], self.t("unknown.plain")]
        self.unknown = unknown
        self.has_profile = "我的" in self.words
        self.has_register = "注册" in self.words
        self.has_checkin = "签到" in self.words
        if not self.has_profile:
            self.notes.append("`我的` has no handler in this tree yet: answered by the unknown-input fallback")
        if not self.has_register:
            self.notes.append("`注册` has no handler in this tree yet: the conversation step (注册, then a name) "
                              "is answered by the unknown-input fallback")
        if not self.has_checkin:
            self.notes.append("`签到 <code>`: the activities feature does not exist yet; answered by the "
                              "unknown-input fallback")

    def help(self) -> list[str]:
        return [self.t("help.title.member")]

    def profile(self, number: int) -> list[str]:
        return [member_name(number)] if self.has_profile else self.unknown

    def checkin(self) -> list[str]:
        """The first sign-in of a member is recorded, any later one is "already signed in"."""
        if not self.has_checkin:
            return self.unknown
        title = self.activity["title"] if self.activity else ""
        return [signin_reply(self.t, "signin.signed_in", title), signin_reply(self.t, "signin.already", title)]

    def checkin_text(self, rng: random.Random) -> str:
        """``签到`` and the code the seeded activity's screen shows now (a made-up one without an activity)."""
        if self.activity is None:
            return f"签到 {rng.randrange(100_000, 999_999)}"
        return f"签到 {current_code(self.activity, CODE_PERIOD_SECONDS)}"

    def register(self) -> list[str]:
        return [self.t("register.ask_name")] if self.has_register else self.unknown

    def name_step(self, name: str) -> list[str]:
        return [self.t("register.ask_mobile", name=name)] if self.has_register else self.unknown


def build_messages(mix: Mix, count: int, run_tag: str, *, seed: int, conversations: bool = True) -> list[list[Any]]:
    """``count`` messages: [openid, text, expected fragments]. Per openid the order is the order to send."""
    rng = random.Random(seed)
    messages: list[list[Any]] = []
    guest = 0
    while len(messages) < count:
        roll = rng.random()
        number = rng.randrange(MEMBERS)
        openid = member_openid(number)
        if roll < 0.3:
            messages.append([openid, "帮助", mix.help()])
        elif roll < 0.6:
            messages.append([openid, "我的", mix.profile(number)])
        elif roll < 0.8 or not conversations:
            messages.append([openid, mix.checkin_text(rng), mix.checkin()])
        else:
            guest += 1
            visitor = f"o_bench_guest_{run_tag}_{guest}"
            name = member_name(MEMBERS + guest)
            messages.append([visitor, "注册", mix.register()])
            messages.append([visitor, name, mix.name_step(name)])
    return messages[:count]


_msg_ids = iter(range(int(time.time() * 1000) * 1000, 2**62, 1_000_000))


def signin_reply(texts: Any, key: str, title: str) -> str:
    """The start of a sign-in answer up to its time of day (``签到成功！\n<title>\n签到时间：``)."""
    return str(texts(key, title=title, time="\0", start="\0")).split("\0")[0]


def current_code(activity: dict[str, Any], period_seconds: int) -> str:
    """What the venue screen of a seeded activity shows now (real time, like the server's clock)."""
    from bot.domain.activities import shown_code
    from models.activity import Activity

    probe = Activity(id=activity["id"], code_secret=activity["secret"])
    return shown_code(probe, datetime.now(UTC), period_seconds).code


def write_plan(path: Path, port: int, messages: list[list[Any]], **extra: Any) -> Path:
    plan = {"url": f"http://127.0.0.1:{port}/wechat", "token": TOKEN, "app_id": APP_ID, "aes_key": AES_KEY,
            "concurrency": 50, "msg_id_base": next(_msg_ids), "messages": messages, **extra}
    path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    return path


# --- the database ---------------------------------------------------------------------------------------


async def create_pg_database(name: str = PG_BENCH_DB) -> bool:
    """Create ``name`` (``lvzhi_bench``) on the local PostgreSQL; False when none answers."""
    try:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), 3)
    except Exception:
        return False
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return True


@contextlib.contextmanager
def pg_database(name: str, args: argparse.Namespace, results: dict[str, Any]) -> Iterator[str | None]:
    """A fresh PostgreSQL database for one benchmark: its URL, dropped afterwards (unless ``--keep``); None,
    with a note in ``results``, under ``--no-pg`` or when no server answers."""
    if not args.pg:
        yield None
        return
    if not asyncio.run(create_pg_database(name)):
        results["notes"].append("no PostgreSQL answered at 127.0.0.1:5432: skipped")
        yield None
        return
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        if not args.keep:
            asyncio.run(drop_pg_database(name))


async def drop_pg_database(name: str = PG_BENCH_DB) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def seed(url: str, members: int = MEMBERS) -> float:
    """Schema at head, then ``members`` (10,000) active members, each with an Official Account identity.
    Returns seconds."""
    from sqlalchemy import insert

    from bot.infra.db import Database
    from models.member import Committee, Identity, LiaisonGroup, Member, Sector

    started = time.perf_counter()
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    async with db.session() as session:
        # Core executemany inserts: one statement per table, no ORM objects for 20,000 rows.
        await session.execute(insert(LiaisonGroup), [{"id": i, "name": f"第{i}联络组"} for i in range(1, 21)])
        await session.execute(insert(Sector), [{"id": i, "name": f"界别{i}"} for i in range(1, 11)])
        await session.execute(insert(Committee), [{"id": i, "name": f"专委会{i}"} for i in range(1, 6)])
        await session.execute(insert(Member), [
            {"id": n + 1, "name": member_name(n), "gender": "", "mobile": f"139{n:08d}", "sector_id": n % 10 + 1,
             "committee_id": n % 5 + 1, "group_id": n % 20 + 1, "work_unit": "某单位", "term": "第十四届",
             "role": "member", "status": "active", "scope_group_ids": [], "created_at": now, "updated_at": now}
            for n in range(members)
        ])
        await session.execute(insert(Identity), [
            {"member_id": n + 1, "platform": "mp", "external_id": member_openid(n), "bound_at": now}
            for n in range(members)
        ])
    if not db.is_sqlite:  # sequences after explicit ids
        async with db.session() as session:
            from sqlalchemy import text

            for table in ("member", "liaison_group", "sector", "committee"):
                await session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                           f"(SELECT max(id) FROM {table}))"))
    await db.dispose()
    return time.perf_counter() - started


async def seed_activity(url: str, title: str = ACTIVITY_TITLE, *, starts_in: timedelta = timedelta(minutes=30),
                        opens_minutes_before: int | None = None) -> dict[str, Any]:
    """An activity for every member whose sign-in is open now, stored by :func:`bot.domain.activities.create_activity`
    (as the admin API does). Returns its id, code secret and title: what the load generator needs to show
    the screen's current code."""
    from bot.domain.activities import ActivityDraft, create_activity
    from bot.infra.config import ActivitySettings
    from bot.infra.db import Database
    from models.activity import ActivityType

    db = Database(url)
    now = datetime.now(UTC)
    draft = ActivityDraft(type=ActivityType.PLENARY, title=title, starts_at=now + starts_in, venue="县政协大会堂",
                          opens_minutes_before=opens_minutes_before)
    async with db.session() as session:
        activity = await create_activity(session, draft, settings=ActivitySettings(), by=None, now=now)
        info = {"id": activity.id, "secret": activity.code_secret, "title": activity.title}
    await db.dispose()
    return info


# --- processes --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (the workers of ``--workers N``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def peak_rss_mb(pids: list[int]) -> float:
    """The largest VmHWM among the processes (each worker is its own process with its own memory)."""
    peak = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak / 1024


class Server:
    def __init__(self, argv: list[str], port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.port, self.log_path, self.env = argv, port, log_path, env
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env={**os.environ, **(self.env or {})}, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        time.sleep(0.3)
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not answer /healthz on port {self.port}; see {self.log_path}")

    @property
    def pids(self) -> list[int]:
        assert self.proc is not None
        return descendants(self.proc.pid)

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def pinned(core: str | None, argv: list[str]) -> list[str]:
    if core is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", core, *argv]


def run_loadgen(plan: Path, core: str | None) -> dict[str, Any]:
    out = plan.with_suffix(".result.json")
    subprocess.run(pinned(core, [sys.executable, "-m", "bench.loadgen", str(plan), "--out", str(out)]),
                   check=True, cwd=ROOT)
    return json.loads(out.read_text(encoding="utf-8"))


# --- one measured run -------------------------------------------------------------------------------------


def write_config(workdir: Path, db_url: str, port: int, mock_port: int, **sections: Any) -> Path:
    """``lvzhi serve``'s config for a benchmark: safe mode, WeChat on with test credentials (pushes go to the
    mock API), simulator off, scheduler on, INFO logging; ``sections`` add to or replace whole sections."""
    path = workdir / f"config-{port}.yaml"
    path.write_text(json.dumps({
        "server": {"host": "127.0.0.1", "port": port},
        "database": {"url": db_url},
        "wechat": {"enabled": True, "token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET,
                   "encoding_aes_key": AES_KEY, "mode": "safe", "api_base": f"http://127.0.0.1:{mock_port}"},
        "simulator": {"enabled": False},
        "scheduler": {"enabled": True},
        "logging": {"level": "INFO"},
        "media_dir": str(workdir / "media"),
        **sections,
    }), encoding="utf-8")  # JSON is YAML
    return path


@dataclass
class Bench:
    workdir: Path
    messages: int
    warmup: int
    mix: Mix
    runs: int = 0

    def tag(self) -> str:
        self.runs += 1
        return f"r{self.runs}"

    def config(self, db_url: str, port: int, mock_port: int) -> Path:
        return write_config(self.workdir, db_url, port, mock_port,
                            activities={"code_period_seconds": CODE_PERIOD_SECONDS})

    def measure(self, server: Server, plan_messages: list[list[Any]], gen_core: str | None,
                **plan_extra: Any) -> dict[str, Any]:
        tag = f"{server.port}-{self.runs}"
        if self.warmup:
            warm = build_messages(self.mix, self.warmup, f"w{tag}", seed=self.runs + 10_000)
            if plan_extra.get("floor"):
                warm = [[o, t, []] for o, t, _ in warm]
            run_loadgen(write_plan(self.workdir / f"warm-{tag}.json", server.port, warm), gen_core)
        pids = server.pids
        before = cpu_seconds(pids)
        plan_extra.pop("floor", None)
        result = run_loadgen(write_plan(self.workdir / f"plan-{tag}.json", server.port, plan_messages,
                                        **plan_extra), gen_core)
        result["cpu_ms_per_msg"] = (cpu_seconds(pids) - before) * 1000 / result["messages"]
        result["peak_mb"] = peak_rss_mb(pids)
        result["processes"] = len(pids)
        return result

    def floor_run(self, gen_core: str | None = "1", server_core: str | None = "0") -> dict[str, Any]:
        port = free_port()
        argv = pinned(server_core, [sys.executable, "-m", "bench.floor", "--port", str(port), "--token", TOKEN,
                                    "--app-id", APP_ID, "--aes-key", AES_KEY])
        messages = [[openid, text, ["收到：" + text]]
                    for openid, text, _ in build_messages(self.mix, self.messages, self.tag(), seed=self.runs)]
        with Server(argv, port, self.workdir / "floor.log") as server:
            return self.measure(server, messages, gen_core, floor=True)

    def lvzhi_run(self, db_url: str, mock_port: int, *, workers: int = 1, server_core: str | None = "0",
                  gen_core: str | None = "1", messages: list[list[Any]] | None = None,
                  then: Callable[[], dict[str, Any]] | None = None, **plan_extra: Any) -> dict[str, Any]:
        """One measured run; ``then`` runs after the load, while the server still runs, and adds to the result."""
        port = free_port()
        config = self.config(db_url, port, mock_port)
        argv = pinned(server_core, [sys.executable, "-m", "bot", "--config", str(config), "serve",
                                    "--workers", str(workers)])
        tag = self.tag()
        messages = messages or build_messages(self.mix, self.messages, tag, seed=self.runs)
        with Server(argv, port, self.workdir / "lvzhi.log") as server:
            result = self.measure(server, messages, gen_core, **plan_extra)
            return {**result, **(then() if then else {})}


    def one_vs_two_workers(self, db_url: str, mock_port: int, repeat: int, name: str) -> tuple[dict[str, Any], ...]:
        """``lvzhi serve --workers 1`` and ``--workers 2``, alternating, unpinned (the generator shares the cores)."""
        one, two = [], []
        for _ in range(repeat):
            one.append(self.lvzhi_run(db_url, mock_port, workers=1, server_core=None, gen_core=None))
            two.append(self.lvzhi_run(db_url, mock_port, workers=2, server_core=None, gen_core=None))
        found = median_of(one), median_of(two)
        show(f"lvzhi, {name}, 1 worker, unpinned", found[0])
        show(f"lvzhi, {name}, 2 workers, unpinned", found[1])
        print(f"    2 workers / 1 worker: {found[1]['msgs_per_s'] / found[0]['msgs_per_s']:.2f}x"
              " (the generator shares the two cores)", flush=True)
        return found


def message_counts(db_path: Path) -> tuple[int, int]:
    """Recorded messages and queued late replies in a SQLite bench database."""
    with sqlite3.connect(db_path) as conn:
        recorded = conn.execute("SELECT count(*) FROM inbound_message").fetchone()[0]
        replies = conn.execute("SELECT count(*) FROM delivery WHERE idempotency_key LIKE 'late-reply:%'").fetchone()[0]
    return recorded, replies


def inbox_drained(db_path: Path, before: tuple[int, int], timeout: float = 600) -> dict[str, Any]:
    """After an overload run: wait until the server has handled its inbox (polling the database), then say
    how long that took and what was recorded and queued since ``before``."""
    started = time.monotonic()
    while True:
        with sqlite3.connect(db_path) as conn:
            kept = conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0]
        if kept == 0 or time.monotonic() - started > timeout:
            break
        time.sleep(0.5)
    recorded, replies = message_counts(db_path)
    return {"backlog_s": time.monotonic() - started, "left_in_inbox": kept, "recorded": recorded - before[0],
            "late_replies": replies - before[1]}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("msgs_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "cpu_ms_per_msg", "peak_mb")
    summary: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in keys}
    summary["errors"] = sum(run["errors"] for run in runs)
    summary["over_5s"] = sum(run["over_5s"] for run in runs)
    summary["success_answers"] = sum(run.get("success_answers", 0) for run in runs)
    summary["messages"] = runs[0]["messages"]
    summary["runs"] = len(runs)
    summary["all_msgs_per_s"] = [round(run["msgs_per_s"]) for run in runs]
    kinds: dict[str, int] = {}
    for run in runs:
        for kind, count in run.get("error_kinds", {}).items():
            kinds[kind] = kinds.get(kind, 0) + count
    summary["error_kinds"] = kinds
    samples = [sample for run in runs for sample in run.get("error_samples", [])]
    summary["error_samples"] = samples[:3]
    return summary


def show(name: str, summary: dict[str, Any], floor: dict[str, Any] | None = None) -> None:
    ratio = f"  ratio {summary['msgs_per_s'] / floor['msgs_per_s']:.2f}x floor" if floor else ""
    print(f"  {name:34s} {summary['msgs_per_s']:7.0f} msg/s  p50 {summary['p50_ms']:6.1f}  p90 {summary['p90_ms']:6.1f}"
          f"  p99 {summary['p99_ms']:6.1f} ms  err {summary['errors']}  >5s {summary['over_5s']}"
          f"  cpu {summary['cpu_ms_per_msg'] * 1000:5.0f} µs/msg  peak {summary['peak_mb']:5.0f} MB{ratio}",
          flush=True)
    if summary["errors"]:
        print(f"    errors: {summary['error_kinds']} {summary['error_samples']}", flush=True)


# --- the whole benchmark ----------------------------------------------------------------------------------


# The mix's activity: its sign-in opened an hour ago and stays open for two more (a full run takes minutes).
OPEN_FOR_HOURS: dict[str, Any] = {"starts_in": timedelta(hours=1), "opens_minutes_before": 120}


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="lvzhi-bench-"))
    mix = Mix()
    bench = Bench(workdir, args.messages, args.warmup, mix)
    results: dict[str, Any] = {"messages": args.messages, "repeat": args.repeat, "concurrency": 50,
                               "notes": list(mix.notes), "workdir": str(workdir)}
    two_cores = (os.cpu_count() or 1) >= 2
    server_core, gen_core = ("0", "1") if two_cores else (None, None)
    mock_port = free_port()
    mock = Server(pinned(gen_core, [sys.executable, "-m", "bot", "dev", "mock-wechat", "--port", str(mock_port)]),
                  mock_port, workdir / "mock.log")
    print(f"lvzhi callback benchmark: {args.messages} messages per run, concurrency 50, median of {args.repeat}"
          f" (work dir {workdir})", flush=True)
    for note in mix.notes:
        print(f"  note: {note}", flush=True)
    try:
        with _mock_api(mock, mock_port):
            sqlite_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            seconds = asyncio.run(seed(sqlite_url))
            mix.activity = sqlite_activity = asyncio.run(seed_activity(sqlite_url, **OPEN_FOR_HOURS))
            print(f"  seeded SQLite with {MEMBERS} members and an open activity in {seconds:.1f} s", flush=True)
            floor_runs, sqlite_runs = [], []
            for _ in range(args.repeat):  # alternate, so drift on a noisy machine hits both alike
                floor_runs.append(bench.floor_run(gen_core, server_core))
                sqlite_runs.append(bench.lvzhi_run(sqlite_url, mock_port, server_core=server_core, gen_core=gen_core))
            results["floor"] = floor = median_of(floor_runs)
            results["sqlite"] = median_of(sqlite_runs)
            show("floor (aiohttp + wechatpy)", floor)
            show("lvzhi, SQLite", results["sqlite"], floor)

            with pg_database(PG_BENCH_DB, args, results) as pg_url:
                if pg_url is not None:
                    try:
                        seconds = asyncio.run(seed(pg_url))
                        mix.activity = asyncio.run(seed_activity(pg_url, **OPEN_FOR_HOURS))
                        print(f"  seeded PostgreSQL with {MEMBERS} members in {seconds:.1f} s", flush=True)
                        pg_runs = [bench.lvzhi_run(pg_url, mock_port, server_core=server_core, gen_core=gen_core)
                                   for _ in range(args.repeat)]
                        results["postgresql"] = median_of(pg_runs)
                        show("lvzhi, PostgreSQL", results["postgresql"], floor)
                        if args.workers and two_cores:  # PostgreSQL takes concurrent writers: workers can scale
                            results["workers1_pg"], results["workers2_pg"] = bench.one_vs_two_workers(
                                pg_url, mock_port, args.repeat, "PostgreSQL")
                    finally:
                        mix.activity = sqlite_activity

            if args.workers and two_cores:
                results["workers1"], results["workers2"] = bench.one_vs_two_workers(
                    sqlite_url, mock_port, args.repeat, "SQLite")

            if args.overload:
                rate = 2 * results["sqlite"]["msgs_per_s"]
                count = int(rate * args.overload_seconds)
                messages = build_messages(mix, count, bench.tag(), seed=99, conversations=False)
                db_path, before = workdir / "bench.db", message_counts(workdir / "bench.db")
                run = bench.lvzhi_run(sqlite_url, mock_port, server_core=server_core, gen_core=gen_core,
                                      messages=messages, rate=rate, allow_success=True, max_inflight=4000,
                                      then=lambda: inbox_drained(db_path, before))
                run["offered_rate"] = rate
                run["recorded"] -= args.warmup  # the warm-up before the measured load is recorded too
                results["overload"] = run
                print(f"  overload: offered {rate:.0f} msg/s for {args.overload_seconds:.0f} s ({count} messages):"
                      f" answered {run['msgs_per_s']:.0f} msg/s, p50 {run['p50_ms']:.0f} ms, p99 {run['p99_ms']:.0f}"
                      f" ms, max {run['max_ms']:.0f} ms, over 5 s: {run['over_5s']}, 'success' (pushed later):"
                      f" {run['success_answers']}, errors {run['errors']}", flush=True)
                print(f"    then the inbox was handled in {run['backlog_s']:.1f} s more: {run['recorded']} of {count}"
                      f" messages recorded, {run['late_replies']} replies queued as pushes for"
                      f" {run['success_answers']} 'success' answers, {run['left_in_inbox']} left", flush=True)

            if args.memory_messages:
                messages = build_messages(mix, args.memory_messages, bench.tag(), seed=7)
                run = bench.lvzhi_run(sqlite_url, mock_port, server_core=server_core, gen_core=gen_core,
                                      messages=messages)
                results["memory"] = run
                print(f"  memory: {args.memory_messages} messages, peak {run['peak_mb']:.0f} MB,"
                      f" {run['msgs_per_s']:.0f} msg/s, errors {run['errors']}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


@contextlib.contextmanager
def _mock_api(mock: Server, port: int) -> Any:
    """The mock WeChat API (late replies are pushed to it); started without /healthz, so poll the port."""
    mock.log = mock.log_path.open("ab")
    mock.proc = subprocess.Popen(mock.argv, stdout=mock.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                 start_new_session=True)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        yield mock
    finally:
        mock.__exit__()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.callback", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (few messages, 1 repeat)")
    parser.add_argument("--messages", type=int, help="messages per run (default 20000; quick 2000)")
    parser.add_argument("--repeat", type=int, help="runs per variant, the median is reported (default 3; quick 1)")
    parser.add_argument("--warmup", type=int, help="messages sent before each measured run (default 1000)")
    parser.add_argument("--no-pg", dest="pg", action="store_false", help="skip PostgreSQL")
    parser.add_argument("--no-workers", dest="workers", action="store_false", help="skip 1 vs 2 workers")
    parser.add_argument("--no-overload", dest="overload", action="store_false", help="skip the overload test")
    parser.add_argument("--overload-seconds", type=float, help="length of the overload test (default 20; quick 5)")
    parser.add_argument("--memory-messages", type=int,
                        help="one long run of this many messages for peak memory (default 100000; quick 0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, plans, results)")
    parser.add_argument("--json", help="write the results as JSON to this file")
    return parser


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    quick = args.quick
    args.messages = args.messages or (2000 if quick else 20_000)
    args.repeat = args.repeat or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (300 if quick else 1000)
    args.overload_seconds = args.overload_seconds or (5.0 if quick else 20.0)
    if args.memory_messages is None:
        args.memory_messages = 0 if quick else 100_000
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = resolve(build_parser().parse_args(argv))
    results = run_all(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
