"""Route matching without the app: scene prefixes (QR codes), fallbacks bound to a state, re-entrant commands
inside their own conversations, and what the table answers across routers (help lines, cancel hooks, words)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.chat.context import Context
from bot.chat.conversations import Conversation
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


# --- re-entry: a module's own commands inside its own conversations ---------------------------------

class Other(StatesGroup):
    step = State()


def reentrant_flow() -> tuple[Router, Router]:
    """A flow whose 报送 restarts it and whose 我的报送 only shows something, beside another module's flow."""
    router = Router("flow")
    router.command("报送", reentry=True)(command)
    router.regex(r"^我的报送\s*(\d*)$", reentry=True)(other)
    router.state(Flow.step)(nothing)
    elsewhere = Router("elsewhere")
    elsewhere.state(Other.step)(nothing)
    return router, elsewhere


def test_a_reentrant_command_inside_its_own_conversation_is_the_command() -> None:
    router, elsewhere = reentrant_flow()
    table = RouteTable([Router("first"), elsewhere, router])
    assert handler_of(table, Kind.TEXT, text="报送", state=Flow.step.name) is command
    found = table.find(Kind.TEXT, "我的报送 2", "", Flow.step.name)
    assert found is not None and found[0].handler is other and found[1] is not None and found[1].group(1) == "2"
    assert handler_of(table, Kind.TEXT, text="好的", state=Flow.step.name) is nothing  # other text: the answer
    assert handler_of(table, Kind.TEXT, text="报送") is command  # outside any conversation: the command as ever


def test_a_reentrant_command_inside_another_modules_conversation_is_an_answer_there() -> None:
    router, elsewhere = reentrant_flow()
    table = RouteTable([Router("first"), router, elsewhere])
    assert handler_of(table, Kind.TEXT, text="报送", state=Other.step.name) is nothing


def test_a_command_not_declared_reentrant_is_an_answer_inside_its_own_conversation() -> None:
    router = Router("flow")
    router.command("报送")(command)
    router.state(Flow.step)(nothing)
    table = RouteTable([Router("first"), router])
    assert handler_of(table, Kind.TEXT, text="报送", state=Flow.step.name) is nothing


def test_the_first_router_still_comes_before_a_reentrant_command() -> None:
    first = Router("first")
    first.command("报送")(other)
    router, _ = reentrant_flow()
    table = RouteTable([first, router])
    assert handler_of(table, Kind.TEXT, text="报送", state=Flow.step.name) is other


async def test_the_reentry_hook_runs_before_the_command_and_only_on_reentry() -> None:
    router = Router("flow")
    seen: list[str] = []

    @router.command("报送", reentry=True)
    async def start(ctx: Context) -> str:
        seen.append(f"start in {ctx.conv.state}")
        return "started"

    @router.state(Flow.step)
    async def answer(ctx: Context) -> str:
        return "answer"

    @router.on_reentry
    def leave(ctx: Context) -> None:
        seen.append("left")
        ctx.conv.finish()

    table = RouteTable([Router("first"), router])
    ctx = fake_context(Flow.step.name)
    found = table.find(Kind.TEXT, "报送", "", ctx.conv.state)
    assert found is not None
    assert await found[0].handler(ctx) == "started"
    assert seen == ["left", "start in None"]
    seen.clear()
    outside = fake_context(None)
    found = table.find(Kind.TEXT, "报送", "", None)
    assert found is not None and found[0].handler is start  # no conversation to leave: no hook
    await found[0].handler(outside)
    assert seen == ["start in None"]


def test_reentry_is_for_commands_of_any_state() -> None:
    with pytest.raises(ValueError):
        Router("x").command("报送", state=Flow.step, reentry=True)


def test_the_table_answers_help_lines_cancel_hooks_and_command_words() -> None:
    router = Router("flow")
    router.describe("报送", "report.help.report")
    router.describe("审核报送", "report.help.review", audience="secretary")
    router.command("报送", "report")(command)
    router.on_cancel(Flow)(other)
    table = RouteTable([Router("first"), router])
    assert [entry.word for entry in table.help_entries("member")] == ["报送"]
    assert [entry.word for entry in table.help_entries("secretary")] == ["报送", "审核报送"]
    assert table.help_entries("guest") == []
    assert table.cancel_hook_for(Flow.step.name) is other
    assert table.cancel_hook_for(Other.step.name) is None and table.cancel_hook_for(None) is None
    assert table.command_words == {"报送", "report"}


def fake_context(state: str | None) -> Context:
    """Just enough of a Context for a handler that looks at the conversation."""
    return Context(event=None, session=None, services=None, conv=Conversation("sim:x", state),  # type: ignore[arg-type]
                   routes=RouteTable([]))
