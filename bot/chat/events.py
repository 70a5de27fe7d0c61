"""The platform-neutral event model: what a member did, as every transport tells it. Handlers see only this;
what the bot says back is :class:`bot.outbound.message.Reply`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


class Kind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    LOCATION = "location"  # a location message the member chose to send
    LINK = "link"
    FILE = "file"
    CLICK = "click"  # a menu item with a key
    VIEW = "view"  # a menu item that opens a URL
    SCAN = "scan"  # a parametric QR code or the menu scanner; ``key`` holds the scene / scan result
    SUBSCRIBE = "subscribe"  # a follow, maybe through a QR code (``key`` = scene)
    UNSUBSCRIBE = "unsubscribe"
    REPORT_LOCATION = "report_location"  # the periodic LOCATION event: answered with nothing
    ENTER = "enter"  # WeCom: opened the app
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Event:
    platform: str  # "mp" | "wecom" | "sim"
    user_id: str  # openid / WeCom userid / simulator id
    kind: Kind
    dedupe_key: str
    created_at: datetime
    text: str = ""
    key: str = ""
    media_id: str = ""
    pic_url: str = ""
    latitude: float | None = None
    longitude: float | None = None
    label: str = ""
    raw_type: str = ""

    @property
    def session_key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    def to_dict(self) -> dict[str, Any]:
        """The stored form (JSON) of an event kept for later, in the inbox (bot/chat/inbox.py). Built from the
        dataclass's fields, so a field added to Event is kept too."""
        data = {each.name: getattr(self, each.name) for each in fields(self)}
        return {**data, "kind": self.kind.value, "created_at": self.created_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(**{**data, "kind": Kind(data["kind"]), "created_at": datetime.fromisoformat(data["created_at"])})
