"""The venue screen over HTTP: the signed link, the page, the state it polls (code, QR code, counts), refusals,
and the QR code made through the (mock) Official Account API, with its cache and its fallback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.domain.activities import cancel_activity, scene_for, shown_code
from bot.domain.links import screen_url
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.outbound.client import QuotaError, wechat_client
from bot.web.screen import qr_data_uri
from models.activity import Activity
from tests import outbound_support as support
from tests.activity_support import Org, T, make_activity
from tests.outbound_support import MockApi
from tests.support import AppHarness, running_app
from tests.test_official_account import wechat_settings

mock_api, http, services = support.mock_api, support.http, support.services  # fixtures

PERIOD = 30
QR_CREATE = "/cgi-bin/qrcode/create"
EXPECTED = 7  # active members of seed_org (the suspended one is not expected)


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


@pytest.fixture
async def meeting(db: Database, org: Org, clock: FrozenClock) -> Activity:
    return await make_activity(db, clock.now() + timedelta(minutes=30))


async def link(app: AppHarness, activity: Activity) -> str:
    """The screen's path and query, as a browser would request them."""
    parts = urlsplit(await screen_url(app.services, activity))
    return f"{parts.path}?{parts.query}"


async def state(app: AppHarness, activity: Activity) -> dict[str, Any]:
    response = await app.client.get((await link(app, activity)).replace("/screen?", "/screen/state?"))
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    return dict(await response.json())


# --- the link and the page ----------------------------------------------------------------------------------


async def test_the_link_is_signed_for_the_activity_until_a_day_after_the_close(app: AppHarness,
                                                                              meeting: Activity) -> None:
    url = await screen_url(app.services, meeting)
    prefix = f"http://127.0.0.1:8080/activities/{meeting.id}/screen?t=screen-{meeting.id}."
    assert url.startswith(prefix)
    expiry = int(url[len(prefix):].split(".")[0])
    assert datetime.fromtimestamp(expiry, UTC) == meeting.signin_closes_at + timedelta(days=1)


async def test_the_page_shows_the_activity_and_polls_its_state(app: AppHarness, meeting: Activity,
                                                               clock: FrozenClock) -> None:
    response = await app.client.get(await link(app, meeting))
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert meeting.title in html and T("signin.screen.code_label") in html
    assert shown_code(meeting, clock.now(), PERIOD).code in html  # the first state comes with the page
    assert f"/activities/{meeting.id}/screen/state?t=" in html
    headers = response.headers
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    nonce = headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in html
    assert '"simulated": true' in html  # the page tells developers what to type into the simulator's 扫一扫


async def test_the_state_has_the_code_the_qr_code_and_the_counts(app: AppHarness, meeting: Activity,
                                                                 clock: FrozenClock) -> None:
    first = await state(app, meeting)
    code = shown_code(meeting, clock.now(), PERIOD).code
    assert first["status"] == "open" and first["open"] is True and first["closed"] is False
    assert first["code"] == code
    assert first["qr"] == qr_data_uri(scene_for(meeting.id or 0, code))  # the simulator's QR code: the scene
    assert first["qr"].startswith("data:image/svg+xml") and first["scene"] == scene_for(meeting.id or 0, code)
    assert (first["signed_in"], first["expected"]) == (0, EXPECTED)
    assert first["changes_at"] == "2026-11-21T01:00:30+00:00" and first["seconds_left"] == 30
    assert (first["opens_local"], first["closes_local"]) == ("08:30", "10:30")

    assert await app.chat("sim-wang").says(f"签到 {code}") == T("signin.signed_in", title=meeting.title,
                                                                time="09:00")
    clock.advance(seconds=12)
    second = await state(app, meeting)
    assert (second["signed_in"], second["code"], second["seconds_left"]) == (1, code, 18)

    clock.advance(seconds=18)  # the next period
    third = await state(app, meeting)
    assert third["code"] == shown_code(meeting, clock.now(), PERIOD).code != code
    assert third["seconds_left"] == 30


