"""Request parsing and small answers shared by the activities, notices and study parts of the admin API.

These parts answer bad input with 400 (the members and reports parts: 422, same body), take times only
with a UTC offset, and give times back in UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bot.api.common import ApiError, Model, parse_body, parse_query
from bot.infra.services import Services
from models.activity import Audience

log = logging.getLogger(__name__)

MAX_PER_PAGE = 200
INVALID = 400


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:  # a naive time is refused: guessing the zone would move a meeting by hours
        raise ValueError("give a time zone offset, e.g. 2026-11-22T09:00:00+08:00")
    return value


Aware = Annotated[datetime, AfterValidator(_aware)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudienceBody(Strict):
    kind: Audience = Audience.ALL
    ids: list[int] = Field(default_factory=list, description="group, sector, committee or member ids")


def iso(moment: datetime | None) -> str | None:
    """Out in UTC, as every other endpoint: an object fresh from a request still holds the caller's offset."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _as_invalid(exc: ApiError) -> ApiError:
    """The common helpers answer 422; this part of the API answers 400 (same body)."""
    return ApiError(INVALID, exc.error, exc.message, exc.fields) if exc.status == 422 else exc


async def body_of(request: web.Request, model: type[Model]) -> Model:
    try:
        return await parse_body(request, model)
    except ApiError as exc:
        raise _as_invalid(exc) from None


def query_of(query: Mapping[str, str], model: type[Model]) -> Model:
    try:
        return parse_query(query, model)
    except ApiError as exc:
        raise _as_invalid(exc) from None


def bad(field: str, message: str) -> ApiError:
    return ApiError(INVALID, "invalid", message, [{"field": field, "message": message}])


async def arm(services: Services) -> None:
    """Arm (or drop) the close, notice and reminder tasks at once instead of within the scheduler's 5-minute
    resync. The change is committed already: a failure here only delays the job, so it is logged, not
    answered with a 500."""
    services.wake_delivery()  # notices and changes were queued with the activity
    if services.scheduler is None:
        return
    try:
        await services.scheduler.sync()
    except Exception:
        log.exception("scheduler sync after a change failed; the periodic resync will catch up")


def ref(ident: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    return None if ident is None else {"id": ident, "name": names.get(ident, "")}
