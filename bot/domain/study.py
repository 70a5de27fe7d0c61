"""Study materials (学习): added by the office, pushed once or by a recurring plan, read-tracked.

```mermaid
flowchart LR
    M[add_material: title, summary, link or text, tags, audience] --> P{pushed how}
    P -->|push_material now / at a time| N[notice kind=study]
    P -->|plan_id: a StudyPlan, cron in local time| Q[(task study.plan)]
    Q -->|each fire time| Next[the plan's next unpushed material] --> N
    N --> L[/r/token: read recorded, then redirect; a text material shows as a page/]
    N --> C[学习 N in chat opens a text material: read] & Y[已学: the latest unread pushed one: read]
```

Reading is counted once per member and material (``study_read``), whatever the way; the duty record
counts those rows. There are no daily points and no reminders to "study more" (DOMAIN.md: members resent
forced daily points).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.domain.audience import check_audience_reach, member_in, members_clause
from bot.domain.authz import Action
from bot.domain.notices import Outbox, check_notice, create_notice, member_groups_of
from bot.domain.refusals import Refusal
from bot.domain.tasks import cancel_task, crontab_trigger, schedule_task
from bot.infra.sql import insert_ignore
from models.activity import Audience
from models.base import utc_now
from models.member import Member
from models.notice import Notice, NoticeKind, NoticeReceipt, ReadVia, StudyMaterial, StudyPlan, StudyRead

log = logging.getLogger(__name__)

PLAN_TASK = "study.plan"
SUMMARY_MAX = 500
TAGS_MAX = 10
LATEST_LIMIT = 8  # materials shown by 学习: a chat screen


async def add_material(
    session: AsyncSession, *, title: str, summary: str = "", url: str = "", body: str = "",
    tags: Sequence[str] = (), audience: Audience = Audience.ALL, audience_ids: Sequence[int] = (),
    plan_id: int | None = None, by: Member | None, now: datetime,
) -> StudyMaterial:
    check_notice(title, "", url)
    if bool(url.strip()) == bool(body.strip()):
        raise Refusal.invalid("study.error.link_or_text", field="url")
    if len(summary) > SUMMARY_MAX:
        raise Refusal.invalid("study.error.summary", field="summary", max=SUMMARY_MAX)
    clean_tags = sorted({tag.strip() for tag in tags if tag.strip()})
    if len(clean_tags) > TAGS_MAX:
        raise Refusal.invalid("study.error.tags", field="tags", max=TAGS_MAX)
    if audience is not Audience.ALL and not audience_ids:
        raise Refusal.invalid("activity.error.audience_empty", field="audience.ids")
    check_audience_reach(by, Action.BROADCAST, audience, audience_ids,
                         await member_groups_of(session, audience, audience_ids))
    if plan_id is not None and await session.get(StudyPlan, plan_id) is None:
        raise Refusal.invalid("study.error.no_plan", field="plan_id")
    material = StudyMaterial(title=title.strip(), summary=summary.strip(), url=url.strip(), body=body.strip(),
                             tags=clean_tags, audience=audience, audience_ids=sorted(set(audience_ids)),
                             plan_id=plan_id, created_by_id=by.id if by else None, created_at=now)
    session.add(material)
    await session.flush()
    await _audit(session, "study.material.create", "study_material", material.id, material.audience,
                 material.audience_ids, by, now, material.title)
    return material


async def _audit(session: AsyncSession, action: str, object_type: str, object_id: int | None, audience: Audience,
                 audience_ids: Sequence[int], by: Member | None, now: datetime, summary: str,
                 before: dict[str, object] | None = None, after: dict[str, object] | None = None) -> None:
    """Study things for one liaison group belong to it; any wider audience to no group."""
    one_group = audience is Audience.GROUPS and len(audience_ids) == 1
    await audit.record(session, action=action, object_type=object_type, object_id=object_id,
                       group_id=audience_ids[0] if one_group else None, by=by, before=before, after=after,
                       summary=summary, at=now)


async def create_plan(
    session: AsyncSession, *, name: str, cron: str, audience: Audience = Audience.ALL,
    audience_ids: Sequence[int] = (), by: Member | None, now: datetime,
) -> StudyPlan:
    """A recurring push; ``cron`` is a crontab line in the committee's time zone ("0 8 * * 1")."""

    if not name.strip() or len(name.strip()) > 60:
        raise Refusal.invalid("study.error.plan_name", field="name")
    try:
        crontab_trigger(cron)
    except ValueError as error:
        raise Refusal.invalid("study.error.cron", field="cron", error=str(error)) from None
    check_audience_reach(by, Action.BROADCAST, audience, audience_ids,
                         await member_groups_of(session, audience, audience_ids))
    plan = StudyPlan(name=name.strip(), cron=cron.strip(), audience=audience, audience_ids=sorted(set(audience_ids)),
                     created_by_id=by.id if by else None, created_at=now)
    session.add(plan)
    await session.flush()
    await schedule_task(session, kind=PLAN_TASK, ref=str(plan.id), cron=plan.cron, now=now)
    await _audit(session, "study.plan.create", "study_plan", plan.id, plan.audience, plan.audience_ids, by, now,
                 plan.name, after={"cron": plan.cron})
    return plan


