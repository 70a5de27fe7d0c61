"""The async API client against the mock platform: shared tokens, token errors, typed errors, limits."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.infra.services import Services
from bot.outbound.client import (
    NotSubscribedError,
    OutOfWindowError,
    PermanentError,
    QuotaError,
    TokenError,
    TransientError,
    WechatClient,
    wechat_client,
    wecom_client,
)
from bot.outbound.message import Article, Reply
from bot.outbound.tokens import TokenStore
from models.outbound import AccessToken
from tests import outbound_support as support
from tests.outbound_support import TEMPLATE_ID, MockApi

mock_api, http, services = support.mock_api, support.http, support.services  # fixtures

CUSTOM = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"


# --- the shared access token ------------------------------------------------------------------------


async def test_token_is_fetched_once_stored_and_reused(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.record_interaction("o-1", "message")
    client = wechat_client(services)
    await client.send_custom("o-1", Reply(text="一"))
    await client.send_custom("o-1", Reply(text="二"))
    assert mock_api.mock.token_fetches["mp"] == 1
    async with services.db.reader() as session:
        row = (await session.execute(select(AccessToken))).scalar_one()
    assert row.name == "mp:wx-mock-app"
    assert row.expires_at == services.clock.now() + timedelta(seconds=7200)


async def test_token_is_refreshed_ahead_of_expiry(
    services: Services, mock_api: MockApi, clock: FrozenClock
) -> None:
    mock_api.mock.record_interaction("o-1", "message")
    client = wechat_client(services)
    first = await client.access_token()
    clock.advance(seconds=7200 - 10 * 60 - 1)  # still valid, outside the refresh margin
    assert await client.access_token() == first
    clock.advance(seconds=2)  # now inside the margin: refresh before the platform would refuse it
    second = await client.access_token()
    assert second != first
    assert mock_api.mock.token_fetches["mp"] == 2
    await client.send_custom("o-1", Reply(text="还能发"))


async def test_token_error_refreshes_once_and_retries(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.record_interaction("o-1", "message")
    client = wechat_client(services)
    await client.access_token()
    mock_api.mock.fail_next(40001, path=CUSTOM)
    await client.send_custom("o-1", Reply(text="重试后送达"))
    assert mock_api.mock.token_fetches["mp"] == 2
    assert len(mock_api.mock.requests_to(CUSTOM)) == 2
    assert [s.body["text"]["content"] for s in mock_api.mock.sent_to("o-1")] == ["重试后送达"]


async def test_revoked_token_is_replaced_transparently(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.record_interaction("o-1", "message")
    client = wechat_client(services)
    await client.send_custom("o-1", Reply(text="一"))
    mock_api.mock.revoke_tokens()  # a real 40001 from the platform's own token check
    await client.send_custom("o-1", Reply(text="二"))
    assert len(mock_api.mock.sent_to("o-1")) == 2
    assert mock_api.mock.token_fetches["mp"] == 2


async def test_a_second_token_error_is_raised_not_looped(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.record_interaction("o-1", "message")
    mock_api.mock.fail_next(42001, times=2, path=CUSTOM)
    with pytest.raises(TokenError) as caught:
        await wechat_client(services).send_custom("o-1", Reply(text="x"))
    assert caught.value.code == 42001
    assert len(mock_api.mock.requests_to(CUSTOM)) == 2


async def test_two_processes_refreshing_at_once_fetch_once(
    services: Services, mock_api: MockApi, db_url: str, clock: FrozenClock, http: aiohttp.ClientSession
) -> None:
    """Two workers with their own database engines (as two processes would have) ask for a token at the
    same moment, while the platform is slow: the row lock makes the second wait and reuse the first's."""
    mock_api.mock.latency = 0.2
    other_db = Database(db_url)
    try:
        clients = [
            WechatClient(
                lambda: http,
                api_base=mock_api.url,
                app_id="wx-mock-app",
                app_secret="mock-app-secret",
                tokens=TokenStore(database, clock),
            )
            for database in (services.db, other_db)
        ]
        tokens = await asyncio.gather(*(client.access_token() for client in clients))
    finally:
        await other_db.dispose()
    assert tokens[0] == tokens[1]
    assert mock_api.mock.token_fetches["mp"] == 1
    assert len(mock_api.mock.requests_to("/cgi-bin/token")) == 1


