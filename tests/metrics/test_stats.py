"""advocacy.metrics.stats, each number checked against an independent computation.

Oracles: statsmodels and scipy (Wilson, Newcombe, z-tests, Poisson, binomial, BH, cluster-robust
OLS), published worked examples (the DESIGN NPS example, Newcombe 1998), brute-force binomial sums,
and seeded simulations for coverage.
"""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats as sps
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)
from statsmodels.stats.rates import confint_poisson

from advocacy.metrics.stats import (
    ClusterSums,
    benjamini_hochberg,
    delta_ratio,
    design_effect_proportion,
    fpc,
    fpc_factor,
    mean_t,
    mean_t_cluster,
    median_rank_bounds,
    newcombe_diff,
    nps_diff,
    nps_interval,
    nps_variance_iid,
    poisson_conditional_test,
    poisson_exact,
    ratio_diff_delta,
    two_proportion_z,
    wilson,
    wilson_cluster,
)

Floats = npt.NDArray[np.float64]
NAN = float("nan")
COUNTS = [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (56, 70), (1, 250), (999, 1000)]


def cluster_sums(groups: npt.NDArray[np.int64], q: Floats) -> tuple[ClusterSums, float, int]:
    """The engine's two GROUP BY passes, done in numpy: (sums, total, n) for one row."""
    _, inverse = np.unique(groups, return_inverse=True)
    t = np.bincount(inverse, weights=q)
    n_c = np.bincount(inverse).astype(float)
    sums = ClusterSums(len(t), float(t @ t), float(t @ n_c), float(n_c @ n_c))
    return sums, float(q.sum()), len(q)


def ols_mean(y: Floats, groups: npt.NDArray[np.int64] | None = None) -> tuple[float, float]:
    """(iid variance, cluster-robust variance) of a mean, from statsmodels OLS on a constant."""
    x = np.ones(len(y))
    iid = OLS(y, x).fit().bse[0] ** 2
    if groups is None:
        return float(iid), NAN
    robust = OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups}).bse[0] ** 2
    return float(iid), float(robust)


def clustered_scores(
    rng: np.random.Generator, accounts: int
) -> tuple[Floats, npt.NDArray[np.int64]]:
    """NPS scores (+1/0/−1) from accounts with their own answer mix and 1–6 responses each."""
    sizes = rng.integers(1, 7, accounts)
    mix = rng.dirichlet([1.0, 0.5, 0.8], accounts)
    groups = np.repeat(np.arange(accounts), sizes)
    draws = np.array([rng.choice([1.0, 0.0, -1.0], p=mix[g]) for g in groups])
    return draws, groups


# --- Wilson -----------------------------------------------------------------------------------


@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(conf: float) -> None:
    x, n = np.array(COUNTS, dtype=float).T
    lo, hi = wilson(x, n, conf)
    expected = np.array([proportion_confint(a, b, 1 - conf, method="wilson") for a, b in COUNTS])
    np.testing.assert_allclose(lo, expected[:, 0], atol=1e-12)
    np.testing.assert_allclose(hi, expected[:, 1], atol=1e-12)


def test_wilson_edges() -> None:
    lo, hi = wilson([0, 5, 0, NAN, 2], [5, 5, 0, 4, NAN])
    assert (lo[0], hi[1]) == (0.0, 1.0)
    assert hi[0] < 1.0
    assert lo[1] > 0.0
    assert np.isnan([lo[2:], hi[2:]]).all()
    assert wilson(3, [10, 20]).lo.shape == (2,)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="0 ≤ x ≤ n"):
        wilson([11, 1], [10, 10])


def test_wilson_fpc_scales_the_sample_size() -> None:
    lo, hi = wilson(30, 60, fpc=[0.5, 0.0])
    expected = proportion_confint(60, 120, 0.05, method="wilson")
    np.testing.assert_allclose([lo[0], hi[0]], expected, atol=1e-12)
    assert lo[1] == hi[1] == 0.5


