"""The sign-in burst (issue 5): 1,000 members sign in to one activity within seconds through the encrypted
WeChat callback. Reports sign-ins per second and latency, and proves every sign-in was recorded exactly once.

    python -m bench.signin [--quick] [--members 1000] [--repeat N] [--burst-seconds 5] [--no-pg] [--keep]
                           [--json FILE]

What happens, on the same machine and in one run (``lvzhi serve`` pinned to core 0, the generator on core 1,
as in ``bench/callback.py``, whose seeding, config, server and process helpers this reuses):

1. **Seed** ``--members`` registered members (Official Account identities) and open activities for all of
   them, stored by :func:`bot.domain.activities.create_activity` as the admin API does: one for the warm-up and one
   per measured run (a member signs in once per activity). Each starts in 20 minutes: the sign-in window
   is open and nobody is late.
2. **The plan.** Every member signs in once: half type ``签到 <code>``, half scan the screen's QR code (a
   ``SCAN`` event whose scene is ``signin:<id>:<code>``). On top, as the platform and people do: ~10 % of
   the sign-ins are sent again with the same MsgId (the same CreateTime for scans): WeChat's retries, which
   must be deduplicated; ~5 % of the members sign in a second time (a new message: a second scan or code),
   which must be answered "already signed in". The code is read where the screen would read it, with
   :func:`bot.domain.activities.shown_code` on real time (the server's clock), by the generator right before it
   encrypts the messages: a code is accepted for its 30 s period and the next, and a run takes seconds.
3. **Two runs per database**: closed loop (50 connections, each message waits for the previous answer on
   its connection: the capacity), and the burst (open loop: all members within ``--burst-seconds``, sent on
   schedule whatever the answers do, as a crowd at the door does).
4. **Checks.** Every answer is verified (signature, AES, AppID, addressee) and read: a sign-in or its retry
   must say "signed in", a second sign-in "already signed in", or a bare ``success`` (a retry while the
   first is being handled, or the 4.5 s reply deadline passed and the answer is pushed). Once the server
   has recorded every message (handlers past the deadline go on working after the generator is done), the
   database: **recorded once** — exactly one attendance row per member for the activity, every member, no
   message that ended in an error (``inbound_message.error_ref``), no wrong answer; **answered once** —
   every sign-in that got only ``success`` inline has exactly one pushed answer (``late-reply:`` in
   ``delivery``) saying the right thing, and no push answers a sign-in none of whose requests got
   ``success`` (see :func:`recorded`).

Reported per run: sign-ins per second (members ÷ the time from the first message until the last sign-in
was recorded), messages per second, latency p50 / p99 / max from when each message was due, errors,
answers over 5 s, bare ``success`` answers, attendance rows, second sign-ins answered "already", and the
server's CPU per message. SQLite always; PostgreSQL when one answers at 127.0.0.1:5432 (database
``lvzhi_bench_signin``). ``python -m bench`` runs it after the callback benchmark and writes its table.

The generator runs in its own process: ``python -m bench.signin --generate PLAN.json --out RESULT.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench import callback
from bench.callback import AES_KEY, APP_ID, ROOT, TOKEN, member_openid

MEMBERS = 1_000
RETRY_SHARE = 0.10  # sign-ins sent again with the same MsgId / CreateTime (WeChat's retries)
SECOND_SHARE = 0.05  # members who sign in a second time (a new message)
WARMUP = 200  # sign-ins to a warm-up activity before the measured runs (statement caches, connections)
CONCURRENCY = 50
BURST_SECONDS = 5.0
PG_DB = "lvzhi_bench_signin"
STARTS_IN = timedelta(minutes=20)  # the window (60 min before the start) is open; nobody is late yet
TITLE = "第十四届委员会第五次全体会议"


# --- the plan (parent process) -------------------------------------------------------------------------------


def build_plan(members: int, seed: int, *, first: int = 0) -> list[dict[str, Any]]:
    """Members ``first`` .. ``first + members - 1`` sign in once (half by code, half by QR scan), plus retries
    and second sign-ins, in sending order. ``key`` is the message's own number: a retry repeats its key."""
    rng = random.Random(seed)
    originals = [{"member": first + n, "method": "scan" if n % 2 else "text", "key": n, "role": "first"}
                 for n in range(members)]
    rng.shuffle(originals)
    placed: list[tuple[float, dict[str, Any]]] = [(float(position), message)
                                                  for position, message in enumerate(originals)]
    retried = set()
    for position in rng.sample(range(members), round(members * RETRY_SHARE)):
        message = originals[position]
        retried.add(message["key"])
        # a moment later: some arrive while the first is still being handled, some after its answer
        placed.append((position + rng.uniform(0.5, 400), {**message, "role": "retry"}))
    for number, position in enumerate(rng.sample(range(members), round(members * SECOND_SHARE))):
        message = originals[position]
        placed.append((position + rng.uniform(20, 400), {**message, "key": members + number, "role": "second"}))
    placed.sort(key=lambda pair: pair[0])
    plan = [message for _, message in placed]
    for message in plan:
        message["retried"] = message["role"] == "first" and message["key"] in retried
    return plan


