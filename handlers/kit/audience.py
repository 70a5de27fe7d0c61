"""Choosing in chat who something is for: one picker for 群发, 新建学习 (:data:`BROADCAST_PICKER`) and
新建活动 (:data:`ACTIVITY_PICKER`).

Two shapes of the same question, both limited by the sender's reach for the picker's :class:`Action`
(:func:`bot.domain.authz.groups_within_reach`)::

    by kind (群发, 新建学习)
        ask_kind ──> 1 全体委员 · 2 联络组 · 3 界别 · 4 专委会 · 5 指定委员 (those within reach; the numbers never move)
        answer_kind ──> 1: chosen
                    ──> 2–4: the numbered groups / sectors / committees ──> answer_choice: numbers or names ("1 3")
                    ──> 5: "names, please" ──> answer_members: names, each one active member within reach
    by group (新建活动)
        the numbered groups within reach (and 全体, with an unlimited reach)
        ──> answer_groups: 全体, or numbers or names of the groups

A limited reach covers groups and members of them only, so 全体, sectors and committees are not offered;
the domain checks the reach again when the notice or the activity is stored. An answer is either the next
question (a text; a wrong answer is asked again with ``ctx.re_ask``) or a :class:`ChosenAudience`.

The texts are those 群发 introduced (``broadcast_chat.new.*``, ``broadcast_chat.kind.*``); 新建活动 asks and
re-asks in its own words, so :meth:`AudiencePicker.answer_groups` only reads the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from bot.chat.context import Context
from bot.chat.router import State, normalise
from bot.domain.authz import Action, groups_within_reach
from bot.domain.study import audience_count
from handlers.kit.choices import numbered, pick
from models.activity import Audience
from models.member import Committee, LiaisonGroup, Member, MemberStatus, Sector

# The kinds in the order (and with the numbers) the question shows; a secretary sees only those within
# reach, but a number always means the same kind, so instructions can be passed on between people.
KINDS: tuple[Audience, ...] = (Audience.ALL, Audience.GROUPS, Audience.SECTORS, Audience.COMMITTEES,
                               Audience.MEMBERS)
KIND_WORDS: dict[Audience, tuple[str, ...]] = {
    Audience.ALL: ("全体", "全体委员", "所有", "所有委员", "all"),
    Audience.GROUPS: ("联络组", "按联络组", "group", "groups"),
    Audience.SECTORS: ("界别", "按界别", "sector", "sectors"),
    Audience.COMMITTEES: ("专委会", "按专委会", "committee", "committees"),
    Audience.MEMBERS: ("指定委员", "委员", "名单", "members"),
}
_KIND_OF = {normalise(word): kind for kind, words in KIND_WORDS.items() for word in words}
OPTION_TABLES = {Audience.GROUPS: LiaisonGroup, Audience.SECTORS: Sector, Audience.COMMITTEES: Committee}

_PARTS = re.compile(r"[\s,，、;；和]+")  # "1 3", "1、3", "城关镇和东山镇"
_NAME_SPLIT = re.compile(r"[\s,，、;；]+")
_QUALIFIED = re.compile(r"^(.+?)[(（](.+?)[)）]$")  # 王芳（城关镇）: a name and a group to tell twins apart
NAMES_MAX = 200  # names in one message: beyond this a list belongs in the admin API
SHOWN_NAMES = 30  # names on one line before "… and N more"


@dataclass(frozen=True, slots=True)
class ChosenAudience:
    audience: Audience
    ids: list[int]
    label: str  # "联络组：城关镇、东山镇", for the next questions and the preview


@dataclass(frozen=True, slots=True)
class AudiencePicker:
    action: Action  # whose reach limits the choices

    def sender(self, ctx: Context) -> Member | None:
        """The sender when they may choose at least one group for this action (an organiser, a secretary)."""
        member = ctx.member
        if member is None or groups_within_reach(member, self.action) == frozenset():
            return None
        return member

    def reach(self, member: Member) -> frozenset[int] | None:
        """The groups within the member's reach, ``None`` for everything."""
        return groups_within_reach(member, self.action)

    async def options(self, ctx: Context, member: Member, kind: Audience) -> tuple[list[int], list[str]]:
        """Ids and names of the groups within reach, or of every sector / committee (only offered with an
        unlimited reach), in id order."""
        table = OPTION_TABLES[kind]
        query = select(table.id, table.name).order_by(table.id)  # type: ignore[attr-defined]
        reach = self.reach(member)
        if kind is Audience.GROUPS and reach is not None:
            query = query.where(LiaisonGroup.id.in_(reach))  # type: ignore[union-attr]
        rows = (await ctx.session.execute(query)).all()
        return [int(row[0]) for row in rows], [str(row[1]) for row in rows]

    # --- by kind --------------------------------------------------------------------------------------

    def ask_kind(self, ctx: Context, intro_key: str) -> str:
        """The kind question (``intro_key`` takes ``{choices}``): the numbered kinds within the sender's reach."""
        return ctx.t(intro_key, choices=self.kind_choices(ctx, self._sender(ctx)))

    async def answer_kind(self, ctx: Context, *, choose: State, members: State) -> str | ChosenAudience:
        """The answer to :meth:`ask_kind`: 全体 is complete; groups, sectors and committees move the
        conversation to ``choose`` and members to ``members`` with the next question; anything else is asked
        again."""
        member = self._sender(ctx)
        kind = _kind_typed(ctx.text)
        if kind is None:
            return ctx.re_ask("broadcast_chat.new.bad_kind", text=ctx.text[:20],
                              choices=self.kind_choices(ctx, member))
        if kind not in self._kinds_for(member):
            return ctx.re_ask("broadcast_chat.new.kind_out_of_reach", kind=kind_name(ctx, kind),
                              choices=self.kind_choices(ctx, member))
        if kind is Audience.ALL:
            return ChosenAudience(kind, [], kind_name(ctx, kind))
        if kind is Audience.MEMBERS:
            ctx.conv.set(members, audience=kind.value)
            return ctx.t("broadcast_chat.new.ask_members")
        ids, names = await self.options(ctx, member, kind)
        if not ids:
            return ctx.re_ask("broadcast_chat.new.no_options", kind=kind_name(ctx, kind),
                              choices=self.kind_choices(ctx, member))
        ctx.conv.set(choose, audience=kind.value, options=ids, option_names=names)
        return ctx.t(f"broadcast_chat.new.ask_{kind.value}", choices=numbered(names))

    async def answer_choice(self, ctx: Context) -> str | ChosenAudience:
        """Numbers or names of the groups / sectors / committees listed by :meth:`answer_kind` (as listed then)."""
        data = ctx.conv.data
        names: list[str] = list(data["option_names"])
        chosen = pick_many(ctx.text, names)
        if not chosen:
            return ctx.re_ask("broadcast_chat.new.bad_choice", text=ctx.text[:20], choices=numbered(names))
        ids = [int(data["options"][index]) for index in chosen]
        kind = Audience(data["audience"])
        if await audience_count(ctx.session, kind, ids) == 0:  # nobody active there: sending would reach nobody
            return ctx.re_ask("broadcast_chat.new.empty_choice", choices=numbered(names))
        return ChosenAudience(kind, ids, _label(ctx, kind, [names[index] for index in chosen]))

    async def answer_members(self, ctx: Context) -> str | ChosenAudience:
        """Names that each match one active member within the sender's reach (else listed back)."""
        member = self._sender(ctx)
        if len(_tokens(ctx.text)) > NAMES_MAX:  # refused rather than cut: a silently shortened list would be worse
            return ctx.re_ask("broadcast_chat.new.too_many_names", max=NAMES_MAX)
        found, problems = await match_members(ctx, ctx.text, self.reach(member))
        if problems or not found:
            return ctx.re_ask("broadcast_chat.new.bad_members", problems="\n".join(problems)
                              or ctx.t("broadcast_chat.new.no_names"), found=len(found))
        return ChosenAudience(Audience.MEMBERS, [member_id for member_id, _ in found],
                              _label(ctx, Audience.MEMBERS, [name for _, name in found]))

    def kind_choices(self, ctx: Context, member: Member) -> str:
        allowed = self._kinds_for(member)
        return "\n".join(f"{number}. {kind_name(ctx, kind)}"
                         for number, kind in enumerate(KINDS, start=1) if kind in allowed)

    def _kinds_for(self, member: Member) -> list[Audience]:
        """A limited reach covers groups and members of them only: 全体, a sector or a committee crosses groups."""
        if self.reach(member) is None:
            return list(KINDS)
        return [Audience.GROUPS, Audience.MEMBERS]

    def _sender(self, ctx: Context) -> Member:
        member = self.sender(ctx)
        assert member is not None  # the conversation's step checked the sender's right first
        return member

    # --- by group -------------------------------------------------------------------------------------

    async def answer_groups(self, ctx: Context, member: Member) -> ChosenAudience | None:
        """全体 (an unlimited reach only) or numbers or names of the groups within reach, as listed now;
        ``None`` when the answer chooses nothing (the caller asks again in its words)."""
        if self.reach(member) is None and normalise(ctx.text) in _ALL_WORDS:
            return ChosenAudience(Audience.ALL, [], kind_name(ctx, Audience.ALL))
        ids, names = await self.options(ctx, member, Audience.GROUPS)
        chosen = pick_many(ctx.text, names)
        if not chosen:
            return None
        return ChosenAudience(Audience.GROUPS, [ids[index] for index in chosen],
                              _label(ctx, Audience.GROUPS, [names[index] for index in chosen]))


