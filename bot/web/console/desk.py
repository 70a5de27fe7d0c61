"""The console's own pages behind the login: 工作台 (the dashboard), 登录设备 (sessions) and logging out.

    GET  /console/                        the queues waiting for this secretary, with counts, within their scope
    GET  /console/queues                  the same counts as JSON (401 without a session)
    GET  /console/sessions                their own live sessions
    POST /console/sessions/{id}/revoke    end one of them (CSRF) → back to the list
    POST /console/logout                  end this one (CSRF) → the login page

The dashboard shows counts only: the pages to work on each queue come later, and a count without a link is
better than a link to nothing (the chat command that works the queue today is shown beside it).
"""

from __future__ import annotations

from aiohttp import web

from bot.domain.console import queues_of, revoke, scope_names, sessions_of
from bot.domain.refusals import Refusal
from bot.web.console.auth import (
    LOGIN_URL,
    SESSION_COOKIE,
    Visit,
    console_page,
    forget_cookie,
    frame,
    local_time,
    redirect,
)
from bot.web.pages import PRIVATE_HEADERS

SESSIONS_URL = "/console/sessions"


@console_page()
async def dashboard(request: web.Request, visit: Visit) -> web.Response:
    async with visit.services.db.reader() as session:
        queues = await queues_of(session, visit.member)
        scope = await scope_names(session, visit.member)
    texts = visit.services.texts
    return frame(request, visit, "console/dashboard.html", title_key="console.dashboard.page_title",
                 current="dashboard", queues=queues,
                 scope="、".join(scope) or texts("console.dashboard.scope_all"))


@console_page(json=True)
async def queues_json(request: web.Request, visit: Visit) -> web.Response:
    """The dashboard's counts as JSON (for a page that refreshes them, and scripts)."""
    async with visit.services.db.reader() as session:
        queues = await queues_of(session, visit.member)
    return web.json_response({"queues": [{"key": queue.key, "count": queue.count} for queue in queues]},
                             headers=PRIVATE_HEADERS)


@console_page()
async def sessions_page(request: web.Request, visit: Visit) -> web.Response:
    services = visit.services
    async with services.db.reader() as session:
        rows = await sessions_of(session, visit.member.id or 0, now=services.clock.now(),
                                 settings=services.settings.console)
    return frame(request, visit, "console/sessions.html", title_key="console.sessions.page_title",
                 current="sessions", rows=rows, this_id=visit.session.id,
                 local=local_time(visit),
                 revoked=request.query.get("revoked") == "1")


@console_page()
async def revoke_session(request: web.Request, visit: Visit) -> web.StreamResponse:
    session_id = int(request.match_info["session_id"])
    try:
        await _end(visit, session_id)
    except Refusal:
        return redirect(SESSIONS_URL)  # already gone, or never this secretary's: the list says what is left
    if session_id == visit.session.id:
        return _logged_out()
    return redirect(f"{SESSIONS_URL}?revoked=1")


@console_page()
async def logout(request: web.Request, visit: Visit) -> web.StreamResponse:
    await _end(visit, visit.session.id or 0, logout=True)
    return _logged_out()


async def _end(visit: Visit, session_id: int, *, logout: bool = False) -> None:
    services = visit.services
    async with services.db.session() as session:
        await revoke(session, visit.member, session_id, now=services.clock.now(), logout=logout)


def _logged_out() -> web.Response:
    response = redirect(LOGIN_URL)
    forget_cookie(response, SESSION_COOKIE)
    return response
