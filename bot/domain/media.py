"""Photos members send (with a report, or as evidence of a self-reported duty): the media reference is
stored with the message, the file is fetched later.

A handler must not wait on the network inside its transaction (on SQLite that holds the only write
lock), so an image message only adds a photo row (status ``pending``): a ``report_photo`` or a
``duty_claim_photo``, both :class:`models.media.PhotoRecord`. :func:`scheduler.photos.fetch_due_photos`
then downloads due photos of every table in :data:`PHOTO_TABLES` outside any transaction, writes them under
``media_dir/<folder>/<owner id>/`` (``reports/<report id>/``, ``duty_claims/<claim id>/``) and marks
them ``stored``. A failed download is retried with a growing delay; WeChat keeps temporary
media for three days, so the retries span about that long before the photo is marked ``failed`` — its
media id and picture URL stay on the row either way, so nothing is lost silently.

    pending ──download ok──► stored
       │  └─transient error──► pending (attempts+1, next_attempt_at later)
       └─permanent error / attempts exhausted ──► picture URL tried ──► stored | failed
    simulator (media id "sim-…") ──► external (the picture URL is all there is)

This module holds the rows and the retry policy; the fetching (network, files) is the scheduler's
housekeeping (``scheduler.jobs.fetch_report_photos``, every minute, through :mod:`scheduler.photos`), which
despite its name fetches the photos of every table here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from models.duty import DutyClaimPhoto
from models.media import PhotoRecord, PhotoStatus
from models.report import ReportPhoto

log = logging.getLogger(__name__)

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
                timedelta(hours=3), timedelta(hours=6))
MAX_ATTEMPTS = 15  # with the delays above: about three days, the life of a temporary media id

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
