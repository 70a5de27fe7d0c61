"""A Word bulletin (信息专报) of adopted reports, compiled in the console from the reports a secretary selected.

    bulletin_docx(session, reports, title=…, issued=…) ──► .docx bytes:
        the title (the committee's name where config gives one, else a neutral 信息专报), the issue date,
        then per report: its title, author and liaison group, adoption level, full text, leaders' instructions

The document uses Word's own heading and body styles with a CJK font set (宋体 for the text, 黑体 for the
headings), so it opens readable in WPS and Word alike; nothing is fetched from elsewhere.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.exports.reports import about_reports, level_name
from bot.infra.i18n import Catalogue
from models.report import Report

BODY_FONT, HEADING_FONT = "宋体", "黑体"


async def bulletin_docx(session: AsyncSession, reports: list[Report], *, title: str, issued: date,
                        zone: ZoneInfo, texts: Catalogue) -> bytes:
    """The bulletin of ``reports`` (in the order given) as .docx bytes."""
    from docx import Document  # imported here: only the bulletin needs python-docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    about = await about_reports(session, reports)
    document = Document()
    _use_cjk_fonts(document)
    heading = document.add_heading(title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle = document.add_paragraph(texts("console_reports.bulletin.issued", date=f"{issued:%Y-%m-%d}",
                                            count=str(len(reports))))
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for number, report in enumerate(reports, start=1):
        document.add_heading(f"{number}. {report.title}", level=1)
        document.add_paragraph(texts("console_reports.bulletin.byline", author=about.author(report),
                                     group=about.group(report) or "-", level=level_name(report, texts) or "-"))
        for paragraph in report.body.split("\n"):
            if paragraph.strip():
                document.add_paragraph(paragraph.strip())
        instructions = about.instructions_text(report, zone)
        if instructions:
            document.add_paragraph(texts("console_reports.bulletin.instructions", text=instructions))
    output = BytesIO()
    document.save(output)
    return output.getvalue()


def _use_cjk_fonts(document: object) -> None:
    """Word picks the East Asian font from w:eastAsia, not from the font name python-docx sets."""
    from docx.oxml.ns import qn

    styles = document.styles  # type: ignore[attr-defined]
    for name, font in (("Normal", BODY_FONT), ("Title", HEADING_FONT), ("Heading 1", HEADING_FONT)):
        style = styles[name]
        style.font.name = font
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
