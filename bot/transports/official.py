"""The Official Account (公众号) callback at ``GET|POST /wechat``.

GET answers the platform's URL check. POST verifies, decrypts (compatible and safe modes), parses,
hands the event to the dispatcher and renders, encrypts and returns its reply within the budget.
Anything that does not verify or parse is refused with a 4xx before any handler runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.chat.dispatcher import Dispatcher
from bot.infra.config import WechatSettings
from bot.transports.wechat_xml import parse_or_refuse, refuse, refuse_undecryptable, render_reply, success, to_event

log = logging.getLogger(__name__)

PLATFORM = "mp"


class OfficialAccount:
    def __init__(self, config: WechatSettings, dispatcher: Dispatcher) -> None:
        self.config = config
        self.token = config.token.get_secret_value()
        self.dispatcher = dispatcher
        self.cryptos = [
            WeChatCrypto(self.token, key, config.app_id)
            for key in (config.encoding_aes_key.get_secret_value(), config.previous_encoding_aes_key.get_secret_value())
            if key
        ]

    async def verify_url(self, request: web.Request) -> web.Response:
        query = request.query
        self._check_plain_signature(query)
        return web.Response(text=query.get("echostr", ""), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        deadline = asyncio.get_running_loop().time() + self.dispatcher.services.settings.server.reply_budget_seconds
        query = request.query
        self._check_plain_signature(query)
        body = await request.read()
        encrypted = query.get("encrypt_type") == "aes"
        if encrypted and self.config.mode == "plain":
            raise refuse(400, "encrypted message but wechat.mode is plain")
        if not encrypted and self.config.mode == "safe":
            raise refuse(400, "plaintext message but wechat.mode is safe")
        xml = self._decrypt(body, query) if encrypted else body
        message = parse_or_refuse(parse_message, xml)
        event = to_event(PLATFORM, message)
        reply = await self.dispatcher.feed(event, deadline)
        if reply is None:
            return success()
        rendered = render_reply(reply, message)
        if encrypted:
            rendered = self.cryptos[0].encrypt_message(rendered, query["nonce"], query["timestamp"])
        return web.Response(text=rendered, content_type="application/xml")

    def _check_plain_signature(self, query: Mapping[str, str]) -> None:
        try:
            check_signature(self.token, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
        except InvalidSignatureException:
            raise refuse(403, "bad signature") from None

    def _decrypt(self, body: bytes, query: Mapping[str, str]) -> str:
        get = query.get
        last_error: Exception = LookupError("no EncodingAESKey configured")
        for crypto in self.cryptos:  # the current key first, then the previous one
            try:
                return crypto.decrypt_message(body, get("msg_signature", ""), get("timestamp", ""), get("nonce", ""))
            except Exception as exc:  # wechatpy raises several kinds on garbage; all mean "refuse"
                last_error = exc
        raise refuse_undecryptable(last_error)


def setup(app: web.Application, config: WechatSettings, dispatcher: Dispatcher) -> None:
    account = OfficialAccount(config, dispatcher)
    app.router.add_get("/wechat", account.verify_url)
    app.router.add_post("/wechat", account.receive)
