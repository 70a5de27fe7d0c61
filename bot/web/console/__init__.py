"""The secretary console under ``/console/``: server-rendered pages (templates in ``bot/web/templates/console``,
no asset from elsewhere), logged in through the bot.

    auth.py   the session cookie, CSRF, the page frame (@console_page, frame)
    login.py  /console/login (code, QR, polling), /console/login/state, /console/login/finish, /console/link/…
    desk.py   /console/ (工作台), /console/queues, /console/sessions, /console/logout
    audit.py  /console/audit (操作日志): the log within the viewer's scope, filtered, paged, exported
    tokens.py /console/tokens (API 令牌): personal tokens for scripts, made (shown once) and revoked
    reports.py /console/reports (社情民意): the queue, the list, one report, its actions, the bulletin
    members.py /console/members (委员): search, a member's page, editing with a confirmation
    roster.py  /console/members/import (名册导入): upload, a dry run with the row errors, confirm
    registrations.py /console/registrations (注册审核), leave.py /console/leave (请假审批): queues decided at the
              desk (decisions.py: their paging and refusals)

The rules are :mod:`bot.domain.console`; each page calls the same domain functions as the chat and the API.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.console import audit, desk, leave, login, members, registrations, reports, roster, tokens
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
    router.add_get("/console/audit", audit.audit_page)
    router.add_get("/console/audit.xlsx", audit.audit_export)
    router.add_get("/console/tokens", tokens.tokens_page)
    router.add_post("/console/tokens", tokens.create)
    router.add_post(r"/console/tokens/{token_id:\d+}/revoke", tokens.revoke)
    router.add_get("/console/reports", reports.list_page)
    router.add_post("/console/reports/compile", reports.compile_selected)
    router.add_get(r"/console/reports/{report_id:\d+}", reports.report_page)
    router.add_post(r"/console/reports/{report_id:\d+}/act", reports.act)
    router.add_get(r"/console/reports/{report_id:\d+}/photos/{photo_id:\d+}", reports.photo)
    router.add_get("/console/members", members.members_page)
    router.add_get("/console/members.xlsx", members.members_export)
    router.add_get("/console/members/import", roster.import_page)
    router.add_post("/console/members/import", roster.upload)
    router.add_post("/console/members/import/confirm", roster.confirm)
    router.add_get(r"/console/members/{member_id:\d+}", members.member_page)
    router.add_post(r"/console/members/{member_id:\d+}/edit", members.edit_member)
    router.add_get("/console/registrations", registrations.registrations_page)
    router.add_post(r"/console/registrations/{member_id:\d+}/approve", registrations.approve)
    router.add_post(r"/console/registrations/{member_id:\d+}/reject", registrations.reject)
    router.add_get("/console/leave", leave.leave_page)
    router.add_post(r"/console/leave/{leave_id:\d+}/approve", leave.approve)
    router.add_post(r"/console/leave/{leave_id:\d+}/deny", leave.deny)
