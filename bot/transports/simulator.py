"""The local simulator at ``/sim``: a WeChat-like chat page and its JSON API, no credentials needed.

It goes through the same dispatcher as WeChat. Messages the bot pushes later (notices, reminders,
late replies) are delivered by the delivery worker into ``sim_message`` and the page polls for them.

API (JSON):

- ``POST /sim/api/send`` ``{"user": "...", "type": "text|click|scan|location|subscribe|image",
  "text"?, "key"?, "latitude"?, "longitude"?, "label"?, "pic_url"?, "msg_id"?}`` → ``{"reply": {...}|null}``.
  ``msg_id`` lets a caller replay the same message to see retry dedupe.
- ``GET /sim/api/messages?user=...&after=<id>`` → ``{"messages": [...]}``: the chat, pushes included.
- ``GET /sim/api/users`` → members of the roster with the simulator id each can use.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from bot.chat.dispatcher import Dispatcher
from bot.chat.events import Event, Kind
from bot.outbound.message import Reply
from models.delivery import SimMessage
from models.member import Identity, LiaisonGroup, Member, Platform

log = logging.getLogger(__name__)

PLATFORM = Platform.SIMULATOR.value
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "web" / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)
_KINDS = {"text": Kind.TEXT, "click": Kind.CLICK, "scan": Kind.SCAN, "location": Kind.LOCATION,
          "subscribe": Kind.SUBSCRIBE, "image": Kind.IMAGE, "unsubscribe": Kind.UNSUBSCRIBE}


class SimInput(BaseModel):
    user: str = Field(min_length=1, max_length=64, pattern=r"^[\w\-.@\u4e00-\u9fff]+$")
    type: str = Field("text", pattern="^(" + "|".join(_KINDS) + ")$")
    text: str = Field("", max_length=8000)  # above the longest text a conversation takes (a study text: 5000)
    key: str = Field("", max_length=128)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    label: str = Field("", max_length=200)
    pic_url: str = Field("", max_length=500)
    msg_id: str = Field("", max_length=64)


class Simulator:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.services = dispatcher.services

    async def page(self, request: web.Request) -> web.Response:
        html = _TEMPLATES.get_template("sim.html").render(locale=self.services.settings.locale)
        return web.Response(text=html, content_type="text/html")

    async def send(self, request: web.Request) -> web.Response:
        try:
            payload = SimInput.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            return web.json_response({"error": "invalid input", "detail": _errors(exc)}, status=422)
        event = self._event(payload)
        await self._log(payload.user, "in", _echo(payload))
        reply = await self.dispatcher.feed(event)
        if reply is not None:
            await self._log(payload.user, "out", reply.to_dict())
        return web.json_response({"reply": reply.to_dict() if reply else None})

    async def messages(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            return web.json_response({"error": "after must be a number"}, status=422)
        async with self.services.db.reader() as session:
            rows = (await session.scalars(
                select(SimMessage).where(SimMessage.user_id == user, SimMessage.id > after)
                .order_by(SimMessage.id).limit(200)
            )).all()
        return web.json_response({"messages": [
            {"id": row.id, "direction": row.direction, "payload": row.payload, "at": row.created_at.isoformat()}
            for row in rows
        ]})

    async def users(self, request: web.Request) -> web.Response:
        async with self.services.db.reader() as session:
            rows = (await session.execute(
                select(Member.id, Member.name, LiaisonGroup.name, Identity.external_id)
                .outerjoin(LiaisonGroup, LiaisonGroup.id == Member.group_id)
                .outerjoin(Identity, (Identity.member_id == Member.id) & (Identity.platform == PLATFORM))
                .order_by(Member.id).limit(500)
            )).all()
        return web.json_response({"users": [
            {"member_id": mid, "name": name, "group": group or "", "sim_id": sim_id or ""}
            for mid, name, group, sim_id in rows
        ]})

    def _event(self, payload: SimInput) -> Event:
        kind = _KINDS[payload.type]
        msg_id = payload.msg_id or secrets.token_hex(8)
        return Event(
            platform=PLATFORM, user_id=payload.user, kind=kind, dedupe_key=f"{PLATFORM}:msg:{payload.user}:{msg_id}",
            created_at=self.services.clock.now(), text=payload.text, key=payload.key or payload.text,
            latitude=payload.latitude, longitude=payload.longitude, label=payload.label,
            pic_url=payload.pic_url, media_id=f"sim-{msg_id}" if kind is Kind.IMAGE else "",
        )

    async def _log(self, user: str, direction: str, payload: dict[str, Any]) -> None:
        async with self.services.db.session() as session:
            session.add(SimMessage(user_id=user, direction=direction, payload=payload,
                                   created_at=self.services.clock.now()))


def _echo(payload: SimInput) -> dict[str, Any]:
    """How the member's own message shows in the chat."""
    shown = {
        "text": payload.text,
        "click": f"[菜单] {payload.key}",
        "scan": f"[扫码] {payload.key or payload.text}",
        "location": f"[位置] {payload.label or ''} ({payload.latitude}, {payload.longitude})",
        "subscribe": "[关注公众号]",
        "unsubscribe": "[取消关注]",
        "image": "[图片]",
    }[payload.type]
    return Reply(text=shown).to_dict()


def _errors(exc: Exception) -> list[dict[str, Any]] | str:
    if isinstance(exc, ValidationError):
        return [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
    return "body must be a JSON object"


def setup(app: web.Application, dispatcher: Dispatcher) -> None:
    simulator = Simulator(dispatcher)
    app.router.add_get("/sim", simulator.page)
    app.router.add_post("/sim/api/send", simulator.send)
    app.router.add_get("/sim/api/messages", simulator.messages)
    app.router.add_get("/sim/api/users", simulator.users)
