"""``INSERT … ON CONFLICT`` for both backends (SQLite and PostgreSQL share the syntax, not the constructs)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_of(dialect: str, table: Any) -> Any:
    """The dialect's ``insert`` (both have ``on_conflict_do_nothing`` / ``on_conflict_do_update``); by name, for
    statements built once per dialect."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert_for(session: AsyncSession, table: Any) -> Any:
    """The session's dialect's ``insert``."""
    return insert_of(dialect_of(session), table)


async def insert_ignore(
    session: AsyncSession, table: Any, values: dict[str, Any] | list[dict[str, Any]], conflict: list[str]
) -> bool:
    """Insert one row (or each of a list, in one executemany) unless one with the same ``conflict`` columns
    exists; True when anything was inserted."""
    statement = _insert_ignore(dialect_of(session), getattr(table, "__table__", table), tuple(conflict))
    result = await session.execute(statement, values)
    return bool(result.rowcount)


@functools.cache
def _insert_ignore(dialect: str, table: Table, conflict: tuple[str, ...]) -> Any:
    # Built once per table: sign-ins and queued pushes insert this way on the hot path, and a reused
    # statement keeps its cache key and compiled form. Its columns come from each call's parameters.
    return insert_of(dialect, table).on_conflict_do_nothing(index_elements=list(conflict))
