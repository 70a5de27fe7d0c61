"""The mock platform behaves as WECHAT.md documents the real one (plain HTTP here, not our client)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from bot.infra.clock import FrozenClock
from tests import outbound_support as support
from tests.outbound_support import MockApi

mock_api, http = support.mock_api, support.http  # fixtures


async def call(
    http: aiohttp.ClientSession,
    api: MockApi,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    **query: str,
) -> dict[str, Any]:
    async with http.request(method, api.url + path, params=query, json=body) as response:
        return await response.json()


async def mp_token(http: aiohttp.ClientSession, api: MockApi) -> str:
    answer = await call(
        http,
        api,
        "GET",
        "/cgi-bin/token",
        grant_type="client_credential",
        appid=api.mock.app_id,
        secret=api.mock.app_secret,
    )
    assert answer["expires_in"] == 7200
    return answer["access_token"]


async def custom(http: aiohttp.ClientSession, api: MockApi, token: str, openid: str) -> int:
    answer = await call(
        http,
        api,
        "POST",
        "/cgi-bin/message/custom/send",
        access_token=token,
        body={"touser": openid, "msgtype": "text", "text": {"content": "hi"}},
    )
    return answer["errcode"]


async def test_token_lifetime_and_overlap(
    http: aiohttp.ClientSession, mock_api: MockApi, clock: FrozenClock
) -> None:
    old = await mp_token(http, mock_api)
    mock_api.mock.record_interaction("o-1", "message")
    new = await mp_token(http, mock_api)
    clock.advance(minutes=4)
    assert await custom(http, mock_api, old, "o-1") == 0  # still inside the 5-minute overlap
    clock.advance(minutes=2)
    assert await custom(http, mock_api, old, "o-1") == 40001
    assert await custom(http, mock_api, new, "o-1") == 0
    clock.advance(seconds=7200)
    assert await custom(http, mock_api, new, "o-1") == 42001
    bad = await call(http, mock_api, "GET", "/cgi-bin/token", appid=mock_api.mock.app_id, secret="wrong")
    assert bad["errcode"] == 40125


async def test_message_window_allows_five_in_48_hours(
    http: aiohttp.ClientSession, mock_api: MockApi, clock: FrozenClock
) -> None:
    token = await mp_token(http, mock_api)
    assert await custom(http, mock_api, token, "o-1") == 45015  # never interacted
    mock_api.mock.record_interaction("o-1", "message")
    clock.advance(hours=47)
    token = await mp_token(http, mock_api)  # the first one expired after two hours
    assert [await custom(http, mock_api, token, "o-1") for _ in range(6)] == [0, 0, 0, 0, 0, 45047]
    mock_api.mock.record_interaction("o-1", "message")  # a new message opens a new window
    assert await custom(http, mock_api, token, "o-1") == 0
    clock.advance(hours=48, seconds=1)
    token = await mp_token(http, mock_api)
    assert await custom(http, mock_api, token, "o-1") == 45015


async def test_click_follow_scan_allow_three_within_a_minute(
    http: aiohttp.ClientSession, mock_api: MockApi, clock: FrozenClock
) -> None:
    token = await mp_token(http, mock_api)
    for kind in ("click", "subscribe", "scan"):
        user = f"o-{kind}"
        mock_api.mock.record_interaction(user, kind)
        assert [await custom(http, mock_api, token, user) for _ in range(4)] == [0, 0, 0, 45047]
    mock_api.mock.record_interaction("o-late", "click")
    clock.advance(seconds=61)
    assert await custom(http, mock_api, token, "o-late") == 45015


async def test_unsubscribed_members_get_43004(http: aiohttp.ClientSession, mock_api: MockApi) -> None:
    token = await mp_token(http, mock_api)
    mock_api.mock.record_interaction("o-1", "message")
    mock_api.mock.unsubscribe("o-1")
    assert await custom(http, mock_api, token, "o-1") == 43004
    template = await call(
        http,
        mock_api,
        "POST",
        "/cgi-bin/message/template/send",
        access_token=token,
        body={"touser": "o-1", "template_id": "T", "data": {}},
    )
    assert template["errcode"] == 43004


async def test_template_client_msg_id_dedupes_for_ten_minutes(
    http: aiohttp.ClientSession, mock_api: MockApi, clock: FrozenClock
) -> None:
    token = await mp_token(http, mock_api)
    body = {
        "touser": "o-1",
        "template_id": "T",
        "client_msg_id": "k1",
        "data": {"thing1": {"value": "一二三四五六七八九十一二三四五六七八九十超出"}},
    }
    for _ in range(2):
        answer = await call(
            http, mock_api, "POST", "/cgi-bin/message/template/send", access_token=token, body=body
        )
        assert answer["errcode"] == 0
    assert len(mock_api.mock.sent_to("o-1")) == 1 and mock_api.mock.deduped == 1
    assert len(mock_api.mock.sent_to("o-1")[0].body["data"]["thing1"]["value"]) == 20  # silently truncated
    clock.advance(minutes=10, seconds=1)
    await call(http, mock_api, "POST", "/cgi-bin/message/template/send", access_token=token, body=body)
    assert len(mock_api.mock.sent_to("o-1")) == 2


async def test_injected_errors_hit_the_next_calls_only(
    http: aiohttp.ClientSession, mock_api: MockApi
) -> None:
    token = await mp_token(http, mock_api)
    mock_api.mock.record_interaction("o-1", "message")
    mock_api.mock.fail_next(-1, times=2)
    mock_api.mock.fail_next(45009, path="/cgi-bin/message/template/send")
    assert [await custom(http, mock_api, token, "o-1") for _ in range(3)] == [-1, -1, 0]
    template = await call(
        http,
        mock_api,
        "POST",
        "/cgi-bin/message/template/send",
        access_token=token,
        body={"touser": "o-1", "template_id": "T", "data": {}},
    )
    assert template["errcode"] == 45009
    mock_api.mock.fail_next(40001)
    assert await custom(http, mock_api, token, "o-1") == 40001
    mock_api.mock.fail_next(0, http_status=502)
    async with http.post(
        mock_api.url + "/cgi-bin/message/custom/send", params={"access_token": token}, json={"touser": "o-1"}
    ) as response:
        assert response.status == 502


async def test_latency_knob(http: aiohttp.ClientSession, mock_api: MockApi) -> None:
    mock_api.mock.latency = 0.05
    started = time.monotonic()
    await mp_token(http, mock_api)
    assert time.monotonic() - started >= 0.05


async def test_wecom_duplicate_check_member_rate_and_robot_rate(
    http: aiohttp.ClientSession, mock_api: MockApi, clock: FrozenClock
) -> None:
    token = (
        await call(
            http,
            mock_api,
            "GET",
            "/cgi-bin/gettoken",
            corpid=mock_api.mock.corp_id,
            corpsecret=mock_api.mock.corp_secret,
        )
    )["access_token"]
    message = {
        "touser": "zhang",
        "agentid": 1,
        "msgtype": "text",
        "text": {"content": "x"},
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 600,
    }
    for _ in range(2):
        await call(http, mock_api, "POST", "/cgi-bin/message/send", access_token=token, body=message)
    assert len(mock_api.mock.sent_to("zhang")) == 1
    clock.advance(seconds=601)
    await call(http, mock_api, "POST", "/cgi-bin/message/send", access_token=token, body=message)
    assert len(mock_api.mock.sent_to("zhang")) == 2
    for n in range(31):  # the 31st in a minute is dropped silently: errcode 0, nothing arrives
        answer = await call(
            http,
            mock_api,
            "POST",
            "/cgi-bin/message/send",
            access_token=token,
            body={"touser": "li", "agentid": 1, "msgtype": "text", "text": {"content": str(n)}},
        )
        assert answer["errcode"] == 0
    assert len(mock_api.mock.sent_to("li")) == 30 and mock_api.mock.dropped == 1
    codes = [
        (
            await call(
                http,
                mock_api,
                "POST",
                "/cgi-bin/webhook/send",
                key="r1",
                body={"msgtype": "text", "text": {"content": "x"}},
            )
        )["errcode"]
        for _ in range(21)
    ]
    assert codes == [0] * 20 + [45009]


async def test_control_endpoints_for_the_dev_server(http: aiohttp.ClientSession, mock_api: MockApi) -> None:
    token = await mp_token(http, mock_api)
    await call(http, mock_api, "POST", "/mock/interaction", body={"openid": "o-9", "kind": "click"})
    assert await custom(http, mock_api, token, "o-9") == 0
    stats = await call(http, mock_api, "GET", "/mock/stats")
    assert stats["sent"] == 1 and stats["duplicates"] == 0 and stats["token_fetches"] == {"mp": 1}
    async with http.get(mock_api.url + "/mock/sent", params={"kind": "custom"}) as response:
        assert [row["to"] for row in await response.json()] == ["o-9"]
