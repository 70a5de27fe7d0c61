"""Photos members send (with a report, or as evidence of a self-reported duty): the media reference is
stored with the message, the file is fetched later.

A handler must not wait on the network inside its transaction (on SQLite that holds the only write
lock), so an image message only adds a photo row (status ``pending``): a ``report_photo`` or a
``duty_claim_photo``, both :class:`models.media.PhotoRecord`. :func:`fetch_due_photos` then downloads due
photos of every table in :data:`PHOTO_TABLES` outside any transaction, writes them under
``media_dir/<folder>/<owner id>/`` (``reports/<report id>/``, ``duty_claims/<claim id>/``) and marks
them ``stored``. A failed download is retried with a growing delay; WeChat keeps temporary
media for three days, so the retries span about that long before the photo is marked ``failed`` — its
media id and picture URL stay on the row either way, so nothing is lost silently.

    pending ──download ok──► stored
       │  └─transient error──► pending (attempts+1, next_attempt_at later)
       └─permanent error / attempts exhausted ──► picture URL tried ──► stored | failed
    simulator (media id "sim-…") ──► external (the picture URL is all there is)

Run by the scheduler's housekeeping (``scheduler.jobs.fetch_report_photos``, every minute), which despite
its name fetches the photos of every table here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import aiohttp
from sqlalchemy import or_, select

from bot.outbound.errors import PermanentError, TransientError, WechatError
from models.duty import DutyClaimPhoto
from models.media import PhotoRecord, PhotoStatus
from models.report import ReportPhoto

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
                timedelta(hours=3), timedelta(hours=6))
MAX_ATTEMPTS = 15  # with the delays above: about three days, the life of a temporary media id
BATCH = 20
PIC_URL_TIMEOUT = aiohttp.ClientTimeout(total=15)

Photo = TypeVar("Photo", bound=PhotoRecord)


@dataclass(frozen=True)
class PhotoTable:
    """A table of photos: its model, the column naming what the photo belongs to, its folder in media_dir."""

    model: type[PhotoRecord]
    owner: str
    folder: str

    def owner_id(self, photo: PhotoRecord) -> int:
        return int(getattr(photo, self.owner))


PHOTO_TABLES = (
    PhotoTable(ReportPhoto, "report_id", "reports"),
    PhotoTable(DutyClaimPhoto, "claim_id", "duty_claims"),
)
_TABLE_OF = {table.model: table for table in PHOTO_TABLES}


def new_photo(owner_id: int, platform: str, media_id: str, pic_url: str, now: datetime,
              model: type[Photo] = ReportPhoto) -> Photo:  # type: ignore[assignment]
    """The row for an image message (a report's photo unless ``model`` says otherwise); the simulator's
    images have nothing to fetch."""
    external = platform == "sim" or media_id.startswith("sim-") or not media_id
    return model(
        **{_TABLE_OF[model].owner: owner_id}, platform=platform, media_id=media_id[:200], pic_url=pic_url[:500],
        status=PhotoStatus.EXTERNAL if external else PhotoStatus.PENDING,
        next_attempt_at=None if external else now, created_at=now,
    )


def retry_delay(attempts: int) -> timedelta:
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


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
    from bot.outbound.client import wechat_client, wecom_client

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
