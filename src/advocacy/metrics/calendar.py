"""Periods cut in the business time zone, as a small table for range joins (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from advocacy.config import CalendarSettings


@dataclass(frozen=True)
class Period:
    """One period and its measurement window; dates are local, instants naive UTC."""

    label: str
    start_date: date
    end_date: date
    start: datetime
    end: datetime
    window_start_date: date
    window_start: datetime

    @property
    def end_month(self) -> date:
        """The last month of the window (first day)."""
        return add_months(self.end_date, -1)


def utc_instant(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC).replace(tzinfo=None)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


def period_start(day: date, grain: str, fiscal_start_month: int) -> date:
    """The start of the period holding `day` (quarters and years follow the fiscal calendar)."""
    size = MONTHS_IN[grain]
    offset = (day.month - fiscal_start_month) % size if size > 1 else 0
    return add_months(date(day.year, day.month, 1), -offset)


def label(start: date, grain: str, cal: CalendarSettings) -> str:
    if grain == "month":
        return f"{start:%Y-%m}"
    fy_start_year = start.year if start.month >= cal.fiscal_start_month else start.year - 1
    shift = 1 if cal.fiscal_label == "end" and cal.fiscal_start_month != 1 else 0
    year = fy_start_year + shift
    prefix = "FY" if cal.fiscal_start_month != 1 else ""
    if grain == "year":
        return f"{prefix}{year}"
    quarter = ((start.month - cal.fiscal_start_month) % 12) // 3 + 1
    return f"{prefix}{year}-Q{quarter}"


def periods_between(
    start: date, end: date, grain: str, cal: CalendarSettings, *, ttm: bool = False
) -> list[Period]:
    """Periods covering [start, end), snapped outward to period boundaries."""
    tz = ZoneInfo(cal.timezone)
    size = MONTHS_IN[grain]
    first = period_start(start, grain, cal.fiscal_start_month)
    out = []
    cursor = first
    while cursor < end:
        nxt = add_months(cursor, size)
        wstart = add_months(nxt, -12) if ttm else cursor
        out.append(
            Period(
                label(cursor, grain, cal),
                cursor,
                nxt,
                utc_instant(cursor, tz),
                utc_instant(nxt, tz),
                wstart,
                utc_instant(wstart, tz),
            )
        )
        cursor = nxt
    return out


def default_range(as_of: date, grain: str, cal: CalendarSettings) -> tuple[date, date]:
    """The last 8 complete quarters before as_of (DESIGN §4), whatever the grain."""
    end = period_start(as_of + timedelta(days=1), "quarter", cal.fiscal_start_month)
    return add_months(end, -24), end


def end_of_day(day: date, cal: CalendarSettings) -> datetime:
    """as_of as an instant: the end of that day in the business time zone, naive UTC."""
    return utc_instant(day + timedelta(days=1), ZoneInfo(cal.timezone))
