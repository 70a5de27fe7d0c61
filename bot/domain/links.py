"""The signed links lvzhi hands out: the venue screen's (``/activities/<id>/screen?t=…``) and the members'
personal reading links (``/r/<token>``). Made here, for chat, the API and the pushes alike; the pages that
answer them live in :mod:`bot.web.screen` and :mod:`bot.web.reading`.

    token payload                    made by
    screen-<activity id>             screen_url (大屏 N, the API)
    n<notice id>-<member id>         Outbox.read_link (pushed notices)
    m<material id>-<member id>       material_link (学习 N in chat)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from bot.infra.config import Settings
from bot.infra.services import Services
from bot.infra.signing import Signer
from models.activity import Activity

TOKEN_GRACE = timedelta(days=1)  # the link works until a day after the sign-in closes


# --- the venue screen ------------------------------------------------------------------------------------



def screen_payload(activity_id: int) -> str:
    return f"screen-{activity_id}"


async def screen_token(services: Services, activity: Activity) -> str:
    signer = await services.signer()
    return signer.sign(screen_payload(activity.id or 0), activity.signin_closes_at + TOKEN_GRACE)


async def screen_url(services: Services, activity: Activity) -> str:
    """The venue screen's signed link for ``activity``, under ``server.public_url``.

    Safe inside a chat handler: the signing key is loaded when the app starts (see ``bot.app``), so this
    never opens a second write transaction."""
    base = services.settings.server.public_url.rstrip("/")
    query = urlencode({"t": await screen_token(services, activity)})
    return f"{base}/activities/{activity.id}/screen?{query}"


# --- personal reading links ---------------------------------------------------------------------



@dataclass(frozen=True, slots=True)
class ReadToken:
    kind: str  # "n": a notice, "m": a study material
    ref: int
    member_id: int


def parse_payload(payload: str) -> ReadToken | None:
    """``n12-34`` / ``m5-34`` → :class:`ReadToken`; None for anything else (a screen token, say)."""
    kind, (ref, _, member) = payload[:1], payload[1:].partition("-")
    if kind not in ("n", "m") or not _number(ref) or not _number(member):
        return None
    return ReadToken(kind, int(ref), int(member))


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # isdigit alone accepts "²", which int() refuses


def material_link(signer: Signer, settings: Settings, material_id: int, member_id: int, now: datetime) -> str:
    """The member's own link to a study material (``学习 N`` in chat); it lasts as long as a pushed one."""
    return reading_link(signer, settings, f"m{material_id}-{member_id}", now)


def reading_link(signer: Signer, settings: Settings, payload: str, now: datetime) -> str:
    """``/r/<token>`` under ``server.public_url`` for a reading payload, valid ``notices.read_link_days``."""
    token = signer.sign(payload, now + timedelta(days=settings.notices.read_link_days))
    return f"{settings.server.public_url.rstrip('/')}/r/{token}"
