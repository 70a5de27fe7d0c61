"""``python -m bench`` (``make bench``): run every benchmark of the project and write ``BENCHMARKS.md``.

    python -m bench            # the full run: a few minutes on a 2-core machine (longer when lvzhi is slow)
    python -m bench --quick    # a smoke run: small message counts, one repeat

Options other than ``--quick`` and ``--no-write`` go to ``bench/callback.py`` (``--repeat``, ``--messages``,
``--no-pg``, ``--memory-messages`` …). ``bench/signin.py`` (the sign-in burst) gets ``--quick`` and ``--no-pg``;
``bench/broadcast.py`` is run with ``--quick`` when present; ``bench/ledger.py`` (the duty ledger at county
scale) gets ``--quick`` and ``--no-pg``, as does ``bench/console.py`` (every console page's p95 next to a trivial
page of the same server, 10,000 members).

The results are written between the ``results`` markers of BENCHMARKS.md; the rest of the file (what was
optimised and what it bought) is kept as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import callback, console, ledger, signin

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "BENCHMARKS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores{memory}; Python {platform.python_version()}, {platform.system()}"


def run_broadcast() -> str | None:
    script = ROOT / "bench" / "broadcast.py"
    if not script.exists():
        return None
    print("\nbroadcast benchmark (bench/broadcast.py --quick)", flush=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script), "--quick"], cwd=ROOT, capture_output=True, text=True)
    output = (done.stdout + ("\n" + done.stderr if done.returncode else "")).strip()
    print(output, flush=True)
    status = "ok" if done.returncode == 0 else f"failed (exit code {done.returncode})"
    return f"`bench/broadcast.py --quick`: {status} in {time.monotonic() - started:.0f} s\n\n```\n{output}\n```"


def run_signin(argv: list[str]) -> dict[str, Any] | str:
    """The sign-in burst; its failure is reported in the table's place instead of stopping the other results."""
    return _run_reported("sign-in burst", "bench/signin.py", signin.main, argv)


def run_ledger(argv: list[str]) -> dict[str, Any] | str:
    """The duty ledger benchmark; its failure is reported in the table's place, as the sign-in burst's is."""
    return _run_reported("duty ledger", "bench/ledger.py", ledger.main, argv)


def run_console(argv: list[str]) -> dict[str, Any] | str:
    """The secretary console's pages; its failure is reported in the table's place, as the others' are."""
    return _run_reported("secretary console", "bench/console.py", console.main, argv)


def _run_reported(name: str, script: str, main: Callable[[list[str]], dict[str, Any]], argv: list[str]
                  ) -> dict[str, Any] | str:
    print(f"\n{name} benchmark ({script})", flush=True)
    try:
        return main([arg for arg in argv if arg in ("--quick", "--no-pg")])
    except Exception as exc:  # a benchmark that broke is a result to read, not a reason to lose the others
        print(f"{name} benchmark failed: {type(exc).__name__}: {exc}", flush=True)
        return f"{type(exc).__name__}: {exc}"


