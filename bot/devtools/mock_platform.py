"""A mock of the WeChat Official Account and WeCom APIs that behaves like the documented platform.

Used by the tests (on loopback, through :class:`aiohttp.test_utils.TestServer`), by the benchmark, and
by developers (``lvzhi dev mock-wechat``, then point ``wechat.api_base`` / ``wecom.api_base`` at it).

What it enforces, from ../shared/WECHAT.md:

* access tokens live 7200 s; fetching a new one retires the previous after a 5-minute overlap;
  a retired, expired or revoked token gets 40001 (42001 once expired);
* customer-service messages: 5 within 48 h after a member's message, 3 within 1 minute after a click,
  follow or scan; 45047 over the count, 45015 outside any window (see :mod:`bot.outbound.window`);
* 43004 for members who unfollowed; template keyword values truncated to 20 characters;
  ``client_msg_id`` dedupes template messages for 10 minutes;
* WeCom app messages: ``enable_duplicate_check`` drops an identical message within the interval; more than
  30 messages a minute to one member are silently dropped; robots allow 20 messages a minute;
* parametric QR codes: scene strings of 1–64 characters, 100,000 creations a day (45009 beyond,
  ``qr_daily_limit`` lowers it); answers ``ticket``, ``url`` and, for temporary ones, ``expire_seconds``.

The platform learns about a member's interactions from its own callbacks; the mock has to be told:
:meth:`MockWechat.record_interaction` (or ``POST /mock/interaction``). Knobs: ``latency`` (seconds per
call), :meth:`MockWechat.fail_next` (inject -1, 45009, 40001 … or an HTTP status for the next N calls),
:meth:`MockWechat.unsubscribe`, :meth:`MockWechat.revoke_tokens`. Everything received is in ``requests``;
what reached a member (after dedupe and drops) is in ``sent``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.infra.clock import Clock
from bot.outbound.window import (
    EVENT_KINDS,
    EVENT_WINDOW,
    EVENT_WINDOW_COUNT,
    MESSAGE_WINDOW,
    MESSAGE_WINDOW_COUNT,
)

TOKEN_LIFETIME = 7200
TOKEN_OVERLAP = timedelta(minutes=5)
TEMPLATE_DEDUPE = timedelta(minutes=10)
TEMPLATE_VALUE_CHARS = 20
WECOM_MEMBER_PER_MINUTE = 30
ROBOT_PER_MINUTE = 20
QR_PER_DAY = 100_000  # parametric QR code creations a day
QR_ACTIONS = frozenset({"QR_STR_SCENE", "QR_LIMIT_STR_SCENE"})  # the string scenes lvzhi uses

MOCK_KEY: web.AppKey[MockWechat] = web.AppKey("mock_wechat")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: datetime
    monotonic: float


@dataclass
class Sent:
    """A message that reached a member or a group."""

    kind: str  # custom | template | mass | app | appchat | robot
    to: str
    body: dict[str, Any]
    at: datetime


@dataclass
class _Token:
    owner: str  # "mp" | "wecom"
    expires_at: datetime
    retired_at: datetime | None = None
    revoked: bool = False


@dataclass
class _Window:
    message_at: datetime | None = None
    message_sent: int = 0
    event_at: datetime | None = None
    event_sent: int = 0


@dataclass
class _Failure:
    code: int
    remaining: int
    path: str | None
    http_status: int


@dataclass
class MockWechat:
    clock: Clock = field(default_factory=Clock)
    latency: float = 0.0
    app_id: str = "wx-mock-app"
    app_secret: str = "mock-app-secret"
    corp_id: str = "ww-mock-corp"
    corp_secret: str = "mock-corp-secret"
    requests: list[RecordedRequest] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    token_fetches: Counter[str] = field(default_factory=Counter)
    deduped: int = 0  # repeats dropped by client_msg_id / duplicate check
    dropped: int = 0  # WeCom messages over the per-member rate, silently lost
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    menu: list[dict[str, Any]] | None = None
    tags: dict[int, str] = field(default_factory=dict)
    tagged: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    qrcodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    qr_daily_limit: int = QR_PER_DAY
    _qr_made: Counter[str] = field(default_factory=Counter)  # creations per day (the mock clock's date)
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _windows: dict[str, _Window] = field(default_factory=lambda: defaultdict(_Window))
    _unsubscribed: set[str] = field(default_factory=set)
    _failures: list[_Failure] = field(default_factory=list)
    _template_ids: dict[str, datetime] = field(default_factory=dict)
    _wecom_recent: dict[str, datetime] = field(default_factory=dict)
    _rate: dict[str, deque[datetime]] = field(default_factory=lambda: defaultdict(deque))
    in_flight: int = 0  # requests received and not yet answered
    _processing: set[asyncio.Future[Any]] = field(default_factory=set)
    _arrived: asyncio.Condition | None = None

    # --- knobs ------------------------------------------------------------------------------------

    def record_interaction(self, openid: str, kind: str, at: datetime | None = None) -> None:
        """What the platform learns from its callback: ``kind`` is message / click / subscribe / scan."""
        window, at = self._windows[openid], at or self.clock.now()
        if kind == "message":
            window.message_at, window.message_sent = at, 0
        elif kind in EVENT_KINDS:
            window.event_at, window.event_sent = at, 0
            if kind == "subscribe":
                self._unsubscribed.discard(openid)
        else:
            raise ValueError(f"unknown interaction kind {kind!r}")

    def unsubscribe(self, openid: str) -> None:
        self._unsubscribed.add(openid)

    def fail_next(
        self, code: int, times: int = 1, *, path: str | None = None, http_status: int = 200
    ) -> None:
        """Answer the next ``times`` calls (to ``path``, or to any API but the token endpoints) with
        ``errcode`` ``code`` — or with HTTP ``http_status`` when that is not 200."""
        self._failures.append(_Failure(code, times, path, http_status))

    def revoke_tokens(self) -> None:
        """Invalidate every token handed out (as when the secret is reset): the next call gets 40001."""
        for token in self._tokens.values():
            token.revoked = True

    def add_media(self, media_id: str, content: bytes, content_type: str = "image/jpeg") -> None:
        self.media[media_id] = (content, content_type)

    # --- what happened ------------------------------------------------------------------------------

    def sent_to(self, recipient: str, kind: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.to == recipient and (kind is None or s.kind == kind)]

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    async def wait_for_requests(self, count: int, path: str | None = None) -> None:
        """Wait (on a condition, not a timer) until ``count`` requests (to ``path``) have arrived."""
        condition = self._condition()
        async with condition:
            await condition.wait_for(lambda: len(self.requests_to(path) if path else self.requests) >= count)

    async def wait_until_idle(self) -> None:
        """Wait until every request received so far has been answered (or abandoned by its client)."""
        condition = self._condition()
        async with condition:
            await condition.wait_for(lambda: self.in_flight == 0)

    async def _notify(self) -> None:
        condition = self._condition()
        async with condition:
            condition.notify_all()

    def stats(self) -> dict[str, Any]:
        per_recipient = Counter((s.kind, s.to) for s in self.sent)
        return {
            "requests": len(self.requests),
            "requests_by_path": dict(Counter(r.path for r in self.requests)),
            "sent": len(self.sent),
            "sent_by_kind": dict(Counter(s.kind for s in self.sent)),
            "distinct_recipients": len(per_recipient),
            "duplicates": sum(n - 1 for n in per_recipient.values()),
            "deduped": self.deduped,
            "dropped": self.dropped,
            "token_fetches": dict(self.token_fetches),
            "peak_sends_per_second": self.peak_rate(),
        }

    def peak_rate(self, window_seconds: float = 1.0) -> int:
        """The most send requests that arrived within any ``window_seconds`` (real time)."""
        times = sorted(r.monotonic for r in self.requests if not r.path.endswith("token"))
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window_seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def _condition(self) -> asyncio.Condition:
        if self._arrived is None:
            self._arrived = asyncio.Condition()
        return self._arrived

    # --- request plumbing ---------------------------------------------------------------------------

    async def record(self, request: web.Request) -> RecordedRequest:
        body: Any = None
        raw = await request.read()  # cached by aiohttp: the handlers read it again
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        entry = RecordedRequest(
            request.method, request.path, dict(request.query), body, self.clock.now(), time.monotonic()
        )
        self.requests.append(entry)
        await self._notify()
        return entry

    def injected_failure(self, path: str) -> _Failure | None:
        for failure in self._failures:
            applies = failure.path == path if failure.path else not path.endswith(("/token", "/gettoken"))
            if applies and failure.remaining > 0:
                failure.remaining -= 1
                return failure
        return None

    def issue_token(self, owner: str) -> str:
        now = self.clock.now()
        for token in self._tokens.values():
            if token.owner == owner and token.retired_at is None:
                token.retired_at = now
        value = f"{owner}-{secrets.token_hex(12)}"
        self._tokens[value] = _Token(owner, now + timedelta(seconds=TOKEN_LIFETIME))
        self.token_fetches[owner] += 1
        return value

    def token_error(self, value: str, owner: str) -> dict[str, Any] | None:
        token, now = self._tokens.get(value), self.clock.now()
        if token is None or token.owner != owner or token.revoked:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if now >= token.expires_at:
            return _error(42001, "access_token expired")
        if token.retired_at is not None and now >= token.retired_at + TOKEN_OVERLAP:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        return None

    def deliver(self, kind: str, to: str, body: dict[str, Any]) -> None:
        self.sent.append(Sent(kind, to, body, self.clock.now()))

    # --- Official Account rules -----------------------------------------------------------------------

    def custom_send(self, body: dict[str, Any]) -> dict[str, Any]:
        openid = str(body.get("touser", ""))
        if openid in self._unsubscribed:
            return _error(43004, "require subscribe")
        window, now = self._windows[openid], self.clock.now()
        message_open = window.message_at is not None and now < window.message_at + MESSAGE_WINDOW
        event_open = window.event_at is not None and now < window.event_at + EVENT_WINDOW
        if message_open and window.message_sent < MESSAGE_WINDOW_COUNT:
            window.message_sent += 1
        elif event_open and window.event_sent < EVENT_WINDOW_COUNT:
            window.event_sent += 1
        elif message_open or event_open:
            return _error(45047, "out of send limit")
        else:
            return _error(45015, "response out of time limit or subscription is canceled")
        self.deliver("custom", openid, body)
        return _ok()

    def template_send(self, body: dict[str, Any]) -> dict[str, Any]:
        openid = str(body.get("touser", ""))
        if not body.get("template_id"):
            return _error(40037, "invalid template_id")
        if openid in self._unsubscribed:
            return _error(43004, "require subscribe")
        now, dedupe_id = self.clock.now(), str(body.get("client_msg_id") or "")
        if dedupe_id:
            first = self._template_ids.get(dedupe_id)
            if first is not None and now < first + TEMPLATE_DEDUPE:
                self.deduped += 1
                return {**_ok(), "msgid": _msgid(dedupe_id)}
            self._template_ids[dedupe_id] = now
        data = {
            key: {"value": str(item.get("value", ""))[:TEMPLATE_VALUE_CHARS]}
            for key, item in (body.get("data") or {}).items()
        }
        self.deliver("template", openid, {**body, "data": data})
        return {**_ok(), "msgid": _msgid(dedupe_id or secrets.token_hex(4))}

    # --- WeCom rules ----------------------------------------------------------------------------------

    def app_send(self, body: dict[str, Any]) -> dict[str, Any]:
        now, users = self.clock.now(), [u for u in str(body.get("touser", "")).split("|") if u]
        if not users:
            return _error(40003, "invalid touser")
        if body.get("enable_duplicate_check"):
            interval = timedelta(seconds=int(body.get("duplicate_check_interval") or 1800))
            content = json.dumps(
                {
                    k: v
                    for k, v in body.items()
                    if k not in ("enable_duplicate_check", "duplicate_check_interval")
                },
                sort_keys=True,
                ensure_ascii=False,
            )
            last = self._wecom_recent.get(content)
            if last is not None and now < last + interval:
                self.deduped += 1
                return {**_ok(), "invaliduser": "", "msgid": _msgid(content)}
            self._wecom_recent[content] = now
        for user in users:
            if self._over_rate(f"app:{user}", WECOM_MEMBER_PER_MINUTE):
                self.dropped += 1  # the platform drops these without telling anyone
            else:
                self.deliver("app", user, body)
        return {**_ok(), "invaliduser": "", "msgid": _msgid(secrets.token_hex(4))}

    def robot_send(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        if not key:
            return _error(93000, "invalid webhook url")
        if self._over_rate(f"robot:{key}", ROBOT_PER_MINUTE):
            return _error(45009, "api freq out of limit")
        self.deliver("robot", key, body)
        return _ok()

    def _over_rate(self, bucket: str, per_minute: int) -> bool:
        now, recent = self.clock.now(), self._rate[bucket]
        while recent and recent[0] <= now - timedelta(minutes=1):
            recent.popleft()
        if len(recent) >= per_minute:
            return True
        recent.append(now)
        return False


def _ok() -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok"}


def _error(code: int, message: str) -> dict[str, Any]:
    return {"errcode": code, "errmsg": message}


def _msgid(seed: str) -> int:
    return int.from_bytes(seed.encode()[:7].ljust(7, b"0"), "big")


# --- the aiohttp app ---------------------------------------------------------------------------------


def create_mock_app(
    clock: Clock | None = None, *, mock: MockWechat | None = None, latency: float = 0.0
) -> web.Application:
    """The mock API as an aiohttp app; its :class:`MockWechat` is ``app[MOCK_KEY]``."""
    mock = mock or MockWechat(clock=clock or Clock(), latency=latency)
    app = web.Application(middlewares=[_platform_middleware])
    app[MOCK_KEY] = mock
    app.router.add_get("/cgi-bin/token", _mp_token)
    app.router.add_post("/cgi-bin/stable_token", _mp_stable_token)
    app.router.add_post("/cgi-bin/message/custom/send", _with_token("mp", lambda m, r, b: m.custom_send(b)))
    app.router.add_post(
        "/cgi-bin/message/template/send", _with_token("mp", lambda m, r, b: m.template_send(b))
    )
    app.router.add_post("/cgi-bin/message/mass/send", _with_token("mp", _mass_send))
    app.router.add_post("/cgi-bin/message/mass/sendall", _with_token("mp", _mass_send_all))
    app.router.add_post("/cgi-bin/tags/create", _with_token("mp", _tag_create))
    app.router.add_get("/cgi-bin/tags/get", _with_token("mp", _tag_list))
    app.router.add_post("/cgi-bin/tags/members/batchtagging", _with_token("mp", _tag_members))
    app.router.add_post("/cgi-bin/qrcode/create", _with_token("mp", _qrcode_create))
    app.router.add_post("/cgi-bin/menu/create", _with_token("mp", _menu_create))
    app.router.add_get("/cgi-bin/media/get", _media_get)
    app.router.add_get("/cgi-bin/gettoken", _wecom_token)
    app.router.add_post("/cgi-bin/message/send", _with_token("wecom", lambda m, r, b: m.app_send(b)))
    app.router.add_post("/cgi-bin/appchat/send", _with_token("wecom", _appchat_send))
    app.router.add_post("/cgi-bin/webhook/send", _robot)
    app.router.add_post("/mock/interaction", _control_interaction)
    app.router.add_post("/mock/unsubscribe", _control_unsubscribe)
    app.router.add_post("/mock/fail", _control_fail)
    app.router.add_post("/mock/latency", _control_latency)
    app.router.add_get("/mock/stats", _control_stats)
    app.router.add_get("/mock/sent", _control_sent)
    return app


@web.middleware
async def _platform_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Record, wait the configured latency, then answer an injected failure or the real handler."""
    if request.path.startswith("/mock/"):
        return await handler(request)
    mock = request.app[MOCK_KEY]
    await request.read()  # the whole request has reached the platform
    mock.in_flight += 1
    # Like the real platform, finish what was received even if the client goes away (a crash, a timeout):
    # the shielded task runs on when aiohttp cancels this handler.
    processing = asyncio.ensure_future(_process(mock, request, handler))
    mock._processing.add(processing)  # a strong reference while it outlives a cancelled handler
    processing.add_done_callback(mock._processing.discard)
    return await asyncio.shield(processing)


