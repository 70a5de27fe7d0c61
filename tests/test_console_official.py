"""Logging in to the console through the Official Account: the login page's parametric QR code made through the
(mock) platform API with the scene ``console:<code>``, and the secretary's SCAN of it, signed and encrypted as
the platform sends it; a failing QR call leaves the digits; and a secretary on WeCom typing the code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devtools.emulator import OfficialAccountPlatform, WecomPlatform, event_fields, text_fields
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.web.screen import qr_data_uri
from models.member import Identity, Platform
from tests import outbound_support as support
from tests.activity_support import Org
from tests.console_support import CODE, Browser, browsers
from tests.outbound_support import MockApi
from tests.support import AppHarness, running_app
from tests.test_official_account import AES_KEY, TOKEN, post, wechat_settings

mock_api, http, services = support.mock_api, support.http, support.services  # fixtures

QR_CREATE = "/cgi-bin/qrcode/create"
QIAN = "o-qian-openid"


@pytest.fixture
async def official(org: Org, db: Database, tmp_path: Path, db_url: str, clock: FrozenClock,
                   mock_api: MockApi) -> AsyncIterator[AppHarness]:
    async with db.session() as session:
        session.add(Identity(member_id=org.qian.id or 0, platform=Platform.OFFICIAL, external_id=QIAN))
    mock = mock_api.mock
    settings = wechat_settings(tmp_path, db_url, "safe", app_id=mock.app_id, app_secret=mock.app_secret,
                               api_base=mock_api.url)
    async with running_app(settings, clock) as harness:
        yield harness


async def test_the_qr_code_scanned_in_wechat_logs_the_browser_in(official: AppHarness, mock_api: MockApi) -> None:
    platform = OfficialAccountPlatform(TOKEN, mock_api.mock.app_id, AES_KEY, "safe")
    async with browsers(official) as open_browser:
        browser: Browser = open_browser()
        page = await browser.text("/console/login")
        code = CODE.search(page).group(1)  # type: ignore[union-attr]
        [call] = mock_api.mock.requests_to(QR_CREATE)
        assert call.body == {"action_name": "QR_STR_SCENE", "expire_seconds": 300,
                             "action_info": {"scene": {"scene_str": f"console:{code}"}}}
        [(ticket, _made)] = mock_api.mock.qrcodes.items()
        assert f'id="login-qr" src="{qr_data_uri(f"http://weixin.qq.com/q/{ticket}")}"' in page
        assert 'id="login-sim"' not in page
        answer = await post(official, platform, event_fields(QIAN, "SCAN", key=f"console:{code}", Ticket="t-9"))
        assert answer.status == 200 and answer.text.startswith("已登录管理后台")
        assert (await browser.get("/console/login/finish")).status == 302
        typed = await post(official, platform, text_fields(QIAN, f"登录 {code}", msg_id=880001))
        assert typed.text.startswith("登录码「")  # used already


async def test_without_the_qr_code_the_digits_still_work(official: AppHarness, mock_api: MockApi) -> None:
    mock_api.mock.fail_next(45009, path=QR_CREATE)
    async with browsers(official) as open_browser:
        page = await open_browser().text("/console/login")
    assert 'id="login-code"' in page and 'id="login-qr"' not in page and 'id="login-sim"' not in page


async def test_a_secretary_on_wecom_confirms_by_text(org: Org, db: Database, tmp_path: Path, db_url: str,
                                                     clock: FrozenClock) -> None:
    from tests import test_wecom

    async with db.session() as session:
        session.add(Identity(member_id=org.qian.id or 0, platform=Platform.WECOM, external_id="qianmishu"))
    platform = WecomPlatform(test_wecom.TOKEN, test_wecom.CORP_ID, test_wecom.AES_KEY)
    async with running_app(test_wecom.wecom_settings(tmp_path, db_url), clock) as app, browsers(app) as opener:
        browser: Browser = opener()
        page = await browser.text("/console/login")
        code = CODE.search(page).group(1)  # type: ignore[union-attr]
        answer = await test_wecom.post(app, platform, text_fields("qianmishu", f"登录 {code}"))
        assert answer.text.startswith("已登录管理后台")
        assert (await browser.get("/console/login/finish")).status == 302
