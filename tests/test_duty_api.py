"""/api/v1/duty over HTTP, on SQLite and PostgreSQL: a member's year, scores, rankings, the group assessment,
rebuilds, claims, appeals, adjustments and the rules.

The data is :func:`tests.duty_export_support.build_ledger` (who did what, and the 2026 totals, are there);
the clock stands at 2026-11-21 09:00 in Shanghai."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api import API_PREFIX
from bot.domain.duty import ADJUSTMENT_MAX, open_appeal, submit_claim
from bot.domain.ledger import refresh
from bot.infra.db import Database
from models.audit import Channel
from models.delivery import Delivery
from models.duty import DutyAdjustment, DutyEntry, DutyYear
from models.member import Member
from tests.audit_support import events_of
from tests.duty_export_support import NOW, RULES, ZONE, Ledger, build_ledger
from tests.support import call

DUTY = f"{API_PREFIX}/duty"


@pytest.fixture
async def data(db: Database, org: Any) -> Ledger:
    return await build_ledger(db, org)


async def deliveries(db: Database, prefix: str) -> list[Delivery]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(Delivery).where(Delivery.idempotency_key.like(f"{prefix}%")).order_by(Delivery.id)  # type: ignore[attr-defined]
        )).all())


async def ledger_rows(db: Database, year: int = 2026) -> list[tuple[Any, ...]]:
    async with db.reader() as session:
        rows = (await session.execute(
            select(DutyEntry.member_id, DutyEntry.source, DutyEntry.source_id, DutyEntry.kind, DutyEntry.category,
                   DutyEntry.tenths, DutyEntry.status, DutyEntry.occurred_at, DutyEntry.title)
            .where(DutyEntry.year == year)
        )).all()
    return sorted(tuple(row) for row in rows)


async def entry_of(db: Database, member_id: int, kind: str) -> DutyEntry:
    async with db.session() as session:
        await refresh(session, RULES.for_year(2026), 2026, ZONE, now=NOW)
        entry = await session.scalar(select(DutyEntry).where(DutyEntry.member_id == member_id,
                                                             DutyEntry.kind == kind, DutyEntry.year == 2026))
    assert entry is not None
    return entry


async def appeal_on(db: Database, member_id: int, kind: str, reason: str) -> int:
    entry = await entry_of(db, member_id, kind)
    async with db.session() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        appeal = await open_appeal(session, member, entry, reason=reason, now=NOW)
        return appeal.id or 0


# --- a member's year ---------------------------------------------------------------------------------------


async def test_a_members_year_with_every_entry_traced(api: TestClient, db: Database, data: Ledger) -> None:
    org = data.org
    body = await call(api, "GET", f"{DUTY}/2026/members/{org.wang.id}")
    assert body["year"] == 2026 and body["assessed"] is True
    assert body["member"] == {"id": org.wang.id, "name": "王芳"}
    assert body["group"] == {"id": org.chengguan, "name": "城关镇"}
    assert body["sector"] == {"id": data.economy, "name": "经济界"}
    assert body["rebuilt_at"] == "2026-11-21T01:00:00+00:00"  # never rebuilt before: the whole year was
    assert body["score"] == {
        "total": 75.0, "pending": 0.0, "grade": "称职", "passed": True, "group_rank": 1, "group_size": 4,
        "sector_rank": 1, "overall_rank": 1, "base": 0, "bonus": 75.0, "bonus_cap": None, "pass_mark": 60,
    }
    categories = {c["name"]: c for c in body["categories"]}
    assert list(categories) == ["plenary", "proposals", "activities", "reports", "study", "penalties"]
    assert categories["activities"] == {"name": "activities", "label": "会议活动", "cap": 10, "floor": None,
                                        "penalty": False, "raw": 12.0, "points": 10.0}
    assert (categories["reports"]["raw"], categories["reports"]["points"]) == (20.0, 15.0)
    assert (categories["study"]["raw"], categories["study"]["cap"]) == (0.0, 0)
    assert [(t["name"], t["done"], t["met"]) for t in body["five_one"]] == [
        ("一件提案", 0, False), ("一篇社情民意", 1, True), ("一次调研视察", 1, True),
        ("一次发言或一篇调研报告", 1, True), ("一件实事", 1, True)]
    entries = body["entries"]
    assert len(entries) == 8 and sum(e["points"] for e in entries) == 82  # raw, before the caps
    assert entries[0] == {  # newest first
        "source": "claim", "source_id": data.claim_speech + 1, "ref": f"claim#{data.claim_speech + 1}",
        "kind": "good_deed", "label": "为民办实事", "category": "activities", "category_label": "会议活动",
        "points": 5.0, "status": "confirmed", "occurred_at": "2026-07-01T04:00:00+00:00",
        "title": "王芳的good_deed（2026-07-01）", "open_appeal_id": None,
    }
    assert [(e["ref"].split("#")[0], e["label"]) for e in entries] == [
        ("claim", "为民办实事"), ("attendance", "调研视察"), ("claim", "大会发言"), ("instruction", "领导批示"),
        ("report", "社情民意被采用"), ("report", "报送社情民意"), ("study_read", "学习资料"),
        ("attendance", "全体会议")]


async def test_penalties_floors_adjustments_and_pending(api: TestClient, db: Database, data: Ledger) -> None:
    org = data.org
    chen = await call(api, "GET", f"{DUTY}/2026/members/{org.chen.id}")
    penalties = next(c for c in chen["categories"] if c["name"] == "penalties")
    assert (penalties["raw"], penalties["points"], penalties["floor"], penalties["penalty"]) == (-50.0, -30.0, -30,
                                                                                                 True)
    assert chen["score"]["total"] == -3.0 and chen["score"]["group_rank"] == 4 and chen["score"]["passed"] is False
    absent = next(e for e in chen["entries"] if e["kind"] == "plenary_absent")
    assert (absent["label"], absent["category_label"], absent["points"]) == ("全体会议（缺席）", "缺席扣分", -50.0)

    li = await call(api, "GET", f"{DUTY}/2026/members/{org.li.id}")
    assert li["score"]["total"] == 33.0 and li["score"]["pending"] == 10.0  # the undecided report
    assert li["categories"][-1] == {"name": "adjustment", "label": "人工调整", "cap": None, "floor": None,
                                    "penalty": False, "raw": 3.0, "points": 3.0}
    statuses = {e["ref"]: (e["label"], e["status"]) for e in li["entries"]}
    assert statuses[f"claim#{data.claim_rejected}"] == ("提交提案", "rejected")
    assert statuses[f"report#{data.report_li}"] == ("报送社情民意", "pending")
    assert statuses[f"adjustment#{data.adjustment}"] == ("人工调整", "confirmed")
    leave = next(e for e in li["entries"] if e["kind"] == "plenary_leave")
    assert (leave["label"], leave["points"]) == ("全体会议（请假）", 30.0)


async def test_a_secretary_is_not_assessed_and_bad_paths(api: TestClient, data: Ledger) -> None:
    body = await call(api, "GET", f"{DUTY}/2026/members/{data.org.qian.id}")
    assert body["assessed"] is False and body["score"] is None
    assert [e["kind"] for e in body["entries"]] == ["plenary_absent"]  # recorded, not assessed
    assert body["categories"][0]["raw"] == 0.0

    assert (await call(api, "GET", f"{DUTY}/2026/members/9999", 404))["error"] == "not_found"
    assert (await call(api, "GET", f"{DUTY}/2026/members/abc", 404))["error"] == "not_found"
    malformed = await call(api, "GET", f"{DUTY}/twenty/members/1", 422)  # a malformed value, not a missing row
    assert malformed["error"] == "invalid" and malformed["fields"][0]["field"] == "year"
    refused = await call(api, "GET", f"{DUTY}/1999/members/1", 422)
    assert refused["error"] == "invalid" and refused["fields"][0]["field"] == "year"
    await call(api, "GET", f"{DUTY}/2101/rankings", 422)


# --- scores, rankings, groups, rebuild --------------------------------------------------------------------------


async def test_scores_filtered_and_paged(api: TestClient, db: Database, data: Ledger) -> None:
    org = data.org
    body = await call(api, "GET", f"{DUTY}/2026/members")
    assert body["total"] == 6 and body["pass_mark"] == 60 and body["rebuilt_at"] == "2026-11-21T01:00:00+00:00"
    assert [(i["member"]["name"], i["total"], i["overall_rank"], i["group_rank"]) for i in body["items"]] == [
        ("王芳", 75.0, 1, 1), ("周涛", 55.0, 2, 2), ("郑红", 55.0, 2, 2), ("李强", 33.0, 4, 1), ("陈组长", -3.0, 5, 4),
        ("吴静", -30.0, 6, 2)]
    wang = body["items"][0]
    assert wang["categories"] == {"plenary": 50.0, "proposals": 0.0, "activities": 10.0, "reports": 15.0,
                                  "study": 0.0, "penalties": 0.0, "adjustment": 0.0}
    assert wang["five_one"] == {"met": 4, "targets": 5, "missing": ["一件提案"]}
    assert wang["sector"] == {"id": data.economy, "name": "经济界"} and wang["grade"] == "称职"
    assert body["items"][1]["pending"] == 10.0  # 周涛's claim waits for verification

    page = await call(api, "GET", f"{DUTY}/2026/members?per_page=2&page=2")
    assert [i["member"]["name"] for i in page["items"]] == ["郑红", "李强"] and page["total"] == 6
    assert page["items"][1]["categories"]["adjustment"] == 3.0
    group = await call(api, "GET", f"{DUTY}/2026/members?group_id={org.dongshan}")
    assert [(i["member"]["name"], i["group_rank"], i["overall_rank"]) for i in group["items"]] == [
        ("李强", 1, 4), ("吴静", 2, 6)]  # ranks stay the year's, not the page's
    below = await call(api, "GET", f"{DUTY}/2026/members?below_pass=true&sector_id={data.education}")
    assert [i["member"]["name"] for i in below["items"]] == ["周涛", "郑红"] and below["total"] == 2
    assert (await call(api, "GET", f"{DUTY}/2026/members?below_pass=true"))["total"] == 5

    for bad in ("per_page=0", "per_page=201", "page=0", "group_id=x", "below_pass=maybe", "colour=red"):
        assert (await call(api, "GET", f"{DUTY}/2026/members?{bad}", 422))["error"] == "invalid"


async def test_rankings_by_group_and_by_sector(api: TestClient, data: Ledger) -> None:
    org = data.org
    body = await call(api, "GET", f"{DUTY}/2026/rankings")
    assert body["by"] == "group" and body["pass_mark"] == 60
    assert body["items"] == [
        {"rank": 1, "id": org.chengguan, "name": "城关镇", "members": 4, "average": 45.5, "below_pass": 3},
        {"rank": 2, "id": org.dongshan, "name": "东山镇", "members": 2, "average": 1.5, "below_pass": 2},
    ]
    sectors = await call(api, "GET", f"{DUTY}/2026/rankings?by=sector")
    assert sectors["items"] == [
        {"rank": 1, "id": data.education, "name": "教育界", "members": 2, "average": 55.0, "below_pass": 2},
        {"rank": 2, "id": data.economy, "name": "经济界", "members": 2, "average": 54.0, "below_pass": 1},
        {"rank": 3, "id": None, "name": "（未填界别）", "members": 2, "average": -16.5, "below_pass": 2},
    ]
    assert (await call(api, "GET", f"{DUTY}/2026/rankings?by=committee", 422))["fields"][0]["field"] == "by"


async def test_group_assessment(api: TestClient, data: Ledger) -> None:
    body = await call(api, "GET", f"{DUTY}/2026/groups")
    assert body["weights"] == {"activity_held": 5, "report_submitted": 2, "report_adopted": 3, "attendance": 40}
    assert body["items"] == [
        {"rank": 1, "group": {"id": data.org.chengguan, "name": "城关镇"}, "activities_held": 1,
         "reports_submitted": 3, "reports_adopted": 1, "attended": 5, "expected": 8, "attendance_rate": 0.625,
         "score": 39.0},
        {"rank": 2, "group": {"id": data.org.dongshan, "name": "东山镇"}, "activities_held": 0,
         "reports_submitted": 1, "reports_adopted": 0, "attended": 0, "expected": 1, "attendance_rate": 0.0,
         "score": 2.0},
    ]
    empty = await call(api, "GET", f"{DUTY}/2024/groups")
    assert [g["score"] for g in empty["items"]] == [0.0, 0.0] and [g["rank"] for g in empty["items"]] == [1, 1]


async def test_rebuild_is_idempotent(api: TestClient, db: Database, data: Ledger) -> None:
    first = await call(api, "POST", f"{DUTY}/2026/rebuild")
    assert first == {"year": 2026, "entries": 26, "rebuilt_at": "2026-11-21T01:00:00+00:00"}
    before = await ledger_rows(db)
    second = await call(api, "POST", f"{DUTY}/2026/rebuild")
    assert second["entries"] == 26 and await ledger_rows(db) == before
    async with db.reader() as session:
        state = await session.get(DutyYear, 2026)
    assert state is not None and state.entries == 26 and state.rules_hash == RULES.for_year(2026).digest
    rebuilds = await events_of(db, "duty.rebuild")  # asked for twice, logged twice
    assert [(e.channel, e.object_id, e.after) for e in rebuilds] == [(Channel.API, 2026, {"entries": 26})] * 2


async def test_lists_read_the_last_rebuild_until_the_next(api: TestClient, db: Database, data: Ledger) -> None:
    li = data.org.li
    await call(api, "POST", f"{DUTY}/2026/rebuild")
    async with db.session() as session:  # a source changes without a rebuild (an adjustment written elsewhere)
        session.add(DutyAdjustment(member_id=li.id or 0, year=2026, tenths=100, reason="直接写入", at=NOW))

    def total_of(body: dict[str, Any]) -> float:
        return next(i["total"] for i in body["items"] if i["member"]["id"] == li.id)

    assert total_of(await call(api, "GET", f"{DUTY}/2026/members")) == 33.0
    await call(api, "POST", f"{DUTY}/2026/rebuild")
    assert total_of(await call(api, "GET", f"{DUTY}/2026/members")) == 43.0
    # a member's page rebuilds the member's group itself
    async with db.session() as session:
        session.add(DutyAdjustment(member_id=li.id or 0, year=2026, tenths=-30, reason="直接写入", at=NOW))
    assert (await call(api, "GET", f"{DUTY}/2026/members/{li.id}"))["score"]["total"] == 40.0


# --- claims --------------------------------------------------------------------------------------------------


async def test_claims_listed_verified_and_the_member_told(api: TestClient, db: Database, data: Ledger) -> None:
    org = data.org
    pending = await call(api, "GET", f"{DUTY}/claims?status=pending")
    assert pending["total"] == 1
    (claim,) = pending["items"]
    assert claim == {
        "id": data.claim_pending, "member": {"id": org.zhou.id, "name": "周涛"},
        "group": {"id": org.chengguan, "name": "城关镇"}, "year": 2026, "kind": "proposal", "label": "提交提案",
        "points": 10, "day": "2026-08-01", "occurred_at": "2026-08-01T04:00:00+00:00",
        "description": "周涛的proposal（2026-08-01）", "status": "pending", "decision_note": "", "decided_by": None,
        "decided_by_id": None, "created_at": "2026-11-11T01:00:00+00:00", "decided_at": None, "photos": 0,
    }
    everything = await call(api, "GET", f"{DUTY}/claims")
    assert everything["total"] == 7 and [c["id"] for c in everything["items"]] == sorted(
        c["id"] for c in everything["items"])
    assert (await call(api, "GET", f"{DUTY}/claims?member_id={org.wang.id}&year=2025"))["total"] == 1
    assert [c["status"] for c in (await call(api, "GET", f"{DUTY}/claims?status=rejected"))["items"]] == ["rejected"]

    verified = await call(api, "POST", f"{DUTY}/claims/{data.claim_pending}/verify", json={})
    assert verified["status"] == "verified" and verified["notified"] is True
    assert verified["decided_by"] is None and verified["decided_at"] == "2026-11-21T01:00:00+00:00"
    (told,) = await deliveries(db, f"duty-claim:{data.claim_pending}:")
    assert told.recipient == "sim-zhou" and told.payload["text"] == (
        "您补录的“提交提案”（2026-08-01）已核实，计入 2026 年履职积分 10 分。")
    zhou = await call(api, "GET", f"{DUTY}/2026/members/{org.zhou.id}")
    assert zhou["score"]["total"] == 65.0 and zhou["score"]["pending"] == 0.0  # the ledger follows at once
    assert zhou["five_one"][0] == {"name": "一件提案", "need": 1, "done": 1, "pending": 0, "met": True}

    again = await call(api, "POST", f"{DUTY}/claims/{data.claim_pending}/verify", 409)
    assert again["error"] == "already_decided" and again["message"] == "这条补录已经处理过了。"
    by_api = [e for e in await events_of(db, "duty.claim.verify") if e.channel is Channel.API]
    assert [(e.object_id, e.group_id, e.actor_label) for e in by_api] == [
        (data.claim_pending, org.chengguan, "api-token")]
    assert (await call(api, "POST", f"{DUTY}/claims/9999/verify", 404))["error"] == "not_found"
    assert (await call(api, "GET", f"{DUTY}/claims?status=maybe", 422))["error"] == "invalid"


async def test_a_claim_rejected_with_a_note(api: TestClient, db: Database, data: Ledger) -> None:
    org = data.org
    async with db.session() as session:
        li = await session.get(Member, org.li.id)
        assert li is not None
        claim = await submit_claim(session, li, RULES.for_year(2026), kind="speech", day=date(2026, 10, 9),
                                   description="在全会上作大会发言", zone=ZONE, now=NOW)
        claim_id = claim.id
    short = await call(api, "POST", f"{DUTY}/claims/{claim_id}/reject", 422, json={"note": " "})
    assert short["fields"] == [{"field": "note", "message": "请写明理由（2 到 300 个字）。"}]
    await call(api, "POST", f"{DUTY}/claims/{claim_id}/reject", 422, json={"note": "x" * 301})
    await call(api, "POST", f"{DUTY}/claims/{claim_id}/reject", 422, json={"reason": "没有发言记录"})
    rejected = await call(api, "POST", f"{DUTY}/claims/{claim_id}/reject", json={"note": " 会议记录中没有这次发言 "})
    assert rejected["status"] == "rejected" and rejected["decision_note"] == "会议记录中没有这次发言"
    assert rejected["notified"] is True and rejected["label"] == "大会发言" and rejected["points"] == 5
    (told,) = await deliveries(db, f"duty-claim:{claim_id}:")
    assert told.payload["text"] == ("您补录的“大会发言”（2026-10-09）未通过核实。\n原因：会议记录中没有这次发言\n"
                                    "如有疑问，请联系联络组秘书。")
    body = await call(api, "GET", f"{DUTY}/2026/members/{org.li.id}")
    assert body["score"]["total"] == 33.0
    assert next(e for e in body["entries"] if e["ref"] == f"claim#{claim_id}")["status"] == "rejected"


# --- appeals -------------------------------------------------------------------------------------------------


async def test_an_appeal_upheld_with_points(api: TestClient, db: Database, data: Ledger) -> None:
    org = data.org
    appeal_id = await appeal_on(db, org.chen.id or 0, "plenary_absent", "当天在市里开会，已向秘书处口头请假")
    member = await call(api, "GET", f"{DUTY}/2026/members/{org.chen.id}")
    assert next(e for e in member["entries"] if e["kind"] == "plenary_absent")["open_appeal_id"] == appeal_id

    listed = await call(api, "GET", f"{DUTY}/appeals?status=open")
    assert listed["total"] == 1
    (appeal,) = listed["items"]
    assert appeal["entry"]["kind"] == "plenary_absent" and appeal["entry"]["label"] == "全体会议（缺席）"
    assert appeal["entry"]["ref"].startswith("attendance#") and appeal["entry"]["title"] == "六届五次全会"
    assert (appeal["entry"]["points"], appeal["entry"]["points_now"]) == (-50.0, -50.0)
    assert appeal["status"] == "open" and appeal["reason"] == "当天在市里开会，已向秘书处口头请假"

    refused = await call(api, "POST", f"{DUTY}/appeals/{appeal_id}/decide", 422,
                         json={"upheld": False, "answer": "核实无误", "points": 10})
    assert refused["fields"][0]["field"] == "points" and refused["message"] == "驳回申诉时不能同时调整分值。"
    assert (await call(api, "POST", f"{DUTY}/appeals/{appeal_id}/decide", 422,
                       json={"upheld": True, "answer": "好"}))["fields"][0]["field"] == "answer"
    await call(api, "POST", f"{DUTY}/appeals/{appeal_id}/decide", 422, json={"answer": "核实无误"})  # upheld missing
    await call(api, "POST", f"{DUTY}/appeals/{appeal_id}/decide", 422,
               json={"upheld": True, "answer": "核实无误", "points": ADJUSTMENT_MAX + 1})

    decided = await call(api, "POST", f"{DUTY}/appeals/{appeal_id}/decide",
                         json={"upheld": True, "answer": "经核实已口头请假，按请假计", "points": 20})
    assert decided["status"] == "upheld" and decided["answer"] == "经核实已口头请假，按请假计"
    assert decided["notified"] is True and decided["adjustment"]["points"] == 20.0
    assert decided["adjustment"]["appeal_id"] == appeal_id and decided["adjustment"]["by"] is None
    (told,) = await deliveries(db, f"duty-appeal:{appeal_id}")
    assert told.recipient == "sim-chen" and told.payload["text"] == (
        "您对“六届五次全会”的申诉已处理，记录已更正。\n答复：经核实已口头请假，按请假计\n积分调整：+20 分")
    member = await call(api, "GET", f"{DUTY}/2026/members/{org.chen.id}")
    assert member["score"]["total"] == 17.0  # −3 + 20, at once
    assert next(e for e in member["entries"] if e["kind"] == "plenary_absent")["open_appeal_id"] is None
    assert (await call(api, "GET", f"{DUTY}/appeals?status=open"))["total"] == 0
    assert (await call(api, "POST", f"{DUTY}/appeals/{appeal_id}/decide", 409,
                       json={"upheld": False, "answer": "再次处理"}))["error"] == "already_decided"
    assert (await call(api, "POST", f"{DUTY}/appeals/9999/decide", 404,
                       json={"upheld": False, "answer": "再次处理"}))["error"] == "not_found"


async def test_an_appeal_dismissed(api: TestClient, db: Database, data: Ledger) -> None:
    org = data.org
    appeal_id = await appeal_on(db, org.zhou.id or 0, "inspection_absent", "那天生病了")
    decided = await call(api, "POST", f"{DUTY}/appeals/{appeal_id}/decide",
                         json={"upheld": False, "answer": "未提交请假申请，维持缺席记录"})
    assert decided["status"] == "dismissed" and decided["adjustment"] is None and decided["notified"] is True
    (told,) = await deliveries(db, f"duty-appeal:{appeal_id}")
    assert told.payload["text"] == ("您对“城关镇农贸市场调研”的申诉已处理，维持原记录。\n"
                                    "答复：未提交请假申请，维持缺席记录")
    assert (await call(api, "GET", f"{DUTY}/2026/members/{org.zhou.id}"))["score"]["total"] == 55.0
    listed = await call(api, "GET", f"{DUTY}/appeals?member_id={org.zhou.id}&year=2026")
    assert [a["status"] for a in listed["items"]] == ["dismissed"]


# --- adjustments ---------------------------------------------------------------------------------------------


async def test_adjustments(api: TestClient, db: Database, data: Ledger) -> None:
    li = data.org.li
    created = await call(api, "POST", f"{DUTY}/adjustments", 201,
                         json={"member_id": li.id, "year": 2026, "points": -2.5, "reason": "未按时提交年度履职报告"})
    assert created["points"] == -2.5 and created["member"] == {"id": li.id, "name": "李强"}
    assert created["notified"] is True and created["by"] is None and created["at"] == "2026-11-21T01:00:00+00:00"
    (told,) = await deliveries(db, f"duty-adjustment:{created['id']}")
    assert told.payload["text"] == "秘书处调整了您 2026 年的履职积分：-2.5 分。\n理由：未按时提交年度履职报告"
    assert (await call(api, "GET", f"{DUTY}/2026/members/{li.id}"))["score"]["total"] == 30.5

    listed = await call(api, "GET", f"{DUTY}/adjustments?member_id={li.id}")
    assert [a["points"] for a in listed["items"]] == [3.0, -2.5] and listed["total"] == 2
    assert (await call(api, "GET", f"{DUTY}/adjustments?year=2025"))["total"] == 0
    assert (await call(api, "GET", f"{DUTY}/adjustments?per_page=1&page=2"))["items"][0]["id"] == created["id"]

    # 吴静 has no chat identity: adjusted, nobody to tell
    wu = await call(api, "POST", f"{DUTY}/adjustments", 201,
                    json={"member_id": data.org.nobody.id, "year": 2026, "points": 1, "reason": "补记"})
    assert wu["notified"] is False
    by_api = [e for e in await events_of(db, "duty.adjust") if e.channel is Channel.API]
    assert [(e.object_id, e.after) for e in by_api] == [
        (created["id"], {"year": 2026, "points": -2.5}), (wu["id"], {"year": 2026, "points": 1.0})]

    def body(**change: Any) -> dict[str, Any]:
        return {"member_id": li.id, "year": 2026, "points": 2, "reason": "补记发言", **change}

    for change, field in (({"points": 0}, "points"), ({"points": 100.5}, "points"), ({"points": 1.25}, "points"),
                          ({"reason": " "}, "reason"), ({"member_id": 9999}, "member_id"), ({"year": 1999}, "year"),
                          ({"colour": "red"}, "colour")):
        refused = await call(api, "POST", f"{DUTY}/adjustments", 422, json=body(**change))
        assert refused["error"] == "invalid" and refused["fields"][0]["field"] == field, change
    await call(api, "POST", f"{DUTY}/adjustments", 422, data="not json")


# --- rules, auth, the document ------------------------------------------------------------------------------


async def test_rules_of_a_year(api: TestClient) -> None:
    body = await call(api, "GET", f"{DUTY}/rules/2026")
    assert body["name"] == "某县政协委员履职考核（桐城式百分制）" and body["from_year"] == 2026
    assert body["terms"] == {"第五届": [2017, 2021], "第六届": [2022, 2026]}
    assert body["digest"] == RULES.for_year(2026).digest
    rules = body["rules"]
    assert rules["pass_mark"] == 60 and rules["categories"]["plenary"] == {"label": "全体会议", "cap": 50,
                                                                         "floor": None, "penalty": False}
    assert rules["duties"]["report_adopted"]["by_level"] == {"county": 5, "city": 5, "provincial": 5, "national": 5}
    assert rules["five_one"][0] == {"name": "一件提案", "kinds": ["proposal", "proposal_filed", "proposal_cosigned"],
                                    "need": 1}
    assert (await call(api, "GET", f"{DUTY}/rules/2024"))["from_year"] == 2022
    assert (await call(api, "GET", f"{DUTY}/rules/2030"))["from_year"] == 2026
    assert (await call(api, "GET", f"{DUTY}/rules/2010"))["from_year"] == 2022  # before every entry: the first
    await call(api, "GET", f"{DUTY}/rules/1900", 422)


async def test_every_duty_endpoint_needs_the_token(api: TestClient) -> None:
    paths = [("GET", "/2026/members/1"), ("GET", "/2026/members"), ("GET", "/2026/rankings"), ("GET", "/2026/groups"),
             ("POST", "/2026/rebuild"), ("GET", "/claims"), ("POST", "/claims/1/verify"), ("POST", "/claims/1/reject"),
             ("GET", "/appeals"), ("POST", "/appeals/1/decide"), ("GET", "/adjustments"), ("POST", "/adjustments"),
             ("GET", "/rules/2026")]
    for method, path in paths:
        response = await api.request(method, f"{DUTY}{path}")
        assert response.status == 401, (method, path)
        response = await api.request(method, f"{DUTY}{path}", headers={"Authorization": "Bearer wrong"})
        assert response.status == 401, (method, path)
    documented = {(path, method) for path, item in (await (await api.get(f"{API_PREFIX}/openapi.json")).json())[
        "paths"].items() for method in item if path.startswith("/duty") and method != "parameters"}
    assert len(documented) == len(paths)  # tests/test_api_members.py checks they are the routes served
