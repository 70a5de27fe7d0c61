"""Overload: beyond ``server.max_inflight`` messages in hand, a message is committed to the inbox and answered
"success" at once, then handled in arrival order with its reply pushed (bot/chat/inbox.py). Over HTTP, signed
and encrypted, on each database."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.chat.context import Context
from bot.chat.events import Event, Kind
from bot.chat.inbox import Inbox
from bot.chat.router import Router
from bot.devtools.emulator import OfficialAccountPlatform, text_fields
from bot.infra.clock import FrozenClock
from models.conversation import InboundMessage, InboxMessage
from models.delivery import Delivery
from tests.support import AppHarness, running_app
from tests.test_official_account import AES_KEY, APP_ID, TOKEN, post, wechat_settings


class Gate:
    """A handler that records what it handles and holds the messages ``hold`` until each is released."""

    def __init__(self, *hold: str, fail: str = "") -> None:
        self.fail = fail
        self.handled: list[tuple[str, str]] = []
        self.holding = {text: asyncio.Event() for text in hold}
        self.release = {text: asyncio.Event() for text in hold}
        self.router = Router("gate")

        @self.router.fallback()
        async def handle(ctx: Context) -> str:
            self.handled.append((ctx.event.user_id, ctx.text))
            if ctx.text in self.holding:
                self.holding[ctx.text].set()
                await self.release[ctx.text].wait()
            if ctx.text == self.fail:
                raise RuntimeError("this message breaks the handler")
            return f"收到 {ctx.text}"


@asynccontextmanager
async def busy_app(tmp_path: Path, db_url: str, gate: Gate, max_inflight: int = 100) -> Any:
    settings = wechat_settings(tmp_path, db_url, "safe", app_secret="secret")
    settings.server.max_inflight = max_inflight
    async with running_app(settings, FrozenClock(), routers=[gate.router]) as app:
        yield app


async def keep_in_inbox(db: Any, user: str, *texts: str) -> None:
    """Messages a stopped server left in the inbox."""
    inbox = Inbox(db)
    for text in texts:
        event = Event(platform="mp", user_id=user, kind=Kind.TEXT, dedupe_key=f"mp:msg:{user}:{text}", text=text,
                      created_at=datetime(2026, 11, 21, tzinfo=UTC))
        await inbox.put(event, datetime(2026, 11, 21, tzinfo=UTC))


async def inbox_rows(app: AppHarness) -> int:
    async with app.services.db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


async def pushed_texts(app: AppHarness, user: str) -> list[str]:
    async with app.services.db.reader() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.recipient == user).order_by(Delivery.id))
        return [row.payload["text"] for row in rows]


async def until(condition: Any) -> None:
    """Let the server's tasks run until ``condition()`` holds (no sleeping: the loop is only yielded)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_past_max_inflight_a_message_is_answered_success_and_its_reply_pushed(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    gate = Gate("一")
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with busy_app(tmp_path, db_url, gate, max_inflight=1) as app:
        first = asyncio.create_task(post(app, platform, text_fields("o-a", "一")))
        await gate.holding["一"].wait()  # one message in hand: the limit
        second = asyncio.create_task(post(app, platform, text_fields("o-b", "甲")))
        await until(lambda: app.dispatcher.busy)
        gate.release["一"].set()  # (on SQLite the inbox write waits for the message in hand's transaction)
        assert (await first).text == "收到 一"  # the message in hand still answers inline
        assert (await second).raw == "success"
        await app.dispatcher.handle_inbox()
        assert gate.handled == [("o-a", "一"), ("o-b", "甲")]
        assert await pushed_texts(app, "o-b") == ["收到 甲"]
        assert await inbox_rows(app) == 0
        assert not app.dispatcher.busy
        # the inbox is empty again: the next message is answered inline
        assert (await post(app, platform, text_fields("o-b", "乙"))).text == "收到 乙"


