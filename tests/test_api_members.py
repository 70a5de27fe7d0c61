"""The admin API over HTTP: token, listing, decisions that notify the applicant, and every error path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api import API_PREFIX, endpoints
from bot.api.openapi import document as openapi_document
from bot.domain.members import bind, file_application
from bot.domain.roster import import_file
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.audit import Channel
from models.delivery import Delivery
from models.member import (
    ApplicationStatus,
    Identity,
    LiaisonGroup,
    Member,
    MemberApplication,
    MemberStatus,
    Role,
    Sector,
)
from tests.audit_support import events_of, only_event
from tests.conftest import make_settings
from tests.support import ADMIN_AUTH, ADMIN_TOKEN, admin_api_client

ROSTER = """姓名,性别,手机号,界别,专委会,联络组,工作单位及职务,届次,角色
王芳,女,13800000001,经济界,提案委员会,城关镇,县农商银行行长,第六届,组长
李强,男,13800000002,教育界,教科卫体委员会,城关镇,县第一中学校长,第六届,委员
赵敏,女,13800000003,医药卫生界,,东山镇,县人民医院院长,第六届,委员
钱秘书,女,13800000009,,,,县政协联络办,,秘书
"""


@pytest.fixture
async def people(db: Database, tmp_path: Path, clock: FrozenClock) -> dict[str, int]:
    """The small roster, the secretary bound in the simulator, and one stranger's pending application."""
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    await import_file(db, path)
    async with db.session() as session:
        secretary = await session.scalar(select(Member).where(Member.mobile == "13800000009"))
        assert secretary is not None
        await bind(session, secretary, "sim", "sim-secretary", clock.now())
        group_id = await session.scalar(select(LiaisonGroup.id).where(LiaisonGroup.name == "东山镇"))
        sector_id = await session.scalar(select(Sector.id).where(Sector.name == "经济界"))
        application = await file_application(
            session, name="林晓梅", mobile="13900000001", sector_id=sector_id, group_id=group_id,
            platform="sim", external_id="sim-stranger", now=clock.now(), texts=Catalogue(),
        )
        ids = {"applicant": application.member_id, "secretary": secretary.id, "group": group_id}
        for mobile, name in (("13800000001", "wang"), ("13800000002", "li"), ("13800000003", "zhao")):
            ids[name] = await session.scalar(select(Member.id).where(Member.mobile == mobile))
    return {key: int(value) for key, value in ids.items() if value is not None}


async def deliveries(db: Database) -> list[Delivery]:
    async with db.reader() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


