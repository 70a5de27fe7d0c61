"""Who an admin API request acts as, and the liaison groups it may see (bot/api/common.py checks the token).

    superuser token ─► caller None: the office, every group (reach None)
    personal token  ─► caller the secretary: reach = groups_within_reach(them, action), ``by`` for the domain

    statement.where(*within(Report.group_id, reach_of(request, Action.REVIEW_REPORT)))   a list kept to the scope
    known_within(row.group_id, reach, "report")                                          another group's: 404
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.api.common import CALLER, not_found
from bot.domain.authz import Action, groups_within_reach
from models.member import Member


def caller(request: web.Request) -> Member | None:
    """Who the request acts as: a personal token's secretary, or None for the superuser token (the office)."""
    found = request.get(CALLER)
    return found if isinstance(found, Member) else None


def reach_of(request: web.Request, action: Action) -> frozenset[int] | None:
    """The liaison groups the request may see for ``action``: every one (None) for the office."""
    member = caller(request)
    return None if member is None else groups_within_reach(member, action)


def within(column: Any, reach: frozenset[int] | None) -> list[Any]:
    """The condition keeping ``column`` (a liaison group id) to ``reach``, as a list for ``.where(*…)``."""
    return [] if reach is None else [column.in_(sorted(reach))]


def known_within(group_id: int | None, reach: frozenset[int] | None, what: str) -> None:
    """A row of another group is as unknown as none: 404 ``not_found`` naming ``what``."""
    if reach is not None and group_id not in reach:
        raise not_found(what)