async def test_others_are_answered_inline_again_while_a_waiting_members_messages_keep_their_order(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    gate = Gate("一", "甲")
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with busy_app(tmp_path, db_url, gate, max_inflight=3) as app:
        a1 = asyncio.create_task(post(app, platform, text_fields("o-a", "一")))
        await gate.holding["一"].wait()
        a2 = asyncio.create_task(post(app, platform, text_fields("o-a", "二")))
        a3 = asyncio.create_task(post(app, platform, text_fields("o-a", "三")))
        await until(lambda: app.dispatcher.in_hand == 3)  # the limit
        b1 = asyncio.create_task(post(app, platform, text_fields("o-b", "甲")))
        await until(lambda: app.dispatcher.waiting == 1)
        gate.release["一"].set()
        answers = [(await a1).text, (await a2).text, (await a3).text, (await b1).raw]
        assert answers == ["收到 一", "收到 二", "收到 三", "success"]
        await gate.holding["甲"].wait()  # the drainer holds o-b's first message: one in hand, under the limit
        c1 = asyncio.create_task(post(app, platform, text_fields("o-c", "丙")))
        await until(lambda: app.dispatcher.in_hand == 2)  # still under the limit of 3
        b2 = asyncio.create_task(post(app, platform, text_fields("o-b", "乙")))
        await until(lambda: app.dispatcher.waiting == 2)  # o-b has a message waiting: this one waits too
        gate.release["甲"].set()
        assert (await c1).text == "收到 丙"  # answered inline although the inbox was not empty
        assert (await b2).raw == "success"
        await app.dispatcher.handle_inbox()
        assert await pushed_texts(app, "o-b") == ["收到 甲", "收到 乙"]
        assert app.dispatcher.waiting == 0 and await inbox_rows(app) == 0


async def test_deferred_messages_are_kept_before_success_and_handled_in_arrival_order(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    gate = Gate()
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with busy_app(tmp_path, db_url, gate, max_inflight=0) as app:  # 0: every message goes by the inbox
        sent = (("o-a", "一"), ("o-a", "二"), ("o-b", "甲"), ("o-a", "三"))
        for user, text in sent:
            assert (await post(app, platform, text_fields(user, text))).raw == "success"
        await app.dispatcher.handle_inbox()
        assert gate.handled == list(sent)
        assert await inbox_rows(app) == 0
        assert await pushed_texts(app, "o-a") == ["收到 一", "收到 二", "收到 三"]
        assert await pushed_texts(app, "o-b") == ["收到 甲"]
        async with app.services.db.reader() as session:
            records = (await session.scalars(select(InboundMessage))).all()
        assert len(records) == 4 and all(record.replied_later for record in records)


class HeldRead(Inbox):
    """An inbox whose first read returns only when the test says so: what the drainer sees when a write
    commits after its read took its snapshot but before the result reached it (a race seen on PostgreSQL)."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.read_done = asyncio.Event()
        self.resume = asyncio.Event()

    async def after(self, row_id: int, limit: int = 100) -> list[tuple[int, Event]]:
        rows = await super().after(row_id, limit)
        if not self.read_done.is_set():
            self.read_done.set()
            await self.resume.wait()
        return rows


async def test_a_message_committed_while_the_drainer_reads_is_not_left_in_the_inbox(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    gate = Gate()
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with busy_app(tmp_path, db_url, gate, max_inflight=0) as app:
        inbox = app.dispatcher.inbox = HeldRead(app.services.db)
        app.dispatcher.start_drainer()
        await inbox.read_done.wait()  # the drainer read an empty inbox...
        assert (await post(app, platform, text_fields("o-f", "到"))).raw == "success"  # ...then this committed
        inbox.resume.set()
        await app.dispatcher.drainer_done()
        assert gate.handled == [("o-f", "到")]
        assert await inbox_rows(app) == 0 and app.dispatcher.waiting == 0


async def test_a_worker_forgets_a_waiting_member_once_another_workers_drainer_handled_their_message(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    # Two worker processes share the database; each drainer reads the whole inbox.
    gate = Gate()
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with busy_app(tmp_path, db_url, gate, max_inflight=0) as first, \
            busy_app(tmp_path, db_url, gate) as second:
        inbox = first.dispatcher.inbox = HeldRead(first.services.db)
        first.dispatcher.start_drainer()
        await inbox.read_done.wait()
        assert (await post(first, platform, text_fields("o-g", "一"))).raw == "success"
        assert first.dispatcher.waiting == 1  # the first worker holds o-g's next messages back
        await second.dispatcher.handle_inbox()  # the second worker's drainer is quicker
        inbox.resume.set()
        await first.dispatcher.drainer_done()  # finds the inbox empty: o-g waits for nothing any more
        assert first.dispatcher.waiting == 0
        first.dispatcher.max_inflight = 100
        assert (await post(first, platform, text_fields("o-g", "二"))).text == "收到 二"
        assert gate.handled == [("o-g", "一"), ("o-g", "二")]
        assert await pushed_texts(first, "o-g") == ["收到 一"]


async def test_a_retry_of_a_message_in_the_inbox_is_handled_once(db: Any, tmp_path: Path, db_url: str) -> None:
    await Inbox(db).put(Event(platform="mp", user_id="o-b", kind=Kind.TEXT, dedupe_key="mp:msg:990001", text="稍等",
                              created_at=datetime(2026, 11, 21, tzinfo=UTC)), datetime(2026, 11, 21, tzinfo=UTC))
    gate = Gate()
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with busy_app(tmp_path, db_url, gate, max_inflight=0) as app:
        waiting = text_fields("o-b", "稍等", msg_id=990001)  # WeChat retries the message the inbox holds
        answers = [await post(app, platform, waiting) for _ in range(3)]
        assert [answer.raw for answer in answers] == ["success"] * 3
        await app.dispatcher.handle_inbox()
        assert gate.handled == [("o-b", "稍等")]
        assert await pushed_texts(app, "o-b") == ["收到 稍等"]
        assert (await post(app, platform, waiting)).raw == "success"  # a late retry: answered from the record
        await app.dispatcher.handle_inbox()
        assert gate.handled == [("o-b", "稍等")]


async def test_what_a_stop_left_in_the_inbox_is_handled_once_at_the_next_start(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    await keep_in_inbox(db, "o-c", "早", "好")
    gate = Gate()
    async with busy_app(tmp_path, db_url, gate, max_inflight=100) as app:
        await app.dispatcher.handle_inbox()
        await app.dispatcher.handle_inbox()  # a second drainer finds nothing left to do
        assert gate.handled == [("o-c", "早"), ("o-c", "好")]
        assert await pushed_texts(app, "o-c") == ["收到 早", "收到 好"]
        assert await inbox_rows(app) == 0


async def test_a_message_that_breaks_its_handler_in_the_inbox_gets_one_pushed_apology(
    db: Any, tmp_path: Path, db_url: str
) -> None:
    gate = Gate(fail="坏")
    platform = OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")
    async with busy_app(tmp_path, db_url, gate, max_inflight=0) as app:
        assert (await post(app, platform, text_fields("o-d", "坏"))).raw == "success"
        await app.dispatcher.handle_inbox()
        pushed = await pushed_texts(app, "o-d")
        assert len(pushed) == 1 and "抱歉" in pushed[0]
        # its transaction was rolled back, so the row is still there; the next drainer only clears it
        assert await inbox_rows(app) == 1
        await app.dispatcher.handle_inbox()
        assert await inbox_rows(app) == 0
        assert gate.handled.count(("o-d", "坏")) == 1
        assert await pushed_texts(app, "o-d") == pushed


async def test_a_stop_leaves_the_rest_of_the_inbox_for_the_next_start(db: Any, tmp_path: Path, db_url: str) -> None:
    await keep_in_inbox(db, "o-e", "二", "三")
    gate = Gate("二")
    async with busy_app(tmp_path, db_url, gate) as app:
        app.dispatcher.start_drainer()
        await gate.holding["二"].wait()  # the drainer is handling 二
        stopping = asyncio.create_task(app.dispatcher.drain())
        gate.release["二"].set()
        await stopping  # the message in hand is finished; 三 stays for the next start
        assert gate.handled == [("o-e", "二")]
        assert await inbox_rows(app) == 1
        await app.dispatcher.handle_inbox()
        assert gate.handled == [("o-e", "二"), ("o-e", "三")]
        assert await pushed_texts(app, "o-e") == ["收到 二", "收到 三"]


def test_an_event_survives_its_stored_form() -> None:
    event = Event(platform="wecom", user_id="zhangsan", kind=Kind.LOCATION, dedupe_key="wecom:msg:9",
                  created_at=datetime(2026, 11, 21, 8, 30, tzinfo=UTC), text="t", key="k", media_id="m",
                  pic_url="p", latitude=30.5, longitude=114.25, label="县政协", raw_type="location")
    assert Event.from_dict(event.to_dict()) == event
