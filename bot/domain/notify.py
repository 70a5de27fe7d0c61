"""Telling a member something outside a conversation: one queued push per chat identity, in the caller's
transaction, keyed so that telling twice is harmless."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbound.message import Reply
from bot.outbound.queue import enqueue
from models.member import Identity

log = logging.getLogger(__name__)


async def tell_member(session: AsyncSession, member_id: int, reply: Reply | str, key: str) -> bool:
    """Queue ``reply`` to every chat identity of the member; ``key`` names the cause (the identity id is
    appended). False when nothing was queued (no identity, or told before)."""
    if isinstance(reply, str):
        reply = Reply(text=reply)
    identities = (await session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )).all()
    queued = False
    for identity in identities:
        queued = await enqueue(
            session, platform=identity.platform.value, recipient=identity.external_id, reply=reply,
            key=f"{key}:{identity.id}", member_id=member_id,
        ) or queued
    if not identities:
        log.info("member %s has no chat identity; not told %s", member_id, key)
    return queued
