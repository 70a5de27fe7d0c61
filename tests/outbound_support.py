"""Fixtures for the outbound and scheduler tests: the mock WeChat/WeCom API on loopback and Services
pointed at it. Imported by tests/test_outbound_*.py and tests/test_scheduler.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.devtools.mock_platform import MockWechat, create_mock_app
from bot.infra.clock import Clock, FrozenClock
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.infra.services import Services
from models.delivery import Delivery
from tests.conftest import make_settings

TEMPLATE_ID = "TPL-todo-reminder"


@dataclass
class MockApi:
    mock: MockWechat
    url: str


@pytest.fixture
async def mock_api(clock: FrozenClock) -> AsyncIterator[MockApi]:
    mock = MockWechat(clock=clock)
    server = TestServer(create_mock_app(mock=mock), host="127.0.0.1")
    await server.start_server()
    yield MockApi(mock, str(server.make_url("")).rstrip("/"))
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def outbound_settings(tmp_path: Path, db_url: str, api_url: str, **overrides: Any) -> Any:
    mock = MockWechat()
    delivery = {
        "rate_per_second": 1000,
        "per_recipient_per_minute": 20,
        "max_attempts": 4,
        "base_backoff_seconds": 2.0,
        "batch_size": 100,
        **overrides.pop("delivery", {}),
    }
    return make_settings(
        tmp_path,
        db_url,
        wechat={
            "app_id": mock.app_id,
            "app_secret": mock.app_secret,
            "api_base": api_url,
            "template_id": TEMPLATE_ID,
        },
        wecom={"corp_id": mock.corp_id, "agent_id": 1000002, "secret": mock.corp_secret, "api_base": api_url},
        delivery=delivery,
        **overrides,
    )


def build_services(db: Database, clock: Clock, settings: Any, http: aiohttp.ClientSession) -> Services:
    return Services(settings=settings, db=db, clock=clock, texts=Catalogue(settings.locale), http=http)


@pytest.fixture
def services(
    db: Database,
    clock: FrozenClock,
    tmp_path: Path,
    db_url: str,
    mock_api: MockApi,
    http: aiohttp.ClientSession,
) -> Services:
    return build_services(db, clock, outbound_settings(tmp_path, db_url, mock_api.url), http)


async def delivery_rows(db: Database) -> list[Delivery]:
    async with db.reader() as session:
        return list((await session.execute(select(Delivery).order_by(Delivery.id))).scalars().all())


async def delivery_by_key(db: Database, key: str) -> Delivery:
    async with db.reader() as session:
        return (await session.execute(select(Delivery).where(Delivery.idempotency_key == key))).scalar_one()
