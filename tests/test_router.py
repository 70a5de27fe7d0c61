"""Route matching without the app: scene prefixes (QR codes) and fallbacks bound to a state."""

from __future__ import annotations

import dataclasses

import pytest

from bot.chat.context import Context
from bot.chat.events import Kind
from bot.chat.router import Router, RouteTable, State, StatesGroup
from bot.outbound.message import Article, Reply


class Flow(StatesGroup):
    step = State()


async def nothing(ctx: Context) -> str:
    return ""


async def other(ctx: Context) -> str:
    return ""


async def command(ctx: Context) -> str:
    return ""


def handler_of(table: RouteTable, kind: Kind, key: str = "", text: str = "", state: str | None = None) -> object:
    found = table.find(kind, text, key, state)
    return found[0].handler if found else None


def test_a_scene_route_matches_its_prefix_on_scans_and_follows_only() -> None:
    router = Router("scenes")
    router.scene("signin:")(nothing)
    router.event(Kind.SCAN, Kind.SUBSCRIBE)(other)
    table = RouteTable([Router("first"), router])
    assert handler_of(table, Kind.SCAN, "signin:7:123456") is nothing
    assert handler_of(table, Kind.SUBSCRIBE, "signin:7:123456") is nothing
    assert handler_of(table, Kind.SCAN, "bind:7") is other  # another family of scenes
    assert handler_of(table, Kind.SUBSCRIBE, "") is other  # a plain follow
    assert handler_of(table, Kind.SCAN, "xsignin:7:1") is other  # a prefix, not a substring
    assert handler_of(table, Kind.CLICK, "signin:7:123456") is None  # menu keys are not scenes
    assert handler_of(table, Kind.TEXT, text="signin:7:123456") is None


def test_a_scene_route_needs_a_prefix() -> None:
    with pytest.raises(ValueError):
        Router("x").scene("")


def test_a_fallback_bound_to_a_state_answers_only_there_and_after_commands() -> None:
    router = Router("flow")
    router.command("报送")(command)
    router.fallback(state=Flow.step)(nothing)
    last = Router("last")
    last.fallback()(other)
    table = RouteTable([Router("first"), router, last])
    assert handler_of(table, Kind.TEXT, text="好的", state=Flow.step.name) is nothing
    assert handler_of(table, Kind.TEXT, text="好的") is other  # outside the conversation: the general fallback
    assert handler_of(table, Kind.TEXT, text="报送", state=Flow.step.name) is command  # commands still work


def test_a_command_matches_what_an_older_member_types_full_width_and_spaced() -> None:
    router = Router("t")

    @router.command("签到")
    async def sign_in(ctx: Context) -> str:
        return "ok"

    @router.regex(r"^签到 (\d{6})$")
    async def sign_in_with_code(ctx: Context) -> str:
        return "ok"

    table = RouteTable([Router("first"), router])
    assert table.find(Kind.TEXT, "  签到 ", "", None)[0].handler is sign_in  # type: ignore[index]
    found = table.find(Kind.TEXT, "签到　１２３４５６", "", None)  # an ideographic space, full-width digits
    assert found is not None and found[0].handler is sign_in_with_code and found[1] is not None
    assert found[1].group(1) == "123456"


def test_a_reply_is_stored_and_read_back_whole() -> None:
    reply = Reply(text="您好", article=Article(title="通知", description="明天开会", url="https://x/1", image_url="i"),
                  extra={"buttons": ["是", "否"]})
    assert reply.to_dict() == dataclasses.asdict(reply)
    assert Reply.from_dict(reply.to_dict()) == reply
