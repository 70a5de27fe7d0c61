"""What 注册审核 and 请假审批 share: a queue paged in the database, decided by POSTs that come back to it.

    GET  /console/<queue>?page=N&decided=<id>   one page of what waits (PER_PAGE, oldest first), and what the
                                                last decision did (read back from the row, not from the URL)
    POST /console/<queue>/<id>/<action>         the domain decides (CSRF checked by @console_page) ──►
                                                302 to the same page with ?decided=<id>
                                                a Refusal ──► the page again, its sentence on top, status by kind

Each queue's view loads its page of lines from the domain and hands them to :func:`queue_page`, which draws
console/<queue>.html (extending console/queue.html: the notices, the pager, the empty queue's sentence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.domain.refusals import Kind, Refusal
from bot.web.console.auth import Visit, frame, local_time

PER_PAGE = 20
STATUS_OF_KIND = {Kind.INVALID: 422, Kind.FORBIDDEN: 403, Kind.NOT_FOUND: 404, Kind.CONFLICT: 409}


@dataclass(frozen=True, slots=True)
class Pager:
    """Which page of how many, for the template's 上一页 / 下一页."""

    page: int
    total: int

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / PER_PAGE), 1)

    @property
    def offset(self) -> int:
        return (self.page - 1) * PER_PAGE


def page_asked(request: web.Request) -> int:
    """The page number in the query (``page``), or 1 for anything that is not a positive number."""
    value = request.query.get("page", "")
    return max(int(value), 1) if value.isdigit() else 1


def decided_asked(request: web.Request) -> int | None:
    value = request.query.get("decided", "")
    return int(value) if value.isdigit() else None


def queue_page(request: web.Request, visit: Visit, *, name: str, url: str, lines: Sequence[object], pager: Pager,
               done: str, refusal: Refusal | None, **values: object) -> web.Response:
    """The queue ``name`` (its template console/<name>.html, its texts console_<name>.*) in the frame, with a
    refusal's sentence on top and its status when the last action was refused."""
    texts = visit.services.texts
    return frame(request, visit, f"console/{name}.html", title_key=f"console_{name}.page_title", current=name,
                 section=f"console_{name}", url=url, queue_id=name, lines=lines, pager=pager, done=done,
                 local=local_time(visit), refused=refusal.render(texts) if refusal else "",
                 status=STATUS_OF_KIND[refusal.kind] if refusal else 200, **values)

