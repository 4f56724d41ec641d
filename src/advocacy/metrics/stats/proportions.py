"""Proportions: Wilson score intervals (plain and cluster-adjusted) and their comparisons."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advocacy.metrics.stats._core import Array, Interval, as_float, two_sided_p, z_value


def wilson(
    x: npt.ArrayLike, n: npt.ArrayLike, conf: float = 0.95, *, fpc: npt.ArrayLike = 1.0
) -> Interval:
    """Wilson score interval for x successes of n.

    x and n may be fractional (effective counts). `fpc` multiplies the variance, which for the
    score interval means n_eff = n / fpc (fpc = 0, a census, gives the point p̂). n = 0 gives NaN;
    x = 0 gives lo = 0 and x = n gives hi = 1 exactly.

    Example:
        >>> lo, hi = wilson(8, 10)
        >>> round(float(lo), 4), round(float(hi), 4)
        (0.4902, 0.9433)
    """
    x_, n_, f = as_float(x, n, fpc)
    _check_counts(x_, n_)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x_ / n_
        lo, hi = _score_bounds(p, n_ / f, z_value(conf))
    lo = np.where(x_ == 0, 0.0, lo)
    hi = np.where(x_ == n_, 1.0, hi)
    empty = ~(n_ > 0)
    return Interval(np.where(empty, np.nan, lo), np.where(empty, np.nan, hi))


def wilson_cluster(
    x: npt.ArrayLike,
    n: npt.ArrayLike,
    deff: npt.ArrayLike,
    conf: float = 0.95,
    *,
    fpc: npt.ArrayLike = 1.0,
) -> Interval:
    """Cluster-adjusted Wilson: Wilson on x/deff successes of n/deff (deff < 1 or NaN taken as 1)."""
    x_, n_, d = as_float(x, n, deff)
    d = _at_least_one(d)
    return wilson(x_ / d, n_ / d, conf, fpc=fpc)


def share_se_cluster(x: npt.ArrayLike, n: npt.ArrayLike, deff: npt.ArrayLike) -> Array:
    """SE of the share x/n of clustered responses: √(deff · p(1 − p)/n), the variance
    `wilson_cluster` is built on (deff < 1 or NaN taken as 1); n = 0 gives NaN.

    Example:
        >>> float(share_se_cluster(4, 8, 2.0))
        0.25
    """
    x_, n_, d = as_float(x, n, deff)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x_ / n_
        return np.where(n_ > 0, np.sqrt(_at_least_one(d) * p * (1.0 - p) / n_), np.nan)


def _at_least_one(deff: Array) -> Array:
    return np.where(np.isnan(deff), 1.0, np.maximum(deff, 1.0))


def newcombe_diff(
    x1: npt.ArrayLike, n1: npt.ArrayLike, x2: npt.ArrayLike, n2: npt.ArrayLike, conf: float = 0.95
) -> Interval:
    """Newcombe's hybrid score interval (method 10, 1998) for p1 − p2 of independent samples.

    Pass effective counts (x/deff, n/deff) to compare cluster-adjusted proportions.

    Example (Newcombe 1998, 56/70 vs 48/80):
        >>> lo, hi = newcombe_diff(56, 70, 48, 80)
        >>> round(float(lo), 4), round(float(hi), 4)
        (0.0524, 0.3339)
    """
    a1, b1, a2, b2 = as_float(x1, n1, x2, n2)
    l1, u1 = wilson(a1, b1, conf)
    l2, u2 = wilson(a2, b2, conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = a1 / b1, a2 / b2
    d = p1 - p2
    lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(lo, hi)


def two_proportion_z(
    x1: npt.ArrayLike, n1: npt.ArrayLike, x2: npt.ArrayLike, n2: npt.ArrayLike
) -> Array:
    """Two-sided p-value of the pooled two-proportion z-test of p1 = p2.

    Both samples all-success or all-failure (no variance) gives 1; an empty sample gives NaN.
    """
    a1, b1, a2, b2 = as_float(x1, n1, x2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (a1 + a2) / (b1 + b2)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / b1 + 1.0 / b2))
        z = (a1 / b1 - a2 / b2) / se
    p = np.where(se == 0, 1.0, two_sided_p(z))
    return np.where((b1 > 0) & (b2 > 0), p, np.nan)


def _score_bounds(p: Array, n: Array, z: float) -> tuple[Array, Array]:
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def _check_counts(x: Array, n: Array) -> None:
    with np.errstate(invalid="ignore"):
        bad = (x < 0) | (n < 0) | (x > n * (1.0 + 1e-12))
    if bad.any():
        raise ValueError("counts need 0 ≤ x ≤ n")
