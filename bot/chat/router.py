"""Routers and filters: how handler modules declare which events they answer.

A handler module owns one :class:`Router` and decorates plain ``async def`` functions::

    class Register(StatesGroup):
        name = State()

    router = Router("register")

    @router.command("注册", "register")
    @router.click("REGISTER")
    async def start(ctx: Context) -> str:
        ctx.conv.set(Register.name)
        return ctx.t("register.ask_name")

    @router.state(Register.name)
    async def got_name(ctx: Context) -> str: ...

How an event finds its handler (:class:`RouteTable`), first match wins:

1. the routes of the first router given (``handlers.common``: ``取消``, ``帮助`` work in any state);
2. re-entry: a command declared with ``reentry=True``, while the member is inside one of its own router's
   conversations (a state of a StatesGroup the router's routes are bound to). Typed there it restarts or
   resumes the conversation instead of being taken as an answer (python-telegram-bot's ``allow_reentry``);
   the router's :meth:`Router.on_reentry` hook, if any, runs first (e.g. to leave the conversation);
3. routes bound to the member's current state, so what a member types inside a conversation is an
   answer, even when it happens to be a command word (of another module, or one not declared re-entrant);
4. routes without a state: commands, menu keys, events. A member in the middle of one conversation can
   still start another by its menu key or command;
5. fallbacks (unknown input; one bound to a state answers only inside that conversation).

Inside each tier, routers keep the order of ``handlers.ROUTERS`` and routes their declaration order::

    @router.command("报送", reentry=True)   # 报送 typed at any step of ReportFlow starts it again
    async def start(ctx: Context) -> str: ...

The table also answers what spans all routers: the words of every command (``welcome``'s "did you mean"),
the ``帮助`` lines per audience and the ``取消`` hook of a conversation. Handlers reach it as ``ctx.routes``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot.chat.events import Kind
from bot.chat.states import State, StatesGroup
from bot.outbound.message import Reply

if TYPE_CHECKING:
    from bot.chat.context import Context

Handler = Callable[["Context"], Awaitable[Reply | str | None]]
ReentryHook = Callable[["Context"], None]

ANY_STATE = object()  # a sentinel: the route ignores conversation state

__all__ = ["ANY_STATE", "Handler", "HelpEntry", "Route", "RouteTable", "Router", "State", "StatesGroup",
           "leave_conversation", "normalise"]


_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def normalise(text: str) -> str:
    """What older members type, made comparable: full-width to half-width, case and spaces folded."""
    folded = unicodedata.normalize("NFKC", text.translate(_FULLWIDTH))
    return " ".join(folded.split()).lower()


@dataclass(frozen=True, slots=True)
class _Conversations:
    """The conversations of one router, by StatesGroup name: where its re-entrant commands take over."""

    groups: frozenset[str]

    def contains(self, state_name: str | None) -> bool:
        return bool(state_name) and str(state_name).partition(":")[0] in self.groups


@dataclass(slots=True)
class Route:
    handler: Handler
    kinds: frozenset[Kind]
    # A State, a StatesGroup subclass, None (only outside conversations), ANY_STATE, or (re-entry copies made
    # by the RouteTable) the _Conversations of the route's router.
    state: Any = ANY_STATE
    words: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None
    keys: frozenset[str] = frozenset()
    key_prefix: str = ""  # a family of keys, e.g. QR scenes "signin:<id>:<code>"
    is_fallback: bool = False
    reentry: bool = False  # a command that also runs inside its own router's conversations (tier 2)

    def state_matches(self, state_name: str | None) -> bool:
        if self.state is ANY_STATE:
            return True
        if self.state is None:
            return state_name is None
        if isinstance(self.state, _Conversations) or (
            isinstance(self.state, type) and issubclass(self.state, StatesGroup)
        ):
            return self.state.contains(state_name)
        return self.state == state_name

    def match(self, kind: Kind, normalised: str, key: str, state_name: str | None) -> re.Match[str] | bool:
        """``normalised`` is the event's text after :func:`normalise` (done once per event, not per route)."""
        if kind not in self.kinds or not self.state_matches(state_name):
            return False
        if self.words and normalised not in self.words:
            return False
        if self.keys and key not in self.keys:
            return False
        if self.key_prefix and not key.startswith(self.key_prefix):
            return False
        if self.pattern is not None:
            return self.pattern.search(normalised) or False
        return True


