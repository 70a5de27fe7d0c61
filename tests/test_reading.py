"""Reading links over HTTP (``GET /r/<token>``): a pushed link counts the notice (and a study material) read
before redirecting, a text material is shown as an escaped page, the personal link of ``学习 N`` works the
same way, and tampered, malformed, expired, foreign or unknown tokens are refused.

The clock stands at 2026-11-21 09:00 in Shanghai; pushes are read from the delivery queue as queued.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain import notices
from bot.domain.notices import Outbox
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from models.delivery import Delivery
from models.notice import NoticeKind, NoticeReceipt, ReadVia, StudyRead
from tests.activity_support import Org, T
from tests.support import AppHarness, running_app
from tests.test_study_chat import REPORT, REPORT_URL, publish

LINK = re.compile(r"http://127\.0\.0\.1:8080(/r/\S+)")
HOSTILE = "第一条 <script>alert('x')</script> & “引号”\n第二条 <b>不是粗体</b>"


@pytest.fixture
async def app(org: Org, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock) as harness:
        yield harness


async def pushed_link(db: Database, user: str) -> str:
    """The path of the reading link in the latest push queued to ``user``."""
    async with db.reader() as session:
        row = await session.scalar(select(Delivery).where(Delivery.recipient == user)
                                   .order_by(Delivery.id.desc()).limit(1))  # type: ignore[union-attr]
    assert row is not None
    found = LINK.search(row.payload["text"])
    assert found is not None, row.payload["text"]
    return found.group(1)


async def read_state(db: Database, member_id: int | None) -> tuple[list[datetime | None], dict[int, ReadVia]]:
    """(the read times of the member's receipts, oldest notice first; their study reads by material)."""
    async with db.reader() as session:
        receipts = (await session.scalars(select(NoticeReceipt.read_at).where(NoticeReceipt.member_id == member_id)
                                          .order_by(NoticeReceipt.notice_id))).all()
        rows = (await session.execute(select(StudyRead.material_id, StudyRead.via)
                                      .where(StudyRead.member_id == member_id))).all()
    return list(receipts), {material_id: via for material_id, via in rows}


def assert_private(headers: Mapping[str, str]) -> None:
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"


# --- counted, then sent on ------------------------------------------------------------------------------------


async def test_a_pushed_link_counts_the_read_and_redirects(app: AppHarness, db: Database, org: Org,
                                                           clock: FrozenClock) -> None:
    material = await publish(app, REPORT, url=REPORT_URL)
    path = await pushed_link(db, "sim-wang")
    assert path.startswith("/r/n") and REPORT_URL not in path
    clock.advance(hours=2)
    response = await app.client.get(path, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == REPORT_URL
    assert_private(response.headers)
    assert await read_state(db, org.wang.id) == ([clock.now()], {material.id: ReadVia.LINK})
    # Opened again later: still the first read.
    clock.advance(hours=1)
    assert (await app.client.get(path, allow_redirects=False)).status == 302
    assert await read_state(db, org.wang.id) == ([clock.now() - timedelta(hours=1)], {material.id: ReadVia.LINK})
    assert await read_state(db, org.zhou.id) == ([None], {})  # nobody else was counted


async def test_a_broadcast_link_counts_the_receipt_only(app: AppHarness, db: Database, org: Org,
                                                        clock: FrozenClock) -> None:
    services = app.services
    outbox = Outbox(services.texts, services.settings, await services.signer(), clock.now())
    async with db.session() as session:
        notice = await notices.create_notice(session, outbox, kind=NoticeKind.BROADCAST, title="通知",
                                             body="请于月底前提交", url="https://example.org/plan", by=org.qian)
    response = await app.client.get(await pushed_link(db, "sim-li"), allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "https://example.org/plan"
    assert await read_state(db, org.li.id) == ([clock.now()], {})
    async with db.reader() as session:
        assert (await notices.notice_report(session, notice)).read == 1


async def test_a_text_material_is_shown_escaped_after_counting(app: AppHarness, db: Database, org: Org,
                                                               clock: FrozenClock) -> None:
    material = await publish(app, "学习<材料>", body=HOSTILE)
    path = await pushed_link(db, "sim-wang")  # a text material's push carries a link too, to this page
    response = await app.client.get(path, allow_redirects=False)
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; “引号”" in html
    assert "<script>" not in html and "<b>" not in html
    assert "<h1>学习&lt;材料&gt;</h1>" in html and "<p>第二条 &lt;b&gt;不是粗体&lt;/b&gt;</p>" in html
    assert T("study_chat.reading.read_note") in html
    assert_private(response.headers)
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'nonce-") and "script-src" not in policy
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None and f'<style nonce="{nonce.group(1)}">' in html
    assert await read_state(db, org.wang.id) == ([clock.now()], {material.id: ReadVia.LINK})


async def test_the_personal_link_of_a_material_from_chat(app: AppHarness, db: Database, org: Org,
                                                         clock: FrozenClock) -> None:
    await publish(app, "政协章程", body="第一章 总纲")  # pushed first: its receipt stays unread
    link_material = await publish(app, REPORT, url=REPORT_URL)
    answer = await app.chat("sim-zhou").says("学习 1")  # the newest: the link material
    found = LINK.search(answer)
    assert found is not None and found.group(1).startswith(f"/r/m{link_material.id}-{org.zhou.id}.")
    response = await app.client.get(found.group(1), allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == REPORT_URL
    # The material's own link counts the material and, with it, its push's receipt.
    assert await read_state(db, org.zhou.id) == ([None, clock.now()], {link_material.id: ReadVia.LINK})


# --- refused ----------------------------------------------------------------------------------------------------


async def test_a_tampered_or_malformed_token_is_refused(app: AppHarness, db: Database, org: Org,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    await publish(app, REPORT, url=REPORT_URL)
    path = await pushed_link(db, "sim-wang")
    payload, expiry, mac = path.removeprefix("/r/").split(".")
    other_member = payload.rsplit("-", 1)[0] + f"-{org.zhou.id}"
    caplog.set_level(logging.INFO, logger="bot.web.reading")
    for forged in (f"/r/{other_member}.{expiry}.{mac}",  # someone else's read
                   f"/r/{payload}.{int(expiry) + 86400}.{mac}",  # a longer life
                   f"/r/{payload}.{expiry}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
                   "/r/n1-1", "/r/garbage..", f"/r/{payload}.{expiry}.{mac}x"):
        response = await app.client.get(forged, allow_redirects=False)
        assert response.status == 403, forged
        assert T("study_chat.reading.forbidden") in await response.text()
        assert "Location" not in response.headers
    assert "reading link refused" in caplog.text and mac not in caplog.text  # logged, without the token
    assert await read_state(db, org.wang.id) == ([None], {})
    assert await read_state(db, org.zhou.id) == ([None], {})


async def test_an_expired_token_is_refused(app: AppHarness, db: Database, org: Org, clock: FrozenClock) -> None:
    await publish(app, REPORT, url=REPORT_URL)
    path = await pushed_link(db, "sim-wang")
    clock.advance(days=app.services.settings.notices.read_link_days - 1)
    assert (await app.client.get(path, allow_redirects=False)).status == 302  # still good the day before
    clock.advance(days=2)
    response = await app.client.get(path, allow_redirects=False)
    assert response.status == 403 and T("study_chat.reading.forbidden") in await response.text()


async def test_genuine_tokens_for_something_else_or_nothing(app: AppHarness, db: Database, org: Org,
                                                            clock: FrozenClock) -> None:
    signer = await app.services.signer()
    later = clock.now() + timedelta(days=1)
    # Signed by us but not a reading link (the venue screen's payload): refused like a forgery.
    assert (await app.client.get(f"/r/{signer.sign('screen-1', later)}")).status == 403
    material = await publish(app, REPORT, url=REPORT_URL)
    for payload in ("n999-1", f"n1-{org.zhao.id}",  # no such notice; a member it never reached (suspended)
                    "m999-1", f"m{material.id}-999"):  # no such material; no such member
        response = await app.client.get(f"/r/{signer.sign(payload, later)}", allow_redirects=False)
        assert response.status == 404, payload
        assert T("study_chat.reading.not_found") in await response.text()
    # Only GET counts: a HEAD (a link checker) is not a read.
    assert (await app.client.head(await pushed_link(db, "sim-wang"))).status == 405
    assert await read_state(db, org.wang.id) == ([None], {})
