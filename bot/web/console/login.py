"""Logging in to the console: by a code confirmed in chat, or by a one-time link from the CLI.

    GET /console/login         a fresh code (and the QR code, see below) for this browser; its nonce goes into
                               an HttpOnly cookie. The page polls ↓ and goes on by itself once confirmed
    GET /console/login/state   JSON {"state": none | waiting | confirmed | used | expired} for this browser's nonce
    GET /console/login/finish  the confirmed login of this browser's nonce becomes a session: cookie, then /console/
    GET /console/link/{token}  the same for a link made by ``lvzhi console link``

Only the browser holding the nonce can finish: a code confirmed in chat is worth nothing to another browser.
A browser that already has a live session is sent to the dashboard instead.

**The QR code.** With the Official Account configured it is a temporary parametric QR code with the scene
``console:<code>`` (``/cgi-bin/qrcode/create``, one call per login page, rate-limited per IP like the codes);
scanning it sends the account a SCAN event that ``handlers.console_login`` answers like ``登录 <code>``. If the
call fails the page shows the digits only. In the simulator the QR code holds the scene text itself, which its
扫一扫 accepts. Without either no QR code is shown.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.domain.audit import acting_through
from bot.domain.console import (
    CODE_LIFETIME,
    exchange,
    issue_code,
    limits_of,
    login_of,
    login_state,
    new_secret,
    scene_of,
    session_for,
)
from bot.domain.refusals import Refusal
from bot.infra.services import Services, services_of
from bot.outbound.client import WechatError, wechat_client
from bot.web.console.auth import (
    NONCE_COOKIE,
    SESSION_COOKIE,
    client_ip,
    forget_cookie,
    redirect,
    set_cookie,
)
from bot.web.pages import PRIVATE_HEADERS, html_page, lang_of
from bot.web.screen import QR_API_SECONDS, qr_data_uri
from models.audit import Channel

log = logging.getLogger(__name__)

POLL_SECONDS = 2  # the page notices the confirmation this soon
DASHBOARD = "/console/"


async def login_page(request: web.Request) -> web.StreamResponse:
    services = services_of(request.app)
    now = services.clock.now()
    if request.cookies.get(SESSION_COOKIE) and await _has_session(services, request.cookies[SESSION_COOKIE]):
        return redirect(DASHBOARD)
    if not limits_of(services).allow("ip", client_ip(request), now):
        return _message(services, 429, "console.refused.too_many")
    nonce = new_secret()
    async with services.db.session() as session:
        login = await issue_code(session, nonce, ip=client_ip(request), now=now)
    texts = services.texts
    qr = await _qr(services, login.code)  # after the commit: an API call must not hold a transaction
    response = html_page(
        "console/login.html", script=True, policy_extra="img-src data:; connect-src 'self'",
        lang=lang_of(services.settings.locale), t=texts, title=texts("console.login.page_title"), code=login.code,
        qr=qr, simulated=_simulated(services), poll_ms=POLL_SECONDS * 1000,
        valid_until=f"{login.expires_at.astimezone(services.zone):%H:%M}",
    )
    set_cookie(request, response, NONCE_COOKIE, nonce, max_age=int(CODE_LIFETIME.total_seconds()) + 60)
    return response


async def _has_session(services: Services, token: str) -> bool:
    async with services.db.session() as session:
        found = await session_for(session, token, now=services.clock.now(), settings=services.settings.console)
    return found is not None


async def login_state_json(request: web.Request) -> web.Response:
    services = services_of(request.app)
    nonce = request.cookies.get(NONCE_COOKIE, "")
    async with services.db.reader() as session:
        login = await login_of(session, nonce) if nonce else None
    return web.json_response({"state": login_state(login, services.clock.now())}, headers=PRIVATE_HEADERS)


async def finish(request: web.Request) -> web.StreamResponse:
    return await _open_session(request, request.cookies.get(NONCE_COOKIE, ""), "console.refused.not_confirmed")


async def follow_link(request: web.Request) -> web.StreamResponse:
    return await _open_session(request, request.match_info["token"], "console.login.link_failed")


async def _open_session(request: web.Request, nonce: str, failed_key: str) -> web.StreamResponse:
    """Exchange the confirmed login of ``nonce`` for a session (the domain records it as a login)."""
    services = services_of(request.app)
    now = services.clock.now()
    ip = client_ip(request)
    if not limits_of(services).allow("ip", ip, now):
        return _message(services, 429, "console.refused.too_many")
    try:
        with acting_through(Channel.CONSOLE, ip=ip):
            async with services.db.session() as session:
                opened = await exchange(session, nonce, ip=ip, user_agent=request.headers.get("User-Agent", ""),
                                        now=now, settings=services.settings.console)
    except Refusal as refusal:
        log.info("console login refused from %s: %s", ip, refusal.key)
        return _message(services, 403, failed_key)
    response = redirect(DASHBOARD)
    lifetime = services.settings.console.lifetime_hours * 3600
    set_cookie(request, response, SESSION_COOKIE, opened.token, max_age=lifetime)
    forget_cookie(response, NONCE_COOKIE)
    return response


def _message(services: Services, status: int, message_key: str) -> web.Response:
    texts = services.texts
    return html_page("console/message.html", status=status, lang=lang_of(services.settings.locale),
                     title=texts("console.login.failed_title"), message=texts(message_key), back="/console/login",
                     back_label=texts("console.login.again"), t=texts)


# --- the QR code -------------------------------------------------------------------------------------------


def _official(services: Services) -> bool:
    wechat = services.settings.wechat
    return wechat.enabled and bool(wechat.app_id)


def _simulated(services: Services) -> bool:
    return services.settings.simulator.enabled and not _official(services)


async def _qr(services: Services, code: str) -> str | None:
    """The QR code as a data URI: the Official Account's, the scene itself in the simulator, or None."""
    scene = scene_of(code)
    if _simulated(services):
        return qr_data_uri(scene)
    if not _official(services):
        return None
    try:
        async with asyncio.timeout(QR_API_SECONDS):
            answer = await wechat_client(services).create_qrcode(
                scene, expire_seconds=int(CODE_LIFETIME.total_seconds()))
        return qr_data_uri(str(answer["url"]))
    except (WechatError, KeyError, RuntimeError, TimeoutError) as exc:
        log.warning("console login: no QR code (%s: %s); showing the code only", type(exc).__name__, exc)
        return None
