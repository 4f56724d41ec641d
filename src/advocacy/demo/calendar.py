"""The demo company's fixed time grid.

Every simulated time is a float number of days since ``HISTORY_START`` (midnight UTC). Days,
months, quarters and Monday weeks are index ranges on that axis, so a whole simulation is plain
array arithmetic and only the writer turns day numbers into timestamps and dates.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

HISTORY_START = date(2022, 1, 1)
AS_OF = date(2026, 9, 30)
# Accounts are created up to here, so even the newest ones have a quarter of history.
LAST_CREATION = date(2026, 7, 1)
N_DAYS = (AS_OF - HISTORY_START).days + 1  # day N_DAYS is 2026-10-01 00:00, the end of as_of
END = float(N_DAYS)
_EPOCH_DAYS = (HISTORY_START - date(1970, 1, 1)).days


def day_of(d: date) -> int:
    """Index of a calendar date on the day axis."""
    return (d - HISTORY_START).days


def date_of(day: int) -> date:
    """Calendar date of a day index."""
    return HISTORY_START + timedelta(days=day)


def _month_starts() -> IntArr:
    starts: list[int] = []
    y, m = HISTORY_START.year, HISTORY_START.month
    while date(y, m, 1) <= AS_OF:
        starts.append(day_of(date(y, m, 1)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    starts.append(N_DAYS)
    return np.asarray(starts, dtype=np.int64)


# MONTH_START[m] is the first day of month m; the last entry closes the final month at as_of's end.
MONTH_START = _month_starts()
N_MONTHS = len(MONTH_START) - 1
N_QUARTERS = N_MONTHS // 3
QUARTER_START = MONTH_START[::3].copy()  # N_QUARTERS + 1 boundaries (2026-10-01 last)
# Mondays on or after the start; usage weeks and account-week exposures use them.
MONDAYS = np.arange((7 - HISTORY_START.weekday()) % 7, N_DAYS, 7, dtype=np.int64)


def month_of(days: FloatArr | IntArr) -> IntArr:
    """Month index holding each day (fractional days allowed)."""
    return np.searchsorted(MONTH_START, np.floor(days), side="right").astype(np.int64) - 1


def quarter_of(days: FloatArr | IntArr) -> IntArr:
    """Quarter index holding each day."""
    return month_of(days) // 3


def epoch_days(days: IntArr) -> npt.NDArray[np.int32]:
    """Day indices as days since 1970-01-01, the storage of Arrow ``date32``."""
    return (days + _EPOCH_DAYS).astype(np.int32)


def epoch_micros(days: FloatArr) -> IntArr:
    """Fractional day numbers as whole-second UTC microseconds since 1970 (NaN stays a sentinel)."""
    seconds = np.floor(np.nan_to_num(days, nan=0.0) * 86400.0).astype(np.int64)
    return (seconds + _EPOCH_DAYS * 86400) * 1_000_000


def quarter_label(q: int) -> str:
    """ISO date of a quarter's first day, the key used in demo_truth.json."""
    return date_of(int(QUARTER_START[q])).isoformat()
