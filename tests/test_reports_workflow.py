"""The report workflow: every transition and every illegal one, who may do what, the history, and the
member told at each step — through bot.domain.reports directly and through the secretaries' 审核报送 chat."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.domain import reports as ops
from bot.domain.refusals import Kind, Refusal
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.audit import Channel
from models.delivery import Delivery
from models.member import Member
from models.report import AdoptionLevel, Instruction, ReportStatus
from tests.audit_support import events_of as audit_events_of
from tests.report_support import (
    MARKET_BODY,
    MARKET_TITLE,
    SCHOOL_BODY,
    SCHOOL_TITLE,
    People,
    T,
    events_of,
    file_report,
    load,
    seed_people,
)
from tests.support import AppHarness, running_app

S = ReportStatus
ZONE = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
CATEGORIES = ["经济发展", "社会民生", "生态环境", "文化教育", "医疗卫生", "社会治理", "其他"]


@pytest.fixture
async def people(db: Database) -> People:
    return await seed_people(db)


async def at_status(db: Database, people: People, status: ReportStatus) -> int:
    report_id = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY, status=status)
    if status is S.ADOPTED:
        async with db.session() as session:
            report = await session.get(ops.Report, report_id)
            assert report is not None
            report.adoption_level = AdoptionLevel.COUNTY
    return report_id


async def act(db: Database, report_id: int, action: str, by: Member | None, clock: FrozenClock, **extra: object
              ) -> ops.Outcome:
    async with db.session() as session:
        return await ops.transition(session, report_id, action, by=by, now=clock.now(), texts=T,
                                    categories=CATEGORIES, zone=ZONE, **extra)  # type: ignore[arg-type]


def actor(people: People, action: str) -> Member:
    return people.wang if ops.TRANSITIONS[action][2] == "owner" else people.qian


EXTRA = {"return": {"comment": "请补充数据"}, "adopt": {"level": AdoptionLevel.CITY}, "not_adopt": {"comment": ""}}
CASES = [(action, status) for action in ops.ACTIONS if action != "instruct" for status in S]


# --- every transition, legal or not -----------------------------------------------------------------

@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-from-{s.value}" for a, s in CASES])
async def test_each_action_from_each_status(db: Database, people: People, clock: FrozenClock, action: str,
                                            status: ReportStatus) -> None:
    report_id = await at_status(db, people, status)
    starts, target, _ = ops.TRANSITIONS[action]
    if status in starts:
        await act(db, report_id, action, actor(people, action), clock, **EXTRA.get(action, {}))
        assert (await load(db, report_id)).status is target
        last = (await events_of(db, report_id))[-1]
        assert (last.action, last.from_status, last.to_status, last.at) == (action, status.value, target.value,
                                                                            clock.now())
        assert last.by_name == actor(people, action).name
        # The member is told of what others did; their own steps are answered in their chat.
        async with db.reader() as session:
            told = (await session.scalars(select(Delivery).where(Delivery.member_id == people.wang.id))).all()
        assert len(told) == (0 if actor(people, action) is people.wang else 1)
    else:
        with pytest.raises(Refusal) as refused:
            await act(db, report_id, action, actor(people, action), clock, **EXTRA.get(action, {}))
        assert (refused.value.kind, refused.value.code) == (Kind.CONFLICT, "illegal_transition")
        assert refused.value.render(T) == T("report.errors.illegal", action=T(f"report.action.{action}"),
                                            status=T(f"report.status.{status.value}"))
        assert (await load(db, report_id)).status is status  # nothing changed
        assert len(await events_of(db, report_id)) == (0 if status is S.DRAFT else 1)


async def test_an_instruction_only_on_an_adopted_report(db: Database, people: People, clock: FrozenClock) -> None:
    for status in S:
        report_id = await at_status(db, people, status)
        async with db.session() as session:
            call = ops.record_instruction(session, report_id, text="请有关部门抓紧研究解决。", leader="市长 陈某",
                                          given_at=None, by=people.qian, now=clock.now(), texts=T)
            if status is not S.ADOPTED:
                with pytest.raises(Refusal, match=r"report\.errors\.illegal"):
                    await call
                continue
            outcome = await call
        assert outcome.notified
        async with db.reader() as session:
            rows = (await session.scalars(select(Instruction).where(Instruction.report_id == report_id))).all()
        assert [(r.leader, r.text, r.recorded_by_id) for r in rows] == [("市长 陈某", "请有关部门抓紧研究解决。",
                                                                         people.qian.id)]
        assert (await events_of(db, report_id))[-1].action == "instruct"


# --- who may act ------------------------------------------------------------------------------------

async def test_only_the_author_submits_and_withdraws(db: Database, people: People, clock: FrozenClock) -> None:
    report_id = await at_status(db, people, S.SUBMITTED)
    for stranger in (people.li, people.qian):
        with pytest.raises(Refusal, match=r"report\.errors\.forbidden"):
            await act(db, report_id, "withdraw", stranger, clock)
    await act(db, report_id, "withdraw", people.wang, clock)


async def test_reviewers_act_only_within_their_groups(db: Database, people: People, clock: FrozenClock) -> None:
    report_id = await at_status(db, people, S.SUBMITTED)  # 王芳 is in 城关镇; 孙秘书 looks after 东山镇
    for outsider in (people.sun, people.wang, people.li, people.zhao):
        with pytest.raises(Refusal, match=r"report\.errors\.forbidden"):
            await act(db, report_id, "accept", outsider, clock)
    await act(db, report_id, "accept", people.qian, clock)
    own = await file_report(db, people.li, SCHOOL_TITLE, SCHOOL_BODY)
    await act(db, own, "accept", people.sun, clock)


async def test_required_comment_level_and_a_rising_ladder(db: Database, people: People, clock: FrozenClock) -> None:
    report_id = await at_status(db, people, S.UNDER_REVIEW)
    with pytest.raises(Refusal) as no_comment:
        await act(db, report_id, "return", people.qian, clock, comment="  ")
    assert no_comment.value.kind is Kind.INVALID and no_comment.value.render(T) == T("report.errors.comment_required")
    with pytest.raises(Refusal, match=r"report\.errors\.level_required"):
        await act(db, report_id, "adopt", people.qian, clock)
    await act(db, report_id, "adopt", people.qian, clock, level=AdoptionLevel.CITY)
    with pytest.raises(Refusal) as lower:
        await act(db, report_id, "adopt", people.qian, clock, level=AdoptionLevel.COUNTY)
    assert lower.value.kind is Kind.INVALID
    assert lower.value.render(T) == T("report.errors.level_not_higher", level=T("report.level.city"))
    await act(db, report_id, "adopt", people.qian, clock, level=AdoptionLevel.NATIONAL)
    report = await load(db, report_id)
    assert report.adoption_level is AdoptionLevel.NATIONAL
    assert [e.level for e in await events_of(db, report_id) if e.action == "adopt"] == [AdoptionLevel.CITY,
                                                                                        AdoptionLevel.NATIONAL]


async def test_an_incomplete_report_cannot_be_submitted(db: Database, people: People, clock: FrozenClock) -> None:
    report_id = await file_report(db, people.wang, MARKET_TITLE, "太短", status=S.DRAFT)
    with pytest.raises(Refusal) as short:
        await act(db, report_id, "submit", people.wang, clock)
    assert short.value.kind is Kind.INVALID and short.value.key == "report.problems.too_short"


# --- the similarity measure ---------------------------------------------------------------------------

def test_similarity_threshold_separates_copies_from_unrelated_reports() -> None:
    from tests.report_support import MARKET_NEAR_COPY

    market = ops.bigrams(MARKET_TITLE + MARKET_BODY)
    assert ops.jaccard(market, ops.bigrams(MARKET_TITLE + MARKET_NEAR_COPY)) > 0.8
    assert ops.jaccard(market, ops.bigrams(SCHOOL_TITLE + SCHOOL_BODY)) < 0.15
    assert ops.jaccard(ops.bigrams("，。！"), market) == 0.0  # punctuation alone is nothing


# --- the whole loop in chat -------------------------------------------------------------------------

@pytest.fixture
async def app(people: People, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


async def test_review_in_chat_and_the_member_told_at_every_step(app: AppHarness, db: Database, people: People,
                                                                clock: FrozenClock) -> None:
    wang, qian = app.chat("sim-wang"), app.chat("sim-qian")
    await wang.says("报送")
    await wang.says(MARKET_TITLE)
    await wang.says("2")
    await wang.says(MARKET_BODY)
    await wang.says("完成")
    await wang.says("提交")
    report_id = (await app_report_ids(db))[0]

    assert await app.chat("sim-wang").says("审核报送") == T("report.review.forbidden")
    queue = await qian.says("审核报送")
    assert T("report.review.title", count=1) in queue and f"1. 《{MARKET_TITLE}》王芳" in queue
    detail = await qian.says("1")
    assert "报送人：王芳（城关镇）" in detail and MARKET_BODY in detail and T("report.review.how_submitted") in detail
    assert await qian.says("采用") == T("report.review.ask_level")  # not yet: it has to be accepted first
    assert "不能采用" in await qian.says("1")
    await qian.says("1")
    detail = await qian.says("受理")
    assert T("report.review.how_reviewing") in detail
    assert await qian.says("退回") == T("report.review.ask_comment_return")
    after = await qian.says("请补充市场商户数量和积水的具体情况。")
    assert after.startswith(T("report.review.done", title=MARKET_TITLE, status=T("report.status.returned")))
    assert T("report.review.empty") in after

    told = await wang.pushes()
    assert told[-2:] == [
        T("report.notify.accept", title=MARKET_TITLE, comment=T("report.notify.no_comment"), level=""),
        T("report.notify.return", title=MARKET_TITLE, comment="请补充市场商户数量和积水的具体情况。", level=""),
    ]
    # The member edits the returned report through the same conversation and submits it again.
    preview = await wang.says("继续")
    assert "审核意见：请补充市场商户数量和积水的具体情况。" in preview
    await wang.says("修改")
    await wang.says("3")
    await wang.says("市场内有固定摊位一百二十个，雨后积水最深约二十厘米。")
    await wang.says("完成")
    assert await wang.says("提交") == T("report.submitted", title=MARKET_TITLE)
    assert (await load(db, report_id)).status is S.SUBMITTED

    await qian.says("审核报送")
    await qian.says("1")
    await qian.says("受理")
    await qian.says("采用")
    assert await qian.says("省") == "\n\n".join([
        T("report.review.done", title=MARKET_TITLE, status=T("report.status.adopted")), T("report.review.empty")])
    assert (await load(db, report_id)).adoption_level is AdoptionLevel.PROVINCIAL
    assert (await wang.pushes())[-1] == T("report.notify.adopt", title=MARKET_TITLE, comment="",
                                          level=T("report.level.provincial"))

    actions = [e.action for e in await events_of(db, report_id)]
    assert actions == ["submit", "accept", "return", "submit", "accept", "adopt"]
    # The office's steps are in the audit log (the author's submissions are not), each as the secretary in chat.
    logged = [(e.action, e.channel, e.actor_member_id, e.object_id) for action in ("accept", "return", "adopt")
              for e in await audit_events_of(db, f"report.{action}")]
    assert logged == [("report.accept", Channel.CHAT, people.qian.id, report_id)] * 2 + [
        ("report.return", Channel.CHAT, people.qian.id, report_id),
        ("report.adopt", Channel.CHAT, people.qian.id, report_id)]
    async with db.reader() as session:
        keys = (await session.scalars(select(Delivery.idempotency_key).where(Delivery.member_id == people.wang.id)
                                      .order_by(Delivery.id))).all()
    assert len(keys) == len(set(keys)) == 4  # accept, return, accept again, adopt: one push per transition
    mine = await wang.says("我的报送")
    assert T("report.status.adopted") in mine and T("report.level.provincial") in mine


async def test_review_from_the_queue_in_one_line(app: AppHarness, db: Database, people: People) -> None:
    """handlers.kit.review: an action with its number (and what it needs) works from the queue, 拒绝 means 不采用,
    审核报送 while a comment is asked for gives a fresh queue."""
    market = await file_report(db, people.wang, MARKET_TITLE, MARKET_BODY)
    school = await file_report(db, people.li, SCHOOL_TITLE, SCHOOL_BODY)
    qian = app.chat("sim-qian")
    first = await qian.says("审核报送")
    assert T("report.review.title", count=2) in first
    accepted = await qian.says("受理 1")
    assert accepted.startswith(T("report.review.done", title=MARKET_TITLE, status=T("report.status.under_review")))
    assert T("report.review.how_reviewing") in accepted  # a first step: the report again, not the queue
    assert await qian.says("采用 1 省级") == "\n\n".join([
        T("report.review.done", title=MARKET_TITLE, status=T("report.status.adopted")), queue_of(SCHOOL_TITLE)])
    assert await qian.says("退回 1") == T("report.review.ask_comment_return")
    assert await qian.says("审核报送") == queue_of(SCHOOL_TITLE)  # the start word is no comment
    assert await qian.says("拒绝 1 无") == "\n\n".join([  # 不采用 needs it accepted first
        T("report.errors.illegal", status=T("report.status.submitted"), action=T("report.action.not_adopt")),
        queue_of(SCHOOL_TITLE)])
    assert (await load(db, school)).status is S.SUBMITTED
    assert ((await load(db, market)).status, (await load(db, market)).adoption_level) == (
        S.ADOPTED, AdoptionLevel.PROVINCIAL)


def queue_of(title: str) -> str:
    return "\n".join([T("report.review.title", count=1), T("report.review.item", number=1, title=title, name="李强",
                                                         status=T("report.status.submitted"), date="11-21 09:00"),
                      T("report.review.how")])


async def app_report_ids(db: Database) -> list[int]:
    async with db.reader() as session:
        return [int(i) for i in (await session.scalars(select(ops.Report.id).order_by(ops.Report.id))).all()]


async def test_registration_review_keeps_its_word(app: AppHarness) -> None:
    """审核 stays with the registration review; 审核报送 is the reports' own word."""
    assert await app.chat("sim-qian").says("审核") == T("members.review.empty")
    assert await app.chat("sim-qian").says("审核报送") == T("report.review.empty")
