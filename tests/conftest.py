"""Shared fixtures: real databases (SQLite always, PostgreSQL when LVZHI_TEST_PG_URL is set), settings,
a controllable clock, and a network guard that fails any test trying to leave this machine."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings, load_settings
from bot.infra.db import Database

PG_URL = os.environ.get("LVZHI_TEST_PG_URL", "")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


# --- network guard ----------------------------------------------------------------------------------

class NetworkAccessError(AssertionError):
    pass


def _is_local(address: Any) -> bool:
    if isinstance(address, str):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="session")
def network_guard() -> Iterator[None]:
    """Any connection to an address outside the loopback range fails the test that made it."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise NetworkAccessError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise NetworkAccessError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(sock, address)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost") and not _looks_like_loopback(host):
            raise NetworkAccessError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = guarded_getaddrinfo  # type: ignore[assignment]
    yield
    socket.socket.connect = real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = real_getaddrinfo  # type: ignore[assignment]


def _looks_like_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- clock, databases, settings ---------------------------------------------------------------------

@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test run's own, so parallel runs on one server never collide."""
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(PG_URL)
    name = f"{server.database or 'test'}_lvzhi_{os.getpid()}"
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'lvzhi.db'}"
    return str(request.getfixturevalue("pg_url"))


async def create_schema(database: Database) -> None:
    """Fresh tables for one test. On PostgreSQL the shared database is emptied first."""
    async with database.engine.begin() as conn:
        if not database.is_sqlite:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await conn.run_sync(SQLModel.metadata.create_all)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await create_schema(database)
    yield database
    await database.dispose()


def make_settings(tmp_path: Path, db_url: str, **overrides: Any) -> Settings:
    """Settings for a test: no file on disk but the one written here, so a developer's config never leaks in."""
    config_file = tmp_path / "config.yaml"
    if not config_file.exists():
        config_file.write_text("{}\n", encoding="utf-8")
    overrides.setdefault("database", {})["url"] = db_url
    overrides.setdefault("media_dir", str(tmp_path / "media"))
    return load_settings(config_file, **overrides)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


@pytest.fixture
def scheduler(api: Any) -> Any:
    """The admin API's scheduler replaced by a stub that counts the syncs it is asked for."""
    from bot.infra.services import SERVICES_KEY
    from tests.support import SchedulerStub

    stub = SchedulerStub()
    api.app[SERVICES_KEY].scheduler = stub
    return stub


@pytest.fixture
async def org(db: Database) -> Any:
    """The organisation of tests/activity_support.py (two liaison groups, members, leader, secretaries)."""
    from tests.activity_support import seed_org

    return await seed_org(db)


@pytest.fixture
async def app(db: Database, settings: Settings, clock: FrozenClock) -> AsyncIterator[Any]:
    """The running app (simulator on, WeChat off) over HTTP, on the test database."""
    from tests.support import running_app

    async with running_app(settings, clock) as harness:
        yield harness


@pytest.fixture
async def api(db: Database, tmp_path: Path, db_url: str, clock: FrozenClock) -> AsyncIterator[Any]:
    """The admin API over HTTP with ``tests.support.ADMIN_TOKEN`` configured."""
    from tests.support import ADMIN_TOKEN, admin_api_client

    client = await admin_api_client(db, make_settings(tmp_path, db_url, admin={"api_token": ADMIN_TOKEN}), clock)
    yield client
    await client.close()
