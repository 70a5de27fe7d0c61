"""Member operations shared by the chat handlers and the admin API: binding, applications, decisions.

Every function works inside the caller's transaction (``session``) and queues its notifications there
too, so a decision and the message telling the applicant about it are committed together or not at all.

    register, roster match ──► bind()                        (identity → active member)
    register, no match ─────► file_application()            (pending member + application,
                                                              secretaries in reach notified)
    审核 / POST …/approve ──► approve()  ── identity bound, applicant told
    审核 / POST …/reject ───► reject()   ── member marked rejected, applicant told with the reason
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.authz import Action, can
from bot.domain.refusals import Refusal, Term
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


async def pending_applications(
    session: AsyncSession, groups: frozenset[int] | None, limit: int = REVIEW_LIST_LIMIT
) -> list[tuple[MemberApplication, Member]]:
    """Pending applications, oldest first; ``groups`` limits them to those liaison groups (None: all)."""
    statement = (
        select(MemberApplication, Member)
        .join(Member, Member.id == MemberApplication.member_id)
        .where(MemberApplication.status == ApplicationStatus.PENDING, Member.status == MemberStatus.PENDING)
        .order_by(MemberApplication.created_at, MemberApplication.id)
        .limit(limit)
    )
    if groups is not None:
        statement = statement.where(Member.group_id.in_(groups))  # type: ignore[union-attr]
    return [(application, member) for application, member in (await session.execute(statement)).all()]


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

async def _pending_member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id, with_for_update=True)
    if member is None:
        raise Refusal.not_found("members.error.not_found")
    if member.status is not MemberStatus.PENDING:  # approved, rejected, or never applied
        raise Refusal.conflict("members.error.not_pending", code="not_pending",
                               status=Term(f"members.status.{member.status.value}"))
    return member


async def approve(
    session: AsyncSession, member_id: int, *, by: Member | None, now: datetime, texts: Catalogue
) -> Decision:
    """Make a pending member active, bind the identity that applied, and tell the applicant."""
    member = await _pending_member(session, member_id)
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
    """Turn a pending member down with a reason the applicant is told."""
    member = await _pending_member(session, member_id)
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


EDITABLE = ("role", "status", "scope_group_ids")  # what update_member may change


async def update_member(
    session: AsyncSession, member: Member, *, role: Role | None = None, status: MemberStatus | None = None,
    scope_group_ids: list[int] | None = None, by: Member | None, now: datetime,
) -> None:
    """Change a member's role, status or a secretary's scope (what is left None stays), recorded as one edit."""
    before = audit.snapshot(member, EDITABLE)
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
