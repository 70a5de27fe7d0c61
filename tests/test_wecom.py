"""The WeCom app callback: always encrypted, echostr decrypted on GET, same dispatcher and guarantees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.devtools.emulator import WecomPlatform, event_fields, text_fields
from tests.conftest import make_settings
from tests.support import AppHarness, running_app

TOKEN = "wecom-token"
CORP_ID = "ww0123456789abcdef"
AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


def wecom_settings(tmp_path: Path, db_url: str) -> Any:
    return make_settings(tmp_path, db_url, wecom={"enabled": True, "corp_id": CORP_ID, "agent_id": 1000002,
                                                  "token": TOKEN, "encoding_aes_key": AES_KEY})


async def post(app: AppHarness, platform: WecomPlatform, fields: dict[str, Any]) -> Any:
    request = platform.request(fields)
    response = await app.client.post("/wecom", params=request.params, data=request.body.encode())
    return platform.read_answer(response.status, await response.text())


async def test_url_verification_returns_the_decrypted_echostr(db: Any, tmp_path: Path, db_url: str) -> None:
    platform = WecomPlatform(TOKEN, CORP_ID, AES_KEY)
    async with running_app(wecom_settings(tmp_path, db_url)) as app:
        good = await app.client.get("/wecom", params=platform.url_check("echo-42"))
        assert (good.status, await good.text()) == (200, "echo-42")
        forged = await app.client.get("/wecom", params={**platform.url_check(), "msg_signature": "0" * 40})
        assert forged.status == 403


async def test_encrypted_message_gets_an_encrypted_reply(db: Any, tmp_path: Path, db_url: str) -> None:
    platform = WecomPlatform(TOKEN, CORP_ID, AES_KEY)
    async with running_app(wecom_settings(tmp_path, db_url)) as app:
        answer = await post(app, platform, text_fields("zhangsan", "帮助"))
        click = await post(app, platform, event_fields("zhangsan", "click", key="HELP"))
    assert answer.status == 200 and "<Encrypt>" in answer.raw
    assert "注册" in answer.text and answer.fields["ToUserName"] == "zhangsan"
    assert "注册" in click.text


async def test_another_corp_and_forged_signatures_are_refused(db: Any, tmp_path: Path, db_url: str) -> None:
    impostor = WecomPlatform(TOKEN, "wwSOMEBODYELSE00000", AES_KEY)
    platform = WecomPlatform(TOKEN, CORP_ID, AES_KEY)
    async with running_app(wecom_settings(tmp_path, db_url)) as app:
        assert (await post(app, impostor, text_fields("x", "帮助"))).status == 403
        request = platform.request(text_fields("x", "帮助"))
        forged = await app.client.post("/wecom", params={**request.params, "msg_signature": "a" * 40},
                                       data=request.body.encode())
        assert forged.status == 403
        garbage = await app.client.post("/wecom", params=request.params, data=b"<xml><Encrypt>!!</Encrypt></xml>")
        assert garbage.status in (400, 403)


async def test_retries_are_deduplicated(db: Any, tmp_path: Path, db_url: str) -> None:
    platform = WecomPlatform(TOKEN, CORP_ID, AES_KEY)
    async with running_app(wecom_settings(tmp_path, db_url)) as app:
        fields = text_fields("lisi", "帮助", msg_id=4242)
        first, second = await post(app, platform, fields), await post(app, platform, fields)
    assert first.text == second.text != ""
