"""Async clients for the Official Account (公众号) and WeCom (企业微信) APIs, on aiohttp.

wechatpy's clients are synchronous and must never run on the event loop; these speak the documented
endpoints directly. ``api_base`` comes from the settings, so tests and the simulator point it at
:mod:`bot.devtools.mock_platform`. Every error answer becomes a typed :mod:`bot.outbound.errors` exception that
keeps the platform's code; a token error (40001/40014/42001) refreshes the shared token once and retries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

import aiohttp

from bot.outbound.errors import (
    NotSubscribedError,
    OutOfWindowError,
    PermanentError,
    QuotaError,
    TokenError,
    TransientError,
    WechatError,
    error_for,
)
from bot.outbound.message import Reply
from bot.outbound.tokens import TokenStore

if TYPE_CHECKING:
    from bot.infra.services import Services

__all__ = [
    "NotSubscribedError",
    "OutOfWindowError",
    "PermanentError",
    "QuotaError",
    "TokenError",
    "TransientError",
    "WechatClient",
    "WechatError",
    "WecomClient",
    "wechat_client",
    "wecom_client",
]

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=15)
TEMPLATE_VALUE_CHARS = 20  # each template keyword value since 2023
TEXT_BYTES = 2048  # WeCom app / appchat / robot text
MARKDOWN_BYTES = 4096  # WeCom robot markdown
WECOM_DUPLICATE_CHECK_SECONDS = 4 * 3600  # the longest interval WeCom accepts
BATCH_TAGGING_SIZE = 50
QR_TEMPORARY_MAX_SECONDS = 2_592_000

# Which template keywords carry the title and the body. A "待办任务提醒"-style template with two
# ``thing`` keywords; a reply may name its own fields in ``reply.extra["template_data"]``.
TEMPLATE_TITLE_KEY = "thing1"
TEMPLATE_BODY_KEY = "thing2"

HttpProvider = Callable[[], aiohttp.ClientSession]


# --- shared plumbing --------------------------------------------------------------------------------


class RequestOptions(TypedDict, total=False):
    body: dict[str, Any] | None  # sent as JSON
    params: dict[str, str] | None  # the query string
    raw: bool  # the answer's bytes (a media download) instead of its JSON


class _ApiClient:
    token_name: str

    def __init__(self, http: HttpProvider, api_base: str, tokens: TokenStore) -> None:
        self._http = http
        self.api_base = api_base.rstrip("/")
        self.tokens = tokens

    async def access_token(self) -> str:
        return await self.tokens.get(self.token_name, self._fetch_token)

    async def refresh_ahead(self, margin_seconds: int) -> str:
        """Make sure the shared token stays valid for ``margin_seconds`` more (the housekeeping job)."""
        return await self.tokens.get(
            self.token_name, self._fetch_token, margin=timedelta(seconds=margin_seconds)
        )

    token_path: str  # the platform's token endpoint

    def _token_params(self) -> dict[str, str]:
        raise NotImplementedError

    async def _fetch_token(self) -> tuple[str, int]:
        answer = await self.request("GET", self.token_path, params=self._token_params())
        return answer["access_token"], int(answer.get("expires_in", 7200))

    async def call(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Any:
        """Call an endpoint that needs the access token (``options`` as for :meth:`request`); on a token error
        refresh once and retry."""
        params = options.pop("params", None) or {}
        token = await self.access_token()
        try:
            return await self.request(method, path, params={**params, "access_token": token}, **options)
        except TokenError:
            # The platform refused the request, so nothing was sent: retrying cannot duplicate.
            token = await self.tokens.replace(self.token_name, token, self._fetch_token)
            return await self.request(method, path, params={**params, "access_token": token}, **options)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """One HTTP call; the decoded JSON (or the bytes, for ``raw`` downloads), else a typed error."""
        url = path if path.startswith("http") else f"{self.api_base}{path}"
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
        try:
            async with self._http().request(
                method, url, params=params, data=data, headers=headers, timeout=REQUEST_TIMEOUT
            ) as response:
                if response.status >= 500:
                    # A gateway timeout may hide a request the platform did process.
                    raise TransientError(None, f"HTTP {response.status}", uncertain=response.status == 504)
                content = await response.read()
                if raw and not _looks_like_json(response, content):
                    return content
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(None, f"cannot connect: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransientError(None, f"{type(exc).__name__}: {exc}", uncertain=True) from exc
        return _decode(content)


def _looks_like_json(response: aiohttp.ClientResponse, content: bytes) -> bool:
    return response.content_type in ("application/json", "text/plain") and content[:1] == b"{"


def _decode(content: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(content)
    except ValueError as exc:
        raise TransientError(None, "the platform answered with something that is not JSON") from exc
    code = int(answer.get("errcode", 0) or 0)
    if code != 0:
        raise error_for(code, str(answer.get("errmsg", "")))
    return answer


def cut_chars(value: str, limit: int) -> str:
    """``value`` in at most ``limit`` characters, an ellipsis showing that something was cut."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def cut_bytes(value: str, limit: int) -> str:
    """``value`` in at most ``limit`` UTF-8 bytes, never splitting a character."""
    encoded = value.encode()
    if len(encoded) <= limit:
        return value
    return encoded[: limit - 3].decode(errors="ignore") + "…"


