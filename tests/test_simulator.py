"""The simulator's page and JSON API, and pushes appearing in its chat."""

from __future__ import annotations

from typing import Any


async def test_page_is_served_in_chinese(app: Any) -> None:
    response = await app.client.get("/sim")
    assert response.status == 200
    assert "掌上履职" in await response.text()


async def test_send_returns_the_reply_and_the_chat_keeps_both_sides(app: Any) -> None:
    chat = app.chat("sim-wang")
    assert "注册" in await chat.says("帮助")
    response = await app.client.get("/sim/api/messages", params={"user": "sim-wang"})
    messages = (await response.json())["messages"]
    assert [m["direction"] for m in messages] == ["in", "out"]
    assert messages[0]["payload"]["text"] == "帮助"
    after = await app.client.get("/sim/api/messages", params={"user": "sim-wang", "after": messages[-1]["id"]})
    assert (await after.json())["messages"] == []


async def test_menu_click_scan_location_and_follow(app: Any) -> None:
    chat = app.chat("sim-li")
    assert "注册" in await chat.clicks("HELP")
    assert "注册" in await chat.follows()
    assert "帮助" in await chat.scans("unknown-scene")
    assert "注册" in await chat.shares_location(30.27, 120.15, "县政协")  # a location is a sign-in: register first


async def test_replaying_a_message_id_is_deduplicated(app: Any) -> None:
    chat = app.chat("sim-zhao")
    first = await chat.send("text", text="帮助", msg_id="m-1")
    second = await chat.send("text", text="帮助", msg_id="m-1")
    assert first == second


async def test_invalid_input_gets_422_with_the_field(app: Any) -> None:
    bad_type = await app.client.post("/sim/api/send", json={"user": "sim-x", "type": "teleport"})
    assert bad_type.status == 422
    assert (await bad_type.json())["detail"][0]["field"] == "type"
    not_json = await app.client.post("/sim/api/send", data=b"{{{", headers={"Content-Type": "application/json"})
    assert not_json.status == 422
    bad_after = await app.client.get("/sim/api/messages", params={"user": "x", "after": "abc"})
    assert bad_after.status == 422
    bad_latitude = await app.client.post("/sim/api/send", json={"user": "sim-x", "type": "location", "latitude": 200})
    assert bad_latitude.status == 422


async def test_users_lists_the_roster(app: Any) -> None:
    from models.member import Member

    async with app.services.db.session() as session:
        session.add(Member(name="周委员", mobile="13700000007"))
    users = (await (await app.client.get("/sim/api/users")).json())["users"]
    assert [u["name"] for u in users] == ["周委员"]


async def test_healthz(app: Any) -> None:
    response = await app.client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
