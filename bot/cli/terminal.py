"""``lvzhi chat``: the simulator in a terminal. Same dispatcher, same database, no server."""

from __future__ import annotations

import asyncio
import secrets
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.app import build_services, prepare_database
from bot.chat.dispatcher import Dispatcher
from bot.chat.events import Event, Kind
from bot.infra.config import Settings
from bot.infra.services import Services
from models.delivery import SimMessage

PROMPT = "我> "
HINT = "输入文字与助手对话；/click KEY 点菜单，/scan 场景值 扫码，/loc 纬度,经度 发位置，/quit 退出。"


async def chat_in_terminal(settings: Settings, user: str) -> int:
    import aiohttp

    from bot.outbound.worker import DeliveryWorker
    from handlers import ROUTERS

    services = build_services(settings)
    await prepare_database(services)
    services.http = aiohttp.ClientSession()
    services.delivery = DeliveryWorker(services)
    dispatcher = Dispatcher(services, ROUTERS)
    print(HINT)
    shown = await _latest_id(services, user)
    try:
        while True:
            line = await asyncio.to_thread(_read_line)
            if line is None or line.strip() == "/quit":
                return 0
            event = _event_of(line.strip(), user, services.clock.now())
            if event is None:
                continue
            reply = await dispatcher.feed(event)
            if reply is not None:
                print(f"助手> {reply.plain_text}")
            await dispatcher.drain()
            await services.delivery.run_once()
            shown = await _print_pushes(services, user, shown)
    finally:
        await services.http.close()
        await services.db.dispose()


def _read_line() -> str | None:
    try:
        return input(PROMPT)
    except EOFError:
        return None


def _event_of(line: str, user: str, now: datetime) -> Event | None:
    if not line:
        return None
    command, _, rest = line.partition(" ")
    base: dict[str, Any] = {"platform": "sim", "user_id": user, "created_at": now,
                            "dedupe_key": f"sim:msg:{user}:{secrets.token_hex(8)}"}
    if command == "/click":
        return Event(kind=Kind.CLICK, key=rest.strip(), **base)
    if command == "/scan":
        return Event(kind=Kind.SCAN, key=rest.strip(), **base)
    if command == "/loc":
        try:
            lat, lng = (float(part) for part in rest.replace("，", ",").split(","))
        except ValueError:
            print("格式：/loc 30.27,120.15")
            return None
        return Event(kind=Kind.LOCATION, latitude=lat, longitude=lng, **base)
    return Event(kind=Kind.TEXT, text=line, **base)


async def _latest_id(services: Services, user: str) -> int:
    async with services.db.reader() as session:
        rows = await session.scalars(select(SimMessage.id).where(SimMessage.user_id == user)
                                     .order_by(SimMessage.id.desc()).limit(1))
        return rows.first() or 0


async def _print_pushes(services: Services, user: str, after: int) -> int:
    async with services.db.reader() as session:
        rows = (await session.scalars(select(SimMessage).where(
            SimMessage.user_id == user, SimMessage.id > after, SimMessage.direction == "out"
        ).order_by(SimMessage.id))).all()
    for row in rows:
        print(f"助手（推送）> {row.payload.get('text', '')}", file=sys.stdout)
        after = row.id or after
    return after
