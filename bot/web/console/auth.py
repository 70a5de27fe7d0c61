"""Who is at the console: the session cookie, the CSRF check, and the frame every console page is drawn in.

    request ──► @console_page ── cookie lvzhi_console → bot.domain.console.session_for
                  no live session ── a page: 302 /console/login · JSON: 401
                  POST without the session's CSRF token (form field ``csrf`` or header X-CSRF-Token) ── 403
                  └─► handler(request, Visit) inside acting_through(console, ip): what it records is audited so

Cookies are HttpOnly, SameSite=Lax, limited to ``/console`` and Secure when ``server.public_url`` is https.
The client's address is the connection's (``request.remote``): behind a reverse proxy that is the proxy's.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.domain.audit import acting_through
from bot.domain.console import session_for
from bot.infra.services import Services, services_of
from bot.web.pages import html_page, lang_of
from models.audit import Channel
from models.console import ConsoleSession
from models.member import Member

# The session's cookie and the waiting login's (the browser's nonce), both limited to the console's paths.
SESSION_COOKIE, NONCE_COOKIE, COOKIE_PATH = "lvzhi_console", "lvzhi_console_login", "/console"
CSRF_FIELD, CSRF_HEADER = "csrf", "X-CSRF-Token"  # where a POST carries the session's CSRF token
LOGIN_URL = "/console/login"


@dataclass(frozen=True, slots=True)
class Visit:
    """A request from a logged-in secretary: their session (its CSRF token for the forms) and member row."""

    services: Services
    session: ConsoleSession
    member: Member


Page = Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]


def client_ip(request: web.Request) -> str:
    return request.remote or ""


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    secure = services_of(request.app).settings.server.public_url.startswith("https://")
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="Lax",
                        secure=secure)


def forget_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=COOKIE_PATH)


def redirect(location: str) -> web.Response:
    # A response rather than a raised HTTPFound, so the caller can still set cookies on it.
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def console_page(*, json: bool = False) -> Callable[[Page], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A console route that needs a live session (and the CSRF token on POST)."""

    def decorate(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @wraps(page)
        async def route(request: web.Request) -> web.StreamResponse:
            services = services_of(request.app)
            async with services.db.session() as session:
                found = await session_for(session, request.cookies.get(SESSION_COOKIE, ""),
                                          now=services.clock.now(), settings=services.settings.console)
            if found is None:
                if json:
                    return web.json_response({"error": "unauthorized"}, status=401)
                return redirect(LOGIN_URL)
            visit = Visit(services, *found)
            if request.method == "POST" and not await _csrf_ok(request, visit.session):
                return forbidden(services, "console.forbidden.csrf")
            with acting_through(Channel.CONSOLE, ip=client_ip(request)):
                return await page(request, visit)

        return route

    return decorate


async def _csrf_ok(request: web.Request, session: ConsoleSession) -> bool:
    sent = request.headers.get(CSRF_HEADER) or str((await request.post()).get(CSRF_FIELD, ""))
    return bool(sent) and hmac.compare_digest(sent, session.csrf_token)


def forbidden(services: Services, message_key: str) -> web.Response:
    texts = services.texts
    return html_page("console/message.html", status=403, lang=lang_of(services.settings.locale),
                     title=texts("console.forbidden.title"), message=texts(message_key), back="/console/",
                     back_label=texts("console.nav.dashboard"), t=texts)


def frame(request: web.Request, visit: Visit, template: str, *, title_key: str, current: str,
          **values: Any) -> web.Response:
    """A console page inside the frame (console/base.html): the navigation, who is logged in, the log-out
    form with the session's CSRF token."""
    texts = visit.services.texts
    member = visit.member
    return html_page(template, forms=True, lang=lang_of(visit.services.settings.locale), t=texts,
                     title=texts(title_key), current=current, csrf=visit.session.csrf_token, member=member,
                     who=texts("console.nav.signed_in_as", name=member.name, role=texts(f"members.role.{member.role}")),
                     **values)


def query_link(path: str, query: Mapping[str, str], fields: Sequence[str], **changed: object) -> str:
    """``path`` with the page's filters (``fields`` of ``query`` that are set) and ``changed`` values, for
    pager and export links that keep what the secretary filtered."""
    kept = {name: query[name] for name in fields if query.get(name)}
    kept.update({name: str(value) for name, value in changed.items()})
    return f"{path}?{urlencode(kept)}" if kept else path


def local_time(visit: Visit, *, missing: str = "-", seconds: bool = False) -> Callable[[datetime | None], str]:
    """A moment as the committee's local date and time, for the templates (``missing`` when there is none)."""
    zone, shape = visit.services.zone, "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return lambda moment: moment.astimezone(zone).strftime(shape) if moment is not None else missing