BROADCAST_PICKER = AudiencePicker(Action.BROADCAST)  # 群发, 新建学习: secretaries within their scope
ACTIVITY_PICKER = AudiencePicker(Action.MANAGE_ACTIVITY)  # 新建活动: group leaders and secretaries

_ALL_WORDS = frozenset(normalise(word) for word in KIND_WORDS[Audience.ALL])


def pick_many(text: str, names: list[str]) -> list[int]:
    """``1 3``, ``1、3``, ``1,3`` or names: the chosen indexes in ``names`` (in the order typed, without
    repeats); empty when any part chooses nothing."""
    chosen: list[int] = []
    for part in (part for part in _PARTS.split(normalise(text)) if part):
        index = pick(part, names)
        if index is None:
            return []
        if index not in chosen:
            chosen.append(index)
    return chosen


async def match_members(
    ctx: Context, text: str, reach: frozenset[int] | None
) -> tuple[list[tuple[int, str]], list[str]]:
    """Names typed (comma, space or 、 separated; ``王芳（城关镇）`` picks one of two 王芳) → the active members
    found, in the order typed, and one line per name that is unknown, ambiguous or outside ``reach``."""
    wanted: list[tuple[str, str]] = []
    for token in _tokens(text):
        qualified = _QUALIFIED.match(token)
        wanted.append((qualified.group(1), qualified.group(2)) if qualified else (token, ""))
    names = sorted({name for name, _ in wanted})
    rows = (await ctx.session.execute(
        select(Member.id, Member.name, Member.group_id, LiaisonGroup.name)
        .outerjoin(LiaisonGroup, LiaisonGroup.id == Member.group_id)
        .where(Member.status == MemberStatus.ACTIVE, Member.name.in_(names))  # type: ignore[attr-defined]
        .order_by(Member.id)
    )).all() if names else []
    found: list[tuple[int, str]] = []
    problems: list[str] = []
    for name, group in wanted:
        candidates = [row for row in rows if row[1] == name]
        if group:
            candidates = [row for row in candidates if row[3] and normalise(group) in normalise(row[3])]
        if not candidates:
            problems.append(ctx.t("broadcast_chat.new.unknown_name", name=name))
        elif len(candidates) > 1:
            choices = "、".join(f"{name}（{row[3] or '-'}）" for row in candidates)
            problems.append(ctx.t("broadcast_chat.new.ambiguous_name", name=name, choices=choices))
        elif reach is not None and candidates[0][2] not in reach:
            problems.append(ctx.t("broadcast_chat.new.name_out_of_reach", name=name))
        elif candidates[0][0] not in {member_id for member_id, _ in found}:
            found.append((candidates[0][0], name))
    return found, problems


def kind_name(ctx: Context, kind: Audience) -> str:
    """``全体委员``, ``联络组`` …"""
    return ctx.t(f"broadcast_chat.kind.{kind.value}")


def cut_names(ctx: Context, names: Sequence[str]) -> str:
    """``王芳、李强……等 45 人``: at most :data:`SHOWN_NAMES` names, then how many there are in all."""
    shown = "、".join(names[:SHOWN_NAMES])
    return shown + (ctx.t("broadcast_chat.more", count=len(names)) if len(names) > SHOWN_NAMES else "")


def _label(ctx: Context, kind: Audience, names: Sequence[str]) -> str:
    return f"{kind_name(ctx, kind)}：{cut_names(ctx, names)}"


def _kind_typed(text: str) -> Audience | None:
    typed = normalise(text).replace(" ", "").rstrip(".、")
    if typed.isdigit():
        number = int(typed)
        return KINDS[number - 1] if 1 <= number <= len(KINDS) else None
    return _KIND_OF.get(typed)


def _tokens(text: str) -> list[str]:
    return [token for token in _NAME_SPLIT.split(text.strip()) if token]
