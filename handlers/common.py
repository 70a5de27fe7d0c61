"""What works in every state: ``取消`` / ``cancel`` and ``帮助`` / ``help``.

This router is listed first, so these words are never taken as an answer inside a conversation.

    any state --取消--> no conversation ("已取消")
    any state --帮助--> same state (help, plus how to go on with the conversation)
"""

from __future__ import annotations

from bot.chat.context import Context
from bot.chat.router import Router
from handlers.kit import words
from models.member import MemberStatus, Role

router = Router("common")

CANCEL_WORDS = words.CANCEL
HELP_WORDS = ("帮助", "help", "?", "菜单", "menu")


@router.command(*CANCEL_WORDS)
async def cancel(ctx: Context) -> str:
    if not ctx.conv.active:
        return ctx.t("common.nothing_to_cancel")
    hook = ctx.routes.cancel_hook_for(ctx.conv.state)
    answer = await hook(ctx) if hook is not None else None
    ctx.conv.finish()
    return str(answer) if answer else ctx.t("common.cancelled")


@router.command(*HELP_WORDS)
@router.click("HELP")
async def show_help(ctx: Context) -> str:
    audience = audience_of(ctx)
    lines = [ctx.t(f"help.title.{audience}")]
    lines += [f"· {entry.word} — {ctx.t(entry.text_key)}" for entry in ctx.routes.help_entries(audience)]
    lines.append(ctx.t("help.footer"))
    if ctx.conv.active:
        lines.append(ctx.t("help.in_conversation"))
    return "\n".join(lines)


def audience_of(ctx: Context) -> str:
    member = ctx.member
    if member is None or member.status != MemberStatus.ACTIVE:
        return "guest"
    if member.role in (Role.SECRETARY, Role.ADMIN):
        return "secretary"
    return "member"
