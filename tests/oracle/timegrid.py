"""Periods cut in the business time zone (DESIGN §4 Calendar, Window, as_of)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from .settings import OracleSettings

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Period:
    """A period [start, end) as local dates of the business time zone, and as UTC instants."""

    # CHOICE: result rows carry period_end = the exclusive end (the next period's first day), so
    # partial = period_end (as an instant) > as_of.

    start: date
    end: date
    label: str
    start_utc: pd.Timestamp
    end_utc: pd.Timestamp


@dataclass(frozen=True)
class Window:
    """The measurement window: the period itself, or the 12 months ending at its end (ttm)."""

    start: date
    end: date
    start_utc: pd.Timestamp
    end_utc: pd.Timestamp


def add_months(d: date, n: int) -> date:
    """The first day of the month ``n`` months after ``d``'s month."""
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def months_between(a: date, b: date) -> int:
    """Whole months from ``a``'s month to ``b``'s month."""
    return (b.year - a.year) * 12 + b.month - a.month


def local_midnight_utc(d: date, tz: ZoneInfo) -> pd.Timestamp:
    """Local midnight of ``d`` as a naive UTC instant."""
    local = datetime(d.year, d.month, d.day, tzinfo=tz)
    return pd.Timestamp(local.astimezone(UTC).replace(tzinfo=None))


def local_date(ts: pd.Timestamp, tz: ZoneInfo) -> date:
    """The business-time-zone date of a naive UTC instant."""
    return ts.to_pydatetime().replace(tzinfo=UTC).astimezone(tz).date()


def as_of_instant(as_of: date, tz: ZoneInfo) -> pd.Timestamp:
    """The end of the ``as_of`` day in the business time zone; rows at or after it are ignored."""
    return local_midnight_utc(as_of + timedelta(days=1), tz)


def last_complete_month(as_of: date) -> date:
    """The last month whose every day is ≤ as_of."""
    next_day = as_of + timedelta(days=1)
    return add_months(date(next_day.year, next_day.month, 1), -1)


def period_start_containing(d: date, period: str, fiscal_start_month: int) -> date:
    """First day of the month, fiscal quarter or fiscal year holding ``d``."""
    size = PERIOD_MONTHS[period]
    offset = 0 if size == 1 else (d.month - fiscal_start_month) % size
    return add_months(date(d.year, d.month, 1), -offset)


def period_label(start: date, period: str, s: OracleSettings) -> str:
    """`2026-03`; `2026-Q1`, `2026` on calendar years; `FY2027-Q1`, `FY2027` on fiscal ones."""
    # CHOICE: the label format above (fiscal_label `end`: FY2027 ends in 2027, `start`: begins in
    # 2026). Labels are informative; rows are matched on period_start.
    if period == "month":
        return f"{start:%Y-%m}"
    fsm = s.fiscal_start_month
    fy_start_year = start.year if start.month >= fsm else start.year - 1
    fy = fy_start_year + (1 if fsm != 1 and s.fiscal_label == "end" else 0)
    prefix = str(fy) if fsm == 1 else f"FY{fy}"
    if period == "year":
        return prefix
    return f"{prefix}-Q{((start.month - fsm) % 12) // 3 + 1}"


def periods(start: date, end: date, period: str, s: OracleSettings) -> list[Period]:
    """The periods covering [start, end), snapped outward to period boundaries."""
    tz = ZoneInfo(s.timezone)
    out: list[Period] = []
    p = period_start_containing(start, period, s.fiscal_start_month)
    while p < end:
        e = add_months(p, PERIOD_MONTHS[period])
        label = period_label(p, period, s)
        out.append(Period(p, e, label, local_midnight_utc(p, tz), local_midnight_utc(e, tz)))
        p = e
    return out


def window_of(p: Period, window: str, tz: ZoneInfo) -> Window:
    """`period`: the period itself; `ttm`: the 12 months ending at the period's end."""
    # CHOICE: on `ttm` the window replaces the period everywhere (activity, events, the arr
    # weight's "month before" and "first in-period month", new logos, asks), except that
    # dimensions stay as of the period start and GRR/NRR use their own start/end months.
    if window == "period":
        return Window(p.start, p.end, p.start_utc, p.end_utc)
    if window == "ttm":
        start = add_months(p.end, -12)
        return Window(start, p.end, local_midnight_utc(start, tz), p.end_utc)
    raise ValueError(f"unknown window {window!r}")
