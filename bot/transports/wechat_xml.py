"""Shared by the Official Account and WeCom transports: wechatpy messages to events, replies to XML."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from wechatpy.replies import ArticlesReply, TextReply

from bot.chat.events import Event, Kind
from bot.outbound.message import Reply

log = logging.getLogger(__name__)

SUCCESS_TEXT = "success"  # "received, no reply, do not retry"


def success() -> web.Response:
    return web.Response(text=SUCCESS_TEXT, content_type="text/plain")


def refuse(status: int, reason: str) -> web.HTTPException:
    """A 4xx for a request that must not reach any handler; logged without its body."""
    log.warning("refused a callback: %s", reason)
    error = {400: web.HTTPBadRequest, 403: web.HTTPForbidden}[status]
    return error(text=reason)


def refuse_undecryptable(exc: Exception) -> web.HTTPException:
    kind = type(exc).__name__
    forged = any(word in kind for word in ("Signature", "AppId", "CorpId"))
    return refuse(403 if forged else 400, f"cannot decrypt ({kind})")


def parse_or_refuse(parse: Any, xml: bytes | str) -> Any:
    """Parse with wechatpy's parser; anything unparseable or without a sender is a 400."""
    try:
        message = parse(xml)
    except Exception as exc:
        raise refuse(400, f"malformed XML ({type(exc).__name__})") from None
    if message is None or not getattr(message, "source", None) or not getattr(message, "type", None):
        raise refuse(400, "XML without FromUserName or MsgType")
    return message

_MESSAGE_KINDS = {
    "text": Kind.TEXT,
    "image": Kind.IMAGE,
    "voice": Kind.VOICE,
    "video": Kind.VIDEO,
    "shortvideo": Kind.VIDEO,
    "location": Kind.LOCATION,
    "link": Kind.LINK,
}
_EVENT_KINDS = {
    "subscribe": Kind.SUBSCRIBE,
    "subscribe_scan": Kind.SUBSCRIBE,
    "unsubscribe": Kind.UNSUBSCRIBE,
    "scan": Kind.SCAN,
    "scancode_push": Kind.SCAN,
    "scancode_waitmsg": Kind.SCAN,
    "click": Kind.CLICK,
    "view": Kind.VIEW,
    "location": Kind.REPORT_LOCATION,
    "location_select": Kind.LOCATION,
    "enter_agent": Kind.ENTER,
}


def dedupe_key(platform: str, message: Any) -> str:
    """MsgId for messages; FromUserName + CreateTime + Event for events (they carry no id)."""
    if message.type == "event":
        return f"{platform}:evt:{message.source}:{message.time}:{message.event}"
    if message.id:
        return f"{platform}:msg:{message.id}"
    return f"{platform}:raw:{message.source}:{message.time}:{message.type}"


def to_event(platform: str, message: Any) -> Event:
    """Translate a parsed wechatpy message or event into lvzhi's platform-neutral :class:`Event`."""
    raw = message._data  # wechatpy keeps the parsed XML as a dict; some fields have no attribute
    base = {
        "platform": platform,
        "user_id": str(message.source),
        "dedupe_key": dedupe_key(platform, message),
        "created_at": datetime.fromtimestamp(int(message.time or 0), UTC),
    }
    if message.type == "event":
        return _event_of(message, raw, base)
    kind = _MESSAGE_KINDS.get(message.type, Kind.FILE if raw.get("MsgType") == "file" else Kind.OTHER)
    fields: dict[str, Any] = {"kind": kind, "raw_type": message.type}
    if kind is Kind.TEXT:
        fields["text"] = message.content or ""
    elif kind is Kind.IMAGE:
        fields.update(media_id=message.media_id or "", pic_url=message.image or "")
    elif kind is Kind.VOICE:
        fields.update(media_id=message.media_id or "", text=message.recognition or "")
    elif kind is Kind.VIDEO:
        fields["media_id"] = message.media_id or ""
    elif kind is Kind.LOCATION:
        fields.update(latitude=_float(raw.get("Location_X")), longitude=_float(raw.get("Location_Y")),
                      label=raw.get("Label") or "")
    elif kind is Kind.LINK:
        fields["text"] = raw.get("Url") or ""
    elif kind is Kind.FILE:
        fields["media_id"] = raw.get("MediaId") or ""
    return Event(**base, **fields)


def _event_of(message: Any, raw: dict[str, Any], base: dict[str, Any]) -> Event:
    name = (message.event or "").lower()
    kind = _EVENT_KINDS.get(name, Kind.OTHER)
    fields: dict[str, Any] = {"kind": kind, "raw_type": f"event:{name}"}
    if name in ("scancode_push", "scancode_waitmsg"):
        fields["key"] = str((raw.get("ScanCodeInfo") or {}).get("ScanResult") or "")
    elif name in ("subscribe_scan", "scan"):
        fields["key"] = str(raw.get("EventKey") or "")
    elif name in ("click", "view"):
        fields["key"] = str(raw.get("EventKey") or "")
    elif name == "location":
        fields.update(latitude=_float(raw.get("Latitude")), longitude=_float(raw.get("Longitude")))
    elif name == "location_select":
        info = raw.get("SendLocationInfo") or {}
        fields.update(latitude=_float(info.get("Location_X")), longitude=_float(info.get("Location_Y")),
                      label=str(info.get("Label") or ""))
    return Event(**base, **fields)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def render_reply(reply: Reply, message: Any) -> str:
    """The passive reply XML for ``message`` (one article at most, as the platform allows)."""
    if reply.article is not None:
        article = reply.article
        return ArticlesReply(
            message=message,
            articles=[{"title": article.title, "description": article.description,
                       "image": article.image_url, "url": article.url}],
        ).render()
    return TextReply(message=message, content=reply.text).render()
