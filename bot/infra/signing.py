"""Signed, expiring tokens for links handed out in chat or opened on a screen (the venue screen, reading
links). A token is ``<payload>.<expiry>.<signature>``: URL-safe, no state on the server, and a change of
any character is refused.

The key is ``admin.signing_key`` or, when that is empty, a random key made once and kept in the
``app_secret`` table, so every worker process and every restart agree on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.infra.db import Database
from bot.infra.sql import insert_ignore
from models.base import utc_now
from models.secret import AppSecret

SIGNING_SECRET = "signing"


class BadToken(ValueError):
    """Tampered, malformed or expired."""


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, message: str) -> str:
        digest = hmac.new(self._key, message.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, payload: str, expires_at: datetime) -> str:
        if "." in payload:
            raise ValueError("a signed payload may not contain '.'")
        message = f"{payload}.{int(expires_at.timestamp())}"
        return f"{message}.{self._mac(message)}"

    def unsign(self, token: str, now: datetime) -> str:
        """The payload of a genuine, unexpired token; :class:`BadToken` otherwise."""
        payload, _, rest = token.partition(".")
        expiry, _, mac = rest.partition(".")
        if not payload or not expiry.isdigit() or not mac or not mac.isascii():  # compare_digest: ASCII only
            raise BadToken("malformed")
        if not hmac.compare_digest(mac, self._mac(f"{payload}.{expiry}")):
            raise BadToken("bad signature")
        if int(expiry) < now.timestamp():
            raise BadToken("expired")
        return payload


async def load_signer(db: Database, configured: str, session: AsyncSession | None = None) -> Signer:
    """The configured key, or the one kept in the database (made on first use). Pass ``session`` when a
    write transaction is already open: on SQLite a second one would wait for it forever."""
    if configured:
        return Signer(configured.encode())
    if session is not None:
        return Signer(bytes.fromhex(await _stored_key(session)))
    async with db.session() as own:
        return Signer(bytes.fromhex(await _stored_key(own)))


async def _stored_key(session: AsyncSession) -> str:
    await insert_ignore(session, AppSecret, {"name": SIGNING_SECRET, "value": secrets.token_hex(32),
                                              "created_at": utc_now()}, ["name"])
    return (await session.execute(select(AppSecret.value).where(AppSecret.name == SIGNING_SECRET))).scalar_one()
