"""Test harness: the real app on aiohttp's test server, and a chat helper that reads like a conversation.

    async with running_app(settings, clock) as app:
        member = app.chat("sim-zhang")
        reply = await member.says("帮助")
        assert "注册" in reply
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.api import setup_admin_api
from bot.app import DISPATCHER_KEY, build_services, create_app
from bot.chat.dispatcher import Dispatcher
from bot.chat.router import Router
from bot.infra.clock import Clock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.infra.services import SERVICES_KEY, Services
from models.delivery import SimMessage


@dataclass
class AppHarness:
    client: TestClient
    services: Services
    dispatcher: Dispatcher

    def chat(self, user: str) -> SimChat:
        return SimChat(self, user)

    async def deliver(self) -> int:
        """Run the delivery worker once, as its loop would (no waiting)."""
        await self.dispatcher.drain()
        return int(await self.services.delivery.run_once())

    async def pushes_to(self, user: str) -> list[str]:
        """What the delivery worker has put in the simulator for ``user``, oldest first."""
        async with self.services.db.reader() as session:
            rows = (await session.scalars(
                select(SimMessage).where(SimMessage.user_id == user, SimMessage.direction == "out")
                .order_by(SimMessage.id)
            )).all()
        return [row.payload.get("text", "") for row in rows]


class SimChat:
    """One simulated member chatting through the simulator's HTTP API."""

    def __init__(self, app: AppHarness, user: str) -> None:
        self.app, self.user = app, user

    async def send(self, type_: str = "text", **fields: Any) -> dict[str, Any] | None:
        response = await self.app.client.post("/sim/api/send", json={"user": self.user, "type": type_, **fields})
        assert response.status == 200, await response.text()
        return (await response.json())["reply"]

    async def says(self, text: str, **fields: Any) -> str:
        """Send a text; return the bot's inline reply text ("" when it answered nothing)."""
        reply = await self.send("text", text=text, **fields)
        return reply["text"] if reply else ""

    async def clicks(self, key: str) -> str:
        reply = await self.send("click", key=key)
        return reply["text"] if reply else ""

    async def scans(self, scene: str) -> str:
        reply = await self.send("scan", key=scene)
        return reply["text"] if reply else ""

    async def shares_location(self, latitude: float, longitude: float, label: str = "") -> str:
        reply = await self.send("location", latitude=latitude, longitude=longitude, label=label)
        return reply["text"] if reply else ""

    async def follows(self) -> str:
        reply = await self.send("subscribe")
        return reply["text"] if reply else ""

    async def pushes(self) -> list[str]:
        await self.app.deliver()
        return await self.app.pushes_to(self.user)


ADMIN_TOKEN = "s3cret-token"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def call(api: TestClient, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
    """An admin API request with the token; asserts the status and returns the JSON body."""
    headers = {**ADMIN_AUTH, **kwargs.pop("headers", {})}
    response = await api.request(method, path, headers=headers, **kwargs)
    assert response.status == expect, await response.text()
    return await response.json()


class SchedulerStub:
    """Stands in for scheduler.core.LvzhiScheduler in API tests: counts the syncs the API asks for (the
    scheduler itself is tested in tests/test_scheduler.py)."""

    def __init__(self) -> None:
        self.syncs = 0

    async def sync(self) -> dict[str, int]:
        self.syncs += 1
        return {}


async def admin_api_client(db: Database, settings: Settings, clock: Clock) -> TestClient:
    """The admin API alone (no transports, no background work) on the test database; every answer is checked
    against the OpenAPI document (tests/openapi_support.py)."""
    from tests.openapi_support import answers_as_documented

    app = web.Application(middlewares=[answers_as_documented])
    app[SERVICES_KEY] = Services(settings=settings, db=db, clock=clock, texts=Catalogue())
    setup_admin_api(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@asynccontextmanager
async def running_app(
    settings: Settings, clock: Clock | None = None, routers: list[Router] | None = None
) -> AsyncIterator[AppHarness]:
    """The app with its schema already created by the ``db`` fixture; background loops stay off."""
    services = build_services(settings, clock)
    app = create_app(settings, services=services, start_background=False, migrate=False, routers=routers)
    async with TestClient(TestServer(app)) as client:
        yield AppHarness(client=client, services=services, dispatcher=app[DISPATCHER_KEY])
