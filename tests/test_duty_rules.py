"""The rules file (bot/domain/duty_rules.py): the shipped examples, years carrying forward, grades, and every
mistake a secretary can make in it stopped with the file, the place and the reason (one line)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.duty_rules import DEFAULT_RULES_FILE, EXAMPLES_DIR, RulesError, YearRules, load_rules, rules_of
from bot.infra.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def minimal_year() -> dict[str, Any]:
    """A small valid year; each test below breaks one thing in a copy of it."""
    return {
        "base": 50,
        "bonus_cap": 40,
        "pass_mark": 60,
        "grades": [{"name": "优秀", "min": 90}, {"name": "称职", "min": 60}, {"name": "不称职"}],
        "categories": {
            "meetings": {"label": "会议活动", "cap": 12},
            "reports": {"label": "社情民意"},
            "penalties": {"label": "扣分", "penalty": True, "floor": -7},
        },
        "penalty_category": "penalties",
        "duties": {
            "plenary": {"label": "全会", "category": "meetings", "points": 4, "absent": -3, "per_half_day": True},
            "report_submitted": {"label": "报送", "category": "reports", "points": 2},
            "report_adopted": {"label": "采用", "category": "reports", "by_level": {"county": 1, "city": 5}},
            "speech": {"label": "发言", "category": "reports", "points": 5, "self_reported": True},
        },
        "five_one": [{"name": "一次发言", "kinds": ["speech"]}],
    }


def write_rules(tmp_path: Path, years: dict[int, Any], name: str = "rules.yaml", **top: Any) -> Path:
    path = tmp_path / name
    data = {"name": "测试办法", "terms": {"第一届": [2025, 2027]}, "years": years, **top}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def broken(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> str:
    """The message of the RulesError the minimal year gives after ``change``."""
    year = minimal_year()
    change(year)
    path = write_rules(tmp_path, {2026: year})
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"duty rules {path}: ") and "\n" not in message
    return message


# --- the shipped examples ---------------------------------------------------------------------------------


def test_the_shipped_examples_load() -> None:
    county = load_rules()
    assert county.source == DEFAULT_RULES_FILE and county.name.startswith("某县")
    rules = county.for_year(2026)
    assert rules.pass_mark == 60 and [g.name for g in rules.grades] == ["优秀", "良好", "称职", "不称职"]
    assert rules.categories["penalties"].floor == -30 and rules.penalty_category == "penalties"
    assert set(rules.self_reported_kinds) == {"speech", "proposal", "proposal_filed", "proposal_cosigned",
                                              "research_report", "good_deed"}
    assert len(rules.five_one) == 5
    assert county.term_years("第六届") == range(2022, 2027)
    bonus = load_rules(EXAMPLES_DIR / "bonus.yaml")
    assert (bonus.for_year(2023).base, bonus.for_year(2023).bonus_cap) == (70, 50)
    assert bonus.for_year(2025).categories["reports"].cap == 40
    assert bonus.for_year(2024).categories["reports"].cap == 30


def test_years_carry_forward_and_an_earlier_year_uses_the_first(tmp_path: Path) -> None:
    later = minimal_year()
    later["base"] = 60
    rules = load_rules(write_rules(tmp_path, {2024: minimal_year(), 2026: later}))
    assert rules.for_year(2024).base == 50
    assert rules.for_year(2025).base == 50  # no entry: the closest earlier one
    assert rules.for_year(2026).base == 60 and rules.for_year(2031).base == 60
    assert rules.for_year(2019).base == 50  # earlier than every entry: the first
    assert rules.for_year(2024).digest == rules.for_year(2025).digest != rules.for_year(2026).digest
    # The shipped county rules: 2022 is an alias of 2026, so every year of the term scores alike.
    county = load_rules()
    assert county.for_year(2022).digest == county.for_year(2024).digest == county.for_year(2026).digest
    assert county.for_year(2015) == county.for_year(2022)


def test_the_digest_follows_any_change_of_points(tmp_path: Path) -> None:
    first = load_rules(write_rules(tmp_path, {2026: minimal_year()}, name="a.yaml")).for_year(2026)
    again = load_rules(write_rules(tmp_path, {2026: minimal_year()}, name="b.yaml")).for_year(2026)
    year = minimal_year()
    year["duties"]["plenary"]["points"] = 4.5
    changed = load_rules(write_rules(tmp_path, {2026: year}, name="c.yaml")).for_year(2026)
    assert first.digest == again.digest != changed.digest and len(first.digest) == 64


def test_unknown_terms_are_named(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, {2026: minimal_year()}))
    with pytest.raises(RulesError, match=r"unknown term '第九届'.*第一届"):
        rules.term_years("第九届")


# --- grades ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "grade"), [
    (100, "优秀"), (90, "优秀"), (89.9, "良好"), (80, "良好"), (79.9, "称职"), (60, "称职"), (59.9, "不称职"),
    (0, "不称职"), (-12.5, "不称职"),
])
def test_grades_at_their_boundaries(score: float, grade: str) -> None:
    assert load_rules().for_year(2026).grade_for(score) == grade


def test_kinds_and_their_labels() -> None:
    rules: YearRules = load_rules().for_year(2026)
    suffixes = {"_leave": "（请假）", "_absent": "（缺席）", "adjustment": "调整"}
    assert rules.kind_rule("plenary_absent") is rules.duties["plenary"]
    assert rules.kind_rule("speech_absent") is None  # only activities have leave and absence kinds
    assert rules.kind_rule("nonsense") is None
    assert rules.label_of("plenary_leave", suffixes) == "全体会议（请假）"
    assert rules.label_of("adjustment", suffixes) == "调整"
    assert rules.label_of("good_deed", suffixes) == "为民办实事"
    assert {"plenary", "plenary_leave", "plenary_absent", "speech"} <= rules.known_kinds


# --- mistakes in a rules file --------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "expected"), [
    (lambda y: y["duties"]["plenary"].update(category="nope"),
     "years.2026: duties.plenary: unknown category 'nope' (known: meetings, reports, penalties)"),
    (lambda y: y["five_one"].append({"name": "一件提案", "kinds": ["proposal"]}),
     "five_one '一件提案': unknown duty kind 'proposal'"),
    (lambda y: y["five_one"].append({"name": "空", "kinds": []}), "five_one.1.kinds"),
    (lambda y: y["duties"]["plenary"].update(self_reported=True),
     "duties.plenary: recorded by the system, so it cannot be self_reported"),
    (lambda y: y["duties"]["speech"].pop("self_reported"),
     "duties.speech: not a kind the system records"),
    (lambda y: y["duties"]["report_adopted"].pop("by_level"),
     "duties.report_adopted: give points by_level"),
    (lambda y: y["duties"]["report_submitted"].update(by_level={"city": 3}),
     "duties.report_submitted: by_level is for report_adopted only"),
    (lambda y: y["duties"]["report_adopted"]["by_level"].update(town=3),
     "duties.report_adopted.by_level.town"),
    (lambda y: y["duties"]["report_adopted"]["by_level"].update(city=5.25), "at most one decimal (got 5.25)"),
    (lambda y: y["duties"]["speech"].update(late=2), "duties.speech: late, leave, absent and per_half_day apply"),
    (lambda y: y["duties"]["speech"].update(per_half_day=True), "apply to activities only"),
    (lambda y: y.update(grades=[{"name": "称职", "min": 60}, {"name": "优秀", "min": 90}, {"name": "不称职"}]),
     "grades: list them from the highest min to the lowest"),
    (lambda y: y.update(grades=[{"name": "优秀", "min": 90}, {"name": "称职", "min": 90}, {"name": "不称职"}]),
     "grades: list them from the highest min to the lowest"),
    (lambda y: y.update(grades=[{"name": "优秀", "min": 90}, {"name": "称职"}, {"name": "不称职", "min": 0}]),
     "grades: every grade but the last has a min"),
    (lambda y: y.update(grades=[]), "years.2026.grades"),
    (lambda y: y.update(pass_mark=65), "pass_mark 65 must be the min of one grade ([90.0, 60.0])"),
    (lambda y: y["duties"]["plenary"].update(points=4.25),
     "years.2026.duties.plenary.points: points have at most one decimal (got 4.25)"),
    (lambda y: y["categories"]["meetings"].update(cap=12.05), "categories.meetings.cap: points have at most one"),
    (lambda y: y["duties"]["plenary"].update(absent=3),
     "years.2026.duties.plenary: absent points take away: use a negative number or 0"),
    (lambda y: y.update(penalty_category="meetings"),
     "penalty_category 'meetings' must be a category with penalty: true"),
    (lambda y: y.update(penalty_category="nowhere"), "penalty_category 'nowhere' must be a category"),
    (lambda y: y.pop("penalty_category"), "absences take points away: name the penalty_category"),
    (lambda y: y["categories"]["meetings"].update(floor=-5),
     "categories.meetings: only a penalty category (penalty: true) has a floor"),
    (lambda y: y["categories"]["penalties"].update(cap=5), "a penalty category has a floor, not a cap"),
    (lambda y: y["categories"]["penalties"].update(floor=5), "floor is the lowest total, a negative number"),
    (lambda y: y["categories"]["meetings"].update(cap=-1), "cap must not be negative"),
    (lambda y: y["duties"]["speech"].update(category="penalties"),
     "duties.speech: points are earned in a bonus category, not the penalty one"),
    (lambda y: y["duties"]["plenary"].update(colour="red"),
     "years.2026.duties.plenary.colour: unknown key (check the spelling"),
    (lambda y: y.update(bonus_limit=40), "years.2026.bonus_limit: unknown key"),
    (lambda y: y["categories"].update(adjustment={"label": "调整"}), "'adjustment' is built in"),
    (lambda y: y["duties"].update(adjustment={"label": "调整", "category": "reports", "self_reported": True}),
     "'adjustment' is built in"),
    (lambda y: y["five_one"][0].update(need=0), "five_one.0.need"),
    (lambda y: y["duties"].update({"s" * 41: {"label": "长", "category": "reports", "self_reported": True}}),
     f"'{'s' * 41}': names of categories and duties have at most 40 characters"),
    (lambda y: y["categories"].update({"c" * 41: {"label": "长"}}), "have at most 40 characters"),
    (lambda y: y.pop("pass_mark"), "years.2026.pass_mark: Field required"),
])
def test_mistakes_are_named(tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: str) -> None:
    assert expected in broken(tmp_path, change)


def test_a_negative_leave_needs_the_penalty_category(tmp_path: Path) -> None:
    def change(year: dict[str, Any]) -> None:
        year["duties"]["plenary"].update(absent=0, leave=-1)
        year.pop("penalty_category")

    assert "name the penalty_category" in broken(tmp_path, change)


def test_mistakes_outside_the_years(tmp_path: Path) -> None:
    def load_error(path: Path) -> str:
        with pytest.raises(RulesError) as caught:
            load_rules(path)
        return str(caught.value)

    assert "terms: term '第一届' ends (2025) before it starts (2027)" in load_error(
        write_rules(tmp_path, {2026: minimal_year()}, terms={"第一届": [2027, 2025]}))
    assert "years: " in load_error(write_rules(tmp_path, {}))
    assert "unknown key" in load_error(write_rules(tmp_path, {2026: minimal_year()}, version=2))
    nameless = tmp_path / "nameless.yaml"
    nameless.write_text(yaml.safe_dump({"years": {2026: minimal_year()}}), encoding="utf-8")
    assert "name: Field required" in load_error(nameless)


def test_unreadable_files(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("years: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"bad\.yaml: not valid YAML"):
        load_rules(bad_yaml)
    a_list = tmp_path / "list.yaml"
    a_list.write_text("- 2026\n", encoding="utf-8")
    with pytest.raises(RulesError, match="the top level must be a mapping"):
        load_rules(a_list)
    with pytest.raises(RulesError, match=r"missing\.yaml: cannot read it \(No such file or directory\)"):
        load_rules(tmp_path / "missing.yaml")


# --- duty.rules_file in config.yaml ----------------------------------------------------------------------------


def test_config_names_a_rules_file(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, {2026: minimal_year()})
    config = tmp_path / "config.yaml"
    config.write_text(f"duty:\n  rules_file: {rules}\n  rebuild_at: '03:15'\n", encoding="utf-8")
    settings = load_settings(config)
    assert settings.duty.rules_file == str(rules) and settings.duty.rebuild_at == "03:15"
    assert load_settings(ROOT / "config.yaml").duty.rules_file == ""  # the shipped example


@pytest.mark.parametrize(("rules_text", "expected"), [
    (None, "cannot read it"),
    ("years: [unclosed\n", "not valid YAML"),
    ("name: x\nyears:\n  2026:\n    pass_mark: 60\n", "years.2026.grades: Field required"),
])
def test_config_refuses_a_bad_rules_file_in_one_line(tmp_path: Path, rules_text: str | None, expected: str) -> None:
    rules = tmp_path / "rules.yaml"
    if rules_text is not None:
        rules.write_text(rules_text, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"duty:\n  rules_file: {rules}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        rules_of(load_settings(config))  # what start-up does (bot.cli.main)
    message = str(caught.value)
    assert "duty.rules_file" in message and expected in message and "\n" not in message


@pytest.mark.parametrize("value", ["2:30", "24:00", "02:60", "nightly"])
def test_config_refuses_a_bad_rebuild_time(tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"duty:\n  rebuild_at: '{value}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"duty\.rebuild_at"):
        load_settings(config)