@dataclass(frozen=True, slots=True)
class HelpEntry:
    """A line of ``帮助``: the command word, the catalogue key describing it, who sees it."""

    word: str
    text_key: str
    audience: str = "member"  # "guest" (not registered) | "member" | "secretary"


# Who sees which lines of 帮助: a secretary is a member too.
HELP_AUDIENCES = {"guest": ("guest",), "member": ("member",), "secretary": ("member", "secretary")}


@dataclass
class Router:
    name: str
    routes: list[Route] = field(default_factory=list)
    help: list[HelpEntry] = field(default_factory=list)
    cancel_hooks: list[tuple[type[StatesGroup], Handler]] = field(default_factory=list)
    reentry_hook: ReentryHook | None = None

    def on_cancel(self, group: type[StatesGroup]) -> Callable[[Handler], Handler]:
        """Run before ``取消`` ends a conversation in ``group``; its answer replaces the plain "已取消"."""

        def decorate(handler: Handler) -> Handler:
            self.cancel_hooks.append((group, handler))
            return handler

        return decorate

    def on_reentry(self, hook: ReentryHook) -> ReentryHook:
        """Run before a re-entrant command of this router takes over one of its conversations, e.g. to
        leave it (a command that only shows something would otherwise leave the member in the step)."""
        self.reentry_hook = hook
        return hook

    def conversations(self) -> frozenset[str]:
        """The names of the StatesGroups this router's routes and cancel hooks are bound to."""
        names = {group.__name__ for group, _ in self.cancel_hooks}
        for route in self.routes:
            if isinstance(route.state, State):
                names.add(route.state.name.partition(":")[0])
            elif isinstance(route.state, type) and issubclass(route.state, StatesGroup):
                names.add(route.state.__name__)
        return frozenset(names)

    def describe(self, word: str, text_key: str, audience: str = "member") -> None:
        """List a command in ``帮助`` for this audience."""
        self.help.append(HelpEntry(word, text_key, audience))

    def _add(self, **spec: Any) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.routes.append(Route(handler=handler, **spec))
            return handler

        return decorate

    def command(self, *words: str, state: Any = ANY_STATE, reentry: bool = False) -> Callable[[Handler], Handler]:
        """Exact words (after :func:`normalise`), e.g. ``报送`` or ``report``. ``reentry``: typed inside one of
        this router's conversations, the command runs rather than the step's answer (tier 2)."""
        _check_reentry(state, reentry)
        return self._add(kinds=frozenset({Kind.TEXT}), words=frozenset(normalise(w) for w in words), state=state,
                         reentry=reentry)

    def regex(self, pattern: str, *, state: Any = ANY_STATE, reentry: bool = False) -> Callable[[Handler], Handler]:
        """A pattern searched in the normalised text; the match is ``ctx.match``. ``reentry`` as for
        :meth:`command`."""
        _check_reentry(state, reentry)
        return self._add(kinds=frozenset({Kind.TEXT}), pattern=re.compile(pattern), state=state, reentry=reentry)

    def click(self, *keys: str) -> Callable[[Handler], Handler]:
        """A menu item's key."""
        return self._add(kinds=frozenset({Kind.CLICK}), keys=frozenset(keys))

    def scene(self, prefix: str, *, kinds: Iterable[Kind] = (Kind.SCAN, Kind.SUBSCRIBE)) -> Callable[
        [Handler], Handler
    ]:
        """A QR code whose scene (the event's key) starts with ``prefix``: scanned by a follower, read by
        the menu's scanner, or followed through (the transports strip WeChat's ``qrscene_``)."""
        if not prefix:
            raise ValueError("a scene route needs a prefix; use event() for every scan")
        return self._add(kinds=frozenset(kinds), key_prefix=prefix)

    def event(self, *kinds: Kind, state: Any = ANY_STATE) -> Callable[[Handler], Handler]:
        """Any event of these kinds (subscribe, scan, location, image …)."""
        return self._add(kinds=frozenset(kinds), state=state)

    def state(self, state: State | type[StatesGroup], *, kinds: Iterable[Kind] = (Kind.TEXT,)) -> Callable[
        [Handler], Handler
    ]:
        """Whatever the member sends (of these kinds) while in this state."""
        return self._add(kinds=frozenset(kinds), state=state)

    def fallback(self, *, kinds: Iterable[Kind] = (Kind.TEXT,), state: Any = ANY_STATE) -> Callable[
        [Handler], Handler
    ]:
        """Anything of these kinds (in ``state``, by default any) that no other route took: tried last, so
        commands still work inside a conversation while its unexpected input gets its own reminder."""
        return self._add(kinds=frozenset(kinds), is_fallback=True, state=state)


