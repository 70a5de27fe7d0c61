"""The secretary console under ``/console/``: server-rendered pages (templates in ``bot/web/templates/console``,
no asset from elsewhere), logged in through the bot.

    auth.py   the session cookie, CSRF, the page frame (@console_page, frame)
    login.py  /console/login (code, QR, polling), /console/login/state, /console/login/finish, /console/link/…
    desk.py   /console/ (工作台), /console/queues, /console/sessions, /console/logout

The rules are :mod:`bot.domain.console`; each page calls the same domain functions as the chat and the API.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.console import desk, login
from bot.web.console.auth import redirect


async def _to_dashboard(_request: web.Request) -> web.Response:
    return redirect("/console/")


def setup(app: web.Application) -> None:
    router = app.router
    router.add_get("/console", _to_dashboard)
    router.add_get("/console/", desk.dashboard)
    router.add_get("/console/queues", desk.queues_json)
    router.add_get("/console/sessions", desk.sessions_page)
    router.add_post(r"/console/sessions/{session_id:\d+}/revoke", desk.revoke_session)
    router.add_post("/console/logout", desk.logout)
    router.add_get("/console/login", login.login_page)
    router.add_get("/console/login/state", login.login_state_json)
    router.add_get("/console/login/finish", login.finish)
    router.add_get("/console/link/{token}", login.follow_link)
