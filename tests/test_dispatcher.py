"""The dispatcher's guarantees, through the simulator over HTTP: persisted conversations, order per member,
cancel and help anywhere, idle timeout, the error boundary."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup
from bot.infra.clock import FrozenClock
from handlers import common, welcome
from models.member import Identity, Member, MemberStatus, Platform, Role
from tests.support import running_app


class Survey(StatesGroup):
    town = State()
    size = State()


def survey_router() -> Router:
    """A two-step conversation, enough to prove state survives restarts and ordering."""
    router = Router("survey")

    @router.command("调查")
    async def start(ctx: Context) -> str:
        ctx.conv.set(Survey.town)
        return "哪个镇？"

    @router.state(Survey.town)
    async def town(ctx: Context) -> str:
        ctx.conv.set(Survey.size, town=ctx.text)
        return "多少人？"

    @router.state(Survey.size)
    async def size(ctx: Context) -> str:
        town = ctx.conv.data["town"]
        ctx.conv.finish()
        return f"记下了：{town}，{ctx.text}人"

    return router


def routers(*extra: Router) -> list[Router]:
    return [common.router, *extra, welcome.router]


async def test_a_restart_in_the_middle_continues_the_conversation(db: Any, settings: Any) -> None:
    clock = FrozenClock()
    async with running_app(settings, clock, routers(survey_router())) as app:
        assert await app.chat("sim-a").says("调查") == "哪个镇？"
        assert await app.chat("sim-a").says("城关镇") == "多少人？"
    async with running_app(settings, clock, routers(survey_router())) as restarted:
        assert await restarted.chat("sim-a").says("12") == "记下了：城关镇，12人"


def numbering_router(log: list[str]) -> Router:
    """Numbers each message of a member from conversation data, yielding to the loop mid-way."""
    router = Router("numbering")

    @router.fallback()
    async def number(ctx: Context) -> str:
        log.append(f"start:{ctx.text}")
        for _ in range(3):
            await asyncio.sleep(0)  # give another message of this member every chance to cut in
        count = int(ctx.conv.data.get("count", 0)) + 1
        ctx.conv.set("Numbering:on", count=count)
        log.append(f"end:{ctx.text}")
        return f"{count}:{ctx.text}"

    return router


async def test_four_messages_sent_at_once_are_handled_one_at_a_time_in_order(db: Any, settings: Any) -> None:
    log: list[str] = []
    async with running_app(settings, FrozenClock(), [numbering_router(log)]) as app:
        chat = app.chat("sim-b")
        received: list[str] = []
        original_feed = app.dispatcher.feed

        async def recording_feed(event: Any, deadline: Any = None) -> Any:
            received.append(event.text)  # the order the server received them in
            return await original_feed(event, deadline)

        app.dispatcher.feed = recording_feed  # type: ignore[method-assign]
        replies = await asyncio.gather(*(chat.says(text) for text in ["一", "二", "三", "四"]))
    expected_log = [f"{edge}:{text}" for text in received for edge in ("start", "end")]
    assert log == expected_log  # serial, and in arrival order
    assert sorted(replies) == sorted(f"{n}:{text}" for n, text in enumerate(received, start=1))


async def test_cancel_from_inside_a_conversation(db: Any, settings: Any) -> None:
    async with running_app(settings, FrozenClock(), routers(survey_router())) as app:
        chat = app.chat("sim-c")
        await chat.says("调查")
        assert "已取消" in await chat.says("取消")
        assert "没有看懂" in await chat.says("城关镇")  # no longer an answer to a question
        assert "当前没有进行中的操作" in await chat.says("cancel")


async def test_help_inside_a_conversation_keeps_it(db: Any, settings: Any) -> None:
    async with running_app(settings, FrozenClock(), routers(survey_router())) as app:
        chat = app.chat("sim-d")
        await chat.says("调查")
        help_text = await chat.says("帮助")
        assert "还没完成" in help_text
        assert await chat.says("西河镇") == "多少人？"


async def test_full_width_and_spaced_commands_are_understood(db: Any, settings: Any) -> None:
    async with running_app(settings, FrozenClock(), routers(survey_router())) as app:
        assert "注册" in await app.chat("sim-e").says("  ＨＥＬＰ ")


async def test_an_idle_conversation_is_closed_on_the_next_message(db: Any, settings: Any) -> None:
    clock = FrozenClock()
    async with running_app(settings, clock, routers(survey_router())) as app:
        chat = app.chat("sim-f")
        await chat.says("调查")
        clock.advance(minutes=31)
        reply = await chat.says("城关镇")
    assert "长时间没有继续" in reply
    assert "没有看懂" in reply


async def test_the_sweep_closes_idle_conversations_with_a_push(db: Any, settings: Any) -> None:
    from bot.chat.conversations import close_idle_conversations

    clock = FrozenClock()
    async with running_app(settings, clock, routers(survey_router())) as app:
        await app.chat("sim-g").says("调查")
        await app.chat("sim-h").says("调查")
        clock.advance(minutes=10)
        await app.chat("sim-h").says("东山镇")  # still active
        clock.advance(minutes=25)
        assert await close_idle_conversations(app.services) == 1
        assert await close_idle_conversations(app.services) == 0
        assert any("自动结束" in text for text in await app.chat("sim-g").pushes())
        assert await app.chat("sim-h").says("8") == "记下了：东山镇，8人"


async def test_unknown_input_suggests_the_nearest_command(db: Any, settings: Any) -> None:
    async with running_app(settings, FrozenClock()) as app:
        assert "帮助" in await app.chat("sim-i").says("帮组")
        assert "发送“帮助”" in await app.chat("sim-i").says("今天天气怎么样")


async def test_help_differs_by_role(db: Any, settings: Any) -> None:
    secretary_id = await bind_member(db, Role.SECRETARY)
    async with running_app(settings, FrozenClock()) as app:
        guest = await app.chat("sim-guest").says("帮助")
        secretary = await app.chat(secretary_id).says("帮助")
    assert "还没有注册" in guest
    assert "秘书" in secretary


async def bind_member(db: Any, role: Role) -> str:
    """A new active member with ``role``, bound to a simulator id, which is returned."""
    async with db.session() as session:
        member = Member(name="李秘书", mobile="13900000001", role=role, status=MemberStatus.ACTIVE)
        session.add(member)
        await session.flush()
        session.add(Identity(member_id=member.id, platform=Platform.SIMULATOR, external_id="sim-sec"))
    return "sim-sec"
