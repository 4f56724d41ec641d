"""Periods cut in the business time zone, as a small table for range joins (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from advocacy.config import CalendarSettings


@dataclass(frozen=True)
class Period:
    label: str
    start_date: date
    end_date: date
    start: datetime
    end: datetime


def _utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC).replace(tzinfo=None)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def quarter_start(day: date, fiscal_start_month: int) -> date:
    offset = (day.month - fiscal_start_month) % 3
    return _add_months(date(day.year, day.month, 1), -offset)


def _label(start: date, cal: CalendarSettings) -> str:
    months_into_fy = (start.month - cal.fiscal_start_month) % 12
    fy_start_year = start.year if start.month >= cal.fiscal_start_month else start.year - 1
    year = fy_start_year + (1 if cal.fiscal_label == "end" and cal.fiscal_start_month != 1 else 0)
    prefix = "FY" if cal.fiscal_start_month != 1 else ""
    return f"{prefix}{year}-Q{months_into_fy // 3 + 1}"


def quarters_before(as_of: date, count: int, cal: CalendarSettings) -> list[Period]:
    """The `count` complete quarters ending on or before `as_of` (the default range)."""
    tz = ZoneInfo(cal.timezone)
    end = quarter_start(as_of + timedelta(days=1), cal.fiscal_start_month)
    periods = []
    for k in range(count, 0, -1):
        s, e = _add_months(end, -3 * k), _add_months(end, -3 * (k - 1))
        periods.append(Period(_label(s, cal), s, e, _utc(s, tz), _utc(e, tz)))
    return periods
