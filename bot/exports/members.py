"""The console's member list as an Excel workbook (:func:`members_workbook`): the members the filters select
within the viewer's reach, by name, with their mobile numbers — the 未绑定 list a liaison office calls.

    GET /console/members.xlsx?… the list's filters ─► bot.domain.members.search(…) ─► one sheet ─► bytes
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import members as ops
from bot.exports.sheets import new_sheet, table_bytes
from bot.infra.i18n import Catalogue

COLUMNS = ("name", "mobile", "group", "sector", "committee", "role", "status", "bound")
WIDTHS = (12, 14, 14, 16, 16, 12, 10, 10)
EXPORT_LIMIT = 50_000  # members in one workbook: a county has a few hundred, a city a few thousand


async def members_workbook(session: AsyncSession, reach: frozenset[int] | None, filters: ops.MemberFilters, *,
                           texts: Catalogue) -> bytes:
    """The .xlsx file's bytes; the columns' titles in the reader's language."""

    found, _ = await ops.search(session, reach, filters, page=1, per_page=EXPORT_LIMIT)
    bound = await ops.bound_ids(session, [member.id or 0 for member in found])
    names = await ops.organisation(session, None)
    workbook, sheet = new_sheet(texts("console_members.export_sheet"))
    sheet.append([texts(f"console_members.{column}") for column in COLUMNS])
    yes, no = texts("console_members.bound_yes"), texts("console_members.bound_no")
    for member in found:
        sheet.append([member.name, member.mobile or "", names["group"].get(member.group_id or 0, ""),
                      names["sector"].get(member.sector_id or 0, ""),
                      names["committee"].get(member.committee_id or 0, ""),
                      texts(f"members.role.{member.role.value}"), texts(f"members.status.{member.status.value}"),
                      yes if member.id in bound else no])
    return table_bytes(workbook, sheet, WIDTHS)
