"""Fetching the photos members sent: the platform's temporary media downloaded outside any transaction and
stored under ``media_dir`` (the rows and the retry policy: :mod:`bot.domain.media`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import or_, select

from bot.domain.media import MAX_ATTEMPTS, PHOTO_TABLES, PhotoTable, retry_delay
from bot.infra.services import Services
from bot.outbound.client import wechat_client, wecom_client
from bot.outbound.errors import PermanentError, TransientError, WechatError
from models.media import PhotoRecord, PhotoStatus

log = logging.getLogger(__name__)

BATCH = 20
PIC_URL_TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass
class FetchSummary:
    stored: int = 0
    retrying: int = 0
    failed: int = 0


async def fetch_due_photos(services: Services, *, limit: int = BATCH) -> FetchSummary:
    """Download the photos whose time has come (at most ``limit``, tables in :data:`PHOTO_TABLES` order);
    each outcome is written in its own short transaction."""
    now = services.clock.now()
    due: list[tuple[PhotoTable, PhotoRecord]] = []
    async with services.db.reader() as session:
        for table in PHOTO_TABLES:
            if len(due) >= limit:
                break
            model = table.model
            rows = (await session.scalars(
                select(model)
                .where(model.status == PhotoStatus.PENDING,  # type: ignore[arg-type]
                       or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now))  # type: ignore[union-attr,operator]
                .order_by(model.id).limit(limit - len(due))  # type: ignore[arg-type]
            )).all()
            due += [(table, row) for row in rows]
    summary = FetchSummary()
    for table, photo in due:
        await _fetch_one(services, table, photo, summary)
    return summary


async def _fetch_one(services: Services, table: PhotoTable, photo: PhotoRecord, summary: FetchSummary) -> None:
    error = ""
    content: bytes | None = None
    permanent = False
    try:
        content = await download(services, photo.platform, photo.media_id)
    except PermanentError as exc:
        error, permanent = f"{type(exc).__name__}: {exc}", True
    except (TransientError, WechatError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    give_up = permanent or photo.attempts + 1 >= MAX_ATTEMPTS
    if content is None and give_up and photo.pic_url:
        content = await _download_pic_url(services, photo.pic_url)  # the last resort: the picture link
    now = services.clock.now()
    async with services.db.session() as session:
        row = await session.get(table.model, photo.id)
        if row is None or row.status is not PhotoStatus.PENDING:
            return  # deleted with its draft, or another process was quicker
        row.attempts += 1
        if content is not None:
            row.path = await asyncio.to_thread(_store, services, table, row, content)
            row.status, row.fetched_at, row.next_attempt_at, row.last_error = PhotoStatus.STORED, now, None, ""
            summary.stored += 1
        elif give_up:
            row.status, row.next_attempt_at, row.last_error = PhotoStatus.FAILED, None, error[:300]
            summary.failed += 1
            log.error("%s %s given up after %d attempts: %s", table.model.__tablename__, row.id, row.attempts, error)
        else:
            row.next_attempt_at, row.last_error = now + retry_delay(row.attempts), error[:300]
            summary.retrying += 1
            log.warning("%s %s: fetch failed (%s), retrying later", table.model.__tablename__, row.id, error)


async def download(services: Services, platform: str, media_id: str) -> bytes:
    """A member's temporary media through the platform's ``/cgi-bin/media/get``."""
    if platform == "mp":
        return await wechat_client(services).download_media(media_id)
    if platform == "wecom":
        # WecomClient has no download helper yet; the endpoint and the client's style are the same.
        return await wecom_client(services).call("GET", "/cgi-bin/media/get", params={"media_id": media_id},
                                                 raw=True)
    raise PermanentError(None, f"no media API for platform {platform!r}")


async def _download_pic_url(services: Services, url: str) -> bytes | None:
    if services.http is None or not url.startswith(("http://", "https://")):
        return None
    try:
        async with services.http.get(url, timeout=PIC_URL_TIMEOUT) as response:
            if response.status != 200:
                return None
            return await response.read()
    except (TimeoutError, aiohttp.ClientError):
        return None


def _store(services: Services, table: PhotoTable, photo: PhotoRecord, content: bytes) -> str:
    """Write the file (atomically, so a crash never leaves half a picture) and return its relative path."""
    relative = Path(table.folder) / str(table.owner_id(photo)) / f"{photo.id}{_suffix(content)}"
    target = Path(services.settings.media_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(content)
    partial.replace(target)
    return relative.as_posix()


def _suffix(content: bytes) -> str:
    if content.startswith(b"\x89PNG"):
        return ".png"
    if content.startswith(b"GIF8"):
        return ".gif"
    return ".jpg"
