"""``lvzhi export attendance``: one activity's sheet and a year's workbook, read back with openpyxl cell by
cell, through the functions and through the CLI entry point, on SQLite and PostgreSQL.

The data is :func:`tests.attendance_support.build_year` (see there for who did what)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.cli.main import main
from bot.domain.activities import correct_attendance
from bot.exports.attendance import (
    ACTIVITY_COLUMNS,
    GROUP_COLUMNS,
    MEMBER_COLUMNS,
    SUMMARY_COLUMNS,
    export_activity,
    export_year,
)
from bot.infra.db import Database
from models.activity import Activity, AttendanceStatus
from models.member import Member
from tests.activity_support import Org, T
from tests.attendance_support import SHANGHAI, Year, build_year, local


@pytest.fixture
async def year(db: Database, org: Org) -> Year:
    return await build_year(db, org)


def rows(sheet: Any) -> list[tuple[Any, ...]]:
    """Values as read back; openpyxl gives None for a cell written as ""."""
    return [tuple(value if value != "" else None for value in row) for row in sheet.iter_rows(values_only=True)]


async def test_one_activity_sheet(db: Database, org: Org, year: Year, tmp_path: Path) -> None:
    async with db.session() as session:
        plenary, chen = await session.get(Activity, year.plenary), await session.get(Member, org.chen.id)
        assert plenary is not None and chen is not None
        await correct_attendance(session, plenary, chen, status=AttendanceStatus.PRESENT,
                                 reason="会后核实：在主席台就座", by=None, now=local(2026, 3, 1, 10, 30))
    output = tmp_path / "out" / "plenary.xlsx"
    assert await export_activity(db, year.plenary, output, zone=SHANGHAI, texts=T) == 7

    sheet = load_workbook(output).active
    assert sheet.title == "签到表" and sheet.freeze_panes == "A7"
    assert rows(sheet) == [
        ("活动名称", "第六届二次全会", "类型", "全体会议", None, None, None, None),
        ("开始时间", "2026-03-01 09:00", "结束时间", "2026-03-01 11:00", None, None, None, None),
        ("地点", "县政协三楼会议室", "组织", "县政协", None, None, None, None),
        ("签到时间", "2026-03-01 08:00 至 2026-03-01 10:00", "状态", "签到已截止", None, None, None, None),
        (None,) * 8,
        ACTIVITY_COLUMNS,
        ("王芳", "城关镇", "经济界", "出席", "签到码", "2026-03-01 08:50", None, None),
        ("周涛", "城关镇", None, "迟到", "签到码", "2026-03-01 09:20", None, None),
        ("陈组长", "城关镇", None, "出席", "秘书更正", "2026-03-01 10:30", None,
         "2026-03-01 10:30 缺席→出席：会后核实：在主席台就座（管理后台）"),
        ("李强", "东山镇", None, "请假", "截止时统计", None, "病假", None),
        ("吴静", "东山镇", None, "缺席", "截止时统计", None, None, None),
        ("钱秘书", "（未分组）", None, "出席", "签到码", "2026-03-01 08:55", None, None),
        ("孙秘书", "（未分组）", None, "出席", "签到码", "2026-03-01 08:58", None, None),
        ("合计", "应到 7 人：出席 4，迟到 1，请假 1，缺席 1；出席率 83.3%", None, None, None, None, None, None),
    ]
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABH"}
    assert widths["B"] > widths["A"] >= 6 and widths["H"] > 40  # fitted to the longest line


async def test_a_still_open_activity_lists_who_has_not_signed_in(
    db: Database, org: Org, year: Year, tmp_path: Path
) -> None:
    output = tmp_path / "tomorrow.xlsx"
    assert await export_activity(db, year.tomorrow, output, zone=SHANGHAI, texts=T) == 7
    table = rows(load_workbook(output).active)
    assert table[3][3] == "签到未截止"
    assert [(row[0], row[3]) for row in table[6:9]] == [("王芳", "出席"), ("周涛", "未签到"), ("陈组长", "未签到")]
    assert table[-1][1] == "应到 7 人：出席 1，迟到 0，请假 0，缺席 0，未签到 6；出席率 14.3%"
    assert await export_activity(db, 9999, tmp_path / "none.xlsx", zone=SHANGHAI, texts=T) is None


async def test_year_workbook(db: Database, org: Org, year: Year, tmp_path: Path) -> None:
    output = tmp_path / "year.xlsx"
    assert await export_year(db, 2026, output, zone=SHANGHAI, texts=T) == 3
    workbook = load_workbook(output)
    assert workbook.sheetnames == ["活动汇总", "委员考勤", "联络组考勤"]
    summary, members, groups = workbook.worksheets
    assert all(sheet.freeze_panes == "A2" for sheet in workbook.worksheets)

    assert rows(summary) == [
        SUMMARY_COLUMNS,
        ("2026-01-01 01:00", "学习", "理论学习", "县政协", 2, 1, 0, 0, 1, 0.5),
        ("2026-03-01 09:00", "全体会议", "第六届二次全会", "县政协", 7, 3, 1, 1, 2, 0.6667),
        ("2026-06-10 09:00", "调研视察", "城关镇农贸市场调研", "城关镇", 3, 2, 0, 0, 1, 0.6667),
        ("合计", None, None, None, 12, 6, 1, 1, 4, 0.6364),
    ]
    assert summary["J2"].number_format == "0.0%"

    by_type = ("全体会议应到", "全体会议实到", "调研视察应到", "调研视察实到", "学习应到", "学习实到")
    assert rows(members) == [
        (*MEMBER_COLUMNS, *by_type),
        ("王芳", "城关镇", "经济界", 3, 3, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1),
        ("周涛", "城关镇", None, 2, 0, 1, 0, 1, 0.5, 1, 1, 1, 0, 0, 0),
        ("陈组长", "城关镇", None, 2, 1, 0, 0, 1, 0.5, 1, 0, 1, 1, 0, 0),
        ("李强", "东山镇", None, 2, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0),
        ("吴静", "东山镇", None, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0),
        ("钱秘书", "（未分组）", None, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0),
        ("孙秘书", "（未分组）", None, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0),
    ]
    assert members["I2"].number_format == "0.0%"

    assert rows(groups) == [
        GROUP_COLUMNS,
        ("城关镇", 3, 7, 4, 1, 0, 2, 0.7143),
        ("东山镇", 2, 3, 0, 0, 1, 2, 0),
        ("（未分组）", 2, 2, 2, 0, 0, 0, 1),
        ("合计", 7, 12, 6, 1, 1, 4, 0.6364),
    ]
    assert groups["H5"].number_format == "0.0%"

    assert await export_year(db, 2024, tmp_path / "empty.xlsx", zone=SHANGHAI, texts=T) == 0
    empty = load_workbook(tmp_path / "empty.xlsx")
    assert rows(empty.worksheets[0]) == [SUMMARY_COLUMNS, ("合计", None, None, None, 0, 0, 0, 0, 0, 0)]
    assert rows(empty.worksheets[1]) == [MEMBER_COLUMNS]


def _config(tmp_path: Path, db_url: str) -> str:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    return str(config)


def test_export_command(db: Database, year: Year, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, db_url)
    output = tmp_path / "sheet.xlsx"
    assert main(["--config", config, "export", "attendance", "--activity", str(year.inspection),
                 "--out", str(output)]) == 0
    assert f"3 members of activity {year.inspection} written to {output}" in capsys.readouterr().out
    table = rows(load_workbook(output).active)
    assert table[0][1] == "城关镇农贸市场调研" and table[2][3] == "城关镇"
    assert [row[:4] for row in table[6:9]] == [("王芳", "城关镇", "经济界", "出席"), ("周涛", "城关镇", None, "缺席"),
                                              ("陈组长", "城关镇", None, "出席")]

    monkeypatch.chdir(tmp_path)  # the default file name lands in the working directory
    assert main(["--config", config, "export", "attendance", "--year", "2026"]) == 0
    assert "3 activities of 2026 written to 考勤-2026.xlsx" in capsys.readouterr().out
    assert load_workbook(tmp_path / "考勤-2026.xlsx").sheetnames == ["活动汇总", "委员考勤", "联络组考勤"]
    assert main(["--config", config, "export", "attendance", "--activity", str(year.plenary), "--output",
                 "p.xlsx"]) == 0
    assert (tmp_path / "p.xlsx").exists()

    assert main(["--config", config, "export", "attendance", "--activity", "9999"]) == 1
    assert "no activity with id 9999" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # one of the two, not both
        main(["--config", config, "export", "attendance", "--activity", "1", "--year", "2026"])
    assert exited.value.code == 2


def test_export_command_without_a_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    assert main(["--config", config, "export", "attendance", "--year", "2026", "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "lvzhi db upgrade" in capsys.readouterr().err
