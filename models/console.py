"""The secretary console's logins and sessions (bot/domain/console.py has the rules).

A login is a 6-digit code shown in one browser and confirmed from chat, or a one-time link made by the CLI;
it becomes a session once, for the browser holding its nonce. Secrets (the browser's nonce, the link's and
the session's tokens) are stored as SHA-256 digests only: a copy of the database logs nobody in.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now


class ConsoleLogin(SQLModel, table=True):
    __tablename__ = "console_login"

    id: int | None = Field(default=None, primary_key=True)
    # The digits shown on the login page ("" for a CLI link, which has no code to type).
    code: str = Field(default="", max_length=6, index=True)
    # SHA-256 of the requesting browser's nonce (its cookie), or of a CLI link's token: only its holder proceeds.
    nonce_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = utc_field(default_factory=utc_now)
    expires_at: datetime = utc_field()
    confirmed_by_id: int | None = Field(default=None, foreign_key="member.id", nullable=True)
    confirmed_at: datetime | None = utc_field(default=None, nullable=True)
    used_at: datetime | None = utc_field(default=None, nullable=True)  # exchanged for a session: single use
    ip: str = Field(default="", max_length=64)


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 of the cookie's token
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = utc_field(default_factory=utc_now)
    last_seen_at: datetime = utc_field(default_factory=utc_now)
    expires_at: datetime = utc_field()  # the absolute lifetime, whatever the activity
    revoked_at: datetime | None = utc_field(default=None, nullable=True)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)
    csrf_token: str = Field(max_length=64)  # carried by every state-changing request of this session
