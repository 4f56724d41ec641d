"""Risk ratios, Spearman and rank tests against hand computations, statsmodels and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2

from advocacy.metrics.stats.association import (
    cochran_armitage,
    design_effect_ratio,
    fisher_z_interval,
    katz_risk_ratio,
    log_rr_cluster_variance,
    mantel_haenszel_rr,
    rank_sum_from_counts,
    spearman,
    van_elteren,
)

Z = sps.norm.ppf(0.975)


def test_katz_matches_statsmodels_log_interval() -> None:
    est = katz_risk_ratio(20, 100, 10, 100)
    table = Table2x2(np.array([[20, 80], [10, 90]]))
    lo, hi = table.riskratio_confint()
    assert est.rr == pytest.approx(table.riskratio, rel=1e-12)
    assert (est.lo, est.hi) == pytest.approx((lo, hi), rel=1e-12)
    assert est.var_log == pytest.approx(1 / 20 - 1 / 100 + 1 / 10 - 1 / 100, rel=1e-12)


def test_katz_design_effect_multiplies_the_variance() -> None:
    plain, wide = katz_risk_ratio(30, 200, 15, 180), katz_risk_ratio(30, 200, 15, 180, deff=2.0)
    assert wide.rr == plain.rr
    assert wide.var_log == pytest.approx(2 * plain.var_log, rel=1e-12)
    assert math.log(wide.hi / wide.rr) == pytest.approx(
        math.sqrt(2) * math.log(plain.hi / plain.rr)
    )


def test_katz_without_events_has_no_interval() -> None:
    est = katz_risk_ratio(0, 50, 5, 50)
    assert est.rr == 0
    assert math.isnan(est.lo)


def test_mantel_haenszel_by_hand_from_greenland_robins() -> None:
    # Stratum 1: 10/50 vs 5/50; stratum 2: 20/40 vs 12/60 (N = 100 each).
    est = mantel_haenszel_rr([10, 20], [50, 40], [5, 12], [50, 60])
    r = 10 * 50 / 100 + 20 * 60 / 100  # Σ a n0 / N = 5 + 12
    s = 5 * 50 / 100 + 12 * 40 / 100  # Σ c n1 / N = 2.5 + 4.8
    p = (50 * 50 * 15 - 10 * 5 * 100) / 100**2 + (40 * 60 * 32 - 20 * 12 * 100) / 100**2
    assert est.rr == pytest.approx(r / s, rel=1e-12)
    assert est.var_log == pytest.approx(p / (r * s), rel=1e-12)
    se = math.sqrt(p / (r * s))
    assert est.lo == pytest.approx(r / s * math.exp(-Z * se), rel=1e-12)
    assert est.hi == pytest.approx(r / s * math.exp(Z * se), rel=1e-12)


def test_mantel_haenszel_point_estimate_matches_statsmodels() -> None:
    a, n1, c, n0 = [12, 30, 7], [80, 120, 40], [6, 20, 2], [90, 150, 35]
    tables = np.array(
        [[[ai, ni - ai], [ci, mi - ci]] for ai, ni, ci, mi in zip(a, n1, c, n0, strict=True)]
    )
    st = StratifiedTable(list(tables))
    assert mantel_haenszel_rr(a, n1, c, n0).rr == pytest.approx(st.riskratio_pooled, rel=1e-12)


def test_one_stratum_reduces_to_katz() -> None:
    mh, katz = mantel_haenszel_rr([20], [100], [10], [100]), katz_risk_ratio(20, 100, 10, 100)
    assert mh.rr == pytest.approx(katz.rr)
    assert mh.var_log == pytest.approx(katz.var_log)


def test_cluster_variance_of_log_rr() -> None:
    y = np.array([1, 0, 0, 1, 0, 1, 0, 0, 0, 1.0])
    exposed = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0.0])
    robust, iid = log_rr_cluster_variance(y, exposed, np.arange(10))
    assert iid == pytest.approx((1 - 0.4) / (5 * 0.4) + (1 - 0.4) / (5 * 0.4))
    assert robust == pytest.approx(10 / 9 * iid)
    # Every unit twice, each pair in one account: the iid variance halves (twice the units
    # claimed), the cluster-robust one stays, so the design effect is 2 (times 10/9).
    robust2, iid2 = log_rr_cluster_variance(
        np.r_[y, y], np.r_[exposed, exposed], np.r_[np.arange(10), np.arange(10)]
    )
    assert iid2 == pytest.approx(iid / 2)
    assert robust2 == pytest.approx(robust)
    assert design_effect_ratio(robust2, iid2) == pytest.approx(2 * (10 / 9))


def test_spearman_matches_scipy_with_bonett_wright_interval() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    y = 0.4 * x + rng.normal(size=200)
    y[::7] = np.round(y[::7])  # some ties
    est = spearman(x, y)
    ref = sps.spearmanr(x, y)
    assert est.r == pytest.approx(ref.statistic, rel=1e-12)
    assert est.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    se = math.sqrt((1 + est.r**2 / 2) / (200 - 3))
    assert est.lo == pytest.approx(math.tanh(math.atanh(est.r) - Z * se), rel=1e-12)
    assert est.hi == pytest.approx(math.tanh(math.atanh(est.r) + Z * se), rel=1e-12)


def test_fisher_z_interval_matches_scipy_pearson() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    y = x + rng.normal(size=60)
    res = sps.pearsonr(x, y)
    ci = res.confidence_interval(0.95)
    lo, hi = fisher_z_interval(float(res.statistic), 60, 1 / math.sqrt(57))
    assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_spearman_drops_missing_pairs_and_needs_variation() -> None:
    assert spearman([1, 2, np.nan, 4, 5], [2, 1, 3, 5, 4]).n == 4
    assert math.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4]).r)


def _counts(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.unique(np.r_[x, y])
    return (
        values,
        np.array([(x == v).sum() for v in values]),
        np.array([(y == v).sum() for v in values]),
    )


def test_rank_sum_from_counts_matches_scipy_mann_whitney() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, 40).astype(float)
    y = rng.integers(2, 6, 70).astype(float)
    test = rank_sum_from_counts(*_counts(x, y))
    ref = sps.mannwhitneyu(x, y, method="asymptotic", use_continuity=False)
    assert test.w - 40 * 41 / 2 == pytest.approx(ref.statistic)
    assert test.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_van_elteren_by_hand() -> None:
    rng = np.random.default_rng(2)
    strata = [(rng.integers(1, 6, n1).astype(float), rng.integers(1, 6, n2).astype(float))
              for n1, n2 in ((15, 60), (40, 25), (8, 12))]  # fmt: skip
    tests = [rank_sum_from_counts(*_counts(x, y)) for x, y in strata]
    num, var = 0.0, 0.0
    for x, y in strata:
        both = np.r_[x, y]
        ranks = sps.rankdata(both)
        big, m, k = both.size, x.size, y.size
        _, t = np.unique(both, return_counts=True)
        w = ranks[:m].sum()
        v = m * k / 12 * ((big + 1) - (t**3 - t).sum() / (big * (big - 1)))
        num += (w - m * (big + 1) / 2) / (big + 1)
        var += v / (big + 1) ** 2
    combined = van_elteren(tests, [x.size + y.size for x, y in strata])
    assert combined.z == pytest.approx(num / math.sqrt(var), rel=1e-12)
    assert combined.p_value == pytest.approx(2 * sps.norm.sf(abs(num / math.sqrt(var))), rel=1e-12)


def test_cochran_armitage_by_hand() -> None:
    x, n, s = np.array([10, 15, 25.0]), np.array([100, 100, 100.0]), np.array([0, 1, 2.0])
    p = 50 / 300
    t = (s * (x - n * p)).sum()
    var = p * (1 - p) * ((n * s * s).sum() - (n * s).sum() ** 2 / 300)
    test = cochran_armitage(x, n, s)
    assert test.z == pytest.approx(t / math.sqrt(var), rel=1e-12)
    assert test.z > 0
    assert test.p_value < 0.01


def test_docstring_examples_hold() -> None:
    import doctest

    from advocacy.metrics.stats import association

    result = doctest.testmod(association)
    assert result.attempted >= 2
    assert result.failed == 0
