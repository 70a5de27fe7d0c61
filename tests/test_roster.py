"""Roster import: good, bad, GBK, BOM, full-width and .xlsx files; idempotent re-import; dry run; CLI."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli.members import EXIT_BAD_FILE, EXIT_OK, EXIT_ROW_ERRORS, add_members_commands, members_import
from bot.domain.roster import (
    DEMO_APPLICANT,
    DEMO_ROSTER,
    RosterError,
    import_file,
    load_demo,
    normalise_mobile,
)
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.audit import Channel
from models.member import (
    ApplicationStatus,
    Committee,
    LiaisonGroup,
    Member,
    MemberApplication,
    MemberStatus,
    Role,
    Sector,
)
from tests.audit_support import events_of, only_event
from tests.conftest import make_settings

HEADER = "姓名,性别,手机号,界别,专委会,联络组,工作单位及职务,届次,角色"
GOOD = [
    "王芳,女,13800000001,经济界,提案委员会,城关镇,县农商银行行长,第六届,组长",
    "李强,男,13800000002,教育界,教科卫体委员会,城关镇,县第一中学校长,第六届,委员",
    "赵敏,女,13800000003,医药卫生界,,东山镇,县人民医院院长,第六届,",
]
# The team's sample roster (shared/fixtures/roster.csv beside the repository) as it was copied into the package:
# tests must pass from the repository alone, so the copy is pinned by its digest instead of read from there.
SHARED_ROSTER_SHA256 = "de88dbbc31f91dbfe6371f3cd5b7315226b6f2e283692d1c278a0ca5a6b779e5"


def write_csv(tmp_path: Path, lines: list[str], encoding: str = "utf-8", name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEADER, *lines]) + "\r\n").encode(encoding))
    return path


async def count(db: Database, model: type) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def member_by_mobile(db: Database, mobile: str) -> Member | None:
    async with db.reader() as session:
        return await session.scalar(select(Member).where(Member.mobile == mobile))


# --- normalising ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800000001", "13800000001"),
        ("１３８００００００01", "13800000001"),  # full-width digits
        (" 138 0000 0001 ", "13800000001"),
        ("138\u30000000\u30000001", "13800000001"),  # ideographic spaces
        ("138-0000-0001", "13800000001"),
        ("+86 13800000001", "13800000001"),
        (13800000001, "13800000001"),  # an Excel number cell
        (13800000001.0, "13800000001"),
        ("23800000001", None),
        ("1380000001", None),
        ("138000000012", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_mobile(raw: object, expected: str | None) -> None:
    assert normalise_mobile(raw) == expected


# --- good files -----------------------------------------------------------------------------------

async def test_import_good_rows_creates_members_groups_and_leader(db: Database, tmp_path: Path) -> None:
    report = await import_file(db, write_csv(tmp_path, GOOD))

    assert (report.created, report.updated, report.unchanged, report.errors) == (3, 0, 0, [])
    assert (report.groups_created, report.sectors_created, report.committees_created) == (2, 3, 2)
    wang = await member_by_mobile(db, "13800000001")
    assert wang is not None and wang.role is Role.GROUP_LEADER and wang.status is MemberStatus.ACTIVE
    zhao = await member_by_mobile(db, "13800000003")
    assert zhao is not None and zhao.role is Role.MEMBER and zhao.committee_id is None
    async with db.reader() as session:
        group = await session.scalar(select(LiaisonGroup).where(LiaisonGroup.name == "城关镇"))
    assert group is not None and group.leader_id == wang.id


async def test_reimport_is_idempotent(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD)
    await import_file(db, path)
    again = await import_file(db, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (again.groups_created, again.sectors_created, again.committees_created) == (0, 0, 0)
    assert await count(db, Member) == 3


async def test_reimport_updates_changed_rows_matched_by_mobile(db: Database, tmp_path: Path) -> None:
    await import_file(db, write_csv(tmp_path, GOOD))
    changed = [
        "王芳,女,13800000001,经济界,提案委员会,城关镇,县农商银行行长,第六届,委员",  # no longer the leader
        "李强,男,13800000002,教育界,教科卫体委员会,城关镇,县教育局局长,第六届,组长",  # new job, new leader
        GOOD[2],
    ]
    report = await import_file(db, write_csv(tmp_path, changed, name="v2.csv"))
    assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
    li = await member_by_mobile(db, "13800000002")
    assert li is not None and li.work_unit == "县教育局局长" and li.role is Role.GROUP_LEADER
    async with db.reader() as session:
        group = await session.scalar(select(LiaisonGroup).where(LiaisonGroup.name == "城关镇"))
    assert group is not None and group.leader_id == li.id


async def test_blank_role_keeps_an_existing_members_role(db: Database, tmp_path: Path) -> None:
    await import_file(db, write_csv(tmp_path, GOOD))
    without_roles = [line.rsplit(",", 1)[0] + "," for line in GOOD]
    report = await import_file(db, write_csv(tmp_path, without_roles, name="noroles.csv"))
    assert (report.updated, report.unchanged) == (0, 3)
    wang = await member_by_mobile(db, "13800000001")
    assert wang is not None and wang.role is Role.GROUP_LEADER


async def test_dry_run_reports_the_same_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [*GOOD, "坏行,男,123,经济界,,城关镇,,,"])
    dry = await import_file(db, path, dry_run=True)
    assert dry.dry_run
    assert (dry.created, dry.updated, dry.unchanged, len(dry.errors)) == (3, 0, 0, 1)
    assert dry.groups_created == 2
    assert await count(db, Member) == 0
    assert await count(db, LiaisonGroup) == 0

    real = await import_file(db, path)
    assert (real.created, real.errors, real.groups_created) == (dry.created, dry.errors, dry.groups_created)


async def test_sample_roster_imports_cleanly(db: Database) -> None:
    calls: list[tuple[int, int]] = []
    report = await import_file(db, DEMO_ROSTER, progress=lambda done, total: calls.append((done, total)))
    assert report.errors == []
    assert report.created == 141  # 138 members + two secretaries + an administrator
    assert report.groups_created == 24
    assert calls[-1] == (141, 141)
    async with db.reader() as session:
        leaders = await session.scalar(
            select(func.count()).select_from(LiaisonGroup).where(LiaisonGroup.leader_id.is_not(None))  # type: ignore[union-attr]
        )
        secretaries = await session.scalar(
            select(func.count()).select_from(Member).where(Member.role == Role.SECRETARY)
        )
    assert (leaders, secretaries) == (24, 2)


def test_packaged_roster_matches_the_shared_fixture() -> None:
    """The demo ships a copy of the team's sample roster, byte for byte; a changed copy fails here."""
    assert hashlib.sha256(DEMO_ROSTER.read_bytes()).hexdigest() == SHARED_ROSTER_SHA256


