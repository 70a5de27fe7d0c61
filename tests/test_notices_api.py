"""/api/v1/notices and /api/v1/activities/{id}/answers over HTTP, on SQLite and PostgreSQL.

The clock stands at Saturday 2026-11-21 09:00 in Shanghai (01:00 UTC). ``seed_org``'s active members are
王芳, 周涛, 陈组长 (城关镇), 李强, 吴静 (东山镇; 吴静 has no chat identity) and the secretaries 钱秘书 and
孙秘书: seven addressed by "all", six of them reachable; the suspended 赵敏 is never addressed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api import API_PREFIX
from bot.api.notices import page_counts
from bot.domain import notices
from bot.domain.activities import request_leave
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.infra.services import SERVICES_KEY
from bot.outbound.worker import DeliveryWorker
from models.activity import Activity, LeaveKind
from models.audit import Channel
from models.delivery import Delivery, DeliveryStatus
from models.member import Member
from models.notice import Notice, Response
from models.scheduling import ScheduledTask, TaskStatus
from tests.activity_support import Org, T
from tests.audit_support import events_of, only_event
from tests.support import SchedulerStub, call

NOTICES = f"{API_PREFIX}/notices"
TOMORROW_8 = "2026-11-22T08:00:00+08:00"




async def broadcast(api: TestClient, expect: int = 201, **fields: Any) -> dict[str, Any]:
    body = {"title": "关于报送年度履职情况的通知", "body": "请于12月10日前报送。", **fields}
    return await call(api, "POST", NOTICES, expect, json=body)


async def task_of(db: Database, kind: str, ref: str) -> ScheduledTask:
    async with db.reader() as session:
        task = await session.scalar(select(ScheduledTask).where(ScheduledTask.kind == kind, ScheduledTask.ref == ref))
    assert task is not None
    return task


async def rows_of(db: Database, notice_id: int) -> list[Delivery]:
    async with db.reader() as session:
        return list((await session.scalars(
            select(Delivery).where(Delivery.topic == f"notice:{notice_id}").order_by(Delivery.id))).all())


async def deliver(api: TestClient) -> int:
    """One pass of the delivery worker, as its loop would make: simulator rows land on the simulator page."""
    return await DeliveryWorker(api.app[SERVICES_KEY]).run_once()  # type: ignore[index]


def counts(report: dict[str, Any]) -> tuple[int, ...]:
    return tuple(report[name] for name in ("recipients", "reached", "failed", "pending", "not_bound", "read"))


# --- create -----------------------------------------------------------------------------------------------

async def test_a_broadcast_now_is_sent_and_answers_with_its_report(
    api: TestClient, db: Database, org: Org, scheduler: SchedulerStub
) -> None:
    body = await broadcast(api, url="https://example.org/plan", to_group_chats=False)
    assert body["kind"] == "broadcast" and body["status"] == "sent" and body["recipients"] == 7
    assert body["send_at"] == body["sent_at"] == "2026-11-21T01:00:00+00:00"
    assert body["audience"] == {"kind": "all", "ids": []} and body["created_by_id"] is None
    report = body["report"]
    assert counts(report) == (7, 0, 0, 6, 1, 0)  # queued, not sent yet: pending
    assert {(u["member"]["name"], u["reason"]) for u in report["unreached"] if u["reason"] == "not_bound"} == {
        ("吴静", "not_bound")}
    wu = next(u for u in report["unreached"] if u["reason"] == "not_bound")
    assert wu["group"] == {"id": org.dongshan, "name": "东山镇"} and wu["error"] is None
    rows = await rows_of(db, body["id"])
    assert sorted(row.recipient for row in rows) == ["sim-chen", "sim-li", "sim-qian", "sim-sun", "sim-wang",
                                                     "sim-zhou"]
    assert all("/r/" in row.payload["text"] for row in rows)  # personal read links
    assert scheduler.syncs == 1
    await only_event(db, "notice.broadcast", channel=Channel.API, actor_label="api-token", object_type="notice",
                     object_id=body["id"], group_id=None, summary=body["title"])
    assert await call(api, "GET", f"{NOTICES}/{body['id']}") == body


async def test_a_broadcast_to_a_group_reaches_only_its_members(api: TestClient, db: Database, org: Org) -> None:
    body = await broadcast(api, audience={"kind": "groups", "ids": [org.chengguan]})
    assert body["recipients"] == 3 and body["audience"] == {"kind": "groups", "ids": [org.chengguan]}
    assert sorted(row.recipient for row in await rows_of(db, body["id"])) == ["sim-chen", "sim-wang", "sim-zhou"]
    members = await broadcast(api, audience={"kind": "members", "ids": [org.li.id, org.nobody.id]})
    assert counts(members["report"]) == (2, 0, 0, 1, 1, 0)
    everyone = await broadcast(api, audience={"kind": "all", "ids": [org.chengguan]})  # "all" keeps no ids
    assert everyone["audience"] == {"kind": "all", "ids": []} and everyone["recipients"] == 7
    # A broadcast to one liaison group belongs to it in the log (a secretary of that group sees it).
    assert [(e.object_id, e.group_id) for e in await events_of(db, "notice.broadcast")] == [
        (body["id"], org.chengguan), (members["id"], None), (everyone["id"], None)]


async def test_a_scheduled_broadcast_waits_for_its_task(
    api: TestClient, db: Database, org: Org, scheduler: SchedulerStub
) -> None:
    body = await broadcast(api, send_at=TOMORROW_8)
    assert body["status"] == "scheduled" and body["report"] is None and body["sent_at"] is None
    assert body["send_at"] == "2026-11-22T00:00:00+00:00"
    task = await task_of(db, notices.NOTICE_TASK, str(body["id"]))
    assert task.run_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC) and task.status is TaskStatus.PENDING
    assert await rows_of(db, body["id"]) == [] and scheduler.syncs == 1
    past = await broadcast(api, send_at="2026-11-20T08:00:00+08:00")  # a time already past: sent now
    assert past["status"] == "sent" and past["send_at"] == "2026-11-21T01:00:00+00:00"


async def test_cancel_and_resend_refuse_the_wrong_state(
    api: TestClient, db: Database, org: Org, scheduler: SchedulerStub
) -> None:
    later = await broadcast(api, send_at=TOMORROW_8)
    refused = await call(api, "POST", f"{NOTICES}/{later['id']}/resend", 409)
    assert refused == {"error": "not_sent", "message": T("notice.error.not_sent")}
    cancelled = await call(api, "POST", f"{NOTICES}/{later['id']}/cancel")
    assert cancelled["status"] == "cancelled" and cancelled["report"] is None and scheduler.syncs == 2
    assert (await task_of(db, notices.NOTICE_TASK, str(later["id"]))).status is TaskStatus.CANCELLED
    again = await call(api, "POST", f"{NOTICES}/{later['id']}/cancel", 409)
    assert again == {"error": "not_scheduled", "message": T("notice.error.not_scheduled")}
    assert (await call(api, "POST", f"{NOTICES}/{later['id']}/resend", 409))["error"] == "not_sent"
    sent = await broadcast(api)
    assert (await call(api, "POST", f"{NOTICES}/{sent['id']}/cancel", 409))["error"] == "not_scheduled"
    async with db.reader() as session:
        stored = await session.get(Notice, later["id"])
        assert stored is not None and stored.status.value == "cancelled"
    await only_event(db, "notice.cancel", channel=Channel.API, object_id=later["id"],
                     before={"status": "scheduled"}, after={"status": "cancelled"})
    assert await events_of(db, "notice.resend") == []


async def test_create_refuses_what_the_rules_refuse(api: TestClient, org: Org) -> None:
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"title": "  "}, "title", T("notice.error.title", max=100)),
        ({"title": "长" * 101}, "title", T("notice.error.title", max=100)),
        ({"body": "字" * 1501}, "body", T("notice.error.body", max=1500)),
        ({"url": "ftp://example.org/x"}, "url", T("notice.error.url")),
        ({"audience": {"kind": "groups", "ids": []}}, "audience.ids", T("activity.error.audience_empty")),
        ({"audience": {"kind": "members", "ids": [org.wang.id, 9999]}}, "audience.ids",
         T("activity.error.unknown_members")),
        ({"audience": {"kind": "sectors", "ids": [9999]}}, "audience.ids", "unknown sectors: [9999]"),
        # the shape of the body
        ({"send_at": "2026-11-22T08:00:00"}, "send_at", None),  # no offset: refused, not guessed
        ({"send_at": "tomorrow"}, "send_at", None),
        ({"title": None}, "title", None),
        ({"audience": {"kind": "everyone"}}, "audience.kind", None),
        ({"to_group_chats": "maybe"}, "to_group_chats", None),
        ({"kind": "meeting"}, "kind", None),  # only broadcasts are made here
    ]
    for change, field, message in cases:
        answer = await broadcast(api, 422, **change)
        assert answer["error"] == "invalid", change
        assert [f["field"] for f in answer["fields"]] == [field], (change, answer)
        if message is not None:
            assert answer["message"] == message and answer["fields"][0]["message"] == message, (change, answer)
    for broken in ("[]", "not json"):
        answer = await call(api, "POST", NOTICES, 422, data=broken, headers={"Content-Type": "application/json"})
        assert answer["error"] == "invalid"
    assert [f["field"] for f in (await call(api, "POST", NOTICES, 422, json={}))["fields"]] == ["title"]
    assert (await call(api, "GET", NOTICES))["total"] == 0  # nothing was stored


# --- the report and resending -----------------------------------------------------------------------------

async def test_the_report_follows_the_deliveries_and_resend_tries_the_failed_again(
    api: TestClient, db: Database, org: Org, clock: FrozenClock
) -> None:
    body = await broadcast(api, url="https://example.org/plan", to_group_chats=False)
    async with db.session() as session:  # the platform refuses 周涛 for good, as the worker would record it
        zhou = await session.scalar(select(Delivery).where(Delivery.topic == f"notice:{body['id']}",
                                                           Delivery.recipient == "sim-zhou"))
        assert zhou is not None
        zhou.status, zhou.last_error, zhou.attempts = DeliveryStatus.FAILED, "43004 unsubscribed", 1
    assert await deliver(api) == 5  # the other five land on the simulator page
    async with db.session() as session:
        await notices.record_read(session, body["id"], org.wang.id or 0, clock.now())  # 王芳 opened the link

    report = (await call(api, "GET", f"{NOTICES}/{body['id']}"))["report"]
    assert counts(report) == (7, 5, 1, 0, 1, 1)
    assert sorted((u["member"]["name"], u["group"]["name"] if u["group"] else None, u["reason"], u["error"])
                  for u in report["unreached"]) == [("吴静", "东山镇", "not_bound", None),
                                                    ("周涛", "城关镇", "failed", "43004 unsubscribed")]
    listed = (await call(api, "GET", NOTICES))["items"][0]
    assert listed["id"] == body["id"] and counts(listed["counts"]) == counts(report)

    again = await call(api, "POST", f"{NOTICES}/{body['id']}/resend")
    assert again["queued"] == 1 and again["resends"] == 1
    assert counts(again["report"]) == (7, 5, 0, 1, 1, 1)  # 周涛's new push is pending
    assert [row.recipient for row in await rows_of(db, body["id"]) if ":again1:" in row.idempotency_key] == [
        "sim-zhou"]
    assert await deliver(api) == 1
    report = (await call(api, "GET", f"{NOTICES}/{body['id']}"))["report"]
    assert counts(report) == (7, 6, 0, 0, 1, 1)
    assert [u["member"]["name"] for u in report["unreached"]] == ["吴静"]
    nothing = await call(api, "POST", f"{NOTICES}/{body['id']}/resend")  # nobody failed: nothing queued
    assert nothing["queued"] == 0 and nothing["resends"] == 1
    await only_event(db, "notice.resend", channel=Channel.API, object_id=body["id"], after={"members": 1})


async def test_list_counts_match_each_report(api: TestClient, db: Database, org: Org, clock: FrozenClock) -> None:
    """The grouped counts of a page and notice_report, over notices in different states at once."""
    first = await broadcast(api, to_group_chats=False)
    clock.advance(minutes=1)  # the list is by send time: second before first
    second = await broadcast(api, audience={"kind": "groups", "ids": [org.dongshan]})
    await broadcast(api, send_at=TOMORROW_8)
    async with db.session() as session:
        for row in await rows_of(db, first["id"]):
            stored = await session.get(Delivery, row.id)
            assert stored is not None
            stored.status = {"sim-wang": DeliveryStatus.SENT, "sim-li": DeliveryStatus.GIVEN_UP}.get(
                row.recipient, stored.status)
    async with db.reader() as session:
        grouped = await page_counts(session, [first["id"], second["id"]])
        for notice_id in (first["id"], second["id"]):
            notice = await session.get(Notice, notice_id)
            assert notice is not None
            report = await notices.notice_report(session, notice)
            assert grouped[notice_id] == {"recipients": report.recipients, "reached": report.reached,
                                          "failed": report.failed, "pending": report.pending,
                                          "not_bound": report.not_bound, "read": report.read}
    assert counts(grouped[first["id"]]) == (7, 1, 1, 4, 1, 0)
    items = (await call(api, "GET", NOTICES))["items"]
    assert [counts(item["counts"]) for item in items] == [
        (0, 0, 0, 0, 0, 0), counts(grouped[second["id"]]), counts(grouped[first["id"]])]  # scheduled: nobody yet


# --- listing ----------------------------------------------------------------------------------------------

async def test_list_filters_and_pages(api: TestClient, org: Org, clock: FrozenClock) -> None:
    activity = await call(api, "POST", f"{API_PREFIX}/activities", 201, json={
        "type": "standing", "title": "十届常委会第五次会议", "starts_at": "2026-11-25T09:00:00+08:00"})
    clock.advance(minutes=1)
    sent = await broadcast(api)
    later = await broadcast(api, send_at=TOMORROW_8)
    cancelled = await broadcast(api, send_at="2026-11-23T08:00:00+08:00")
    await call(api, "POST", f"{NOTICES}/{cancelled['id']}/cancel")

    async def ids(query: str) -> list[int]:
        return [item["id"] for item in (await call(api, "GET", f"{NOTICES}?{query}"))["items"]]

    meeting = (await ids("kind=meeting"))[0]
    assert await ids("") == [cancelled["id"], later["id"], sent["id"], meeting]  # latest send time first
    assert await ids(f"activity_id={activity['id']}") == [meeting]
    assert await ids("kind=broadcast&status=sent") == [sent["id"]]
    assert await ids("status=scheduled") == [later["id"]]
    assert await ids("per_page=2&page=2") == [sent["id"], meeting]
    page = await call(api, "GET", f"{NOTICES}?per_page=1")
    assert page["total"] == 4 and page["page"] == 1 and page["per_page"] == 1
    for query in ("kind=letter", "status=lost", "activity_id=0", "page=0", "per_page=500", "colour=red"):
        assert (await call(api, "GET", f"{NOTICES}?{query}", 422))["error"] == "invalid", query


# --- answers ------------------------------------------------------------------------------------------------

async def test_answers_to_an_activity_notice(api: TestClient, db: Database, org: Org, clock: FrozenClock) -> None:
    created = await call(api, "POST", f"{API_PREFIX}/activities", 201, json={
        "type": "standing", "title": "十届常委会第五次会议", "starts_at": "2026-11-25T09:00:00+08:00"})
    async with db.session() as session:
        activity = await session.get(Activity, created["id"])
        li = await session.get(Member, org.li.id)
        assert activity is not None and li is not None
        await notices.respond(session, org.wang.id or 0, activity, Response.ATTEND, clock.now())
        await notices.respond(session, org.zhou.id or 0, activity, Response.LEAVE, clock.now())
        await request_leave(session, li, activity, kind=LeaveKind.SICK, reason="住院治疗", now=clock.now(), texts=T)
    answers = await call(api, "GET", f"{API_PREFIX}/activities/{created['id']}/answers")
    assert answers["activity"]["id"] == created["id"] and answers["activity"]["status"] == "scheduled"
    assert answers["counts"] == {"attend": 1, "leave": 2, "no_answer": 4}
    assert answers["attend"] == [{"id": org.wang.id, "name": "王芳",
                                  "group": {"id": org.chengguan, "name": "城关镇"}}]
    assert sorted(person["name"] for person in answers["leave"]) == ["周涛", "李强"]
    assert sorted(person["name"] for person in answers["no_answer"]) == ["吴静", "孙秘书", "钱秘书", "陈组长"]
    secretary = next(person for person in answers["no_answer"] if person["name"] == "钱秘书")
    assert secretary["group"] is None


# --- ids and the token ----------------------------------------------------------------------------------------

async def test_unknown_ids_and_no_token(api: TestClient, org: Org) -> None:
    for method, path in (("GET", f"{NOTICES}/9999"), ("GET", f"{NOTICES}/abc"), ("POST", f"{NOTICES}/9999/cancel"),
                         ("POST", f"{NOTICES}/9999/resend"), ("GET", f"{API_PREFIX}/activities/9999/answers")):
        assert (await call(api, method, path, 404))["error"] == "not_found", path
    notice = await broadcast(api)
    for method, path in (("GET", NOTICES), ("POST", NOTICES), ("GET", f"{NOTICES}/{notice['id']}"),
                         ("POST", f"{NOTICES}/{notice['id']}/cancel"), ("POST", f"{NOTICES}/{notice['id']}/resend"),
                         ("GET", f"{API_PREFIX}/activities/1/answers")):
        response = await api.request(method, path, json={"title": "x"} if method == "POST" else None)
        assert response.status == 401, (method, path)
        response = await api.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert response.status == 401, (method, path)
