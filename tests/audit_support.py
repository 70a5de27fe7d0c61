"""What the audit log holds, for the tests of each capability: ``await only_event(db, "member.approve",
channel=Channel.CHAT, actor_member_id=…)`` finds the one event of that action and checks its fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.infra.db import Database
from models.audit import AuditEvent


async def events_of(db: Database, action: str) -> list[AuditEvent]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))).all())


async def only_event(db: Database, action: str, **expected: Any) -> AuditEvent:
    """The single event of ``action``; each keyword a field it must have."""
    found = await events_of(db, action)
    assert len(found) == 1, f"{len(found)} events of {action}: {[(e.channel, e.object_id) for e in found]}"
    event = found[0]
    differing = {name: (getattr(event, name), value) for name, value in expected.items()
                 if getattr(event, name) != value}
    assert not differing, f"{action}: (found, expected) {differing}"
    return event
