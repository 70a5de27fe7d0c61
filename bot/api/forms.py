"""Request pieces shared by the activities, notices and study parts of the admin API: the audience (who is
addressed) and arming the scheduler after a change."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.api.common import Strict, invalid_field
from bot.domain.refusals import Refusal
from bot.infra.services import Services
from models.activity import Audience
from models.member import Committee, LiaisonGroup, Sector

log = logging.getLogger(__name__)

# The table an audience's ids are rows of (members are checked by the rules of bot.domain, with their message).
AUDIENCE_TABLES = {Audience.GROUPS: LiaisonGroup, Audience.SECTORS: Sector, Audience.COMMITTEES: Committee}


class AudienceBody(Strict):
    kind: Audience = Audience.ALL
    ids: list[int] = Field(default_factory=list, description="group, sector, committee or member ids (by kind)")


class AudienceOut(TypedDict):
    kind: Audience
    ids: list[int]


def audience_json(audience: Audience, ids: Sequence[int] | None) -> AudienceOut:
    return {"kind": audience, "ids": list(ids or [])}


def audience_of(body: AudienceBody) -> tuple[Audience, list[int]]:
    # "all" takes nobody's ids: stored empty, so a later change of kind starts clean.
    return body.kind, [] if body.kind is Audience.ALL else list(body.ids)


async def checked_audience(session: AsyncSession, body: AudienceBody) -> tuple[Audience, list[int]]:
    """The audience a body names, once :func:`check_audience` found it whole."""
    audience, ids = audience_of(body)
    await check_audience(session, audience, ids)
    return audience, ids


async def check_audience(session: AsyncSession, audience: Audience, ids: Sequence[int]) -> None:
    """An audience other than "all" needs ids, and its groups, sectors or committees must exist."""
    if audience is not Audience.ALL and not ids:
        raise Refusal.invalid("activity.error.audience_empty", field="audience.ids")
    table = AUDIENCE_TABLES.get(audience)
    if table is None:
        return
    known = set((await session.scalars(select(table.id).where(table.id.in_(list(ids))))).all())  # type: ignore[attr-defined]
    unknown = sorted(set(ids) - known)
    if unknown:
        raise invalid_field("audience.ids", f"unknown {audience.value}: {unknown}")


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
