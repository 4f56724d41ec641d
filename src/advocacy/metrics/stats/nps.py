"""Net Promoter Score with a cluster-robust linearised standard error (DESIGN §5, nps row).

Each response scores s = +1 (promoter), 0 (passive) or −1 (detractor); NPS = 100 × mean(s).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advocacy.metrics.stats._core import Array, Estimate, as_float, normal_estimate
from advocacy.metrics.stats.design import ClusterSums, cluster_variance, design_effect

ADJUSTED_WALD_BELOW = 30
"""Below this many responses the variance uses the adjusted-Wald pseudo-responses."""


def nps_score_variance(
    promoters: npt.ArrayLike, detractors: npt.ArrayLike, n: npt.ArrayLike
) -> Array:
    """Population variance of the per-response score: p + d − (p − d)²."""
    p_, d_, n_ = as_float(promoters, detractors, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p, d = p_ / n_, d_ / n_
    return p + d - (p - d) ** 2


def nps_variance_iid(
    promoters: npt.ArrayLike, detractors: npt.ArrayLike, n: npt.ArrayLike
) -> Array:
    """iid variance of NPS/100: (p + d − (p − d)²) / n.

    Example (1 detractor, 2 passives, 3 promoters: score variance 5/9):
        >>> round(float(nps_variance_iid(3, 1, 6)) * 6, 4)
        0.5556
    """
    n_ = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(nps_score_variance(promoters, detractors, n_) / n_, dtype=np.float64)


def nps_interval(
    promoters: npt.ArrayLike,
    detractors: npt.ArrayLike,
    n: npt.ArrayLike,
    sums: ClusterSums | None = None,
    conf: float = 0.95,
    *,
    fpc: npt.ArrayLike = 1.0,
) -> Estimate:
    """NPS (points) with its SE and normal interval, clipped to [−100, 100].

    Args:
        promoters, detractors, n: counts of responses in the row.
        sums: `ClusterSums` over accounts with t_c = promoters_c − detractors_c; None means every
            response is its own account.
        conf: confidence level.
        fpc: variance factor from `fpc_factor` (logo basis), else 1.

    With n ≥ 30 the variance is the cluster-robust linearised one, C/(C−1)·Σ_c(t_c − m·n_c)²/n²
    (= iid × n/(n−1) when each account answers once). Below 30 it is the adjusted-Wald iid variance
    — P + ¾, D + ¾ of n + 3 — times the design effect; the point estimate is never adjusted.
    A single account counts as one unit (variance of one response).
    """
    p_, d_, n_ = as_float(promoters, detractors, n)
    _check(p_, d_, n_)
    if sums is None:
        sums = ClusterSums.independent(n_, p_ + d_, p_ - d_)
    var = np.where(
        n_ >= ADJUSTED_WALD_BELOW, _robust_var(p_, d_, n_, sums), _small_var(p_, d_, n_, sums)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 * (p_ - d_) / n_
    est = normal_estimate(value, 10_000.0 * var * np.asarray(fpc, dtype=np.float64), conf)
    return est._replace(lo=np.clip(est.lo, -100.0, 100.0), hi=np.clip(est.hi, -100.0, 100.0))


def _robust_var(p: Array, d: Array, n: Array, sums: ClusterSums) -> Array:
    single = np.asarray(sums.clusters, dtype=np.float64) == 1
    return np.where(single, nps_score_variance(p, d, n), cluster_variance(p - d, n, sums))


def _small_var(p: Array, d: Array, n: Array, sums: ClusterSums) -> Array:
    deff = design_effect(p - d, n, nps_score_variance(p, d, n), sums)
    return nps_variance_iid(p + 0.75, d + 0.75, n + 3.0) * deff


def _check(p: Array, d: Array, n: Array) -> None:
    with np.errstate(invalid="ignore"):
        bad = (p < 0) | (d < 0) | (p + d > n)
    if bad.any():
        raise ValueError("NPS counts need promoters, detractors ≥ 0 and promoters + detractors ≤ n")
