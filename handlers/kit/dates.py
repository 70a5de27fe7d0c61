"""How dates and times read in chat: always the committee's local time (``ctx.zone``), never ISO strings.

    day          11月25日                 (a list line's date, a claimed day)
    day_time     11月25日 09:00           (2026年11月25日 09:00 with the year)
    weekday_when 11月25日（周三）09:00     (the meeting notice's words; the year when asked or not this year's)
    stamp        11-25 09:00              (compact, for lines of a review list or a history)
    hhmm         09:00

The words are catalogue texts (``dates.*``; the weekday form is the notice's own ``notice.when``, so chat and
the notice a member answers say the same), so English reads ``11/25 09:00``.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.chat.context import Context


def day(ctx: Context, moment: datetime | date) -> str:
    """``11月25日``: an aware moment's local day, or a day as it is."""
    local = ctx.local(moment) if isinstance(moment, datetime) else moment
    return ctx.t("dates.day", month=local.month, day=local.day)


def day_time(ctx: Context, moment: datetime, *, year: bool = False) -> str:
    """``11月25日 09:00``; ``2026年11月25日 09:00`` with ``year``."""
    local = ctx.local(moment)
    key = "dates.day_time_year" if year else "dates.day_time"
    return ctx.t(key, year=local.year, month=local.month, day=local.day, time=f"{local:%H:%M}")


def weekday_when(ctx: Context, moment: datetime, *, year: bool | None = None) -> str:
    """``11月25日（周三）09:00``. ``year``: shown always (True), never (False, the notice's exact words), or when
    it is not this year's (None)."""
    local = ctx.local(moment)
    if year is None:
        year = local.year != ctx.local_now.year
    key = "dates.weekday_time_year" if year else "notice.when"
    return ctx.t(key, year=local.year, month=local.month, day=local.day, time=f"{local:%H:%M}",
                 weekday=ctx.t(f"notice.weekday.{local.weekday()}"))


def stamp(ctx: Context, moment: datetime) -> str:
    """``11-25 09:00``."""
    return f"{ctx.local(moment):%m-%d %H:%M}"


def hhmm(ctx: Context, moment: datetime) -> str:
    """``09:00``."""
    return f"{ctx.local(moment):%H:%M}"
