"""Alembic's migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.infra.db import Database


async def test_upgrade_head_matches_the_models(db_url: str) -> None:
    database = Database(db_url)
    if not database.is_sqlite:
        async with database.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await database.upgrade()
    assert await database.current_revision() == database.head_revision()

    def differences(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with database.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    await database.dispose()
    assert diff == []
