"""Secretaries and the duty record in chat, through the simulator: 补录审核 (verify, reject with a reason,
the member told, the score moving), 申诉处理 (uphold with points, uphold without, dismiss), 调整 by
name or mobile, 履职排名 by group, by sector and for one group; who may do what (members refused,
secretaries limited to their groups). See tests/duty_support.py for the people and the rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.chat.dispatcher import PASSIVE_REPLY_BYTES
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.activity import ActivityType
from models.audit import Channel
from models.duty import AppealStatus, ClaimStatus, DutyClaim
from models.member import Identity, Member, Sector
from tests.activity_support import Org, T
from tests.audit_support import events_of, only_event
from tests.duty_support import adjustments_of, appeals_of, claim, claims_of, held, utf8
from tests.support import AppHarness, SimChat, running_app

INSPECTION_DAY = datetime(2026, 10, 10, 1, 0, tzinfo=UTC)
PLENARY_DAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SPEECH = "大会发言（2026年9月1日）"
DEED = "为民办实事（2026年11月1日）"
ABSENT = "调研视察（缺席）：城关镇农贸市场调研"


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


async def told(chat: SimChat) -> list[str]:
    """What was pushed to a member outside their own conversation (the simulator also keeps the replies)."""
    return [text for text in await chat.pushes() if text.startswith(("您补录", "您对", "秘书调整"))]


def score_line(total: str, grade: str = "不称职") -> str:
    return T("duty_chat.summary.points", total=total, grade=grade, pass_mark="60")


async def claim_list(*items: tuple[int, str, str, int, str], count: int | None = None) -> str:
    lines = [T("duty_chat.review.claims_title", count=count or len(items))]
    lines += [T("duty_chat.review.claim_item", number=number, name=name, what=what, photos=photos,
                description=description) for number, name, what, photos, description in items]
    lines.append(T("duty_chat.review.claims_how"))
    return "\n".join(lines)


# --- 补录审核 -------------------------------------------------------------------------------------

async def test_claims_are_verified_or_rejected_and_the_member_told(app: AppHarness, db: Database, org: Org) -> None:
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上就农村公路养护作大会发言")
    await claim(db, org.wang, "good_deed", date(2026, 11, 1), "帮助村里修通了灌溉水渠")
    await claim(db, org.li, "speech", date(2026, 9, 2), "在东山镇座谈会上发言")
    wang, qian = app.chat("sim-wang"), app.chat("sim-qian")
    assert score_line("0") in await wang.says("履职")

    listing = await qian.says("补录审核")
    assert listing == await claim_list((1, "王芳", SPEECH, 0, "在全会上就农村公路养护作大会发言"),
                                       (2, "王芳", DEED, 0, "帮助村里修通了灌溉水渠"),
                                       (3, "李强", "大会发言（2026年9月2日）", 0, "在东山镇座谈会上发言"))
    assert utf8(listing) <= PASSIVE_REPLY_BYTES
    assert await qian.says("1") == T("duty_chat.review.claim_detail", number=1, name="王芳", group="城关镇",
                                     what=SPEECH, description="在全会上就农村公路养护作大会发言", photos=0,
                                     created="11月21日")
    verified = await qian.says("通过 1")
    assert verified.startswith(T("duty_chat.review.verified", name="王芳", what=SPEECH))
    assert verified.endswith(await claim_list((1, "王芳", DEED, 0, "帮助村里修通了灌溉水渠"),
                                              (2, "李强", "大会发言（2026年9月2日）", 0, "在东山镇座谈会上发言")))
    assert await qian.says("退回 1") == T("duty_chat.review.ask_reject_reason", name="王芳", what=DEED, min=2, max=300)
    assert await qian.says("无") == T("duty_chat.review.bad_reason", min=2, max=300)
    rejected = await qian.says("没有村委会的证明材料")
    assert rejected.startswith(T("duty_chat.review.rejected", name="王芳", what=DEED))
    assert await qian.says("退回 1 未见座谈会记录") == "\n\n".join([
        T("duty_chat.review.rejected", name="李强", what="大会发言（2026年9月2日）"),
        T("duty_chat.review.claims_done")])
    assert await qian.says("通过 1") != T("duty_chat.review.verified", name="王芳", what=SPEECH)  # the list is over

    assert [c.status for c in await claims_of(db, org.wang)] == [ClaimStatus.VERIFIED, ClaimStatus.REJECTED]
    [deed] = [c for c in await claims_of(db, org.wang) if c.kind == "good_deed"]
    assert (deed.decision_note, deed.decided_by_name) == ("没有村委会的证明材料", "钱秘书")
    assert await told(wang) == [
        T("duty_chat.notify.claim_verified", what=SPEECH, points="5"),
        T("duty_chat.notify.claim_rejected", what=DEED, note="没有村委会的证明材料"),
    ]
    assert score_line("5") in await wang.says("履职")  # the verified speech counts; the rejected deed does not
    assert await qian.says("补录审核") == T("duty_chat.review.claims_empty")
    speech = await only_event(db, "duty.claim.verify", channel=Channel.CHAT, actor_member_id=org.qian.id,
                              object_type="duty_claim", group_id=org.chengguan)
    assert speech.object_id == next(c.id for c in await claims_of(db, org.wang) if c.kind == "speech")
    assert [(e.object_id, e.group_id) for e in await events_of(db, "duty.claim.reject")] == [
        (deed.id, org.chengguan), (next(c.id for c in await claims_of(db, org.li)), org.dongshan)]


async def test_a_claim_decided_meanwhile_is_not_decided_twice(app: AppHarness, db: Database, org: Org) -> None:
    filed = await claim(db, org.li, "speech", date(2026, 9, 2), "在东山镇座谈会上发言")
    qian, sun = app.chat("sim-qian"), app.chat("sim-sun")
    await qian.says("补录审核")
    assert (await sun.says("补录审核")).startswith(T("duty_chat.review.claims_title", count=1))
    await sun.says("通过 1")
    assert await qian.says("通过 1") == "\n\n".join([
        T("duty_chat.review.claim_decided", name="李强", status="已核实"), T("duty_chat.review.claims_empty")])
    assert await qian.says("5") != ""  # the list is closed: 5 is no longer an answer to it
    async with db.reader() as session:
        stored = await session.get(DutyClaim, filed.id)
    assert stored is not None and stored.decided_by_name == "孙秘书"


async def test_a_change_of_mind_while_asked_for_a_reason(app: AppHarness, db: Database, org: Org) -> None:
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言")
    await claim(db, org.zhou, "speech", date(2026, 9, 3), "在常委会上发言")
    qian = app.chat("sim-qian")
    await qian.says("补录审核")
    assert await qian.says("退回 1") == T("duty_chat.review.ask_reject_reason", name="王芳", what=SPEECH, min=2,
                                        max=300)
    assert (await qian.says("通过 1")).startswith(T("duty_chat.review.verified", name="王芳", what=SPEECH))
    await qian.says("退回 1")  # now 周涛's
    assert (await qian.says("驳回 1 没有会议记录")).startswith(
        T("duty_chat.review.rejected", name="周涛", what="大会发言（2026年9月3日）"))
    assert [c.status for c in await claims_of(db, org.wang)] == [ClaimStatus.VERIFIED]
    [zhou] = await claims_of(db, org.zhou)
    assert (zhou.status, zhou.decision_note) == (ClaimStatus.REJECTED, "没有会议记录")


async def test_a_secretary_sees_only_claims_of_their_groups(app: AppHarness, db: Database, org: Org) -> None:
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言")
    sun = app.chat("sim-sun")  # 东山镇 only
    assert await sun.says("补录审核") == T("duty_chat.review.claims_empty")
    assert await sun.says("申诉处理") == T("duty_chat.review.appeals_empty")
    assert await sun.says("调整 王芳 +2 参加省政协调研") == T("duty.error.not_allowed")
    assert await adjustments_of(db, org.wang) == []
    await claim(db, org.li, "speech", date(2026, 9, 2), "在东山镇座谈会上发言")
    assert (await sun.says("补录审核")).startswith(T("duty_chat.review.claims_title", count=1))


async def test_members_and_leaders_cannot_review(app: AppHarness, db: Database, org: Org) -> None:
    await claim(db, org.zhou, "speech", date(2026, 9, 1), "在全会上作大会发言")
    forbidden = T("duty_chat.review.forbidden")
    for user in ("sim-wang", "sim-chen", "sim-stranger", "sim-zhao"):
        chat = app.chat(user)
        for command in ("补录审核", "申诉处理", "调整 周涛 +2 参加调研", "调整"):
            assert await chat.says(command) == forbidden, (user, command)
    assert await app.chat("sim-wang").says("履职排名") == T("duty_chat.ranking.forbidden")
    assert await adjustments_of(db, org.zhou) == []
    assert [c.status for c in await claims_of(db, org.zhou)] == [ClaimStatus.PENDING]


async def test_other_commands_still_work_while_a_list_is_open(app: AppHarness, db: Database, org: Org) -> None:
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言")
    qian = app.chat("sim-qian")
    await qian.says("补录审核")
    assert await qian.says("随便说说") == T("duty_chat.review.claims_how")
    assert (await qian.says("履职排名")).startswith(T("duty_chat.ranking.title", year=2026, pass_mark="60"))


# --- 申诉处理 -------------------------------------------------------------------------------------

async def test_an_upheld_appeal_with_points_changes_the_score(app: AppHarness, db: Database, org: Org) -> None:
    await held(db, INSPECTION_DAY, [org.zhou], groups=[org.chengguan])  # 王芳 absent: −5
    wang, qian = app.chat("sim-wang"), app.chat("sim-qian")
    assert score_line("-5") in await wang.says("履职")
    await wang.says("履职明细")
    await wang.says("申诉 1 当天我在现场，只是忘了签到")
    what = T("duty_chat.appeal_what", what=ABSENT, points="-5")
    assert await qian.says("申诉处理") == "\n".join([
        T("duty_chat.review.appeals_title", count=1),
        T("duty_chat.review.appeal_item", number=1, name="王芳", what=what, reason="当天我在现场，只是忘了签到"),
        T("duty_chat.review.appeals_how"),
    ])
    assert await qian.says("1") == T("duty_chat.review.appeal_detail", number=1, name="王芳", group="城关镇",
                                     what=what, reason="当天我在现场，只是忘了签到", created="11月21日")
    assert await qian.says("更正 1 +7 经核实当天在场，补记调研 2 分") == "\n\n".join([
        T("duty_chat.review.upheld_with_points", name="王芳", points="+7"), T("duty_chat.review.appeals_done")])

    [appeal] = await appeals_of(db, org.wang)
    assert (appeal.status, appeal.answer, appeal.decided_by_name) == (
        AppealStatus.UPHELD, "经核实当天在场，补记调研 2 分", "钱秘书")
    [adjustment] = await adjustments_of(db, org.wang)
    assert (adjustment.tenths, adjustment.appeal_id, adjustment.year) == (70, appeal.id, 2026)
    # One event for the decision and its points; the adjustment it made is not logged again.
    await only_event(db, "duty.appeal.uphold", channel=Channel.CHAT, actor_member_id=org.qian.id,
                     object_type="duty_appeal", object_id=appeal.id, after={"status": "upheld", "points": 7.0})
    assert await events_of(db, "duty.adjust") == []
    assert await told(wang) == [T("duty_chat.notify.appeal_adjusted", what=what, answer="经核实当天在场，补记调研 2 分",
                                  points="+7")]
    assert score_line("2") in await wang.says("履职")
    # The adjustment is an entry of its own, which cannot be appealed (it is already a decision).
    details = await wang.says("履职明细")
    assert T("duty_chat.detail.item", number=1, date="11月21日", what="人工调整：经核实当天在场，补记调研 2 分",
             points="+7", status="已确认") in details.split("\n")
    assert await wang.says("申诉 1 不对") == T("duty.error.appeal_adjustment")


async def test_appeals_answered_in_two_steps_upheld_or_dismissed(app: AppHarness, db: Database, org: Org) -> None:
    await held(db, INSPECTION_DAY, [org.zhou], groups=[org.chengguan])
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言", verified_by=org.qian)
    wang, qian = app.chat("sim-wang"), app.chat("sim-qian")
    await wang.says("履职明细")
    await wang.says("申诉 1 当天我在现场")
    await wang.says("申诉 2 应该算两次发言")
    absent = T("duty_chat.appeal_what", what=ABSENT, points="-5")
    speech = T("duty_chat.appeal_what", what="大会发言：在全会上作大会发言", points="+5")
    assert (await qian.says("申诉处理")).startswith(T("duty_chat.review.appeals_title", count=2))
    assert await qian.says("维持 2") == T("duty_chat.review.ask_answer", name="王芳", what=speech, min=2, max=300)
    assert await qian.says("嗯") == T("duty_chat.review.bad_answer", name="王芳", what=speech, min=2, max=300)
    assert (await qian.says("同一次会议只计一次发言")).startswith(T("duty_chat.review.dismissed", name="王芳"))
    assert await qian.says("更正 1") == T("duty_chat.review.ask_answer", name="王芳", what=absent, min=2, max=300)
    # Upheld without points: the source itself was corrected (by the attendance correction elsewhere).
    assert (await qian.says("已改为出席")).startswith(T("duty_chat.review.upheld", name="王芳"))
    assert [a.status for a in await appeals_of(db, org.wang)] == [AppealStatus.UPHELD, AppealStatus.DISMISSED]
    assert await adjustments_of(db, org.wang) == []
    upheld, dismissed = await appeals_of(db, org.wang)
    await only_event(db, "duty.appeal.dismiss", channel=Channel.CHAT, object_id=dismissed.id,
                     summary="王芳：同一次会议只计一次发言")
    await only_event(db, "duty.appeal.uphold", object_id=upheld.id, after={"status": "upheld"})
    assert await told(wang) == [
        T("duty_chat.notify.appeal_dismissed", what=speech, answer="同一次会议只计一次发言"),
        T("duty_chat.notify.appeal_upheld", what=absent, answer="已改为出席"),
    ]
    mine = await wang.says("我的申诉")
    assert T("duty_chat.mine.appeal_answer", answer="同一次会议只计一次发言") in mine.split("\n")


async def test_bad_points_in_an_appeal_answer(app: AppHarness, db: Database, org: Org) -> None:
    await held(db, INSPECTION_DAY, [org.zhou], groups=[org.chengguan])
    await app.chat("sim-wang").says("申诉 1 当天我在现场")
    qian = app.chat("sim-qian")
    await qian.says("申诉处理")
    assert (await qian.says("更正 1 +500 补记")).startswith(T("duty.error.points", max=100))
    assert await qian.says("维持 7 不对") == T("duty_chat.review.bad_number", number=7)
    assert [a.status for a in await appeals_of(db, org.wang)] == [AppealStatus.OPEN]


async def test_claims_take_the_words_of_every_review_queue(app: AppHarness, db: Database, org: Org) -> None:
    """handlers.kit.review: a claim shown in full is decided without its number, 拒绝 rejects, the start word
    while asked for a reason gives a fresh list."""
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言")
    await claim(db, org.zhou, "speech", date(2026, 9, 3), "在常委会上发言")
    qian = app.chat("sim-qian")
    first = await qian.says("补录审核")
    await qian.says("1")
    assert (await qian.says("通过")).startswith(T("duty_chat.review.verified", name="王芳", what=SPEECH))
    assert await qian.says("拒绝 1") == T("duty_chat.review.ask_reject_reason", name="周涛",
                                        what="大会发言（2026年9月3日）", min=2, max=300)
    assert (await qian.says("补录审核")).startswith(T("duty_chat.review.claims_title", count=1))
    assert first.startswith(T("duty_chat.review.claims_title", count=2))
    assert (await qian.says("拒绝 1 没有会议记录")).startswith(
        T("duty_chat.review.rejected", name="周涛", what="大会发言（2026年9月3日）"))
    assert [c.status for c in await claims_of(db, org.wang)] == [ClaimStatus.VERIFIED]
    assert [(c.status, c.decision_note) for c in await claims_of(db, org.zhou)] == [
        (ClaimStatus.REJECTED, "没有会议记录")]


async def test_appeals_take_the_words_of_every_review_queue(app: AppHarness, db: Database, org: Org) -> None:
    """驳回 dismisses an appeal, 同意 upholds it (with points), as 维持 and 更正 do."""
    await held(db, INSPECTION_DAY, [org.zhou], groups=[org.chengguan])
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言", verified_by=org.qian)
    wang, qian = app.chat("sim-wang"), app.chat("sim-qian")
    await wang.says("履职明细")
    await wang.says("申诉 1 当天我在现场")
    await wang.says("申诉 2 应该算两次发言")
    await qian.says("申诉处理")
    assert (await qian.says("驳回 2 同一次会议只计一次发言")).startswith(T("duty_chat.review.dismissed", name="王芳"))
    await qian.says("1")
    assert await qian.says("同意 +5") == T("duty_chat.review.ask_answer", name="王芳",
                                         what=T("duty_chat.appeal_what", what=ABSENT, points="-5"), min=2, max=300)
    assert (await qian.says("经核实当天在场")).startswith(
        T("duty_chat.review.upheld_with_points", name="王芳", points="+5"))
    assert [a.status for a in await appeals_of(db, org.wang)] == [AppealStatus.UPHELD, AppealStatus.DISMISSED]
    [adjustment] = await adjustments_of(db, org.wang)
    assert adjustment.tenths == 50


# --- 调整 -----------------------------------------------------------------------------------------

async def test_adjust_by_name_or_mobile(app: AppHarness, db: Database, org: Org) -> None:
    qian = app.chat("sim-qian")
    assert await qian.says("调整 王芳 +2.5 参加省政协调研，补记") == T(
        "duty_chat.adjust.done", name="王芳", group="城关镇", tail="0001", points="+2.5", reason="参加省政协调研，补记",
        year=2026, total="2.5")
    assert await told(app.chat("sim-wang")) == [
        T("duty_chat.notify.adjusted", year=2026, points="+2.5", reason="参加省政协调研，补记")]
    async with db.session() as session:  # a namesake in 东山镇
        namesake = Member(name="王芳", mobile="13800000011", group_id=org.dongshan)
        session.add(namesake)
    assert await qian.says("调整 王芳 -1 重复计分") == "\n".join([
        T("duty_chat.adjust.which", who="王芳"),
        T("duty_chat.adjust.candidate", name="王芳", group="城关镇", tail="0001"),
        T("duty_chat.adjust.candidate", name="王芳", group="东山镇", tail="0011"),
    ])
    assert (await qian.says("调整 １３８０００００００１ －１ 重复计分")).startswith(
        T("duty_chat.adjust.done", name="王芳", group="城关镇", tail="0001", points="-1", reason="重复计分",
          year=2026, total="1.5"))
    # The secretary limited to 东山镇 reaches only the namesake there.
    assert (await app.chat("sim-sun").says("调整 王芳 +1 座谈会发言")).startswith(
        T("duty_chat.adjust.done", name="王芳", group="东山镇", tail="0011", points="+1", reason="座谈会发言",
          year=2026, total="1"))
    assert [a.tenths for a in await adjustments_of(db, org.wang)] == [25, -10]
    assert [(e.actor_member_id, e.channel, e.group_id, e.after) for e in await events_of(db, "duty.adjust")] == [
        (org.qian.id, Channel.CHAT, org.chengguan, {"year": 2026, "points": 2.5}),
        (org.qian.id, Channel.CHAT, org.chengguan, {"year": 2026, "points": -1.0}),
        (org.sun.id, Channel.CHAT, org.dongshan, {"year": 2026, "points": 1.0}),
    ]
    assert await qian.says("调整 王芳") == T("duty_chat.adjust.how")
    assert await qian.says("调整 13800000001 +2") == T("duty_chat.adjust.no_reason", min=2, max=300)
    assert await qian.says("调整 13800000001 0 没有变化") == T("duty.error.points", max=100)
    assert await qian.says("调整 13800000001 +0.25 太细") == T("duty.error.points", max=100)
    assert await qian.says("调整 张三 +2 参加调研") == T("duty_chat.adjust.nobody", who="张三")
    assert await qian.says("调整 钱秘书 +2 参加调研") == T("duty_chat.adjust.nobody", who="钱秘书")  # not assessed
    assert len(await adjustments_of(db, org.wang)) == 2


# --- 履职排名 -------------------------------------------------------------------------------------

async def test_rankings_by_group_sector_and_one_group(app: AppHarness, db: Database, org: Org) -> None:
    async with db.session() as session:
        economy = Sector(name="经济界")
        session.add(economy)
        await session.flush()
        for member in (org.wang, org.li):
            stored = await session.get(Member, member.id)
            assert stored is not None
            stored.sector_id = economy.id
    # 全会: 王芳 and 李强 present (10 each), everyone else absent (−10). Then 王芳 +55 by adjustment: 65.
    await held(db, PLENARY_DAY, [org.wang, org.li], type_=ActivityType.PLENARY, title="六届五次全会")
    qian = app.chat("sim-qian")
    await qian.says("调整 王芳 +55 年度优秀提案")
    title = T("duty_chat.ranking.title", year=2026, pass_mark="60")
    # 城关镇: 王芳 65, 周涛 −10, 陈组长 −10 → 15; 东山镇: 李强 10, 吴静 −10 → 0.
    assert await qian.says("履职排名") == "\n".join([
        title, T("duty_chat.ranking.by_group"),
        T("duty_chat.ranking.standing", rank=1, name="城关镇", average="15", members=3, below=2),
        T("duty_chat.ranking.standing", rank=2, name="东山镇", average="0", members=2, below=2),
        T("duty_chat.ranking.below_title", count=4),
        T("duty_chat.ranking.below_line", name="城关镇", people="周涛 -10、陈组长 -10"),
        T("duty_chat.ranking.below_line", name="东山镇", people="李强 10、吴静 -10"),
    ])
    assert await qian.says("履职排名 界别") == "\n".join([
        title, T("duty_chat.ranking.by_sector"),
        T("duty_chat.ranking.standing", rank=1, name="经济界", average="37.5", members=2, below=1),
        T("duty_chat.ranking.standing", rank=2, name="未填界别", average="-10", members=3, below=3),
        T("duty_chat.ranking.below_title", count=4),
        T("duty_chat.ranking.below_line", name="经济界", people="李强 10"),
        T("duty_chat.ranking.below_line", name="未填界别", people="周涛 -10、陈组长 -10、吴静 -10"),
    ])
    one_group = "\n".join([
        title, T("duty_chat.ranking.group_title", name="城关镇", members=3, average="15", below=2),
        T("duty_chat.ranking.member", rank=1, name="王芳", total="65", grade="称职", mark=""),
        T("duty_chat.ranking.member", rank=2, name="周涛", total="-10", grade="不称职",
          mark=T("duty_chat.ranking.below_mark")),
        T("duty_chat.ranking.member", rank=2, name="陈组长", total="-10", grade="不称职",
          mark=T("duty_chat.ranking.below_mark")),
    ])
    assert await qian.says("履职排名 城关镇") == one_group
    assert await app.chat("sim-chen").says("排名") == one_group  # a group leader: their own group
    assert await qian.says("履职排名 西山镇") == T("duty_chat.ranking.no_group", name="西山镇", groups="东山镇、城关镇")
    # The secretary limited to 东山镇 sees that group only.
    assert (await app.chat("sim-sun").says("履职排名")).split("\n")[1] == T(
        "duty_chat.ranking.group_title", name="东山镇", members=2, average="0", below=2)


async def test_a_long_ranking_stays_within_the_limit(app: AppHarness, db: Database, org: Org) -> None:
    async with db.session() as session:
        for number in range(120):
            session.add(Member(name=f"委员{number:03d}号", mobile=f"139{number:08d}", group_id=org.chengguan))
    reply = await app.chat("sim-qian").says("履职排名")
    assert utf8(reply) <= PASSIVE_REPLY_BYTES
    assert reply.endswith(T("duty_chat.ranking.cut"))
    one = await app.chat("sim-qian").says("履职排名 城关镇")
    assert utf8(one) <= PASSIVE_REPLY_BYTES and one.split("\n")[-1].startswith("……")


async def test_a_member_without_chat_is_adjusted_but_not_told(app: AppHarness, db: Database, org: Org) -> None:
    reply = await app.chat("sim-sun").says("调整 吴静 +3 参加东山镇调研")
    assert reply.startswith(T("duty_chat.adjust.done", name="吴静", group="东山镇", tail="0006", points="+3",
                              reason="参加东山镇调研", year=2026, total="3"))
    async with db.reader() as session:
        assert (await session.scalars(select(Identity).where(Identity.member_id == org.nobody.id))).all() == []
    assert [a.tenths for a in await adjustments_of(db, org.nobody)] == [30]