def test_wilson_cluster_is_wilson_on_effective_counts() -> None:
    lo, hi = wilson_cluster([6, 6, 6], [20, 20, 20], [2.0, 0.5, NAN])
    np.testing.assert_allclose(
        [lo[0], hi[0]], proportion_confint(3, 10, 0.05, method="wilson"), atol=1e-12
    )
    plain = proportion_confint(6, 20, 0.05, method="wilson")
    np.testing.assert_allclose([lo[1:], hi[1:]], [[plain[0]] * 2, [plain[1]] * 2], atol=1e-12)


# --- design effect and fpc ----------------------------------------------------------------------


def test_design_effect_is_cluster_over_iid_ols_variance() -> None:
    rng = np.random.default_rng(7)
    groups = np.repeat(np.arange(40), rng.integers(1, 8, 40))
    y = (rng.random(len(groups)) < rng.beta(2, 3, 40)[groups]).astype(float)
    sums, x, n = cluster_sums(groups, y)
    iid, robust = ols_mean(y, groups)
    assert design_effect_proportion(x, n, sums) == pytest.approx(max(robust / iid, 1.0), rel=1e-10)
    assert robust / iid > 1.2  # the data are clustered, so the test is not vacuous


def test_design_effect_is_one_with_one_response_per_account() -> None:
    x, n = 13.0, 40.0
    assert design_effect_proportion(x, n, ClusterSums.independent(n, x, x)) == pytest.approx(1.0)


def test_design_effect_edges() -> None:
    deff = design_effect_proportion(
        [0, 12, 5, 0, NAN],
        [12, 12, 12, 0, 4],
        ClusterSums([3, 3, 1, 0, 2], [48, 48, 25, 0, 8], [48, 48, 60, 0, 8], [48, 48, 144, 0, 8]),
    )
    np.testing.assert_array_equal(deff[:3], [1.0, 1.0, 12.0])  # no variation; one account = n
    assert np.isnan(deff[3:]).all()


def test_fpc() -> None:
    np.testing.assert_allclose(fpc([50, 100, 120, 0], [100, 100, 100, 100]), [50 / 99, 0, 0, 1])
    factor = fpc_factor([5, 6, 6, 6], [100, 100, NAN, 0])
    np.testing.assert_allclose(factor, [1.0, 94 / 99, 1.0, 1.0])
    assert fpc_factor(60, 100, mode="off") == 1.0
    with pytest.raises(ValueError, match=r"stats\.fpc"):
        fpc_factor(60, 100, mode="always")


# --- NPS ----------------------------------------------------------------------------------------


def test_nps_worked_example() -> None:
    # DESIGN §5: 1 detractor, 2 passives, 3 promoters → NPS 33.3, score variance 5/9.
    assert nps_variance_iid(3, 1, 6) == pytest.approx(5 / 9 / 6)
    est = nps_interval(3, 1, 6)
    assert est.value == pytest.approx(100 / 3)
    # n < 30: adjusted Wald, 3.75 promoters and 1.75 detractors of 9 (one account per response).
    p, d = 3.75 / 9, 1.75 / 9
    assert est.se == pytest.approx(100 * math.sqrt((p + d - (p - d) ** 2) / 9))
    assert est.lo == pytest.approx(100 / 3 - 1.959963984540054 * est.se)


def test_nps_cluster_se_is_iid_times_sqrt_n_over_n_minus_1_for_single_responses() -> None:
    promoters, detractors, n = np.array([20.0, 0.0, 45.0]), np.array([10.0, 3.0, 45.0]), 90.0
    est = nps_interval(promoters, detractors, n)
    iid_se = 100 * np.sqrt(nps_variance_iid(promoters, detractors, n))
    np.testing.assert_allclose(est.se, iid_se * math.sqrt(n / (n - 1)), rtol=1e-12)


