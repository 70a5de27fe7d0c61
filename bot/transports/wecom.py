"""The WeCom (企业微信) self-built app callback at ``GET|POST /wecom``: always encrypted.

GET verifies ``msg_signature`` and returns the decrypted ``echostr``; POST is handled like the Official
Account's safe mode, with the CorpID as the receive id.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.chat.dispatcher import Dispatcher
from bot.infra.config import WecomSettings
from bot.transports.wechat_xml import parse_or_refuse, refuse, refuse_undecryptable, render_reply, success, to_event

log = logging.getLogger(__name__)

PLATFORM = "wecom"


class WecomApp:
    def __init__(self, config: WecomSettings, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.crypto = WeChatCrypto(
            config.token.get_secret_value(), config.encoding_aes_key.get_secret_value(), config.corp_id
        )

    async def verify_url(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            echo = self.crypto.check_signature(
                query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""),
                query.get("echostr", ""),
            )
        except Exception as exc:
            raise refuse(403, f"URL check failed ({type(exc).__name__})") from None
        return web.Response(text=echo if isinstance(echo, str) else echo.decode(), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        deadline = asyncio.get_running_loop().time() + self.dispatcher.services.settings.server.reply_budget_seconds
        query = request.query
        body = await request.read()
        try:
            xml = self.crypto.decrypt_message(
                body, query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", "")
            )
        except Exception as exc:
            raise refuse_undecryptable(exc) from None
        message = parse_or_refuse(parse_message, xml)
        reply = await self.dispatcher.feed(to_event(PLATFORM, message), deadline)
        if reply is None:
            return success()
        rendered = self.crypto.encrypt_message(render_reply(reply, message), query["nonce"], query["timestamp"])
        return web.Response(text=rendered, content_type="application/xml")


def setup(app: web.Application, config: WecomSettings, dispatcher: Dispatcher) -> None:
    wecom = WecomApp(config, dispatcher)
    app.router.add_get("/wecom", wecom.verify_url)
    app.router.add_post("/wecom", wecom.receive)