# --- encodings and shapes -------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
async def test_csv_encodings(db: Database, tmp_path: Path, encoding: str) -> None:
    report = await import_file(db, write_csv(tmp_path, GOOD, encoding=encoding))
    assert (report.created, report.errors) == (3, [])
    wang = await member_by_mobile(db, "13800000001")
    assert wang is not None and wang.name == "王芳" and wang.work_unit == "县农商银行行长"
    async with db.reader() as session:
        names = set((await session.scalars(select(Sector.name))).all())
    assert names == {"经济界", "教育界", "医药卫生界"}


async def test_full_width_digits_spaces_and_padded_names(db: Database, tmp_path: Path) -> None:
    lines = [
        "王\u3000\u3000芳,女,１３８ ００００ ０００１,\u3000经济界 ,提案委员会,城关镇,"
        "县农商银行  行长,第六届,组长",
        " 李  强 ,男,138-0000-0002,教育界,,城关镇,,第六届,委员",
    ]
    report = await import_file(db, write_csv(tmp_path, lines))
    assert (report.created, report.errors) == (2, [])
    wang = await member_by_mobile(db, "13800000001")
    assert wang is not None and wang.name == "王芳" and wang.work_unit == "县农商银行 行长"
    li = await member_by_mobile(db, "13800000002")
    assert li is not None and li.name == "李强"
    async with db.reader() as session:
        assert await session.scalar(select(Sector.id).where(Sector.name == "经济界")) is not None


