"""Personal API tokens (:class:`models.api_token.ApiToken`): a secretary makes one for a script, sees it once,
and revokes it; the admin API takes it besides the superuser token and acts as its holder, within their scope.

    create_token(session, secretary, name) ─► (row, the token: shown once)      audit: token.create
    tokens_of(session, member_id)          ─► their tokens not revoked, newest first
    revoke_token(session, secretary, id)   ─► revoked (another's is as unknown as none)   audit: token.revoke
    holder_of(session, token)              ─► the member it acts as: a live token of someone still allowed the
                                              console (a secretary demoted or suspended loses their tokens' power)

Only the SHA-256 digest is stored, with the first characters for the list; a personal token always starts with
:data:`PREFIX`, so neither it nor the superuser token can be mistaken for the other.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.audit import record
from bot.domain.console import digest, may_use_console
from bot.domain.refusals import Kind, Refusal
from models.api_token import ApiToken
from models.member import Member

PREFIX = "lvzhi_pat_"
SHOWN = len(PREFIX) + 6  # how much of a token the list shows
NAME_MAX = 60
USED_EVERY = timedelta(minutes=1)  # last_used_at is refreshed at most this often: a script may call many times


def is_personal(token: str) -> bool:
    return token.startswith(PREFIX)


async def create_token(session: AsyncSession, member: Member, name: str, *, now: datetime) -> tuple[ApiToken, str]:
    """A new token for ``member`` named ``name``: the row and the token itself (never stored, shown once)."""
    if not may_use_console(member):
        raise Refusal("console_tokens.refused.not_secretary", Kind.FORBIDDEN)
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise Refusal("console_tokens.refused.name", Kind.INVALID, field="name", most=NAME_MAX)
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(member_id=member.id or 0, name=name, token_hash=digest(token), prefix=token[:SHOWN],
                   created_at=now)
    session.add(row)
    await session.flush()
    await record(session, action="token.create", object_type="api_token", object_id=row.id, group_id=None,
                 by=member, summary=name, at=now)
    return row, token


async def tokens_of(session: AsyncSession, member_id: int) -> list[ApiToken]:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.member_id == member_id, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
        .order_by(ApiToken.id.desc()))  # type: ignore[union-attr]
    return list(rows.all())


async def revoke_token(session: AsyncSession, member: Member, token_id: int, *, now: datetime) -> ApiToken:
    """End one of ``member``'s own tokens; revoking one already revoked changes nothing."""
    row = await session.get(ApiToken, token_id)
    if row is None or row.member_id != member.id:
        raise Refusal("console_tokens.refused.no_token", Kind.NOT_FOUND)
    if row.revoked_at is not None:
        return row
    row.revoked_at = now
    session.add(row)
    await record(session, action="token.revoke", object_type="api_token", object_id=row.id, group_id=None,
                 by=member, summary=row.name, at=now)
    return row


async def holder_of(session: AsyncSession, token: str, *, now: datetime) -> Member | None:
    """The member a personal token acts as, or None: unknown, revoked, or its holder no longer a secretary."""
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    member = await session.get(Member, row.member_id)
    if not may_use_console(member):
        return None
    if row.last_used_at is None or now - row.last_used_at >= USED_EVERY:
        row.last_used_at = now
        session.add(row)
    return member
