"""Conversation states: a class of named steps whose names (``"Group:step"``) are what the database stores.

Kept apart from the router so that conversations (which store states) and the router (which matches them)
both depend on this module and not on each other. Handler modules import them from :mod:`bot.chat.router`.
"""

from __future__ import annotations


class State:
    """One named step of a conversation; its name ("Group:step") is what the database stores."""

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, attr: str) -> None:
        self.name = f"{owner.__name__}:{attr}"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"State({self.name!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, State):
            return self.name == other.name
        return isinstance(other, str) and self.name == other

    def __hash__(self) -> int:
        return hash(self.name)


class StatesGroup:
    """A class of :class:`State` attributes; ``Group.states()`` lists them, ``"Group:*"`` matches any."""

    @classmethod
    def states(cls) -> list[State]:
        return [value for value in vars(cls).values() if isinstance(value, State)]

    @classmethod
    def contains(cls, state_name: str | None) -> bool:
        return bool(state_name) and str(state_name).startswith(cls.__name__ + ":")
