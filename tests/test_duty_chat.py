"""A member's duty record in chat, through the simulator: 履职 (points, grade, five-one, rank) over real
attendance and a verified claim, 履职明细 pages within WeChat's limit, 补录 step by step (dates as typed,
a future day, photos, 取消, a restart in the middle), 申诉 N mapped to the line shown, 我的补录 / 我的申诉
and withdrawing; the photo fetcher storing a claim's photo. See tests/duty_support.py for the people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.chat.dispatcher import PASSIVE_REPLY_BYTES
from bot.domain import duty
from bot.domain.media import new_photo
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from handlers.duty import parse_day
from handlers.kit.paging import fit_pages
from models.activity import ActivityType
from models.duty import AppealStatus, ClaimStatus, DutyClaimPhoto, DutyEntry, EntrySource
from models.media import PhotoStatus
from scheduler.photos import fetch_due_photos
from tests.activity_support import Org, T
from tests.duty_support import NOW, ZONE, appeals_of, claim, claims_of, held, photos_of, utf8
from tests.outbound_support import MockApi, build_services, mock_api, outbound_settings  # noqa: F401
from tests.support import AppHarness, running_app

KINDS = ("1. 大会发言（5 分）\n2. 提交提案（10 分）\n3. 提案立案（15 分）\n4. 联名提案（3 分）\n"
         "5. 调研报告（5 分）\n6. 为民办实事（5 分）")
PLENARY_DAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
INSPECTION_DAY = datetime(2026, 10, 10, 1, 0, tzinfo=UTC)


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


def targets(*lines: tuple[str, int, int, int]) -> list[str]:
    """The five-one lines: (name, done, need, pending)."""
    shown = []
    for name, done, need, pending in lines:
        key = "met" if done >= need else "missing"
        line = T(f"duty_chat.summary.target_{key}", name=name, done=done, need=need)
        if pending and done < need:
            line += T("duty_chat.summary.target_pending", pending=pending)
        shown.append(line)
    return shown


# --- 履职 -----------------------------------------------------------------------------------------

async def test_duty_shows_points_grade_targets_and_rank(app: AppHarness, db: Database, org: Org) -> None:
    # 全会: 王芳 present (10), the others absent (−10). 城关镇's inspection: 王芳 and 周涛 (2 each), 陈组长
    # absent (−5). 王芳's speech is verified (5); her proposal waits (10 pending).
    await held(db, PLENARY_DAY, [org.wang], type_=ActivityType.PLENARY, title="六届五次全会")
    await held(db, INSPECTION_DAY, [org.wang, org.zhou], groups=[org.chengguan])
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言", verified_by=org.qian)
    await claim(db, org.wang, "proposal", date(2026, 11, 1), "关于农贸市场排水改造的提案")

    reply = await app.chat("sim-wang").says("履职")
    assert reply == "\n".join([
        T("duty_chat.summary.title", name="王芳", year=2026),
        T("duty_chat.summary.points", total="17", grade="不称职", pass_mark="60"),
        T("duty_chat.summary.pending", pending="10"),
        T("duty_chat.summary.rank", rank=1, size=3),  # 王芳 17, 周涛 −8, 陈组长 −15
        T("duty_chat.summary.targets"),
        *targets(("一件提案", 0, 1, 1), ("一篇社情民意", 0, 1, 0), ("一次调研视察", 1, 1, 0),
                 ("一次发言或一篇调研报告", 1, 1, 0), ("一件实事", 0, 1, 0)),
        T("duty_chat.summary.how"),
    ])
    zhou = await app.chat("sim-zhou").clicks("DUTY")  # the menu key too
    assert T("duty_chat.summary.points", total="-8", grade="不称职", pass_mark="60") in zhou
    assert T("duty_chat.summary.rank", rank=2, size=3) in zhou
    assert T("duty_chat.summary.pending", pending="10") not in zhou


async def test_who_has_a_duty_record(app: AppHarness) -> None:
    assert await app.chat("sim-stranger").says("履职") == T("duty_chat.not_member")
    assert await app.chat("sim-zhao").says("履职") == T("duty_chat.not_member")  # suspended
    secretary = T("duty_chat.not_assessed", role="秘书")
    for command in ("履职", "履职明细", "补录", "申诉 1 不对", "我的补录"):
        assert await app.chat("sim-qian").says(command) == secretary
    # A group leader is assessed like any member.
    assert (await app.chat("sim-chen").says("履职")).startswith(T("duty_chat.summary.title", name="陈组长", year=2026))


# --- 履职明细 -------------------------------------------------------------------------------------

async def test_details_come_in_pages_within_the_limit(app: AppHarness, db: Database, org: Org) -> None:
    long = "在县政协全体会议上就城乡融合发展作大会发言，提出关于农村公路养护、产业园区配套和乡村学校布局的建议" * 3
    for day in range(1, 26):  # 25 entries, each with a long description
        await claim(db, org.wang, "speech", date(2026, 10, day), f"{day}号：{long}"[:500])
    wang = app.chat("sim-wang")
    seen: list[str] = []
    page, pages = 1, 0
    while page == 1 or page <= pages:
        reply = await wang.says(f"履职明细 {page}" if page > 1 else "履职明细")
        assert utf8(reply) <= PASSIVE_REPLY_BYTES, (page, utf8(reply))
        head, *lines = reply.split("\n")
        pages = pages or int(head.split("/")[1].split(" ")[0])
        assert head == T("duty_chat.detail.title", year=2026, count=25, page=page, pages=pages)
        items = [line for line in lines if line.split(".")[0].isdigit()]
        assert lines[-1] == T("duty_chat.detail.how", example=len(seen) + 1)  # an example from this page
        assert (lines[-2] == T("duty_chat.detail.next", next=page + 1)) is (page < pages)
        seen += items
        page += 1
    assert pages > 1
    # Numbered 1…25 across the pages, newest first, each line cut to stay short.
    assert [int(line.split(".")[0]) for line in seen] == list(range(1, 26))
    assert seen[0] == T("duty_chat.detail.item", number=1, date="10月25日",
                        what="大会发言：" + f"25号：{long}"[:18] + "…", points="+5", status="待确认")
    assert seen[-1].startswith("25. 10月1日 大会发言：1号：")
    assert await wang.says(f"履职明细 {pages + 1}") == T("duty_chat.detail.no_page", page=pages + 1, pages=pages)
    assert await app.chat("sim-zhou").says("明细") == T("duty_chat.detail.empty", year=2026)


def test_pages_respect_both_limits() -> None:
    assert fit_pages(["a"] * 25, 1000, 10) == [(0, 10), (10, 10), (20, 5)]
    assert fit_pages(["長" * 100] * 5, 700, 10) == [(0, 2), (2, 2), (4, 1)]  # 301 bytes a line
    assert fit_pages(["x" * 900, "y"], 100, 10) == [(0, 1), (1, 1)]  # a line over the budget still shows


# --- 补录 -----------------------------------------------------------------------------------------

async def test_a_member_reports_a_speech_with_a_photo(app: AppHarness, db: Database, org: Org) -> None:
    wang = app.chat("sim-wang")
    assert await wang.says("补录") == T("duty_chat.claim.ask_kind", choices=KINDS)
    assert await wang.says("9") == T("duty_chat.claim.bad_kind", choices=KINDS)
    assert await wang.says("发言") == T("duty_chat.claim.ask_day", kind="大会发言")
    assert await wang.says("上个月") == T("duty_chat.claim.bad_day")
    assert await wang.says("12月25日") == T("duty_chat.claim.future_day", day="2026年12月25日")
    assert await wang.says("１０月１日") == T("duty_chat.claim.ask_description", day="2026年10月1日", min=5, max=500)
    assert await wang.says("发言") == T("duty_chat.claim.bad_description", min=5, max=500, length=2)
    assert await wang.says("在县政协全会上\n就农村公路养护作大会发言") == T("duty_chat.claim.ask_photos", limit=9,
                                                                          count=0)
    photo = await wang.send("image", pic_url="http://127.0.0.1/speech.jpg")
    assert photo is not None and photo["text"] == T("duty_chat.claim.photo_received", count=1)
    assert await wang.says("好的吧") == T("duty_chat.claim.photos_how", limit=9)
    assert await wang.says("完成") == T("duty_chat.claim.filed", what="大会发言（2026年10月1日）", photos=1, points="5")

    [filed] = await claims_of(db, org.wang)
    assert (filed.kind, filed.status, filed.year, filed.description) == (
        "speech", ClaimStatus.PENDING, 2026, "在县政协全会上 就农村公路养护作大会发言")
    assert filed.occurred_at.astimezone(ZONE).date() == date(2026, 10, 1)
    [stored] = await photos_of(db, filed.id or 0)
    assert (stored.status, stored.pic_url) == (PhotoStatus.EXTERNAL, "http://127.0.0.1/speech.jpg")
    async with db.reader() as session:  # on the record at once, pending
        entry = await session.scalar(select(DutyEntry).where(DutyEntry.source == EntrySource.CLAIM))
    assert entry is not None and (entry.member_id, entry.tenths, entry.status) == (org.wang.id, 50, "pending")
    # Whoever may verify 城关镇 is told; the secretary limited to 东山镇 is not.
    notice = T("duty_chat.notify.new_claim", name="王芳", what="大会发言（2026年10月1日）")
    assert await app.chat("sim-qian").pushes() == [notice]
    assert await app.chat("sim-sun").pushes() == []
    assert await wang.says("完成") != T("duty_chat.claim.filed", what="大会发言（2026年10月1日）", photos=1, points="5")
    assert len(await claims_of(db, org.wang)) == 1


@pytest.mark.parametrize(("typed", "day"), [
    ("2026-10-01", date(2026, 10, 1)), ("2026年10月1日", date(2026, 10, 1)), ("10月1日", date(2026, 10, 1)),
    ("10月1号", date(2026, 10, 1)), ("10.1", date(2026, 10, 1)), ("10/1", date(2026, 10, 1)),
    ("１０．１", date(2026, 10, 1)), ("今天", date(2026, 11, 21)), ("昨天", date(2026, 11, 20)),
    ("前天", date(2026, 11, 19)), ("2025.12.31", date(2025, 12, 31)), (" 11 月 2 日 ", date(2026, 11, 2)),
    ("12月25日", date(2026, 12, 25)),  # ahead, but not half a year: a mistake, which the flow points out
])
def test_days_as_members_type_them(typed: str, day: date) -> None:
    assert parse_day(typed, date(2026, 11, 21)) == day


def test_a_december_day_typed_in_january_is_last_years() -> None:
    assert parse_day("12月20日", date(2027, 1, 5)) == date(2026, 12, 20)


@pytest.mark.parametrize("typed", ["上个月", "2026-13-01", "2月30日", "10", "", "明天见"])
def test_not_a_day(typed: str) -> None:
    assert parse_day(typed, date(2026, 11, 21)) is None


async def test_cancel_midway_files_nothing(app: AppHarness, db: Database, org: Org) -> None:
    wang = app.chat("sim-wang")
    await wang.says("补录")
    await wang.says("6")
    assert await wang.says("２０２４年３月１日") == T("duty_chat.claim.too_old", year=2025)
    await wang.says("昨天")
    await wang.send("image", pic_url="http://127.0.0.1/deed.jpg")
    assert await wang.says("取消") == T("duty_chat.claim.cancelled")
    assert await claims_of(db, org.wang) == []
    async with db.reader() as session:
        assert (await session.scalars(select(DutyClaimPhoto))).all() == []
    assert await wang.says("取消") == T("common.nothing_to_cancel")


async def test_a_claim_survives_a_restart(db: Database, org: Org, settings: Settings, clock: FrozenClock) -> None:
    async with running_app(settings, clock) as first:
        wang = first.chat("sim-wang")
        await wang.says("补录")
        await wang.says("为民办实事")
        await wang.send("image", pic_url="http://127.0.0.1/early.jpg")  # before the photo step: kept
        assert await wang.says("昨天") == T("duty_chat.claim.ask_description", day="2026年11月20日", min=5, max=500)
    async with running_app(settings, clock) as second:  # a new process: only the database remembers
        wang = second.chat("sim-wang")
        assert await wang.says("帮助村里修通了灌溉水渠") == T("duty_chat.claim.ask_photos", limit=9, count=1)
        assert await wang.says("跳过") == T("duty_chat.claim.filed", what="为民办实事（2026年11月20日）", photos=1,
                                          points="5")
    [filed] = await claims_of(db, org.wang)
    assert (filed.kind, filed.description) == ("good_deed", "帮助村里修通了灌溉水渠")
    assert [photo.pic_url for photo in await photos_of(db, filed.id or 0)] == ["http://127.0.0.1/early.jpg"]


async def test_a_command_inside_the_flow_is_the_command(app: AppHarness, db: Database, org: Org) -> None:
    wang = app.chat("sim-wang")
    await wang.says("补录")
    await wang.says("1")
    assert (await wang.says("履职")).startswith(T("duty_chat.summary.title", name="王芳", year=2026))
    assert await wang.says("补录") == T("duty_chat.claim.ask_kind", choices=KINDS)
    assert await claims_of(db, org.wang) == []


# --- 申诉 -----------------------------------------------------------------------------------------

async def test_an_appeal_names_the_line_the_member_saw(app: AppHarness, db: Database, org: Org,
                                                       clock: FrozenClock) -> None:
    await held(db, INSPECTION_DAY, [org.zhou], groups=[org.chengguan])  # 王芳 recorded absent
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言")
    wang = app.chat("sim-wang")
    listing = await wang.says("履职明细")
    absent = T("duty_chat.detail.item", number=1, date="10月10日", what="调研视察（缺席）：城关镇农贸市场调研",
               points="-5", status="已确认")
    assert absent in listing.split("\n")
    # A newer entry arrives meanwhile: line 1 would now be the new one, but the member means what they saw.
    await claim(db, org.wang, "good_deed", date(2026, 11, 20), "帮助村里修通了灌溉水渠")
    assert await wang.says("申诉 1 当天我在现场，只是忘了签到") == T("duty_chat.appeal.filed", line=absent)
    [appeal] = await appeals_of(db, org.wang)
    assert (appeal.source, appeal.kind, appeal.entry_tenths, appeal.status, appeal.reason) == (
        EntrySource.ATTENDANCE, "inspection_absent", -50, AppealStatus.OPEN, "当天我在现场，只是忘了签到")
    assert await app.chat("sim-qian").pushes() == [
        T("duty_chat.notify.new_appeal", name="王芳", what="调研视察（缺席）：城关镇农贸市场调研")]
    # The same entry again: one open appeal per entry.
    assert await wang.says("申诉 1 再说一遍") == T("duty.error.appeal_open", id=appeal.id)

    # Without a reason the reason is asked; 取消 files nothing.
    speech = T("duty_chat.detail.item", number=2, date="9月1日", what="大会发言：在全会上作大会发言", points="+5",
               status="待确认")
    assert await wang.says("申诉２") == T("duty_chat.appeal.ask_reason", line=speech, min=2, max=500)
    assert await wang.says("取消") == T("duty_chat.appeal.cancelled")
    assert len(await appeals_of(db, org.wang)) == 1
    # 取消 forgot the list, so numbers now count in today's order: 1 is the new good deed.
    deed = T("duty_chat.detail.item", number=1, date="11月20日", what="为民办实事：帮助村里修通了灌溉水渠",
             points="+5", status="待确认")
    assert await wang.says("申诉 1") == T("duty_chat.appeal.ask_reason", line=deed, min=2, max=500)
    assert await wang.says("不") == T("duty_chat.appeal.bad_reason", min=2, max=500, length=1)
    assert await wang.says("照片在村委会有存档") == T("duty_chat.appeal.filed", line=deed)
    assert await wang.says("申诉 9 不对") == T("duty_chat.appeal.no_such", number=9)
    assert await wang.says("申诉") == T("duty_chat.appeal.how")


async def test_my_claims_and_appeals_and_withdrawing(app: AppHarness, db: Database, org: Org) -> None:
    rejected = await claim(db, org.wang, "proposal", date(2026, 5, 1), "关于校车安全的提案")
    async with db.session() as session:
        loaded = await session.get(type(rejected), rejected.id)
        assert loaded is not None
        await duty.decide_claim(session, loaded, verified=False, note="未见立案材料", by=org.qian, now=NOW)
    await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言")
    wang = app.chat("sim-wang")
    assert await wang.says("我的补录") == "\n".join([
        T("duty_chat.mine.claims_title", count=2),
        T("duty_chat.mine.claim", number=1, date="9月1日", kind="大会发言", description="在全会上作大会发言",
          status="待核实"),
        T("duty_chat.mine.claim", number=2, date="5月1日", kind="提交提案", description="关于校车安全的提案",
          status="未通过"),
        T("duty_chat.mine.claim_note", note="未见立案材料"),
        T("duty_chat.mine.claims_how"),
    ])
    assert (await wang.says("撤回补录 2")).startswith(T("duty.error.claim_decided"))
    assert await wang.says("撤回补录 1") == T("duty_chat.mine.claim_withdrawn", kind="大会发言", date="9月1日")
    assert [c.status for c in await claims_of(db, org.wang)] == [ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN]
    async with db.reader() as session:  # a withdrawn claim leaves the record
        kinds = (await session.scalars(select(DutyEntry.kind).where(DutyEntry.member_id == org.wang.id))).all()
    assert list(kinds) == ["proposal"]

    assert await wang.says("我的申诉") == T("duty_chat.mine.no_appeals")
    await wang.says("履职明细")
    await wang.says("申诉 1 已经补交了立案材料")
    what = T("duty_chat.appeal_what", what="提交提案：关于校车安全的提案", points="+10")
    assert await wang.says("我的申诉") == "\n".join([
        T("duty_chat.mine.appeals_title", count=1),
        T("duty_chat.mine.appeal", number=1, what=what, status="处理中"),
        T("duty_chat.mine.appeals_how"),
    ])
    assert await wang.says("撤回申诉 1") == T("duty_chat.mine.appeal_withdrawn", what=what)
    assert (await wang.says("撤回申诉 3")).startswith(T("duty_chat.mine.bad_number", number=3))
    [appeal] = await appeals_of(db, org.wang)
    assert appeal.status is AppealStatus.WITHDRAWN


# --- photos ---------------------------------------------------------------------------------------

async def test_a_claims_photo_is_fetched_like_a_reports(
    db: Database, org: Org, clock: FrozenClock, tmp_path: Path, db_url: str, mock_api: MockApi,  # noqa: F811
) -> None:
    filed = await claim(db, org.wang, "speech", date(2026, 9, 1), "在全会上作大会发言")
    mock_api.mock.add_media("MEDIA-CLAIM", b"\xff\xd8\xff\xe0 a jpeg")
    async with db.session() as session:
        session.add(new_photo(filed.id or 0, "mp", "MEDIA-CLAIM", "", clock.now(), model=DutyClaimPhoto))
    settings = outbound_settings(tmp_path, db_url, mock_api.url)
    async with aiohttp.ClientSession() as http:
        summary = await fetch_due_photos(build_services(db, clock, settings, http))
    assert summary.stored == 1
    [photo] = await photos_of(db, filed.id or 0)
    assert photo.status is PhotoStatus.STORED and photo.path == f"duty_claims/{filed.id}/{photo.id}.jpg"
    assert (Path(settings.media_dir) / photo.path).read_bytes().startswith(b"\xff\xd8")
