"""First contact and the last resort: the follow greeting and the answer to unknown input.

    follow ──> greeting (registered: welcome back; not yet: how to register)
    unknown text ──> "did you mean <nearest command>?" + how to get help
    other unhandled message (photo, voice …) outside a conversation ──> how to get help
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from bot.chat.context import Context
from bot.chat.events import Kind
from bot.chat.router import Router, normalise

router = Router("welcome")


@router.event(Kind.SUBSCRIBE)
async def greet_follower(ctx: Context) -> str:
    if ctx.member is not None:
        return ctx.t("welcome.back", name=ctx.member.name)
    return ctx.t("welcome.new")


@router.fallback()
async def unknown_text(ctx: Context) -> str:
    nearest = nearest_command(ctx.text, ctx.routes.command_words)
    if nearest:
        return ctx.t("unknown.suggest", text=ctx.text[:20], command=nearest)
    return ctx.t("unknown.plain")


@router.fallback(kinds=(Kind.IMAGE, Kind.VOICE, Kind.VIDEO, Kind.LOCATION, Kind.LINK, Kind.FILE, Kind.CLICK,
                        Kind.SCAN))
async def unknown_other(ctx: Context) -> str:
    return ctx.t("unknown.other")


def nearest_command(text: str, command_words: Iterable[str]) -> str | None:
    """The known command closest to what was typed (character overlap works for Chinese words too)."""
    typed = normalise(text)
    if not typed:
        return None
    words = sorted(command_words)
    containing = [word for word in words if word in typed or (len(typed) >= 2 and typed in word)]
    if containing:
        return max(containing, key=len)
    close = difflib.get_close_matches(typed, words, n=1, cutoff=0.5)
    return close[0] if close else None
