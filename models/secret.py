"""Secrets lvzhi makes for itself (the key that signs links), kept in the database so every worker
process and every restart uses the same one."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utc_field, utc_now


class AppSecret(SQLModel, table=True):
    __tablename__ = "app_secret"

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=128)
    created_at: datetime = utc_field(default_factory=utc_now)