def test_nps_cluster_se_matches_ols_cluster_robust() -> None:
    scores, groups = clustered_scores(np.random.default_rng(3), 30)
    sums, _, n = cluster_sums(groups, scores)
    est = nps_interval((scores == 1).sum(), (scores == -1).sum(), n, sums)
    assert n >= 30
    assert est.se == pytest.approx(100 * math.sqrt(ols_mean(scores, groups)[1]), rel=1e-10)


def test_nps_small_clustered_sample_is_adjusted_wald_times_design_effect() -> None:
    scores = np.array([1.0, 1, 1, 0, 1, -1, -1, 0, 1, 1])
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 3, 4, 4])
    sums, _, n = cluster_sums(groups, scores)
    iid, robust = ols_mean(scores, groups)
    p, d = 6.75 / 13, 2.75 / 13
    expected = (p + d - (p - d) ** 2) / 13 * max(robust / iid, 1.0)
    assert nps_interval(6, 2, n, sums).se == pytest.approx(100 * math.sqrt(expected), rel=1e-10)


def test_nps_edges() -> None:
    est = nps_interval([0, 10, 40, 3], [0, 0, 0, 1], [0, 10, 40, 6], fpc=[1, 1, 1, 0])
    assert np.isnan([est.value[0], est.se[0], est.lo[0], est.hi[0]]).all()
    assert (est.value[1], est.hi[1]) == (100.0, 100.0)
    assert est.se[1] > 0  # adjusted Wald
    assert est.se[2] == 0.0  # n ≥ 30 all promoters: the Wald variance is 0, as specified
    assert est.lo[3] == est.hi[3] == pytest.approx(100 / 3)  # census: fpc = 0
    one_account = nps_interval(30, 10, 40, ClusterSums(1, 400, 800, 1600))
    assert one_account.se == pytest.approx(100 * math.sqrt(0.75 + 0.25 - 0.5**2))
    with pytest.raises(ValueError, match="promoters"):
        nps_interval(5, 6, 10)


def test_nps_fpc_multiplies_the_variance() -> None:
    plain, corrected = nps_interval(40, 20, 100), nps_interval(40, 20, 100, fpc=0.25)
    assert corrected.se == pytest.approx(plain.se * 0.5)


def test_clustered_nps_interval_covers_at_nominal_rate() -> None:
    rng = np.random.default_rng(20240601)
    sims, accounts, alpha = 2000, 120, np.array([1.0, 0.5, 0.8])
    sizes = rng.integers(1, 7, (sims, accounts))
    counts = rng.multinomial(sizes, rng.dirichlet(alpha, (sims, accounts)))
    t = counts[..., 0] - counts[..., 2]
    sums = ClusterSums(accounts, (t * t).sum(1), (t * sizes).sum(1), (sizes * sizes).sum(1))
    promoters, detractors, n = counts[..., 0].sum(1), counts[..., 2].sum(1), sizes.sum(1)
    truth = 100 * (alpha[0] - alpha[2]) / alpha.sum()
    robust = nps_interval(promoters, detractors, n, sums)
    naive = nps_interval(promoters, detractors, n)
    assert 0.93 <= np.mean((robust.lo <= truth) & (truth <= robust.hi)) <= 0.97
    assert np.mean((naive.lo <= truth) & (truth <= naive.hi)) < 0.90


# --- ratios and means ---------------------------------------------------------------------------


RatioSums = tuple[Floats, Floats, Floats, Floats, Floats]


def ratio_sums(x: Floats, y: Floats) -> RatioSums:
    """Σx, Σy, Σx², Σy², Σxy over the last axis (units), as the engine's SQL pass gives them."""
    return (x.sum(-1), y.sum(-1), (x * x).sum(-1), (y * y).sum(-1), (x * y).sum(-1))


