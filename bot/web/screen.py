"""The venue screen (签到大屏): a page for the projector at the venue with the rotating sign-in code, a QR
code carrying it, and how many have signed in so far.

    GET /activities/{id}/screen?t=<token>         the page (templates/screen.html); it polls the state:
    GET /activities/{id}/screen/state?t=<token>   JSON: status, code, qr (an SVG data URI), changes_at,
                                                  seconds_left, signed_in, expected, window times

**Access** is a signed link (:mod:`bot.infra.signing`), made by :func:`screen_url` for the organisers (the chat's
``大屏``, the admin API): whoever holds it may watch this one activity's screen, nobody can forge one for
another activity, and it stops working a day after the sign-in closes. A wrong, tampered or expired token
gets 403, an activity that no longer exists 404.

**The QR code.** With the Official Account configured (``wechat.enabled`` and ``app_id``) it is a
temporary parametric QR code made through ``/cgi-bin/qrcode/create`` with the scene
``signin:<activity id>:<code>``: scanning it with WeChat sends the account a SCAN event (or a follow) with
that scene, which ``handlers.signin`` answers. Each code period costs one API call per process: the
answer is cached per activity and period, and screens polling at the same moment share one call. If the
call fails the screen shows the digits only (members type them) and the failure is logged once per
period. Without the Official Account (the simulator) the QR code holds the scene text itself, which the
simulator's 扫一扫 accepts.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import segno
from aiohttp import web

from bot.domain.activities import ShownCode, scene_for, shown_code, signed_in_count, tally
from bot.domain.links import screen_payload
from bot.infra.services import Services, services_of
from bot.infra.signing import BadToken
from bot.outbound.client import WechatError, wechat_client
from bot.web.pages import PRIVATE_HEADERS, html_page, lang_of, refused_page
from models.activity import Activity, ActivityStatus

log = logging.getLogger(__name__)

POLL_SECONDS = 3  # how often the page asks for the state: the count feels live, the load stays small
QR_API_SECONDS = 5  # a slow Official Account API must not freeze the screen: the digits work without the QR
QR_CACHE_KEY = "screen.qr"


# --- the state the page shows ----------------------------------------------------------------------------


def status_of(activity: Activity, now: datetime) -> str:
    if activity.status is ActivityStatus.CANCELLED:
        return "cancelled"
    if activity.status is ActivityStatus.CLOSED or now > activity.signin_closes_at:
        return "closed"
    if now < activity.signin_opens_at:
        return "not_open"
    return "open"


async def screen_state(services: Services, activity: Activity) -> dict[str, Any]:
    """What the screen shows now. The code and the QR code only while the sign-in is open: a code shown
    earlier would only invite photos."""
    now = services.clock.now()
    period = services.settings.activities.code_period_seconds
    zone = services.zone
    status = status_of(activity, now)
    async with services.db.reader() as session:  # read first: the QR call below must not hold a transaction
        signed_in = await signed_in_count(session, activity.id or 0)
        expected = (await tally(session, activity)).expected
    state: dict[str, Any] = {
        "activity_id": activity.id,
        "title": activity.title,
        "status": status,
        "open": status == "open",
        "closed": status in ("closed", "cancelled"),
        "signed_in": signed_in,
        "expected": expected,
        "opens_at": activity.signin_opens_at.isoformat(),
        "closes_at": activity.signin_closes_at.isoformat(),
        "opens_local": activity.signin_opens_at.astimezone(zone).strftime("%H:%M"),
        "closes_local": activity.signin_closes_at.astimezone(zone).strftime("%H:%M"),
        "period_seconds": period,
        "code": None,
        "scene": None,
        "qr": None,
        "changes_at": activity.signin_opens_at.isoformat() if status == "not_open" else None,
        "seconds_left": None,
        "now": now.isoformat(),
    }
    if status == "not_open":
        state["seconds_left"] = math.ceil((activity.signin_opens_at - now).total_seconds())
    if status != "open":
        return state
    shown = shown_code(activity, now, period)
    changes_at = min(shown.changes_at, activity.signin_closes_at + timedelta(seconds=1))
    content = await qr_content(services, activity, shown)
    state.update(
        code=shown.code,
        scene=scene_for(activity.id or 0, shown.code),
        qr=qr_data_uri(content) if content else None,
        changes_at=changes_at.isoformat(),
        seconds_left=max(1, math.ceil((changes_at - now).total_seconds())),
    )
    return state


def qr_data_uri(content: str) -> str:
    # make_qr, not make: a short scene would otherwise become a Micro QR code, which WeChat cannot read.
    return segno.make_qr(content, error="m").svg_data_uri(scale=10, border=2)


async def qr_content(services: Services, activity: Activity, shown: ShownCode) -> str | None:
    """What the QR code holds: the Official Account's QR link, or the scene itself in the simulator;
    None when the Official Account could not make one (the screen then shows the digits only)."""
    scene = scene_for(activity.id or 0, shown.code)
    wechat = services.settings.wechat
    if not (wechat.enabled and wechat.app_id):
        return scene
    cache = services.extras.get(QR_CACHE_KEY)
    if cache is None:
        cache = services.extras[QR_CACHE_KEY] = QrCodes(services)
    return await cache.url_for(activity.id or 0, shown.period, scene)


class QrCodes:
    """Temporary QR codes from the Official Account, one per activity and code period (in memory: each
    process makes its own, which costs at most one call per period and process)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._made: dict[tuple[int, int], asyncio.Future[str | None]] = {}

    async def url_for(self, activity_id: int, period: int, scene: str) -> str | None:
        key = (activity_id, period)
        future = self._made.get(key)
        if future is None:
            self._drop_before(period - 1)
            # A future, not the answer: screens that poll in the same instant wait for one call.
            future = self._made[key] = asyncio.ensure_future(self._create(scene))
        return await asyncio.shield(future)

    def _drop_before(self, period: int) -> None:
        for key in [key for key in self._made if key[1] < period]:
            del self._made[key]

    async def _create(self, scene: str) -> str | None:

        seconds = self.services.settings.activities.code_period_seconds
        # The code is accepted for two periods; the QR code lives a little longer so it never dies first.
        try:
            async with asyncio.timeout(QR_API_SECONDS):
                answer = await wechat_client(self.services).create_qrcode(scene, expire_seconds=2 * seconds + 10)
            return str(answer["url"])
        except (WechatError, KeyError, RuntimeError, TimeoutError) as exc:
            # Failures are cached for the period too: a screen polling every few seconds must not hammer
            # an API that just said "quota reached".
            log.warning("venue screen: no QR code for %s (%s: %s); showing the code only", scene,
                        type(exc).__name__, exc)
            return None