async def _process(mock: MockWechat, request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        await mock.record(request)
        if mock.latency > 0:
            await asyncio.sleep(mock.latency)  # simulated network + platform time, not synchronisation
        failure = mock.injected_failure(request.path)
        if failure is not None:
            if failure.http_status != 200:
                return web.Response(status=failure.http_status, text="injected failure")
            return web.json_response(_error(failure.code, "injected failure"))
        return await handler(request)
    finally:
        mock.in_flight -= 1
        await mock._notify()


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or {} (aiohttp caches the body the middleware already read)."""
    try:
        body = json.loads(await request.read())
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _with_token(owner: str, rule: Any) -> Any:
    async def handler(request: web.Request) -> web.Response:
        mock = request.app[MOCK_KEY]
        problem = mock.token_error(request.query.get("access_token", ""), owner)
        if problem is not None:
            return web.json_response(problem)
        body = await _json_body(request)
        return web.json_response(rule(mock, request, body))

    return handler


async def _mp_token(request: web.Request) -> web.Response:
    mock, query = request.app[MOCK_KEY], request.query
    if query.get("appid") != mock.app_id:
        return web.json_response(_error(40013, "invalid appid"))
    if query.get("secret") != mock.app_secret:
        return web.json_response(_error(40125, "invalid appsecret"))
    return web.json_response({"access_token": mock.issue_token("mp"), "expires_in": TOKEN_LIFETIME})


async def _mp_stable_token(request: web.Request) -> web.Response:
    mock, body = request.app[MOCK_KEY], await _json_body(request)
    if body.get("appid") != mock.app_id or body.get("secret") != mock.app_secret:
        return web.json_response(_error(40125, "invalid appid or appsecret"))
    return web.json_response({"access_token": mock.issue_token("mp"), "expires_in": TOKEN_LIFETIME})


async def _wecom_token(request: web.Request) -> web.Response:
    mock, query = request.app[MOCK_KEY], request.query
    if query.get("corpid") != mock.corp_id:
        return web.json_response(_error(40013, "invalid corpid"))
    if query.get("corpsecret") != mock.corp_secret:
        return web.json_response(_error(40001, "invalid secret"))
    token = mock.issue_token("wecom")
    return web.json_response({**_ok(), "access_token": token, "expires_in": TOKEN_LIFETIME})


def _mass_send(mock: MockWechat, _request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    openids = list(body.get("touser") or [])
    if len(openids) < 2:
        return _error(40130, "invalid openid list size, at least two openid")
    for openid in openids:
        if openid not in mock._unsubscribed:
            mock.deliver("mass", openid, body)
    return {**_ok(), "msg_id": len(mock.sent), "msg_data_id": len(mock.sent)}


def _mass_send_all(mock: MockWechat, _request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    tag_id = int((body.get("filter") or {}).get("tag_id", -1))
    if tag_id not in mock.tags:
        return _error(40050, "invalid tag id")
    for openid in sorted(mock.tagged[tag_id] - mock._unsubscribed):
        mock.deliver("mass", openid, body)
    return {**_ok(), "msg_id": len(mock.sent), "msg_data_id": len(mock.sent)}


def _tag_create(mock: MockWechat, _request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    name = str((body.get("tag") or {}).get("name", ""))
    if not name or len(name) > 30:
        return _error(45158, "tag name too long")
    if len(mock.tags) >= 100:
        return _error(45056, "too many tags")
    tag_id = 100 + len(mock.tags)
    mock.tags[tag_id] = name
    return {"tag": {"id": tag_id, "name": name}}


def _tag_list(mock: MockWechat, _request: web.Request, _body: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": [
            {"id": tag_id, "name": name, "count": len(mock.tagged[tag_id])}
            for tag_id, name in mock.tags.items()
        ]
    }


def _tag_members(mock: MockWechat, _request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    openids, tag_id = list(body.get("openid_list") or []), int(body.get("tagid", -1))
    if tag_id not in mock.tags:
        return _error(45059, "invalid tag id")
    if not 1 <= len(openids) <= 50:
        return _error(40032, "invalid openid list size, at most 50")
    mock.tagged[tag_id].update(openids)
    return _ok()


def _qrcode_create(mock: MockWechat, _request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("action_name") not in QR_ACTIONS:
        return _error(40097, "invalid args: action_name")
    scene = str(((body.get("action_info") or {}).get("scene") or {}).get("scene_str", ""))
    if not 1 <= len(scene) <= 64:
        return _error(40154, "invalid scene")
    day = mock.clock.now().date().isoformat()
    if mock._qr_made[day] >= mock.qr_daily_limit:
        return _error(45009, "reach max api daily quota limit")
    mock._qr_made[day] += 1
    permanent = body.get("action_name") == "QR_LIMIT_STR_SCENE"
    expire = None if permanent else min(int(body.get("expire_seconds") or 60), 2_592_000)
    ticket = secrets.token_urlsafe(16)
    mock.qrcodes[ticket] = {"scene": scene, "expire_seconds": expire}
    answer: dict[str, Any] = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket}"}
    if expire is not None:
        answer["expire_seconds"] = expire
    return answer


def _menu_create(mock: MockWechat, _request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    buttons = list(body.get("button") or [])
    if not 1 <= len(buttons) <= 3 or any(len(b.get("sub_button") or []) > 5 for b in buttons):
        return _error(40016, "invalid button size")
    mock.menu = buttons
    return _ok()


async def _media_get(request: web.Request) -> web.Response:
    mock = request.app[MOCK_KEY]
    problem = mock.token_error(request.query.get("access_token", ""), "mp")
    if problem is not None:
        return web.json_response(problem)
    found = mock.media.get(request.query.get("media_id", ""))
    if found is None:
        return web.json_response(_error(40007, "invalid media_id"))
    content, content_type = found
    return web.Response(body=content, content_type=content_type)


def _appchat_send(mock: MockWechat, _request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    chat_id = str(body.get("chatid", ""))
    if not chat_id:
        return _error(86003, "chat not exist")
    mock.deliver("appchat", chat_id, body)
    return _ok()


async def _robot(request: web.Request) -> web.Response:
    mock = request.app[MOCK_KEY]
    body = await _json_body(request)
    return web.json_response(mock.robot_send(request.query.get("key", ""), body))


# --- control endpoints, for ``lvzhi dev mock-wechat`` and the benchmark -------------------------------


async def _control_interaction(request: web.Request) -> web.Response:
    body = await request.json()
    at = datetime.fromisoformat(body["at"]) if body.get("at") else None
    request.app[MOCK_KEY].record_interaction(str(body["openid"]), str(body.get("kind", "message")), at)
    return web.json_response(_ok())


async def _control_unsubscribe(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[MOCK_KEY].unsubscribe(str(body["openid"]))
    return web.json_response(_ok())


async def _control_fail(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[MOCK_KEY].fail_next(
        int(body["code"]),
        int(body.get("times", 1)),
        path=body.get("path"),
        http_status=int(body.get("http_status", 200)),
    )
    return web.json_response(_ok())


async def _control_latency(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[MOCK_KEY].latency = float(body["seconds"])
    return web.json_response(_ok())


async def _control_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[MOCK_KEY].stats())


async def _control_sent(request: web.Request) -> web.Response:
    mock, kind = request.app[MOCK_KEY], request.query.get("kind")
    rows = [
        {"kind": s.kind, "to": s.to, "at": s.at.isoformat(), "body": s.body}
        for s in mock.sent
        if kind is None or s.kind == kind
    ]
    return web.json_response(rows)


async def run_mock_server(
    host: str = "127.0.0.1", port: int = 8081, *, latency: float = 0.0, mock: MockWechat | None = None
) -> None:
    """Serve the mock until cancelled (``lvzhi dev mock-wechat``). Point ``wechat.api_base`` and
    ``wecom.api_base`` at ``http://host:port``; app id / secret are ``MockWechat``'s defaults
    (``wx-mock-app`` / ``mock-app-secret``, corp ``ww-mock-corp`` / ``mock-corp-secret``)."""
    runner = web.AppRunner(create_mock_app(mock=mock, latency=latency))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
