"""The inline SQLite driver (bot/infra/sqlite_inline.py): lock waits without blocking the loop, offloaded
statements, WAL checkpoints in a thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from bot.infra import sqlite_inline
from bot.infra.db import Database
from bot.infra.sqlite_inline import OFFLOAD


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")

    @event.listens_for(database.engine.sync_engine, "connect")
    def _thread_function(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)  # type: ignore[attr-defined]

    async with database.session() as session:
        await session.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield database
    await database.dispose()


@pytest.fixture
def other_writer(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection, as far as SQLite can tell."""
    connection = sqlite3.connect(tmp_path / "inline.db", isolation_level=None, timeout=0)
    yield connection
    connection.close()


async def test_a_locked_database_is_waited_for_without_blocking_the_loop(
    sqlite_db: Database, other_writer: sqlite3.Connection
) -> None:
    other_writer.execute("BEGIN IMMEDIATE")
    other_writer.execute("INSERT INTO note (body) VALUES ('theirs')")

    async def write() -> None:
        async with sqlite_db.session() as session:
            await session.execute(text("INSERT INTO note (body) VALUES ('ours')"))

    writer = asyncio.create_task(write())
    # While our writer waits for the lock, the loop serves a reader (WAL: readers never wait).
    async with sqlite_db.reader() as session:
        seen = (await session.execute(text("SELECT count(*) FROM note"))).scalar_one()
    assert seen == 0
    assert not writer.done()
    other_writer.execute("COMMIT")
    await writer
    async with sqlite_db.reader() as session:
        bodies = (await session.execute(text("SELECT body FROM note ORDER BY id"))).scalars().all()
    assert bodies == ["theirs", "ours"]


async def test_a_lock_held_past_the_timeout_fails_the_write_cleanly(
    sqlite_db: Database, other_writer: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inline, "BUSY_TIMEOUT_SECONDS", 0.02)
    other_writer.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"):
        async with sqlite_db.session() as session:
            await session.execute(text("INSERT INTO note (body) VALUES ('ours')"))
    other_writer.execute("COMMIT")
    async with sqlite_db.session() as session:  # the connection is usable again
        await session.execute(text("INSERT INTO note (body) VALUES ('later')"))
    async with sqlite_db.reader() as session:
        assert (await session.execute(text("SELECT body FROM note"))).scalars().all() == ["later"]


async def test_statements_run_on_the_loop_and_offloaded_ones_in_a_thread(sqlite_db: Database) -> None:
    loop_thread = threading.get_ident()
    async with sqlite_db.session() as session:
        inline = (await session.execute(select(func.thread_id()))).scalar_one()
        offloaded = (await session.execute(select(func.thread_id()).execution_options(**OFFLOAD))).scalar_one()
        await session.execute(text("INSERT INTO note (body) VALUES ('in the same transaction')"))
        rows = (await session.execute(select(text("body")).select_from(text("note"))
                                      .execution_options(**OFFLOAD))).scalars().all()
    assert inline == loop_thread
    assert offloaded != loop_thread
    assert rows == ["in the same transaction"]


async def test_an_offloaded_statement_that_fails_rolls_back_its_transaction(sqlite_db: Database) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with sqlite_db.session() as session:
            await session.execute(text("INSERT INTO note (body) VALUES ('rolled back')"))
            await session.execute(text("SELECT * FROM missing").execution_options(**OFFLOAD))
    async with sqlite_db.reader() as session:
        assert (await session.execute(text("SELECT count(*) FROM note"))).scalar_one() == 0


async def test_checkpoints_run_in_a_thread_and_the_loop_never_checkpoints(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inline, "CHECKPOINT_EVERY_COMMITS", 3)
    async with sqlite_db.reader() as session:
        assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
    checkpointer = sqlite_db.engine.sync_engine.dialect.dbapi._checkpointers[sqlite_db.sqlite_path]  # type: ignore[union-attr]
    before = checkpointer.completed
    for number in range(3):
        async with sqlite_db.session() as session:
            await session.execute(text("INSERT INTO note (body) VALUES (:b)"), {"b": f"note {number}"})
    await asyncio.to_thread(checkpointer.join)
    assert checkpointer.completed == before + 1
    probe = sqlite3.connect(sqlite_db.sqlite_path)
    try:
        busy, frames, checkpointed = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, frames) == (0, checkpointed)
        assert probe.execute("SELECT count(*) FROM note").fetchone() == (3,)
    finally:
        probe.close()
