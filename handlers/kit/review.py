"""One review queue, five uses: registrations (``审核``), reports (``审核报送``), leave (``审批``), duty claims
(``补录审核``) and appeals (``申诉处理``). A handler module describes its queue — how to load the list, how to
show a line and an item in full, the check that an item may still be decided by this reviewer, the actions
with their words and what they ask for, the texts' keys — and :meth:`ReviewQueue.install` binds it to the
module's router.

```mermaid
stateDiagram-v2
    [*] --> [*]: not a reviewer / refused
    [*] --> [*]: nothing waiting / "empty"
    [*] --> choose: start word / numbered list within the reviewer's reach (oldest first)
    choose --> decide: N / that item in full
    choose --> choose: ACTION N [what it needs] / done, the member told, list again
    choose --> ask: ACTION N, when the action needs a reason (a level, an answer …) / asked for it
    decide --> choose: ACTION [what it needs] / done, list again (or the item again, for a first step)
    decide --> ask: ACTION / asked for what it needs
    decide --> decide: N / another line in full
    ask --> choose: what was asked / done, list again
    ask --> ask: not acceptable / asked again
    ask --> choose: ACTION N / a change of mind: that line instead
    choose --> [*]: list empty after an answer / "done"
    choose --> [*]: a refusal (decided meanwhile, out of scope …) / said, with the list as it is now
```

What every queue does the same way:

- The list shown is stored as ids, so ``通过 2`` means the second line the reviewer saw even if another item
  arrived meanwhile; a number the list does not have is asked again.
- Before asking for a reason and again right before acting, the module's check runs on the stored item:
  another reviewer may have been quicker, the member may have withdrawn, the reviewer's scope changed. Its
  sentence, or the :class:`~bot.domain.refusals.Refusal` the domain raises while acting, is said with the
  list as it is now.
- :data:`~handlers.kit.words.APPROVE` and :data:`~handlers.kit.words.REJECT` decide in every queue
  (``拒绝 2`` everywhere), beside the words of the queue's own actions; what an action needs may follow on
  the same line (``驳回 2 名册中没有此人``) or be asked for.
- In the list and on an item only the queue's answers are bound to the conversation: other commands
  (``履职排名``, the start word again: a fresh list) still work, and what is neither is asked again. While
  asked for a reason everything typed is the reason, except the start word and a complete ``ACTION N``.
- Someone who may no longer review is refused, and the conversation ends.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bot.chat.context import Context
from bot.chat.router import Router, State, StatesGroup, normalise
from bot.domain.refusals import Refusal
from handlers.kit.paging import line_of, lines_that_fit
from handlers.kit.words import alternation, flat

Row = TypeVar("Row")  # a line of the list, as the module's loader returns it
Item = TypeVar("Item")  # one item, as the module's check returns it

_NUMBER = re.compile(r"^(\d+)[.、]?$")
_SEPARATOR = r"[\s,，:：]"


@dataclass(frozen=True, slots=True)
class Retry:
    """What was typed does not do: ask again with ``key``; ``kept`` is what was understood so far (the
    points of ``更正 2 +3``), offered to the next try."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)
    kept: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ask(Generic[Item]):
    """What an action needs besides the item: asked in ``state``; ``read`` turns what the reviewer typed
    (and what an earlier try kept) into the value the action gets, or a :class:`Retry`."""

    state: State
    question: Callable[[Context, Item], str]
    read: Callable[[Context, Item, str, Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Action(Generic[Item]):
    """One decision: the words that take it, what it asks for (None: nothing), and ``run``, which does it
    (raising a :class:`Refusal` when the domain says no) and returns the sentence saying what was done."""

    name: str
    words: frozenset[str]
    run: Callable[[Context, Item, Any], Awaitable[str]]
    ask: Ask[Item] | None = None
    stay: bool = False  # a first step (a report accepted): the item is shown again, not the list


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    rows: Sequence[Row]  # oldest first; the queue shows at most ``ReviewQueue.shown`` of them
    total: int  # how many are waiting in all, for the title


@dataclass(frozen=True, slots=True)
class QueueTexts:
    """The catalogue keys of one queue."""

    forbidden: str
    empty: str  # nothing waiting when the queue is opened
    title: str  # {count}
    more: str  # {shown}: not every waiting item is listed
    how: str  # under the list
    bad_input: str  # in the list, something that is none of the queue's answers
    bad_decision: str  # the same while one item is shown
    bad_number: str  # {number} (and {count}): a line the list does not have
    done: str = ""  # the list emptied by an answer (default: ``empty``)
    gap: str = "\n\n"  # between a sentence ("approved …") and the closing one ("all done")
    done_after_refusal: bool = False  # a refusal that empties the list closes it with ``done``, not ``empty``


@dataclass(frozen=True, slots=True)
class _Said:
    action: Action[Any] | None  # None: a bare number, "show me that line"
    number: int | None  # the line of the list; None: the item shown
    rest: str = ""  # what followed: the reason, the level …

    @property
    def complete(self) -> bool:
        """An action that asks for nothing takes nothing after its number (``通过 1 好`` is not an answer)."""
        return self.action is None or self.action.ask is not None or not self.rest


@dataclass
class ReviewQueue(Generic[Row, Item]):
    """One queue's description. ``states`` has ``choose`` (the list shown) and ``decide`` (one item shown);
    each :class:`Ask` brings the state where its question is answered."""

    states: type[StatesGroup]
    start: Sequence[str]
    menu_key: str
    allowed: Callable[[Context], bool]  # may this person review at all (which items: the check says)
    load: Callable[[Context], Awaitable[Page[Row]]]
    ident: Callable[[Row], int]
    line: Callable[[Context, int, Row], Awaitable[str]]
    check: Callable[[Context, int], Awaitable[Item | str]]  # the item, or why it cannot be decided now
    detail: Callable[[Context, int, Item], Awaitable[str]]
    actions: Sequence[Action[Item]]
    texts: QueueTexts
    shown: int | None = None  # lines listed at most (None: what the loader returned)
    budget: int | None = None  # bytes the lines may take (a passive reply's limit)

    def __post_init__(self) -> None:
        self._choose: State = self.states.choose  # type: ignore[attr-defined]
        self._decide: State = self.states.decide  # type: ignore[attr-defined]
        self._by_word: dict[str, Action[Item]] = {}
        for action in self.actions:
            for word in action.words:
                if self._by_word.setdefault(word, action) is not action:
                    raise ValueError(f"{word!r} takes two actions of one queue")
        words = alternation(self._by_word)
        ends = rf"(?=$|{_SEPARATOR}|\d)"  # the word ends there: "no" does not begin "notices"
        self._numbered = re.compile(rf"^{words}\s*(\d+){_SEPARATOR}*(.*)$", re.IGNORECASE | re.DOTALL)
        self._bare = re.compile(rf"^{words}(?:{_SEPARATOR}+(.*))?$", re.IGNORECASE | re.DOTALL)
        self._in_list_route = rf"^(?:\d+[.、]?$|{words}\s*\d)"
        self._on_item_route = rf"^(?:\d+[.、]?$|{words}{ends})"

    def install(self, router: Router) -> None:
        router.command(*self.start, reentry=True)(self.open)
        router.click(self.menu_key)(self.open)
        router.regex(self._in_list_route, state=self._choose)(self._answered_in_step)
        router.regex(self._on_item_route, state=self._decide)(self._answered_in_step)
        for state in dict.fromkeys(action.ask.state for action in self.actions if action.ask is not None):
            router.state(state)(self._asked)
        for step in (self._choose, self._decide):  # after every other route: other commands still work
            router.fallback(state=step)(self._unclear)

    # --- what the reviewer typed ------------------------------------------------------------------

    async def open(self, ctx: Context) -> str:
        if not self.allowed(ctx):
            return self.refuse(ctx)
        ctx.conv.finish()  # a fresh list forgets any other conversation's data
        return await self.show_list(ctx, answered=False)

    async def _answered_in_step(self, ctx: Context) -> str:
        """An answer in the list, or (one item shown) on that item, where ``ACTION`` alone means the item."""
        if not self.allowed(ctx):
            return self.refuse(ctx)
        said = self._parse(ctx.text, bare=self._decide == ctx.conv.state)
        if said is None or not said.complete:
            return await self._unclear(ctx)
        return await self._answered(ctx, said)

    async def _asked(self, ctx: Context) -> str:
        if not self.allowed(ctx):
            return self.refuse(ctx)
        said = self._parse(ctx.text, bare=False)
        if said is not None and said.action is not None and said.complete:
            return await self._answered(ctx, said)  # a change of mind: no reason looks like "通过 2"
        data = ctx.conv.data
        action = next((action for action in self.actions if action.name == data.get("action")), None)
        if action is None or data.get("current") is None:
            return await self.show_list(ctx, answered=False)
        return await self._act(ctx, int(data["current"]), action, ctx.text, kept=data.get("kept") or {},
                               asked=True)

    async def _unclear(self, ctx: Context) -> str:
        if not self.allowed(ctx):
            return self.refuse(ctx)
        return self._again(ctx, self.texts.bad_decision if self._decide == ctx.conv.state else self.texts.bad_input)

    def _again(self, ctx: Context, key: str, **values: Any) -> str:
        """A wrong answer, asked again; ``count`` (the lines listed) is there for texts that say "1 to N"."""
        return ctx.re_ask(key, count=len(self._ids(ctx)), **values)

    def refuse(self, ctx: Context) -> str:
        if self.states.contains(ctx.conv.state):
            ctx.conv.finish()
        return ctx.t(self.texts.forbidden)

    def _parse(self, text: str, *, bare: bool) -> _Said | None:
        """``N``, ``ACTION N [rest]``, or (``bare``: one item is shown) ``ACTION [rest]``."""
        typed = flat(text)
        if (found := _NUMBER.match(typed)) is not None:
            return _Said(None, int(found.group(1)))
        if (found := self._numbered.match(typed)) is not None:
            return _Said(self._by_word[normalise(found.group(1))], int(found.group(2)), found.group(3).strip())
        if bare and (found := self._bare.match(typed)) is not None:
            return _Said(self._by_word[normalise(found.group(1))], None, (found.group(2) or "").strip())
        return None

    async def _answered(self, ctx: Context, said: _Said) -> str:
        if said.number is None:
            if ctx.conv.data.get("current") is None:  # no item is shown after all: the list as it is
                return await self.show_list(ctx, answered=False)
            item_id = int(ctx.conv.data["current"])
        elif (line := line_of(ctx, said.number)).id is not None:
            item_id = line.id
        else:
            return self._again(ctx, self.texts.bad_number, number=said.number)
        if said.action is None:
            return await self._show_item(ctx, item_id)
        return await self._act(ctx, item_id, said.action, said.rest, kept={}, asked=False)

    # --- steps ------------------------------------------------------------------------------------

    async def _act(self, ctx: Context, item_id: int, action: Action[Item], text: str, *,
                   kept: Mapping[str, Any], asked: bool) -> str:
        """Check the item, get what the action needs (from ``text``, or by asking), then do it."""
        found = await self.check(ctx, item_id)
        if isinstance(found, str):
            return await self._refused(ctx, found)
        value: Any = None
        if action.ask is not None:
            if not text and not asked:
                ctx.conv.set(action.ask.state, current=item_id, action=action.name, kept={})
                return action.ask.question(ctx, found)
            value = action.ask.read(ctx, found, text, kept)
            if isinstance(value, Retry):
                if asked:
                    ctx.conv.update(kept=dict(value.kept))
                    return ctx.re_ask(value.key, **value.values)
                ctx.conv.set(action.ask.state, current=item_id, action=action.name, kept=dict(value.kept))
                return ctx.t(value.key, **value.values)
        try:
            done = await action.run(ctx, found, value)
        except Refusal as refusal:
            return await self._refused(ctx, refusal.render(ctx.services.texts))
        if action.stay:
            return await self._show_item(ctx, item_id, before=done)
        return await self.show_list(ctx, done)

    async def _show_item(self, ctx: Context, item_id: int, before: str = "") -> str:
        found = await self.check(ctx, item_id)
        if isinstance(found, str):
            return await self._refused(ctx, found)
        ctx.conv.set(self._decide, current=item_id, action=None, kept={})
        ids = self._ids(ctx)
        shown = await self.detail(ctx, ids.index(item_id) + 1 if item_id in ids else 1, found)
        return "\n".join([before, shown]) if before else shown

    async def _refused(self, ctx: Context, sentence: str) -> str:
        return await self.show_list(ctx, sentence, answered=self.texts.done_after_refusal)

    async def show_list(self, ctx: Context, before: str = "", *, answered: bool = True) -> str:
        """The waiting items within reach, numbered, after ``before``; ends the conversation when there are
        none (``answered``: the list emptied by an answer, so "all done" rather than "nothing waiting")."""
        texts = self.texts
        page = await self.load(ctx)
        notes = [before] if before else []
        if not page.rows:
            ctx.conv.finish()
            return texts.gap.join([*notes, ctx.t(texts.done or texts.empty if answered else texts.empty)])
        rows = list(page.rows[:self.shown])
        lines = [await self.line(ctx, number, row) for number, row in enumerate(rows, start=1)]
        if self.budget is not None:
            fitting = lines_that_fit(lines, self.budget - sum(len(note.encode()) for note in notes))
            rows, lines = rows[:fitting], lines[:fitting]
        ctx.conv.set(self._choose, ids=[self.ident(row) for row in rows], current=None, action=None, kept={})
        listing = [ctx.t(texts.title, count=page.total), *lines]
        if page.total > len(rows):
            listing.append(ctx.t(texts.more, shown=len(rows)))
        listing.append(ctx.t(texts.how))
        return "\n\n".join([*notes, "\n".join(listing)])

    def _ids(self, ctx: Context) -> list[int]:
        return [int(ident) for ident in ctx.conv.data.get("ids", [])]


def read_reason(low: int, high: int, retry_key: str, **values: Any) -> Callable[
    [Context, Any, str, Mapping[str, Any]], str | Retry
]:
    """An :class:`Ask`'s reader for a reason of ``low``–``high`` characters, spaces folded (it is told to the
    member in one line); ``retry_key`` (with ``values``) asks again."""

    def read(ctx: Context, item: Any, text: str, kept: Mapping[str, Any]) -> str | Retry:
        note = " ".join(text.split())
        return note if low <= len(note) <= high else Retry(retry_key, values)

    return read