async def test_scanning_the_screens_qr_code_in_the_simulator_signs_in(app: AppHarness, meeting: Activity,
                                                                      clock: FrozenClock) -> None:
    shown = await state(app, meeting)
    scene = scene_for(meeting.id or 0, shown["code"])
    assert shown["qr"] == qr_data_uri(scene)
    assert await app.chat("sim-zhou").scans(scene) == T("signin.signed_in", title=meeting.title, time="09:00")
    assert (await state(app, meeting))["signed_in"] == 1


async def test_no_code_before_the_window_or_after_it(app: AppHarness, db: Database, clock: FrozenClock) -> None:
    afternoon = await make_activity(db, clock.now() + timedelta(hours=5))  # opens 13:00
    before = await state(app, afternoon)
    assert (before["status"], before["code"], before["qr"]) == ("not_open", None, None)
    assert before["seconds_left"] == 4 * 3600 and before["changes_at"] == afternoon.signin_opens_at.isoformat()
    clock.advance(hours=7)  # 16:00: closed at 15:00
    after = await state(app, afternoon)
    assert (after["status"], after["closed"], after["code"], after["qr"]) == ("closed", True, None, None)


async def test_a_cancelled_activity_shows_no_code(app: AppHarness, db: Database, meeting: Activity,
                                                  clock: FrozenClock) -> None:
    async with db.session() as session:
        activity = await session.get(Activity, meeting.id)
        assert activity is not None
        await cancel_activity(session, activity, now=clock.now())
    cancelled = await state(app, meeting)
    assert (cancelled["status"], cancelled["code"]) == ("cancelled", None)


# --- refusals -----------------------------------------------------------------------------------------------


async def refused(app: AppHarness, path: str, status: int = 403) -> str:
    response = await app.client.get(path)
    assert response.status == status
    return await response.text()


async def test_a_wrong_tampered_or_foreign_token_is_refused(app: AppHarness, db: Database, meeting: Activity,
                                                            clock: FrozenClock) -> None:
    good = await link(app, meeting)
    other = await make_activity(db, clock.now() + timedelta(minutes=40), title="另一个会")
    forbidden = T("signin.screen.forbidden")
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert forbidden in await refused(app, tampered)
    assert forbidden in await refused(app, f"/activities/{meeting.id}/screen")
    assert forbidden in await refused(app, f"/activities/{meeting.id}/screen?t=nonsense")
    assert forbidden in await refused(app, f"/activities/{meeting.id}/screen?t=screen-1.99.%C3%A9")
    path, _, token = good.partition("?t=")
    payload, expiry, mac = token.split(".")
    longer = f"{path}?t={payload}.{int(expiry) + 86_400}.{mac}"
    assert forbidden in await refused(app, longer)  # a longer life needs another signature
    foreign = (await link(app, other)).replace(f"/activities/{other.id}/", f"/activities/{meeting.id}/")
    assert forbidden in await refused(app, foreign)
    state_path = tampered.replace("/screen?", "/screen/state?")
    response = await app.client.get(state_path)
    assert response.status == 403 and (await response.json())["error"] == forbidden


async def test_the_link_expires_a_day_after_the_close(app: AppHarness, meeting: Activity, clock: FrozenClock) -> None:
    good = await link(app, meeting)
    clock.set(meeting.signin_closes_at + timedelta(days=1))
    assert (await app.client.get(good)).status == 200
    clock.advance(seconds=1)
    assert T("signin.screen.forbidden") in await refused(app, good)
    assert (await app.client.get(good.replace("/screen?", "/screen/state?"))).status == 403


async def test_an_activity_that_is_gone_is_404(app: AppHarness, clock: FrozenClock) -> None:
    signer = await app.services.signer()
    token = signer.sign("screen-999", clock.now() + timedelta(hours=1))
    assert T("signin.screen.not_found") in await refused(app, f"/activities/999/screen?t={token}", 404)


# --- the QR code through the Official Account ------------------------------------------------------------


