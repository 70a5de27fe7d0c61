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
2. routes bound to the member's current state, so what a member types inside a conversation is an
   answer, even when it happens to be a command word;
3. routes without a state: commands, menu keys, events. A member in the middle of one conversation can
   still start another by its menu key or command;
4. fallbacks (unknown input; one bound to a state answers only inside that conversation).

Inside each tier, routers keep the order of ``handlers.ROUTERS`` and routes their declaration order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.chat.events import Kind
from bot.chat.states import State, StatesGroup
from bot.outbound.message import Reply

if TYPE_CHECKING:
    from bot.chat.context import Context

Handler = Callable[["Context"], Awaitable[Reply | str | None]]

ANY_STATE = object()  # a sentinel: the route ignores conversation state

__all__ = ["ANY_STATE", "Handler", "HelpEntry", "Route", "RouteTable", "Router", "State", "StatesGroup", "normalise"]


_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def normalise(text: str) -> str:
    """What older members type, made comparable: full-width to half-width, case and spaces folded."""
    folded = unicodedata.normalize("NFKC", text.translate(_FULLWIDTH))
    return " ".join(folded.split()).lower()


@dataclass(slots=True)
class Route:
    handler: Handler
    kinds: frozenset[Kind]
    state: Any = ANY_STATE  # a State, a StatesGroup subclass, None (only outside conversations) or ANY_STATE
    words: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None
    keys: frozenset[str] = frozenset()
    key_prefix: str = ""  # a family of keys, e.g. QR scenes "signin:<id>:<code>"
    is_fallback: bool = False

    def state_matches(self, state_name: str | None) -> bool:
        if self.state is ANY_STATE:
            return True
        if self.state is None:
            return state_name is None
        if isinstance(self.state, type) and issubclass(self.state, StatesGroup):
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


@dataclass
class Router:
    name: str
    routes: list[Route] = field(default_factory=list)
    help: list[HelpEntry] = field(default_factory=list)
    cancel_hooks: list[tuple[type[StatesGroup], Handler]] = field(default_factory=list)

    def on_cancel(self, group: type[StatesGroup]) -> Callable[[Handler], Handler]:
        """Run before ``取消`` ends a conversation in ``group``; its answer replaces the plain "已取消"."""

        def decorate(handler: Handler) -> Handler:
            self.cancel_hooks.append((group, handler))
            return handler

        return decorate

    def describe(self, word: str, text_key: str, audience: str = "member") -> None:
        """List a command in ``帮助`` for this audience."""
        self.help.append(HelpEntry(word, text_key, audience))

    def _add(self, **spec: Any) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.routes.append(Route(handler=handler, **spec))
            return handler

        return decorate

    def command(self, *words: str, state: Any = ANY_STATE) -> Callable[[Handler], Handler]:
        """Exact words (after :func:`normalise`), e.g. ``报送`` or ``report``."""
        return self._add(kinds=frozenset({Kind.TEXT}), words=frozenset(normalise(w) for w in words), state=state)

    def regex(self, pattern: str, *, state: Any = ANY_STATE) -> Callable[[Handler], Handler]:
        """A pattern searched in the normalised text; the match is ``ctx.match``."""
        return self._add(kinds=frozenset({Kind.TEXT}), pattern=re.compile(pattern), state=state)

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


def _tier(route: Route) -> int:
    if route.is_fallback:
        return 3
    return 2 if route.state is ANY_STATE else 1


class RouteTable:
    """All routes of all routers, ordered once by the tiers in the module docstring."""

    def __init__(self, routers: Iterable[Router]) -> None:
        routers = list(routers)
        first, rest = (routers[0].routes, routers[1:]) if routers else ([], [])
        others = [route for router in rest for route in router.routes]
        # sorted() is stable, so declaration order survives inside a tier.
        self.routes: list[Route] = list(first) + sorted(others, key=_tier)

    def command_words(self) -> set[str]:
        return {word for route in self.routes for word in route.words}

    def find(self, kind: Kind, text: str, key: str, state_name: str | None) -> tuple[
        Route, re.Match[str] | None
    ] | None:
        normalised = normalise(text)
        for route in self.routes:
            matched = route.match(kind, normalised, key, state_name)
            if matched is not False:
                return route, matched if isinstance(matched, re.Match) else None
        return None
