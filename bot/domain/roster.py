"""Roster import: a county's member list from Excel (.xlsx) or CSV into the organisation tables.

The flow, for ``lvzhi members import FILE [--dry-run]``::

    file ──read_table──► header + raw rows ──parse_rows──► RosterRow | (row, reason)
                                                              │
                         one transaction ◄────────────────────┘
                         groups / sectors / committees created as they appear
                         members matched by mobile: created, updated or unchanged
                         组长 rows make their member the group's leader
                         dry run: same work, then rolled back

Row numbers are the spreadsheet's: the header is row 1, so the first member is row 2.
A bad row is reported with its reason and skipped; it never stops the good ones.
Re-importing the same file changes nothing (0 created, 0 updated).

Columns: 姓名, 性别, 手机号, 界别, 专委会, 联络组, 工作单位及职务, 届次, 角色 (角色 optional:
委员 / 组长 / 秘书 / 管理员). Staff rows (秘书, 管理员) may leave 界别, 联络组 and 届次 empty.
Existing members keep their status (a suspended member stays suspended) and, when 角色 is blank, their role.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from bot.domain import audit
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from models.base import utc_now
from models.member import (
    ApplicationStatus,
    Committee,
    LiaisonGroup,
    Member,
    MemberApplication,
    MemberStatus,
    Platform,
    Role,
    Sector,
)

Progress = Callable[[int, int], None]  # (rows done, rows in total)

# Column header → RosterRow field. A few spellings secretaries use are accepted as well.
HEADERS: dict[str, str] = {
    "姓名": "name",
    "性别": "gender",
    "手机号": "mobile",
    "手机": "mobile",
    "手机号码": "mobile",
    "界别": "sector",
    "专委会": "committee",
    "联络组": "group",
    "工作单位及职务": "work_unit",
    "工作单位": "work_unit",
    "单位及职务": "work_unit",
    "届次": "term",
    "角色": "role",
}
REQUIRED_COLUMNS = ("name", "mobile", "sector", "group")
COLUMN_LABELS = {"name": "姓名", "mobile": "手机号", "sector": "界别", "group": "联络组"}

ROLE_WORDS: dict[str, Role] = {
    "委员": Role.MEMBER,
    "组长": Role.GROUP_LEADER,
    "秘书": Role.SECRETARY,
    "联络员": Role.SECRETARY,
    "管理员": Role.ADMIN,
}
STAFF_ROLES = frozenset({Role.SECRETARY, Role.ADMIN})
GENDERS = {"男": "男", "女": "女", "男性": "男", "女性": "女"}

MOBILE_RE = re.compile(r"1\d{10}")
_MOBILE_NOISE = re.compile(r"[\s\-()]")
_CJK_NAME = re.compile(r"[\u3400-\u9fff·\s]+")

# Column lengths of the tables, so a too-long cell is a row error rather than a database error.
MAX_LENGTHS = {"name": 40, "work_unit": 200, "term": 20, "sector": 80, "committee": 80, "group": 80}
FIELD_LABELS = {
    "name": "姓名", "work_unit": "工作单位及职务", "term": "届次", "sector": "界别", "committee": "专委会",
    "group": "联络组",
}

DEMO_ROSTER = Path(__file__).resolve().parent.parent / "data" / "roster.csv"  # the sample county (138 members)
DEMO_APPLICANT = {"name": "林晓梅", "mobile": "19900009001", "external_id": "demo-applicant"}

CHUNK = 500  # members looked up per query, and rows between progress callbacks


class RosterError(Exception):
    """The file as a whole cannot be read (unknown type, missing column, unreadable encoding).

    Carries a text key and its values; :meth:`render` gives the message in the operator's language.
    """

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def render(self, texts: Catalogue) -> str:
        return texts(self.key, **self.values)


@dataclass(frozen=True, slots=True)
class RosterRow:
    row: int
    name: str
    mobile: str
    gender: str = ""
    sector: str = ""
    committee: str = ""
    group: str = ""
    work_unit: str = ""
    term: str = ""
    role: Role | None = None  # None: the 角色 cell was blank (new members become 委员, others keep theirs)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    dry_run: bool = False
    groups_created: int = 0
    sectors_created: int = 0
    committees_created: int = 0

    @property
    def rows_ok(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self, texts: Catalogue) -> str:
        key = "roster.summary_dry_run" if self.dry_run else "roster.summary"
        return texts(
            key, created=self.created, updated=self.updated, unchanged=self.unchanged,
            errors=len(self.errors), groups=self.groups_created, sectors=self.sectors_created,
            committees=self.committees_created,
        )


# --- normalising cells ----------------------------------------------------------------------------

def clean_text(value: Any) -> str:
    """A cell as text: full-width spaces folded, runs of whitespace collapsed, ends stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores typed numbers as floats: 19900001001.0
    return " ".join(str(value).replace("\u3000", " ").split())


