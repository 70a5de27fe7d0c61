"""Numbered lists, the way older members answer them: by number, by the exact name, or by a part of one."""

from __future__ import annotations

from bot.chat.router import normalise


def numbered(names: list[str]) -> str:
    """``1. 经济发展`` one per line."""
    return "\n".join(f"{number}. {name}" for number, name in enumerate(names, start=1))


def pick(text: str, names: list[str]) -> int | None:
    """The index in ``names`` that ``text`` chooses: its number, its exact name, or a part of exactly one
    name (``3``, ``３.``, ``生态环境``, ``生态``). ``None`` when it chooses nothing or is ambiguous."""
    typed = normalise(text).replace(" ", "").rstrip(".、")
    if not typed:
        return None
    if typed.isdigit():
        index = int(typed) - 1
        return index if 0 <= index < len(names) else None
    folded = [normalise(name).replace(" ", "") for name in names]
    if typed in folded:
        return folded.index(typed)
    partial = [index for index, name in enumerate(folded) if typed in name]
    return partial[0] if len(partial) == 1 else None