def client_msg_id(idempotency_key: str) -> str:
    """The template message dedupe id for a delivery: stable across retries and processes."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


# --- Official Account -------------------------------------------------------------------------------


class WechatClient(_ApiClient):
    """The Official Account API (``settings.wechat``)."""

    def __init__(
        self,
        http: HttpProvider,
        *,
        api_base: str,
        app_id: str,
        app_secret: str,
        tokens: TokenStore,
        template_id: str = "",
    ) -> None:
        super().__init__(http, api_base, tokens)
        self.app_id = app_id
        self._app_secret = app_secret
        self.template_id = template_id
        self.token_name = f"mp:{app_id}"

    token_path = "/cgi-bin/token"

    def _token_params(self) -> dict[str, str]:
        return {"grant_type": "client_credential", "appid": self.app_id, "secret": self._app_secret}

    async def send_custom(self, openid: str, reply: Reply) -> dict[str, Any]:
        """A customer-service message: only inside the member's window (45015 / 45047 otherwise)."""
        return await self.call(
            "POST", "/cgi-bin/message/custom/send", body=custom_message_body(openid, reply)
        )

    async def send_template(
        self,
        openid: str,
        data: dict[str, str],
        *,
        template_id: str | None = None,
        url: str = "",
        dedupe_id: str = "",
    ) -> dict[str, Any]:
        """A template message; each keyword value is cut to 20 characters; ``dedupe_id`` becomes
        ``client_msg_id`` (the platform drops a repeat within 10 minutes)."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id or self.template_id,
            "data": {key: {"value": cut_chars(value, TEMPLATE_VALUE_CHARS)} for key, value in data.items()},
        }
        if url:
            body["url"] = url
        if dedupe_id:
            body["client_msg_id"] = dedupe_id
        return await self.call("POST", "/cgi-bin/message/template/send", body=body)

    async def mass_send_to_openids(
        self, openids: list[str], text: str, *, dedupe_id: str = ""
    ) -> dict[str, Any]:
        """群发 to a list of openids (service accounts; each member receives at most 4 a month)."""
        if not 2 <= len(openids) <= 10_000:
            raise ValueError("a mass send by openid needs between 2 and 10,000 openids")
        body = {"touser": openids, "msgtype": "text", "text": {"content": text}}
        return await self.call("POST", "/cgi-bin/message/mass/send", body=_with_clientmsgid(body, dedupe_id))

    async def mass_send_to_tag(self, tag_id: int, text: str, *, dedupe_id: str = "") -> dict[str, Any]:
        body = {
            "filter": {"is_to_all": False, "tag_id": tag_id},
            "msgtype": "text",
            "text": {"content": text},
        }
        return await self.call(
            "POST", "/cgi-bin/message/mass/sendall", body=_with_clientmsgid(body, dedupe_id)
        )

    async def create_tag(self, name: str) -> int:
        answer = await self.call("POST", "/cgi-bin/tags/create", body={"tag": {"name": name}})
        return int(answer["tag"]["id"])

    async def list_tags(self) -> list[dict[str, Any]]:
        answer = await self.call("GET", "/cgi-bin/tags/get")
        return list(answer.get("tags", []))

    async def tag_members(self, tag_id: int, openids: Iterable[str]) -> None:
        """Tag members, 50 openids per call as the platform requires."""
        openids = list(openids)
        for start in range(0, len(openids), BATCH_TAGGING_SIZE):
            chunk = openids[start : start + BATCH_TAGGING_SIZE]
            await self.call(
                "POST", "/cgi-bin/tags/members/batchtagging", body={"openid_list": chunk, "tagid": tag_id}
            )

    async def create_qrcode(self, scene: str, *, expire_seconds: int | None = None) -> dict[str, Any]:
        """A parametric QR code: temporary for ``expire_seconds`` (≤ 30 days), permanent when None.
        Returns the platform's ``ticket``, ``url`` and ``expire_seconds``."""
        if not 1 <= len(scene) <= 64:
            raise ValueError("a QR scene string has 1 to 64 characters")
        if expire_seconds is None:
            body: dict[str, Any] = {"action_name": "QR_LIMIT_STR_SCENE"}
        else:
            body = {
                "action_name": "QR_STR_SCENE",
                "expire_seconds": min(max(expire_seconds, 60), QR_TEMPORARY_MAX_SECONDS),
            }
        body["action_info"] = {"scene": {"scene_str": scene}}
        return await self.call("POST", "/cgi-bin/qrcode/create", body=body)

    async def create_menu(self, buttons: list[dict[str, Any]]) -> None:
        check_menu(buttons)
        await self.call("POST", "/cgi-bin/menu/create", body={"button": buttons})

    async def download_media(self, media_id: str) -> bytes:
        """A temporary media file (a member's image or voice) by its MediaId."""
        return await self.call("GET", "/cgi-bin/media/get", params={"media_id": media_id}, raw=True)