async def test_a_process_holding_a_retired_token_adopts_the_new_one_without_fetching(
    services: Services, mock_api: MockApi, clock: FrozenClock, http: aiohttp.ClientSession
) -> None:
    mock_api.mock.record_interaction("o-1", "message")
    stores = [TokenStore(services.db, clock), TokenStore(services.db, clock)]
    a, b = (
        WechatClient(
            lambda: http,
            api_base=mock_api.url,
            app_id="wx-mock-app",
            app_secret="mock-app-secret",
            tokens=store,
        )
        for store in stores
    )
    old = await a.access_token()
    assert await b.access_token() == old  # b read it from the table
    await stores[0].replace(a.token_name, old, a._fetch_token)  # a refreshes (say, after a 40001)
    clock.advance(minutes=6)  # past the platform's 5-minute overlap: b's cached token is now refused
    await b.send_custom("o-1", Reply(text="用新令牌"))
    assert mock_api.mock.token_fetches["mp"] == 2  # the initial fetch and a's refresh; b fetched nothing
    assert len(mock_api.mock.sent_to("o-1")) == 1


# --- typed errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error_type"),
    [(45009, QuotaError), (-1, TransientError), (47003, PermanentError), (40003, PermanentError)],
)
async def test_platform_codes_become_typed_errors(
    services: Services, mock_api: MockApi, code: int, error_type: type[Exception]
) -> None:
    mock_api.mock.fail_next(code, path=TEMPLATE)
    with pytest.raises(error_type) as caught:
        await wechat_client(services).send_template("o-1", {"thing1": "x"})
    assert caught.value.code == code  # type: ignore[attr-defined]