@pytest.fixture
async def official(org: Org, tmp_path: Path, db_url: str, clock: FrozenClock,
                   mock_api: MockApi) -> AsyncIterator[AppHarness]:
    mock = mock_api.mock
    settings = wechat_settings(tmp_path, db_url, "safe", app_id=mock.app_id, app_secret=mock.app_secret,
                               api_base=mock_api.url)
    async with running_app(settings, clock) as harness:
        yield harness


async def test_the_qr_code_is_a_temporary_parametric_code_made_once_per_period(
    official: AppHarness, mock_api: MockApi, meeting: Activity, clock: FrozenClock
) -> None:
    mock = mock_api.mock
    shown = await state(official, meeting)
    calls = mock.requests_to(QR_CREATE)
    scene = scene_for(meeting.id or 0, shown["code"])
    assert len(calls) == 1 and calls[0].body == {
        "action_name": "QR_STR_SCENE", "expire_seconds": 2 * PERIOD + 10,
        "action_info": {"scene": {"scene_str": scene}},
    }
    [(ticket, made)] = mock.qrcodes.items()
    assert made == {"scene": scene, "expire_seconds": 70}
    assert shown["qr"] == qr_data_uri(f"http://weixin.qq.com/q/{ticket}")
    page = await (await official.client.get(await link(official, meeting))).text()
    assert '"simulated": false' in page

    clock.advance(seconds=10)
    screens = await asyncio.gather(*(state(official, meeting) for _ in range(5)))  # several screens, one period
    assert {screen["qr"] for screen in screens} == {shown["qr"]} and len(mock.requests_to(QR_CREATE)) == 1

    clock.advance(seconds=20)  # the next period: screens polling at the same instant share one call
    screens = await asyncio.gather(*(state(official, meeting) for _ in range(5)))
    assert len({screen["qr"] for screen in screens}) == 1 and len(mock.requests_to(QR_CREATE)) == 2
    assert screens[0]["qr"] != shown["qr"]


async def test_without_a_qr_code_the_screen_shows_the_digits(
    official: AppHarness, mock_api: MockApi, meeting: Activity, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    mock = mock_api.mock
    mock.fail_next(45009, path=QR_CREATE)
    with caplog.at_level(logging.WARNING, logger="bot.web.screen"):
        shown = await state(official, meeting)
    assert shown["qr"] is None and shown["code"] == shown_code(meeting, clock.now(), PERIOD).code
    assert any("no QR code" in record.getMessage() for record in caplog.records)
    await state(official, meeting)  # polled again in the same period: no second call to a refusing API
    assert len(mock.requests_to(QR_CREATE)) == 1
    clock.advance(seconds=30)
    assert (await state(official, meeting))["qr"] is not None
    assert len(mock.requests_to(QR_CREATE)) == 2


async def test_the_mock_refuses_like_the_platform(mock_api: MockApi, services: Any, http: aiohttp.ClientSession,
                                                  clock: FrozenClock) -> None:
    url = f"{mock_api.url}{QR_CREATE}"
    body = {"action_name": "QR_STR_SCENE", "expire_seconds": 70, "action_info": {"scene": {"scene_str": "x"}}}
    async with http.post(url, params={"access_token": "forged"}, json=body) as response:
        assert (await response.json())["errcode"] == 40001
    client = wechat_client(services)
    mock_api.mock.qr_daily_limit = 1
    assert (await client.create_qrcode("signin:1:123456", expire_seconds=70))["expire_seconds"] == 70
    with pytest.raises(QuotaError):
        await client.create_qrcode("signin:1:654321", expire_seconds=70)
    clock.advance(days=1)  # a new day, a new quota
    assert (await client.create_qrcode("signin:1:111111", expire_seconds=70))["ticket"]
    token = await client.access_token()
    async with http.post(url, params={"access_token": token}, json={**body, "action_name": "QR_BOGUS"}) as response:
        assert (await response.json())["errcode"] == 40097