async def stop_plan(session: AsyncSession, plan: StudyPlan, *, by: Member | None = None,
                    now: datetime | None = None) -> None:

    if plan.active:  # stopping a stopped plan changes nothing, and is no event either
        await _audit(session, "study.plan.stop", "study_plan", plan.id, plan.audience, plan.audience_ids, by,
                     now or utc_now(), plan.name, before={"active": True}, after={"active": False})
    plan.active = False
    await cancel_task(session, kind=PLAN_TASK, ref=str(plan.id))


async def push_material(session: AsyncSession, material: StudyMaterial, outbox: Outbox, *,
                        send_at: datetime | None = None, by: Member | None = None,
                        audience: Audience | None = None, audience_ids: Sequence[int] | None = None) -> Notice:
    """Push a material to its audience (or the plan's), now or at ``send_at``."""
    notice = await create_notice(
        session, outbox, kind=NoticeKind.STUDY, title=material.title, body=material.summary,
        url=material.url or "", audience=audience or material.audience,
        audience_ids=material.audience_ids if audience_ids is None else audience_ids,
        send_at=send_at, by=by, material_id=material.id,
    )
    return notice  # ``pushed_at`` is set when the notice goes out (bot.domain.notices.send_notice)


async def run_plan(session: AsyncSession, plan: StudyPlan, outbox: Outbox) -> Notice | None:
    """One fire time of a plan: the oldest material of the plan not pushed yet, to the plan's audience."""
    if not plan.active:
        return None
    material = await session.scalar(select(StudyMaterial).where(
        StudyMaterial.plan_id == plan.id, StudyMaterial.pushed_at.is_(None)  # type: ignore[union-attr]
    ).order_by(StudyMaterial.id).limit(1))
    if material is None:
        log.info("study plan %s (%s): nothing left to push", plan.id, plan.name)
        return None
    return await push_material(session, material, outbox, audience=plan.audience, audience_ids=plan.audience_ids)


async def mark_read(session: AsyncSession, material_id: int, member_id: int, via: ReadVia, now: datetime) -> bool:
    """Count the material as read by the member (once); the notice receipts of it become read too."""
    new = await insert_ignore(session, StudyRead, {"material_id": material_id, "member_id": member_id,
                                                   "via": via, "read_at": now}, ["material_id", "member_id"])
    receipts = (await session.scalars(
        select(NoticeReceipt).join(Notice, Notice.id == NoticeReceipt.notice_id)
        .where(Notice.material_id == material_id, NoticeReceipt.member_id == member_id,
               NoticeReceipt.read_at.is_(None))  # type: ignore[union-attr]
    )).all()
    for receipt in receipts:
        receipt.read_at = now
    return new


async def materials_for(session: AsyncSession, member: Member, limit: int = LATEST_LIMIT
                        ) -> list[tuple[StudyMaterial, bool]]:
    """The newest pushed materials meant for the member, each with whether they read it."""
    pushed = (await session.scalars(
        select(StudyMaterial).where(StudyMaterial.pushed_at.is_not(None))  # type: ignore[union-attr]
        .order_by(StudyMaterial.pushed_at.desc(), StudyMaterial.id.desc()).limit(limit * 5)  # type: ignore[union-attr]
    )).all()
    received = set((await session.scalars(
        select(Notice.material_id).join(NoticeReceipt, NoticeReceipt.notice_id == Notice.id)
        .where(NoticeReceipt.member_id == member.id, Notice.material_id.is_not(None))  # type: ignore[union-attr]
    )).all())
    mine = [m for m in pushed if m.id in received or member_in(member, m.audience, m.audience_ids)][:limit]
    read = set((await session.scalars(select(StudyRead.material_id).where(
        StudyRead.member_id == member.id, StudyRead.material_id.in_([m.id for m in mine])))).all())  # type: ignore[attr-defined]
    return [(material, material.id in read) for material in mine]


async def latest_unread_pushed(session: AsyncSession, member_id: int) -> StudyMaterial | None:
    """For 已学: the newest material pushed to the member that they have not marked read."""
    read = select(StudyRead.material_id).where(StudyRead.member_id == member_id)
    return await session.scalar(
        select(StudyMaterial).join(Notice, Notice.material_id == StudyMaterial.id)
        .join(NoticeReceipt, NoticeReceipt.notice_id == Notice.id)
        .where(NoticeReceipt.member_id == member_id, StudyMaterial.id.not_in(read))  # type: ignore[union-attr]
        .order_by(NoticeReceipt.created_at.desc(), NoticeReceipt.id.desc()).limit(1)  # type: ignore[attr-defined]
    )


async def read_counts(session: AsyncSession, material_id: int) -> tuple[int, int]:
    """(members who read it, members it was pushed to)."""
    read = await session.scalar(select(func.count()).select_from(StudyRead)
                                .where(StudyRead.material_id == material_id))
    pushed = await session.scalar(
        select(func.count(func.distinct(NoticeReceipt.member_id)))
        .join(Notice, Notice.id == NoticeReceipt.notice_id).where(Notice.material_id == material_id))
    return int(read or 0), int(pushed or 0)


async def audience_count(session: AsyncSession, audience: Audience, ids: Sequence[int]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Member).where(members_clause(audience, ids)))
               or 0)
