"""/api/v1/reports over HTTP, the Excel export, and fetching photos from the (mock) WeChat media API."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api import API_PREFIX
from bot.cli.main import main
from bot.domain.media import MAX_ATTEMPTS, new_photo
from bot.exports.reports import HISTORY_COLUMNS, REPORT_COLUMNS, export_reports
from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from models.audit import Channel
from models.delivery import Delivery
from models.report import PhotoStatus, ReportPhoto, ReportStatus
from scheduler.photos import fetch_due_photos
from tests.audit_support import events_of, only_event
from tests.outbound_support import MockApi, build_services, mock_api, outbound_settings  # noqa: F401
from tests.report_support import MARKET_BODY, MARKET_TITLE, SCHOOL_BODY, SCHOOL_TITLE, People, T, seed_people
from tests.report_support import file_report as file
from tests.support import ADMIN_AUTH

REPORTS = f"{API_PREFIX}/reports"


@pytest.fixture
async def people(db: Database) -> People:
    return await seed_people(db)


@pytest.fixture
async def filed(db: Database, people: People) -> dict[str, int]:
    return {
        "market": await file(db, people.wang, MARKET_TITLE, MARKET_BODY),
        "school": await file(db, people.li, SCHOOL_TITLE, SCHOOL_BODY, status=ReportStatus.ADOPTED),
        "old": await file(db, people.li, "去年的报送", SCHOOL_BODY, year=2025),
        "draft": await file(db, people.wang, "草稿", "", status=ReportStatus.DRAFT),
    }


# --- reading ---------------------------------------------------------------------------------------

async def ids(api: TestClient, query: str) -> list[int]:
    response = await api.get(f"{REPORTS}?{query}", headers=ADMIN_AUTH)
    assert response.status == 200, await response.text()
    return [item["id"] for item in (await response.json())["items"]]


async def test_filters(api: TestClient, people: People, filed: dict[str, int]) -> None:
    assert await ids(api, "") == sorted(filed.values())
    assert await ids(api, "year=2026&status=submitted") == [filed["market"]]
    assert await ids(api, "status=adopted") == [filed["school"]]
    assert await ids(api, "group=东山镇") == [filed["school"], filed["old"]]
    assert await ids(api, f"group={people.chengguan}&status=draft") == [filed["draft"]]
    assert await ids(api, f"member={people.li.id}&year=2025") == [filed["old"]]
    assert await ids(api, "per_page=1&page=2") == [filed["school"]]
    page = await (await api.get(f"{REPORTS}?year=2026", headers=ADMIN_AUTH)).json()
    assert page["total"] == 3
    market = next(item for item in page["items"] if item["id"] == filed["market"])
    assert market["member"] == {"id": people.wang.id, "name": "王芳"}
    assert market["group"] == {"id": people.chengguan, "name": "城关镇"} and market["length"] == len(MARKET_BODY)


async def test_detail_and_errors(api: TestClient, filed: dict[str, int]) -> None:
    response = await api.get(f"{REPORTS}/{filed['market']}", headers=ADMIN_AUTH)
    body = await response.json()
    assert body["body"] == MARKET_BODY and [h["action"] for h in body["history"]] == ["submit"]
    assert (await api.get(REPORTS)).status == 401
    assert (await api.get(REPORTS, headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await api.get(f"{REPORTS}/9999", headers=ADMIN_AUTH)).status == 404
    assert (await api.get(f"{REPORTS}/abc", headers=ADMIN_AUTH)).status == 404
    for query in ("status=lost", "year=abc", "member=0", "colour=red", "per_page=1000"):
        response = await api.get(f"{REPORTS}?{query}", headers=ADMIN_AUTH)
        assert response.status == 422 and (await response.json())["error"] == "invalid", query


# --- actions ---------------------------------------------------------------------------------------

async def post(api: TestClient, report_id: int, action: str, body: object = None) -> aiohttp.ClientResponse:
    return await api.post(f"{REPORTS}/{report_id}/{action}", json=body if body is not None else {}, headers=ADMIN_AUTH)


async def test_actions_move_the_report_and_tell_the_member(api: TestClient, db: Database, people: People,
                                                          filed: dict[str, int]) -> None:
    market = filed["market"]
    assert (await post(api, market, "adopt", {"level": "city"})).status == 409  # not under review yet
    response = await post(api, market, "accept")
    assert response.status == 200 and (await response.json())["status"] == "under_review"
    assert (await post(api, market, "return", {"comment": " "})).status == 422
    assert (await post(api, market, "adopt", {"level": "galactic"})).status == 422
    assert (await post(api, market, "adopt", {"level": "city", "extra": 1})).status == 422
    body = await (await post(api, market, "adopt", {"level": "city"})).json()
    assert body["status"] == "adopted" and body["adoption_level"] == "city" and body["notified"] is True
    instruction = {"text": "请市农业农村局研究落实。", "leader": "副市长 刘某", "given_at": "2026-11-25T09:00:00+08:00"}
    assert (await post(api, market, "instruct", {**instruction, "given_at": "2026-11-25T09:00:00"})).status == 422
    body = await (await post(api, market, "instruct", instruction)).json()
    assert body["instructions"][0]["leader"] == "副市长 刘某"
    assert [h["action"] for h in body["history"]] == ["submit", "accept", "adopt", "instruct"]
    assert body["history"][1]["by"] is None  # the API, not a member
    assert (await post(api, market, "withdraw")).status == 404  # not an API action
    assert (await post(api, 9999, "accept")).status == 404
    assert (await post(api, filed["draft"], "accept")).status == 409
    async with db.reader() as session:
        told = (await session.scalars(select(Delivery).where(Delivery.member_id == people.wang.id)
                                      .order_by(Delivery.id))).all()
    assert [row.payload["text"] for row in told] == [
        T("report.notify.accept", title=MARKET_TITLE, comment="无", level=""),
        T("report.notify.adopt", title=MARKET_TITLE, comment="无", level=T("report.level.city")),
        T("report.notify.instruct", title=MARKET_TITLE, comment="副市长 刘某：请市农业农村局研究落实。", level=""),
    ]
    assert {row.recipient for row in told} == {"sim-wang"}
    for action in ("accept", "adopt", "instruct"):  # the refused ones left nothing
        await only_event(db, f"report.{action}", channel=Channel.API, actor_label="api-token",
                         object_type="report", object_id=market)
    assert (await only_event(db, "report.adopt")).after == {"status": "adopted", "adoption_level": "city"}
    assert await events_of(db, "report.submit") == []  # the author's own doing


# --- export ----------------------------------------------------------------------------------------

async def test_export_has_the_years_submitted_reports(db: Database, filed: dict[str, int], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    output = tmp_path / "out" / "reports.xlsx"
    count = await export_reports(db, 2026, output, zone=ZoneInfo("Asia/Shanghai"), texts=T)
    assert count == 2
    workbook = load_workbook(output)
    sheet, history = workbook.worksheets
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == REPORT_COLUMNS
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in rows[1:]] == [
        (filed["market"], MARKET_TITLE, "王芳", "城关镇", T("report.status.submitted")),
        (filed["school"], SCHOOL_TITLE, "李强", "东山镇", T("report.status.adopted")),
    ]
    assert rows[1][7] == len(MARKET_BODY) and rows[1][8] == "2026-11-21 09:00"
    logged = list(history.iter_rows(values_only=True))
    assert logged[0] == HISTORY_COLUMNS and len(logged) == 3  # the header and the two submissions


def test_export_command(db: Database, filed: dict[str, int], tmp_path: Path, db_url: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    output = tmp_path / "r.xlsx"
    assert main(["--config", str(config), "export", "reports", "--year", "2025", "--output", str(output)]) == 0
    assert "1 reports of 2025" in capsys.readouterr().out
    from openpyxl import load_workbook

    assert [row[1] for row in load_workbook(output).active.iter_rows(min_row=2, values_only=True)] == ["去年的报送"]


# --- photos ----------------------------------------------------------------------------------------

async def test_photos_are_fetched_and_a_failed_fetch_is_retried(
    db: Database, people: People, filed: dict[str, int], clock: FrozenClock, tmp_path: Path, db_url: str,
    mock_api: MockApi,  # noqa: F811
) -> None:
    settings = outbound_settings(tmp_path, db_url, mock_api.url)
    mock_api.mock.add_media("MEDIA-1", b"\xff\xd8\xff\xe0 a jpeg")
    mock_api.mock.add_media("MEDIA-2", b"\x89PNG a png")
    async with db.session() as session:
        for media in ("MEDIA-1", "MEDIA-2"):
            session.add(new_photo(filed["market"], "mp", media, "", clock.now()))
        session.add(new_photo(filed["market"], "sim", "sim-7", "http://127.0.0.1/x.jpg", clock.now()))
    async with aiohttp.ClientSession() as http:
        services = build_services(db, clock, settings, http)
        mock_api.mock.fail_next(-1, times=1, path="/cgi-bin/media/get")  # system busy, once
        first = await fetch_due_photos(services)
        assert (first.stored, first.retrying, first.failed) == (1, 1, 0)
        assert (await fetch_due_photos(services)).stored == 0  # the retry is not due yet
        clock.advance(minutes=2)
        assert (await fetch_due_photos(services)).stored == 1
    async with db.reader() as session:
        photos = (await session.scalars(select(ReportPhoto).order_by(ReportPhoto.id))).all()
    assert [p.status for p in photos] == [PhotoStatus.STORED, PhotoStatus.STORED, PhotoStatus.EXTERNAL]
    stored = {p.media_id: Path(settings.media_dir) / p.path for p in photos if p.path}
    assert stored["MEDIA-1"].read_bytes().startswith(b"\xff\xd8") and stored["MEDIA-2"].suffix == ".png"
    assert sorted(p.attempts for p in photos) == [0, 1, 2]


async def test_an_expired_media_id_is_marked_failed_but_kept(
    db: Database, people: People, filed: dict[str, int], clock: FrozenClock, tmp_path: Path, db_url: str,
    mock_api: MockApi,  # noqa: F811
) -> None:
    settings = outbound_settings(tmp_path, db_url, mock_api.url)
    async with db.session() as session:
        session.add(new_photo(filed["market"], "mp", "EXPIRED", "", clock.now()))
    async with aiohttp.ClientSession() as http:
        summary = await fetch_due_photos(build_services(db, clock, settings, http))
    assert summary.failed == 1
    async with db.reader() as session:
        photo = (await session.scalars(select(ReportPhoto))).one()
    assert photo.status is PhotoStatus.FAILED and photo.media_id == "EXPIRED" and "40007" in photo.last_error
    assert MAX_ATTEMPTS > 10
