"""Association measures of the analyses: risk ratios (Katz, Mantel–Haenszel) and Spearman's rho.

Everything works on counts or on one pair of values per independent unit. Clustering (the same
account at several index dates) enters as a design effect: the variance of log RR is multiplied by
`deff` (cluster-robust ÷ independent variance, at least 1), which widens the interval and leaves
the estimate alone.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from advocacy.metrics.stats._core import as_float, two_sided_p, z_value


class RiskRatio(NamedTuple):
    """A risk ratio with the variance of its log, its bounds and a two-sided p-value of RR = 1."""

    rr: float
    var_log: float
    lo: float
    hi: float
    p_value: float


class Correlation(NamedTuple):
    """A correlation over n pairs with its Fisher-z interval and two-sided p-value."""

    r: float
    n: int
    lo: float
    hi: float
    p_value: float


def _log_interval(rr: float, var_log: float, conf: float) -> RiskRatio:
    if not (rr > 0 and np.isfinite(rr) and var_log >= 0):
        return RiskRatio(rr, var_log, np.nan, np.nan, np.nan)
    se = float(np.sqrt(var_log))
    half = z_value(conf) * se
    log_rr = float(np.log(rr))
    p = float(two_sided_p(np.asarray(log_rr / se))) if se > 0 else np.nan
    return RiskRatio(rr, var_log, float(np.exp(log_rr - half)), float(np.exp(log_rr + half)), p)


def katz_risk_ratio(
    a: float, n1: float, c: float, n0: float, conf: float = 0.95, *, deff: float = 1.0
) -> RiskRatio:
    """(a/n1) ÷ (c/n0) with Katz's log interval, Var(log RR) = 1/a − 1/n1 + 1/c − 1/n0.

    `deff` multiplies the variance (clustered units). No events in either group gives NaN bounds.

    Example (Katz et al. 1978 style, 20/100 vs 10/100):
        >>> est = katz_risk_ratio(20, 100, 10, 100)
        >>> round(est.rr, 4), round(est.lo, 4), round(est.hi, 4)
        (2.0, 0.9866, 4.0545)
    """
    if min(a, c) <= 0 or min(n1, n0) <= 0:
        rr = (a / n1) / (c / n0) if min(n1, n0) > 0 and c > 0 else np.nan
        return RiskRatio(rr, np.nan, np.nan, np.nan, np.nan)
    var = (1 / a - 1 / n1 + 1 / c - 1 / n0) * max(deff, 1.0)
    return _log_interval((a / n1) / (c / n0), var, conf)


def mantel_haenszel_rr(
    a: npt.ArrayLike,
    n1: npt.ArrayLike,
    c: npt.ArrayLike,
    n0: npt.ArrayLike,
    conf: float = 0.95,
    *,
    deff: float = 1.0,
) -> RiskRatio:
    """Mantel–Haenszel risk ratio over strata with the Greenland–Robins (1985) variance.

    Per stratum k: a_k events of n1_k exposed, c_k events of n0_k unexposed, N_k = n1_k + n0_k.
    RR_MH = Σ a_k n0_k/N_k ÷ Σ c_k n1_k/N_k and
    Var(log RR_MH) = Σ (n1_k n0_k (a_k + c_k) − a_k c_k N_k)/N_k² ÷ (Σ a_k n0_k/N_k · Σ c_k n1_k/N_k).
    Strata with an empty group add nothing. `deff` multiplies the variance.

    Example (two strata: 10/50 vs 5/50 and 20/40 vs 12/60):
        >>> est = mantel_haenszel_rr([10, 20], [50, 40], [5, 12], [50, 60])
        >>> round(est.rr, 4), round(est.var_log, 4)
        (2.3288, 0.0687)
    """
    a_, n1_, c_, n0_ = as_float(a, n1, c, n0)
    keep = (n1_ > 0) & (n0_ > 0)
    a_, n1_, c_, n0_ = a_[keep], n1_[keep], c_[keep], n0_[keep]
    total = n1_ + n0_
    r = float(np.sum(a_ * n0_ / total))
    s = float(np.sum(c_ * n1_ / total))
    if r <= 0 or s <= 0:
        return RiskRatio(r / s if s > 0 else np.nan, np.nan, np.nan, np.nan, np.nan)
    p = float(np.sum((n1_ * n0_ * (a_ + c_) - a_ * c_ * total) / (total * total)))
    return _log_interval(r / s, p / (r * s) * max(deff, 1.0), conf)


def fisher_z_interval(r: float, n: int, se: float, conf: float = 0.95) -> tuple[float, float]:
    """tanh(atanh(r) ± z·se): the Fisher-z interval of a correlation for a given SE of z."""
    if not np.isfinite(se) or abs(r) >= 1:
        return (np.nan, np.nan) if not np.isfinite(se) else (r, r)
    zr = float(np.arctanh(r))
    half = z_value(conf) * se
    return float(np.tanh(zr - half)), float(np.tanh(zr + half))


def spearman(x: npt.ArrayLike, y: npt.ArrayLike, conf: float = 0.95) -> Correlation:
    """Spearman's rho with the Fisher-z interval and the Bonett–Wright (2000) SE.

    SE(z) = √((1 + r²/2)/(n − 3)); the p-value is scipy's (t with n − 2 df). Fewer than 4 pairs
    give NaN bounds; pairs with a missing value are dropped.
    """
    x_, y_ = as_float(x, y)
    ok = ~(np.isnan(x_) | np.isnan(y_))
    x_, y_ = x_[ok], y_[ok]
    n = int(x_.size)
    if n < 3 or np.ptp(x_) == 0 or np.ptp(y_) == 0:
        return Correlation(np.nan, n, np.nan, np.nan, np.nan)
    res = sps.spearmanr(x_, y_)
    r = float(res.statistic)
    se = float(np.sqrt((1 + r * r / 2) / (n - 3))) if n > 3 else np.nan
    lo, hi = fisher_z_interval(r, n, se, conf)
    return Correlation(r, n, lo, hi, float(res.pvalue))


def design_effect_ratio(robust_var: float, iid_var: float) -> float:
    """Cluster-robust ÷ independent variance, at least 1 (NaN or zero variances give 1)."""
    if not (np.isfinite(robust_var) and np.isfinite(iid_var)) or iid_var <= 0:
        return 1.0
    return max(robust_var / iid_var, 1.0)


def log_rr_cluster_variance(
    y: npt.ArrayLike, exposed: npt.ArrayLike, cluster: npt.ArrayLike
) -> tuple[float, float]:
    """(cluster-robust, independent) variance of log(p1/p0) from unit-level 0/1 outcomes.

    Linearisation: unit i contributes (y_i − p1)/(n1 p1) if exposed, −(y_i − p0)/(n0 p0) if not;
    contributions are summed per cluster and V = C/(C − 1) Σ_c u_c². With one unit per cluster
    this is Katz's variance times n/(n − 1). `exposed` is 1 (numerator group) or 0 (reference).
    """
    y_, e_ = as_float(y, exposed)
    groups = np.asarray(cluster)
    n1, n0 = float(e_.sum()), float((1 - e_).sum())
    p1 = float((y_ * e_).sum()) / n1 if n1 else np.nan
    p0 = float((y_ * (1 - e_)).sum()) / n0 if n0 else np.nan
    if not (p1 > 0 and p0 > 0):
        return np.nan, np.nan
    u = np.where(e_ == 1, (y_ - p1) / (n1 * p1), -(y_ - p0) / (n0 * p0))
    _, inverse = np.unique(groups, return_inverse=True)
    per_cluster = np.bincount(inverse, weights=u)
    k = per_cluster.size
    robust = k / (k - 1) * float(np.sum(per_cluster**2)) if k > 1 else np.nan
    iid = (1 - p1) / (n1 * p1) + (1 - p0) / (n0 * p0)
    return robust, iid


class RankTest(NamedTuple):
    """A rank-sum statistic W of the first sample, its null mean and variance, z and p-value."""

    w: float
    mean: float
    var: float
    z: float
    p_value: float


def rank_sum_from_counts(values: npt.ArrayLike, n1: npt.ArrayLike, n2: npt.ArrayLike) -> RankTest:
    """Wilcoxon–Mann–Whitney from a frequency table: at each distinct value, n1 and n2 units.

    W = Σ n1_j · midrank_j; under the null E W = m(N + 1)/2 and
    Var W = m·k/12 · ((N + 1) − Σ(t³ − t)/(N(N − 1))) with ties t_j = n1_j + n2_j. U = W − m(m + 1)/2
    is scipy's `mannwhitneyu` statistic of the first sample; z has no continuity correction.
    """
    v, a, b = as_float(values, n1, n2)
    order = np.argsort(v, kind="stable")
    a, b = a[order], b[order]
    t = a + b
    m, k = float(a.sum()), float(b.sum())
    big = m + k
    if m == 0 or k == 0:
        return RankTest(np.nan, np.nan, np.nan, np.nan, np.nan)
    midrank = np.cumsum(t) - t + (t + 1) / 2
    w = float(np.sum(a * midrank))
    mean = m * (big + 1) / 2
    var = m * k / 12 * ((big + 1) - float(np.sum(t**3 - t)) / (big * (big - 1)))
    z = (w - mean) / np.sqrt(var) if var > 0 else np.nan
    p = float(two_sided_p(np.asarray(z))) if var > 0 else np.nan
    return RankTest(w, mean, var, float(z), p)


def van_elteren(tests: list[RankTest], sizes: npt.ArrayLike) -> RankTest:
    """Van Elteren's stratified rank-sum test: Σ w_s (W_s − E W_s) with w_s = 1/(N_s + 1).

    Strata without both samples (NaN W) add nothing. Returns the weighted statistic, 0, its
    variance Σ w_s² Var W_s, z and the two-sided p-value.
    """
    (n_,) = as_float(sizes)
    ok = [i for i, t in enumerate(tests) if np.isfinite(t.w) and t.var > 0]
    if not ok:
        return RankTest(np.nan, np.nan, np.nan, np.nan, np.nan)
    w = 1 / (n_[ok] + 1)
    stat = float(np.sum(w * np.array([tests[i].w - tests[i].mean for i in ok])))
    var = float(np.sum(w * w * np.array([tests[i].var for i in ok])))
    z = stat / np.sqrt(var)
    return RankTest(stat, 0.0, var, z, float(two_sided_p(np.asarray(z))))


def cochran_armitage(x: npt.ArrayLike, n: npt.ArrayLike, scores: npt.ArrayLike) -> RankTest:
    """Cochran–Armitage test for a linear trend of proportions x_i/n_i over scores s_i.

    T = Σ s_i (x_i − n_i p̄), Var T = p̄(1 − p̄)(Σ n_i s_i² − (Σ n_i s_i)²/N); returns T, 0, Var T,
    z and the two-sided p-value (NaN when there is no variation).
    """
    x_, n_, s_ = as_float(x, n, scores)
    big = float(n_.sum())
    if big == 0:
        return RankTest(np.nan, np.nan, np.nan, np.nan, np.nan)
    p = float(x_.sum()) / big
    stat = float(np.sum(s_ * (x_ - n_ * p)))
    var = p * (1 - p) * (float(np.sum(n_ * s_ * s_)) - float(np.sum(n_ * s_)) ** 2 / big)
    if not var > 0:
        return RankTest(stat, 0.0, var, np.nan, np.nan)
    z = stat / np.sqrt(var)
    return RankTest(stat, 0.0, var, float(z), float(two_sided_p(np.asarray(z))))
