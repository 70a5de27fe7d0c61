"""/api/v1/activities, /api/v1/attendance and /api/v1/leave over HTTP, on SQLite and PostgreSQL.

The clock stands at 2026-11-21 09:00 in Shanghai (01:00 UTC); "tomorrow" below is 2026-11-22.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api import API_PREFIX
from bot.domain.activities import CLOSE_TASK, request_leave, sign_in
from bot.domain.links import screen_payload
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.infra.services import SERVICES_KEY
from models.activity import Activity, AttendanceStatus, LeaveKind, SignInMethod
from models.audit import Channel
from models.delivery import Delivery
from models.member import Committee, Member, Sector
from models.scheduling import ScheduledTask, TaskStatus
from tests.activity_support import Org, T, attendance_rows
from tests.attendance_support import build_year
from tests.audit_support import events_of, only_event
from tests.support import SchedulerStub, call

ACTIVITIES = f"{API_PREFIX}/activities"
TOMORROW = "2026-11-22T09:00:00+08:00"




async def create(api: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"type": "inspection", "title": "城关镇农贸市场调研", "starts_at": TOMORROW, **fields}
    return await call(api, "POST", ACTIVITIES, 201, json=body)


async def close_task(db: Database, activity_id: int) -> ScheduledTask:
    async with db.reader() as session:
        task = await session.scalar(select(ScheduledTask).where(
            ScheduledTask.kind == CLOSE_TASK, ScheduledTask.ref == str(activity_id)))
    assert task is not None
    return task


async def sign(db: Database, activity_id: int, member: Member, now: datetime) -> None:
    async with db.session() as session:
        activity, fresh = await session.get(Activity, activity_id), await session.get(Member, member.id)
        assert activity is not None and fresh is not None
        result = await sign_in(session, fresh, activity, method=SignInMethod.CODE, now=now, code_checked=True)
        assert result.recorded, result.outcome


async def ask_leave(db: Database, activity_id: int, member: Member, now: datetime) -> int:
    async with db.session() as session:
        activity, fresh = await session.get(Activity, activity_id), await session.get(Member, member.id)
        assert activity is not None and fresh is not None
        leave = await request_leave(session, fresh, activity, kind=LeaveKind.PERSONAL, reason="外出开会",
                                    now=now, texts=T)
        return leave.id or 0


# --- create ------------------------------------------------------------------------------------------------

async def test_create_stores_the_activity_its_window_and_its_close_task(
    api: TestClient, db: Database, org: Org, scheduler: SchedulerStub
) -> None:
    body = await create(
        api, type="plenary", title=" 第六届二次全会 ", ends_at="2026-11-22T12:00:00+08:00", venue="县会议中心",
        description="请提前十五分钟到场", geofence={"latitude": 30.2741, "longitude": 120.1551, "radius_m": 300},
        require_location=True, audience={"kind": "groups", "ids": [org.chengguan]}, group_id=org.chengguan,
        opens_minutes_before=30, closes_minutes_after=45, late_after_minutes=5,
    )
    assert body["title"] == "第六届二次全会" and body["type"] == "plenary" and body["status"] == "scheduled"
    assert body["starts_at"] == "2026-11-22T01:00:00+00:00" and body["ends_at"] == "2026-11-22T04:00:00+00:00"
    assert body["signin_opens_at"] == "2026-11-22T00:30:00+00:00"
    assert body["signin_closes_at"] == "2026-11-22T01:45:00+00:00"
    assert body["late_after"] == "2026-11-22T01:05:00+00:00"
    assert (body["opens_minutes_before"], body["closes_minutes_after"], body["late_after_minutes"]) == (30, 45, 5)
    assert body["geofence"] == {"latitude": 30.2741, "longitude": 120.1551, "radius_m": 300}
    assert body["require_location"] is True and body["venue"] == "县会议中心"
    assert body["audience"] == {"kind": "groups", "ids": [org.chengguan]}
    assert body["group"] == {"id": org.chengguan, "name": "城关镇"}
    # 城关镇's active members: 王芳, 周涛, 陈组长
    assert body["tally"] == {"expected": 3, "present": 0, "late": 0, "leave": 0, "absent": 0, "attended": 0,
                             "rate": 0.0}
    assert body["screen_url"].startswith(f"http://127.0.0.1:8080/activities/{body['id']}/screen?t=")
    task = await close_task(db, body["id"])
    assert task.run_at == datetime(2026, 11, 22, 1, 45, tzinfo=UTC) and task.status is TaskStatus.PENDING
    assert scheduler.syncs == 1  # armed at once, not at the next resync
    created = await only_event(db, "activity.create", channel=Channel.API, actor_label="api-token",
                               object_type="activity", object_id=body["id"], group_id=org.chengguan)
    assert created.after is not None and created.after["title"] == "第六届二次全会"


async def test_create_with_defaults(api: TestClient, org: Org) -> None:
    body = await create(api)
    # config defaults: opens 60 before, closes 60 after, late after 10; 120 minutes long; the whole committee
    assert body["ends_at"] == "2026-11-22T03:00:00+00:00" and body["signin_opens_at"] == "2026-11-22T00:00:00+00:00"
    assert (body["opens_minutes_before"], body["closes_minutes_after"], body["late_after_minutes"]) == (60, 60, 10)
    assert body["audience"] == {"kind": "all", "ids": []} and body["group"] is None and body["geofence"] is None
    assert body["tally"]["expected"] == 7  # every active member (赵敏 is suspended)


async def test_each_audience_kind_expects_its_members(api: TestClient, db: Database, org: Org) -> None:
    async with db.session() as session:
        sector, committee = Sector(name="教育界"), Committee(name="提案委员会")
        session.add_all([sector, committee])
        await session.flush()
        for member_id in (org.wang.id, org.li.id):
            member = await session.get(Member, member_id)
            assert member is not None
            member.sector_id = sector.id
        chen = await session.get(Member, org.chen.id)
        assert chen is not None
        chen.committee_id = committee.id
        sector_id, committee_id = sector.id, committee.id
    cases = [
        ({"kind": "all", "ids": [org.wang.id]}, 7, []),  # "all" takes no ids
        ({"kind": "groups", "ids": [org.dongshan]}, 2, [org.dongshan]),  # 李强, 吴静 (赵敏 suspended)
        ({"kind": "sectors", "ids": [sector_id]}, 2, [sector_id]),
        ({"kind": "committees", "ids": [committee_id]}, 1, [committee_id]),
        ({"kind": "members", "ids": [org.li.id, org.wang.id, org.wang.id]}, 2, sorted([org.wang.id, org.li.id])),
    ]
    for audience, expected, stored in cases:
        body = await create(api, audience=audience)
        assert body["tally"]["expected"] == expected, audience
        assert body["audience"] == {"kind": audience["kind"], "ids": stored}, audience


async def test_create_refuses_what_the_rules_refuse(api: TestClient, org: Org) -> None:
    def rule(key: str, **values: Any) -> str:
        return T(key, **values)

    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"title": "  "}, "title", rule("activity.error.title", max=100)),
        ({"title": "长" * 101}, "title", rule("activity.error.title", max=100)),
        ({"venue": "址" * 201}, "venue", rule("activity.error.venue", max=200)),
        ({"ends_at": "2026-11-22T08:00:00+08:00"}, "ends_at", rule("activity.error.ends_before_start")),
        ({"geofence": {"latitude": 95, "longitude": 120, "radius_m": 300}}, "geofence",
         rule("activity.error.geofence_range")),
        ({"geofence": {"latitude": 30, "longitude": 120, "radius_m": 5}}, "geofence.radius_m",
         rule("activity.error.radius")),
        ({"require_location": True}, "require_location", rule("activity.error.location_needs_geofence")),
        ({"audience": {"kind": "groups", "ids": []}}, "audience.ids", rule("activity.error.audience_empty")),
        ({"audience": {"kind": "members", "ids": [org.wang.id, 9999]}}, "audience.ids",
         rule("activity.error.unknown_members")),
        ({"closes_minutes_after": 20, "late_after_minutes": 30}, "late_after_minutes",
         rule("activity.error.late_after_close")),
        ({"audience": {"kind": "groups", "ids": [9999]}}, "audience.ids", "unknown groups: [9999]"),
        ({"group_id": 9999}, "group_id", "unknown liaison group 9999"),
        # the shape of the body
        ({"starts_at": "2026-11-22T09:00:00"}, "starts_at", None),  # no offset: refused, not guessed
        ({"ends_at": "2026-11-22T11:00:00"}, "ends_at", None),
        ({"type": "party"}, "type", None),
        ({"title": None}, "title", None),
        ({"opens_minutes_before": -1}, "opens_minutes_before", None),
        ({"audience": {"kind": "everyone"}}, "audience.kind", None),
        ({"colour": "red"}, "colour", None),
    ]
    for change, field, message in cases:
        body = {"type": "inspection", "title": "调研", "starts_at": TOMORROW, **change}
        answer = await call(api, "POST", ACTIVITIES, 422, json=body)
        assert answer["error"] == "invalid", change
        assert [f["field"] for f in answer["fields"]] == [field], (change, answer)
        if message is not None:
            assert answer["message"] == message and answer["fields"][0]["message"] == message, (change, answer)
    for broken in ("[]", "not json"):
        answer = await call(api, "POST", ACTIVITIES, 422, data=broken, headers={"Content-Type": "application/json"})
        assert answer["error"] == "invalid"
    answer = await call(api, "POST", ACTIVITIES, 422, json={"title": "调研"})
    assert {f["field"] for f in answer["fields"]} == {"type", "starts_at"}
    assert (await call(api, "GET", ACTIVITIES))["total"] == 0  # nothing was stored


async def test_unknown_ids_and_no_token(api: TestClient, org: Org) -> None:
    activity = await create(api)
    for path in (f"{ACTIVITIES}/9999", f"{ACTIVITIES}/abc", f"{ACTIVITIES}/9999/attendance",
                 f"{ACTIVITIES}/{activity['id']}/attendance/9999/history", f"{ACTIVITIES}/9999/screen-link"):
        assert (await call(api, "GET", path, 404))["error"] == "not_found", path
    assert (await call(api, "POST", f"{API_PREFIX}/leave/9999/approve", 404))["error"] == "not_found"
    assert (await call(api, "POST", f"{ACTIVITIES}/9999/close", 404))["error"] == "not_found"
    for method, path in (("GET", ACTIVITIES), ("POST", ACTIVITIES), ("GET", f"{API_PREFIX}/attendance?year=2026"),
                         ("GET", f"{API_PREFIX}/leave"), ("PATCH", f"{ACTIVITIES}/{activity['id']}")):
        response = await api.request(method, path)
        assert response.status == 401, (method, path)


# --- list and read ---------------------------------------------------------------------------------------

async def test_list_filters_and_pages(api: TestClient, org: Org) -> None:
    march = await create(api, type="plenary", starts_at="2026-03-01T09:00:00+08:00")
    june = await create(api, starts_at="2026-06-10T09:00:00+08:00", group_id=org.chengguan,
                        audience={"kind": "groups", "ids": [org.chengguan]})
    tomorrow = await create(api, type="study")
    later = await create(api, starts_at="2026-12-01T09:00:00+08:00")
    await call(api, "POST", f"{ACTIVITIES}/{later['id']}/cancel")

    async def ids(query: str) -> list[int]:
        return [item["id"] for item in (await call(api, "GET", f"{ACTIVITIES}?{query}"))["items"]]

    assert await ids("") == [march["id"], june["id"], tomorrow["id"], later["id"]]  # by start
    assert await ids("from=2026-06-01T00:00:00%2B08:00") == [june["id"], tomorrow["id"], later["id"]]
    assert await ids("from=2026-06-01T00:00:00Z&to=2026-11-22T09:00:00%2B08:00") == [june["id"]]
    assert await ids("status=cancelled") == [later["id"]]
    assert await ids("status=scheduled&type=inspection") == [june["id"]]
    assert await ids("type=plenary") == [march["id"]]
    assert await ids(f"group_id={org.chengguan}") == [june["id"]]
    assert await ids("per_page=2&page=2") == [tomorrow["id"], later["id"]]
    page = await call(api, "GET", f"{ACTIVITIES}?per_page=1")
    assert page["total"] == 4 and page["per_page"] == 1 and page["items"][0]["tally"]["expected"] == 7
    for query in ("from=2026-06-01T00:00:00", "status=lost", "type=party", "page=0", "per_page=500", "colour=red"):
        assert (await call(api, "GET", f"{ACTIVITIES}?{query}", 422))["error"] == "invalid", query


async def test_detail_has_the_tally_and_the_screen_link(
    api: TestClient, db: Database, org: Org, clock: FrozenClock
) -> None:
    activity = await create(api, starts_at="2026-11-21T09:30:00+08:00")  # sign-in open since 08:30
    await sign(db, activity["id"], org.wang, clock.now())
    body = await call(api, "GET", f"{ACTIVITIES}/{activity['id']}")
    assert body["tally"] == {"expected": 7, "present": 1, "late": 0, "leave": 0, "absent": 0, "attended": 1,
                             "rate": round(1 / 7, 4)}
    link = await call(api, "GET", f"{ACTIVITIES}/{activity['id']}/screen-link")
    assert link["url"] == body["screen_url"]
    assert link["expires_at"] == "2026-11-22T02:30:00+00:00"  # a day after the sign-in closes
    token = parse_qs(urlsplit(link["url"]).query)["t"][0]
    signer = await api.app[SERVICES_KEY].signer()  # type: ignore[index]
    assert signer.unsign(token, clock.now()) == screen_payload(activity["id"])  # a genuine link to this screen
    clock.set(datetime(2026, 11, 22, 2, 31, tzinfo=UTC))
    assert (await call(api, "GET", f"{ACTIVITIES}/{activity['id']}"))["screen_url"] is None
    assert (await call(api, "GET", f"{ACTIVITIES}/{activity['id']}/screen-link", 409))["error"] == "screen_expired"


# --- change, cancel ------------------------------------------------------------------------------------------

async def test_patch_moves_the_window_and_the_close_task(
    api: TestClient, db: Database, org: Org, scheduler: SchedulerStub
) -> None:
    activity = await create(api, ends_at="2026-11-22T11:00:00+08:00", closes_minutes_after=30,
                            geofence={"latitude": 30.27, "longitude": 120.15, "radius_m": 200})
    path = f"{ACTIVITIES}/{activity['id']}"
    moved = await call(api, "PATCH", path, json={"starts_at": "2026-11-23T14:00:00+08:00"})
    assert moved["starts_at"] == "2026-11-23T06:00:00+00:00"
    assert moved["ends_at"] == "2026-11-23T08:00:00+00:00"  # the two hours moved along
    assert moved["signin_opens_at"] == "2026-11-23T05:00:00+00:00"
    assert moved["signin_closes_at"] == "2026-11-23T06:30:00+00:00"  # the override of 30 minutes is kept
    assert (moved["title"], moved["venue"], moved["geofence"]["radius_m"]) == ("城关镇农贸市场调研", "", 200)
    task = await close_task(db, activity["id"])
    assert task.run_at == datetime(2026, 11, 23, 6, 30, tzinfo=UTC) and task.status is TaskStatus.PENDING
    assert scheduler.syncs == 2

    changed = await call(api, "PATCH", path, json={
        "venue": "县政协三楼", "geofence": None, "audience": {"kind": "members", "ids": [org.li.id]},
        "closes_minutes_after": None, "group_id": org.dongshan})
    assert changed["venue"] == "县政协三楼" and changed["geofence"] is None and changed["group"]["name"] == "东山镇"
    assert changed["signin_closes_at"] == "2026-11-23T07:00:00+00:00"  # null: back to the default 60
    assert changed["tally"]["expected"] == 1
    assert (await close_task(db, activity["id"])).run_at == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    moves = await events_of(db, "activity.reschedule")  # each change with only what it changed
    assert [(e.channel, e.object_id) for e in moves] == [(Channel.API, activity["id"])] * 2
    assert set(moves[0].after or {}) == {"starts_at", "ends_at"}
    assert moves[1].before == {"venue": "", "audience": "all", "audience_ids": [], "group_id": None}
    assert moves[1].after == {"venue": "县政协三楼", "audience": "members", "audience_ids": [org.li.id],
                              "group_id": org.dongshan}

    refusals: list[tuple[dict[str, Any], str]] = [
        ({}, "body"),
        ({"title": None}, "body"),
        ({"starts_at": "2026-11-23T15:00:00"}, "starts_at"),
        ({"ends_at": "2026-11-23T13:00:00+08:00"}, "ends_at"),
        ({"closes_minutes_after": 5}, "late_after_minutes"),  # the late mark (10) would be after the close
        ({"require_location": True}, "require_location"),
    ]
    for change, field in refusals:
        answer = await call(api, "PATCH", path, 422, json=change)
        assert [f["field"] for f in answer["fields"]] == [field], (change, answer)
    assert (await call(api, "GET", path))["venue"] == "县政协三楼"  # nothing of the refusals was kept
    assert (await call(api, "PATCH", f"{ACTIVITIES}/9999", 404, json={"venue": "x"}))["error"] == "not_found"


async def test_cancel(api: TestClient, db: Database, org: Org, scheduler: SchedulerStub) -> None:
    activity = await create(api)
    path = f"{ACTIVITIES}/{activity['id']}"
    body = await call(api, "POST", f"{path}/cancel")
    assert body["status"] == "cancelled"
    assert (await close_task(db, activity["id"])).status is TaskStatus.CANCELLED
    assert scheduler.syncs == 2
    again = await call(api, "POST", f"{path}/cancel", 409)
    assert again == {"error": "not_scheduled", "message": T("activity.error.not_scheduled")}
    await only_event(db, "activity.cancel", channel=Channel.API, object_id=activity["id"],
                     before={"status": "scheduled"}, after={"status": "cancelled"})
    assert (await call(api, "PATCH", path, 409, json={"venue": "x"}))["error"] == "not_scheduled"
    assert (await call(api, "POST", f"{path}/close", 409))["error"] == "not_scheduled"


# --- attendance of one activity --------------------------------------------------------------------------------

async def test_attendance_before_and_after_the_close(
    api: TestClient, db: Database, org: Org, clock: FrozenClock, scheduler: SchedulerStub
) -> None:
    activity = await create(api, starts_at="2026-11-21T09:30:00+08:00")  # window 08:30–10:30, late after 09:40
    path = f"{ACTIVITIES}/{activity['id']}"
    await sign(db, activity["id"], org.wang, clock.now())
    li_leave = await ask_leave(db, activity["id"], org.li, clock.now())
    zhou_leave = await ask_leave(db, activity["id"], org.zhou, clock.now())
    await call(api, "POST", f"{API_PREFIX}/leave/{li_leave}/approve", json={})
    clock.advance(minutes=45)  # 09:45: late
    await sign(db, activity["id"], org.zhou, clock.now())  # 周涛 came after all (his request stays pending)

    before = await call(api, "GET", f"{path}/attendance")
    by_name = {item["member"]["name"]: item for item in before["items"]}
    assert {name: item["status"] for name, item in by_name.items()} == {
        "王芳": "present", "周涛": "late", "陈组长": "pending", "李强": "pending", "吴静": "pending",
        "钱秘书": "pending", "孙秘书": "pending"}
    assert by_name["王芳"]["method"] == "code" and by_name["王芳"]["signed_in_at"] == "2026-11-21T01:00:00+00:00"
    assert by_name["李强"]["leave_id"] == li_leave
    assert by_name["李强"]["leave"] == {"id": li_leave, "kind": "personal", "status": "approved"}
    assert by_name["周涛"]["leave"] == {"id": zhou_leave, "kind": "personal", "status": "pending"}
    assert by_name["陈组长"]["leave"] is None and by_name["陈组长"]["method"] is None
    assert before["tally"] == {"expected": 7, "present": 1, "late": 1, "leave": 0, "absent": 0, "attended": 2,
                               "rate": round(2 / 7, 4)}
    groups = {(g["group"] or {}).get("name"): g for g in before["groups"]}
    assert groups["城关镇"]["pending"] == 1 and groups["城关镇"]["present"] == 1 and groups["城关镇"]["late"] == 1
    assert groups[None]["pending"] == 2 and groups["东山镇"]["expected"] == 2

    closed = await call(api, "POST", f"{path}/close")
    assert closed["closed_now"] is True and closed["status"] == "closed"
    assert closed["closed_at"] == "2026-11-21T01:45:00+00:00"
    assert (await close_task(db, activity["id"])).status is TaskStatus.CANCELLED  # nothing left for it to do
    # audience − signed in − approved leave = absent
    rows = await attendance_rows(db, activity["id"])
    assert {member_id: row.status for member_id, row in rows.items()} == {
        org.wang.id: AttendanceStatus.PRESENT, org.zhou.id: AttendanceStatus.LATE,
        org.li.id: AttendanceStatus.LEAVE, org.chen.id: AttendanceStatus.ABSENT,
        org.nobody.id: AttendanceStatus.ABSENT, org.qian.id: AttendanceStatus.ABSENT,
        org.sun.id: AttendanceStatus.ABSENT}
    after = await call(api, "GET", f"{path}/attendance")
    assert after["activity"]["status"] == "closed"
    assert after["tally"] == {"expected": 7, "present": 1, "late": 1, "leave": 1, "absent": 4, "attended": 2,
                              "rate": round(2 / 6, 4)}
    assert [(g["group"], g["expected"], g["absent"], g["rate"]) for g in after["groups"]] == [
        ({"id": org.chengguan, "name": "城关镇"}, 3, 1, round(2 / 3, 4)),
        ({"id": org.dongshan, "name": "东山镇"}, 2, 1, 0.0),
        (None, 2, 2, 0.0),
    ]
    assert all("pending" not in g for g in after["groups"])
    li = next(item for item in after["items"] if item["member"]["id"] == org.li.id)
    assert (li["status"], li["method"], li["leave_id"]) == ("leave", "close", li_leave)
    again = await call(api, "POST", f"{path}/close")
    assert again["closed_now"] is False and again["closed_at"] == closed["closed_at"]
    assert scheduler.syncs == 2  # the create, the first close


async def test_close_is_refused_before_the_window_opens(api: TestClient, org: Org) -> None:
    activity = await create(api)  # tomorrow: opens 2026-11-22 08:00
    answer = await call(api, "POST", f"{ACTIVITIES}/{activity['id']}/close", 409)
    assert answer["error"] == "not_open"
    assert (await call(api, "GET", f"{ACTIVITIES}/{activity['id']}"))["status"] == "scheduled"


async def test_correction_with_reason_and_history(
    api: TestClient, db: Database, org: Org, clock: FrozenClock
) -> None:
    activity = await create(api, starts_at="2026-11-21T09:30:00+08:00")
    path = f"{ACTIVITIES}/{activity['id']}"
    await call(api, "POST", f"{path}/close")
    clock.advance(minutes=10)
    corrected = await call(api, "PUT", f"{path}/attendance/{org.chen.id}",
                           json={"status": "present", "reason": "会后核实：在主席台就座，未扫码"})
    assert corrected["attendance"]["status"] == "present"
    assert corrected["attendance"]["signed_in_at"] == "2026-11-21T01:10:00+00:00"
    assert corrected["corrections"] == [{"from": "absent", "to": "present", "reason": "会后核实：在主席台就座，未扫码",
                                         "by": None, "by_id": None, "at": "2026-11-21T01:10:00+00:00"}]

    reason = T("attendance.error.reason", min=2, max=300)
    for body in ({"status": "leave", "reason": " "}, {"status": "leave", "reason": "病"}):
        answer = await call(api, "PUT", f"{path}/attendance/{org.chen.id}", 422, json=body)
        assert answer["message"] == reason and answer["fields"] == [{"field": "reason", "message": reason}]
    answer = await call(api, "PUT", f"{path}/attendance/{org.chen.id}", 422, json={"status": "leave"})
    assert answer["fields"][0]["field"] == "reason"
    answer = await call(api, "PUT", f"{path}/attendance/{org.chen.id}", 422, json={"status": "gone", "reason": "xx"})
    assert answer["fields"][0]["field"] == "status"
    unchanged = await call(api, "PUT", f"{path}/attendance/{org.chen.id}", 409,
                           json={"status": "present", "reason": "再核实一次"})
    assert unchanged == {"error": "unchanged", "message": T("attendance.error.unchanged")}
    missing = await call(api, "PUT", f"{path}/attendance/9999", 404, json={"status": "leave", "reason": "病假"})
    assert missing["error"] == "not_found"

    clock.advance(minutes=5)
    await call(api, "PUT", f"{path}/attendance/{org.chen.id}", json={"status": "leave", "reason": "补交病假条"})
    history = await call(api, "GET", f"{path}/attendance/{org.chen.id}/history")
    assert history["member"] == {"id": org.chen.id, "name": "陈组长"}
    assert history["attendance"]["status"] == "leave"
    assert [(c["from"], c["to"], c["reason"]) for c in history["corrections"]] == [
        ("absent", "present", "会后核实：在主席台就座，未扫码"), ("present", "leave", "补交病假条")]
    untouched = await call(api, "GET", f"{path}/attendance/{org.wang.id}/history")
    assert untouched["attendance"]["status"] == "absent" and untouched["corrections"] == []
    sheet = await call(api, "GET", f"{path}/attendance")
    chen = next(item for item in sheet["items"] if item["member"]["id"] == org.chen.id)
    assert chen["corrected"] is True and chen["status"] == "leave"
    corrections = await events_of(db, "attendance.correct")  # the refused ones left nothing
    assert [(e.channel, e.group_id, e.before, e.after) for e in corrections] == [
        (Channel.API, org.chengguan, {"status": "absent"}, {"status": "present"}),
        (Channel.API, org.chengguan, {"status": "present"}, {"status": "leave"})]


# --- a year ----------------------------------------------------------------------------------------------------

def _counts(entry: dict[str, Any]) -> tuple[int, ...]:
    return tuple(entry[key] for key in ("expected", "present", "late", "leave", "absent"))


async def test_year_per_member_and_per_group(api: TestClient, db: Database, org: Org) -> None:
    await build_year(db, org)
    body = await call(api, "GET", f"{API_PREFIX}/attendance?year=2026")
    assert body["year"] == 2026 and body["timezone"] == "Asia/Shanghai"
    assert body["activities"] == 3  # study (1 January local), plenary, inspection; not the cancelled or open ones
    members = {m["member"]["name"]: m for m in body["members"]}
    assert list(members) == ["王芳", "周涛", "陈组长", "李强", "吴静", "钱秘书", "孙秘书"]  # by group, then id
    assert {name: _counts(m) for name, m in members.items()} == {
        "王芳": (3, 3, 0, 0, 0), "周涛": (2, 0, 1, 0, 1), "陈组长": (2, 1, 0, 0, 1), "李强": (2, 0, 0, 1, 1),
        "吴静": (1, 0, 0, 0, 1), "钱秘书": (1, 1, 0, 0, 0), "孙秘书": (1, 1, 0, 0, 0)}
    assert members["周涛"]["rate"] == 0.5 and members["李强"]["rate"] == 0.0 and members["王芳"]["rate"] == 1.0
    assert members["王芳"]["group"] == {"id": org.chengguan, "name": "城关镇"} and members["钱秘书"]["group"] is None
    assert {t: _counts(c) for t, c in members["王芳"]["by_type"].items()} == {
        "inspection": (1, 1, 0, 0, 0), "plenary": (1, 1, 0, 0, 0), "study": (1, 1, 0, 0, 0)}
    assert {t: _counts(c) for t, c in members["周涛"]["by_type"].items()} == {
        "inspection": (1, 0, 0, 0, 1), "plenary": (1, 0, 1, 0, 0)}
    groups = [((g["group"] or {}).get("name"), g["members"], _counts(g), g["rate"]) for g in body["groups"]]
    assert groups == [
        ("城关镇", 3, (7, 4, 1, 0, 2), round(5 / 7, 4)),
        ("东山镇", 2, (3, 0, 0, 1, 2), 0.0),
        (None, 2, (2, 2, 0, 0, 0), 1.0),
    ]
    assert _counts(body["totals"]) == (12, 6, 1, 1, 4) and body["totals"]["rate"] == round(7 / 11, 4)

    dongshan = await call(api, "GET", f"{API_PREFIX}/attendance?year=2026&group_id={org.dongshan}")
    assert [m["member"]["name"] for m in dongshan["members"]] == ["李强", "吴静"]
    assert [(g["group"]["name"], _counts(g)) for g in dongshan["groups"]] == [("东山镇", (3, 0, 0, 1, 2))]
    assert dongshan["activities"] == 2  # the study and the plenary had 东山镇 members
    wang = await call(api, "GET", f"{API_PREFIX}/attendance?year=2026&member_id={org.wang.id}")
    assert [m["member"]["name"] for m in wang["members"]] == ["王芳"] and _counts(wang["totals"]) == (3, 3, 0, 0, 0)
    previous = await call(api, "GET", f"{API_PREFIX}/attendance?year=2025")
    assert previous["activities"] == 1 and _counts(previous["totals"]) == (7, 0, 0, 0, 7)  # the briefing
    empty = await call(api, "GET", f"{API_PREFIX}/attendance?year=2024")
    assert empty["members"] == [] and empty["groups"] == [] and empty["totals"]["rate"] == 0.0
    for query in ("", "year=abc", "year=1999", "year=2026&group_id=0", "year=2026&colour=red"):
        assert (await call(api, "GET", f"{API_PREFIX}/attendance?{query}", 422))["error"] == "invalid", query


# --- leave ------------------------------------------------------------------------------------------------------

async def test_leave_list_approve_deny(api: TestClient, db: Database, org: Org, clock: FrozenClock) -> None:
    activity = await create(api, type="plenary")
    other = await create(api, title="走访困难群众", type="visit")
    li = await ask_leave(db, activity["id"], org.li, clock.now())
    zhou = await ask_leave(db, activity["id"], org.zhou, clock.now())
    wang = await ask_leave(db, other["id"], org.wang, clock.now())

    async def ids(query: str) -> list[int]:
        return [item["id"] for item in (await call(api, "GET", f"{API_PREFIX}/leave?{query}"))["items"]]

    assert await ids("") == [li, zhou, wang]
    assert await ids(f"activity_id={activity['id']}") == [li, zhou]
    assert await ids(f"member_id={org.wang.id}") == [wang]
    assert await ids("per_page=1&page=3") == [wang]
    assert (await call(api, "GET", f"{API_PREFIX}/leave?status=lost", 422))["error"] == "invalid"

    approved = await call(api, "POST", f"{API_PREFIX}/leave/{li}/approve", json={"note": "好好休息"})
    assert approved["status"] == "approved" and approved["decision_note"] == "好好休息"
    assert approved["member"] == {"id": org.li.id, "name": "李强"}
    assert approved["activity"]["title"] == "城关镇农贸市场调研"
    assert approved["decided_by"] is None and approved["decided_at"] == "2026-11-21T01:00:00+00:00"
    assert (await call(api, "POST", f"{API_PREFIX}/leave/{wang}/approve"))["status"] == "approved"  # no body

    need = T("leave.error.deny_reason", min=2, max=300)
    for body in ({}, {"note": " "}):
        answer = await call(api, "POST", f"{API_PREFIX}/leave/{zhou}/deny", 422, json=body)
        assert answer["fields"] == [{"field": "note", "message": need}]
    denied = await call(api, "POST", f"{API_PREFIX}/leave/{zhou}/deny", json={"note": "全会不得请事假"})
    assert denied["status"] == "denied" and denied["decision_note"] == "全会不得请事假"

    decided = T("leave.error.decided", status=T("leave.status.denied"))  # the status by its name, as in chat
    assert await call(api, "POST", f"{API_PREFIX}/leave/{zhou}/approve", 409) == {
        "error": "already_decided", "message": decided}
    assert (await call(api, "POST", f"{API_PREFIX}/leave/{li}/deny", 409, json={"note": "改了主意"}))[
        "error"] == "already_decided"
    assert await ids("status=pending") == [] and await ids("status=approved") == [li, wang]

    async with db.reader() as session:
        keys = set((await session.scalars(select(Delivery.idempotency_key))).all())
    assert any(key.startswith(f"leave:{li}:approved") for key in keys)  # the members are told
    assert any(key.startswith(f"leave:{zhou}:denied") for key in keys)
    # One event per decision (none for the refused ones), each in the member's liaison group.
    decisions = await events_of(db, "leave.decide")
    assert [(e.channel, e.actor_label, e.object_id, e.group_id, e.after) for e in decisions] == [
        (Channel.API, "api-token", li, org.dongshan, {"status": "approved"}),
        (Channel.API, "api-token", wang, org.chengguan, {"status": "approved"}),
        (Channel.API, "api-token", zhou, org.chengguan, {"status": "denied"})]


async def test_leave_approved_after_the_close_turns_absence_into_leave(
    api: TestClient, db: Database, org: Org, clock: FrozenClock
) -> None:
    activity = await create(api, starts_at="2026-11-21T09:30:00+08:00")
    leave = await ask_leave(db, activity["id"], org.li, clock.now())
    await call(api, "POST", f"{ACTIVITIES}/{activity['id']}/close")
    path = f"{ACTIVITIES}/{activity['id']}/attendance/{org.li.id}/history"
    assert (await call(api, "GET", path))["attendance"]["status"] == "absent"
    await call(api, "POST", f"{API_PREFIX}/leave/{leave}/approve")
    history = await call(api, "GET", path)
    assert history["attendance"]["status"] == "leave" and history["attendance"]["leave_id"] == leave
    assert [(c["from"], c["to"], c["reason"]) for c in history["corrections"]] == [
        ("absent", "leave", T("attendance.leave_approved_late"))]


async def test_creating_notifies_the_audience_unless_told_not_to(api: TestClient, db: Database, org: Org,
                                                                 scheduler: SchedulerStub) -> None:
    await create(api, audience={"kind": "groups", "ids": [org.chengguan]})
    async with db.reader() as session:
        keys = (await session.scalars(select(Delivery.recipient).where(Delivery.topic.like("notice:%")))).all()  # type: ignore[union-attr]
    assert sorted(keys) == ["sim-chen", "sim-wang", "sim-zhou"]
    quiet = await create(api, notify=False)
    later = await create(api, notice_at="2026-11-21T15:00:00+08:00")
    async with db.reader() as session:
        assert await session.scalar(select(Delivery).where(Delivery.topic == "notice:2")) is None
        tasks = {(t.kind, t.ref): t for t in (await session.scalars(select(ScheduledTask))).all()}
    assert ("notice.send", "2") in tasks and tasks[("notice.send", "2")].run_at == datetime(2026, 11, 21, 7, tzinfo=UTC)
    assert ("activity.remind", f"{quiet['id']}:60") in tasks  # reminders even without the notice
    assert ("activity.remind", f"{quiet['id']}:1440") not in tasks  # 24 h before is now: not sent late
    await call(api, "PATCH", f"{ACTIVITIES}/{later['id']}", json={"starts_at": "2026-11-23T09:00:00+08:00"})
    async with db.reader() as session:
        moved = await session.scalar(select(ScheduledTask).where(ScheduledTask.kind == "activity.remind",
                                                                 ScheduledTask.ref == f"{later['id']}:1440"))
    assert moved is not None and moved.run_at == datetime(2026, 11, 22, 1, tzinfo=UTC)
