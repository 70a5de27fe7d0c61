"""The platform-neutral event and reply model. Transports translate to and from these; handlers see only them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    description: str = ""
    url: str = ""
    image_url: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says. ``text`` for a text message; ``article`` for a one-article news message."""

    text: str = ""
    article: Article | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The stored form (JSON). Written out rather than ``dataclasses.asdict``, whose recursive deep copy
        cost several per cent of a ``帮助`` message (bench/callback.py)."""
        article = self.article
        return {
            "text": self.text,
            "article": None if article is None else {
                "title": article.title, "description": article.description, "url": article.url,
                "image_url": article.image_url,
            },
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        article = data.get("article")
        return cls(
            text=data.get("text", ""),
            article=Article(**article) if article else None,
            extra=dict(data.get("extra") or {}),
        )

    @property
    def plain_text(self) -> str:
        """A text rendering, for channels that only carry text."""
        if self.article is None:
            return self.text
        parts = [self.article.title, self.article.description, self.article.url]
        return "\n".join(part for part in parts if part)


def as_reply(value: Reply | str | None) -> Reply | None:
    """Handlers may return a string; it becomes a text reply."""
    if value is None or isinstance(value, Reply):
        return value
    return Reply(text=value)