# --- the token ------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"Authorization": ADMIN_TOKEN},
    {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
])
async def test_missing_or_wrong_token_is_401(api: TestClient, headers: dict[str, str]) -> None:
    response = await api.get(f"{API_PREFIX}/members", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_no_configured_token_disables_the_api(
    db: Database, tmp_path: Path, db_url: str, clock: FrozenClock
) -> None:
    client = await admin_api_client(db, make_settings(tmp_path, db_url), clock)
    try:
        for headers in ({}, {"Authorization": "Bearer "}):
            response = await client.get(f"{API_PREFIX}/members", headers=headers)
            assert response.status == 503
            body = await response.json()
            assert body["error"] == "api_disabled" and "admin.api_token" in body["message"]
    finally:
        await client.close()


async def test_openapi_document_covers_every_route(api: TestClient) -> None:
    response = await api.get(f"{API_PREFIX}/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document == openapi_document(endpoints()) and document["openapi"].startswith("3.")
    served = set()
    for resource in api.app.router.resources():  # type: ignore[union-attr]
        path = resource.canonical
        if path.startswith(API_PREFIX) and not path.endswith("openapi.json"):
            for route in resource:
                if route.method != "HEAD":
                    served.add((path.removeprefix(API_PREFIX), route.method.lower()))
    documented = {(path, method) for path, item in document["paths"].items() for method in item
                  if method != "parameters"}
    assert served == documented


# --- reading --------------------------------------------------------------------------------------

async def test_list_with_filters_and_pages(api: TestClient, people: dict[str, int]) -> None:
    response = await api.get(f"{API_PREFIX}/members", headers=ADMIN_AUTH)
    body = await response.json()
    assert response.status == 200 and body["total"] == 5 and len(body["items"]) == 5

    body = await (await api.get(f"{API_PREFIX}/members?status=pending", headers=ADMIN_AUTH)).json()
    assert [item["name"] for item in body["items"]] == ["林晓梅"]
    assert body["items"][0]["group"] == {"id": people["group"], "name": "东山镇"}

    body = await (await api.get(f"{API_PREFIX}/members", params={"group": "城关镇"}, headers=ADMIN_AUTH)).json()
    assert {item["name"] for item in body["items"]} == {"王芳", "李强"}
    body = await (await api.get(f"{API_PREFIX}/members?group={people['group']}", headers=ADMIN_AUTH)).json()
    assert {item["name"] for item in body["items"]} == {"赵敏", "林晓梅"}
    body = await (await api.get(f"{API_PREFIX}/members", params={"sector": "经济界"}, headers=ADMIN_AUTH)).json()
    assert {item["name"] for item in body["items"]} == {"王芳", "林晓梅"}

    page2 = await (await api.get(f"{API_PREFIX}/members?per_page=2&page=2", headers=ADMIN_AUTH)).json()
    assert (page2["total"], page2["page"], len(page2["items"])) == (5, 2, 2)
    assert page2["items"][0]["id"] > (await (await api.get(
        f"{API_PREFIX}/members?per_page=2", headers=ADMIN_AUTH)).json())["items"][1]["id"]


@pytest.mark.parametrize("query", ["status=bogus", "page=0", "per_page=1000", "per_page=x", "colour=red"])
async def test_list_rejects_bad_queries_with_field_errors(api: TestClient, query: str) -> None:
    response = await api.get(f"{API_PREFIX}/members?{query}", headers=ADMIN_AUTH)
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "invalid" and body["fields"][0]["field"] == query.split("=")[0]


async def test_get_one_and_unknown_ids(api: TestClient, people: dict[str, int]) -> None:
    response = await api.get(f"{API_PREFIX}/members/{people['applicant']}", headers=ADMIN_AUTH)
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "pending" and body["identities"] == []
    assert body["application"]["status"] == "pending" and body["application"]["platform"] == "sim"

    secretary = await (await api.get(f"{API_PREFIX}/members/{people['secretary']}", headers=ADMIN_AUTH)).json()
    assert secretary["role"] == "secretary" and secretary["identities"][0]["platform"] == "sim"

    for missing in ("999999", "abc", "-1"):
        response = await api.get(f"{API_PREFIX}/members/{missing}", headers=ADMIN_AUTH)
        assert response.status == 404 and (await response.json())["error"] == "not_found"
    for method in ("approve", "reject"):
        response = await api.post(f"{API_PREFIX}/members/999999/{method}", json={"reason": "x"}, headers=ADMIN_AUTH)
        assert response.status == 404
    response = await api.patch(f"{API_PREFIX}/members/999999", json={"role": "admin"}, headers=ADMIN_AUTH)
    assert response.status == 404


# --- decisions ------------------------------------------------------------------------------------

async def test_secretary_was_told_of_the_application(db: Database, people: dict[str, int]) -> None:
    rows = await deliveries(db)
    assert [(row.recipient, row.platform) for row in rows] == [("sim-secretary", "sim")]
    assert "林晓梅" in rows[0].payload["text"] and "审核" in rows[0].payload["text"]


async def test_approve_activates_binds_and_notifies_the_applicant(
    api: TestClient, db: Database, people: dict[str, int]
) -> None:
    applicant = people["applicant"]
    response = await api.post(f"{API_PREFIX}/members/{applicant}/approve", headers=ADMIN_AUTH)
    body = await response.json()
    assert response.status == 200, body
    assert body["status"] == "active" and body["notified"] is True
    assert body["application"]["status"] == "approved"
    assert body["identities"][0]["platform"] == "sim"

    queued = [row for row in await deliveries(db) if row.recipient == "sim-stranger"]
    assert len(queued) == 1
    assert queued[0].idempotency_key == f"member-approved:{applicant}"
    assert queued[0].member_id == applicant and "通过" in queued[0].payload["text"]
    async with db.reader() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "sim-stranger"))
    assert identity is not None and identity.member_id == applicant

    again = await api.post(f"{API_PREFIX}/members/{applicant}/approve", headers=ADMIN_AUTH)
    assert again.status == 409 and (await again.json())["error"] == "not_pending"
    assert len([row for row in await deliveries(db) if row.recipient == "sim-stranger"]) == 1
    # One event: the refused second approval rolled back with its record.
    event = await only_event(db, "member.approve", channel=Channel.API, actor_member_id=None,
                             actor_label="api-token", object_type="member", object_id=applicant)
    assert event.ip == "127.0.0.1"


async def test_approving_an_active_member_is_409(api: TestClient, people: dict[str, int]) -> None:
    response = await api.post(f"{API_PREFIX}/members/{people['li']}/approve", headers=ADMIN_AUTH)
    assert response.status == 409


