"""``我的`` / ``me``: the member's card; ``解绑`` / ``unbind``: unlink this chat account after a confirmation.

```mermaid
stateDiagram-v2
    [*] --> card: 我的
    card --> [*]: name, group, sector, committee, role (+ sections of later features)
    [*] --> confirm: 解绑 (bound)
    [*] --> [*]: 解绑 (not bound) / "nothing to unlink"
    confirm --> [*]: 确认 / identity deleted
    confirm --> [*]: anything else / "kept"
```

Later features add lines to the card (this year's duty summary …) with :func:`profile_section`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain import members as ops
from handlers.kit.words import CONFIRM
from models.member import Member


class Unbind(StatesGroup):
    confirm = State()


router = Router("profile")
router.describe("我的", "members.help.me")
router.describe("解绑", "members.help.unbind")


ProfileSection = Callable[[Context, Member], Awaitable[str | None]]
PROFILE_SECTIONS: list[ProfileSection] = []


def profile_section(section: ProfileSection) -> ProfileSection:
    """Register a block of the ``我的`` card; it returns text, or None to show nothing."""
    PROFILE_SECTIONS.append(section)
    return section


async def render_profile(ctx: Context, member: Member) -> str:
    parts = [await ops.profile_text(ctx.session, ctx.services.texts, member)]
    for section in PROFILE_SECTIONS:
        text = await section(ctx, member)
        if text:
            parts.append(text)
    parts.append(ctx.t("members.profile.footer"))
    return "\n\n".join(parts)


@router.command("我的", "me", "我的信息", "个人信息")
@router.click("ME")
async def show_profile(ctx: Context) -> str:
    if ctx.member is not None:
        return await render_profile(ctx, ctx.member)
    if await ops.pending_application_of(ctx.session, ctx.event.platform, ctx.event.user_id):
        return ctx.t("members.profile.pending")
    return ctx.t("members.profile.not_registered")


@router.command("解绑", "unbind", "解除绑定")
async def ask_unbind(ctx: Context) -> str:
    if ctx.member is None:
        return ctx.t("members.unbind.not_bound")
    ctx.conv.set(Unbind.confirm)
    return ctx.t("members.unbind.confirm")


@router.state(Unbind.confirm)
async def confirm_unbind(ctx: Context) -> str:
    ctx.conv.finish()
    if normalise(ctx.text) not in CONFIRM:
        return ctx.t("members.unbind.kept")
    if not await ops.unbind(ctx.session, ctx.event.platform, ctx.event.user_id):
        return ctx.t("members.unbind.not_bound")
    return ctx.t("members.unbind.done")
