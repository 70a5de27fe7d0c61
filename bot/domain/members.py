"""Member operations shared by the chat handlers and the admin API: binding, applications, decisions.

Every function works inside the caller's transaction (``session``) and queues its notifications there
too, so a decision and the message telling the applicant about it are committed together or not at all.

    register, roster match ──► bind()                        (identity → active member)
    register, no match ─────► file_application()            (pending member + application,
                                                              secretaries in reach notified)
    审核 / POST …/approve ──► approve()  ── identity bound, applicant told
    审核 / POST …/reject ───► reject()   ── member marked rejected, applicant told with the reason
    console 委员 ───────────► search() · member_within_reach() · edit_member() ── update_member(), audited
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.authz import Action, can
from bot.domain.refusals import Refusal, Term
from bot.domain.roster import clean_name, normalise_mobile
from bot.infra.direct import Direct
from bot.infra.i18n import Catalogue
from bot.outbound.message import Reply
from bot.outbound.queue import enqueue
from models.member import (
    ApplicationStatus,
    Committee,
    Identity,
    LiaisonGroup,
    Member,
    MemberApplication,
    MemberStatus,
    Platform,
    Role,
    Sector,
)

log = logging.getLogger(__name__)

REVIEW_LIST_LIMIT = 10  # applications shown per 审核 page: a chat screen, not a spreadsheet
REASON_MIN, REASON_MAX = 2, 200  # a rejection's reason, told to the applicant


@dataclass(frozen=True, slots=True)
class Decision:
    member: Member
    application: MemberApplication | None
    notified: bool  # a message to the applicant was queued


# --- lookups --------------------------------------------------------------------------------------

async def find_by_mobile(session: AsyncSession, mobile: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.mobile == mobile))


async def identity_on(session: AsyncSession, member_id: int, platform: str) -> Identity | None:
    """The member's identity on this platform (a member holds at most one per platform)."""
    return await session.scalar(
        select(Identity).where(Identity.member_id == member_id, Identity.platform == platform)
    )


async def identity_of(session: AsyncSession, platform: str, external_id: str) -> Identity | None:
    return await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )


# Built once: ``注册`` looks it up for every visitor (a reused statement keeps its compiled form).
_PENDING_APPLICATION = (
    select(MemberApplication)
    .where(
        MemberApplication.platform == bindparam("platform"),
        MemberApplication.external_id == bindparam("external_id"),
        MemberApplication.status == ApplicationStatus.PENDING,
    )
    .order_by(MemberApplication.id.desc())  # type: ignore[union-attr]
    .limit(1)
)


async def pending_application_of(
    session: AsyncSession, platform: str, external_id: str
) -> MemberApplication | None:
    return await session.scalar(_PENDING_APPLICATION, {"platform": platform, "external_id": external_id})