@pytest.mark.parametrize(("body", "field"), [
    (None, "reason"),
    ({}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": "x" * 201}, "reason"),
    ({"reason": 5}, "reason"),
    ({"reason": "ok", "extra": 1}, "extra"),
    ([1, 2], "body"),
    ("not json", "body"),
])
async def test_reject_validates_its_body(
    api: TestClient, db: Database, people: dict[str, int], body: Any, field: str
) -> None:
    url = f"{API_PREFIX}/members/{people['applicant']}/reject"
    if body == "not json":
        response = await api.post(url, data=b"{reason:", headers=ADMIN_AUTH)
    elif body is None:
        response = await api.post(url, headers=ADMIN_AUTH)
    else:
        response = await api.post(url, json=body, headers=ADMIN_AUTH)
    assert response.status == 422
    payload = await response.json()
    assert payload["error"] == "invalid" and payload["fields"][0]["field"] == field
    async with db.reader() as session:
        member = await session.get(Member, people["applicant"])
    assert member is not None and member.status is MemberStatus.PENDING


async def test_reject_tells_the_applicant_the_reason(
    api: TestClient, db: Database, people: dict[str, int]
) -> None:
    applicant = people["applicant"]
    response = await api.post(f"{API_PREFIX}/members/{applicant}/reject", json={"reason": "名册中没有此人"},
                              headers=ADMIN_AUTH)
    body = await response.json()
    assert response.status == 200, body
    assert body["status"] == "rejected" and body["notified"] is True and body["identities"] == []
    assert body["application"] == {**body["application"], "status": "rejected", "reason": "名册中没有此人"}
    queued = [row for row in await deliveries(db) if row.recipient == "sim-stranger"]
    assert len(queued) == 1 and "名册中没有此人" in queued[0].payload["text"]
    async with db.reader() as session:
        application = await session.scalar(select(MemberApplication))
    assert application is not None and application.status is ApplicationStatus.REJECTED


# --- changes --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),
    ({"role": "chair"}, "role"),
    ({"status": "pending"}, "status"),
    ({"status": "rejected"}, "status"),
    ({"nickname": "x"}, "nickname"),
    ({"scope_group_ids": ["a"]}, "scope_group_ids.0"),
    ({"scope_group_ids": [424242]}, "scope_group_ids"),
])
async def test_patch_validates_its_body(
    api: TestClient, people: dict[str, int], body: dict[str, Any], field: str
) -> None:
    response = await api.patch(f"{API_PREFIX}/members/{people['li']}", json=body, headers=ADMIN_AUTH)
    assert response.status == 422, await response.text()
    assert (await response.json())["fields"][0]["field"] == field


async def test_patch_role_status_and_scope(api: TestClient, db: Database, people: dict[str, int]) -> None:
    url = f"{API_PREFIX}/members/{people['li']}"
    body = await (await api.patch(url, json={"role": "group_leader"}, headers=ADMIN_AUTH)).json()
    assert body["role"] == "group_leader"
    async with db.reader() as session:
        group = await session.scalar(select(LiaisonGroup).where(LiaisonGroup.name == "城关镇"))
        wang = await session.get(Member, people["wang"])
    assert group is not None and group.leader_id == people["li"]
    assert wang is not None and wang.role is Role.MEMBER  # one leader per group

    body = await (await api.patch(url, json={"status": "suspended"}, headers=ADMIN_AUTH)).json()
    assert body["status"] == "suspended"

    secretary_url = f"{API_PREFIX}/members/{people['secretary']}"
    body = await (await api.patch(secretary_url, json={"scope_group_ids": [people["group"]] * 2},
                                  headers=ADMIN_AUTH)).json()
    assert body["scope_group_ids"] == [people["group"]]
    # Each edit one event, with only the fields it changed.
    await only_event(db, "member.role", channel=Channel.API, object_id=people["li"],
                     before={"role": "member"}, after={"role": "group_leader"})
    edits = await events_of(db, "member.update")
    assert [(e.object_id, e.before, e.after) for e in edits] == [
        (people["li"], {"status": "active"}, {"status": "suspended"}),
        (people["secretary"], {"scope_group_ids": []}, {"scope_group_ids": [people["group"]]}),
    ]


async def test_patch_cannot_bypass_approval(api: TestClient, people: dict[str, int]) -> None:
    response = await api.patch(f"{API_PREFIX}/members/{people['applicant']}", json={"status": "active"},
                               headers=ADMIN_AUTH)
    assert response.status == 409


async def test_group_leader_needs_a_group(api: TestClient, people: dict[str, int]) -> None:
    response = await api.patch(f"{API_PREFIX}/members/{people['secretary']}", json={"role": "group_leader"},
                               headers=ADMIN_AUTH)
    assert response.status == 422 and (await response.json())["fields"][0]["field"] == "role"
