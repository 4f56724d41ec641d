"""Distribution-free confidence interval for a median, as order-statistic ranks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from advocacy.metrics.stats._core import Interval, as_float, check_conf, where_valid


def median_rank_bounds(n: npt.ArrayLike, conf: float = 0.95) -> Interval:
    """1-based ranks (l, u) such that [x₍ₗ₎, x₍ᵤ₎] covers the median with probability ≥ conf.

    l is the largest rank with P(B ≤ l − 1) ≤ α/2 for B ~ Binomial(n, ½), and u = n + 1 − l; the
    exact coverage is 1 − 2·P(B ≤ l − 1). Ranks are whole numbers held as floats. Both are NaN
    when n is too small for the level — no l ≥ 1 qualifies, i.e. 2·0.5ⁿ > α (n < 6 at 95%,
    n < 8 at 99%) — and when n is NaN or < 1. The engine then picks those order statistics in SQL.

    Example:
        >>> lo, hi = median_rank_bounds([5, 6, 10, 20])
        >>> lo.tolist(), hi.tolist()
        ([nan, 1.0, 2.0, 6.0], [nan, 6.0, 9.0, 15.0])
    """
    (n_,) = as_float(n)
    half_alpha = (1.0 - check_conf(conf)) / 2.0
    low = where_valid(n_ >= 1, lambda m: _lower_rank(m, half_alpha), np.floor(n_))
    low = np.where(low >= 1, low, np.nan)
    return Interval(low, np.floor(n_) + 1.0 - low)


def _lower_rank(n: npt.NDArray[np.float64], half_alpha: float) -> npt.NDArray[np.float64]:
    k = sps.binom.ppf(half_alpha, n, 0.5)  # smallest k with P(B ≤ k) ≥ α/2
    exact = sps.binom.cdf(k, n, 0.5) <= half_alpha * (1.0 + 1e-12)
    return np.asarray(np.where(exact, k + 1.0, k), dtype=np.float64)
