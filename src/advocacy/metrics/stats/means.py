"""Means and ratios of sums from per-row sums: t intervals and the delta method."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from advocacy.metrics.stats._core import (
    Array,
    Estimate,
    as_float,
    check_conf,
    normal_estimate,
    where_valid,
)
from advocacy.metrics.stats.design import ClusterSums, cluster_variance


def mean_t(
    s: npt.ArrayLike,
    ss: npt.ArrayLike,
    n: npt.ArrayLike,
    conf: float = 0.95,
    *,
    fpc: npt.ArrayLike = 1.0,
) -> Estimate:
    """Mean Σx/n with a Student-t interval (n − 1 df) from Σx, Σx² and n.

    n = 0 gives NaN throughout; n = 1 gives the value with NaN SE and bounds.

    Example:
        >>> est = mean_t(s=12.0, ss=56.0, n=3)  # the values 2, 4, 6
        >>> float(est.value), float(est.se)
        (4.0, 1.1547005383792515)
    """
    s_, ss_, n_ = as_float(s, ss, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.maximum(ss_ - s_ * s_ / n_, 0.0) / (n_ - 1.0) / n_
        value = s_ / n_
    var = np.where(n_ >= 2, var * np.asarray(fpc, dtype=np.float64), np.nan)
    return _t_estimate(value, var, n_ - 1.0, conf)


def mean_t_cluster(
    s: npt.ArrayLike,
    n: npt.ArrayLike,
    sums: ClusterSums,
    conf: float = 0.95,
    *,
    fpc: npt.ArrayLike = 1.0,
) -> Estimate:
    """Mean Σx/n of responses clustered in accounts, cluster-robust SE, t with C − 1 df.

    `sums` has t_c = the account's sum of scores, n_c its responses. One response per account
    reproduces `mean_t` exactly. Fewer than two accounts gives NaN SE and bounds.
    """
    s_, n_, c = as_float(s, n, sums.clusters)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = s_ / n_
    var = cluster_variance(s_, n_, sums) * np.asarray(fpc, dtype=np.float64)
    return _t_estimate(value, var, c - 1.0, conf)


def delta_ratio(
    sx: npt.ArrayLike,
    sy: npt.ArrayLike,
    sxx: npt.ArrayLike,
    syy: npt.ArrayLike,
    sxy: npt.ArrayLike,
    n: npt.ArrayLike,
    conf: float = 0.95,
    *,
    fpc: npt.ArrayLike = 1.0,
    bounds: tuple[float, float] = (-np.inf, np.inf),
) -> Estimate:
    """Ratio of sums R = Σx/Σy over n independent units, delta-method SE, normal interval.

    Var(R) ≈ (s_xx − 2R·s_xy + R²·s_yy) / (n·ȳ²) with sample (co)variances s; because
    Σx − R·Σy = 0 the bracket is exactly (Σx² − 2R·Σxy + R²·Σy²)/(n − 1), so
    Var(R) = n·(Σx² − 2R·Σxy + R²·Σy²) / ((n − 1)·(Σy)²). n < 2 gives NaN SE; Σy = 0 gives NaN throughout.
    `bounds` clips the interval (e.g. (0, 1) for GRR).

    Example:
        >>> est = delta_ratio(sx=3.0, sy=6.0, sxx=5.0, syy=14.0, sxy=8.0, n=3)  # x=0,1,2 y=1,2,3
        >>> float(est.value), round(float(est.se), 4)
        (0.5, 0.1443)
    """
    sx_, sy_, sxx_, syy_, sxy_, n_ = as_float(sx, sy, sxx, syy, sxy, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(sy_ != 0, sx_ / sy_, np.nan)
        resid = np.maximum(sxx_ - 2.0 * r * sxy_ + r * r * syy_, 0.0)
        var = n_ * resid / ((n_ - 1.0) * sy_ * sy_)
    var = np.where(n_ >= 2, var * np.asarray(fpc, dtype=np.float64), np.nan)
    est = normal_estimate(r, var, conf)
    return est._replace(lo=np.clip(est.lo, *bounds), hi=np.clip(est.hi, *bounds))


def _t_estimate(value: Array, var: Array, df: Array, conf: float) -> Estimate:
    q = 0.5 + check_conf(conf) / 2.0
    crit = where_valid(df >= 1, lambda d: np.asarray(sps.t.ppf(q, d), dtype=np.float64), df)
    se = np.sqrt(np.maximum(var, 0.0))
    return Estimate(value, se, value - crit * se, value + crit * se)
