"""Photos members send with a report or a self-reported duty: WeChat media ids expire after three days,
so each photo is a row the media fetcher (:mod:`scheduler.photos`) downloads and stores under
``media_dir``, retrying with back-off."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now


class PhotoStatus(enum.StrEnum):
    PENDING = "pending"  # the media id is stored; the file is not fetched yet (or a fetch failed)
    STORED = "stored"  # the file is in media_dir (``path``)
    EXTERNAL = "external"  # nothing to fetch (the simulator): only the picture URL is kept
    FAILED = "failed"  # given up after every retry; the media id and picture URL remain


class PhotoRecord(SQLModel):
    """The columns every photo table shares (not a table itself)."""

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=10)  # which API the media id belongs to ("mp", "wecom", "sim")
    media_id: str = Field(default="", max_length=200)
    pic_url: str = Field(default="", max_length=500)
    path: str = Field(default="", max_length=300)  # relative to media_dir once stored
    status: PhotoStatus = Field(default=PhotoStatus.PENDING, max_length=10, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = utc_field(default=None, nullable=True, index=True)
    last_error: str = Field(default="", max_length=300)
    created_at: datetime = utc_field(default_factory=utc_now)
    fetched_at: datetime | None = utc_field(default=None, nullable=True)
