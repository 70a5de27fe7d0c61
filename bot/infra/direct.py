"""Statements every message runs, executed straight on SQLite without SQLAlchemy's execution pipeline.

Why (bench/callback.py, docs/performance.md): with SQLite on the event loop (bot/infra/sqlite_inline.py) a
statement of the message frame costs 5–20 µs in ``sqlite3`` but about 150 µs of CPU through
``AsyncSession.execute`` (a greenlet, the session's bookkeeping, an execution context, a cursor
wrapper, a result object). The dispatcher's frame (retry check, chat window, conversation load and
save, inbound record) runs four or five of them for every message.

A :class:`Direct` statement is an ordinary SQLAlchemy Core statement, written once. On the inline SQLite
driver it is compiled once, and each call converts its values with the column types' own bind and
result processors (so what is stored and read is exactly what SQLAlchemy would store and read) and
runs on the ``sqlite3`` connection of the session's current transaction. On any other database it is
plain ``session.execute``.

Where a Direct statement may be used, and why these rules are enough:

* inside a **write** session (``Database.session``): its ``BEGIN IMMEDIATE`` holds the write lock,
  so the statement never meets a busy database and needs no retry;
* for statements whose **every value is a bind parameter or literal**: Python-side column defaults
  are refused when the statement is compiled, as are ``IN`` lists (expanding parameters);
* when it needs **no autoflush**: pending ORM objects are not flushed before it runs, so it must not
  read rows the handler just added through the ORM (the frame's tables are its own).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from bot.infra.sqlite_inline import SQLiteDialect_inline

_CACHED_CONNECTION = "lvzhi.direct.sqlite3"  # session.info: (the transaction, its sqlite3 connection)


@dataclass(frozen=True, slots=True)
class _Form:
    """A statement compiled for the inline SQLite dialect, with its value converters."""

    construct_params: Callable[..., dict[str, Any]]
    sql: str
    order: tuple[str, ...]  # bind parameter names in ``?`` order
    bind_processors: Mapping[str, Callable[[Any], Any]]
    row_type: Any  # a namedtuple of the selected columns, or None for statements without rows
    result_processors: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = self.construct_params(params)
        processors = self.bind_processors
        arguments = []
        for name in self.order:
            value = values[name]
            process = processors.get(name)  # called for None too, as SQLAlchemy does (JSON stores 'null')
            arguments.append(value if process is None else process(value))
        return arguments

    def row(self, raw: Sequence[Any]) -> Any:
        return self.row_type._make(
            value if process is None else process(value)
            for value, process in zip(raw, self.result_processors, strict=True)
        )


class Direct:
    """A Core statement that skips SQLAlchemy's execution pipeline on the inline SQLite driver."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._form: _Form | None = None

    async def all(self, session: AsyncSession, params: Mapping[str, Any]) -> list[Any]:
        """The rows (named tuples on SQLite, SQLAlchemy rows elsewhere)."""
        connection = await _sqlite3_of(session)
        if connection is None:
            return list((await session.execute(self.statement, params)).all())
        form = self._compiled(session.bind.dialect)
        cursor = connection.execute(form.sql, form.arguments(params))
        return [form.row(raw) for raw in cursor.fetchall()]

    async def first(self, session: AsyncSession, params: Mapping[str, Any]) -> Any | None:
        rows = await self.all(session, params)
        return rows[0] if rows else None

    async def run(self, session: AsyncSession, params: Mapping[str, Any]) -> int:
        """Execute a statement without rows; returns the number of rows it changed."""
        connection = await _sqlite3_of(session)
        if connection is None:
            return int((await session.execute(self.statement, params)).rowcount)  # type: ignore[attr-defined]
        form = self._compiled(session.bind.dialect)
        return connection.execute(form.sql, form.arguments(params)).rowcount

    def _compiled(self, dialect: Dialect) -> _Form:
        if self._form is None:
            self._form = _compile(self.statement, dialect)
        return self._form


def _compile(statement: Executable, dialect: Dialect) -> _Form:
    compiled = statement.compile(dialect=dialect)
    if compiled.insert_prefetch or compiled.update_prefetch:  # type: ignore[attr-defined]
        raise ValueError("a Direct statement must give every column's value (no Python-side defaults)")
    binds = compiled.binds
    if any(bind.expanding for bind in binds.values()):
        raise ValueError("a Direct statement cannot take IN lists (expanding parameters)")
    bind_processors = {}
    for name, bind in binds.items():
        process = bind.type._cached_bind_processor(dialect)
        if process is not None:
            bind_processors[name] = process
    columns = list(getattr(statement, "selected_columns", ()))
    # rename: an unlabelled expression (a scalar subquery) has no usable name; it gets a positional one
    row_type = collections.namedtuple("Row", [str(column.key) for column in columns], rename=True) if columns else None
    return _Form(
        construct_params=compiled.construct_params,
        sql=compiled.string,
        order=tuple(compiled.positiontup or ()),
        bind_processors=bind_processors,
        row_type=row_type,
        result_processors=tuple(column.type._cached_result_processor(dialect, None) for column in columns),
    )


async def _sqlite3_of(session: AsyncSession) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection of the session's transaction (begun if need be), or None when the
    session is not on the inline SQLite driver."""
    bind = session.bind
    if bind is None or not isinstance(bind.dialect, SQLiteDialect_inline):
        return None
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_CACHED_CONNECTION)
    if transaction is not None and cached is not None and cached[0] is transaction:
        return cached[1]
    connection = await session.connection()
    adapted = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    raw = adapted._connection._conn  # AsyncAdapt_inline_connection → InlineConnection → sqlite3
    session.info[_CACHED_CONNECTION] = (session.sync_session.get_transaction(), raw)
    return raw
