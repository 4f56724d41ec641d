"""Change points in the weekly rate of counted actions that no product change explains.

The series is counted actions per active account-week, for all accounts and per segment. Weeks differ
in exposure, so the search fits piecewise-constant rates by weighted least squares: ruptures'
linear cost on (√e·rate, √e), where e is the week's active accounts; each residual then has about
the same variance σ² ≈ φ·rate. Binary segmentation stops when a split no longer lowers the cost by
the penalty 3·σ̂²·log T — BIC counting the new mean and the break's location as parameters — with
σ̂ from the median absolute difference of successive standardised rates, which level shifts barely
move. A change point is explained when a release lies within ``tolerance`` weeks of it.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd

from advocacy.analyses.dropoff_data import Panel
from advocacy.metrics.context import NONE_GROUP

COLUMNS = [
    "dimension", "value", "week", "rate_before", "rate_after", "ratio", "nearest_change",
    "weeks_from_change", "explained",
]  # fmt: skip
MIN_ACCOUNTS = 30  # weeks with fewer active accounts are too noisy to segment
MIN_WEEKS = 4


def _complete_weeks(panel: Panel) -> int:
    ends = panel.weeks.starts[1:].astype("datetime64[us]")
    return int((ends <= np.datetime64(panel.cutoff)).sum())


def series(panel: Panel, member: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(actions in active weeks, active accounts) per complete week, for ``member`` accounts."""
    n_weeks = _complete_weeks(panel)
    w = panel.weekly
    keep = w.slot < n_weeks
    acc, week, actions = w.acc[keep], w.slot[keep], w.values["actions"][keep]
    active = panel.spans.active_at(acc, week, panel.weeks.n)
    if member is not None:
        active &= member[acc]
    y = np.bincount(week[active], weights=actions[active], minlength=n_weeks)[:n_weeks]
    e = panel.spans.weekly(panel.weeks.n, member)[:n_weeks]
    return y.astype(np.float64), e


def breaks(y: np.ndarray, e: np.ndarray) -> list[int]:
    """Indices (into y) where a new rate regime starts."""
    if len(y) < 2 * MIN_WEEKS + 1 or (y.sum() <= 0):
        return []
    rate = y / e
    root = np.sqrt(e)
    d = np.diff(rate) / np.sqrt(1.0 / e[1:] + 1.0 / e[:-1])
    sigma = float(np.median(np.abs(d - np.median(d)))) / 0.6745
    if not sigma > 0:
        return []
    import ruptures as rpt

    signal = np.column_stack([root * rate, root])
    algo = rpt.Binseg(model="linear", min_size=MIN_WEEKS, jump=1).fit(signal)
    found: list[int] = algo.predict(pen=3.0 * sigma * sigma * math.log(len(y)))
    return [int(b) for b in found[:-1]]


def change_points(
    panel: Panel, releases: dict[str, datetime], tolerance: int, dimension: str | None
) -> pd.DataFrame:
    """Change points of all accounts' series and of each value of ``dimension`` (current values)."""
    groups: list[tuple[str | None, str | None, np.ndarray | None]] = [(None, None, None)]
    if dimension and dimension in panel.accounts.current:
        values = panel.accounts.current[dimension]
        groups += [(dimension, str(v), values == v) for v in sorted(set(values)) if v != NONE_GROUP]
    rows = [row for g in groups for row in _rows(panel, releases, tolerance, *g)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _rows(
    panel: Panel, releases: dict[str, datetime], tolerance: int, dimension: str | None,
    value: str | None, member: np.ndarray | None,
) -> list[dict[str, object]]:  # fmt: skip
    y, e = series(panel, member)
    first = int(np.argmax(e >= MIN_ACCOUNTS)) if (e >= MIN_ACCOUNTS).any() else len(e)
    y, e = y[first:], e[first:]
    cuts = breaks(y, e)
    rows: list[dict[str, object]] = []
    bounds = [0, *cuts, len(y)]
    for i, cut in enumerate(cuts):
        before = y[bounds[i] : cut].sum() / e[bounds[i] : cut].sum()
        after = y[cut : bounds[i + 2]].sum() / e[cut : bounds[i + 2]].sum()
        week = panel.weeks.mondays[first + cut]
        at = datetime.combine(week, datetime.min.time())
        near = min(releases.items(), key=lambda kv: abs(kv[1] - at), default=None)
        gap = None if near is None else round((at - near[1]).total_seconds() / (7 * 86400), 1)
        rows.append({
            "dimension": dimension, "value": value, "week": week, "rate_before": float(before),
            "rate_after": float(after), "ratio": float(after / before) if before > 0 else None,
            "nearest_change": None if near is None else near[0], "weeks_from_change": gap,
            "explained": gap is not None and abs(gap) <= tolerance,
        })  # fmt: skip
    return rows
