"""The assessment rules (履职考核办法), one set per year, read from a YAML rules file named in config.yaml.

A rules file holds the committee's name, its terms (届) and a mapping ``years`` of year → rules. A year
without its own entry uses the closest earlier one (rules carry forward until changed); a year earlier
than every entry uses the first. YAML anchors (``<<: *y2025``) let a year change only a few values.

Duty kinds are the words of the ledger:

* one per activity type (``plenary``, ``standing``, ``inspection`` …): attending it (present or late).
  Its rule also gives ``leave`` (approved leave) and ``absent`` (unexcused) points, which the ledger
  records as kinds ``<type>_leave`` and ``<type>_absent`` (with 0 points too, so the record is complete);
  absences, and leave that takes points away, count in ``penalty_category``. Activity types the rules
  leave out give no entries;
* ``report_submitted``, ``report_adopted`` (points ``by_level``), ``instruction``, ``study_read``;
* any other name marked ``self_reported``: members report it with ``补录`` and a secretary verifies it
  (a proposal, a co-signed proposal, a speech, a good deed …).

Scores: ``base`` + min(sum of the bonus categories, each within its ``cap``; ``bonus_cap``)
+ penalty categories (each no lower than its ``floor``) + manual adjustments (never capped).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.infra.config import ConfigError, Settings
from bot.infra.services import Services
from models.activity import ActivityType
from models.report import AdoptionLevel

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "duty_rules"
DEFAULT_RULES_FILE = EXAMPLES_DIR / "county.yaml"

ACTIVITY_KINDS = frozenset(t.value for t in ActivityType)
REPORT_SUBMITTED, REPORT_ADOPTED, INSTRUCTION, STUDY_READ = (
    "report_submitted", "report_adopted", "instruction", "study_read")
SYSTEM_KINDS = ACTIVITY_KINDS | {REPORT_SUBMITTED, REPORT_ADOPTED, INSTRUCTION, STUDY_READ}
ADJUSTMENT_KIND = ADJUSTMENT_CATEGORY = "adjustment"  # built in: manual adjustments, never capped
LEAVE_SUFFIX, ABSENT_SUFFIX = "_leave", "_absent"
NAME_MAX = 40  # a kind's or a category's name is stored with every entry (DutyEntry.kind, .category)


class RulesError(Exception):
    """A rules file that cannot be used; the message names the file, the place and what is wrong."""


def tenths(points: float) -> int:
    return round(points * 10)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_decimal(value: float | None) -> float | None:
    if value is not None and abs(value * 10 - round(value * 10)) > 1e-9:
        raise ValueError(f"points have at most one decimal (got {value})")
    return value


class Category(_Strict):
    label: str
    cap: float | None = None  # the most this category adds in a year
    floor: float | None = None  # the most a penalty category takes away (a negative number)
    penalty: bool = False

    _decimals = field_validator("cap", "floor")(_one_decimal)

    @model_validator(mode="after")
    def _sensible_bounds(self) -> Category:
        if self.penalty and self.cap is not None:
            raise ValueError("a penalty category has a floor, not a cap")
        if not self.penalty and self.floor is not None:
            raise ValueError("only a penalty category (penalty: true) has a floor")
        if self.cap is not None and self.cap < 0:
            raise ValueError("cap must not be negative")
        if self.floor is not None and self.floor > 0:
            raise ValueError("floor is the lowest total, a negative number")
        return self


class DutyRule(_Strict):
    label: str
    category: str
    points: float = 0
    late: float | None = None  # activities: points when late (default: ``points``)
    leave: float = 0  # activities: approved leave
    absent: float = 0  # activities: unexcused absence (negative, counted in the penalty category)
    per_half_day: bool = False  # activities: points × the activity's half-days
    by_level: dict[AdoptionLevel, float] = {}  # report_adopted: points for the highest level reached
    self_reported: bool = False

    _decimals = field_validator("points", "late", "leave", "absent")(_one_decimal)

    @field_validator("by_level")
    @classmethod
    def _level_decimals(cls, value: dict[AdoptionLevel, float]) -> dict[AdoptionLevel, float]:
        for points in value.values():
            _one_decimal(points)
        return value

    @model_validator(mode="after")
    def _no_positive_absence(self) -> DutyRule:
        if self.absent > 0:
            raise ValueError("absent points take away: use a negative number or 0")
        return self


class Grade(_Strict):
    name: str
    min: float | None = None  # None: the lowest grade, whatever the score


class Target(_Strict):
    """One of the "five one" targets: at least ``need`` confirmed entries of these kinds in the year."""

    name: str
    kinds: list[str] = Field(min_length=1)
    need: int = Field(default=1, ge=1)


class GroupRules(_Strict):
    """How liaison groups are scored (group assessment)."""

    activity_held: float = 0  # per closed activity the group organised
    report_submitted: float = 0  # per report its members submitted
    report_adopted: float = 0  # per adopted report
    attendance: float = 0  # × the attendance rate of its members (0 … 1)


class YearRules(_Strict):
    base: float = 0
    bonus_cap: float | None = None
    pass_mark: float
    grades: list[Grade] = Field(min_length=1)
    categories: dict[str, Category] = Field(min_length=1)
    penalty_category: str | None = None
    duties: dict[str, DutyRule] = Field(min_length=1)
    five_one: list[Target] = []
    groups: GroupRules = GroupRules()

    @model_validator(mode="after")
    def _consistent(self) -> YearRules:
        if ADJUSTMENT_CATEGORY in self.categories or ADJUSTMENT_KIND in self.duties:
            raise ValueError(f"'{ADJUSTMENT_CATEGORY}' is built in (manual adjustments); choose another name")
        too_long = [name for name in [*self.categories, *self.duties] if len(name) > NAME_MAX]
        if too_long:
            raise ValueError(f"'{too_long[0]}': names of categories and duties have at most {NAME_MAX} characters")
        for kind, rule in self.duties.items():
            self._check_duty(kind, rule)
        if self.penalty_category is not None and not self.categories.get(self.penalty_category, _NO).penalty:
            raise ValueError(f"penalty_category '{self.penalty_category}' must be a category with penalty: true")
        if any(rule.absent or rule.leave < 0 for rule in self.duties.values()) and self.penalty_category is None:
            raise ValueError("absences take points away: name the penalty_category they count in")
        self._check_grades()
        for target in self.five_one:
            unknown = [kind for kind in target.kinds if self.kind_rule(kind) is None]
            if unknown:
                raise ValueError(f"five_one '{target.name}': unknown duty kind {unknown[0]!r} "
                                 f"(known: {', '.join(sorted(self.known_kinds))})")
        return self

    def _check_duty(self, kind: str, rule: DutyRule) -> None:
        where = f"duties.{kind}"
        if rule.category not in self.categories:
            raise ValueError(f"{where}: unknown category '{rule.category}' (known: {', '.join(self.categories)})")
        if self.categories[rule.category].penalty:
            raise ValueError(f"{where}: points are earned in a bonus category, not the penalty one")
        if rule.self_reported == (kind in SYSTEM_KINDS):
            raise ValueError(f"{where}: " + (
                "recorded by the system, so it cannot be self_reported" if rule.self_reported else
                f"not a kind the system records ({', '.join(sorted(SYSTEM_KINDS))}); "
                "mark it self_reported: true if members report it"))
        is_activity = kind in ACTIVITY_KINDS
        if not is_activity and (rule.late is not None or rule.leave or rule.absent or rule.per_half_day):
            raise ValueError(f"{where}: late, leave, absent and per_half_day apply to activities only")
        if (kind == REPORT_ADOPTED) != bool(rule.by_level):
            raise ValueError(f"{where}: " + ("give points by_level (county, city, provincial, national)"
                                             if kind == REPORT_ADOPTED else "by_level is for report_adopted only"))

    def _check_grades(self) -> None:
        bounds = [grade.min for grade in self.grades]
        if bounds[-1] is not None or None in bounds[:-1]:
            raise ValueError("grades: every grade but the last has a min; the last (lowest) has none")
        numbers = [bound for bound in bounds if bound is not None]
        if numbers != sorted(numbers, reverse=True) or len(set(numbers)) != len(numbers):
            raise ValueError("grades: list them from the highest min to the lowest")
        if self.pass_mark not in numbers:
            raise ValueError(f"pass_mark {self.pass_mark:g} must be the min of one grade ({numbers})")

    @cached_property
    def known_kinds(self) -> frozenset[str]:
        kinds = set(self.duties)
        for kind in ACTIVITY_KINDS & self.duties.keys():
            kinds |= {kind + LEAVE_SUFFIX, kind + ABSENT_SUFFIX}
        return frozenset(kinds)

    def kind_rule(self, kind: str) -> DutyRule | None:
        """The rule behind a ledger kind (``plenary_absent`` → the ``plenary`` rule)."""
        if kind in self.duties:
            return self.duties[kind]
        for suffix in (LEAVE_SUFFIX, ABSENT_SUFFIX):
            if kind.endswith(suffix) and kind in self.known_kinds:
                return self.duties[kind.removesuffix(suffix)]
        return None

    def label_of(self, kind: str, suffixes: dict[str, str]) -> str:
        """How a kind reads to people; ``suffixes`` are the locale's words for leave and absence."""
        if kind == ADJUSTMENT_KIND:
            return suffixes[ADJUSTMENT_KIND]
        rule = self.kind_rule(kind)
        if rule is None:
            return kind
        for suffix in (LEAVE_SUFFIX, ABSENT_SUFFIX):
            if kind.endswith(suffix):
                return rule.label + suffixes[suffix]
        return rule.label

    @property
    def self_reported_kinds(self) -> list[str]:
        return [kind for kind, rule in self.duties.items() if rule.self_reported]

    def grade_for(self, score: float) -> str:
        for grade in self.grades:
            if grade.min is None or score >= grade.min:
                return grade.name
        return self.grades[-1].name  # unreachable: the last grade has no min

    @cached_property
    def digest(self) -> str:
        """Changes whenever anything that affects points changes (stored with a rebuilt year)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


_NO = Category(label="", penalty=False)


class RulesFile(_Strict):
    name: str
    terms: dict[str, tuple[int, int]] = {}  # 届 → (first year, last year)
    years: dict[int, YearRules] = Field(min_length=1)

    @field_validator("terms")
    @classmethod
    def _ordered_terms(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for name, (first, last) in value.items():
            if first > last:
                raise ValueError(f"term '{name}' ends ({last}) before it starts ({first})")
        return value


@dataclass(frozen=True)
class DutyRules:
    """A loaded, valid rules file."""

    source: Path
    file: RulesFile

    @property
    def name(self) -> str:
        return self.file.name

    def for_year(self, year: int) -> YearRules:
        earlier = [known for known in self.file.years if known <= year]
        return self.file.years[max(earlier) if earlier else min(self.file.years)]

    def term_years(self, term: str) -> range:
        if term not in self.file.terms:
            raise RulesError(f"unknown term '{term}' (the rules file names: {', '.join(self.file.terms) or 'none'})")
        first, last = self.file.terms[term]
        return range(first, last + 1)


def year_rules(services: Services, year: int) -> YearRules:
    """The rules of ``year`` from the running services (loaded once, from ``duty.rules_file``)."""
    if services.rules is None:
        services.rules = rules_of(services.settings)
    rules: DutyRules = services.rules
    return rules.for_year(year)


def rules_of(settings: Settings) -> DutyRules:
    """The rules file named by ``duty.rules_file``; a bad one is a :class:`ConfigError` in one line naming that
    key, so start-up stops as it does for any other wrong setting."""
    try:
        return load_rules(settings.duty.rules_file)
    except RulesError as exc:
        where = "set in config.yaml or LVZHI_DUTY__RULES_FILE"
        raise ConfigError(f"config error: duty.rules_file: {exc} ({where})") from exc


def load_rules(path: str | Path | None = None) -> DutyRules:
    """Read and validate a rules file (the shipped example when ``path`` is empty)."""
    source = Path(path) if path else DEFAULT_RULES_FILE
    try:
        data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"duty rules {source}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"duty rules {source}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise RulesError(f"duty rules {source}: the top level must be a mapping (name, terms, years)")
    try:
        return DutyRules(source=source, file=RulesFile.model_validate(data))
    except ValidationError as exc:
        raise RulesError(f"duty rules {source}: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against the shipped examples)"
    return f"{where}: {message}" if where else message
