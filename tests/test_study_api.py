"""/api/v1/study over HTTP, on SQLite and PostgreSQL: materials (create, list with counts, detail with
readers, push) and plans (create with the next fire time in local time, list, stop).

The clock stands at Saturday 2026-11-21 09:00 in Shanghai (01:00 UTC); the audience is ``seed_org``'s
(see tests/test_notices_api.py): seven active members, 吴静 not bound to a chat.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api import API_PREFIX
from bot.domain import study
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from models.audit import Channel
from models.delivery import Delivery
from models.notice import ReadVia, StudyMaterial
from models.scheduling import TaskStatus
from tests.activity_support import Org, T
from tests.audit_support import events_of, only_event
from tests.support import SchedulerStub, call
from tests.test_notices_api import TOMORROW_8, task_of

MATERIALS = f"{API_PREFIX}/study/materials"
PLANS = f"{API_PREFIX}/study/plans"


async def material(api: TestClient, expect: int = 201, **fields: Any) -> dict[str, Any]:
    body = {"title": "学习贯彻全国政协十四届三次会议精神", "summary": "会议精神摘要",
            "url": "https://example.org/study/1", **fields}
    return await call(api, "POST", MATERIALS, expect, json=body)


async def plan(api: TestClient, expect: int = 201, **fields: Any) -> dict[str, Any]:
    return await call(api, "POST", PLANS, expect, json={"name": "每周一学", "cron": "0 8 * * 1", **fields})


async def read(db: Database, material_id: int, member_id: int, via: ReadVia, at: datetime) -> None:
    async with db.session() as session:
        await study.mark_read(session, material_id, member_id, via, at)


# --- materials ----------------------------------------------------------------------------------------------

async def test_create_a_link_and_a_text_material(api: TestClient, db: Database, org: Org) -> None:
    link = await material(api, tags=[" 政协章程 ", "履职", "履职"], audience={"kind": "groups", "ids": [org.chengguan]})
    assert link["title"] == "学习贯彻全国政协十四届三次会议精神" and link["url"] == "https://example.org/study/1"
    assert link["tags"] == ["履职", "政协章程"] and link["body"] == ""
    assert link["audience"] == {"kind": "groups", "ids": [org.chengguan]}
    assert (link["read"], link["pushed"], link["pushed_at"], link["plan_id"]) == (0, 0, None, None)
    assert link["created_at"] == "2026-11-21T01:00:00+00:00" and link["created_by_id"] is None
    text = await material(api, title="政协章程（节选）", url="", body="第一章 总纲……")
    assert text["body"] == "第一章 总纲……" and text["url"] == ""
    assert await call(api, "GET", f"{MATERIALS}/{text['id']}") == {**text, "readers": [], "unread": [], "notices": []}
    created = await events_of(db, "study.material.create")
    assert [(e.channel, e.object_type, e.object_id, e.group_id) for e in created] == [
        (Channel.API, "study_material", link["id"], org.chengguan), (Channel.API, "study_material", text["id"], None)]


async def test_create_refuses_what_the_rules_refuse(api: TestClient, org: Org) -> None:
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"url": ""}, "url", T("study.error.link_or_text")),
        ({"body": "正文"}, "url", T("study.error.link_or_text")),
        ({"url": "ftp://example.org/x"}, "url", T("notice.error.url")),
        ({"title": " "}, "title", T("notice.error.title", max=100)),
        ({"summary": "摘" * 501}, "summary", T("study.error.summary", max=500)),
        ({"tags": [f"标签{n}" for n in range(11)]}, "tags", T("study.error.tags", max=10)),
        ({"plan_id": 9999}, "plan_id", T("study.error.no_plan")),
        ({"audience": {"kind": "committees", "ids": []}}, "audience.ids", T("activity.error.audience_empty")),
        ({"audience": {"kind": "groups", "ids": [9999]}}, "audience.ids", "unknown groups: [9999]"),
        ({"tags": "履职"}, "tags", None),
        ({"plan_id": 0}, "plan_id", None),
        ({"pushed_at": "2026-11-21T09:00:00+08:00"}, "pushed_at", None),
    ]
    for change, field, message in cases:
        answer = await material(api, 422, **change)
        assert answer["error"] == "invalid", change
        assert [f["field"] for f in answer["fields"]] == [field], (change, answer)
        if message is not None:
            assert answer["message"] == message, (change, answer)
    assert (await call(api, "GET", MATERIALS))["total"] == 0


async def test_list_newest_first_with_read_and_pushed_counts(
    api: TestClient, db: Database, org: Org, clock: FrozenClock, scheduler: SchedulerStub
) -> None:
    first = await material(api, title="材料一")
    clock.advance(minutes=5)
    second = await material(api, title="材料二", url="", body="正文")
    clock.advance(minutes=5)
    third = await material(api, title="材料三", audience={"kind": "groups", "ids": [org.dongshan]})
    await call(api, "POST", f"{MATERIALS}/{first['id']}/push", 201)
    await call(api, "POST", f"{MATERIALS}/{third['id']}/push", 201)
    for member in (org.wang, org.li):
        await read(db, first["id"], member.id or 0, ReadVia.LINK, clock.now())
    await read(db, third["id"], org.li.id or 0, ReadVia.REPLY, clock.now())

    page = await call(api, "GET", MATERIALS)
    assert [(m["title"], m["read"], m["pushed"]) for m in page["items"]] == [
        ("材料三", 1, 2), ("材料二", 0, 0), ("材料一", 2, 7)]  # 东山镇: 李强 and the unbound 吴静
    assert page["total"] == 3 and all("body" not in m for m in page["items"])  # the text only in the detail
    assert [m["id"] for m in (await call(api, "GET", f"{MATERIALS}?per_page=1&page=2"))["items"]] == [second["id"]]
    for query in ("page=0", "per_page=500", "tag=x"):
        assert (await call(api, "GET", f"{MATERIALS}?{query}", 422))["error"] == "invalid", query


async def test_detail_lists_who_read_and_who_has_not(
    api: TestClient, db: Database, org: Org, clock: FrozenClock
) -> None:
    created = await material(api, audience={"kind": "groups", "ids": [org.chengguan]})
    pushed = await call(api, "POST", f"{MATERIALS}/{created['id']}/push", 201)
    await read(db, created["id"], org.zhou.id or 0, ReadVia.REPLY, clock.advance(minutes=30))
    await read(db, created["id"], org.wang.id or 0, ReadVia.LINK, clock.advance(minutes=10))
    detail = await call(api, "GET", f"{MATERIALS}/{created['id']}")
    assert (detail["read"], detail["pushed"]) == (2, 3)
    assert detail["pushed_at"] == "2026-11-21T01:00:00+00:00"
    chengguan = {"id": org.chengguan, "name": "城关镇"}
    assert detail["readers"] == [
        {"member": {"id": org.zhou.id, "name": "周涛"}, "group": chengguan, "via": "reply",
         "read_at": "2026-11-21T01:30:00+00:00"},
        {"member": {"id": org.wang.id, "name": "王芳"}, "group": chengguan, "via": "link",
         "read_at": "2026-11-21T01:40:00+00:00"},
    ]
    assert detail["unread"] == [{"member": {"id": org.chen.id, "name": "陈组长"}, "group": chengguan}]
    assert detail["notices"] == [{"id": pushed["id"], "status": "sent", "send_at": "2026-11-21T01:00:00+00:00",
                                  "sent_at": "2026-11-21T01:00:00+00:00", "recipients": 3}]


async def test_push_now_later_and_to_another_audience(
    api: TestClient, db: Database, org: Org, scheduler: SchedulerStub
) -> None:
    created = await material(api)
    now = await call(api, "POST", f"{MATERIALS}/{created['id']}/push", 201)
    assert now["kind"] == "study" and now["material_id"] == created["id"] and now["status"] == "sent"
    assert now["title"] == created["title"] and now["body"] == "会议精神摘要"
    assert now["report"]["recipients"] == 7 and now["report"]["not_bound"] == 1 and scheduler.syncs == 1
    async with db.reader() as session:
        texts = [row.payload["text"] for row in (await session.scalars(
            select(Delivery).where(Delivery.topic == f"notice:{now['id']}"))).all()]
    assert len(texts) == 6 and all(text.startswith("【学习】") and "/r/" in text for text in texts)

    later = await call(api, "POST", f"{MATERIALS}/{created['id']}/push", 201,
                       json={"send_at": TOMORROW_8, "audience": {"kind": "groups", "ids": [org.dongshan]}})
    assert later["status"] == "scheduled" and later["report"] is None
    assert later["audience"] == {"kind": "groups", "ids": [org.dongshan]}
    task = await task_of(db, "notice.send", str(later["id"]))
    assert task.run_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC) and task.status is TaskStatus.PENDING

    for body, field in (({"send_at": "2026-11-22T08:00:00"}, "send_at"),
                        ({"audience": {"kind": "members", "ids": [9999]}}, "audience.ids"),
                        ({"audience": {"kind": "groups", "ids": []}}, "audience.ids"),
                        ({"title": "别的标题"}, "title")):
        answer = await call(api, "POST", f"{MATERIALS}/{created['id']}/push", 422, json=body)
        assert [f["field"] for f in answer["fields"]] == [field], body
    assert (await call(api, "POST", f"{MATERIALS}/9999/push", 404))["error"] == "not_found"


# --- plans --------------------------------------------------------------------------------------------------

async def test_a_plan_fires_next_monday_at_eight_local_time(
    api: TestClient, db: Database, org: Org, clock: FrozenClock, scheduler: SchedulerStub
) -> None:
    created = await plan(api, audience={"kind": "groups", "ids": [org.chengguan]})
    # Saturday 21st 09:00 → Monday 23rd 08:00 in Shanghai ("1" is Monday, not APScheduler 3's Tuesday).
    assert created["next_fire_at"] == "2026-11-23T08:00:00+08:00" and created["timezone"] == "Asia/Shanghai"
    assert created["cron"] == "0 8 * * 1" and created["active"] is True and created["queued"] == 0
    assert created["audience"] == {"kind": "groups", "ids": [org.chengguan]} and scheduler.syncs == 1
    task = await task_of(db, study.PLAN_TASK, str(created["id"]))
    assert task.cron == "0 8 * * 1" and task.status is TaskStatus.PENDING

    for title in ("第一讲", "第二讲"):
        await material(api, title=title, plan_id=created["id"])
    other = await plan(api, name="月度学习", cron="30 17 1 * *")
    listed = (await call(api, "GET", PLANS))["items"]
    assert [(p["name"], p["queued"], p["next_fire_at"]) for p in listed] == [
        ("每周一学", 2, "2026-11-23T08:00:00+08:00"), ("月度学习", 0, "2026-12-01T17:30:00+08:00")]
    in_plan = (await call(api, "GET", f"{MATERIALS}?plan_id={created['id']}"))["items"]
    assert [m["title"] for m in in_plan] == ["第二讲", "第一讲"]

    clock.set(datetime(2026, 11, 23, 0, 1, tzinfo=UTC))  # Monday 08:01: the next is a week later
    assert (await call(api, "GET", PLANS))["items"][0]["next_fire_at"] == "2026-11-30T08:00:00+08:00"
    assert other["id"] != created["id"]


async def test_bad_plans_are_refused(api: TestClient, org: Org) -> None:
    for change, field, message in (
        ({"cron": "every monday"}, "cron", None),
        ({"cron": "0 8 * * 9"}, "cron", None),
        ({"cron": "0 25 * * 1"}, "cron", None),
        ({"name": " "}, "name", T("study.error.plan_name")),
        ({"name": "名" * 61}, "name", T("study.error.plan_name")),
        ({"audience": {"kind": "groups", "ids": []}}, "audience.ids", T("activity.error.audience_empty")),
        ({"audience": {"kind": "members", "ids": [9999]}}, "audience.ids", T("activity.error.unknown_members")),
        ({"cron": None}, "cron", None),
        ({"interval": "weekly"}, "interval", None),
    ):
        answer = await plan(api, 422, **change)
        assert [f["field"] for f in answer["fields"]] == [field], (change, answer)
        if message is not None:
            assert answer["message"] == message
        if field == "cron" and change["cron"] is not None:
            assert answer["message"].startswith("推送时间的写法不对") and "0 8 * * 1" in answer["message"]
    assert (await call(api, "GET", PLANS))["total"] == 0


async def test_stopping_a_plan_cancels_its_task(
    api: TestClient, db: Database, org: Org, scheduler: SchedulerStub
) -> None:
    created = await plan(api)
    await material(api, plan_id=created["id"])
    stopped = await call(api, "DELETE", f"{PLANS}/{created['id']}")
    assert stopped["active"] is False and stopped["next_fire_at"] is None and stopped["queued"] == 1
    assert (await task_of(db, study.PLAN_TASK, str(created["id"]))).status is TaskStatus.CANCELLED
    assert scheduler.syncs == 2
    assert await call(api, "DELETE", f"{PLANS}/{created['id']}") == stopped  # again: the same, nothing changes
    assert (await call(api, "GET", PLANS))["items"] == [stopped]  # listed still, stopped
    await only_event(db, "study.plan.create", channel=Channel.API, object_type="study_plan", object_id=created["id"],
                     after={"cron": created["cron"]})
    # Stopped once: the second DELETE changed nothing and logged nothing.
    await only_event(db, "study.plan.stop", channel=Channel.API, object_id=created["id"],
                     before={"active": True}, after={"active": False})
    async with db.reader() as session:  # its material stays, unpushed
        kept = await session.scalar(select(StudyMaterial))
        assert kept is not None and kept.pushed_at is None


# --- ids and the token ----------------------------------------------------------------------------------------

async def test_unknown_ids_and_no_token(api: TestClient, org: Org) -> None:
    for method, path in (("GET", f"{MATERIALS}/9999"), ("GET", f"{MATERIALS}/abc"),
                         ("POST", f"{MATERIALS}/9999/push"), ("DELETE", f"{PLANS}/9999"), ("DELETE", f"{PLANS}/x")):
        assert (await call(api, method, path, 404))["error"] == "not_found", path
    created = await material(api)
    for method, path in (("POST", MATERIALS), ("GET", MATERIALS), ("GET", f"{MATERIALS}/{created['id']}"),
                         ("POST", f"{MATERIALS}/{created['id']}/push"), ("POST", PLANS), ("GET", PLANS),
                         ("DELETE", f"{PLANS}/1")):
        response = await api.request(method, path)
        assert response.status == 401, (method, path)
