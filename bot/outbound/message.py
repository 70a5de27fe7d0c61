"""What the bot says: the platform-neutral reply model. A handler returns one (or a string) as the answer to a
message; the delivery queue stores the same thing as a push. Transports and the API clients render it for
their platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
