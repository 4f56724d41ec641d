"""Counts of events: the exact Poisson interval and the exact conditional comparison."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from advocacy.metrics.stats._core import Array, Interval, as_float, check_conf, where_valid


def poisson_exact(count: npt.ArrayLike, conf: float = 0.95) -> Interval:
    """Exact (Garwood) interval for a Poisson mean from one observed count.

    lo = χ²(α/2; 2c)/2 (0 when c = 0), hi = χ²(1 − α/2; 2c + 2)/2. Negative counts raise.

    Example:
        >>> lo, hi = poisson_exact(5)
        >>> round(float(lo), 4), round(float(hi), 4)
        (1.6235, 11.6683)
    """
    (c,) = as_float(count)
    with np.errstate(invalid="ignore"):
        if (c < 0).any():
            raise ValueError("counts must be ≥ 0")
    alpha = 1.0 - check_conf(conf)
    lo = where_valid(c > 0, lambda k: _chi2_half(alpha / 2.0, 2.0 * k), c)
    hi = where_valid(c >= 0, lambda k: _chi2_half(1.0 - alpha / 2.0, 2.0 * k + 2.0), c)
    return Interval(np.where(c == 0, 0.0, lo), hi)


def poisson_conditional_test(
    c1: npt.ArrayLike, t1: npt.ArrayLike, c2: npt.ArrayLike, t2: npt.ArrayLike
) -> Array:
    """Two-sided exact conditional test of equal Poisson rates c1/t1 and c2/t2.

    Given c1 + c2 = N, c1 ~ Binomial(N, t1/(t1 + t2)); the p-value sums the probabilities of all
    outcomes no more likely than c1 (the rule of `scipy.stats.binomtest`, with its relative
    tolerance 1e-7). No events (N = 0) gives 1; a non-positive exposure gives NaN.
    """
    k, e1, k2, e2 = as_float(c1, t1, c2, t2)
    big_n = k + k2
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = e1 / (e1 + e2)
        ok = (e1 > 0) & (e2 > 0) & (k >= 0) & (k2 >= 0)
    p = where_valid(ok & (big_n > 0), _binom_two_sided, k, big_n, prob)
    return np.where(ok & (big_n == 0), 1.0, p)


def _chi2_half(q: float, df: Array) -> Array:
    return np.asarray(sps.chi2.ppf(q, df) / 2.0, dtype=np.float64)


def _binom_two_sided(k: Array, n: Array, p: Array) -> Array:
    """Σ P(X = j) over j with P(X = j) ≤ P(X = k)·(1 + 1e-7), X ~ Binomial(n, p)."""
    threshold = sps.binom.pmf(k, n, p) * (1.0 + 1e-7)
    mean = n * p
    below = k < mean
    # pmf is unimodal: every j on k's side of the mean is in the sum; on the far side the pmf
    # falls walking away from the mean, so the sum there is a tail found by bisection.
    start = np.where(below, np.ceil(mean), np.floor(mean))
    step = np.where(below, 1.0, -1.0)
    length = np.where(below, n - start + 1.0, start + 1.0)
    far = start + step * _first_small(threshold, n, p, start, step, length)
    near = np.where(below, sps.binom.cdf(k, n, p), sps.binom.sf(k - 1.0, n, p))
    far_mass = np.where(below, sps.binom.sf(far - 1.0, n, p), sps.binom.cdf(far, n, p))
    return np.where(k == mean, 1.0, np.minimum(near + far_mass, 1.0))


def _first_small(
    threshold: Array, n: Array, p: Array, start: Array, step: Array, length: Array
) -> Array:
    """Smallest offset o in [0, length] with pmf(start + step·o) ≤ threshold (length if none).

    The pmf must be non-increasing along the walk; vectorised integer bisection.
    """
    lo, hi = np.zeros_like(length), length
    for _ in range(int(np.log2(np.max(length, initial=1.0))) + 2):
        mid = np.floor((lo + hi) / 2.0)
        small = sps.binom.pmf(start + step * mid, n, p) <= threshold
        lo, hi = np.where(small, lo, mid + 1.0), np.where(small, mid, hi)
    return lo