def signin_section(results: dict[str, Any] | str) -> list[str]:
    if isinstance(results, str):
        return ["### Sign-in burst (`bench/signin.py`)", "", f"Failed: {results}"]
    lines = [
        f"### Sign-in burst (`bench/signin.py`): {results['members']:,} members, one open activity per run, safe "
        f"mode, median of {results['repeat']}",
        "",
        "Half type `签到 <code>` (the screen's current code), half scan its QR code (a SCAN event); on top, 10 % "
        "WeChat retries (same MsgId / CreateTime) and 5 % second sign-ins. *Closed loop*: 50 connections, each "
        f"waits for its answer. *Burst*: every sign-in sent within {results['burst_seconds']:.0f} s on schedule "
        "(open loop). Recorded once: one attendance row per member, no failed message, every answer right. "
        "Answered once: every sign-in answered exactly once, inline or pushed after the 5-second deadline. "
        "Sign-ins/s: members ÷ the time from the first message until the last sign-in was recorded.",
        "",
        "| database | run | sign-ins/s | msgs/s | p50 ms | p99 ms | max ms | errors | over 5 s | `success` | "
        "rows | second → already | recorded once | answered once | CPU µs/msg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        for kind in ("closed", "burst"):
            r = results.get(backend, {}).get(kind)
            if r is None:
                continue
            run = "closed loop, 50 connections" if kind == "closed" else f"burst, {r['offered_rate']:.0f} msg/s offered"
            answered = "yes" if r["answered_once"] else \
                f"**no** ({r['answers_missing']} missing, {r['answers_twice']} twice)"
            lines.append(
                f"| {label} | {run} | {r['signins_per_s']:.0f} | {r['msgs_per_s']:.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['max_ms']:.0f} | {r['errors']} | {r['over_5s']} | {r['answers']['success']} | "
                f"{' / '.join(str(rows) for rows in r['rows'])} | {r['second_rejected']} of {r['second_sent']} | "
                f"{'yes' if r['recorded_once'] else '**no**'} | "
                f"{answered} | {r['cpu_ms_per_msg'] * 1000:.0f} |")
    notes = [*results.get("notes", [])]
    notes.append("`success`: a bare answer — a retry while its first was being handled, or the reply deadline "
                 "passed and the answer went out as a push (checked in the delivery table).")
    lines += ["", *[f"- {note}" for note in notes]]
    return lines


def _row(name: str, r: dict[str, Any], floor: dict[str, Any] | None, note: str = "") -> str:
    ratio = f"{r['msgs_per_s'] / floor['msgs_per_s']:.2f}×" if floor else "—"
    return (f"| {name} | {r['msgs_per_s']:.0f} | {ratio} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['errors']} | {r['over_5s']} | {r['cpu_ms_per_msg'] * 1000:.0f} | {r['peak_mb']:.0f} | {note} |")


def report(results: dict[str, Any], args: list[str], broadcast: str | None, seconds: float,
           signins: dict[str, Any] | str | None = None, ledgers: dict[str, Any] | str | None = None,
           consoles: dict[str, Any] | str | None = None) -> str:
    floor = results["floor"]
    lines = [
        f"Run on **{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}**, {machine()}.",
        f"Command: `python -m bench {' '.join(args)}`".rstrip() + f" — {seconds / 60:.1f} minutes.",
        "",
        f"### WeChat callback (`bench/callback.py`): {results['messages']} messages per run, concurrency "
        f"{results['concurrency']}, safe mode, median of {results['repeat']}",
        "",
        "Server pinned to core 0 (`taskset`), load generator on core 1, unless the row says otherwise. "
        "CPU is the server's user+system time per message; peak memory is VmHWM (largest process).",
        "",
        "| variant | msgs/s | vs floor | p50 ms | p90 ms | p99 ms | errors | over 5 s | CPU µs/msg | peak MB | |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        _row("floor: aiohttp + wechatpy", floor, None, "verify, decrypt, parse, reply, encrypt"),
        _row("lvzhi serve, SQLite", results["sqlite"], floor, f"runs: {results['sqlite']['all_msgs_per_s']}"),
    ]
    if "postgresql" in results:
        lines.append(_row("lvzhi serve, PostgreSQL 1 worker", results["postgresql"], floor,
                          f"runs: {results['postgresql']['all_msgs_per_s']}"))
    if "workers1" in results:
        w1, w2 = results["workers1"], results["workers2"]
        lines.append(_row("lvzhi, SQLite, 1 worker, unpinned", w1, floor, "generator shares the 2 cores"))
        lines.append(_row("lvzhi, SQLite, 2 workers, unpinned", w2, floor,
                          f"**{w2['msgs_per_s'] / w1['msgs_per_s']:.2f}× 1 worker**; generator shares the cores"))
    if "workers1_pg" in results:
        w1, w2 = results["workers1_pg"], results["workers2_pg"]
        lines.append(_row("lvzhi, PostgreSQL, 1 worker, unpinned", w1, floor, "generator shares the 2 cores"))
        lines.append(_row("lvzhi, PostgreSQL, 2 workers, unpinned", w2, floor,
                          f"**{w2['msgs_per_s'] / w1['msgs_per_s']:.2f}× 1 worker**; generator shares the cores"))
    if "overload" in results:
        o = results["overload"]
        extra = (f". The server then handled its inbox in {o['backlog_s']:.1f} s more: {o['recorded']} of "
                 f"{o['messages']} messages recorded once, {o['late_replies']} replies queued as pushes for the "
                 f"{o['success_answers']} `success` answers, {o['left_in_inbox']} left in the inbox")
        lines += [
            "",
            f"**Overload** (open loop, as the platform sends): {o['offered_rate']:.0f} msg/s offered (2× the SQLite "
            f"median above) for {o['messages'] / o['offered_rate']:.0f} s → answered at {o['msgs_per_s']:.0f} msg/s, "
            f"p50 {o['p50_ms']:.0f} ms, p99 {o['p99_ms']:.0f} ms, max {o['max_ms']:.0f} ms; **answers over 5 s: "
            f"{o['over_5s']}**; bare `success` (reply pushed later): {o['success_answers']}; errors {o['errors']}"
            f"{extra}.",
        ]
    if "memory" in results:
        m = results["memory"]
        lines += ["", f"**Memory**: after {m['messages']} messages with {callback.MEMBERS} members, peak "
                      f"{m['peak_mb']:.0f} MB (VmHWM); {m['msgs_per_s']:.0f} msg/s, errors {m['errors']}."]
    notes = results.get("notes") or []
    notes = [
        "Mix: 30 % `帮助`, 30 % `我的`, 20 % `签到 <code>`, 20 % a conversation step (a visitor sends `注册`, then "
        "their name: two messages). Every reply is checked: signature, AES, AppID, addressee and content.",
        "`签到 <code>` carries the current code of an open activity seeded with the members (code period 600 s in "
        "this benchmark): a member's first sign-in is recorded, later ones answer \"already signed in\".",
        *notes,
    ]
    lines += ["", "Notes:", *[f"- {note}" for note in notes]]
    if signins is not None:
        lines += ["", *signin_section(signins)]
    if isinstance(ledgers, str):
        lines += ["", "### Duty ledger (`bench/ledger.py`)", "", f"Failed: {ledgers}"]
    elif ledgers is not None:
        lines += ["", *ledger.section(ledgers)]
    if isinstance(consoles, str):
        lines += ["", "### Secretary console (`bench/console.py`)", "", f"Failed: {consoles}"]
    elif consoles is not None:
        lines += ["", *console.section(consoles)]
    if broadcast:
        lines += ["", "### Broadcast (`bench/broadcast.py`)", "", broadcast]
    return "\n".join(lines)


def write_report(section: str) -> None:
    body = f"{START}\n{section}\n{END}"
    if REPORT.exists():
        text = REPORT.read_text(encoding="utf-8")
        if START in text and END in text:
            head, _, rest = text.partition(START)
            _, _, tail = rest.partition(END)
            REPORT.write_text(head + body + tail, encoding="utf-8")
            return
        REPORT.write_text(text.rstrip() + "\n\n" + body + "\n", encoding="utf-8")
        return
    REPORT.write_text(f"# Benchmarks\n\nWritten by `python -m bench` (`make bench`).\n\n{body}\n", encoding="utf-8")


def main() -> int:
    argv = sys.argv[1:]
    write = "--no-write" not in argv
    callback_argv = [arg for arg in argv if arg != "--no-write"]
    started = time.monotonic()
    results = callback.main(callback_argv)
    signins = run_signin(callback_argv)
    ledgers = run_ledger(callback_argv)
    consoles = run_console(callback_argv)
    broadcast = run_broadcast()
    section = report(results, argv, broadcast, time.monotonic() - started, signins, ledgers, consoles)
    if write:
        write_report(section)
        print(f"\nresults written to {REPORT}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
