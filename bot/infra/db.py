"""The async database: engine, sessions, migrations.

SQLite allows one writer at a time. A deferred transaction that reads and then writes fails at once
with SQLITE_BUSY when another connection wrote in between, so write sessions on SQLite start with
``BEGIN IMMEDIATE`` (they wait for the lock, up to 30 s, instead of failing). Read-only
sessions (:meth:`Database.reader`) stay deferred so they never queue behind writers in WAL mode.

SQLite statements run on the event loop through the ``sqlite+lvzhi`` dialect (bot/infra/sqlite_inline.py):
a thread hop per statement cost ten to a hundred times the statement. Lock waits are retried with
``asyncio.sleep``, checkpoints run in a thread, and statements known to be long are marked
``execution_options(offload=True)`` and run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.infra import sqlite_inline

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "models" / "migrations"


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.sqlite_path = url.split(":///", 1)[-1].split("?", 1)[0]
            if self.sqlite_path and self.sqlite_path != ":memory:":
                Path(self.sqlite_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Statements run on the loop, not in aiosqlite's thread: see bot/infra/sqlite_inline.py.
            sqlite_inline.register()
            self.engine = create_async_engine("sqlite+lvzhi:" + url.split(":", 1)[1], echo=echo)
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(
            self.engine.execution_options(lvzhi_read_only=True), expire_on_commit=False
        )
        # Performance (bench/callback.py): SQLite has one writer. Without this lock every concurrent
        # message took its own pooled connection and waited in BEGIN IMMEDIATE, where SQLite's busy
        # handler *sleeps* (1, 2, 5 … 100 ms) between retries: at concurrency 50 that gave ~100 msg/s
        # and p99 of seconds. Queueing the writers of this process on a FIFO asyncio lock first means
        # BEGIN IMMEDIATE only ever waits for another process. Write sessions on SQLite never nest
        # (a nested one would already wait on the outer one's lock), so the lock cannot deadlock.
        self._sqlite_writer_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on an exception."""
        if self._sqlite_writer_lock is None:
            async with self._writer() as session, session.begin():
                yield session
            return
        async with self._sqlite_writer_lock, self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read-only session that never takes SQLite's write lock."""
        async with self._reader() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

    # --- migrations -------------------------------------------------------------------------------

    def alembic_config(self) -> AlembicConfig:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    async def upgrade(self, revision: str = "head") -> None:
        """Run Alembic's upgrade in a worker thread (its env.py drives its own event loop)."""
        await asyncio.to_thread(command.upgrade, self.alembic_config(), revision)

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    async def ping(self) -> bool:
        async with self.reader() as session:
            await session.execute(text("SELECT 1"))
        return True


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that BEGIN is ours to emit.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get("lvzhi_read_only", False)
        sqlite_inline.begin(conn.connection.dbapi_connection, "BEGIN" if read_only else "BEGIN IMMEDIATE")
