"""Audiences: who an activity, a notice, a broadcast or a study material is for (all members, liaison groups,
sectors, special committees or named members), and who may address which audience.

Stored as ``(Audience, ids)`` on the row that addresses it; :func:`members_clause` turns that into the WHERE
clause over ``member`` (active members only) and :func:`member_in` answers the same for one loaded member.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, true

from bot.domain.authz import Action, groups_within_reach
from bot.domain.refusals import Refusal
from models.activity import Audience
from models.member import Member, MemberStatus


def members_clause(audience: Audience, ids: Sequence[int]) -> ColumnElement[bool]:
    """The active members of an audience (activities, notices, study), as a WHERE clause over ``member``."""
    active = Member.status == MemberStatus.ACTIVE
    column = {
        Audience.GROUPS: Member.group_id,
        Audience.SECTORS: Member.sector_id,
        Audience.COMMITTEES: Member.committee_id,
        Audience.MEMBERS: Member.id,
    }.get(audience)
    if column is None:
        return active & true()
    return active & column.in_(list(ids))  # type: ignore[union-attr]


def member_in(member: Member, audience: Audience, audience_ids: Sequence[int]) -> bool:
    """:func:`members_clause` for one member already loaded."""
    if member.status is not MemberStatus.ACTIVE:
        return False
    ids = set(audience_ids)
    match audience:
        case Audience.ALL:
            return True
        case Audience.GROUPS:
            return member.group_id in ids
        case Audience.SECTORS:
            return member.sector_id in ids
        case Audience.COMMITTEES:
            return member.committee_id in ids
        case Audience.MEMBERS:
            return member.id in ids
    return False


def check_audience_reach(
    by: Member | None, action: Action, audience: Audience, ids: Sequence[int], member_groups: Sequence[int | None]
) -> None:
    """May ``by`` address this audience with ``action`` (organise, broadcast)? ``None`` is the office.
    A limited reach allows only groups within it, or members of them (``member_groups``)."""
    if by is None:
        return
    reach = groups_within_reach(by, action)
    if reach is None:
        return
    if not reach:
        raise Refusal.forbidden("activity.error.forbidden")
    if audience is Audience.GROUPS and set(ids) <= reach:
        return
    if audience is Audience.MEMBERS and all(group in reach for group in member_groups):
        return
    raise Refusal.forbidden("activity.error.audience_out_of_reach")
