"""Direct statements (bot/infra/direct.py): the same rows as SQLAlchemy would store and read, in the session's
transaction, on SQLite without SQLAlchemy's execution pipeline and on PostgreSQL through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.infra.db import Database
from bot.infra.direct import Direct
from models.conversation import InboundMessage
from models.outbound import ChatWindow
from tests.conftest import create_schema

_INBOUND = InboundMessage.__table__
_RECORD = Direct(insert(_INBOUND).values({
    name: bindparam(name) for name in ("dedupe_key", "session_key", "received_at", "replied_later", "reply")
}))
_READ = Direct(
    select(_INBOUND.c.reply, _INBOUND.c.replied_later, _INBOUND.c.received_at)
    .where(_INBOUND.c.dedupe_key == bindparam("key"))
)
REPLY = {"text": "您好", "extra": {"n": 1}}
AT = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'direct.db'}")
    await create_schema(database)
    yield database
    await database.dispose()


def record(key: str, **values: object) -> dict[str, object]:
    return {"dedupe_key": key, "session_key": "mp:o-1", "received_at": AT, "replied_later": False,
            "reply": REPLY, **values}


async def test_what_a_direct_statement_stores_reads_back_the_same_through_sqlalchemy(db: Database) -> None:
    async with db.session() as session:
        assert await _RECORD.run(session, record("mp:msg:1")) == 1
    async with db.session() as session:
        stored = await session.get(InboundMessage, "mp:msg:1")
        assert stored is not None
        assert (stored.reply, stored.replied_later, stored.received_at) == (REPLY, False, AT)
        direct = await _READ.first(session, {"key": "mp:msg:1"})
        orm = (await session.execute(_READ.statement, {"key": "mp:msg:1"})).first()
    assert tuple(direct) == tuple(orm) == (REPLY, False, AT)
    assert direct.replied_later is False and direct.received_at == AT


async def test_a_missing_row_is_none_and_null_values_stay_null(db: Database) -> None:
    async with db.session() as session:
        assert await _READ.first(session, {"key": "mp:msg:none"}) is None
        await _RECORD.run(session, record("mp:msg:2", reply=None, replied_later=True))
        assert tuple(await _READ.all(session, {"key": "mp:msg:2"})) == ((None, True, AT),)


async def test_a_direct_statement_is_part_of_the_session_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await _RECORD.run(session, record("mp:msg:3"))
            raise RuntimeError("the handler failed")
    async with db.session() as session:
        assert await _READ.first(session, {"key": "mp:msg:3"}) is None


async def test_a_later_transaction_of_the_same_session_gets_its_own_connection(db: Database) -> None:
    async with AsyncSession(db.engine) as session:
        await _RECORD.run(session, record("mp:msg:kept"))
        await session.commit()
        await _RECORD.run(session, record("mp:msg:dropped"))
        await session.rollback()
    async with db.session() as session:
        assert await _READ.first(session, {"key": "mp:msg:kept"}) is not None
        assert await _READ.first(session, {"key": "mp:msg:dropped"}) is None


async def test_on_sqlite_it_skips_sqlalchemys_execution(sqlite_db: Database) -> None:
    seen: list[str] = []
    event.listen(sqlite_db.engine.sync_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    async with sqlite_db.session() as session:
        await _RECORD.run(session, record("mp:msg:4"))
        assert await _READ.first(session, {"key": "mp:msg:4"}) is not None
    assert seen == []  # BEGIN IMMEDIATE too is emitted straight on sqlite3 (bot.infra.sqlite_inline.begin)


async def test_a_statement_that_needs_column_defaults_is_refused_on_sqlite(sqlite_db: Database) -> None:
    without_counts = Direct(insert(ChatWindow.__table__).values(
        platform=bindparam("platform"), user_id=bindparam("user_id"), updated_at=bindparam("at")
    ))
    async with sqlite_db.session() as session:
        with pytest.raises(ValueError, match="every column"):
            await without_counts.run(session, {"platform": "mp", "user_id": "o-1", "at": AT})


async def test_values_are_stored_exactly_as_sqlalchemy_stores_them(db: Database) -> None:
    async with db.session() as session:
        await _RECORD.run(session, record("direct", reply=None))
        await session.execute(_RECORD.statement, record("sqlalchemy", reply=None))
        stored = (await session.execute(text(
            "SELECT CAST(reply AS TEXT), CAST(received_at AS TEXT), CAST(replied_later AS TEXT) FROM inbound_message"
            " WHERE dedupe_key IN ('direct', 'sqlalchemy')"
        ))).all()
    assert len(stored) == 2 and stored[0] == stored[1]
