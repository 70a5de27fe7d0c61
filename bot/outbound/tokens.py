"""One access token per app, shared by every lvzhi process through the database.

``/cgi-bin/token`` allows 2000 fetches a day and a new fetch retires the old token after five minutes, so
processes must not each fetch their own. The token lives in the ``access_token`` table; a refresh locks
that row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` write lock does the same),
looks again, and fetches only if the token is still stale: two processes refreshing at once fetch once.
Inside one process an asyncio lock per token keeps coroutines from queueing on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.infra.clock import Clock
from bot.infra.db import Database
from bot.infra.sql import insert_ignore
from models.outbound import AccessToken

# A fetcher calls the platform and returns (token, lifetime in seconds).
TokenFetcher = Callable[[], Awaitable[tuple[str, int]]]

# Refresh this long before expiry, so a token never expires in the middle of a burst of sends.
REFRESH_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class CachedToken:
    token: str
    expires_at: datetime


class TokenStore:
    def __init__(self, db: Database, clock: Clock, *, margin: timedelta = REFRESH_MARGIN) -> None:
        self._db = db
        self._clock = clock
        self._margin = margin
        self._cache: dict[str, CachedToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # how many times this process called the platform for a token

    async def get(self, name: str, fetch: TokenFetcher, *, margin: timedelta | None = None) -> str:
        """A token valid for at least ``margin`` (default: the refresh margin), fetching only if needed."""
        margin = self._margin if margin is None else margin
        cached = self._cache.get(name)
        if cached and self._valid_for(cached.expires_at, margin):
            return cached.token
        async with self._lock(name):
            cached = self._cache.get(name)
            if cached and self._valid_for(cached.expires_at, margin):
                return cached.token
            return await self._refresh(name, fetch, margin=margin, rejected=None)

    async def replace(self, name: str, rejected: str, fetch: TokenFetcher) -> str:
        """The platform rejected ``rejected`` (40001 …): fetch a new token, unless another coroutine or
        process already has."""
        async with self._lock(name):
            cached = self._cache.get(name)
            if cached and cached.token != rejected and self._valid_for(cached.expires_at, timedelta(0)):
                return cached.token
            return await self._refresh(name, fetch, margin=timedelta(0), rejected=rejected)

    def forget(self, name: str) -> None:
        self._cache.pop(name, None)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _valid_for(self, expires_at: datetime | None, margin: timedelta) -> bool:
        return expires_at is not None and expires_at - margin > self._clock.now()

    async def _refresh(
        self, name: str, fetch: TokenFetcher, *, margin: timedelta, rejected: str | None
    ) -> str:
        async with self._db.session() as session:
            await insert_ignore(session, AccessToken, {"name": name}, ["name"])
            row = (
                await session.execute(select(AccessToken).where(AccessToken.name == name).with_for_update())
            ).scalar_one()
            usable = row.token and row.token != rejected and self._valid_for(row.expires_at, margin)
            if not usable:
                token, lifetime = await fetch()
                self.fetches += 1
                now = self._clock.now()
                row.token, row.fetched_at = token, now
                row.expires_at = now + timedelta(seconds=lifetime)
            cached = CachedToken(row.token, row.expires_at)  # type: ignore[arg-type]
        self._cache[name] = cached
        return cached.token
