"""签到 through the Official Account callback, signed and encrypted as the platform sends it: a SCAN of the
venue screen's parametric QR code, a follow through it (``qrscene_`` prefix), a location message, the
platform's retries, and the periodic LOCATION report that must stay silent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.emulator import OfficialAccountPlatform, event_fields, text_fields
from bot.domain.activities import scene_for, shown_code
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from models.activity import Activity, SignInMethod
from models.member import Identity, Platform
from tests.activity_support import VENUE, Org, T, attendance_rows, make_activity, seed_org
from tests.support import AppHarness, running_app
from tests.test_official_account import AES_KEY, APP_ID, TOKEN, post, wechat_settings

PERIOD = 30
WANG = "o-wang-openid"


@pytest.fixture
async def org(db: Database) -> Org:
    org = await seed_org(db)
    async with db.session() as session:
        session.add(Identity(member_id=org.wang.id or 0, platform=Platform.OFFICIAL, external_id=WANG))
    return org


@pytest.fixture
def platform() -> OfficialAccountPlatform:
    return OfficialAccountPlatform(TOKEN, APP_ID, AES_KEY, "safe")


@pytest.fixture
async def app(org: Org, tmp_path: Path, db_url: str, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(wechat_settings(tmp_path, db_url, "safe"), clock) as harness:
        yield harness


@pytest.fixture
async def meeting(db: Database, org: Org, clock: FrozenClock) -> Activity:
    return await make_activity(db, clock.now() + timedelta(minutes=30), geofence=(*VENUE, 200))


def scene(activity: Activity, clock: FrozenClock) -> str:
    return scene_for(activity.id or 0, shown_code(activity, clock.now(), PERIOD).code)


def signed(activity: Activity) -> str:
    return T("signin.signed_in", title=activity.title, time="09:00")


async def test_a_scan_of_the_screen_signs_in(app: AppHarness, db: Database, org: Org, meeting: Activity,
                                             clock: FrozenClock, platform: OfficialAccountPlatform) -> None:
    answer = await post(app, platform, event_fields(WANG, "SCAN", key=scene(meeting, clock), Ticket="t-1"))
    assert answer.status == 200 and "<Encrypt>" in answer.raw
    assert answer.fields["ToUserName"] == WANG and answer.text == signed(meeting)
    assert (await attendance_rows(db, meeting.id or 0))[org.wang.id or 0].method is SignInMethod.QR


async def test_the_platforms_retries_are_answered_alike_and_recorded_once(
    app: AppHarness, db: Database, meeting: Activity, clock: FrozenClock, platform: OfficialAccountPlatform
) -> None:
    fields = event_fields(WANG, "SCAN", key=scene(meeting, clock), create_time=1_795_000_000)
    first = await post(app, platform, fields)
    clock.advance(seconds=3)
    answers = [await post(app, platform, fields) for _ in range(2)]  # WeChat retries the same event
    assert first.text == signed(meeting) and [a.text for a in answers] == [first.text] * 2
    typed = text_fields(WANG, f"签到 {shown_code(meeting, clock.now(), PERIOD).code}", msg_id=990001)
    assert (await post(app, platform, typed)).text == (await post(app, platform, typed)).text
    assert len(await attendance_rows(db, meeting.id or 0)) == 1


async def test_a_stranger_following_through_the_code_is_welcomed_and_told_to_register(
    app: AppHarness, db: Database, meeting: Activity, clock: FrozenClock, platform: OfficialAccountPlatform
) -> None:
    follow = event_fields("o-stranger", "subscribe", key=f"qrscene_{scene(meeting, clock)}", Ticket="t-2")
    answer = await post(app, platform, follow)
    assert answer.text == f"{T('welcome.new')}\n\n{T('signin.not_registered')}"
    assert await attendance_rows(db, meeting.id or 0) == {}


async def test_a_member_following_again_through_the_code_signs_in(
    app: AppHarness, org: Org, meeting: Activity, clock: FrozenClock, platform: OfficialAccountPlatform
) -> None:
    follow = event_fields(WANG, "subscribe", key=f"qrscene_{scene(meeting, clock)}", Ticket="t-3")
    answer = await post(app, platform, follow)
    assert answer.text == f"{T('welcome.back', name=org.wang.name)}\n\n{signed(meeting)}"


async def test_a_plain_follow_is_still_the_welcome(app: AppHarness, platform: OfficialAccountPlatform) -> None:
    assert (await post(app, platform, event_fields("o-new", "subscribe"))).text == T("welcome.new")


async def test_a_location_message_signs_in_and_the_location_report_stays_silent(
    app: AppHarness, db: Database, org: Org, meeting: Activity, platform: OfficialAccountPlatform
) -> None:
    report = event_fields(WANG, "LOCATION", Latitude=str(VENUE[0]), Longitude=str(VENUE[1]), Precision="30")
    assert (await post(app, platform, report)).raw == "success"  # the periodic report: no answer, no sign-in
    assert await attendance_rows(db, meeting.id or 0) == {}
    location: dict[str, Any] = {"ToUserName": "gh_lvzhi", "FromUserName": WANG, "CreateTime": 1_795_000_100,
                                "MsgType": "location", "Location_X": VENUE[0], "Location_Y": VENUE[1], "Scale": 16,
                                "Label": "县政协", "MsgId": 990002}
    assert (await post(app, platform, location)).text == signed(meeting)
    assert (await attendance_rows(db, meeting.id or 0))[org.wang.id or 0].method is SignInMethod.LOCATION