def clean_name(value: Any) -> str:
    """Chinese names are often padded for alignment in Excel ("王  芳"); drop the padding."""
    text = clean_text(value)
    return text.replace(" ", "") if _CJK_NAME.fullmatch(text or "x") else text


def normalise_mobile(value: Any) -> str | None:
    """An 11-digit mainland mobile number, or None. Accepts full-width digits, spaces, dashes, +86."""
    text = unicodedata.normalize("NFKC", clean_text(value))
    digits = _MOBILE_NOISE.sub("", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if MOBILE_RE.fullmatch(digits) else None


def _header_key(value: Any) -> str | None:
    text = unicodedata.normalize("NFKC", clean_text(value)).replace(" ", "")
    return HEADERS.get(text)


# --- reading files --------------------------------------------------------------------------------

def decode_csv(data: bytes) -> str:
    """CSV as Excel writes it in China: UTF-8 with a BOM, plain UTF-8, or GBK (read as GB18030)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise RosterError("roster.error_encoding") from exc


def read_table(path: Path) -> list[list[Any]]:
    """All rows of the file's first sheet, header included, as lists of cell values."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = decode_csv(path.read_bytes())
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raise RosterError("roster.error_file_type")


def _read_xlsx(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook  # imported here: only the import command needs it

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _columns(header: Sequence[Any]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _header_key(cell)
        if key is not None and key not in columns:
            columns[key] = index
    return columns


RowErrors = list[tuple[int, str]]


def parse_rows(table: Sequence[Sequence[Any]], texts: Catalogue) -> tuple[list[RosterRow], RowErrors]:
    """Validate every row. Returns the good rows and (row number, reason) for the bad ones."""
    if not table:
        raise RosterError("roster.error_empty")
    columns = _columns(table[0])
    missing = [COLUMN_LABELS[key] for key in REQUIRED_COLUMNS if key not in columns]
    if missing:
        raise RosterError("roster.error_columns", columns="、".join(missing))

    good: list[RosterRow] = []
    errors: list[tuple[int, str]] = []
    seen_mobiles: dict[str, int] = {}
    leaders: dict[str, int] = {}
    for number, cells in enumerate(table[1:], start=2):
        values = {key: cells[index] if index < len(cells) else None for key, index in columns.items()}
        if all(clean_text(value) == "" for value in values.values()):
            continue  # blank lines at the end of a sheet are not errors
        row, reason = _parse_row(number, values, texts)
        if row is not None:
            reason = _duplicate_reason(row, seen_mobiles, leaders, texts)
        if reason is not None or row is None:
            errors.append((number, reason or ""))
            continue
        seen_mobiles[row.mobile] = number
        if row.role is Role.GROUP_LEADER:
            leaders[row.group] = number
        good.append(row)
    return good, errors


def _parse_row(number: int, values: dict[str, Any], texts: Catalogue) -> tuple[RosterRow | None, str | None]:
    name = clean_name(values.get("name"))
    if not name:
        return None, texts("roster.error_required", column="姓名")
    raw_mobile = clean_text(values.get("mobile"))
    if not raw_mobile:
        return None, texts("roster.error_required", column="手机号")
    mobile = normalise_mobile(raw_mobile)
    if mobile is None:
        return None, texts("roster.error_mobile", value=raw_mobile)

    role_text = clean_text(values.get("role"))
    role = ROLE_WORDS.get(role_text) if role_text else None
    if role_text and role is None:
        return None, texts("roster.error_role", value=role_text, choices="、".join(ROLE_WORDS))
    gender_text = clean_text(values.get("gender"))
    gender = GENDERS.get(gender_text, "") if gender_text else ""
    if gender_text and not gender:
        return None, texts("roster.error_gender", value=gender_text)

    optional = ("sector", "committee", "group", "work_unit", "term")
    fields = {key: clean_text(values.get(key)) for key in optional}
    fields["name"] = name
    for key, limit in MAX_LENGTHS.items():
        if len(fields[key]) > limit:
            return None, texts("roster.error_too_long", column=FIELD_LABELS[key], limit=limit)
    # Staff of the liaison office belong to no sector or group; members must have both.
    if role not in STAFF_ROLES:
        for key in ("sector", "group"):
            if not fields[key]:
                return None, texts("roster.error_required", column=COLUMN_LABELS[key])
    return RosterRow(row=number, mobile=mobile, gender=gender, role=role, **fields), None


def _duplicate_reason(
    row: RosterRow, seen_mobiles: dict[str, int], leaders: dict[str, int], texts: Catalogue
) -> str | None:
    if row.mobile in seen_mobiles:
        return texts("roster.error_duplicate_mobile", other=seen_mobiles[row.mobile])
    if row.role is Role.GROUP_LEADER and row.group in leaders:
        return texts("roster.error_two_leaders", group=row.group, other=leaders[row.group])
    return None


def load_file(path: Path | str, texts: Catalogue) -> tuple[list[RosterRow], RowErrors]:
    """Read and validate a roster file. Raises :class:`RosterError` for a file that cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise RosterError("roster.error_missing_file", path=path)
    try:
        table = read_table(path)
    except (OSError, ValueError, KeyError, csv.Error, zipfile.BadZipFile) as exc:  # broken files
        raise RosterError("roster.error_unreadable", path=path, error=exc.__class__.__name__) from exc
    return parse_rows(table, texts)


# --- writing --------------------------------------------------------------------------------------

class _DryRun(Exception):
    """Raised at the end of a dry run so the transaction rolls back; carries the report out."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("dry run")
        self.report = report


async def import_rows(
    db: Database,
    rows: Sequence[RosterRow],
    *,
    errors: Iterable[tuple[int, str]] = (),
    dry_run: bool = False,
    progress: Progress | None = None,
    by: Member | None = None,
) -> ImportReport:
    """Upsert validated rows in one transaction. A dry run does the same work and rolls it back,
    so its report is exactly what a real run would say."""
    report = ImportReport(errors=sorted(errors), dry_run=dry_run)
    try:
        async with db.session() as session:
            await _Importer(session, report, progress).run(rows)
            if dry_run:
                raise _DryRun(report)
            await _record_import(session, report, by)
    except _DryRun as done:
        return done.report
    return report


async def _record_import(session: AsyncSession, report: ImportReport, by: Member | None) -> None:
    """One event per import, with its counts (the rows themselves are the roster's business)."""
    counts = {"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
              "errors": len(report.errors), "groups_created": report.groups_created}
    await audit.record(session, action="roster.import", object_type="roster", object_id=None, group_id=None, by=by,
                       after=counts, summary=" ".join(f"{name}={value}" for name, value in counts.items()))


async def import_file(
    db: Database,
    path: Path | str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    texts: Catalogue | None = None,
    by: Member | None = None,
) -> ImportReport:
    rows, errors = load_file(path, texts or Catalogue())
    return await import_rows(db, rows, errors=errors, dry_run=dry_run, progress=progress, by=by)


class _Importer:
    """The upsert of one import, holding the name → row caches of groups, sectors and committees."""

    def __init__(self, session: AsyncSession, report: ImportReport, progress: Progress | None) -> None:
        self.session = session
        self.report = report
        self.progress = progress
        self.groups: dict[str, LiaisonGroup] = {}
        self.sectors: dict[str, Sector] = {}
        self.committees: dict[str, Committee] = {}

    async def run(self, rows: Sequence[RosterRow]) -> None:
        self.groups = {g.name: g for g in (await self.session.scalars(select(LiaisonGroup))).all()}
        self.sectors = {s.name: s for s in (await self.session.scalars(select(Sector))).all()}
        self.committees = {c.name: c for c in (await self.session.scalars(select(Committee))).all()}
        leaders: dict[str, Member] = {}
        in_file: dict[int, RosterRow] = {}
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            existing = await self._members_by_mobile([row.mobile for row in chunk])
            for row in chunk:
                member = await self._upsert(row, existing.get(row.mobile))
                in_file[id(member)] = row
                if row.role is Role.GROUP_LEADER:
                    leaders[row.group] = member
            if self.progress:
                self.progress(min(start + CHUNK, len(rows)), len(rows))
        await self.session.flush()  # member ids for the leaders
        await self._set_leaders(leaders, in_file)
        if self.progress and not rows:
            self.progress(0, 0)

    async def _members_by_mobile(self, mobiles: list[str]) -> dict[str, Member]:
        found = await self.session.scalars(select(Member).where(Member.mobile.in_(mobiles)))  # type: ignore[union-attr]
        return {member.mobile: member for member in found.all() if member.mobile}

    async def _upsert(self, row: RosterRow, member: Member | None) -> Member:
        wanted = {
            "name": row.name,
            "gender": row.gender,
            "sector_id": await self._id_of(self.sectors, Sector, row.sector, "sectors_created"),
            "committee_id": await self._id_of(
                self.committees, Committee, row.committee, "committees_created"
            ),
            "group_id": await self._id_of(self.groups, LiaisonGroup, row.group, "groups_created"),
            "work_unit": row.work_unit,
            "term": row.term,
        }
        if member is None:
            role = row.role or Role.MEMBER
            member = Member(mobile=row.mobile, role=role, status=MemberStatus.ACTIVE, **wanted)
            self.session.add(member)
            self.report.created += 1
            return member
        if row.role is not None:
            wanted["role"] = row.role
        changed = {key: value for key, value in wanted.items() if getattr(member, key) != value}
        if not changed:
            self.report.unchanged += 1
            return member
        for key, value in changed.items():
            setattr(member, key, value)
        member.updated_at = utc_now()
        self.report.updated += 1
        return member

    async def _id_of(
        self, cache: dict[str, Any], model: type[SQLModel], name: str, counter: str
    ) -> int | None:
        if not name:
            return None
        found = cache.get(name)
        if found is None:
            found = model(name=name)
            self.session.add(found)
            await self.session.flush()  # its id is needed by the member rows that follow
            cache[name] = found
            setattr(self.report, counter, getattr(self.report, counter) + 1)
        return found.id  # type: ignore[no-any-return]

    async def _set_leaders(self, leaders: dict[str, Member], in_file: dict[int, RosterRow]) -> None:
        """组长 rows name their group's leader; a leader the file now lists as 委员 is cleared."""
        for name, group in self.groups.items():
            leader = leaders.get(name)
            if leader is not None:
                if group.leader_id != leader.id:
                    group.leader_id = leader.id
                continue
            if group.leader_id is None:
                continue
            current = await self.session.get(Member, group.leader_id)
            row = in_file.get(id(current)) if current is not None else None
            if row is not None and row.role is not None and row.role is not Role.GROUP_LEADER:
                group.leader_id = None


# --- the demo -------------------------------------------------------------------------------------

async def load_demo(db: Database, roster_path: Path | str | None = None) -> ImportReport:
    """``lvzhi demo``: the sample county, a secretary, and one stranger waiting for approval.

    Safe to run twice: the roster import is idempotent and the extras are added only when missing.
    """
    report = await import_file(db, roster_path or DEMO_ROSTER)
    async with db.session() as session:
        await _ensure_secretary(session)
        await _ensure_sample_application(session)
    return report


async def _ensure_secretary(session: AsyncSession) -> None:
    """Somebody has to approve applications: promote the first member when the file named no secretary."""
    has_secretary = await session.scalar(select(Member.id).where(Member.role == Role.SECRETARY).limit(1))
    if has_secretary is not None:
        return
    first = await session.scalar(
        select(Member).where(Member.status == MemberStatus.ACTIVE).order_by(Member.id).limit(1)  # type: ignore[arg-type]
    )
    if first is not None:
        first.role = Role.SECRETARY
        first.updated_at = utc_now()


async def _ensure_sample_application(session: AsyncSession) -> None:
    """A pending registration, so ``审核`` shows a secretary something on the first try."""
    exists = await session.scalar(select(Member.id).where(Member.mobile == DEMO_APPLICANT["mobile"]))
    if exists is not None:
        return
    group = await session.scalar(select(LiaisonGroup).order_by(LiaisonGroup.id).limit(1))  # type: ignore[arg-type]
    sector = await session.scalar(select(Sector).order_by(Sector.id).limit(1))  # type: ignore[arg-type]
    applicant = Member(
        name=DEMO_APPLICANT["name"], mobile=DEMO_APPLICANT["mobile"], status=MemberStatus.PENDING,
        group_id=group.id if group else None, sector_id=sector.id if sector else None,
    )
    session.add(applicant)
    await session.flush()
    assert applicant.id is not None
    session.add(MemberApplication(
        member_id=applicant.id, platform=Platform.SIMULATOR, external_id=DEMO_APPLICANT["external_id"],
        status=ApplicationStatus.PENDING,
    ))