def write_plan(path: Path, port: int, activity: dict[str, Any], messages: list[dict[str, Any]], texts: Any,
               **extra: Any) -> Path:
    plan = {
        "url": f"http://127.0.0.1:{port}/wechat", "token": TOKEN, "app_id": APP_ID, "aes_key": AES_KEY,
        "concurrency": CONCURRENCY, "activity": activity, "period_seconds": period_seconds(),
        "msg_id_base": int(time.time() * 1000) * 1000,
        "signed_in": callback.signin_reply(texts, "signin.signed_in", activity["title"]),
        "already": callback.signin_reply(texts, "signin.already", activity["title"]),
        "messages": messages, **extra,
    }
    path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    return path


def period_seconds() -> int:
    from bot.infra.config import ActivitySettings

    return ActivitySettings().code_period_seconds  # the bench server runs with the default


# --- the generator (its own process) -------------------------------------------------------------------------


def prepare(plan: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Encrypt every message with the code the screen shows now; retries are byte-for-byte the same message."""
    from bench.loadgen import Prepared
    from bot.devtools.emulator import OfficialAccountPlatform, event_fields, text_fields
    from bot.domain.activities import scene_for, shown_code
    from models.activity import Activity

    platform = OfficialAccountPlatform(plan["token"], plan["app_id"], plan["aes_key"], mode="safe")
    activity = plan["activity"]
    now = datetime.now(UTC)
    shown = shown_code(Activity(id=activity["id"], code_secret=activity["secret"]), now, plan["period_seconds"])
    url = urlsplit(plan["url"])
    base, sent_at = int(plan["msg_id_base"]), int(now.timestamp())
    members = sum(1 for message in plan["messages"] if message["role"] == "first")
    items = []
    for index, message in enumerate(plan["messages"]):
        openid = member_openid(message["member"])
        if message["method"] == "text":
            fields = text_fields(openid, f"签到 {shown.code}", msg_id=base + message["key"], create_time=sent_at)
        else:  # events carry no MsgId: FromUserName + CreateTime + Event is their identity
            second = 1 if message["key"] >= members else 0
            fields = event_fields(openid, "SCAN", key=scene_for(activity["id"], shown.code),
                                  create_time=sent_at + second, Ticket="bench-ticket")
        request = platform.request(fields)
        body = request.body.encode()
        payload = (
            f"POST {url.path}?{urlencode(request.params)} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        items.append(Prepared(index, openid, [], payload))
    code = {"code": shown.code, "valid_s": (shown.valid_until - datetime.now(UTC)).total_seconds()}
    return items, code


def verify(plan: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    """Read every answer: the role of its message says which answers are right."""
    from bot.devtools.emulator import OfficialAccountPlatform

    platform = OfficialAccountPlatform(plan["token"], plan["app_id"], plan["aes_key"], mode="safe")
    answers = {"signed_in": 0, "already": 0, "success": 0}
    by_role: dict[str, dict[str, int]] = {}
    # (openid, "sign" | "second") → [answers that said something, bare "success" answers]
    groups: dict[tuple[str, str], list[int]] = {}
    errors: dict[str, int] = {}
    samples: list[str] = []

    def fail(item: Any, reason: str, text: str = "") -> None:
        errors[reason] = errors.get(reason, 0) + 1
        if len(samples) < 5:
            samples.append(f"{item.openid} ({plan['messages'][item.index]['role']}): {reason} {text[:100]!r}")

    for item in items:
        message = plan["messages"][item.index]
        role = message["role"]
        counts_of = groups.setdefault((item.openid, "second" if role == "second" else "sign"), [0, 0])
        if item.error or item.status != 200:
            fail(item, item.error or f"HTTP {item.status}")
            continue
        if item.body == "success":
            kind = "success"
        else:
            try:
                answer = platform.read_answer(item.status, item.body)
            except Exception as exc:
                fail(item, f"reply does not verify: {type(exc).__name__}")
                continue
            if answer.fields.get("ToUserName") != item.openid:
                fail(item, "reply addressed to someone else")
                continue
            kind = ("signed_in" if answer.text.startswith(plan["signed_in"])
                    else "already" if answer.text.startswith(plan["already"]) else "other")
            if kind == "other":
                fail(item, "unexpected reply", answer.text)
                continue
        # A bare "success": a retry while the first was being handled, or the reply deadline passed and the
        # answer went out as a push; the parent checks that every sign-in got its answer one way or the other.
        if kind != "success" and kind != ("already" if role == "second" else "signed_in"):
            fail(item, f"{role} answered {kind}")
            continue
        counts_of[1 if kind == "success" else 0] += 1
        answers[kind] += 1
        counts = by_role.setdefault(role, {})
        counts[kind] = counts.get(kind, 0) + 1
    return {"errors": sum(errors.values()), "error_kinds": errors, "error_samples": samples, "answers": answers,
            "by_role": by_role,
            "bare": [[*group, inline, bare] for group, (inline, bare) in groups.items() if bare or not inline]}


def generate(plan: dict[str, Any]) -> dict[str, Any]:
    from bench.loadgen import WECHAT_TIMEOUT, closed_loop, open_loop, percentile

    items, code = prepare(plan)
    url = urlsplit(plan["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    started = time.perf_counter()
    if plan.get("rate"):
        asyncio.run(open_loop(items, host, port, float(plan["rate"]), int(plan.get("max_inflight", 3000))))
    else:
        asyncio.run(closed_loop(items, host, port, int(plan["concurrency"])))
    elapsed = time.perf_counter() - started
    latencies = sorted(item.latency for item in items)
    members = sum(1 for message in plan["messages"] if message["role"] == "first")
    result = {
        "messages": len(items), "members": members, "seconds": elapsed,
        "msgs_per_s": len(items) / elapsed, "signins_per_s": members / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000, "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000, "max_ms": latencies[-1] * 1000,
        "over_5s": sum(1 for value in latencies if value > WECHAT_TIMEOUT),
        "code": code["code"], "code_valid_s": code["valid_s"], "offered_rate": plan.get("rate"),
    }
    result.update(verify(plan, items))
    return result


# --- the database's word ---------------------------------------------------------------------------------------


async def recorded(url: str, activity_id: int, members: list[int], texts: Any, title: str,
                   bare: list[list[Any]]) -> dict[str, Any]:
    """What the database holds for this activity: one row per member, no message that failed, and the pushed
    answers. ``bare`` lists the sign-ins (openid, "sign" | "second") that got a bare ``success`` or no real
    answer inline, with [inline answers, bare answers]: one without an inline answer needs exactly one push;
    a push is right only where some message of that sign-in got ``success`` (it answers that request: the
    platform only retries a request it got no answer to, so a push after an inline answer is not a double
    on WeChat when it answers the retry); none may have two."""
    from sqlalchemy import func, select

    from bot.infra.db import Database
    from models.activity import Attendance
    from models.conversation import InboundMessage
    from models.delivery import Delivery

    db = Database(url)
    async with db.reader() as session:
        rows = (await session.execute(
            select(Attendance.member_id, Attendance.status, Attendance.method)
            .where(Attendance.activity_id == activity_id)
        )).all()
        failed = await session.scalar(
            select(func.count()).select_from(InboundMessage).where(InboundMessage.error_ref.is_not(None)))
        late = (await session.execute(
            select(Delivery.recipient, Delivery.payload).where(Delivery.idempotency_key.like("late-reply:%"))  # type: ignore[attr-defined]
        )).all()
    await db.dispose()
    signed_in = callback.signin_reply(texts, "signin.signed_in", title)
    already = callback.signin_reply(texts, "signin.already", title)
    pushed: dict[tuple[str, str], int] = {}
    for recipient, payload in late:
        text = str((payload or {}).get("text", ""))
        group = "sign" if text.startswith(signed_in) else "second" if text.startswith(already) else None
        if group is not None:  # this activity's answers only
            pushed[(recipient, group)] = pushed.get((recipient, group), 0) + 1
    inline = {(openid, group): (answered, success) for openid, group, answered, success in bare}
    missing_answers = sum(1 for group, (answered, _) in inline.items() if not answered and pushed.get(group) != 1)
    extra_answers = sum(1 for group, count in pushed.items()
                        if count > 1 or not inline.get(group, (0, 0))[1])
    ids = [member_id for member_id, _, _ in rows]
    statuses: dict[str, int] = {}
    methods: dict[str, int] = {}
    for _, status, method in rows:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        methods[str(method)] = methods.get(str(method), 0) + 1
    return {
        "rows": len(rows), "distinct_members": len(set(ids)), "missing": len(set(members) - set(ids)),
        "unexpected": len(set(ids) - set(members)), "statuses": statuses, "methods": methods,
        "failed_messages": int(failed or 0), "late_replies_pushed": sum(pushed.values()),
        "answers_missing": missing_answers, "answers_twice": extra_answers,
        "second_pushed": sum(count for (_, group), count in pushed.items() if group == "second"),
    }


def recorded_once(result: dict[str, Any], members: int) -> bool:
    """Every member's sign-in is in the database exactly once, and no message failed or got a wrong answer."""
    db = result["db"]
    return (db["rows"] == db["distinct_members"] == members and not db["missing"] and not db["unexpected"]
            and not db["failed_messages"] and not result["errors"])


def answered_once(result: dict[str, Any]) -> bool:
    """Every sign-in (and every second one) got its answer once: inline, or pushed when the deadline passed."""
    return not result["db"]["answers_missing"] and not result["db"]["answers_twice"]


async def inbound_count(url: str) -> int:
    from sqlalchemy import func, select

    from bot.infra.db import Database
    from models.conversation import InboundMessage

    db = Database(url)
    try:
        async with db.reader() as session:
            return int(await session.scalar(select(func.count()).select_from(InboundMessage)) or 0)
    finally:
        await db.dispose()


def wait_until_handled(url: str, expected: int, timeout: float = 120.0) -> float:
    """Wait until the server has recorded ``expected`` messages in all: handlers that passed the reply
    deadline (answered ``success``) are still working when the generator is done. Returns seconds waited."""
    started = time.monotonic()
    while asyncio.run(inbound_count(url)) < expected:
        if time.monotonic() - started > timeout:
            print(f"    gave up waiting for the server after {timeout:.0f} s", flush=True)
            break
        time.sleep(0.25)
    return time.monotonic() - started


def unique_messages(messages: list[dict[str, Any]]) -> int:
    """Messages the server records once each: a retry repeats its first's identity."""
    return sum(1 for message in messages if message["role"] != "retry")


# --- runs --------------------------------------------------------------------------------------------------------


def run_generator(plan: Path, core: str | None) -> dict[str, Any]:
    out = plan.with_suffix(".result.json")
    argv = [sys.executable, "-m", "bench.signin", "--generate", str(plan), "--out", str(out)]
    subprocess.run(callback.pinned(core, argv), check=True, cwd=ROOT)
    return json.loads(out.read_text(encoding="utf-8"))


def backend_runs(name: str, url: str, args: argparse.Namespace, workdir: Path, mock_port: int,
                 cores: tuple[str | None, str | None], texts: Any) -> list[dict[str, Any]]:
    """Seed, start one server, warm it up, then the closed-loop and burst runs (``--repeat`` each)."""
    server_core, gen_core = cores
    started = time.perf_counter()
    asyncio.run(callback.seed(url, members=args.members))
    variants = [("closed", run) for run in range(args.repeat)] + [("burst", run) for run in range(args.repeat)]
    activities = [asyncio.run(callback.seed_activity(url, f"{TITLE}（{kind} {n + 1}）", starts_in=STARTS_IN))
                  for kind, n in variants]
    warm = asyncio.run(callback.seed_activity(url, f"{TITLE}（预热）", starts_in=STARTS_IN))
    print(f"  {name}: seeded {args.members} members and {len(activities) + 1} open activities in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    port = callback.free_port()
    config = callback.write_config(workdir, url, port, mock_port)
    argv = callback.pinned(server_core, [sys.executable, "-m", "bot", "--config", str(config), "serve"])
    results = []
    with callback.Server(argv, port, workdir / f"lvzhi-{name}.log") as server:
        warm_plan = [{**m, "role": "first"} for m in build_plan(min(WARMUP, args.members), seed=1)
                     if m["role"] == "first"]
        handled = asyncio.run(inbound_count(url))
        warmed = run_generator(write_plan(workdir / f"warm-{name}.json", port, warm, warm_plan, texts), gen_core)
        if warmed["errors"]:
            print(f"    warm-up errors: {warmed['error_kinds']} {warmed['error_samples']}", flush=True)
        handled += unique_messages(warm_plan)
        wait_until_handled(url, handled)
        pids = server.pids
        for (kind, number), activity in zip(variants, activities, strict=True):
            messages = build_plan(args.members, seed=100 + number)
            extra = {"rate": len(messages) / args.burst_seconds, "max_inflight": 3000} if kind == "burst" else {}
            before = callback.cpu_seconds(pids)
            plan = write_plan(workdir / f"plan-{name}-{kind}-{number}.json", port, activity, messages, texts,
                              **extra)
            result = run_generator(plan, gen_core)
            handled += unique_messages(messages)
            # The backlog of a burst past the server's rate: finished (and its answers queued as pushes) before
            # the database is checked and before the next run starts. Its CPU counts.
            result["drain_s"] = wait_until_handled(url, handled)
            # Until the last sign-in was recorded: in a burst past the server's rate that is after the last answer.
            result["signins_per_s"] = result["members"] / (result["seconds"] + result["drain_s"])
            result["cpu_ms_per_msg"] = (callback.cpu_seconds(pids) - before) * 1000 / result["messages"]
            result["peak_mb"] = callback.peak_rss_mb(pids)
            result.update(variant=kind, backend=name, activity_id=activity["id"], title=activity["title"])
            results.append(result)
    # After the server stopped: every reply that went out late has been queued by then.
    member_ids = list(range(1, args.members + 1))
    for result in results:
        result["db"] = asyncio.run(recorded(url, result["activity_id"], member_ids, texts, result["title"],
                                            result["bare"]))
        result["recorded_once"] = recorded_once(result, args.members)
        result["answered_once"] = answered_once(result)
        show(name, result)
    return results


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of the measured figures; counts summed; exactly-once must hold in every run."""
    keys = ("signins_per_s", "msgs_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "cpu_ms_per_msg", "peak_mb",
            "seconds", "drain_s")
    summary: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in keys}
    for key in ("errors", "over_5s"):
        summary[key] = sum(run[key] for run in runs)
    summary["answers"] = {kind: sum(run["answers"][kind] for run in runs) for kind in runs[0]["answers"]}
    summary["rows"] = [run["db"]["rows"] for run in runs]
    summary["failed_messages"] = sum(run["db"]["failed_messages"] for run in runs)
    summary["late_replies_pushed"] = sum(run["db"]["late_replies_pushed"] for run in runs)
    summary["recorded_once"] = all(run["recorded_once"] for run in runs)
    summary["answered_once"] = all(run["answered_once"] for run in runs)
    summary["answers_missing"] = sum(run["db"]["answers_missing"] for run in runs)
    summary["answers_twice"] = sum(run["db"]["answers_twice"] for run in runs)
    summary["runs"] = len(runs)
    summary["messages"] = runs[0]["messages"]
    summary["offered_rate"] = runs[0].get("offered_rate")
    summary["second_rejected"] = sum(run["by_role"].get("second", {}).get("already", 0) + run["db"]["second_pushed"]
                                     for run in runs)
    summary["second_sent"] = sum(sum(run["by_role"].get("second", {}).values()) for run in runs)
    summary["retries"] = sum(sum(run["by_role"].get("retry", {}).values()) for run in runs)
    return summary


def show(name: str, run: dict[str, Any]) -> None:
    db = run["db"]
    label = f"{name}, {'burst' if run['variant'] == 'burst' else 'closed loop'}"
    rate = f" (offered {run['offered_rate']:.0f} msg/s)" if run.get("offered_rate") else ""
    print(f"  {label:28s} {run['signins_per_s']:6.0f} sign-ins/s  {run['msgs_per_s']:6.0f} msg/s{rate}  "
          f"p50 {run['p50_ms']:6.1f}  p99 {run['p99_ms']:7.1f}  max {run['max_ms']:7.1f} ms  err {run['errors']}  "
          f">5s {run['over_5s']}  rows {db['rows']}/{run['members']}  "
          f"{'recorded once' if run['recorded_once'] else 'NOT RECORDED EXACTLY ONCE'}, "
          f"{'answered once' if run['answered_once'] else 'NOT ANSWERED EXACTLY ONCE'}", flush=True)
    print(f"    answers {run['answers']}; retries {run['by_role'].get('retry', {})}; second sign-ins "
          f"{run['by_role'].get('second', {})}; methods {db['methods']}; statuses {db['statuses']}; "
          f"failed messages {db['failed_messages']}; answered by push (deadline passed) "
          f"{db['late_replies_pushed']}, missing {db['answers_missing']}, twice {db['answers_twice']}; "
          f"code valid {run['code_valid_s']:.0f} s from the start, run {run['seconds']:.1f} s, backlog drained in "
          f"{run['drain_s']:.1f} s", flush=True)
    if run["errors"]:
        print(f"    errors: {run['error_kinds']} {run['error_samples']}", flush=True)


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    from bot.infra.i18n import Catalogue

    texts = Catalogue("zh_CN")
    workdir = Path(tempfile.mkdtemp(prefix="lvzhi-signin-"))
    two_cores = (os.cpu_count() or 1) >= 2
    cores = ("0", "1") if two_cores else (None, None)
    results: dict[str, Any] = {"members": args.members, "repeat": args.repeat, "burst_seconds": args.burst_seconds,
                               "concurrency": CONCURRENCY, "notes": [], "workdir": str(workdir)}
    print(f"lvzhi sign-in benchmark: {args.members} members, one activity per run, closed loop (concurrency "
          f"{CONCURRENCY}) and a burst within {args.burst_seconds:.0f} s, {args.repeat} run(s) each "
          f"(work dir {workdir})", flush=True)
    mock_port = callback.free_port()
    mock = callback.Server(callback.pinned(cores[1], [sys.executable, "-m", "bot", "dev", "mock-wechat", "--port",
                                                      str(mock_port)]), mock_port, workdir / "mock.log")
    try:
        with callback._mock_api(mock, mock_port):
            sqlite_url = f"sqlite+aiosqlite:///{workdir / 'signin.db'}"
            runs = backend_runs("SQLite", sqlite_url, args, workdir, mock_port, cores, texts)
            results["sqlite"] = {kind: summarise([r for r in runs if r["variant"] == kind])
                                 for kind in ("closed", "burst")}
            with callback.pg_database(PG_DB, args, results) as pg_url:
                if pg_url is not None:
                    runs = backend_runs("PostgreSQL", pg_url, args, workdir, mock_port, cores, texts)
                    results["postgresql"] = {kind: summarise([r for r in runs if r["variant"] == kind])
                                             for kind in ("closed", "burst")}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.signin", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each variant (the default is 3)")
    parser.add_argument("--members", type=int, default=MEMBERS, help="members signing in (default 1000)")
    parser.add_argument("--repeat", type=int, help="runs per variant, the median is reported (default 3; quick 1)")
    parser.add_argument("--burst-seconds", type=float, default=BURST_SECONDS,
                        help="the burst sends every member's sign-in within this many seconds (default 5)")
    parser.add_argument("--no-pg", dest="pg", action="store_false", help="skip PostgreSQL")
    parser.add_argument("--keep", action="store_true",
                        help=f"keep the work dir (logs, plans, results) and the PostgreSQL database {PG_DB}")
    parser.add_argument("--json", help="write the results as JSON to this file")
    parser.add_argument("--generate", metavar="PLAN", help=argparse.SUPPRESS)  # the generator's own process
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    if args.generate:
        plan = json.loads(Path(args.generate).read_text(encoding="utf-8"))
        result = json.dumps(generate(plan), ensure_ascii=False)
        if args.out:
            Path(args.out).write_text(result, encoding="utf-8")
        else:
            sys.stdout.write(result + "\n")
        return {}
    args.repeat = args.repeat or (1 if args.quick else 3)
    results = run_all(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    for check in ("recorded_once", "answered_once"):
        failed = [f"{backend} {kind}" for backend in ("sqlite", "postgresql") if backend in results
                  for kind, summary in results[backend].items() if not summary[check]]
        if failed:
            print(f"  {check.replace('_', ' ')} FAILED: {', '.join(failed)}", flush=True)
    return results


if __name__ == "__main__":
    main()