def custom_message_body(openid: str, reply: Reply) -> dict[str, Any]:
    if reply.article is not None:
        article = reply.article
        return {
            "touser": openid,
            "msgtype": "news",
            "news": {
                "articles": [
                    {
                        "title": article.title,
                        "description": article.description,
                        "url": article.url,
                        "picurl": article.image_url,
                    }
                ]
            },
        }
    return {"touser": openid, "msgtype": "text", "text": {"content": reply.text}}


def template_fields(reply: Reply) -> tuple[dict[str, str], str]:
    """The template keyword values and link for a reply: its own ``template_data`` if it has some, else the
    title (an article's title, or the text's first line) and the rest of the text."""
    own = reply.extra.get("template_data")
    url = str(reply.extra.get("url") or (reply.article.url if reply.article else ""))
    if isinstance(own, dict):
        return {str(key): str(value) for key, value in own.items()}, url
    if reply.article is not None:
        title, body = reply.article.title, reply.article.description
    else:
        title, _, body = reply.text.strip().partition("\n")
    return {TEMPLATE_TITLE_KEY: title, TEMPLATE_BODY_KEY: body.strip() or title}, url


def check_menu(buttons: list[dict[str, Any]]) -> None:
    """The platform's menu limits: ≤3 top items × ≤5 sub-items, names ≤16 (sub ≤60) bytes, keys ≤128 bytes."""
    if not 1 <= len(buttons) <= 3:
        raise ValueError("a menu has 1 to 3 top-level items")
    for button in buttons:
        _check_button(button, name_bytes=16)
        subs = button.get("sub_button") or []
        if len(subs) > 5:
            raise ValueError(f"menu item {button.get('name')!r} has more than 5 sub-items")
        for sub in subs:
            _check_button(sub, name_bytes=60)


def _check_button(button: dict[str, Any], *, name_bytes: int) -> None:
    name = str(button.get("name", ""))
    if not name or len(name.encode()) > name_bytes:
        raise ValueError(f"menu item name {name!r} must have 1 to {name_bytes} bytes")
    if len(str(button.get("key", "")).encode()) > 128:
        raise ValueError(f"menu item {name!r}: key longer than 128 bytes")


def _with_clientmsgid(body: dict[str, Any], dedupe_id: str) -> dict[str, Any]:
    return {**body, "clientmsgid": dedupe_id} if dedupe_id else body


# --- WeCom ------------------------------------------------------------------------------------------


