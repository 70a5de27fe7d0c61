"""SQLite for asyncio without a thread hop per statement: the ``sqlite+lvzhi`` SQLAlchemy dialect.

Why (bench/callback.py, docs/performance.md): aiosqlite runs every call in a worker thread. A statement
on SQLite's page cache takes 1–20 µs, but the hop costs about 140 µs of CPU (queue, futex, self-pipe,
epoll), and under load the worker waits for the GIL for up to the 5 ms switch interval. A chat message
needs six to ten statements, so the hops were most of its cost: ~5 ms of CPU for ``帮助``.

This dialect is SQLAlchemy's aiosqlite dialect with the driver replaced by a thin wrapper that runs
``sqlite3`` calls on the event loop. What could make such a call *wait*, and how each is kept off
the loop:

* **Lock waits.** ``busy_timeout`` is 0 on these connections, so SQLite never sleeps in its busy
  handler. A statement that finds the database locked (another process is writing; within one process
  the writers already queue on :class:`bot.infra.db.Database`'s lock) is retried after an ``asyncio.sleep``
  with backoff, up to :data:`BUSY_TIMEOUT_SECONDS`.
* **fsync.** In WAL mode with ``synchronous=NORMAL`` a commit appends to the WAL without syncing;
  only checkpoints sync. ``wal_autocheckpoint`` is off on these connections and
  :class:`Checkpointer` runs a passive checkpoint in a thread every :data:`CHECKPOINT_EVERY_COMMITS`.
* **Long statements.** A statement known to be heavy (the ledger's rebuild, exports, bulk fan-out)
  is marked with ``.execution_options(offload=True)`` (see :data:`OFFLOAD`) and then runs, with
  its fetch, in a worker thread like aiosqlite would.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util.concurrency import await_

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30.0
CHECKPOINT_EVERY_COMMITS = 500
OFFLOAD = {"offload": True}  # ``stmt.execution_options(**OFFLOAD)``: run this statement in a thread

_BUSY_FIRST_SLEEP = 0.001
_BUSY_MAX_SLEEP = 0.05


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "database is locked" in str(error)
    )


async def _retry_busy(call: Callable[[], Any], *, in_thread: bool = False) -> Any:
    """``call()`` now (on the loop, or in a worker thread), and again after a growing pause while SQLite
    says the database is locked."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + BUSY_TIMEOUT_SECONDS
    pause = _BUSY_FIRST_SLEEP
    while True:
        try:
            return await asyncio.to_thread(call) if in_thread else call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or loop.time() + pause > give_up:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _BUSY_MAX_SLEEP)


def begin(dbapi_connection: Any, statement: str) -> None:
    """Emit ``BEGIN`` / ``BEGIN IMMEDIATE`` straight on ``sqlite3`` from SQLAlchemy's ``begin`` event.

    Why: through ``Connection.exec_driver_sql`` the one-word statement cost about 60 µs of SQLAlchemy per
    transaction (bench/callback.py). Lock waits are retried on the loop as for any statement; a timeout
    is raised as SQLAlchemy's ``OperationalError``, like every other statement's.
    """
    raw = dbapi_connection._connection._conn  # AsyncAdapt_inline_connection → InlineConnection → sqlite3
    try:
        await_(_retry_busy(lambda: raw.execute(statement)))
    except sqlite3.Error as error:
        raise DBAPIError.instance(statement, (), error, sqlite3.Error) from error


class InlineCursor:
    """The part of ``aiosqlite.Cursor`` that SQLAlchemy's adapter uses, run on the loop."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        await _retry_busy(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        rows = list(seq_of_parameters)  # a generator could not be replayed after a busy retry
        await _retry_busy(lambda: self._cursor.executemany(sql, rows))
        return self

    async def execute_in_thread(self, sql: str, parameters: Sequence[Any] | None) -> list[Any] | None:
        """Execute and fetch everything in a worker thread (``check_same_thread`` is off; the adapter's
        mutex keeps anyone else off this connection meanwhile)."""

        def run() -> list[Any] | None:
            self._cursor.execute(sql, parameters or ())
            return self._cursor.fetchall() if self._cursor.description else None

        return await _retry_busy(run, in_thread=True)

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The part of ``aiosqlite.Connection`` that SQLAlchemy's adapter uses, run on the loop."""

    def __init__(self, connection: sqlite3.Connection, checkpointer: Checkpointer | None) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._checkpointer = checkpointer

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        await _retry_busy(self._conn.commit)
        if self._checkpointer is not None:
            self._checkpointer.committed()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)


class Checkpointer:
    """Passive WAL checkpoints in a worker thread, so the loop never syncs the database file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.completed = 0
        self._commits = 0
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY_COMMITS and not self.running:
            self._commits = 0
            self._thread = threading.Thread(target=self._checkpoint, name="sqlite-checkpoint", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self) -> None:
        """Wait for a checkpoint under way (shutdown, tests)."""
        if self._thread is not None:
            self._thread.join()

    def _checkpoint(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=0)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                connection.close()
            self.completed += 1
        except sqlite3.Error as error:  # a busy database or a vanished file: the next round tries again
            log.debug("WAL checkpoint skipped: %s", error)


class AsyncAdapt_inline_cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute_offloaded(self, operation: str, parameters: Sequence[Any] | None) -> None:
        try:
            await_(self._execute_offloaded(operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _execute_offloaded(self, operation: str, parameters: Sequence[Any] | None) -> None:
        async with self._adapt_connection._execute_mutex:
            rows = await self._cursor.execute_in_thread(operation, parameters)
            self._rows = collections.deque(rows or ())


class AsyncAdapt_inline_connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = AsyncAdapt_inline_cursor

    @property
    def isolation_level(self) -> str | None:
        return self._connection._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection._conn.isolation_level = value


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self) -> None:
        import aiosqlite

        super().__init__(aiosqlite, sqlite3)
        self._checkpointers: dict[str, Checkpointer] = {}

    def connect(self, database: str, **kw: Any) -> AsyncAdapt_inline_connection:
        kw.pop("timeout", None)  # lock waits are retried on the loop instead (busy_timeout stays 0)
        kw["check_same_thread"] = False  # offloaded statements run in a worker thread
        connection = sqlite3.connect(database, timeout=0, **kw)
        checkpointer = None
        if database not in ("", ":memory:") and not kw.get("uri"):
            connection.execute("PRAGMA wal_autocheckpoint=0")
            checkpointer = self._checkpointers.setdefault(database, Checkpointer(database))
        return AsyncAdapt_inline_connection(self, InlineConnection(connection, checkpointer))


class SQLiteDialect_inline(SQLiteDialect_aiosqlite):
    driver = "lvzhi"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> InlineDBAPI:  # type: ignore[override]
        return InlineDBAPI()

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        # A server-side (streamed) cursor fetches in chunks and stays on the loop.
        if context is not None and context.execution_options.get("offload") and not cursor.server_side:
            cursor.execute_offloaded(statement, parameters)
        else:
            cursor.execute(statement, parameters)


dialect = SQLiteDialect_inline


def register() -> None:
    """Make ``sqlite+lvzhi://`` URLs resolve to this dialect."""
    from sqlalchemy.dialects import registry

    registry.register("sqlite.lvzhi", __name__, "SQLiteDialect_inline")