def test_delta_ratio_matches_direct_computation() -> None:
    rng = np.random.default_rng(11)
    y = rng.lognormal(8, 1, 150)
    x = y * rng.uniform(0.6, 1.4, 150)
    est = delta_ratio(*ratio_sums(x, y), 150)
    r = x.sum() / y.sum()
    cov = np.cov(x, y)  # sample (co)variances, n − 1
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (150 * y.mean() ** 2)
    assert est.value == pytest.approx(r, rel=1e-12)
    assert est.se == pytest.approx(math.sqrt(var), rel=1e-8)
    assert est.hi - est.value == pytest.approx(1.959963984540054 * est.se)


def test_delta_ratio_se_agrees_with_bootstrap() -> None:
    rng = np.random.default_rng(5)
    y = rng.lognormal(0, 0.8, 300)
    x = y * rng.beta(8, 2, 300)
    idx = rng.integers(0, 300, (4000, 300))
    boot = x[idx].sum(1) / y[idx].sum(1)
    assert delta_ratio(*ratio_sums(x, y), 300).se == pytest.approx(boot.std(ddof=1), rel=0.08)


def test_delta_ratio_covers_at_nominal_rate() -> None:
    rng = np.random.default_rng(99)
    y = rng.lognormal(0, 0.75, (2000, 200))
    x = y * rng.beta(8, 2, (2000, 200))
    est = delta_ratio(*ratio_sums(x, y), 200)
    assert 0.93 <= np.mean((est.lo <= 0.8) & (est.hi >= 0.8)) <= 0.97


def test_delta_ratio_edges() -> None:
    est = delta_ratio(
        [2, 0, 1, NAN], [4, 0, 1, 1], [4, 0, 1, 1], [16, 0, 1, 1], [8, 0, 1, 1], [1, 3, 0, 2]
    )
    assert est.value[0] == 0.5
    assert np.isnan(est.se[0])  # one unit: no variance estimate
    assert np.isnan([est.value[1], est.se[1], est.value[3], est.se[3]]).all()
    assert np.isnan(est.se[2])
    assert np.isnan(delta_ratio(5, 0, 25, 0, 0, 4).value)
    clipped = delta_ratio(9.9, 10, 9.81, 10, 9.9, 10, bounds=(0.0, 1.0))
    assert clipped.hi == 1.0


def test_mean_t_matches_scipy() -> None:
    v = np.random.default_rng(2).integers(1, 6, 25).astype(float)
    est = mean_t(v.sum(), (v * v).sum(), 25, 0.9)
    lo, hi = sps.t.interval(0.9, 24, loc=v.mean(), scale=sps.sem(v))
    np.testing.assert_allclose([est.lo, est.hi], [lo, hi], rtol=1e-10)


def test_mean_t_edges() -> None:
    est = mean_t([4, 0, NAN], [16, 0, 1], [1, 0, 3])
    assert est.value[0] == 4.0
    assert np.isnan([est.se[0], est.lo[0], est.value[1], est.se[1], est.value[2]]).all()


