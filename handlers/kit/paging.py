"""Lists in chat: as many lines as one passive reply carries, in pages that never move, numbered so that
"2" keeps meaning the line the member saw.

WeChat refuses a passive reply over 2048 bytes (the dispatcher splits longer ones and pushes the rest, which
reads badly for a list), so a list shows what fits in :data:`LINES_BUDGET` and says how to see more::

    lines_that_fit(lines, budget)   how many of the lines fit (at least one): a review queue's first screen
    fit_pages(lines, budget, most)  the pages of a numbered list (履职明细 2): (first index, count) each

Both count a line's UTF-8 bytes and its line break, so a Chinese line weighs three bytes a character.

A numbered list is stored as the ids of its rows when it is shown (``ctx.conv.set(State, ids=[...])``), so a
row that arrives meanwhile does not shift the numbers; :func:`line_of` reads "line N" back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.chat.context import Context
from bot.chat.dispatcher import PASSIVE_REPLY_BYTES

# Room left for a reply's head and foot when lines are fitted to the platform's passive-reply limit.
LINES_BUDGET = PASSIVE_REPLY_BYTES - 500


def lines_that_fit(lines: Sequence[str], budget: int) -> int:
    """How many of ``lines`` (one per line, in order) fit in ``budget`` bytes; at least one."""
    used = 0
    for count, line in enumerate(lines):
        used += len(line.encode()) + 1
        if used > budget:
            return max(count, 1)
    return len(lines)


def fit_pages(lines: Sequence[str], budget: int, most: int) -> list[tuple[int, int]]:
    """Cut ``lines`` into pages of at most ``most`` lines and ``budget`` bytes: (first index, count) each.
    Deterministic, so page 2 always starts where page 1 ended; a line over the budget is a page of its own."""
    pages: list[tuple[int, int]] = []
    start = 0
    while start < len(lines):
        count = min(most, lines_that_fit(lines[start:], budget))
        pages.append((start, count))
        start += count
    return pages or [(0, 0)]


@dataclass(frozen=True, slots=True)
class Line:
    """Line ``number`` of the numbered list the member saw."""

    number: int
    id: int | None  # the row shown on that line; None when the list has no such line
    count: int  # how many lines the list had


def line_of(ctx: Context, number: int | None = None) -> Line:
    """Line ``number`` (by default the first group of ``ctx.match``) of the list kept as ``ids`` in the
    conversation when it was shown."""
    if number is None:
        number = int(ctx.match.group(1)) if ctx.match else 0
    ids = [int(ident) for ident in ctx.conv.data.get("ids", [])]
    return Line(number, ids[number - 1] if 1 <= number <= len(ids) else None, len(ids))
