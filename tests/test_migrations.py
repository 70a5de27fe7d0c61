"""Alembic's migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, String, Table, text
from sqlmodel import SQLModel

from bot.infra.db import MIGRATIONS_DIR, Database


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


async def test_db_revision_writes_the_next_numbered_migration_from_the_models(tmp_path: Path) -> None:
    """``lvzhi db revision -m …``: the database is brought to the head, then the models are compared with it;
    a table the models gained is in the generated file, numbered after the last one."""
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}")
    extra = Table("proposal_draft_probe", SQLModel.metadata, Column("id", Integer, primary_key=True),
                  Column("title", String(100), nullable=False))
    try:
        path = await database.new_revision("proposal drafts", script_location=migrations)
    finally:
        SQLModel.metadata.remove(extra)
        await database.dispose()
    # Numbered after the repository's last migration, whichever that is today.
    last = max(int(found.name[:4]) for found in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    following, previous = f"{last + 1:04d}", f"{last:04d}"
    assert path.parent == migrations / "versions" and path.name == f"{following}_proposal_drafts.py"
    source = path.read_text(encoding="utf-8")
    assert f"revision: str = '{following}'" in source and f"down_revision: str | None = '{previous}'" in source
    assert "op.create_table('proposal_draft_probe'" in source and "sa.Column('title'" in source
    assert not (MIGRATIONS_DIR / "versions" / path.name).exists()  # the repository's migrations are untouched
