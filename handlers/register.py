"""Registration: ``注册`` / ``register`` (menu key ``REGISTER``) links a chat account to a member.

```mermaid
stateDiagram-v2
    [*] --> [*]: already bound / "already registered" + card
    [*] --> [*]: application pending / "waiting for review"
    [*] --> name: 注册
    name --> mobile: a plausible name
    mobile --> [*]: roster match (name + mobile, active) / bound, card shown
    mobile --> [*]: mobile bound to another account / refused, "contact the secretary"
    mobile --> [*]: mobile in someone's pending application / refused
    mobile --> mobile: name differs from the roster's / re-ask
    mobile --> sector: mobile not in the roster (or rejected before)
    sector --> group: a sector by number or name
    group --> [*]: a liaison group / pending application filed, secretaries notified
```

Every step re-asks on a wrong answer; the third wrong answer in a row ends the conversation politely
(``conversation.max_wrong_answers``); ``注册`` typed at any step starts over (``reentry=True``). What was
typed lives in the conversation data, which the dispatcher stores with each message, so a restart in the
middle loses nothing. Numbered choices are stored as ids when shown, so the numbers keep meaning what the
member saw.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, leave_conversation, normalise
from bot.domain import members as ops
from bot.domain.roster import clean_name, normalise_mobile
from handlers.kit.choices import numbered, pick
from handlers.profile import render_profile
from models.member import LiaisonGroup, MemberStatus, Sector


class Register(StatesGroup):
    name = State()
    mobile = State()
    sector = State()
    group = State()


router = Router("register")
router.describe("注册", "members.help.register", audience="guest")
router.on_reentry(leave_conversation)  # 注册 typed again at a step starts over, the answers forgotten

START_WORDS = ("注册", "register", "绑定", "我要注册")
NAME_MIN, NAME_MAX = 2, 20
_DIGIT = re.compile(r"\d")


@router.command(*START_WORDS, reentry=True)
@router.click("REGISTER")
async def start(ctx: Context) -> str:
    if ctx.member is not None:
        return ctx.t("register.already_bound", profile=await render_profile(ctx, ctx.member))
    if await ops.pending_application_of(ctx.session, ctx.event.platform, ctx.event.user_id):
        return ctx.t("register.already_applied")
    ctx.conv.set(Register.name)
    return ctx.t("register.ask_name")


@router.state(Register.name)
async def got_name(ctx: Context) -> str:
    if ctx.member is not None:
        return await _already_bound(ctx)
    name = clean_name(ctx.text)
    if not NAME_MIN <= len(name) <= NAME_MAX or _DIGIT.search(normalise(name)):
        return ctx.re_ask("register.bad_name")
    ctx.conv.set(Register.mobile, name=name)
    return ctx.t("register.ask_mobile", name=name)


@router.state(Register.mobile)
async def got_mobile(ctx: Context) -> str:
    if ctx.member is not None:
        return await _already_bound(ctx)
    mobile = normalise_mobile(ctx.text)
    if mobile is None:
        return ctx.re_ask("register.bad_mobile")
    name = str(ctx.conv.data.get("name", ""))
    member = await ops.find_by_mobile(ctx.session, mobile)
    if member is None or member.status is MemberStatus.REJECTED:
        return await _offer_application(ctx, mobile)
    if member.status is MemberStatus.PENDING:
        ctx.conv.finish()
        return ctx.t("register.mobile_pending")
    if not _same_name(member.name, name):
        return ctx.re_ask("register.name_mismatch", name=name)
    if member.status is not MemberStatus.ACTIVE:
        ctx.conv.finish()
        return ctx.t("register.not_active", status=ctx.t(f"members.status.{member.status.value}"))
    assert member.id is not None
    if await ops.identity_on(ctx.session, member.id, ctx.event.platform) is not None:
        ctx.conv.finish()  # no takeover: the secretary unbinds the old account after checking
        return ctx.t("register.mobile_taken")
    await ops.bind(ctx.session, member, ctx.event.platform, ctx.event.user_id, ctx.now)
    ctx.conv.finish()
    return ctx.t("register.bound", profile=await render_profile(ctx, member))


@router.state(Register.sector)
async def got_sector(ctx: Context) -> str:
    chosen = await _chosen(ctx, Sector)
    if isinstance(chosen, str):
        return chosen
    groups = await _all_options(ctx, LiaisonGroup)
    ctx.conv.set(Register.group, sector_id=chosen, choices=[ident for ident, _ in groups])
    return ctx.t("register.ask_group", choices=numbered([name for _, name in groups]))


@router.state(Register.group)
async def got_group(ctx: Context) -> str:
    chosen = await _chosen(ctx, LiaisonGroup)
    if isinstance(chosen, str):
        return chosen
    data = ctx.conv.data
    mobile = str(data["mobile"])
    if not await _mobile_reusable(ctx, mobile):
        ctx.conv.finish()  # somebody else applied with this mobile while this member was choosing
        return ctx.t("register.mobile_pending")
    await ops.file_application(
        ctx.session, name=str(data["name"]), mobile=mobile, sector_id=data.get("sector_id"), group_id=chosen,
        platform=ctx.event.platform, external_id=ctx.event.user_id, now=ctx.now, texts=ctx.services.texts,
    )
    ctx.pushed = True  # secretaries were notified: wake the delivery worker after the commit
    group = await ctx.session.get(LiaisonGroup, chosen)
    sector = await ctx.session.get(Sector, data.get("sector_id")) if data.get("sector_id") else None
    ctx.conv.finish()
    return ctx.t("register.applied", name=data["name"], mobile=mobile,
                 sector=sector.name if sector else "-", group=group.name if group else "-")


# --- helpers --------------------------------------------------------------------------------------

async def _offer_application(ctx: Context, mobile: str) -> str:
    sectors = await _all_options(ctx, Sector)
    if not sectors or not await _all_options(ctx, LiaisonGroup):
        ctx.conv.finish()
        return ctx.t("register.no_choices")
    ctx.conv.set(Register.sector, mobile=mobile, choices=[ident for ident, _ in sectors])
    choices = numbered([name for _, name in sectors])
    return ctx.t("register.not_in_roster") + "\n" + ctx.t("register.ask_sector", choices=choices)


async def _chosen(ctx: Context, model: type[Sector] | type[LiaisonGroup]) -> int | str:
    """The id of the sector or group chosen from the list shown, or the answer instead: asked again, or
    "already registered" for someone bound meanwhile (a secretary approved an earlier application)."""
    if ctx.member is not None:
        return await _already_bound(ctx)
    chosen = choose(ctx.text, await _options(ctx, model, ctx.conv.data.get("choices", [])))
    if chosen is None:
        return ctx.re_ask("register.bad_choice", text=ctx.text[:20])
    return chosen


async def _mobile_reusable(ctx: Context, mobile: str) -> bool:
    member = await ops.find_by_mobile(ctx.session, mobile)
    return member is None or member.status is MemberStatus.REJECTED


async def _already_bound(ctx: Context) -> str:
    """Bound while the conversation ran (a secretary approved an earlier application)."""
    assert ctx.member is not None
    ctx.conv.finish()
    return ctx.t("register.already_bound", profile=await render_profile(ctx, ctx.member))


def _same_name(on_roster: str, typed: str) -> bool:
    return normalise(clean_name(on_roster)).replace(" ", "") == normalise(clean_name(typed)).replace(" ", "")


async def _all_options(ctx: Context, model: type[Sector] | type[LiaisonGroup]) -> list[tuple[int, str]]:
    statement = select(model.id, model.name).order_by(model.id)  # type: ignore[arg-type]
    rows = (await ctx.session.execute(statement)).all()
    return [(int(row[0]), str(row[1])) for row in rows]


async def _options(
    ctx: Context, model: type[Sector] | type[LiaisonGroup], ids: list[int]
) -> list[tuple[int, str]]:
    """The choices as they were shown (ids in the shown order), minus any deleted since."""
    names = dict(await _all_options(ctx, model))
    return [(int(ident), names[int(ident)]) for ident in ids if int(ident) in names]


def choose(text: str, options: list[tuple[int, str]]) -> int | None:
    """The id of the option ``text`` chooses from a numbered list of (id, name)."""
    index = pick(text, [name for _, name in options])
    return options[index][0] if index is not None else None
