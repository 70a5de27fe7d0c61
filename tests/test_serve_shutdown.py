"""``lvzhi serve`` stopped by SIGTERM in the middle of a burst loses nothing: every message answered
"success" because its handling passed the reply budget is still recorded, and its reply still queued;
messages answered "success" from the inbox (more than ``server.max_inflight`` in hand) are either handled
or still in the inbox, and the next start handles them.

A real server process (SQLite, the Official Account callback in plain mode) and real HTTP; the reply
budget is set tiny so most messages are handled after their answer, which is when a careless shutdown
(cancelling the event loop's tasks) would drop them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp

from bot.devtools.emulator import OfficialAccountPlatform, text_fields

TOKEN, APP_ID = "shutdown-token", "wx-shutdown"
MESSAGES = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_listening(process: asyncio.subprocess.Process) -> None:
    assert process.stderr is not None
    while True:
        line = await asyncio.wait_for(process.stderr.readline(), timeout=60)
        assert line, "the server exited before listening"
        if b"listening on" in line:
            return


async def start_server(config: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "LVZHI_CONFIG": str(config)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_until_listening(process)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process


async def stop_server(process: asyncio.subprocess.Process, *, after_line: bytes | None = None) -> None:
    """SIGTERM (once ``after_line`` has been logged, if given); the server must exit cleanly."""
    assert process.stderr is not None
    try:
        if after_line is not None:
            while after_line not in (line := await asyncio.wait_for(process.stderr.readline(), timeout=60)):
                assert line, "the server exited early"
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.stderr.read(), timeout=60)
        assert await asyncio.wait_for(process.wait(), timeout=60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def counts(database: Path) -> tuple[int, int, int, int]:
    """Recorded messages, of which answered later; late replies queued; messages still in the inbox."""
    with sqlite3.connect(database) as conn:
        recorded, later = conn.execute("SELECT count(*), sum(replied_later) FROM inbound_message").fetchone()
        queued = conn.execute("SELECT count(*) FROM delivery WHERE idempotency_key LIKE 'late-reply:%'").fetchone()[0]
        kept = conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0]
    return recorded, later or 0, queued, kept


async def test_sigterm_during_a_burst_loses_no_message(tmp_path: Path) -> None:
    port, database = free_port(), tmp_path / "lvzhi.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"server:\n  port: {port}\n  reply_budget_seconds: 0.001\n  max_inflight: 60\n"
        f"database:\n  url: sqlite+aiosqlite:///{database}\n"
        f"wechat:\n  enabled: true\n  mode: plain\n  token: {TOKEN}\n  app_id: {APP_ID}\n"
        "scheduler:\n  enabled: false\nsimulator:\n  enabled: false\n"
        f"media_dir: {tmp_path / 'media'}\nlogging:\n  level: INFO\n",
        encoding="utf-8",
    )
    process = await start_server(config)
    platform = OfficialAccountPlatform(TOKEN, APP_ID, mode="plain")
    async with aiohttp.ClientSession() as http:

        async def send(number: int) -> str:
            request = platform.request(text_fields(f"o-member-{number}", "帮助"))
            async with http.post(f"http://127.0.0.1:{port}/wechat", params=request.params,
                                 data=request.body.encode()) as response:
                assert response.status == 200
                return await response.text()

        answers = await asyncio.gather(*(send(number) for number in range(MESSAGES)))
    await stop_server(process)
    answered_later = sum(1 for answer in answers if answer == "success")
    assert answered_later > 0, "the tiny budget should have sent some replies later"
    recorded, later, queued, kept = counts(database)
    assert recorded + kept == MESSAGES
    assert later + kept == answered_later
    assert queued == later
    if kept:  # the stop came before the inbox was empty: the next start handles the rest, once
        await stop_server(await start_server(config), after_line=b"inbox: handled")
        assert counts(database) == (MESSAGES, answered_later, answered_later, 0)
