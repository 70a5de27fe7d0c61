"""bot.domain.notices and bot.domain.study without chat: an activity's notice, reminders and last call at the right
local times and exactly once; rescheduling and cancelling; answers; broadcasts with scope, report and
resend; group chats with @; study plans across a restart; reads; the year-end nudge."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain import activities as act
from bot.domain import duty, notices, reports, study
from bot.domain.activities import ActivityDraft
from bot.domain.duty_rules import year_rules
from bot.domain.notices import Outbox
from bot.domain.refusals import Refusal
from bot.infra.clock import FrozenClock
from bot.infra.config import ActivitySettings, Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.infra.services import Services
from bot.infra.signing import Signer
from models.activity import Activity, ActivityType, Audience, LeaveKind, SignInMethod
from models.delivery import Delivery, DeliveryStatus
from models.duty import DutyYear
from models.notice import Notice, NoticeKind, NoticeStatus, ReadVia, Response, StudyMaterial
from models.scheduling import ScheduledTask, TaskStatus
from scheduler import notices as notice_tasks
from scheduler.core import LvzhiScheduler
from scheduler.tasks import execute_task
from tests.activity_support import Org
from tests.conftest import make_settings
from tests.report_support import MARKET_BODY, file_report

T = Catalogue()
SHANGHAI = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(hours=1)


def outbox_at(settings: Settings, clock: FrozenClock) -> Outbox:
    return Outbox(T, settings, Signer(b"test-key"), clock.now())


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


async def new_activity(db: Database, settings: Settings, clock: FrozenClock, starts_at: datetime,
                       **fields: object) -> Activity:
    draft = ActivityDraft(type=fields.pop("type_", ActivityType.STANDING), title="十届常委会第五次会议",  # type: ignore[arg-type]
                          starts_at=starts_at, venue="县政协三楼会议室", **fields)  # type: ignore[arg-type]
    async with db.session() as session:
        return await act.create_activity(session, draft, settings=ActivitySettings(), by=None, now=clock.now(),
                                         outbox=outbox_at(settings, clock))


async def tasks(db: Database) -> dict[tuple[str, str], ScheduledTask]:
    async with db.reader() as session:
        return {(t.kind, t.ref): t for t in (await session.scalars(select(ScheduledTask))).all()}


async def pushes(db: Database, prefix: str = "") -> list[Delivery]:
    async with db.reader() as session:
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    return [row for row in rows if row.idempotency_key.startswith(prefix)]


def recipients(rows: list[Delivery]) -> list[str]:
    return sorted(row.recipient for row in rows)


def services_for(db: Database, settings: Settings, clock: FrozenClock) -> Services:
    services = Services(settings=settings, db=db, clock=clock, texts=T)
    services._signer = Signer(b"test-key")
    return services


async def fire(services: Services, task: ScheduledTask) -> None:
    assert task.id is not None
    outcome = await execute_task(services, task.id, grace=GRACE, zone=SHANGHAI)
    assert outcome is not None and outcome.value == "ran"


def next_fire(job: object, clock: FrozenClock) -> datetime:
    """The armed job's next fire time after the test clock's now (the scheduler itself is not started)."""
    moment = job.trigger.get_next_fire_time(None, clock.now())  # type: ignore[attr-defined]
    assert moment is not None
    return moment.astimezone(UTC)


BOUND = ["sim-chen", "sim-li", "sim-qian", "sim-sun", "sim-wang", "sim-zhou"]  # active members with a chat


# --- an activity's pushes -----------------------------------------------------------------------------------


async def test_creating_an_activity_notifies_now_and_arms_reminders(db: Database, org: Org, settings: Settings,
                                                                    clock: FrozenClock) -> None:
    activity = await new_activity(db, settings, clock, local(25, 9))  # Wednesday 25 November, 09:00
    sent = await pushes(db, "notice:")
    assert recipients(sent) == BOUND  # 吴静 is expected but not bound; the suspended 赵敏 is not expected
    text = sent[0].payload["text"]
    assert "十届常委会第五次会议" in text and "11月25日（周三）09:00" in text and "参加" in text
    armed = await tasks(db)
    assert armed[(notices.REMIND_TASK, f"{activity.id}:1440")].run_at == local(24, 9)
    assert armed[(notices.REMIND_TASK, f"{activity.id}:60")].run_at == local(25, 8)
    assert armed[(notices.LAST_CALL_TASK, str(activity.id))].run_at == local(25, 8)  # sign-in opens 1 h before
    async with db.reader() as session:
        notice = await session.scalar(select(Notice))
        assert notice is not None and notice.status is NoticeStatus.SENT and notice.recipients == 7


async def test_a_notice_at_a_later_time_waits_for_its_task(db: Database, org: Org, settings: Settings,
                                                           clock: FrozenClock) -> None:
    draft = ActivityDraft(type=ActivityType.INSPECTION, title="调研", starts_at=local(28, 9))
    async with db.session() as session:
        activity = await act.create_activity(session, draft, settings=ActivitySettings(), by=None, now=clock.now(),
                                             outbox=outbox_at(settings, clock), notice_at=local(23, 8))
    assert await pushes(db) == []
    task = (await tasks(db))[(notices.NOTICE_TASK, "1")]
    assert task.run_at == local(23, 8)
    clock.set(local(23, 8))
    services = services_for(db, settings, clock)
    await fire(services, task)
    assert recipients(await pushes(db, "notice:")) == BOUND
    assert activity.id is not None


async def test_reminders_skip_the_excused_and_the_last_call_the_signed_in(db: Database, org: Org,
                                                                          settings: Settings,
                                                                          clock: FrozenClock) -> None:
    activity = await new_activity(db, settings, clock, local(22, 9))
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        leave = await act.request_leave(session, org.li, stored, kind=LeaveKind.OFFICIAL, reason="出差开会",
                                        now=clock.now(), texts=T)
        await act.decide_leave(session, leave, approve=True, by=org.qian, now=clock.now(), texts=T)
    services, armed = services_for(db, settings, clock), await tasks(db)
    clock.set(local(22, 8))
    await fire(services, armed[(notices.REMIND_TASK, f"{activity.id}:60")])
    first = await pushes(db, f"activity:{activity.id}:")
    assert "sim-li" not in recipients(first) and len(first) == len(BOUND) - 1
    assert "1小时后" in first[0].payload["text"]
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        await act.sign_in(session, org.wang, stored, method=SignInMethod.CODE, now=clock.now())
    await fire(services, armed[(notices.LAST_CALL_TASK, str(activity.id))])
    last = [row for row in await pushes(db, f"activity:{activity.id}:") if ":last:" in row.idempotency_key]
    assert recipients(last) == sorted(set(BOUND) - {"sim-li", "sim-wang"})
    async with db.session() as session:  # running a reminder again (a second process) sends nothing
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        assert await notices.remind(session, stored, outbox_at(settings, clock), minutes=60) == 0


async def test_moving_an_activity_moves_its_reminders_and_tells_those_notified(db: Database, org: Org,
                                                                               settings: Settings,
                                                                               clock: FrozenClock) -> None:
    activity = await new_activity(db, settings, clock, local(25, 9))
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        draft = act.draft_of(stored)
        draft.starts_at, draft.ends_at = local(26, 14, 30), local(26, 17)
        await act.reschedule_activity(session, stored, draft, settings=ActivitySettings(), by=None,
                                      now=clock.advance(minutes=5), outbox=outbox_at(settings, clock))
    armed = await tasks(db)
    assert armed[(notices.REMIND_TASK, f"{activity.id}:1440")].run_at == local(25, 14, 30)
    assert armed[(notices.LAST_CALL_TASK, str(activity.id))].run_at == local(26, 13, 30)
    assert armed[(act.CLOSE_TASK, str(activity.id))].run_at == local(26, 15, 30)
    told = [row for row in await pushes(db, f"activity:{activity.id}:changed")]
    assert recipients(told) == BOUND and "11月26日（周四）14:30" in told[0].payload["text"]
    async with db.session() as session:  # a change of title alone tells nobody again
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        draft = act.draft_of(stored)
        draft.title = "十届常委会第五次会议（扩大）"
        await act.reschedule_activity(session, stored, draft, settings=ActivitySettings(), by=None,
                                      now=clock.advance(minutes=5), outbox=outbox_at(settings, clock))
    assert len(await pushes(db, f"activity:{activity.id}:changed")) == len(BOUND)


async def test_cancelling_cancels_pushes_and_tells_those_notified(db: Database, org: Org, settings: Settings,
                                                                  clock: FrozenClock) -> None:
    activity = await new_activity(db, settings, clock, local(25, 9))
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        await act.cancel_activity(session, stored, now=clock.now(), outbox=outbox_at(settings, clock))
    armed = await tasks(db)
    assert {task.status for (kind, _), task in armed.items() if kind != notices.NOTICE_TASK} == {TaskStatus.CANCELLED}
    told = await pushes(db, f"activity:{activity.id}:cancelled")
    assert recipients(told) == BOUND and "已取消" in told[0].payload["text"]


async def test_answers_to_a_notice(db: Database, org: Org, settings: Settings, clock: FrozenClock) -> None:
    activity = await new_activity(db, settings, clock, local(25, 9))
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        latest = await notices.latest_meeting_for(session, org.wang.id or 0, clock.now())
        assert latest is not None and latest.id == activity.id
        assert await notices.respond(session, org.wang.id or 0, stored, Response.ATTEND, clock.now())
        assert not await notices.respond(session, org.wang.id or 0, stored, Response.ATTEND, clock.now())
        await notices.respond(session, org.zhou.id or 0, stored, Response.LEAVE, clock.now())
        await act.request_leave(session, org.li, stored, kind=LeaveKind.SICK, reason="住院治疗", now=clock.now(),
                                texts=T)
        answers = await notices.answers_for(session, stored)
    assert answers.attend == [org.wang.id]
    assert sorted(answers.leave) == sorted([org.zhou.id, org.li.id])
    assert org.chen.id in answers.no_answer and org.zhao.id not in answers.no_answer


# --- broadcasts ---------------------------------------------------------------------------------------------


async def test_a_limited_secretary_broadcasts_only_within_scope(db: Database, org: Org, settings: Settings,
                                                                clock: FrozenClock) -> None:
    async with db.session() as session:
        for audience, ids in ((Audience.ALL, []), (Audience.GROUPS, [org.chengguan]),
                              (Audience.MEMBERS, [org.wang.id or 0])):
            with pytest.raises(Refusal) as refused:
                await notices.create_notice(session, outbox_at(settings, clock), kind=NoticeKind.BROADCAST,
                                            title="通知", body="明天停电", audience=audience, audience_ids=ids,
                                            by=org.sun)
            assert refused.value.key == "activity.error.audience_out_of_reach"
        with pytest.raises(Refusal) as member:
            await notices.create_notice(session, outbox_at(settings, clock), kind=NoticeKind.BROADCAST,
                                        title="通知", audience=Audience.GROUPS, audience_ids=[org.chengguan],
                                        by=org.wang)
        assert member.value.key == "activity.error.forbidden"
        notice = await notices.create_notice(session, outbox_at(settings, clock), kind=NoticeKind.BROADCAST,
                                             title="东山镇委员座谈", body="周五下午三点", audience=Audience.GROUPS,
                                             audience_ids=[org.dongshan], by=org.sun)
    assert notice.recipients == 2  # 李强 and 吴静 (unbound); the suspended 赵敏 is not addressed
    assert recipients(await pushes(db, "notice:")) == ["sim-li"]


async def test_broadcast_report_and_resend(db: Database, org: Org, settings: Settings, clock: FrozenClock) -> None:
    async with db.session() as session:
        notice = await notices.create_notice(session, outbox_at(settings, clock), kind=NoticeKind.BROADCAST,
                                             title="通知", body="请于月底前提交社情民意信息",
                                             url="https://example.org/plan", by=org.qian)
    rows = await pushes(db, "notice:")
    assert all("/r/" in row.payload["text"] for row in rows)  # personal read links, not the bare URL
    async with db.session() as session:  # what the delivery worker would have recorded
        for row in (await session.scalars(select(Delivery).where(Delivery.topic == f"notice:{notice.id}"))).all():
            failed = row.recipient == "sim-zhou"
            row.status = DeliveryStatus.FAILED if failed else DeliveryStatus.SENT
            row.last_error = "43004 unsubscribed" if failed else None
        await notices.record_read(session, notice.id or 0, org.wang.id or 0, clock.now())
    async with db.session() as session:
        stored = await session.get(Notice, notice.id)
        assert stored is not None
        report = await notices.notice_report(session, stored)
        assert (report.recipients, report.reached, report.failed, report.not_bound, report.read) == (7, 5, 1, 1, 1)
        assert {(u.name, u.reason) for u in report.unreached} == {("周涛", "failed: 43004 unsubscribed"),
                                                                 ("吴静", "not_bound")}
        assert await notices.resend_unreached(session, stored, outbox_at(settings, clock)) == 1
    again = await pushes(db, f"notice:{notice.id}:again1")
    assert recipients(again) == ["sim-zhou"]


async def test_group_chats_get_notices_and_reminders_mention_the_unconfirmed(db: Database, org: Org,
                                                                             tmp_path: object, db_url: str,
                                                                             clock: FrozenClock) -> None:
    settings = make_settings(tmp_path, db_url, notices={"group_chats": [  # type: ignore[arg-type]
        {"group": "*", "robot_key": "all-key"}, {"group": "城关镇", "robot_key": "cg-key"},
        {"group": "东山镇", "appchat_id": "ds-chat"}]})
    activity = await new_activity(db, settings, clock, local(25, 9), audience=Audience.GROUPS,
                                  audience_ids=[org.chengguan])
    chats = [row for row in await pushes(db) if row.platform in ("robot", "appchat")]
    assert sorted(row.recipient for row in chats) == ["all-key", "cg-key"]  # 东山镇 is not invited
    async with db.session() as session:
        stored = await session.get(Activity, activity.id)
        assert stored is not None
        await notices.respond(session, org.wang.id or 0, stored, Response.ATTEND, clock.now())
        await notices.remind(session, stored, outbox_at(settings, clock), minutes=60)
    reminder = [row for row in await pushes(db, f"activity:{activity.id}:") if row.recipient == "cg-key"]
    assert reminder[0].payload["extra"]["mentioned_mobile_list"] == ["13800000004", "13800000005"]


# --- study ----------------------------------------------------------------------------------------------------


async def test_a_study_plan_pushes_the_next_material_every_monday_across_a_restart(
    db: Database, org: Org, settings: Settings, clock: FrozenClock
) -> None:
    async with db.session() as session:
        plan = await study.create_plan(session, name="每周学习", cron="0 8 * * 1", by=org.qian, now=clock.now())
        for title in ("学习材料一", "学习材料二"):
            await study.add_material(session, title=title, url=f"https://example.org/{title}", plan_id=plan.id,
                                     by=org.qian, now=clock.now())
    services = services_for(db, settings, clock)
    first = LvzhiScheduler(services)
    services.scheduler = first
    await first.sync()
    job = first.aps.get_job(f"task:{(await tasks(db))[(study.PLAN_TASK, str(plan.id))].id}")
    assert job is not None and next_fire(job, clock) == local(23, 8)  # Saturday 21st → Monday 23rd 08:00
    clock.set(local(23, 8))
    await fire(services, (await tasks(db))[(study.PLAN_TASK, str(plan.id))])
    assert len(await pushes(db, "notice:")) == len(BOUND)
    # A restart: a new scheduler rebuilt from the rows arms the next Monday, and nothing is re-sent.
    second = LvzhiScheduler(services)
    services.scheduler = second
    clock.set(local(25, 12))
    await second.sync()
    task = (await tasks(db))[(study.PLAN_TASK, str(plan.id))]
    job = second.aps.get_job(f"task:{task.id}")
    assert job is not None and next_fire(job, clock) == local(30, 8)
    clock.set(local(30, 8))
    await fire(services, task)
    async with db.reader() as session:
        materials = (await session.scalars(select(StudyMaterial).order_by(StudyMaterial.id))).all()
    assert [m.pushed_at for m in materials] == [local(23, 8), local(30, 8)]
    assert len(await pushes(db, "notice:")) == 2 * len(BOUND)


async def test_reads_are_counted_once_whatever_the_way(db: Database, org: Org, settings: Settings,
                                                       clock: FrozenClock) -> None:
    async with db.session() as session:
        material = await study.add_material(session, title="政协章程", body="第一章 总纲……", by=org.qian,
                                            now=clock.now())
        await study.push_material(session, material, outbox_at(settings, clock))
    async with db.session() as session:
        unread = await study.latest_unread_pushed(session, org.wang.id or 0)
        assert unread is not None and unread.id == material.id
        assert await study.mark_read(session, material.id or 0, org.wang.id or 0, ReadVia.REPLY, clock.now())
        assert not await study.mark_read(session, material.id or 0, org.wang.id or 0, ReadVia.CHAT, clock.now())
        assert await study.latest_unread_pushed(session, org.wang.id or 0) is None
        assert await study.read_counts(session, material.id or 0) == (1, 7)
        listed = await study.materials_for(session, org.wang)
        assert [(m.title, read) for m, read in listed] == [("政协章程", True)]
        notice = await session.scalar(select(Notice))
        assert notice is not None
        report = await notices.notice_report(session, notice)
        assert report.read == 1


@pytest.mark.parametrize(("fields", "key"), [
    ({"title": "材料"}, "study.error.link_or_text"),
    ({"title": "材料", "url": "https://x", "body": "正文"}, "study.error.link_or_text"),
    ({"title": "材料", "url": "ftp://x"}, "notice.error.url"),
    ({"title": "", "body": "正文"}, "notice.error.title"),
])
async def test_bad_materials_are_refused(db: Database, org: Org, clock: FrozenClock, fields: dict[str, str],
                                         key: str) -> None:
    async with db.session() as session:
        with pytest.raises(Refusal) as refused:
            await study.add_material(session, by=org.qian, now=clock.now(), **fields)  # type: ignore[arg-type]
    assert refused.value.key == key


async def test_a_bad_plan_schedule_is_refused(db: Database, org: Org, clock: FrozenClock) -> None:
    async with db.session() as session:
        with pytest.raises(Refusal) as refused:
            await study.create_plan(session, name="每周", cron="every monday", by=org.qian, now=clock.now())
    assert refused.value.key == "study.error.cron"


# --- the year-end nudge -------------------------------------------------------------------------------------


async def test_the_year_end_nudge_tells_each_member_what_is_missing(db: Database, org: Org, settings: Settings,
                                                                    clock: FrozenClock) -> None:
    services = services_for(db, settings, clock)
    await notice_tasks.ensure_year_end_nudge(services)
    task = (await tasks(db))[(notice_tasks.NUDGE_TASK, notice_tasks.NUDGE_REF)]
    assert task.cron == "0 9 1 10 *"

    # 2027 under the shipped county rules (five targets). 李强 did all five; 王芳 all but an inspection and a
    # proposal (hers is not verified yet). Nothing refreshes the ledger before the nudge: it rebuilds the year.
    clock.set(datetime(2027, 9, 20, 9, tzinfo=SHANGHAI).astimezone(UTC))
    rules = year_rules(services, 2027)
    starts = datetime(2027, 9, 21, 9, tzinfo=SHANGHAI).astimezone(UTC)
    draft = ActivityDraft(type=ActivityType.INSPECTION, title="农贸市场调研", starts_at=starts, venue="城关镇")
    async with db.session() as session:
        inspection = await act.create_activity(session, draft, settings=ActivitySettings(), by=None, now=clock.now())
        assert (await act.sign_in(session, org.li, inspection, method=SignInMethod.CODE, now=starts,
                                  code_checked=True)).recorded
        await act.close_attendance(session, inspection, now=inspection.signin_closes_at)
    for member, kinds in ((org.li, ["proposal", "speech", "good_deed"]), (org.wang, ["speech", "good_deed"])):
        report_id = await file_report(db, member, f"{member.name}的建议", MARKET_BODY, year=2027)
        async with db.session() as session:
            await reports.transition(session, report_id, "accept", by=None, now=clock.now(), texts=T)
            await reports.transition(session, report_id, "not_adopt", by=None, now=clock.now(), texts=T)
            for kind in kinds:
                claim = await duty.submit_claim(session, member, rules, kind=kind, day=date(2027, 9, 1),
                                                description="履职事项的详细说明", zone=SHANGHAI, now=clock.now())
                await duty.decide_claim(session, claim, verified=True, by=org.qian, now=clock.now())
    async with db.session() as session:
        await duty.submit_claim(session, org.wang, rules, kind="proposal", day=date(2027, 9, 2),
                                description="关于农贸市场排水的提案", zone=SHANGHAI, now=clock.now())

    clock.set(datetime(2027, 10, 1, 9, tzinfo=SHANGHAI).astimezone(UTC))
    await fire(services, task)
    told = {row.recipient: row.payload["text"] for row in await pushes(db, "nudge:")}
    assert sorted(told) == ["sim-chen", "sim-wang", "sim-zhou"]  # not 李强; 吴静 has no chat identity
    assert "2027" in told["sim-wang"] and "一件提案、一次调研视察" in told["sim-wang"]
    assert "一件提案、一篇社情民意、一次调研视察、一次发言或一篇调研报告、一件实事" in told["sim-zhou"]
    async with db.reader() as session:
        state = await session.get(DutyYear, 2027)
        assert state is not None and state.rules_hash == rules.digest
    clock.advance(minutes=1)  # a second run of the same fire time sends nothing more
    assert await execute_task(services, task.id or 0, grace=GRACE, zone=SHANGHAI) is None
    assert len(await pushes(db, "nudge:")) == 3


@pytest.mark.parametrize(("line", "after", "expected"), [
    ("0 8 * * 1", local(21, 9), local(23, 8)),  # Monday, not APScheduler 3's Tuesday
    ("0 8 * * 0", local(21, 9), local(22, 8)),  # Sunday
    ("0 8 * * 7", local(21, 9), local(22, 8)),  # Sunday again
    ("30 17 * * 1-5", local(21, 9), local(23, 17, 30)),  # weekdays, from a Saturday
    ("0 8 * * mon", local(21, 9), local(23, 8)),
])
def test_crontab_weekdays_count_from_sunday(line: str, after: datetime, expected: datetime) -> None:
    from bot.domain.tasks import crontab_trigger

    assert crontab_trigger(line, SHANGHAI).get_next_fire_time(None, after) == expected


@pytest.mark.parametrize("line", ["0 8 * *", "0 8 * * 9", "0 8 * * 5-1", "0 8 * * 1-fri"])
def test_bad_crontab_lines(line: str) -> None:
    from bot.domain.tasks import crontab_trigger

    with pytest.raises(ValueError):
        crontab_trigger(line, SHANGHAI)


async def test_a_cancelled_scheduled_push_leaves_the_material_queued(db: Database, org: Org, settings: Settings,
                                                                     clock: FrozenClock) -> None:
    async with db.session() as session:
        plan = await study.create_plan(session, name="每周学习", cron="0 8 * * 1", by=org.qian, now=clock.now())
        material = await study.add_material(session, title="学习材料", url="https://example.org/a", plan_id=plan.id,
                                            by=org.qian, now=clock.now())
        notice = await study.push_material(session, material, outbox_at(settings, clock), send_at=local(22, 8))
        await notices.cancel_notice(session, notice)
    async with db.session() as session:
        stored_plan = await session.get(study.StudyPlan, plan.id)
        assert stored_plan is not None
        pushed = await study.run_plan(session, stored_plan, outbox_at(settings, clock))
        assert pushed is not None and pushed.material_id == material.id and pushed.status is NoticeStatus.SENT
    async with db.reader() as session:
        stored = await session.get(StudyMaterial, material.id)
        assert stored is not None and stored.pushed_at == clock.now()