def test_mean_t_cluster_matches_statsmodels_cluster_t() -> None:
    rng = np.random.default_rng(8)
    groups = np.repeat(np.arange(12), rng.integers(1, 6, 12))
    y = rng.integers(1, 6, len(groups)) + groups % 3.0
    sums, s, n = cluster_sums(groups, y)
    fit = OLS(y, np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    est = mean_t_cluster(s, n, sums)
    np.testing.assert_allclose([est.lo, est.hi], fit.conf_int()[0], rtol=1e-10)


def test_mean_t_cluster_with_one_response_per_account_is_mean_t() -> None:
    v = np.array([3.0, 5, 4, 4, 2, 5])
    sums = ClusterSums.independent(6, (v * v).sum(), v.sum())
    np.testing.assert_allclose(
        mean_t_cluster(v.sum(), 6, sums), mean_t(v.sum(), (v * v).sum(), 6), rtol=1e-12
    )
    single = mean_t_cluster(8.0, 2, ClusterSums(1, 64, 16, 4))
    assert single.value == 4.0
    assert np.isnan(single.lo)


# --- counts and medians -------------------------------------------------------------------------


@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_poisson_exact_matches_statsmodels(conf: float) -> None:
    counts = np.array([0, 1, 2, 5, 17, 50, 1000])
    lo, hi = poisson_exact(counts, conf)
    expected = np.array([confint_poisson(c, 1, alpha=1 - conf, method="exact-c") for c in counts])
    np.testing.assert_allclose(lo, np.nan_to_num(expected[:, 0]), rtol=1e-10)
    np.testing.assert_allclose(hi, expected[:, 1], rtol=1e-10)
    assert lo[0] == 0.0


def test_poisson_exact_edges() -> None:
    lo, hi = poisson_exact([NAN])
    assert np.isnan([lo[0], hi[0]]).all()
    with pytest.raises(ValueError, match="≥ 0"):
        poisson_exact(-1)


def brute_force_median_ranks(n: int, conf: float) -> tuple[float, float]:
    tail = 0
    for low in range(1, n + 1):  # P(B ≤ low − 1), exact integers over 2^n
        tail += math.comb(n, low - 1)
        if tail / 2**n > (1 - conf) / 2:
            return (low - 1, n + 2 - low) if low > 1 else (NAN, NAN)
    return NAN, NAN


@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_median_rank_bounds_match_brute_force(conf: float) -> None:
    ns = np.arange(0, 301)
    lo, hi = median_rank_bounds(ns, conf)
    expected = np.array([brute_force_median_ranks(int(n), conf) for n in ns])
    np.testing.assert_array_equal(lo, expected[:, 0])
    np.testing.assert_array_equal(hi, expected[:, 1])


def test_median_rank_bounds_published_values() -> None:
    lo, hi = median_rank_bounds([5, 6, 10, 20, NAN])
    np.testing.assert_array_equal(lo, [NAN, 1, 2, 6, NAN])
    np.testing.assert_array_equal(hi, [NAN, 6, 9, 15, NAN])
    assert np.isnan(median_rank_bounds(7, 0.99).lo)
    assert median_rank_bounds(8, 0.99).lo == 1


# --- comparisons --------------------------------------------------------------------------------


def test_newcombe_published_example() -> None:
    lo, hi = newcombe_diff(56, 70, 48, 80)  # Newcombe (1998), Stat Med 17:873, example (a)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.0524, 0.3339)


def test_newcombe_matches_statsmodels() -> None:
    cases = [(56, 70, 48, 80), (9, 10, 3, 10), (0, 10, 0, 20), (10, 10, 0, 12), (5, 56, 0, 29)]
    x1, n1, x2, n2 = np.array(cases, dtype=float).T
    lo, hi = newcombe_diff(x1, n1, x2, n2, 0.9)
    for i, case in enumerate(cases):
        expected = confint_proportions_2indep(*case, method="newcomb", alpha=0.1)
        np.testing.assert_allclose([lo[i], hi[i]], expected, atol=1e-12)


def test_two_proportion_z_matches_statsmodels_and_chi_square() -> None:
    cases = [(56, 70, 48, 80), (9, 10, 3, 10), (1, 40, 6, 35), (300, 1000, 260, 1000)]
    x1, n1, x2, n2 = np.array(cases, dtype=float).T
    p = two_proportion_z(x1, n1, x2, n2)
    for i, (a, b, c, d) in enumerate(cases):
        assert p[i] == pytest.approx(proportions_ztest([a, c], [b, d])[1], rel=1e-10)
        table = [[a, b - a], [c, d - c]]
        assert p[i] == pytest.approx(sps.chi2_contingency(table, correction=False)[1], rel=1e-8)


def test_two_proportion_z_edges() -> None:
    p = two_proportion_z([0, 10, 3], [10, 10, 0], [0, 20, 1], [20, 20, 5])
    np.testing.assert_array_equal(p, [1.0, 1.0, NAN])


def test_nps_and_ratio_differences_from_two_ses() -> None:
    comp = nps_diff([40, 10, 5], [5, 0, 0], [30, 10, 0], [4, 0, 0])
    assert comp.delta[0] == 10
    assert comp.se[0] == pytest.approx(math.sqrt(41))
    assert comp.p_value[0] == pytest.approx(2 * sps.norm.sf(10 / math.sqrt(41)))
    assert comp.lo[0] == pytest.approx(10 - 1.959963984540054 * math.sqrt(41))
    assert (comp.p_value[1], comp.p_value[2]) == (1.0, 0.0)
    ratio = ratio_diff_delta(1.05, 0.02, 0.98, 0.015, 0.9)
    assert ratio.hi - ratio.delta == pytest.approx(sps.norm.ppf(0.95) * 0.025)


def test_poisson_conditional_test_matches_scipy_binomtest() -> None:
    cases: list[tuple[int, float, int, float]] = [
        (c1, t1, c2, t2)
        for c1 in (0, 1, 3, 7, 20)
        for c2 in (0, 2, 7, 31)
        for t1, t2 in ((1, 1), (90, 92), (1, 3))
    ]
    cases += [(480, 1, 520, 1), (4, 2.5, 19, 1), (1500, 3, 400, 1)]
    c1, t1, c2, t2 = np.array(cases, dtype=float).T
    p = poisson_conditional_test(c1, t1, c2, t2)
    for i, (a, s, b, u) in enumerate(cases):
        expected = 1.0 if a + b == 0 else sps.binomtest(a, a + b, s / (s + u)).pvalue
        assert p[i] == pytest.approx(expected, rel=1e-9), cases[i]


def test_poisson_conditional_test_edges() -> None:
    p = poisson_conditional_test([3, 3, NAN], [0, 1, 1], [4, 4, 4], [1, 1, 1])
    assert np.isnan(p[[0, 2]]).all()
    assert 0 < p[1] <= 1


def test_benjamini_hochberg_matches_statsmodels() -> None:
    p = np.array([0.01, NAN, 0.04, 0.03, 0.5, 0.002, NAN, 0.04])
    q = benjamini_hochberg(p)
    finite = ~np.isnan(p)
    np.testing.assert_allclose(q[finite], multipletests(p[finite], method="fdr_bh")[1])
    assert np.isnan(q[~finite]).all()
    assert np.isnan(benjamini_hochberg([NAN, NAN])).all()
    assert benjamini_hochberg(np.zeros((0,))).shape == (0,)
    assert benjamini_hochberg([[0.01, 0.02], [0.03, 0.9]]).shape == (2, 2)


def test_all_nan_inputs_give_nan_without_warnings() -> None:
    nan2 = np.full(2, NAN)
    sums = ClusterSums(nan2, nan2, nan2, nan2)
    results: list[tuple[Floats, ...]] = [
        wilson(nan2, nan2),
        wilson_cluster(nan2, nan2, nan2),
        (design_effect_proportion(nan2, nan2, sums),),
        nps_interval(nan2, nan2, nan2, sums),
        nps_interval(nan2, nan2, nan2),
        delta_ratio(nan2, nan2, nan2, nan2, nan2, nan2),
        mean_t(nan2, nan2, nan2),
        mean_t_cluster(nan2, nan2, sums),
        poisson_exact(nan2),
        median_rank_bounds(nan2),
        newcombe_diff(nan2, nan2, nan2, nan2),
        (two_proportion_z(nan2, nan2, nan2, nan2),),
        nps_diff(nan2, nan2, nan2, nan2),
        (poisson_conditional_test(nan2, nan2, nan2, nan2),),
        (benjamini_hochberg(nan2),),
    ]
    for arrays in results:
        assert np.isnan(np.stack(arrays)).all()


@pytest.mark.parametrize(
    "module", ["compare", "counts", "design", "means", "nps", "proportions", "ranks"]
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"advocacy.metrics.stats.{module}"))
    assert result.failed == 0