def leave_conversation(ctx: Context) -> None:
    """The usual :meth:`Router.on_reentry` hook: the conversation is left, what it collected forgotten."""
    ctx.conv.finish()


def _check_reentry(state: Any, reentry: bool) -> None:
    if reentry and state is not ANY_STATE:
        raise ValueError("a re-entrant command is a command of any state; its router's conversations are where "
                         "it re-enters")


def _reentries(router: Router) -> list[Route]:
    """Copies of the router's re-entrant commands, bound to its conversations (tier 2)."""
    inside = _Conversations(router.conversations())
    if not inside.groups:
        return []
    return [replace(route, state=inside, handler=_after_hook(router.reentry_hook, route.handler), reentry=False)
            for route in router.routes if route.reentry]


def _after_hook(hook: ReentryHook | None, handler: Handler) -> Handler:
    if hook is None:
        return handler

    @functools.wraps(handler)
    async def reentered(ctx: Context) -> Reply | str | None:
        hook(ctx)
        return await handler(ctx)

    return reentered


def _tier(route: Route) -> int:
    """The order of tiers 2–5 of the module docstring (tier 1, the first router, is not sorted)."""
    if route.is_fallback:
        return 4
    if isinstance(route.state, _Conversations):
        return 1
    return 3 if route.state is ANY_STATE else 2


class RouteTable:
    """All routes of all routers, ordered once by the tiers in the module docstring, and what spans them."""

    def __init__(self, routers: Iterable[Router]) -> None:
        self.routers = list(routers)
        first, rest = (self.routers[0].routes, self.routers[1:]) if self.routers else ([], [])
        others = [route for router in rest for route in [*_reentries(router), *router.routes]]
        # sorted() is stable, so declaration order survives inside a tier.
        self.routes: list[Route] = list(first) + sorted(others, key=_tier)
        self.command_words: frozenset[str] = frozenset(word for route in self.routes for word in route.words)

    def help_entries(self, audience: str) -> list[HelpEntry]:
        """The ``帮助`` lines an audience sees, in router order."""
        wanted = HELP_AUDIENCES[audience]
        return [entry for router in self.routers for entry in router.help if entry.audience in wanted]

    def cancel_hook_for(self, state: str | None) -> Handler | None:
        """The ``取消`` hook of the conversation ``state`` belongs to, if its module declared one."""
        for router in self.routers:
            for group, hook in router.cancel_hooks:
                if group.contains(state):
                    return hook
        return None

    def find(self, kind: Kind, text: str, key: str, state_name: str | None) -> tuple[
        Route, re.Match[str] | None
    ] | None:
        normalised = normalise(text)
        for route in self.routes:
            matched = route.match(kind, normalised, key, state_name)
            if matched is not False:
                return route, matched if isinstance(matched, re.Match) else None
        return None
