"""Personal API tokens: a secretary's own bearer tokens for scripts (bot/domain/api_tokens.py has the rules).

A token acts as the secretary who made it, within their scope, and is audited as them; the superuser token of
``admin.api_token`` stays for operations. The token itself is shown once, when it is made: only its SHA-256
digest is stored (a copy of the database calls no API), with its first characters to tell tokens apart.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)  # whose it is: it acts as them
    name: str = Field(max_length=60)  # what the secretary calls it ("周报脚本")
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 of the token
    prefix: str = Field(max_length=16)  # the token's first characters, shown in the list
    created_at: datetime = utc_field(default_factory=utc_now)
    last_used_at: datetime | None = utc_field(default=None, nullable=True)
    revoked_at: datetime | None = utc_field(default=None, nullable=True)  # revoked rows stay for the record
