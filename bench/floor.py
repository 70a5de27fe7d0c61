"""The protocol floor: what every Python WeChat bot must do per message, and nothing else.

aiohttp + wechatpy, safe mode: verify the URL signature, check the message signature and decrypt,
parse, render a text reply, encrypt it. No database, no logging per message, no routing. lvzhi's
callback is measured against this server in the same run (``bench/callback.py``).

    python -m bench.floor --port 8090 --token T --app-id wx... --aes-key KEY43
"""

from __future__ import annotations

import argparse

from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

FLOOR_PREFIX = "收到："  # the floor answers every text with this prefix and the text itself


def build_app(token: str, app_id: str, aes_key: str) -> web.Application:
    crypto = WeChatCrypto(token, aes_key, app_id)

    async def receive(request: web.Request) -> web.Response:
        query = request.query
        try:
            check_signature(token, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
            body = await request.read()
            xml = crypto.decrypt_message(body, query.get("msg_signature", ""), query["timestamp"], query["nonce"])
        except (InvalidSignatureException, Exception):
            raise web.HTTPForbidden(text="bad request") from None
        message = parse_message(xml)
        reply = TextReply(message=message, content=FLOOR_PREFIX + (getattr(message, "content", "") or "")).render()
        return web.Response(
            text=crypto.encrypt_message(reply, query["nonce"], query["timestamp"]), content_type="application/xml"
        )

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/wechat", receive)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--aes-key", required=True)
    args = parser.parse_args()
    web.run_app(
        build_app(args.token, args.app_id, args.aes_key), host=args.host, port=args.port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
