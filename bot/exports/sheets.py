"""What the workbooks share: a new workbook with its first sheet named, and a one-table sheet finished and
written to bytes (column widths, the header row kept in view) for a download."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"  # the media type of an .xlsx download


def new_sheet(title: str) -> tuple[Any, Any]:
    """A new workbook and its first sheet, called ``title``."""
    from openpyxl import Workbook  # imported here: only the exports need it

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    return workbook, sheet


def table_bytes(workbook: Any, sheet: Any, widths: Sequence[int]) -> bytes:
    """The .xlsx file of a workbook whose ``sheet`` is one table under a header row."""
    from openpyxl.utils import get_column_letter

    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
