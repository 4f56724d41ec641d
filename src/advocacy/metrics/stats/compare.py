"""Comparisons of two estimates from their standard errors, and the false discovery rate."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advocacy.metrics.stats._core import Array, Comparison, as_float, two_sided_p, z_value


def nps_diff(
    nps1: npt.ArrayLike,
    se1: npt.ArrayLike,
    nps2: npt.ArrayLike,
    se2: npt.ArrayLike,
    conf: float = 0.95,
) -> Comparison:
    """NPS1 − NPS2 (points) with a z-test and normal interval from the two `nps_interval` SEs."""
    return diff_z(nps1, se1, nps2, se2, conf)


def ratio_diff_delta(
    ratio1: npt.ArrayLike,
    se1: npt.ArrayLike,
    ratio2: npt.ArrayLike,
    se2: npt.ArrayLike,
    conf: float = 0.95,
) -> Comparison:
    """R1 − R2 of two ratios (or means) with their delta-method (or t) SEs, treated as independent."""
    return diff_z(ratio1, se1, ratio2, se2, conf)


def diff_z(
    a: npt.ArrayLike, se_a: npt.ArrayLike, b: npt.ArrayLike, se_b: npt.ArrayLike, conf: float
) -> Comparison:
    """a − b with SE √(se_a² + se_b²), its normal interval and two-sided z-test p-value.

    Two exact estimates (both SEs 0) give p = 1 if equal and 0 if not.
    """
    a_, sa, b_, sb = as_float(a, se_a, b, se_b)
    delta = a_ - b_
    se = np.sqrt(sa * sa + sb * sb)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where((se == 0) & (delta == 0), 1.0, two_sided_p(delta / se))
    half = z_value(conf) * se
    return Comparison(delta, se, delta - half, delta + half, p)


def benjamini_hochberg(p: npt.ArrayLike) -> Array:
    """Benjamini–Hochberg q-values for one family of p-values (any shape); NaNs are skipped.

    q₍ᵢ₎ = min over j ≥ i of m·p₍ⱼ₎/j, capped at 1, with m the number of non-NaN p-values.

    Example:
        >>> benjamini_hochberg([0.01, float("nan"), 0.04, 0.03]).tolist()
        [0.03, nan, 0.04, 0.04]
    """
    (p_,) = as_float(p)
    flat = p_.ravel()
    q = np.full(flat.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(flat))
    order = idx[np.argsort(flat[idx], kind="stable")]
    m = order.size
    scaled = flat[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q.reshape(p_.shape)
