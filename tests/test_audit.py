"""The audit log itself (bot.domain.audit, bot.exports.audit, /api/v1/audit): the ambient channel, edits that
keep only what changed, the query filtered in the database and limited to the viewer's reach, the list and the
workbook over HTTP. That each capability writes its one event is tested beside the capability
(tests/audit_support.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from aiohttp.test_utils import TestClient

from bot.api import API_PREFIX
from bot.chat.context import Context
from bot.chat.router import Router
from bot.domain import audit
from bot.domain.authz import Action, groups_within_reach
from bot.exports.audit import COLUMNS
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from models.audit import Channel
from models.member import Member, MemberStatus, Role
from tests.activity_support import Org
from tests.conftest import make_settings
from tests.support import ADMIN_AUTH, call, running_app
from tests.test_inbox import keep_in_inbox

AUDIT = f"{API_PREFIX}/audit"
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # Friday 09:00 in Shanghai


async def seed_events(db: Database, org: Org) -> None:
    """Four events an hour apart: 城关镇 by 钱秘书 in chat, 东山镇 by 孙秘书 in the console, a role change of no
    group through the API token, 东山镇 again by the system."""
    async with db.session() as session:
        with audit.acting_through(Channel.CHAT):
            await audit.record(session, action="leave.decide", object_type="leave", object_id=1,
                               group_id=org.chengguan, by=org.qian, after={"status": "approved"}, at=START)
        with audit.acting_through(Channel.CONSOLE, ip="10.0.0.7"):
            await audit.record(session, action="member.approve", object_type="member", object_id=org.li.id,
                               group_id=org.dongshan, by=org.sun, at=START + timedelta(hours=1))
        with audit.acting_through(Channel.API, ip="127.0.0.1"):
            await audit.record(session, action="member.role", object_type="member", object_id=org.wang.id,
                               group_id=None, by=None, before={"role": "member"}, after={"role": "secretary"},
                               at=START + timedelta(hours=2))
        await audit.record(session, action="duty.rebuild", object_type="duty_year", object_id=2026,
                           group_id=org.dongshan, by=None, at=START + timedelta(hours=3))


# --- the domain ---------------------------------------------------------------------------------------------


def test_the_channel_is_set_by_the_entry_point_and_restored_after() -> None:
    assert audit.origin() == audit.Origin(Channel.SYSTEM)  # nobody set one: the system
    with audit.acting_through(Channel.API, ip="192.0.2.1") as outer:
        assert outer == audit.Origin(Channel.API, "192.0.2.1")
        with audit.acting_through(Channel.CONSOLE):
            assert audit.origin().channel is Channel.CONSOLE
        assert audit.origin() == outer
    assert audit.origin().channel is Channel.SYSTEM


def test_changes_keep_only_the_fields_that_changed_in_plain_json() -> None:
    member = Member(name="王芳", mobile="13800000001", role=Role.MEMBER, status=MemberStatus.ACTIVE,
                    scope_group_ids=[])
    before = audit.snapshot(member, ("role", "status", "scope_group_ids", "name"))
    member.role, member.scope_group_ids = Role.SECRETARY, [2, 1]
    assert audit.changes(before, member, ("role", "status", "scope_group_ids", "name")) == (
        {"role": "member", "scope_group_ids": []}, {"role": "secretary", "scope_group_ids": [2, 1]})
    assert audit.changes(member, member, ("role",)) == ({}, {})


async def test_each_event_records_who_how_and_the_name_as_it_was(db: Database, org: Org) -> None:
    await seed_events(db, org)
    async with db.reader() as session:
        found, total = await audit.events(session, None)
    assert total == 4
    assert [(e.action, e.channel, e.actor_member_id, e.actor_label, e.ip) for e in found] == [  # newest first
        ("duty.rebuild", Channel.SYSTEM, None, "system", None),
        ("member.role", Channel.API, None, "api-token", "127.0.0.1"),
        ("member.approve", Channel.CONSOLE, org.sun.id, "孙秘书", "10.0.0.7"),
        ("leave.decide", Channel.CHAT, org.qian.id, "钱秘书", None),
    ]
    assert found[1].before == {"role": "member"} and found[1].after == {"role": "secretary"}


async def test_a_viewer_sees_only_the_events_of_their_groups(db: Database, org: Org) -> None:
    await seed_events(db, org)

    async def actions_seen_by(member: Member) -> list[str]:
        async with db.reader() as session:
            found, total = await audit.events(session, groups_within_reach(member, Action.APPROVE_MEMBER))
        assert total == len(found)
        return [e.action for e in found]

    assert await actions_seen_by(org.qian) == ["duty.rebuild", "member.role", "member.approve", "leave.decide"]
    # Limited to 东山镇: its two events, not 城关镇's and not the role change, which belongs to no group.
    assert await actions_seen_by(org.sun) == ["duty.rebuild", "member.approve"]
    assert await actions_seen_by(org.wang) == []  # no reach at all: nothing


async def test_filters_and_pages_are_applied_in_the_database(db: Database, org: Org) -> None:
    await seed_events(db, org)
    async with db.reader() as session:
        by_sun, _ = await audit.events(session, None, actor=org.sun.id)
        about_wang, _ = await audit.events(session, None, object_type="member", object_id=org.wang.id)
        middle, total = await audit.events(session, None, since=START + timedelta(hours=1),
                                           until=START + timedelta(hours=3))
        second, all_of_them = await audit.events(session, None, page=2, per_page=3)
    assert [e.action for e in by_sun] == ["member.approve"]
    assert [e.action for e in about_wang] == ["member.role"]
    assert [e.action for e in middle] == ["member.role", "member.approve"] and total == 2  # until is exclusive
    assert [e.action for e in second] == ["leave.decide"] and all_of_them == 4


# --- the API and the workbook -------------------------------------------------------------------------------


async def test_the_api_lists_the_log_with_its_filters(api: TestClient, db: Database, org: Org) -> None:
    await seed_events(db, org)
    everything = await call(api, "GET", AUDIT)
    assert (everything["total"], everything["page"], everything["per_page"]) == (4, 1, 50)
    role = everything["items"][1]
    assert role == {
        "id": role["id"], "at": "2026-11-20T03:00:00+00:00", "actor_member_id": None, "actor_label": "api-token",
        "channel": "api", "action": "member.role", "object_type": "member", "object_id": org.wang.id,
        "group_id": None, "before": {"role": "member"}, "after": {"role": "secretary"}, "summary": "",
        "ip": "127.0.0.1",
    }
    since = quote("2026-11-20T10:00:00+08:00")
    later = await call(api, "GET", f"{AUDIT}?since={since}&actor={org.sun.id}")
    assert [item["action"] for item in later["items"]] == ["member.approve"]
    paged = await call(api, "GET", f"{AUDIT}?per_page=1&page=4")
    assert [item["action"] for item in paged["items"]] == ["leave.decide"] and paged["total"] == 4
    naive = await call(api, "GET", f"{AUDIT}?since=2026-11-20T10:00:00", 422)
    assert [f["field"] for f in naive["fields"]] == ["since"]
    assert (await call(api, "GET", f"{AUDIT}?colour=red", 422))["fields"][0]["field"] == "colour"
    assert (await api.get(AUDIT)).status == 401  # the token, as everywhere


async def test_the_workbook_has_the_filtered_events_in_local_time(api: TestClient, db: Database, org: Org) -> None:
    from openpyxl import load_workbook

    await seed_events(db, org)
    response = await api.get(f"{AUDIT}.xlsx?object_type=member", headers=ADMIN_AUTH)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="audit.xlsx"' in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(await response.read())).active
    assert sheet is not None and sheet.title == "操作日志"
    rows = [tuple(cell if cell is not None else "" for cell in row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == COLUMNS == ("时间", "操作人", "渠道", "操作", "对象类型", "对象编号", "联络组", "摘要", "修改前",
                                  "修改后", "IP")
    assert rows[1:] == [
        ("2026-11-20 11:00:00", "api-token", "接口", "调整角色", "member", org.wang.id, "", "",
         '{"role": "member"}', '{"role": "secretary"}', "127.0.0.1"),
        ("2026-11-20 10:00:00", "孙秘书", "管理后台", "通过注册", "member", org.li.id, "东山镇", "", "", "",
         "10.0.0.7"),
    ]
    assert (await api.get(f"{AUDIT}.xlsx?until=yesterday", headers=ADMIN_AUTH)).status == 422


# --- the channel each entry point sets ----------------------------------------------------------------------


async def test_a_message_is_chat_whether_answered_at_once_or_from_the_inbox(
    db: Database, tmp_path: Path, db_url: str
) -> None:
    """What a handler changes is audited as chat, also when the message waited in the inbox for the drainer (a
    task of its own, started by nobody's request)."""
    seen: list[tuple[str, Channel]] = []
    router = Router("probe")

    @router.fallback()
    async def probe(ctx: Context) -> str:
        seen.append((ctx.text, audit.origin().channel))
        return "ok"

    await keep_in_inbox(db, "sim-a", "留在收件箱")
    async with running_app(make_settings(tmp_path, db_url), FrozenClock(), routers=[router]) as app:
        await app.dispatcher.handle_inbox()
        assert await app.chat("sim-b").says("直接回答") == "ok"
    assert seen == [("留在收件箱", Channel.CHAT), ("直接回答", Channel.CHAT)]
    assert audit.origin().channel is Channel.SYSTEM  # nothing leaks out of the messages
