"""Dates and times as members type them in Chinese chat (``明天 9:00``, ``11月25日上午9点``), for the
conversations that ask for a moment (a new activity's start, a broadcast's send time)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

_DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_DATE_FULL = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_DATE_SHORT = re.compile(r"^(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_DATE_WORD = re.compile(r"^(大后天|后天|明天|明日|今天|今日)")
_WEEKDAY = re.compile(r"[(（]?\s*(?:周|星期|礼拜)[一二三四五六日天]\s*[)）]?")
_CN_NUMBER = r"[零〇一二两三四五六七八九十]+"
_TIME = re.compile(
    rf"^(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上)?(\d{{1,2}}|{_CN_NUMBER})"
    rf"(?::(\d{{2}})|[点时](?:(半)|(\d{{1,2}}|{_CN_NUMBER})分?|整|钟)?)$"
)
_AFTERNOON = ("下午", "傍晚", "晚上")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}


def parse_when(text: str, today: date) -> datetime | None:
    """A start time as organisers type it, as a naive local datetime; None when it cannot be read.

    ``2026-11-25 09:00``, ``11-25 9:00``, ``11/25 9:00``, ``11月25日 9:00``, ``11月25日（周三）上午9点``,
    ``明天 9:00``, ``后天14:30``, ``今天下午3点半``, ``下午三点`` (today). Without a year the date is this
    year's, or next year's when this year's lies more than half a year back (``1月5日`` typed in December).
    """
    flat = unicodedata.normalize("NFKC", text).strip().lower()
    flat = _WEEKDAY.sub(" ", flat)
    year: int | None = None
    day: date | None = today
    if found := _DATE_FULL.match(flat):
        year, month, number = (int(part) for part in found.groups())
        day = _date(year, month, number)
    elif found := _DATE_SHORT.match(flat):
        month, number = int(found.group(1)), int(found.group(2))
        day = _date(today.year, month, number)
        if day is not None and day < today - timedelta(days=183):
            day = _date(today.year + 1, month, number)
    elif found := _DATE_WORD.match(flat):
        day = today + timedelta(days=_DAY_WORDS[found.group(1)])
    if day is None:
        return None
    rest = re.sub(r"\s+", "", flat[found.end():] if found else flat)
    moment = _time(rest)
    if moment is None:
        return None
    return datetime(day.year, day.month, day.day, *moment)


def _date(year: int, month: int, number: int) -> date | None:
    try:
        return date(year, month, number)
    except ValueError:
        return None


def _time(text: str) -> tuple[int, int] | None:
    found = _TIME.match(text)
    if found is None:
        return None
    period, hour_text, colon_minutes, half, minute_text = found.groups()
    hour = _number(hour_text)
    minute = 30 if half else _number(colon_minutes or minute_text or "0")
    if hour is None or minute is None:
        return None
    if period in _AFTERNOON and hour < 12:
        hour += 12
    elif period == "中午" and hour < 11:  # 中午1点 is 13:00; 中午12点 stays
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return hour, minute


def _number(text: str) -> int | None:
    """``9``, ``09``, ``九``, ``十一``, ``二十五``, ``两``: up to 59."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        high = _CN_DIGITS.get(tens, -99) if tens else 1
        low = _CN_DIGITS.get(ones, -99) if ones else 0
        value = high * 10 + low
        return value if 0 <= value <= 59 else None
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    return None
