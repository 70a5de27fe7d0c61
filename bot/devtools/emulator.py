"""A stand-in for the WeChat platform's side of the callback, for tests and benchmarks.

It builds what the platform sends — signed URLs, plaintext or AES-encrypted XML — and checks what
comes back: the reply's signature, its decryption, and its AppID. Pure functions plus a small class,
no I/O: callers post the request with whatever HTTP client they use.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, Any]) -> str:
    body = "".join(
        f"<{name}>{value}</{name}>" if isinstance(value, int | float) else f"<{name}>{cdata(str(value))}</{name}>"
        for name, value in fields.items()
    )
    return f"<xml>{body}</xml>"


def text_fields(openid: str, text: str, *, msg_id: int | None = None, to: str = "gh_lvzhi",
                create_time: int | None = None) -> dict[str, Any]:
    return {"ToUserName": to, "FromUserName": openid, "CreateTime": create_time or int(time.time()),
            "MsgType": "text", "Content": text, "MsgId": msg_id or next(_msg_ids)}


def event_fields(openid: str, event: str, *, key: str | None = None, to: str = "gh_lvzhi",
                 create_time: int | None = None, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"ToUserName": to, "FromUserName": openid, "CreateTime": create_time or int(time.time()),
                              "MsgType": "event", "Event": event}
    if key is not None:
        fields["EventKey"] = key
    fields.update(extra)
    return fields


@dataclass
class Request:
    params: dict[str, str]
    body: str


@dataclass
class Answer:
    """A callback's reply, decrypted and parsed (``fields`` is empty for "success")."""

    status: int
    raw: str
    fields: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.fields.get("Content", ""))


class OfficialAccountPlatform:
    """Plays the Official Account platform in mode ``plain``, ``compatible`` or ``safe``."""

    def __init__(self, token: str, app_id: str, aes_key: str = "", mode: str = "safe") -> None:
        self.token, self.app_id, self.mode = token, app_id, mode
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    def url_check(self, echostr: str = "echo-123") -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        return {"signature": sha1_signature(self.token, timestamp, nonce), "timestamp": timestamp,
                "nonce": nonce, "echostr": echostr}

    def request(self, fields: dict[str, Any], *, timestamp: str | None = None, nonce: str | None = None) -> Request:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(5)
        params = {"signature": sha1_signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                  "openid": str(fields.get("FromUserName", ""))}
        plain = message_xml(fields)
        if self.mode == "plain":
            return Request(params, plain)
        assert self.crypto is not None, "encrypted modes need an EncodingAESKey"
        envelope = xmltodict.parse(self.crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        encrypt = envelope["Encrypt"]
        params.update(encrypt_type="aes", msg_signature=sha1_signature(self.token, timestamp, nonce, encrypt))
        if self.mode == "compatible":
            body = plain.replace("</xml>", f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>")
        else:
            body = f"<xml><ToUserName>{cdata(str(fields.get('ToUserName', '')))}</ToUserName>" \
                   f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        return Request(params, body)

    def read_answer(self, status: int, raw: str, encrypted: bool | None = None) -> Answer:
        """Check and open a reply as the platform would (signature, AES, AppID)."""
        if status != 200 or raw in ("", "success"):
            return Answer(status, raw, {})
        encrypted = self.mode != "plain" if encrypted is None else encrypted
        xml = raw
        if encrypted:
            assert self.crypto is not None
            envelope = xmltodict.parse(raw)["xml"]
            xml = self.crypto.decrypt_message(raw, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        return Answer(status, raw, xmltodict.parse(xml)["xml"])


class WecomPlatform:
    """Plays WeCom's side of a self-built app's callback (always encrypted)."""

    def __init__(self, token: str, corp_id: str, aes_key: str) -> None:
        self.token, self.corp_id = token, corp_id
        self.crypto = WecomCrypto(token, aes_key, corp_id)

    def url_check(self, echostr: str = "echo-wecom") -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        envelope = xmltodict.parse(self.crypto.encrypt_message(echostr, nonce, timestamp))["xml"]
        encrypted = envelope["Encrypt"]
        return {"msg_signature": sha1_signature(self.token, timestamp, nonce, encrypted), "timestamp": timestamp,
                "nonce": nonce, "echostr": encrypted}

    def request(self, fields: dict[str, Any]) -> Request:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        fields = {"AgentID": 1000002, **fields}
        envelope = xmltodict.parse(self.crypto.encrypt_message(message_xml(fields), nonce, timestamp))["xml"]
        encrypt = envelope["Encrypt"]
        params = {"msg_signature": sha1_signature(self.token, timestamp, nonce, encrypt), "timestamp": timestamp,
                  "nonce": nonce}
        body = f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName><AgentID>{escape('1000002')}</AgentID>" \
               f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        return Request(params, body)

    def read_answer(self, status: int, raw: str) -> Answer:
        if status != 200 or raw in ("", "success"):
            return Answer(status, raw, {})
        envelope = xmltodict.parse(raw)["xml"]
        xml = self.crypto.decrypt_message(raw, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        return Answer(status, raw, xmltodict.parse(xml)["xml"])