async def test_unsubscribed_member_is_43004(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.unsubscribe("o-gone")
    with pytest.raises(NotSubscribedError) as caught:
        await wechat_client(services).send_template("o-gone", {"thing1": "x"})
    assert caught.value.code == 43004


async def test_window_errors_are_typed(services: Services, mock_api: MockApi) -> None:
    client = wechat_client(services)
    with pytest.raises(OutOfWindowError):
        await client.send_custom("o-quiet", Reply(text="no window"))
    mock_api.mock.record_interaction("o-click", "click")
    for n in range(3):
        await client.send_custom("o-click", Reply(text=str(n)))
    with pytest.raises(QuotaError) as caught:
        await client.send_custom("o-click", Reply(text="fourth"))
    assert caught.value.code == 45047


async def test_http_5xx_is_transient(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.fail_next(0, path=TEMPLATE, http_status=503)
    with pytest.raises(TransientError) as caught:
        await wechat_client(services).send_template("o-1", {"thing1": "x"})
    assert not caught.value.uncertain


async def test_unreachable_platform_is_transient_and_certainly_not_sent(
    services: Services, http: aiohttp.ClientSession, clock: FrozenClock
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = WechatClient(
        lambda: http,
        api_base=f"http://127.0.0.1:{port}",
        app_id="a",
        app_secret="s",
        tokens=TokenStore(services.db, clock),
    )
    with pytest.raises(TransientError) as caught:
        await client.access_token()
    assert caught.value.uncertain is False


# --- message shapes and limits --------------------------------------------------------------------


async def test_template_values_are_cut_to_20_characters_and_carry_the_dedupe_id(
    services: Services, mock_api: MockApi
) -> None:
    long_title = "关于召开市政协十四届三次会议第一次全体会议的通知（请准时参加）"
    await wechat_client(services).send_template(
        "o-1", {"thing1": long_title, "thing2": "短"}, url="https://example.org/n/1", dedupe_id="abc"
    )
    body = mock_api.mock.requests_to(TEMPLATE)[0].body
    assert len(body["data"]["thing1"]["value"]) == 20
    assert body["data"]["thing1"]["value"].endswith("…")
    assert body["data"]["thing2"]["value"] == "短"
    assert body["client_msg_id"] == "abc"
    assert body["template_id"] == TEMPLATE_ID


async def test_custom_news_carries_one_article(services: Services, mock_api: MockApi) -> None:
    mock_api.mock.record_interaction("o-1", "message")
    article = Article(title="学习材料", description="第一讲", url="https://example.org/a", image_url="")
    await wechat_client(services).send_custom("o-1", Reply(article=article))
    body = mock_api.mock.sent_to("o-1")[0].body
    assert body["msgtype"] == "news" and len(body["news"]["articles"]) == 1


async def test_tags_batch_tagging_in_fifties_and_mass_send_by_tag(
    services: Services, mock_api: MockApi
) -> None:
    client = wechat_client(services)
    tag_id = await client.create_tag("经济界")
    openids = [f"o-{n}" for n in range(120)]
    await client.tag_members(tag_id, openids)
    assert len(mock_api.mock.requests_to("/cgi-bin/tags/members/batchtagging")) == 3
    assert (await client.list_tags())[0]["count"] == 120
    await client.mass_send_to_tag(tag_id, "全体委员：请查收")
    assert len([s for s in mock_api.mock.sent if s.kind == "mass"]) == 120
    await client.mass_send_to_openids(["o-1", "o-2"], "两位委员")
    with pytest.raises(ValueError):
        await client.mass_send_to_openids(["o-1"], "one is not a mass send")


async def test_qrcode_menu_and_media(services: Services, mock_api: MockApi) -> None:
    client = wechat_client(services)
    temporary = await client.create_qrcode("bind:42", expire_seconds=3600)
    assert temporary["expire_seconds"] == 3600 and temporary["ticket"]
    permanent = await client.create_qrcode("activity:7")
    assert "expire_seconds" not in permanent
    with pytest.raises(ValueError):
        await client.create_qrcode("x" * 65)
    await client.create_menu([{"type": "click", "name": "履职", "key": "DUTY"}])
    assert mock_api.mock.menu == [{"type": "click", "name": "履职", "key": "DUTY"}]
    with pytest.raises(ValueError):
        await client.create_menu([{"type": "click", "name": f"m{n}", "key": "K"} for n in range(4)])
    with pytest.raises(ValueError):
        await client.create_menu([{"type": "click", "name": "太长的菜单名字啊", "key": "K"}])  # 24 bytes
    mock_api.mock.add_media("m-1", b"\xff\xd8jpeg-bytes")
    assert await client.download_media("m-1") == b"\xff\xd8jpeg-bytes"
    with pytest.raises(PermanentError) as caught:
        await client.download_media("m-missing")
    assert caught.value.code == 40007


# --- WeCom -----------------------------------------------------------------------------------------


async def test_wecom_app_message_with_duplicate_check(services: Services, mock_api: MockApi) -> None:
    client = wecom_client(services)
    await client.send_app_message(["zhangsan"], Reply(text="请于周五前提交提案"))
    await client.send_app_message(["zhangsan"], Reply(text="请于周五前提交提案"))  # a retry: deduped
    body = mock_api.mock.requests_to("/cgi-bin/message/send")[0].body
    assert body["enable_duplicate_check"] == 1 and body["duplicate_check_interval"] == 4 * 3600
    assert body["agentid"] == 1000002
    assert len(mock_api.mock.sent_to("zhangsan")) == 1
    assert mock_api.mock.deduped == 1
    assert mock_api.mock.token_fetches["wecom"] == 1


async def test_wecom_appchat_and_robot(services: Services, mock_api: MockApi) -> None:
    client = wecom_client(services)
    await client.send_appchat("chat-group-3", Reply(text="第三联络组：周四学习"))
    await client.send_webhook("robot-key", Reply(text="提醒", extra={"mentioned_list": ["@all"]}))
    assert (
        mock_api.mock.sent_to("chat-group-3", "appchat")[0].body["text"]["content"] == "第三联络组：周四学习"
    )
    robot = mock_api.mock.sent_to("robot-key", "robot")[0].body
    assert robot["text"]["mentioned_list"] == ["@all"]
    assert "access_token" not in mock_api.mock.requests_to("/cgi-bin/webhook/send")[0].query


async def test_wecom_text_is_cut_to_2048_bytes(services: Services, mock_api: MockApi) -> None:
    await wecom_client(services).send_app_message(["lisi"], Reply(text="政" * 1000))  # 3000 bytes
    content = mock_api.mock.sent_to("lisi")[0].body["text"]["content"]
    assert len(content.encode()) <= 2048 and content.endswith("…")
