"""The audit log: who changed what, when and through which channel (:class:`models.audit.AuditEvent`).

The domain functions that role-holders call write the record themselves, once, in the caller's transaction, so
a change and its record commit together (a refused or failed change leaves none):

    entry point ── with acting_through(channel, ip=…) ──► domain function (approve, transition, decide_leave …)
      dispatcher: chat (also the inbox drainer)                 └─► record(session, action=…, by=…, …)
      admin API endpoint wrapper: api                                  channel and ip from the ambient origin,
      lvzhi command: cli                                               actor_label from ``by`` or the origin
      scheduler jobs: system (also the default)
      console: console

    events(session, reach, actor=…, object_type=…, since=…, until=…, page=…) ─► (rows, total)
      filtered and paged in the database; ``reach`` is the viewer's groups_within_reach (None: everything),
      and an event of no liaison group (a role change) is shown only to a viewer without limits.

Edits record only what changed: ``before, after = changes(snapshot(obj, FIELDS), obj, FIELDS)``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import AuditEvent, Channel
from models.base import utc_now
from models.member import Member

SUMMARY_MAX = 200
# Who acted when no member did: the label that stands in for a name.
LABELS = {Channel.API: "api-token", Channel.CLI: "cli", Channel.SYSTEM: "system"}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the change came from: the entry point's channel and, for HTTP, the client's address."""

    channel: Channel
    ip: str | None = None


SYSTEM = Origin(Channel.SYSTEM)
_ORIGIN: ContextVar[Origin | None] = ContextVar("audit_origin", default=None)


def origin() -> Origin:
    """The current entry point's origin; outside every entry point, the system."""
    return _ORIGIN.get() or SYSTEM


@contextmanager
def acting_through(channel: Channel, *, ip: str | None = None) -> Iterator[Origin]:
    """Every record written inside names this channel (and address). Entry points wrap their work in it; the
    value follows the task (asyncio copies the context), and is restored on leaving."""
    token = _ORIGIN.set(Origin(channel, ip))
    try:
        yield origin()
    finally:
        _ORIGIN.reset(token)


# --- writing ----------------------------------------------------------------------------------------------


async def record(
    session: AsyncSession, *, action: str, object_type: str, object_id: int | None, group_id: int | None,
    by: Member | None, before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
    summary: str = "", at: datetime | None = None,
) -> AuditEvent:
    """Add one event to the caller's transaction. ``by`` None: the superuser token, the CLI or the system."""
    where = origin()
    event = AuditEvent(
        at=at or utc_now(), actor_member_id=by.id if by is not None else None,
        actor_label=(by.name if by is not None else LABELS.get(where.channel, where.channel.value))[:80],
        channel=where.channel, action=action, object_type=object_type, object_id=object_id, group_id=group_id,
        before=_plain(before) if before is not None else None, after=_plain(after) if after is not None else None,
        summary=summary[:SUMMARY_MAX], ip=where.ip,
    )
    session.add(event)
    return event


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of ``obj`` as they are now (take it before an edit)."""
    return {name: getattr(obj, name) for name in fields}


def changes(before_obj: Any, after_obj: Any, fields: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose value differs, before and after; each side an object or a mapping (a snapshot)."""
    before, after = {}, {}
    for name in fields:
        old, new = _value(before_obj, name), _value(after_obj, name)
        if old != new:
            before[name], after[name] = old, new
    return _plain(before), _plain(after)


def _value(source: Any, name: str) -> Any:
    return source[name] if isinstance(source, Mapping) else getattr(source, name)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready: an enum by its value, a time in ISO 8601, collections element by element."""
    return {str(name): _json(value) for name, value in values.items()}


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return _plain(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(item) for item in value]
    return value


# --- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    actor: int | None = None  # a member id
    object_type: str | None = None
    object_id: int | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _conditions(reach: frozenset[int] | None, filters: Filters, own: int | None = None) -> list[ColumnElement[bool]]:
    column = AuditEvent.__table__.c  # type: ignore[attr-defined]
    found: list[ColumnElement[bool]] = []
    if reach is not None:  # limited: events of those groups only (nothing at all when it is empty) …
        within = column.group_id.in_(sorted(reach))
        # … and, with ``own``, the viewer's own acts too (their logins belong to no group, yet are theirs to see)
        found.append(within if own is None else or_(within, column.actor_member_id == own))
    if filters.actor is not None:
        found.append(column.actor_member_id == filters.actor)
    if filters.object_type is not None:
        found.append(column.object_type == filters.object_type)
    if filters.object_id is not None:
        found.append(column.object_id == filters.object_id)
    if filters.since is not None:
        found.append(column.at >= filters.since)
    if filters.until is not None:
        found.append(column.at < filters.until)
    return found


async def events(
    session: AsyncSession, reach: frozenset[int] | None, *, actor: int | None = None, object_type: str | None = None,
    object_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
    page: int = 1, per_page: int = 50, own: int | None = None,
) -> tuple[list[AuditEvent], int]:
    """One page of the log, newest first, and how many events match in all. ``own``: a limited viewer's member
    id, whose own events they see whatever their group."""
    conditions = _conditions(reach, Filters(actor, object_type, object_id, since, until), own)
    total = await session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))
    rows = await session.scalars(
        select(AuditEvent).where(*conditions)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())  # type: ignore[attr-defined,union-attr]
        .offset((page - 1) * per_page).limit(per_page))
    return list(rows.all()), int(total or 0)


async def actors(session: AsyncSession, reach: frozenset[int] | None, *, own: int | None = None
                 ) -> list[tuple[int, str]]:
    """The members who acted in the events ``reach`` shows (id, the latest name they acted under), by name: the
    choices of a filter by person."""
    column = AuditEvent.__table__.c  # type: ignore[attr-defined]
    conditions = [*_conditions(reach, Filters(), own), column.actor_member_id.is_not(None)]
    rows = await session.execute(
        select(column.actor_member_id, func.max(column.actor_label)).where(*conditions)
        .group_by(column.actor_member_id).order_by(func.max(column.actor_label)))
    return [(int(member_id), str(label)) for member_id, label in rows.all()]


async def object_types(session: AsyncSession, reach: frozenset[int] | None, *, own: int | None = None) -> list[str]:
    """The kinds of object the events ``reach`` shows are about (member, report, leave …): a filter's choices."""
    column = AuditEvent.__table__.c  # type: ignore[attr-defined]
    rows = await session.scalars(select(column.object_type).where(*_conditions(reach, Filters(), own))
                                 .distinct().order_by(column.object_type))
    return [str(kind) for kind in rows.all()]
