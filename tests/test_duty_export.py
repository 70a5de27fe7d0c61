"""``lvzhi export ledger`` / ``archive`` and ``lvzhi duty``: the workbooks read back with openpyxl cell by cell,
through the functions and through the CLI entry point, on SQLite and PostgreSQL.

The data is :func:`tests.duty_export_support.build_ledger` (see there for who did what and the totals)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli.main import main
from bot.domain.duty_rules import RulesError, load_rules
from bot.exports.duty import (
    ArchiveError,
    SheetNames,
    adjustments_header,
    archive_entries_header,
    attendance_counts_header,
    attendance_list_header,
    claims_header,
    entries_header,
    export_archive,
    export_ledger,
    group_sheet_header,
    reports_header,
)
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.activity import Attendance
from models.duty import DutyEntry
from models.member import LiaisonGroup, Member
from tests.activity_support import Org, T
from tests.duty_export_support import NOW, RULES, ZONE, Ledger, build_ledger

Y2026 = RULES.for_year(2026)
FIVE = ("一件提案", "一篇社情民意", "一次调研视察", "一次发言或一篇调研报告", "一件实事")
NOT_YET = "、".join(FIVE)
MARKET = "关于改善城关镇农贸市场排水的建议"
DECIDED = "2026-11-16 09:00"  # when the fixture's claims were decided
LONG = "某某县某某镇某某街道某某社区委员工作室第一联络组（含驻镇企事业单位代表）"


@pytest.fixture
async def data(db: Database, org: Org) -> Ledger:
    return await build_ledger(db, org)


def rows(sheet: Any) -> list[tuple[Any, ...]]:
    """Values as read back, trailing empty cells dropped (write-only sheets pad rows to the widest)."""
    found = []
    for row in sheet.iter_rows(values_only=True):
        values = [value if value != "" else None for value in row]
        while values and values[-1] is None:
            values.pop()
        found.append(tuple(values))
    return found


async def attendance_id(db: Database, activity_id: int, member_id: int) -> int:
    async with db.reader() as session:
        found = await session.scalar(select(Attendance.id).where(Attendance.activity_id == activity_id,
                                                                 Attendance.member_id == member_id))
    assert found is not None
    return found


# --- the year's workbook -----------------------------------------------------------------------------------


async def test_ledger_summary_and_group_sheets(db: Database, data: Ledger, tmp_path: Path) -> None:
    output = tmp_path / "out" / "ledger.xlsx"
    done = await export_ledger(db, RULES, 2026, output, zone=ZONE, texts=T, now=NOW)
    assert (done.members, done.groups, done.entries, done.path) == (6, 2, 0, output)
    assert done.rebuilt == 26  # the assessed members' 24 entries and the two secretaries' plenary absences

    workbook = load_workbook(output)
    assert workbook.sheetnames == ["汇总", "城关镇", "东山镇"]
    summary, chengguan, dongshan = workbook.worksheets
    assert rows(summary) == [
        ("某县政协委员履职考核（桐城式百分制）",),
        ("年度", 2026, "合格分", 60, "生成时间", "2026-11-21 09:00"),
        (),
        ("联络组排名与考核",),
        ("排名", "联络组", "委员人数", "平均分", "未达合格分人数", "组织活动", "报送社情民意", "被采用", "出席率",
         "联络组考核分", "考核排名"),
        # 城关镇: (75 + 55 + 55 − 3) / 4; held 1 (5) + 3 reports (6) + 1 adopted (3) + 40 × 5/8 attended (25)
        (1, "城关镇", 4, 45.5, 3, 1, 3, 1, 0.625, 39, 1),
        # 东山镇: (33 − 30) / 2; 李强's undecided report (2); 李强 on leave is excused, 吴静 absent: 0/1
        (2, "东山镇", 2, 1.5, 2, 0, 1, 0, 0, 2, 2),
        (),
        ("等级分布",),
        ("等级", "人数", "占比"),
        ("优秀", 0, 0), ("良好", 0, 0), ("称职", 1, 0.1667), ("不称职", 5, 0.8333),
        ("合计", 6, 1),
        (),
        ("未达合格分的委员",),
        ("姓名", "联络组", "界别", "总分", "等级", "距合格分", "组内排名"),
        ("周涛", "城关镇", "教育界", 55, "不称职", 5, 2),
        ("郑红", "城关镇", "教育界", 55, "不称职", 5, 2),
        ("李强", "东山镇", "经济界", 33, "不称职", 27, 1),
        ("陈组长", "城关镇", None, -3, "不称职", 63, 4),
        ("吴静", "东山镇", None, -30, "不称职", 90, 2),
    ]
    assert summary["I6"].number_format == "0.0%" and summary["C12"].number_format == "0.0%"

    header = ("组内排名", "姓名", "界别", "全体会议（上限50）", "提案（上限25）", "会议活动（上限10）",
              "社情民意（上限15）", "学习（上限0）", "奖励分小计", "缺席扣分（最多扣30）", "人工调整", "基础分", "总分",
              "等级", "五个一完成", "五个一未完成", "待确认分")
    assert group_sheet_header(Y2026, T) == header
    assert rows(chengguan) == [
        header,
        # activities 2 + 5 + 5 = 12 → cap 10; reports 10 + 5 + 5 = 20 → cap 15
        (1, "王芳", "经济界", 50, 0, 10, 15, 0, 75, 0, 0, 0, 75, "称职", "4/5", "一件提案", 0),
        # ties share a rank (2, 2, then 4); 周涛's proposal waits for verification: 10 pending
        (2, "周涛", "教育界", 50, 0, 0, 10, 0, 60, -5, 0, 0, 55, "不称职", "1/5", "、".join(FIVE[:1] + FIVE[2:]), 10),
        (2, "郑红", "教育界", 50, 0, 0, 10, 0, 60, -5, 0, 0, 55, "不称职", "1/5", "、".join(FIVE[:1] + FIVE[2:]), 0),
        # absent from a 5-half-day plenary: −50, the penalty floor keeps −30; proposals 10 + 15 = the cap
        (4, "陈组长", None, 0, 25, 2, 0, 0, 27, -30, 0, 0, -3, "不称职", "2/5",
         "一篇社情民意、一次发言或一篇调研报告、一件实事", 0),
    ]
    assert rows(dongshan) == [
        header,
        # approved leave: 6 × 5 half-days; the rejected claim counts nothing; the adjustment is never capped
        (1, "李强", "经济界", 30, 0, 0, 0, 0, 30, 0, 3, 0, 33, "不称职", "0/5", NOT_YET, 10),
        (2, "吴静", None, 0, 0, 0, 0, 0, 0, -30, 0, 0, -30, "不称职", "0/5", NOT_YET, 0),
    ]
    assert chengguan.freeze_panes == "C2" and chengguan.column_dimensions["B"].width >= 6


async def test_ledger_entries_sheet_traces_every_point(db: Database, data: Ledger, tmp_path: Path) -> None:
    output = tmp_path / "ledger.xlsx"
    done = await export_ledger(db, RULES, 2026, output, zone=ZONE, texts=T, now=NOW, entries=True)
    workbook = load_workbook(output)
    assert workbook.sheetnames == ["汇总", "城关镇", "东山镇", "明细"]
    table = rows(workbook["明细"])
    assert table[0] == entries_header(T) == ("姓名", "联络组", "时间", "类别", "事项", "分值", "状态", "标题", "来源")
    assert done.entries == len(table) - 1 == 24
    org = data.org
    wang_plenary = await attendance_id(db, data.plenary, org.wang.id or 0)
    chen_plenary = await attendance_id(db, data.plenary, org.chen.id or 0)
    wang = [row for row in table[1:] if row[0] == "王芳"]
    assert wang == [
        ("王芳", "城关镇", "2026-03-01 09:00", "全体会议", "全体会议", 50, "已确认", "六届五次全会",
         f"attendance#{wang_plenary}"),
        ("王芳", "城关镇", "2026-03-16 20:00", "学习", "学习资料", 0, "已确认", "学习全国政协全会精神", "study_read#1"),
        ("王芳", "城关镇", "2026-04-01 10:00", "社情民意", "报送社情民意", 10, "已确认", MARKET,
         f"report#{data.report_wang}"),
        ("王芳", "城关镇", "2026-04-03 10:00", "社情民意", "社情民意被采用", 5, "已确认", MARKET,
         f"report#{data.report_wang}"),
        ("王芳", "城关镇", "2026-05-01 09:00", "社情民意", "领导批示", 5, "已确认", MARKET, "instruction#1"),
        ("王芳", "城关镇", "2026-05-20 12:00", "会议活动", "大会发言", 5, "已确认", "王芳的speech（2026-05-20）",
         f"claim#{data.claim_speech}"),
        ("王芳", "城关镇", "2026-06-10 09:00", "会议活动", "调研视察", 2, "已确认", "城关镇农贸市场调研",
         f"attendance#{await attendance_id(db, data.inspection, org.wang.id or 0)}"),
        ("王芳", "城关镇", "2026-07-01 12:00", "会议活动", "为民办实事", 5, "已确认", "王芳的good_deed（2026-07-01）",
         f"claim#{data.claim_speech + 1}"),
    ]
    by_ref = {row[-1]: row for row in table[1:]}
    assert by_ref[f"attendance#{chen_plenary}"][3:7] == ("缺席扣分", "全体会议（缺席）", -50, "已确认")
    assert by_ref[f"claim#{data.claim_rejected}"][5:7] == (10, "未通过")
    assert by_ref[f"claim#{data.claim_pending}"][5:7] == (10, "待确认")
    assert by_ref[f"report#{data.report_li}"][5:7] == (10, "待确认")
    assert by_ref[f"adjustment#{data.adjustment}"][3:7] == ("人工调整", "人工调整", 3, "已确认")
    assert not [row for row in table if row[0] in ("钱秘书", "孙秘书", "赵敏")]  # not assessed
    # The members sheet's numbers are these entries summed and capped: 王芳's confirmed raw points are 82.
    assert sum(row[5] for row in wang) == 82


async def test_ledger_twice_is_the_same_workbook(db: Database, data: Ledger, tmp_path: Path) -> None:
    first = await export_ledger(db, RULES, 2026, tmp_path / "a.xlsx", zone=ZONE, texts=T, now=NOW, entries=True)
    second = await export_ledger(db, RULES, 2026, tmp_path / "b.xlsx", zone=ZONE, texts=T, now=NOW, entries=True)
    assert first.rebuilt == second.rebuilt and first.entries == second.entries
    a, b = load_workbook(tmp_path / "a.xlsx"), load_workbook(tmp_path / "b.xlsx")
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        if name != "明细":  # entry ids are new after a rebuild; their sources are not
            assert rows(a[name]) == rows(b[name])
    assert rows(a["明细"]) == rows(b["明细"])  # the sheet names sources, never entry ids


async def test_base_and_bonus_cap_from_another_rules_file(db: Database, data: Ledger, tmp_path: Path) -> None:
    text = RULES.source.read_text(encoding="utf-8").replace(
        "    base: 0 ", "    base: 10\n    bonus_cap: 60\n    # ")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(text, encoding="utf-8")
    rules = load_rules(rules_file)
    await export_ledger(db, rules, 2026, tmp_path / "bonus.xlsx", zone=ZONE, texts=T, now=NOW)
    sheet = load_workbook(tmp_path / "bonus.xlsx")["城关镇"]
    table = rows(sheet)
    assert table[0][8] == "奖励分小计（封顶60）" and table[0][11] == "基础分"
    # 王芳: bonus 50 + 10 + 15 = 75 → 60; total 10 + 60 = 70. 陈组长: 10 + 27 − 30 = 7.
    assert table[1][:14] == (1, "王芳", "经济界", 50, 0, 10, 15, 0, 60, 0, 0, 10, 70, "称职")
    assert table[4][:14] == (4, "陈组长", None, 0, 25, 2, 0, 0, 27, -30, 0, 10, 7, "不称职")


def test_sheet_names_are_valid_and_unique() -> None:
    names = SheetNames(["汇总", "明细"])
    assert names("城关镇") == "城关镇"
    assert names("汇总") == "汇总(2)"
    assert names("A/B:C*D?[E]\\F") == "A_B_C_D__E__F"
    assert len(LONG) > 31
    long = LONG
    first, second = names(long), names(long)
    assert len(first) == 31 and first == long[:31]
    assert len(second) == 31 and second.endswith("(2)") and second[:28] == long[:28]
    assert names("abc") == "abc" and names("ABC") == "ABC(2)"  # Excel compares names ignoring case
    assert names("History") == "History(2)" and names("''") == "_"


async def test_group_sheet_names_in_the_workbook(db: Database, data: Ledger, tmp_path: Path) -> None:
    async with db.session() as session:
        for name in ("汇总", "东山镇/北片:二组", LONG):
            group = LiaisonGroup(name=name)
            session.add(group)
            await session.flush()
            session.add(Member(name=f"{name[:2]}委员", group_id=group.id))
        session.add(Member(name="游离委员"))  # no liaison group
    await export_ledger(db, RULES, 2026, tmp_path / "names.xlsx", zone=ZONE, texts=T, now=NOW)
    assert load_workbook(tmp_path / "names.xlsx").sheetnames == [
        "汇总", "城关镇", "东山镇", "汇总(2)", "东山镇_北片_二组", LONG[:31], "未分组"]


async def test_an_empty_year(db: Database, data: Ledger, tmp_path: Path) -> None:
    done = await export_ledger(db, RULES, 2024, tmp_path / "empty.xlsx", zone=ZONE, texts=T, now=NOW, entries=True)
    assert done.entries == 0 and done.members == 6  # everyone assessed, at 0
    workbook = load_workbook(tmp_path / "empty.xlsx")
    assert rows(workbook["城关镇"])[1] == (1, "王芳", "经济界", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "不称职", "0/5", NOT_YET,
                                        0)
    assert rows(workbook["明细"]) == [entries_header(T)]


# --- the archive ---------------------------------------------------------------------------------------------


async def test_archive_of_a_member_for_the_term(db: Database, data: Ledger, tmp_path: Path) -> None:
    org = data.org
    output = await export_archive(db, RULES, org.wang.id or 0, None, tmp_path / "a" / "wang.xlsx", zone=ZONE,
                                  texts=T, now=NOW)
    workbook = load_workbook(output)
    assert workbook.sheetnames == ["基本信息", "出席", "社情民意", "学习", "其他履职", "积分", "积分明细"]
    profile, attendance, reports, study, claims, points, entries = workbook.worksheets

    assert rows(profile) == [
        ("项目", "内容"), ("姓名", "王芳"), ("性别", "女"), ("手机号", "13800000001"), ("界别", "经济界"),
        ("专委会",), ("联络组", "城关镇"), ("单位及职务", "城关镇农业合作社 理事长"), ("届次", "第六届"),
        ("身份", "委员"), ("状态", "正常"), ("年度", "2022–2026"), ("考核办法", "某县政协委员履职考核（桐城式百分制）"),
        ("生成时间", "2026-11-21 09:00"),
    ]
    assert rows(attendance) == [
        ("出席统计",),
        attendance_counts_header(T),
        (2025, "全体会议", 1, 1, 0, 0, 0),
        (2026, "全体会议", 1, 1, 0, 0, 0),
        (2026, "调研视察", 1, 1, 0, 0, 0),
        ("合计", None, 3, 3, 0, 0, 0),
        (),
        ("出席明细",),
        attendance_list_header(T),
        ("2025-03-01 09:00", "全体会议", "六届三次全会", "出席", "2025-03-01 08:50"),
        ("2026-03-01 09:00", "全体会议", "六届五次全会", "出席", "2026-03-01 08:50"),
        ("2026-06-10 09:00", "调研视察", "城关镇农贸市场调研", "出席", "2026-06-10 08:45"),
    ]
    assert rows(reports) == [
        reports_header(T),
        (2026, data.report_wang, "关于改善城关镇农贸市场排水的建议", "社会民生", "已采用", "县级", "2026-04-01 10:00",
         "2026-04-03 10:00", "县委书记 张某：请住建局抓紧研究落实。（2026-05-01）"),
    ]
    assert rows(study) == [("时间", "学习材料", "方式"), ("2026-03-16 20:00", "学习全国政协全会精神", "聊天中阅读")]
    assert rows(claims) == [
        ("补录的履职",),
        claims_header(T),
        (2025, "2025-03-10", "提交提案", 10, "王芳的proposal（2025-03-10）", "已核实", None, "管理后台", DECIDED),
        (2026, "2026-05-20", "大会发言", 5, "王芳的speech（2026-05-20）", "已核实", None, "管理后台", DECIDED),
        (2026, "2026-07-01", "为民办实事", 5, "王芳的good_deed（2026-07-01）", "已核实", None, "管理后台", DECIDED),
        (),
        ("人工调整",),
        adjustments_header(T),
    ]

    zero = (0, 0, 0, 0, 0, 0, 0, 0, 0, "不称职", 1, 4, "0/5", NOT_YET, 0)  # no activity yet: all tied first
    assert rows(points) == [
        ("年度", "全体会议", "提案", "会议活动", "社情民意", "学习", "缺席扣分", "人工调整", "基础分", "总分", "等级",
         "组内排名", "组内人数", "五个一完成", "五个一未完成", "待确认分"),
        (2022, *zero), (2023, *zero), (2024, *zero),
        (2025, 50, 10, 0, 0, 0, 0, 0, 0, 60, "称职", 1, 4, "1/5", "、".join(FIVE[1:]), 0),
        (2026, 50, 0, 10, 15, 0, 0, 0, 0, 75, "称职", 1, 4, "4/5", "一件提案", 0),
    ]
    (chart,) = points._charts
    assert chart.tagname == "barChart" and chart.type == "col" and len(chart.series) == 5  # one series per year
    assert chart.series[0].tx.strRef.f == "'积分'!A2"
    assert chart.series[0].val.numRef.f == "'积分'!$B$2:$H$2"  # the categories and the adjustments
    assert chart.series[4].val.numRef.f == "'积分'!$B$6:$H$6"
    assert chart.series[0].cat.strRef.f == "'积分'!$B$1:$H$1"
    assert chart.anchor._from.row == 8  # below the table (A9)

    table = rows(entries)
    assert table[0] == archive_entries_header(T)
    assert [row[0] for row in table[1:]] == [2025, 2025, *[2026] * 8]
    assert table[1][-1] == f"attendance#{await attendance_id(db, data.plenary_2025, org.wang.id or 0)}"
    assert table[2][2:6] == ("提案", "提交提案", 10, "已确认") and table[2][-1] == f"claim#{data.claim_2025}"


async def test_archive_of_another_term_and_refusals(db: Database, data: Ledger, tmp_path: Path) -> None:
    org = data.org
    output = await export_archive(db, RULES, org.li.id or 0, "第五届", tmp_path / "li.xlsx", zone=ZONE, texts=T,
                                  now=NOW)
    workbook = load_workbook(output)
    assert [row[0] for row in rows(workbook["积分"])[1:]] == [2017, 2018, 2019, 2020, 2021]
    assert rows(workbook["基本信息"])[8] == ("届次", "第五届")
    assert rows(workbook["出席"])[2] == ("合计", None, 0, 0, 0, 0, 0)

    # 李强's own term is empty on the roster: the term must be given
    with pytest.raises(ArchiveError, match="no term"):
        await export_archive(db, RULES, org.li.id or 0, None, tmp_path / "x.xlsx", zone=ZONE, texts=T, now=NOW)
    with pytest.raises(RulesError, match="unknown term '第九届'"):
        await export_archive(db, RULES, org.li.id or 0, "第九届", tmp_path / "x.xlsx", zone=ZONE, texts=T, now=NOW)
    with pytest.raises(ArchiveError, match="no member with id 9999"):
        await export_archive(db, RULES, 9999, "第六届", tmp_path / "x.xlsx", zone=ZONE, texts=T, now=NOW)
    assert not (tmp_path / "x.xlsx").exists()


async def test_archive_of_a_secretary_has_no_points(db: Database, data: Ledger, tmp_path: Path) -> None:
    output = await export_archive(db, RULES, data.org.qian.id or 0, "第六届", tmp_path / "qian.xlsx", zone=ZONE,
                                  texts=T, now=NOW)
    table = rows(load_workbook(output)["积分"])
    assert table[-1] == (2026, None, None, None, None, None, None, None, 0)  # not assessed: no score, no rank


async def test_english_texts(db: Database, data: Ledger, tmp_path: Path) -> None:
    english = Catalogue("en")
    await export_ledger(db, RULES, 2026, tmp_path / "en.xlsx", zone=ZONE, texts=english, now=NOW, entries=True)
    assert load_workbook(tmp_path / "en.xlsx").sheetnames == ["Summary", "城关镇", "东山镇", "Entries"]
    header = group_sheet_header(Y2026, english)
    assert header[:4] == ("Rank in group", "Name", "Sector", "全体会议 (cap 50)")
    assert header[9] == "缺席扣分 (at most −30)"


# --- the command line ----------------------------------------------------------------------------------------


def _config(tmp_path: Path, db_url: str) -> str:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    return str(config)


def test_export_commands(db: Database, data: Ledger, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, db_url)
    monkeypatch.chdir(tmp_path)  # default file names land in the working directory
    assert main(["--config", config, "export", "ledger", "--year", "2026"]) == 0
    assert "6 members in 2 groups of 2026 written to 履职考核-2026.xlsx" in capsys.readouterr().out
    assert load_workbook(tmp_path / "履职考核-2026.xlsx").sheetnames == ["汇总", "城关镇", "东山镇"]
    assert main(["--config", config, "export", "ledger", "--year", "2026", "--entries", "--output", "l.xlsx"]) == 0
    assert "6 members in 2 groups of 2026, 24 entries written to l.xlsx" in capsys.readouterr().out
    assert load_workbook(tmp_path / "l.xlsx").sheetnames[-1] == "明细"

    assert main(["--config", config, "export", "archive", "--member", "王芳"]) == 0
    assert f"archive of 王芳 (id {data.org.wang.id}), term 第六届, written to 一人一档-王芳-第六届.xlsx" in (
        capsys.readouterr().out)
    assert rows(load_workbook(tmp_path / "一人一档-王芳-第六届.xlsx")["积分"])[-1][:10] == (
        2026, 50, 0, 10, 15, 0, 0, 0, 0, 75)
    # by mobile number, full-width digits and spaces forgiven; by id; another term
    assert main(["--config", config, "export", "archive", "--member", "１３８ ００００ ０００１", "--out",
                 "m.xlsx"]) == 0
    assert main(["--config", config, "export", "archive", "--member", str(data.org.li.id), "--term", "第五届",
                 "--output", "li.xlsx"]) == 0
    assert "archive of 李强" in capsys.readouterr().out
    assert (tmp_path / "m.xlsx").exists() and (tmp_path / "li.xlsx").exists()


def test_archive_command_refusals(db: Database, data: Ledger, tmp_path: Path, db_url: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, db_url)
    out = str(tmp_path / "x.xlsx")
    assert main(["--config", config, "export", "archive", "--member", "周涛", "--out", out]) == 2
    assert "has no term on the roster" in capsys.readouterr().err
    assert main(["--config", config, "export", "archive", "--member", "周涛", "--term", "第九届", "--out", out]) == 2
    assert "unknown term '第九届'" in capsys.readouterr().err
    assert main(["--config", config, "export", "archive", "--member", "无名氏", "--out", out]) == 1
    assert "no member matches '无名氏'" in capsys.readouterr().err
    assert main(["--config", config, "export", "archive", "--member", "13900000000", "--out", out]) == 1
    capsys.readouterr()


async def test_an_ambiguous_name_lists_the_candidates(db: Database, data: Ledger, tmp_path: Path, db_url: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.duty import export_archive_command
    from bot.infra.config import load_settings

    async with db.session() as session:
        other = Member(name="王芳", mobile="13900000123", group_id=data.org.dongshan, work_unit="县医院")
        session.add(other)
    settings = load_settings(_config(tmp_path, db_url))
    args = type("Args", (), {"member": "王芳", "term": None, "output": tmp_path / "x.xlsx"})()
    assert await export_archive_command(settings, args) == 1  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "2 members are called '王芳'; give the id or the mobile number:" in err
    assert f"id {data.org.wang.id}  王芳  城关镇  138****0001" in err
    assert f"id {other.id}  王芳  东山镇  139****0123  县医院" in err
    assert not (tmp_path / "x.xlsx").exists()


def test_duty_check_and_rebuild(db: Database, data: Ledger, tmp_path: Path, db_url: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, db_url)
    assert main(["--config", config, "duty", "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "county.yaml: 某县政协委员履职考核（桐城式百分制）" in out
    assert "years with rules: 2022, 2026" in out and "terms: 第五届 2017–2021, 第六届 2022–2026" in out
    bonus = RULES.source.parent / "bonus.yaml"
    assert main(["--config", config, "duty", "check", str(bonus)]) == 0
    assert "years with rules: 2023, 2025" in capsys.readouterr().out

    broken = tmp_path / "broken.yaml"
    broken.write_text(RULES.source.read_text(encoding="utf-8").replace("category: plenary,", "category: plenry,"),
                      encoding="utf-8")
    assert main(["--config", config, "duty", "check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "unknown category 'plenry'" in err
    assert main(["--config", config, "duty", "check", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read it" in capsys.readouterr().err

    assert main(["--config", config, "duty", "rebuild", "--year", "2026"]) == 0
    assert capsys.readouterr().out.strip() == "duty ledger of 2026 rebuilt: 26 entries"
    assert main(["--config", config, "duty", "rebuild", "--year", "2026"]) == 0  # the same again
    assert capsys.readouterr().out.strip() == "duty ledger of 2026 rebuilt: 26 entries"


async def test_rebuild_counts_match_the_ledger(db: Database, data: Ledger, tmp_path: Path) -> None:
    done = await export_ledger(db, RULES, 2026, tmp_path / "l.xlsx", zone=ZONE, texts=T, now=NOW)
    async with db.reader() as session:
        stored = len((await session.scalars(select(DutyEntry.id).where(DutyEntry.year == 2026))).all())
    assert stored == done.rebuilt


def test_commands_without_a_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    for command in (["export", "ledger", "--year", "2026", "--out", str(tmp_path / "x.xlsx")],
                    ["export", "archive", "--member", "1"], ["duty", "rebuild", "--year", "2026"]):
        assert main(["--config", config, *command]) == 2
        assert "lvzhi db upgrade" in capsys.readouterr().err
