"""The Official Account callback over HTTP, as the platform sends it: signed, and encrypted where the
mode says so. Forged, broken and oversized requests never reach a handler."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.chat.context import Context
from bot.chat.router import Router
from bot.devtools.emulator import OfficialAccountPlatform, event_fields, text_fields
from bot.infra.clock import FrozenClock
from handlers import ROUTERS
from models.conversation import InboundMessage
from models.delivery import Delivery
from tests.conftest import make_settings
from tests.support import AppHarness, running_app

TOKEN = "lvzhi-test-token"
APP_ID = "wx1234567890abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


def wechat_settings(tmp_path: Path, db_url: str, mode: str, **wechat: Any) -> Any:
    config = {"enabled": True, "token": TOKEN, "app_id": APP_ID, "encoding_aes_key": AES_KEY, "mode": mode}
    config.update(wechat)
    return make_settings(tmp_path, db_url, wechat=config)


async def post(app: AppHarness, platform: OfficialAccountPlatform, fields: dict[str, Any]) -> Any:
    request = platform.request(fields)
    response = await app.client.post("/wechat", params=request.params, data=request.body.encode())
    return platform.read_answer(response.status, await response.text())


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_each_mode_answers_help_correctly(db: Any, tmp_path: Path, db_url: str, mode: str) -> None:
    settings = wechat_settings(tmp_path, db_url, mode)
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, mode)
    async with running_app(settings, FrozenClock()) as app:
        answer = await post(app, platform, text_fields("o-member-1", "帮助"))
    assert answer.status == 200
    assert answer.fields["MsgType"] == "text"
    assert answer.fields["ToUserName"] == "o-member-1"
    assert "注册" in answer.text
    if mode != "plain":
        assert "<Encrypt>" in answer.raw and "注册" not in answer.raw


async def test_url_verification_returns_echostr(db: Any, tmp_path: Path, db_url: str) -> None:
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY)
    async with running_app(wechat_settings(tmp_path, db_url, "safe")) as app:
        good = await app.client.get("/wechat", params=platform.url_check("hello-42"))
        forged = await app.client.get("/wechat", params={**platform.url_check("x"), "signature": "0" * 40})
        missing = await app.client.get("/wechat")
        assert (good.status, await good.text()) == (200, "hello-42")
        assert forged.status == 403
        assert missing.status == 403


async def count_inbound(app: AppHarness) -> int:
    async with app.services.db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_forged_signature_is_refused_before_any_handler(db: Any, tmp_path: Path, db_url: str, mode: str) -> None:
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, mode)
    async with running_app(wechat_settings(tmp_path, db_url, mode)) as app:
        request = platform.request(text_fields("o-x", "帮助"))
        forged = dict(request.params, signature="f" * 40)
        response = await app.client.post("/wechat", params=forged, data=request.body.encode())
        assert response.status == 403
        if mode == "safe":
            forged_msg = dict(request.params, msg_signature="e" * 40)
            response = await app.client.post("/wechat", params=forged_msg, data=request.body.encode())
            assert response.status == 403
        assert await count_inbound(app) == 0


async def test_wrong_app_id_inside_the_ciphertext_is_refused(db: Any, tmp_path: Path, db_url: str) -> None:
    impostor = OfficialAccountPlatform(TOKEN, "wxSOMEONEELSE0000", AES_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe")) as app:
        answer = await post(app, impostor, text_fields("o-x", "帮助"))
        assert answer.status == 403
        assert await count_inbound(app) == 0


async def test_ciphertext_under_another_key_is_refused(db: Any, tmp_path: Path, db_url: str) -> None:
    stranger = OfficialAccountPlatform(TOKEN, APP_ID, OTHER_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe")) as app:
        assert (await post(app, stranger, text_fields("o-x", "帮助"))).status in (400, 403)
        assert await count_inbound(app) == 0


async def test_previous_key_still_decrypts_after_a_key_change(db: Any, tmp_path: Path, db_url: str) -> None:
    settings = wechat_settings(tmp_path, db_url, "safe", encoding_aes_key=OTHER_KEY, previous_encoding_aes_key=AES_KEY)
    old_key_platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    new_key_platform = OfficialAccountPlatform(TOKEN, APP_ID, OTHER_KEY, "safe")
    async with running_app(settings) as app:
        request = old_key_platform.request(text_fields("o-x", "帮助"))
        response = await app.client.post("/wechat", params=request.params, data=request.body.encode())
        # the reply is encrypted with the current key, as the platform expects after the change
        answer = new_key_platform.read_answer(response.status, await response.text())
        assert "注册" in answer.text


@pytest.mark.parametrize("body", [b"not xml at all", b"<xml><Encrypt>%%%garbage%%%</Encrypt></xml>", b"<xml>",
                                  b""])
async def test_undecryptable_or_malformed_bodies_get_400(db: Any, tmp_path: Path, db_url: str, body: bytes) -> None:
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe")) as app:
        params = platform.request(text_fields("o-x", "帮助")).params
        response = await app.client.post("/wechat", params=params, data=body)
        assert response.status in (400, 403)
        assert await count_inbound(app) == 0


@pytest.mark.parametrize("body", [b"<xml><FromUserName>o</FromUserName>", b"<xml><a>1</a></xml>",
                                  b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>'])
async def test_malformed_plain_xml_gets_400(db: Any, tmp_path: Path, db_url: str, body: bytes) -> None:
    platform = OfficialAccountPlatform(TOKEN, APP_ID, mode="plain")
    async with running_app(wechat_settings(tmp_path, db_url, "plain")) as app:
        params = platform.request(text_fields("o-x", "帮助")).params
        response = await app.client.post("/wechat", params=params, data=body)
        assert response.status == 400


async def test_plaintext_in_safe_mode_and_ciphertext_in_plain_mode_are_refused(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    async with running_app(wechat_settings(tmp_path, db_url, "safe")) as app:
        plain = OfficialAccountPlatform(TOKEN, APP_ID, mode="plain").request(text_fields("o-x", "帮助"))
        response = await app.client.post("/wechat", params=plain.params, data=plain.body.encode())
        assert response.status == 400


async def test_a_body_over_one_mebibyte_gets_413(db: Any, tmp_path: Path, db_url: str) -> None:
    platform = OfficialAccountPlatform(TOKEN, APP_ID, mode="plain")
    async with running_app(wechat_settings(tmp_path, db_url, "plain")) as app:
        request = platform.request(text_fields("o-x", "帮" * 400_000))
        response = await app.client.post("/wechat", params=request.params, data=request.body.encode())
        assert response.status == 413
        assert await count_inbound(app) == 0


async def test_a_retried_message_is_handled_once_and_answered_the_same(db: Any, tmp_path: Path, db_url: str) -> None:
    calls: list[str] = []
    router = Router("counting")

    @router.fallback()
    async def count(ctx: Context) -> str:
        calls.append(ctx.text)
        return f"第{len(calls)}次"

    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe"), routers=[router]) as app:
        fields = text_fields("o-retry", "你好", msg_id=777001)
        first = await post(app, platform, fields)
        second = await post(app, platform, fields)
        third = await post(app, platform, fields)
    assert calls == ["你好"]
    assert first.text == second.text == third.text == "第1次"


async def test_retried_events_are_deduplicated_by_sender_time_and_event(db: Any, tmp_path: Path, db_url: str) -> None:
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe")) as app:
        follow = event_fields("o-new", "subscribe", create_time=1_760_000_000)
        first = await post(app, platform, follow)
        again = await post(app, platform, follow)
        later = await post(app, platform, event_fields("o-new", "subscribe", create_time=1_760_000_100))
        assert "注册" in first.text
        assert again.text == first.text
        assert "注册" in later.text
        assert await count_inbound(app) == 2


async def test_a_slow_handler_gets_success_in_time_and_its_reply_is_pushed(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    release = asyncio.Event()
    router = Router("slow")

    @router.fallback()
    async def slow(ctx: Context) -> str:
        await release.wait()  # held until the callback has answered
        return "终于好了"

    settings = wechat_settings(tmp_path, db_url, "safe", app_secret="secret")
    settings.server.reply_budget_seconds = 0.2
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with running_app(settings, routers=[router]) as app:
        fields = text_fields("o-slow", "慢一点", msg_id=888001)
        answer = await post(app, platform, fields)
        assert answer.raw == "success"
        retry = await post(app, platform, fields)  # WeChat retries while the first is still running
        assert retry.raw == "success"
        release.set()
        await app.dispatcher.drain()
        async with app.services.db.reader() as session:
            pushes = (await session.scalars(select(Delivery).where(Delivery.recipient == "o-slow"))).all()
        assert [p.payload["text"] for p in pushes] == ["终于好了"]
        assert (await post(app, platform, fields)).raw == "success"  # a later retry: no repeat


async def test_a_crashing_handler_gets_an_apology_with_a_reference(db: Any, tmp_path: Path, db_url: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    router = Router("broken")

    @router.fallback()
    async def broken(ctx: Context) -> str:
        raise RuntimeError("database exploded")

    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe"), routers=[router]) as app:
        answer = await post(app, platform, text_fields("o-crash", "你好"))
    assert answer.status == 200
    assert "抱歉" in answer.text
    reference = answer.text.split("编号 ")[1][:8]
    assert any(reference in record.getMessage() and record.exc_info for record in caplog.records)


async def test_menu_click_and_location_report_events(db: Any, tmp_path: Path, db_url: str) -> None:
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe")) as app:
        click = await post(app, platform, event_fields("o-m", "CLICK", key="HELP"))
        location = await post(app, platform, event_fields("o-m", "LOCATION", Latitude="30.1", Longitude="120.2",
                                                          Precision="50"))
    assert "注册" in click.text
    assert location.raw == "success"  # the platform's rule: answer LOCATION reports with nothing


def test_handlers_never_see_wechatpy() -> None:
    import handlers

    for router in ROUTERS:
        for route in router.routes:
            assert "wechatpy" not in route.handler.__module__
    assert "wechatpy" not in Path(handlers.__file__).read_text()


async def test_a_reply_over_the_passive_limit_is_split_and_the_rest_pushed(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    long_text = "\n".join(f"第{n}条：" + "委员履职情况说明。" * 10 for n in range(1, 30))
    router = Router("long")

    @router.fallback()
    async def long_answer(ctx: Context) -> str:
        return long_text

    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with running_app(wechat_settings(tmp_path, db_url, "safe"), routers=[router]) as app:
        answer = await post(app, platform, text_fields("o-long", "全部"))
        async with app.services.db.reader() as session:
            rest = (await session.scalars(select(Delivery).where(Delivery.recipient == "o-long")
                                          .order_by(Delivery.idempotency_key))).all()
    assert len(answer.text.encode()) <= 2000
    assert "\n".join([answer.text, *(row.payload["text"] for row in rest)]) == long_text
