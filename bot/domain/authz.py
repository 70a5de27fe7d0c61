"""Who may do what: the one place that decides. Handlers and the API ask :func:`can`, never look at roles.

Roles rank member < group leader < secretary < admin. Each :class:`Action` has the lowest role that
may perform it and a reach:

- ``SELF``: anybody active may do it for themselves (submit a report, ask for leave);
- ``GROUP``: it concerns one liaison group (``group_id``). A group leader may act on their own group
  only; a secretary on the groups in their scope; an admin everywhere;
- ``GLOBAL``: it concerns the whole organisation (change roles, scoring rules). A secretary whose
  scope is limited to some groups may not.

A secretary's scope is ``Member.scope_group_ids``: empty means every group. Only active members may do
anything at all; a pending, suspended, rejected or departed member is refused like a stranger.

    can(member, action, group_id=...)
      member missing or not active ─────────────► no
      role below the action's minimum ──────────► no
      admin ────────────────────────────────────► yes
      SELF ─────────────────────────────────────► yes
      GROUP, group leader ──────────────────────► group_id is their own group
      GROUP, secretary ─────────────────────────► unlimited scope, or group_id within it
      GLOBAL, secretary ────────────────────────► unlimited scope only
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from models.member import Member, MemberStatus, Role

RANK: dict[Role, int] = {Role.MEMBER: 0, Role.GROUP_LEADER: 1, Role.SECRETARY: 2, Role.ADMIN: 3}


class Reach(enum.Enum):
    SELF = "self"
    GROUP = "group"
    GLOBAL = "global"


class Action(enum.StrEnum):
    # Every active member, for themselves.
    VIEW_OWN_PROFILE = "view_own_profile"
    SUBMIT_REPORT = "submit_report"
    SUBMIT_PROPOSAL = "submit_proposal"
    REQUEST_LEAVE = "request_leave"
    # Group leaders for their own group; secretaries within their scope.
    VIEW_DUTY_OF_OTHERS = "view_duty_of_others"
    MANAGE_ACTIVITY = "manage_activity"
    RECORD_ATTENDANCE = "record_attendance"
    APPROVE_LEAVE = "approve_leave"
    # Secretaries within their scope.
    APPROVE_MEMBER = "approve_member"
    BROADCAST = "broadcast"
    REVIEW_REPORT = "review_report"
    EXPORT_ARCHIVE = "export_archive"
    MANAGE_MEMBERS = "manage_members"  # look members up, edit their profile and status (the console's 委员)
    VERIFY_DUTY = "verify_duty"  # self-reported duties, appeals and adjustments of the ledger
    VIEW_AUDIT = "view_audit"  # the audit log of their groups (the console's 操作日志, the API's /audit)
    # Secretaries with an unlimited scope.
    IMPORT_ROSTER = "import_roster"
    APPROVE_PLENARY_LEAVE = "approve_plenary_leave"  # the chair's office: plenary and standing committee
    MANAGE_SCORING = "manage_scoring"
    # Secretaries (and admins), for themselves: the console shows each only their own scope.
    USE_CONSOLE = "use_console"
    # Administrators only.
    CHANGE_ROLE = "change_role"
    MANAGE_SECRETARY_SCOPE = "manage_secretary_scope"


@dataclass(frozen=True, slots=True)
class Rule:
    minimum: Role
    reach: Reach


RULES: dict[Action, Rule] = {
    Action.VIEW_OWN_PROFILE: Rule(Role.MEMBER, Reach.SELF),
    Action.SUBMIT_REPORT: Rule(Role.MEMBER, Reach.SELF),
    Action.SUBMIT_PROPOSAL: Rule(Role.MEMBER, Reach.SELF),
    Action.REQUEST_LEAVE: Rule(Role.MEMBER, Reach.SELF),
    Action.VIEW_DUTY_OF_OTHERS: Rule(Role.GROUP_LEADER, Reach.GROUP),
    Action.MANAGE_ACTIVITY: Rule(Role.GROUP_LEADER, Reach.GROUP),
    Action.RECORD_ATTENDANCE: Rule(Role.GROUP_LEADER, Reach.GROUP),
    Action.APPROVE_LEAVE: Rule(Role.GROUP_LEADER, Reach.GROUP),
    Action.APPROVE_MEMBER: Rule(Role.SECRETARY, Reach.GROUP),
    Action.BROADCAST: Rule(Role.SECRETARY, Reach.GROUP),
    Action.REVIEW_REPORT: Rule(Role.SECRETARY, Reach.GROUP),
    Action.EXPORT_ARCHIVE: Rule(Role.SECRETARY, Reach.GROUP),
    Action.MANAGE_MEMBERS: Rule(Role.SECRETARY, Reach.GROUP),
    Action.VERIFY_DUTY: Rule(Role.SECRETARY, Reach.GROUP),
    Action.VIEW_AUDIT: Rule(Role.SECRETARY, Reach.GROUP),
    Action.IMPORT_ROSTER: Rule(Role.SECRETARY, Reach.GLOBAL),
    Action.APPROVE_PLENARY_LEAVE: Rule(Role.SECRETARY, Reach.GLOBAL),
    Action.MANAGE_SCORING: Rule(Role.SECRETARY, Reach.GLOBAL),
    Action.USE_CONSOLE: Rule(Role.SECRETARY, Reach.SELF),
    Action.CHANGE_ROLE: Rule(Role.ADMIN, Reach.GLOBAL),
    Action.MANAGE_SECRETARY_SCOPE: Rule(Role.ADMIN, Reach.GLOBAL),
}


def at_least(member: Member | None, role: Role) -> bool:
    """An active member whose role ranks at least ``role`` (for menus: which help text to show)."""
    return member is not None and member.status is MemberStatus.ACTIVE and RANK[member.role] >= RANK[role]


def scope_of(member: Member) -> frozenset[int]:
    """The liaison groups a secretary is limited to; empty means all of them."""
    return frozenset(int(group_id) for group_id in (member.scope_group_ids or ()))


def can(
    member: Member | None,
    action: Action,
    *,
    group_id: int | None = None,
    scopes: Iterable[int] | None = None,
) -> bool:
    """May ``member`` perform ``action`` (on liaison group ``group_id``, for group-reach actions)?

    ``scopes`` overrides the secretary's stored scope (``Member.scope_group_ids``); leave it out
    unless you hold a fresher value than the member row.
    """
    rule = RULES[action]
    if not at_least(member, rule.minimum):
        return False
    assert member is not None
    if member.role is Role.ADMIN or rule.reach is Reach.SELF:
        return True
    scope = frozenset(scopes) if scopes is not None else scope_of(member)
    if member.role is Role.GROUP_LEADER:
        # Only group-reach actions rank a leader this high, and only for their own group.
        return rule.reach is Reach.GROUP and group_id is not None and group_id == member.group_id
    if not scope:
        return True  # a secretary without limits
    return rule.reach is Reach.GROUP and group_id is not None and group_id in scope


def groups_within_reach(member: Member | None, action: Action) -> frozenset[int] | None:
    """For listing things (pending applications, reports): ``None`` means every group, otherwise the
    groups this member may act on (possibly empty)."""
    rule = RULES[action]
    if not at_least(member, rule.minimum):
        return frozenset()
    assert member is not None
    if member.role is Role.ADMIN or rule.reach is Reach.SELF:
        return None
    if member.role is Role.GROUP_LEADER:
        ok = rule.reach is Reach.GROUP and member.group_id is not None
        return frozenset({member.group_id}) if ok and member.group_id is not None else frozenset()
    scope = scope_of(member)
    if not scope:
        return None
    return scope if rule.reach is Reach.GROUP else frozenset()