class WecomClient(_ApiClient):
    """The WeCom self-built app API (``settings.wecom``) and group robot webhooks."""

    def __init__(
        self,
        http: HttpProvider,
        *,
        api_base: str,
        corp_id: str,
        agent_id: int,
        secret: str,
        tokens: TokenStore,
    ) -> None:
        super().__init__(http, api_base, tokens)
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self.token_name = f"wecom:{corp_id}:{agent_id}"

    token_path = "/cgi-bin/gettoken"

    def _token_params(self) -> dict[str, str]:
        return {"corpid": self.corp_id, "corpsecret": self._secret}

    async def send_app_message(
        self,
        userids: list[str],
        reply: Reply,
        *,
        duplicate_check_seconds: int = WECOM_DUPLICATE_CHECK_SECONDS,
    ) -> dict[str, Any]:
        """An app message to ≤1000 members; WeCom drops an identical message repeated within
        ``duplicate_check_seconds`` (at most 4 hours), which makes a retry after a crash safe."""
        if not 1 <= len(userids) <= 1000:
            raise ValueError("an app message goes to 1 to 1000 members")
        body = {
            "touser": "|".join(userids),
            "agentid": self.agent_id,
            **_wecom_content(reply),
            "enable_duplicate_check": 1,
            "duplicate_check_interval": duplicate_check_seconds,
        }
        return await self.call("POST", "/cgi-bin/message/send", body=body)

    async def send_appchat(self, chat_id: str, reply: Reply) -> dict[str, Any]:
        """A message to an app group chat (created by the app; no dedupe on the platform)."""
        return await self.call(
            "POST", "/cgi-bin/appchat/send", body={"chatid": chat_id, **_wecom_content(reply)}
        )

    async def send_webhook(self, key: str, reply: Reply) -> dict[str, Any]:
        """A group robot message (20 a minute per robot; push only; no token, the key is the secret)."""
        return await self.request(
            "POST", "/cgi-bin/webhook/send", params={"key": key}, body=_robot_content(reply)
        )


def _wecom_content(reply: Reply) -> dict[str, Any]:
    if reply.article is not None:
        article = reply.article
        return {
            "msgtype": "news",
            "news": {
                "articles": [
                    {
                        "title": article.title,
                        "description": article.description,
                        "url": article.url,
                        "picurl": article.image_url,
                    }
                ]
            },
        }
    markdown = reply.extra.get("markdown")
    if markdown:
        return {"msgtype": "markdown", "markdown": {"content": cut_bytes(str(markdown), TEXT_BYTES)}}
    return {"msgtype": "text", "text": {"content": cut_bytes(reply.text, TEXT_BYTES)}}


def _robot_content(reply: Reply) -> dict[str, Any]:
    markdown = reply.extra.get("markdown")
    if markdown:
        return {"msgtype": "markdown", "markdown": {"content": cut_bytes(str(markdown), MARKDOWN_BYTES)}}
    text: dict[str, Any] = {"content": cut_bytes(reply.plain_text, TEXT_BYTES)}
    for field in ("mentioned_list", "mentioned_mobile_list"):
        if reply.extra.get(field):
            text[field] = list(reply.extra[field])
    return {"msgtype": "text", "text": text}


# --- one client of each kind per process ------------------------------------------------------------


Part = TypeVar("Part")


def token_store(services: Services) -> TokenStore:
    """The process's token cache over the shared ``access_token`` table."""
    return _one_per_process(services, "outbound.tokens", lambda: TokenStore(services.db, services.clock))


def wechat_client(services: Services) -> WechatClient:
    def build() -> WechatClient:
        settings = services.settings.wechat
        return WechatClient(lambda: _http(services), api_base=settings.api_base, app_id=settings.app_id,
                            app_secret=settings.app_secret.get_secret_value(), tokens=token_store(services),
                            template_id=settings.template_id)

    return _one_per_process(services, "outbound.wechat", build)


def wecom_client(services: Services) -> WecomClient:
    def build() -> WecomClient:
        settings = services.settings.wecom
        return WecomClient(lambda: _http(services), api_base=settings.api_base, corp_id=settings.corp_id,
                           agent_id=settings.agent_id, secret=settings.secret.get_secret_value(),
                           tokens=token_store(services))

    return _one_per_process(services, "outbound.wecom", build)


def _one_per_process(services: Services, key: str, build: Callable[[], Part]) -> Part:
    """One client (or token cache) per running lvzhi, kept in ``services.extras``: they hold its tokens."""
    if key not in services.extras:
        services.extras[key] = build()
    found: Part = services.extras[key]
    return found


def _http(services: Services) -> aiohttp.ClientSession:
    if services.http is None:
        raise RuntimeError("services.http is not open (the app opens it at startup)")
    return services.http
