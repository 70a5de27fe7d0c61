"""``登录 123456`` / ``login 123456``: a secretary confirms the login code shown by the console's login page
(``/console/login``), or scans its QR code (scene ``console:<code>``), from the chat identity bound to them.
The rules are :func:`bot.domain.console.confirm_code`; the waiting browser notices by itself and goes on.

```mermaid
stateDiagram-v2
    [*] --> [*]: 登录 / how to log in
    [*] --> [*]: 登录 123456 · scan console:123456, a secretary, a waiting code / "已登录管理后台"
    [*] --> [*]: not a secretary · wrong, expired or used code · too many tries / a polite refusal
```

No state: the command and the scan work in the middle of any conversation and leave it as it was.
"""

from __future__ import annotations

import re

from bot.chat.context import Context
from bot.chat.router import Router
from bot.domain.console import SCENE_PREFIX, code_of_scene, confirm_code, limits_of
from bot.domain.refusals import Refusal
from handlers.kit.dates import hhmm

router = Router("console_login")
router.describe("登录", "console.help", audience="secretary")

START_WORDS = ("登录", "login", "登录后台")
# Matched on the normalised text (full-width folded, lower case); the digits are read from it.
CODE_COMMAND = r"^(?:登录|login)\s?:?\s?\d[\d -]*$"


@router.command(*START_WORDS)
async def how_to_log_in(ctx: Context) -> str:
    return ctx.t("console.help")


@router.regex(CODE_COMMAND)
async def typed_code(ctx: Context) -> str:
    return await _confirm(ctx, re.sub(r"\D", "", ctx.text))


@router.scene(SCENE_PREFIX)
async def scanned(ctx: Context) -> str:
    return await _confirm(ctx, code_of_scene(ctx.event.key))


async def _confirm(ctx: Context, code: str) -> str:
    try:
        await confirm_code(ctx.session, ctx.member, code, now=ctx.now, limits=limits_of(ctx.services))
    except Refusal as refusal:
        return refusal.render(ctx.services.texts)
    return ctx.t("console.confirmed", time=hhmm(ctx, ctx.now))
