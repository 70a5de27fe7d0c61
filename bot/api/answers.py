"""What the admin API's answers are made of: times as ISO 8601 text in UTC, references to other rows, pages of
lists, who decided and when. The TypedDicts of each part (bot.api.members …) are built of these, and the OpenAPI
document (bot.api.openapi) describes them as they are written here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema
from typing_extensions import TypedDict

from bot.api.common import PageQuery

Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]


class Ref(TypedDict):
    """A row another one points at (a liaison group, a member …): its id and its name."""

    id: int
    name: str


def ref(ident: int | None, names: Mapping[int, str]) -> Ref | None:
    return None if ident is None else {"id": ident, "name": names.get(ident, "")}


def iso(moment: datetime | None) -> str | None:
    """Out in UTC: an object fresh from a request still holds the caller's offset."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


class Page(TypedDict):
    """One page of a list (its ``items`` are named by each list)."""

    total: int
    page: int
    per_page: int


def paged(items: list[Any], total: int, query: PageQuery, **more: Any) -> dict[str, Any]:
    return {**more, "items": items, "total": total, "page": query.page, "per_page": query.per_page}


class Decided(TypedDict):
    """A request someone decides (leave, a claim, an appeal): who, and when it was made and decided."""

    decided_by: Annotated[str | None, Field(description="null: undecided, or decided through the admin API")]
    decided_by_id: int | None
    created_at: Time
    decided_at: Time | None


def decided_json(row: Any) -> Decided:
    """``row`` has ``decided_by_name``, ``decided_by_id``, ``created_at`` and ``decided_at``."""
    return {"decided_by": row.decided_by_name or None, "decided_by_id": row.decided_by_id,
            "created_at": iso(row.created_at), "decided_at": iso(row.decided_at)}
