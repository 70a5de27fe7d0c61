"""State the outbound client keeps in the database: shared access tokens and customer-service windows."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now


class AccessToken(SQLModel, table=True):
    """One platform access token shared by every lvzhi process (``/cgi-bin/token`` allows 2000 fetches a day).

    ``name`` is ``mp:<appid>`` or ``wecom:<corpid>:<agentid>``. The row is also the lock that makes two
    processes fetch once: refreshes take it ``FOR UPDATE`` (PostgreSQL) or under ``BEGIN IMMEDIATE`` (SQLite).
    """

    __tablename__ = "access_token"

    name: str = Field(primary_key=True, max_length=120)
    token: str = Field(default="", max_length=600)
    expires_at: datetime | None = utc_field(default=None, nullable=True)
    fetched_at: datetime | None = utc_field(default=None, nullable=True)


class ChatWindow(SQLModel, table=True):
    """When an Official Account member last interacted, and how many customer-service messages went out since.

    Two windows, as on the platform: 5 messages within 48 h after a member's message; 3 within 1 minute
    after a menu click, a follow or a scan. A new interaction of the same kind reopens its window.
    """

    __tablename__ = "chat_window"

    platform: str = Field(primary_key=True, max_length=10)
    user_id: str = Field(primary_key=True, max_length=128)
    message_at: datetime | None = utc_field(default=None, nullable=True)
    message_sent: int = 0
    event_at: datetime | None = utc_field(default=None, nullable=True)
    event_sent: int = 0
    updated_at: datetime = utc_field(default_factory=utc_now)