# --- the routes ------------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, status: int, text_key: str) -> None:
        super().__init__(text_key)
        self.status, self.text_key = status, text_key


async def _authorised_activity(request: web.Request) -> Activity:
    """The activity named in the path, if the token is genuine, unexpired and made for it."""
    services = services_of(request.app)
    activity_id = int(request.match_info["activity_id"])
    signer = await services.signer()
    try:
        payload = signer.unsign(request.query.get("t", ""), services.clock.now())
    except BadToken as exc:
        log.info("venue screen %s refused: %s", activity_id, exc)
        raise _Refused(403, "signin.screen.forbidden") from None
    if payload != screen_payload(activity_id):
        log.info("venue screen %s refused: a token made for %s", activity_id, payload)
        raise _Refused(403, "signin.screen.forbidden")
    async with services.db.reader() as session:
        activity = await session.get(Activity, activity_id)
    if activity is None:  # checked after the token, so nobody learns which ids exist
        raise _Refused(404, "signin.screen.not_found")
    return activity


async def screen_page(request: web.Request) -> web.Response:
    services = services_of(request.app)
    texts = services.texts
    try:
        activity = await _authorised_activity(request)
    except _Refused as refused:
        return refused_page(texts, services.settings.locale, refused.status, title_key="signin.screen.page_title",
                            message_key=refused.text_key)
    state_url = f"/activities/{activity.id}/screen/state?{urlencode({'t': request.query['t']})}"
    labels = {name: texts(f"signin.screen.{name}") for name in (
        "page_title", "code_label", "how", "changes_in", "signed_in", "expected", "window", "not_open", "closed",
        "cancelled", "no_qr", "offline", "forbidden", "sim_hint")}
    wechat = services.settings.wechat
    simulated = services.settings.simulator.enabled and not (wechat.enabled and wechat.app_id)
    # Only this page's own inline script and style run; the QR code is an image from a data URI, and the
    # script asks this server for the state.
    return html_page("screen.html", script=True, policy_extra="img-src data:; connect-src 'self'",
                     activity=activity, state_url=state_url, labels=labels, poll_ms=POLL_SECONDS * 1000,
                     simulated=simulated, lang=lang_of(services.settings.locale),
                     state=await screen_state(services, activity))


async def screen_state_json(request: web.Request) -> web.Response:
    services = services_of(request.app)
    try:
        activity = await _authorised_activity(request)
    except _Refused as refused:
        return web.json_response({"error": services.texts(refused.text_key)}, status=refused.status,
                                 headers=PRIVATE_HEADERS)
    return web.json_response(await screen_state(services, activity), headers=PRIVATE_HEADERS)


def setup(app: web.Application) -> None:
    app.router.add_get(r"/activities/{activity_id:\d+}/screen", screen_page)
    app.router.add_get(r"/activities/{activity_id:\d+}/screen/state", screen_state_json)
