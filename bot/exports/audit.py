"""The audit log as an Excel workbook (:func:`audit_workbook`): the events the filters select, newest first,
within the viewer's reach, one row each, times in local time (``scheduler.timezone``), the channel and the
action in the reader's words, the changed fields before and after as JSON.

    GET /api/v1/audit.xlsx, the console's 导出 ─► bot.domain.audit.events(…) ─► one sheet ─► bytes
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audit
from bot.exports.sheets import new_sheet, table_bytes
from bot.infra.i18n import Catalogue
from models.audit import AuditEvent
from models.member import LiaisonGroup

COLUMNS = ("时间", "操作人", "渠道", "操作", "对象类型", "对象编号", "联络组", "摘要", "修改前", "修改后", "IP")
WIDTHS = (18, 12, 8, 16, 14, 10, 14, 40, 30, 30, 16)
EXPORT_LIMIT = 100_000  # rows in one workbook: past this, narrow the dates
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


async def audit_workbook(
    session: AsyncSession, reach: frozenset[int] | None, filters: audit.Filters, *, zone: ZoneInfo,
    texts: Catalogue, own: int | None = None,
) -> bytes:
    """The .xlsx file's bytes; ``own`` as in :func:`bot.domain.audit.events` (a viewer's own acts)."""
    found, _ = await audit.events(session, reach, actor=filters.actor, object_type=filters.object_type,
                                  object_id=filters.object_id, since=filters.since, until=filters.until,
                                  page=1, per_page=EXPORT_LIMIT, own=own)
    groups = {row[0]: row[1] for row in (await session.execute(select(LiaisonGroup.id, LiaisonGroup.name))).all()}
    workbook, sheet = new_sheet(texts("audit.export.sheet"))
    sheet.append(COLUMNS)
    for event in found:
        sheet.append(_row(event, groups, zone, texts))
    return table_bytes(workbook, sheet, WIDTHS)


def _row(event: AuditEvent, groups: dict[int, str], zone: ZoneInfo, texts: Catalogue) -> tuple[Any, ...]:
    return (
        _local(event.at, zone), event.actor_label, texts(f"audit.channel.{event.channel.value}"),
        action_name(event.action, texts), event.object_type, event.object_id or "",
        groups.get(event.group_id, "") if event.group_id is not None else "", event.summary,
        _changed(event.before), _changed(event.after), event.ip or "",
    )


def action_name(action: str, texts: Catalogue) -> str:
    """The action in the reader's words; one the catalogue does not name (a new one) shows as it is stored."""
    return _named("audit.action", action, texts)


def object_name(object_type: str, texts: Catalogue) -> str:
    """The kind of object in the reader's words (the console's filter); an unnamed one as it is stored."""
    return _named("audit.object", object_type, texts)


def _named(prefix: str, stored: str, texts: Catalogue) -> str:
    key = f"{prefix}.{stored}"
    return texts(key) if texts.has(key) else stored


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(TIME_FORMAT)


def _changed(values: dict[str, Any] | None) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True) if values else ""