async def test_xlsx_with_number_cells(db: Database, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["王芳", "女", 13800000001, "经济界", "提案委员会", "城关镇", "银行行长", "第六届", "组长"])
    sheet.append(["李强", "男", 13800000002.0, "教育界", None, "城关镇", None, "第六届", None])
    sheet.append([None] * 9)  # trailing empty rows are common in sheets
    sheet.append(["赵敏", "女", "12345", "医药卫生界", None, "东山镇", None, None, None])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)

    report = await import_file(db, path)
    assert (report.created, report.errors) == (2, [(5, "手机号“12345”不正确，应为 1 开头的 11 位数字")])
    assert await member_by_mobile(db, "13800000002") is not None


async def test_headers_in_another_order_with_aliases(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "reordered.csv"
    path.write_text("联络组,手机号码,姓名,界别\n城关镇,13800000001,王芳,经济界\n", encoding="utf-8")
    report = await import_file(db, path)
    assert (report.created, report.errors) == (1, [])


# --- bad rows -------------------------------------------------------------------------------------

async def test_bad_rows_are_reported_and_good_rows_still_imported(db: Database, tmp_path: Path) -> None:
    lines = [
        GOOD[0],  # row 2
        ",男,13800000010,经济界,,城关镇,,,委员",  # row 3: no name
        "钱一,男,,经济界,,城关镇,,,委员",  # row 4: no mobile
        "孙二,男,1380000001X,经济界,,城关镇,,,委员",  # row 5: bad mobile
        "周三,男,13800000001,经济界,,城关镇,,,委员",  # row 6: same mobile as row 2
        "吴四,男,13800000011,经济界,,城关镇,,,主任",  # row 7: unknown role
        "郑五,男,13800000012,,,城关镇,,,委员",  # row 8: no sector
        "冯六,男,13800000013,经济界,,,,,委员",  # row 9: no group
        "陈七,男,13800000014,经济界,,城关镇,,,组长",  # row 10: second leader of 城关镇
        "褚八,未知,13800000015,经济界,,城关镇,,,委员",  # row 11: unknown gender
        "",  # row 12: blank, skipped silently
        "卫九,女,13800000016,,,,县政协联络办,,秘书",  # row 13: staff need no sector or group
        GOOD[1],  # row 14
    ]
    report = await import_file(db, write_csv(tmp_path, lines))

    texts = Catalogue()
    assert report.errors == [
        (3, texts("roster.error_required", column="姓名")),
        (4, texts("roster.error_required", column="手机号")),
        (5, texts("roster.error_mobile", value="1380000001X")),
        (6, texts("roster.error_duplicate_mobile", other=2)),
        (7, texts("roster.error_role", value="主任", choices="委员、组长、秘书、联络员、管理员")),
        (8, texts("roster.error_required", column="界别")),
        (9, texts("roster.error_required", column="联络组")),
        (10, texts("roster.error_two_leaders", group="城关镇", other=2)),
        (11, texts("roster.error_gender", value="未知")),
    ]
    assert report.created == 3
    secretary = await member_by_mobile(db, "13800000016")
    assert secretary is not None and secretary.role is Role.SECRETARY and secretary.group_id is None


async def test_too_long_cell_is_a_row_error(db: Database, tmp_path: Path) -> None:
    line = f"王芳,女,13800000001,经济界,,城关镇,{'长' * 201},,"
    report = await import_file(db, write_csv(tmp_path, [line]))
    assert report.created == 0
    assert report.errors == [(2, Catalogue()("roster.error_too_long", column="工作单位及职务", limit=200))]


async def test_missing_columns_refuse_the_file(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("姓名,性别\n王芳,女\n", encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        await import_file(db, path)
    assert "手机号" in caught.value.render(Catalogue()) and "联络组" in caught.value.render(Catalogue())


@pytest.mark.parametrize(("name", "content", "key"), [
    ("roster.txt", b"x", "roster.error_file_type"),
    ("empty.csv", b"", "roster.error_empty"),
    ("broken.xlsx", b"not a zip file", "roster.error_unreadable"),
])
async def test_unusable_files(db: Database, tmp_path: Path, name: str, content: bytes, key: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RosterError) as caught:
        await import_file(db, path)
    assert caught.value.key == key


async def test_missing_file(db: Database, tmp_path: Path) -> None:
    with pytest.raises(RosterError) as caught:
        await import_file(db, tmp_path / "nope.csv")
    assert caught.value.key == "roster.error_missing_file"


# --- the commands ---------------------------------------------------------------------------------
def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lvzhi")
    add_members_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def test_cli_import_dry_run_then_real(
    db: Database, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, GOOD)
    args = parse(["members", "import", str(path), "--dry-run"])
    assert args.func is members_import and args.dry_run
    assert await args.func(settings, args) == EXIT_OK
    assert "试运行" in capsys.readouterr().out
    assert await count(db, Member) == 0
    assert await events_of(db, "roster.import") == []  # a dry run changes nothing, and logs nothing

    args = parse(["members", "import", str(path)])
    assert await args.func(settings, args) == EXIT_OK
    assert "新增 3 人" in capsys.readouterr().out
    assert await count(db, Member) == 3
    event = await only_event(db, "roster.import", channel=Channel.CLI, actor_member_id=None, actor_label="cli",
                             object_type="roster", group_id=None)
    assert event.after is not None and event.after["created"] == 3 and event.after["errors"] == 0


async def test_cli_import_exit_codes(
    db: Database, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, [*GOOD, "孙二,男,1380000001X,经济界,,城关镇,,,委员"])
    args = parse(["members", "import", str(path)])
    assert await args.func(settings, args) == EXIT_ROW_ERRORS
    assert "第 5 行" in capsys.readouterr().out

    args = parse(["members", "import", str(tmp_path / "missing.xlsx")])
    assert await args.func(settings, args) == EXIT_BAD_FILE
    assert "找不到文件" in capsys.readouterr().err


async def test_load_demo_twice(db: Database) -> None:
    first = await load_demo(db)
    second = await load_demo(db)
    assert first.created == 141 and (second.created, second.updated) == (0, 0)
    async with db.reader() as session:
        applicant = await session.scalar(select(Member).where(Member.mobile == DEMO_APPLICANT["mobile"]))
        assert applicant is not None and applicant.status is MemberStatus.PENDING
        applications = (await session.scalars(select(MemberApplication))).all()
    assert [a.status for a in applications] == [ApplicationStatus.PENDING]
    assert await count(db, Committee) > 0


async def test_load_demo_promotes_a_secretary_when_the_file_has_none(db: Database, tmp_path: Path) -> None:
    await load_demo(db, write_csv(tmp_path, GOOD))
    async with db.reader() as session:
        roles = (await session.scalars(select(Member.role).where(Member.role == Role.SECRETARY))).all()
    assert len(roles) == 1


async def test_cli_demo_on_a_fresh_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    args = parse(["demo"])
    assert await args.func(settings, args) == EXIT_OK
    out = capsys.readouterr().out
    assert "新增 141 人" in out and "联络办秘书甲" in out


async def test_cli_import_before_the_schema_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    args = parse(["members", "import", str(write_csv(tmp_path, GOOD))])
    assert await args.func(settings, args) == EXIT_BAD_FILE
    assert "lvzhi db upgrade" in capsys.readouterr().err
