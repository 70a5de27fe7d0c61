"""The authorisation matrix: every role × every action × in scope / out of scope."""

from __future__ import annotations

import pytest

from bot.domain.authz import Action, at_least, can, groups_within_reach
from models.member import Member, MemberStatus, Role

OWN, OTHER, THIRD = 1, 2, 3

# Who asks, and about which liaison group. Every subject belongs to group OWN.
SUBJECTS: dict[str, tuple[Role, list[int], int]] = {
    # name: (role, secretary scope, target group)
    "member": (Role.MEMBER, [], OWN),
    "leader:own-group": (Role.GROUP_LEADER, [], OWN),
    "leader:other-group": (Role.GROUP_LEADER, [], OTHER),
    "secretary:unlimited": (Role.SECRETARY, [], OTHER),
    "secretary:in-scope": (Role.SECRETARY, [OWN, THIRD], THIRD),
    "secretary:out-of-scope": (Role.SECRETARY, [OWN, THIRD], OTHER),
    "admin": (Role.ADMIN, [], OTHER),
}
COLUMNS = list(SUBJECTS)

# Y = allowed. Columns in the order of SUBJECTS.
MATRIX = """
view_own_profile        Y Y Y Y Y Y Y
submit_report           Y Y Y Y Y Y Y
submit_proposal         Y Y Y Y Y Y Y
request_leave           Y Y Y Y Y Y Y
view_duty_of_others     N Y N Y Y N Y
manage_activity         N Y N Y Y N Y
record_attendance       N Y N Y Y N Y
approve_leave           N Y N Y Y N Y
approve_member          N N N Y Y N Y
broadcast               N N N Y Y N Y
review_report           N N N Y Y N Y
export_archive          N N N Y Y N Y
manage_members          N N N Y Y N Y
verify_duty             N N N Y Y N Y
view_audit              N N N Y Y N Y
import_roster           N N N Y N N Y
approve_plenary_leave   N N N Y N N Y
manage_scoring          N N N Y N N Y
use_console             N N N Y Y Y Y
change_role             N N N N N N Y
manage_secretary_scope  N N N N N N Y
"""


def expected() -> dict[tuple[Action, str], bool]:
    table: dict[tuple[Action, str], bool] = {}
    for line in MATRIX.strip().splitlines():
        action, *cells = line.split()
        assert len(cells) == len(COLUMNS), line
        for column, cell in zip(COLUMNS, cells, strict=True):
            table[(Action(action), column)] = cell == "Y"
    return table


EXPECTED = expected()


def make_member(
    role: Role, scope: list[int] | None = None, status: MemberStatus = MemberStatus.ACTIVE
) -> Member:
    scope_ids = list(scope or [])
    return Member(id=7, name="测试", role=role, status=status, group_id=OWN, scope_group_ids=scope_ids)


def test_matrix_covers_every_action() -> None:
    assert {action for action, _ in EXPECTED} == set(Action)


@pytest.mark.parametrize("subject", COLUMNS)
@pytest.mark.parametrize("action", list(Action))
def test_matrix(action: Action, subject: str) -> None:
    role, scope, target = SUBJECTS[subject]
    assert can(make_member(role, scope), action, group_id=target) is EXPECTED[(action, subject)]


@pytest.mark.parametrize("status", [s for s in MemberStatus if s is not MemberStatus.ACTIVE])
@pytest.mark.parametrize("action", list(Action))
def test_only_active_members_may_do_anything(action: Action, status: MemberStatus) -> None:
    assert not can(make_member(Role.ADMIN, status=status), action, group_id=OWN)


@pytest.mark.parametrize("action", list(Action))
def test_strangers_may_do_nothing(action: Action) -> None:
    assert not can(None, action, group_id=OWN)


def test_group_actions_without_a_group() -> None:
    """Organisation-wide use of a group action (e.g. a broadcast to all) needs an unlimited scope."""
    assert not can(make_member(Role.GROUP_LEADER), Action.MANAGE_ACTIVITY)
    assert not can(make_member(Role.SECRETARY, [OWN]), Action.BROADCAST)
    assert can(make_member(Role.SECRETARY), Action.BROADCAST)
    assert can(make_member(Role.ADMIN), Action.BROADCAST)


def test_scopes_argument_overrides_the_stored_scope() -> None:
    secretary = make_member(Role.SECRETARY, [OWN])
    assert not can(secretary, Action.APPROVE_MEMBER, group_id=OTHER)
    assert can(secretary, Action.APPROVE_MEMBER, group_id=OTHER, scopes={OTHER})
    assert can(make_member(Role.SECRETARY), Action.APPROVE_MEMBER, group_id=OTHER, scopes=set())


def test_groups_within_reach() -> None:
    assert groups_within_reach(make_member(Role.ADMIN), Action.APPROVE_MEMBER) is None
    assert groups_within_reach(make_member(Role.SECRETARY), Action.APPROVE_MEMBER) is None
    scoped = make_member(Role.SECRETARY, [OWN, THIRD])
    assert groups_within_reach(scoped, Action.APPROVE_MEMBER) == {OWN, THIRD}
    assert groups_within_reach(make_member(Role.SECRETARY, [OWN]), Action.MANAGE_SCORING) == frozenset()
    assert groups_within_reach(make_member(Role.GROUP_LEADER), Action.APPROVE_LEAVE) == {OWN}
    assert groups_within_reach(make_member(Role.GROUP_LEADER), Action.APPROVE_MEMBER) == frozenset()
    assert groups_within_reach(make_member(Role.MEMBER), Action.APPROVE_MEMBER) == frozenset()
    assert groups_within_reach(None, Action.SUBMIT_REPORT) == frozenset()


def test_at_least() -> None:
    assert at_least(make_member(Role.SECRETARY), Role.GROUP_LEADER)
    assert not at_least(make_member(Role.GROUP_LEADER), Role.SECRETARY)
    assert not at_least(make_member(Role.ADMIN, status=MemberStatus.SUSPENDED), Role.MEMBER)
    assert not at_least(None, Role.MEMBER)
