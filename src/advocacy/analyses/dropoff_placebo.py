"""Placebo calibration: the drop-off tests at Mondays when nothing was released.

The share of placebo tests that would raise a flag (p < 0.05 and the minimum effect) is this data's
empirical false-alarm rate per signal and method. A date qualifies when its windows do not touch a
change's post window and hold no release: the dates nearest the strict rule (no overlap with any
change's pre or post window) come first, then the rest at random, with a fixed seed. Every date is
computed from the weekly per-account sums pulled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from advocacy.analyses.dropoff_data import Panel
from advocacy.analyses.dropoff_family import (
    GroupStats,
    Method,
    Signal,
    WindowSums,
    is_drop,
    run_signal,
)

ALPHA = 0.05


@dataclass(frozen=True)
class GroupSpec:
    """A tested group: ``dimension = value`` (None = all accounts) under a method."""

    dimension: str | None
    value: str | None
    method: Method


@dataclass(frozen=True)
class Calibration:
    dates: list[int]  # week indices of the placebo dates
    alarms: dict[tuple[Signal, Method], tuple[int, int]]  # (false alarms, tests)

    def rate(self, signal: Signal, method: Method) -> float:
        alarms, tests = self.alarms.get((signal, method), (0, 0))
        return alarms / tests if tests else float("nan")


def candidate_weeks(
    panel: Panel, releases: list[datetime], weeks: int
) -> tuple[list[int], list[int]]:
    """(strict, relaxed) Mondays with whole windows inside the data and no change nearby."""
    grid = panel.weeks
    first = int(np.argmax(panel.spans.weekly(grid.n) > 0))
    last_start = grid.n - weeks  # the post window must close before as_of
    starts = grid.starts.astype("datetime64[us]")
    width = np.timedelta64(7 * weeks, "D")
    strict, relaxed = [], []
    for d in range(first + weeks, last_start + 1):
        if starts[d + weeks] > np.datetime64(panel.cutoff):
            continue
        t = starts[d]
        gaps = [t - np.datetime64(r, "us") for r in releases]
        if all(abs(g) >= 2 * width for g in gaps):
            strict.append(d)
        elif all(g <= -width or g >= 2 * width for g in gaps):
            relaxed.append(d)
    return strict, relaxed


def pick_dates(strict: list[int], relaxed: list[int], n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    chosen = list(rng.permutation(strict)[:n]) if len(strict) > n else list(strict)
    rest = n - len(chosen)
    if rest > 0 and relaxed:
        chosen += list(rng.permutation(relaxed)[:rest])
    return sorted(int(d) for d in chosen)


def date_sums(panel: Panel, week: int, weeks: int) -> WindowSums:
    n = panel.accounts.n
    pre = panel.weekly.window(week - weeks, week, n)
    post = panel.weekly.window(week, week + weeks, n)
    pre["exposure"] = panel.spans.exposure(week - weeks, week, n)
    post["exposure"] = panel.spans.exposure(week, week + weeks, n)
    return WindowSums(pre, post)


def dimension_codes(
    panel: Panel, dimension: str | None, at: datetime
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Group codes of every account by ``dimension`` as of ``at`` (one code when None)."""
    if dimension is None:
        return np.zeros(panel.accounts.n, dtype=np.int64), [""]
    return panel.accounts.codes_as_of(dimension, at)


def calibrate(
    panel: Panel, dates: list[int], groups: list[GroupSpec], *, weeks: int, conf: float,
    min_effect: float,
) -> Calibration:  # fmt: skip
    """Run every group's tests at every placebo date and count the would-be flags."""
    counts: dict[tuple[Signal, Method], list[int]] = {}
    dimensions = sorted({g.dimension for g in groups}, key=lambda d: d or "")
    for week in dates:
        sums = date_sums(panel, week, weeks)
        at = panel.weeks.starts[week].astype("datetime64[us]").astype(datetime)
        for dimension in dimensions:
            codes, values = dimension_codes(panel, dimension, at)
            stats = GroupStats.of(sums, codes, len(values))
            for g in groups:
                if g.dimension != dimension or (g.value or "") not in values:
                    continue
                code = values.index(g.value or "")
                for signal in Signal:
                    out = run_signal(signal, stats, code, g.method is Method.DID, conf)
                    if not np.isfinite(out.p_value):
                        continue
                    tally = counts.setdefault((signal, g.method), [0, 0])
                    drop = out.p_value < ALPHA and is_drop(signal, out.estimate, min_effect)
                    tally[0] += int(drop)
                    tally[1] += 1
    return Calibration(dates, {k: (v[0], v[1]) for k, v in counts.items()})