async def latest_application(session: AsyncSession, member_id: int) -> MemberApplication | None:
    return await session.scalar(
        select(MemberApplication)
        .where(MemberApplication.member_id == member_id)
        .order_by(MemberApplication.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )


# One statement for the three names (``我的`` shows them on every call), built once, run Direct
# (bot/infra/direct.py: on SQLite without SQLAlchemy's execution pipeline).
_NAMES = Direct(select(
    select(LiaisonGroup.name).where(LiaisonGroup.id == bindparam("group")).scalar_subquery(),
    select(Sector.name).where(Sector.id == bindparam("sector")).scalar_subquery(),
    select(Committee.name).where(Committee.id == bindparam("committee")).scalar_subquery(),
))


async def names_of(session: AsyncSession, member: Member) -> dict[str, str]:
    """The member's group, sector and committee names ("" where unset)."""
    ids = {"group": member.group_id, "sector": member.sector_id, "committee": member.committee_id}
    found = await _NAMES.first(session, ids)
    return {key: name or "" for key, name in zip(ids, found, strict=True)}


def _pending_within(statement: Select[Any], groups: frozenset[int] | None) -> Select[Any]:
    """``statement`` (over applications joined to their members) kept to pending ones in ``groups`` (None: all)."""
    statement = statement.join(Member, Member.id == MemberApplication.member_id).where(
        MemberApplication.status == ApplicationStatus.PENDING, Member.status == MemberStatus.PENDING)
    if groups is not None:
        statement = statement.where(Member.group_id.in_(groups))  # type: ignore[union-attr]
    return statement


async def pending_applications(
    session: AsyncSession, groups: frozenset[int] | None, limit: int | None = REVIEW_LIST_LIMIT, offset: int = 0
) -> list[tuple[MemberApplication, Member]]:
    """Pending applications, oldest first; ``groups`` limits them to those liaison groups (None: all)."""
    statement = (
        _pending_within(select(MemberApplication, Member), groups)
        .order_by(MemberApplication.created_at, MemberApplication.id)
        .limit(limit).offset(offset)
    )
    return [(application, member) for application, member in (await session.execute(statement)).all()]


async def count_pending_applications(session: AsyncSession, groups: frozenset[int] | None) -> int:
    """How many applications :func:`pending_applications` would list without a limit, counted in the database."""
    statement = _pending_within(select(func.count()).select_from(MemberApplication), groups)
    return int(await session.scalar(statement) or 0)


# --- binding and applying -------------------------------------------------------------------------

async def bind(
    session: AsyncSession, member: Member, platform: str, external_id: str, now: datetime
) -> Identity:
    """Bind a chat identity to an active member; an application this identity had pending is withdrawn."""
    assert member.id is not None
    identity = Identity(
        member_id=member.id, platform=Platform(platform), external_id=external_id, bound_at=now
    )
    session.add(identity)
    waiting = await pending_application_of(session, platform, external_id)
    if waiting is not None:
        await _withdraw(session, waiting, now)
    await session.flush()
    return identity


async def _withdraw(session: AsyncSession, application: MemberApplication, now: datetime) -> None:
    application.status, application.decided_at = ApplicationStatus.WITHDRAWN, now
    applicant = await session.get(Member, application.member_id)
    if applicant is not None and applicant.status is MemberStatus.PENDING:
        applicant.status, applicant.updated_at = MemberStatus.REJECTED, now


async def unbind(session: AsyncSession, platform: str, external_id: str) -> bool:
    identity = await identity_of(session, platform, external_id)
    if identity is None:
        return False
    await session.delete(identity)
    await session.flush()
    return True


async def file_application(
    session: AsyncSession,
    *,
    name: str,
    mobile: str,
    sector_id: int | None,
    group_id: int | None,
    platform: str,
    external_id: str,
    now: datetime,
    texts: Catalogue,
) -> MemberApplication:
    """A stranger's registration: a pending member, its application, and a note to each secretary in reach.

    A member rejected earlier with the same mobile is reused (the mobile is unique), so a corrected
    application is possible without a secretary deleting anything.
    """
    member = await find_by_mobile(session, mobile)
    if member is not None and member.status is not MemberStatus.REJECTED:
        raise ValueError("file_application needs a free mobile or a rejected member")
    if member is None:
        member = Member(name=name, mobile=mobile, status=MemberStatus.PENDING, created_at=now)
        session.add(member)
    member.name, member.sector_id, member.group_id = name, sector_id, group_id
    member.status, member.role, member.updated_at = MemberStatus.PENDING, Role.MEMBER, now
    await session.flush()
    assert member.id is not None
    application = MemberApplication(
        member_id=member.id, platform=Platform(platform), external_id=external_id, created_at=now
    )
    session.add(application)
    await session.flush()
    await notify_secretaries(session, application, member, texts)
    return application


async def notify_secretaries(
    session: AsyncSession, application: MemberApplication, applicant: Member, texts: Catalogue
) -> int:
    """Tell every secretary who may approve this applicant (scope permitting). Returns how many were told."""

    rows = (await session.execute(
        select(Member, Identity)
        .join(Identity, Identity.member_id == Member.id)
        .where(Member.role.in_([Role.SECRETARY, Role.ADMIN]), Member.status == MemberStatus.ACTIVE)  # type: ignore[attr-defined]
        .order_by(Identity.id)
    )).all()
    names = await names_of(session, applicant)
    text = texts("members.review.new_application", name=applicant.name, group=names["group"] or "-")
    told = 0
    for secretary, identity in rows:
        if not can(secretary, Action.APPROVE_MEMBER, group_id=applicant.group_id):
            continue
        told += await enqueue(
            session, platform=identity.platform.value, recipient=identity.external_id, reply=Reply(text=text),
            key=f"member-applied:{application.id}:{identity.id}", member_id=secretary.id,
        )
    if not told:
        log.warning("application %s: no secretary with a chat identity can approve it", application.id)
    return told


# --- decisions ------------------------------------------------------------------------------------

async def _pending_member(session: AsyncSession, member_id: int, by: Member | None) -> Member:
    """The member to decide on, refused when missing, outside ``by``'s scope (None: the office, through the API)
    or no longer pending. Scope comes before status: a stranger's applicant's state is not told."""
    member = await session.get(Member, member_id, with_for_update=True)
    if member is None:
        raise Refusal.not_found("members.error.not_found")
    if by is not None and not can(by, Action.APPROVE_MEMBER, group_id=member.group_id):
        raise Refusal.forbidden("members.error.out_of_scope", name=member.name)
    if member.status is not MemberStatus.PENDING:  # approved, rejected, or never applied
        raise Refusal.conflict("members.error.not_pending", code="not_pending",
                               status=Term(f"members.status.{member.status.value}"))
    return member


async def approve(
    session: AsyncSession, member_id: int, *, by: Member | None, now: datetime, texts: Catalogue
) -> Decision:
    """Make a pending member active, bind the identity that applied, and tell the applicant."""
    member = await _pending_member(session, member_id, by)
    member.status, member.updated_at = MemberStatus.ACTIVE, now
    application = await latest_application(session, member_id)
    if application is None or application.status is not ApplicationStatus.PENDING:
        await _record_decision(session, member, "member.approve", by, now)
        return Decision(member, None, notified=False)  # made pending by hand: nobody to tell
    _decide(application, ApplicationStatus.APPROVED, by, now)
    platform, external_id = application.platform.value, application.external_id
    if await identity_of(session, platform, external_id) is None:
        session.add(Identity(member_id=member_id, platform=application.platform, external_id=external_id,
                             bound_at=now))
    else:
        log.warning("application %s approved, but its identity is bound elsewhere now", application.id)
    notified = await _tell(session, application, member, "members.approved", f"member-approved:{member_id}",
                           texts, name=member.name)
    await _record_decision(session, member, "member.approve", by, now)
    await session.flush()
    return Decision(member, application, notified)


async def reject(
    session: AsyncSession, member_id: int, *, reason: str, by: Member | None, now: datetime, texts: Catalogue
) -> Decision:
    """Turn a pending member down with a reason the applicant is told (REASON_MIN to REASON_MAX characters)."""
    member = await _pending_member(session, member_id, by)
    reason = reason.strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise Refusal.invalid("members.error.reason", field="reason", min=REASON_MIN, max=REASON_MAX)
    member.status, member.updated_at = MemberStatus.REJECTED, now
    application = await latest_application(session, member_id)
    if application is None or application.status is not ApplicationStatus.PENDING:
        await _record_decision(session, member, "member.reject", by, now, summary=reason)
        return Decision(member, None, notified=False)
    _decide(application, ApplicationStatus.REJECTED, by, now)
    application.reason = reason[:200]
    notified = await _tell(session, application, member, "members.rejected",
                           f"member-rejected:{member_id}:{application.id}", texts,
                           name=member.name, reason=application.reason)
    await _record_decision(session, member, "member.reject", by, now, summary=application.reason)
    await session.flush()
    return Decision(member, application, notified)


async def _record_decision(
    session: AsyncSession, member: Member, action: str, by: Member | None, now: datetime, summary: str = ""
) -> None:
    await audit.record(session, action=action, object_type="member", object_id=member.id, group_id=member.group_id,
                       by=by, before={"status": MemberStatus.PENDING}, after={"status": member.status},
                       summary=summary or member.name, at=now)


def _decide(
    application: MemberApplication, status: ApplicationStatus, by: Member | None, now: datetime
) -> None:
    application.status, application.decided_at = status, now
    application.decided_by_id = by.id if by is not None else None


async def _tell(
    session: AsyncSession, application: MemberApplication, member: Member, text_key: str, key: str,
    texts: Catalogue, **values: str,
) -> bool:

    return await enqueue(
        session, platform=application.platform.value, recipient=application.external_id,
        reply=Reply(text=texts(text_key, **values)), key=key, member_id=member.id,
    )


async def set_role(session: AsyncSession, member: Member, role: Role, now: datetime) -> None:
    """Change a role, keeping ``LiaisonGroup.leader_id`` in step: one leader per group."""
    if member.role is Role.GROUP_LEADER and role is not Role.GROUP_LEADER and member.group_id is not None:
        group = await session.get(LiaisonGroup, member.group_id)
        if group is not None and group.leader_id == member.id:
            group.leader_id = None
    if role is Role.GROUP_LEADER and member.group_id is not None:
        group = await session.get(LiaisonGroup, member.group_id)
        if group is not None and group.leader_id not in (None, member.id):
            previous = await session.get(Member, group.leader_id)
            if previous is not None and previous.role is Role.GROUP_LEADER:
                previous.role, previous.updated_at = Role.MEMBER, now
        if group is not None:
            group.leader_id = member.id
    member.role, member.updated_at = role, now


# What update_member may change: the profile the console edits, and the role, status and scope the API patches.
PROFILE = ("name", "mobile", "group_id", "sector_id", "committee_id")
EDITABLE = (*PROFILE, "role", "status", "scope_group_ids")


async def update_member(
    session: AsyncSession, member: Member, *, role: Role | None = None, status: MemberStatus | None = None,
    scope_group_ids: list[int] | None = None, profile: dict[str, object] | None = None, by: Member | None,
    now: datetime,
) -> None:
    """Change a member's profile fields (``profile``: names of PROFILE → values), role, status or a secretary's
    scope (what is left None stays), recorded as one edit with only the fields that changed."""
    before = audit.snapshot(member, EDITABLE)
    for name, value in (profile or {}).items():
        if name in PROFILE and getattr(member, name) != value:
            setattr(member, name, value)
            member.updated_at = now
    if role is not None and role is not member.role:
        await set_role(session, member, role, now)
    if status is not None and status is not member.status:
        member.status, member.updated_at = status, now
    if scope_group_ids is not None:
        member.scope_group_ids, member.updated_at = sorted(set(scope_group_ids)), now
    old, new = audit.changes(before, member, EDITABLE)
    if new:
        action = "member.role" if "role" in new else "member.update"
        await audit.record(session, action=action, object_type="member", object_id=member.id,
                           group_id=member.group_id, by=by, before=old, after=new, summary=member.name, at=now)


# --- the console's 委员: finding, reading and editing members within a secretary's reach -------------------------

EDIT_STATUSES = (MemberStatus.ACTIVE, MemberStatus.SUSPENDED, MemberStatus.LEFT)  # pending ones: approve / reject


@dataclass(frozen=True, slots=True)
class MemberFilters:
    text: str = ""  # part of a name, or of a mobile number
    group_id: int | None = None
    sector_id: int | None = None
    committee_id: int | None = None
    status: MemberStatus | None = None
    bound: bool | None = None  # has a chat identity (None: either)


def _bound() -> ColumnElement[bool]:
    return exists().where(Identity.member_id == Member.id)


def _filtered(statement: Select[Any], reach: frozenset[int] | None, filters: MemberFilters) -> Select[Any]:
    if reach is not None:  # limited: members of those groups only (staff without a group are the office's)
        statement = statement.where(Member.group_id.in_(sorted(reach)))  # type: ignore[union-attr]
    if filters.text:
        text = filters.text  # autoescape: a % or _ typed is a character, not a wildcard
        statement = statement.where(or_(Member.name.contains(text, autoescape=True),  # type: ignore[attr-defined]
                                        Member.mobile.contains(text, autoescape=True)))  # type: ignore[union-attr]
    for column, value in ((Member.group_id, filters.group_id), (Member.sector_id, filters.sector_id),
                          (Member.committee_id, filters.committee_id), (Member.status, filters.status)):
        if value is not None:
            statement = statement.where(column == value)
    if filters.bound is not None:
        statement = statement.where(_bound() if filters.bound else ~_bound())
    return statement


async def search(
    session: AsyncSession, reach: frozenset[int] | None, filters: MemberFilters, *, page: int = 1,
    per_page: int = 50,
) -> tuple[list[Member], int]:
    """One page of the members within ``reach`` (groups_within_reach; None: all) matching ``filters``, by name,
    and how many match in all: both counted and paged in the database."""
    total = await session.scalar(_filtered(select(func.count()).select_from(Member), reach, filters))
    rows = await session.scalars(_filtered(select(Member), reach, filters)
                                 .order_by(Member.name, Member.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows.all()), int(total or 0)


async def bound_ids(session: AsyncSession, member_ids: list[int]) -> set[int]:
    """Which of these members have bound a chat identity."""
    if not member_ids:
        return set()
    found = await session.scalars(select(Identity.member_id).where(Identity.member_id.in_(member_ids)))  # type: ignore[attr-defined]
    return set(found.all())


async def bindings_of(session: AsyncSession, member_id: int) -> list[Identity]:
    return list((await session.scalars(select(Identity).where(Identity.member_id == member_id)
                                       .order_by(Identity.id))).all())


async def organisation(session: AsyncSession, reach: frozenset[int] | None) -> dict[str, dict[int, str]]:
    """id → name of the liaison groups within ``reach``, and of every sector and committee (for filters, forms)."""
    groups = select(LiaisonGroup.id, LiaisonGroup.name).order_by(LiaisonGroup.id)
    if reach is not None:
        groups = groups.where(LiaisonGroup.id.in_(sorted(reach)))  # type: ignore[union-attr]
    found = {"group": {row[0]: row[1] for row in await session.execute(groups)}}
    for key, model in (("sector", Sector), ("committee", Committee)):
        rows = await session.execute(select(model.id, model.name).order_by(model.id))  # type: ignore[call-overload]
        found[key] = {row[0]: row[1] for row in rows}
    return found


async def member_within_reach(session: AsyncSession, viewer: Member, member_id: int, *,
                              for_update: bool = False) -> Member:
    """The member, if ``viewer`` may manage them; one out of reach is as absent as one that does not exist."""
    member = await session.get(Member, member_id, with_for_update=for_update)
    if member is None or not can(viewer, Action.MANAGE_MEMBERS, group_id=member.group_id):
        raise Refusal.not_found("members.error.not_found")
    return member


@dataclass(frozen=True, slots=True)
class MemberEdit:
    """The console's edit form: every field as the secretary left it (ids None for none)."""

    name: str
    mobile: str
    group_id: int | None
    sector_id: int | None
    committee_id: int | None
    role: Role | None  # None: as it is
    status: MemberStatus | None


async def edit_member(session: AsyncSession, viewer: Member, member_id: int, edit: MemberEdit, *,
                      now: datetime) -> Member:
    """A secretary's edit from the console, checked against their reach, recorded with the changed fields."""
    member = await member_within_reach(session, viewer, member_id, for_update=True)
    edit = replace(edit, role=edit.role or member.role, status=edit.status or member.status)
    profile = await _checked_profile(session, viewer, member, edit)
    _check_role_and_status(viewer, member, edit)
    await update_member(session, member, role=edit.role, status=edit.status, profile=profile, by=viewer, now=now)
    await session.flush()
    return member


async def _checked_profile(session: AsyncSession, viewer: Member, member: Member,
                           edit: MemberEdit) -> dict[str, object]:
    name = clean_name(edit.name)  # as the roster import reads a name: "王  芳" is 王芳
    if not name or len(name) > 40:
        raise Refusal.invalid("member_edit.error.name", field="name")
    mobile = normalise_mobile(edit.mobile) if edit.mobile.strip() else None
    if edit.mobile.strip() and mobile is None:
        raise Refusal.invalid("member_edit.error.mobile", field="mobile", value=edit.mobile)
    if mobile is not None and mobile != member.mobile:
        holder = await find_by_mobile(session, mobile)
        if holder is not None and holder.id != member.id:
            raise Refusal.conflict("member_edit.error.mobile_taken", code="mobile_taken", mobile=mobile)
    # Moving a member to a group is acting on that group too: it must be within the secretary's reach.
    if edit.group_id != member.group_id and not can(viewer, Action.MANAGE_MEMBERS, group_id=edit.group_id):
        raise Refusal.forbidden("member_edit.error.group")
    for model, value, field in ((LiaisonGroup, edit.group_id, "group_id"), (Sector, edit.sector_id, "sector_id"),
                                (Committee, edit.committee_id, "committee_id")):
        if value is not None and await session.get(model, value) is None:
            raise Refusal.invalid("member_edit.error.unknown", field=field)
    return {"name": name, "mobile": mobile, "group_id": edit.group_id, "sector_id": edit.sector_id,
            "committee_id": edit.committee_id}


def _check_role_and_status(viewer: Member, member: Member, edit: MemberEdit) -> None:
    if edit.role is not member.role and not can(viewer, Action.CHANGE_ROLE):
        raise Refusal.forbidden("member_edit.error.role")
    if edit.role is Role.GROUP_LEADER and edit.group_id is None:
        raise Refusal.invalid("member_edit.error.leader_group", field="role")
    if edit.status is not member.status:
        if member.status not in EDIT_STATUSES:  # a registration: decided by approve or reject, not here
            raise Refusal.conflict("member_edit.error.registration", code="not_pending",
                                   status=Term(f"members.status.{member.status.value}"))
        if edit.status not in EDIT_STATUSES:
            raise Refusal.invalid("member_edit.error.status", field="status")


async def profile_text(session: AsyncSession, texts: Catalogue, member: Member) -> str:
    """The member's card for ``我的`` and the end of registration (sections of later features excluded)."""
    names = await names_of(session, member)
    none = texts("members.none")
    lines = [
        texts("members.profile.title"),
        texts(
            "members.profile.body", name=member.name, group=names["group"] or none,
            sector=names["sector"] or none, committee=names["committee"] or none,
            role=texts(f"members.role.{member.role.value}"), term=member.term or none,
        ),
    ]
    if member.status is not MemberStatus.ACTIVE:
        lines.append(texts("members.profile.inactive", status=texts(f"members.status.{member.status.value}")))
    return "\n".join(lines)
