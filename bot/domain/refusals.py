"""One refusal type for every rule of :mod:`bot.domain`: what was refused, in the catalogue's words, and what
kind of failure it is, so that each caller maps it once.

    bot.domain.* ── raise Refusal(key, kind, field=…, code=…, **values) ──┬─► chat (handlers/*):
                                                                         │     refusal.render(texts)
                                                                         └─► admin API (bot.api.common):
                                                                               admin_endpoint → status by kind

    kind        HTTP   body of the admin API                          when
    INVALID     422    {"error": "invalid", "message", "fields"}      the input breaks a rule (``field``: which one)
    FORBIDDEN   403    {"error": "forbidden", "message"}              this person may not do it
    NOT_FOUND   404    {"error": "not_found", "message"}              the thing does not exist
    CONFLICT    409    {"error": <code>, "message"}                   its current state does not allow it
                                                                       (``code``: which state, e.g. already_decided)

A value may be a :class:`Term` (a status, an action): it is shown by its name in the catalogue of whoever reads
the refusal, so ``leave.status.approved`` reads 已批准 in chat and "approved" in an English one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from bot.infra.i18n import Catalogue


class Kind(enum.StrEnum):
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Term:
    """A value named by a catalogue key (``leave.status.approved``), looked up when the refusal is rendered;
    a key the catalogue lacks shows as its last part (``approved``) rather than as a dotted key."""

    key: str

    def shown(self, texts: Catalogue) -> str:
        return texts(self.key) if texts.has(self.key) else self.key.rsplit(".", 1)[-1]


class Refusal(Exception):
    """A rule said no. ``key`` and ``values`` are the sentence; ``kind`` what failed; ``field`` the request
    field an invalid input is about (None: the request as a whole); ``code`` a stable machine code (the kind's
    name unless a conflict names the state)."""

    def __init__(self, key: str, kind: Kind, *, field: str | None = None, code: str | None = None,
                 **values: Any) -> None:
        super().__init__(key)
        self.key, self.kind, self.field, self.values = key, kind, field, values
        self.code = code or kind.value

    @classmethod
    def invalid(cls, key: str, *, field: str | None = None, **values: Any) -> Refusal:
        return cls(key, Kind.INVALID, field=field, **values)

    @classmethod
    def forbidden(cls, key: str, **values: Any) -> Refusal:
        return cls(key, Kind.FORBIDDEN, **values)

    @classmethod
    def not_found(cls, key: str, **values: Any) -> Refusal:
        return cls(key, Kind.NOT_FOUND, **values)

    @classmethod
    def conflict(cls, key: str, *, code: str, **values: Any) -> Refusal:
        return cls(key, Kind.CONFLICT, code=code, **values)

    def render(self, texts: Catalogue) -> str:
        """The sentence in ``texts``' locale, terms by their names."""
        return texts(self.key, **{name: value.shown(texts) if isinstance(value, Term) else value
                                  for name, value in self.values.items()})

    def __repr__(self) -> str:
        return f"Refusal({self.key!r}, {self.kind.value}, code={self.code!r}, field={self.field!r}, {self.values!r})"
