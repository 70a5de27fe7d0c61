"""Personal reading links: ``GET /r/<token>`` records that a member opened a notice or a study material,
then sends them on to what they came for.

    token payload                    made by                                 what the link does
    n<notice id>-<member id>         Outbox.read_link (pushed notices)      receipt read; a study push also
                                                                             counts the material read (LINK)
    m<material id>-<member id>       material_link (学习 N in chat)         the material counted read (LINK)

then: a URL → 302 to it; a study material with text only → the text as a plain page in large type
(``templates/reading.html``); a notice without a link → its own text the same way.

```mermaid
flowchart LR
    G[GET /r/token] -->|tampered, malformed, expired| F[403 page, logged]
    G -->|genuine| P{payload}
    P -->|unknown notice / material / member| N[404 page]
    P -->|n / m| TX[(one transaction: receipt.read_at, study_read)] --> C[commit]
    C -->|a link| R[302 Location]
    C -->|text| H[200 the text, escaped]
```

The read is committed before anything is answered, so a member who sees the page has been counted.
Tokens are checked without server state (:mod:`bot.infra.signing`); the answer keeps them out of caches and
Referer headers. Only ``GET`` counts: a ``HEAD`` from a link checker must not mark anything read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import study
from bot.domain.links import ReadToken, parse_payload
from bot.domain.notices import record_read
from bot.infra.i18n import Catalogue
from bot.infra.services import Services, services_of
from bot.infra.signing import BadToken
from bot.web.pages import PRIVATE_HEADERS, html_page, lang_of, refused_page
from models.member import Member
from models.notice import Notice, NoticeKind, ReadVia, StudyMaterial

log = logging.getLogger(__name__)



# --- the route ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    url: str = ""  # redirect here …
    title: str = ""  # … or show this text
    body: str = ""
    studied: bool = False  # a study material: the page says it was counted


async def read(request: web.Request) -> web.Response:
    services = services_of(request.app)
    now = services.clock.now()
    signer = await services.signer()
    try:
        payload = signer.unsign(request.match_info["token"], now)
    except BadToken as exc:
        log.info("reading link refused: %s", exc)  # the token itself stays out of the log
        return _refused(services, 403, "study_chat.reading.forbidden")
    token = parse_payload(payload)
    if token is None:  # genuine, but made for something else (e.g. a venue screen)
        log.info("reading link refused: payload %r is not a reading link", payload)
        return _refused(services, 403, "study_chat.reading.forbidden")
    async with services.db.session() as session:  # committed on leaving the block: counted before answering
        target = await _record(session, token, now)
    if target is None:
        log.info("reading link %s: nothing to read", payload)
        return _refused(services, 404, "study_chat.reading.not_found")
    if target.url:
        return web.Response(status=302, headers={**PRIVATE_HEADERS, "Location": target.url})
    return _page(services.texts, target, services.settings.locale)


def _refused(services: Services, status: int, message_key: str) -> web.Response:
    return refused_page(services.texts, services.settings.locale, status, title_key="study_chat.reading.page_title",
                        message_key=message_key)


async def _record(session: AsyncSession, token: ReadToken, now: datetime) -> _Target | None:
    """Count the read in ``session``; what to show, or None when the notice, material or member is unknown."""
    if token.kind == "n":
        notice = await record_read(session, token.ref, token.member_id, now)  # None without a receipt
        if notice is None:
            return None
        material = await _material_of(session, notice)
        if material is not None:
            await study.mark_read(session, material.id or 0, token.member_id, ReadVia.LINK, now)
            return _Target(notice.url or material.url, material.title, material.body, studied=True)
        return _Target(url=notice.url, title=notice.title, body=notice.body)
    material = await session.get(StudyMaterial, token.ref)
    if material is None or await session.get(Member, token.member_id) is None:
        return None
    await study.mark_read(session, material.id or 0, token.member_id, ReadVia.LINK, now)
    return _Target(material.url, material.title, material.body, studied=True)


async def _material_of(session: AsyncSession, notice: Notice) -> StudyMaterial | None:
    if notice.kind is not NoticeKind.STUDY or notice.material_id is None:
        return None
    return await session.get(StudyMaterial, notice.material_id)


def _page(texts: Catalogue, target: _Target, locale: str) -> web.Response:
    return html_page("reading.html", lang=lang_of(locale),
                     title=target.title or texts("study_chat.reading.page_title"),
                     paragraphs=[line.strip() for line in target.body.splitlines() if line.strip()],
                     note=texts("study_chat.reading.read_note") if target.studied else "")


def setup(app: web.Application) -> None:
    app.router.add_get(r"/r/{token}", read, allow_head=False)
