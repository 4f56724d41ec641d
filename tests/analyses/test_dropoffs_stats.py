"""The drop-off tests against statsmodels and hand computations, on small frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from advocacy.analyses.dropoff_stats import (
    count_sums,
    mean_diff,
    mean_sums,
    ratio_did,
    ratio_pre_post,
)
from advocacy.analyses.dropoffs import DropoffConfig, flag_rows

Z = sps.norm.ppf(0.975)


def _accounts(seed: int, n: int, rate: float, drop: float) -> pd.DataFrame:
    """Per account × window counts with frailty and bursts (overdispersed), some accounts idle."""
    rng = np.random.default_rng(seed)
    frailty = rng.lognormal(-0.32, 0.8, n)
    rows = []
    for post, mult in ((0, 1.0), (1, drop)):
        e = rng.integers(0, 9, n).astype(float)  # active weeks, 0 = not in the population
        bursts = rng.poisson(rate * frailty * e * mult / 2.0)
        y = bursts * 2 - (rng.random(n) < 0.3) * (bursts > 0)  # bursts of 1–2 actions
        rows.append(pd.DataFrame({"account": np.arange(n), "post": post, "y": y, "e": e}))
    return pd.concat(rows, ignore_index=True)


def _sums(frame: pd.DataFrame) -> np.ndarray:
    codes = np.zeros(len(frame), dtype=np.int64)
    return count_sums(frame["y"].to_numpy(float), frame["e"].to_numpy(float), codes, 1)[0]


def _glm(frame: pd.DataFrame, columns: list[str]) -> tuple[float, float]:
    """The last coefficient and its SE of a quasi-Poisson GLM with log-exposure offsets."""
    fit_on = frame[frame["e"] > 0]
    exog = sm.add_constant(fit_on[columns].astype(float), has_constant="add")
    model = sm.GLM(fit_on["y"], exog, family=sm.families.Poisson(), offset=np.log(fit_on["e"]))
    fit = model.fit(scale="X2")
    return float(fit.params.iloc[-1]), float(fit.bse.iloc[-1])


def test_pre_post_ratio_matches_statsmodels_quasi_poisson() -> None:
    frame = _accounts(seed=3, n=400, rate=0.08, drop=0.7)
    coef, se = _glm(frame, ["post"])
    out = ratio_pre_post(_sums(frame[frame.post == 0]), _sums(frame[frame.post == 1]), 0.95)
    assert out.estimate == pytest.approx(math.exp(coef), rel=1e-9)
    assert out.lo == pytest.approx(math.exp(coef - Z * se), rel=1e-9)
    assert out.hi == pytest.approx(math.exp(coef + Z * se), rel=1e-9)
    assert out.p_value == pytest.approx(sps.norm.cdf(coef / se), rel=1e-9)  # one-sided: a drop
    assert out.p_value < 0.05  # the planted 30% drop is seen at this size


def test_did_ratio_matches_statsmodels_interaction() -> None:
    inside = _accounts(seed=4, n=300, rate=0.1, drop=0.6).assign(scope=1)
    outside = _accounts(seed=5, n=500, rate=0.05, drop=1.1).assign(
        scope=0, account=lambda f: f.account + 1000
    )
    frame = pd.concat([inside, outside], ignore_index=True)
    frame["post_x_scope"] = frame["post"] * frame["scope"]
    coef, se = _glm(frame, ["post", "scope", "post_x_scope"])
    cells = [_sums(f) for f in (inside[inside.post == 0], inside[inside.post == 1],
                                 outside[outside.post == 0], outside[outside.post == 1])]  # fmt: skip
    out = ratio_did(*cells, 0.95)
    assert out.estimate == pytest.approx(math.exp(coef), rel=1e-9)
    assert out.hi == pytest.approx(math.exp(coef + Z * se), rel=1e-9)
    assert out.p_value == pytest.approx(sps.norm.cdf(coef / se), rel=1e-9)


def test_did_ratio_by_hand() -> None:
    """Two accounts per cell; rates 1 → 0.5 inside, 0.5 → 0.5 outside: DiD ratio 0.5."""
    cells_y = [[3.0, 1.0], [1.0, 1.0], [1.0, 2.0], [2.0, 1.0]]
    cells_e = [[2.0, 2.0], [2.0, 2.0], [3.0, 3.0], [3.0, 3.0]]
    codes = np.zeros(2, dtype=np.int64)
    sums = [
        count_sums(np.array(y), np.array(e), codes, 1)[0]
        for y, e in zip(cells_y, cells_e, strict=True)
    ]
    out = ratio_did(*sums, 0.95)
    assert out.estimate == pytest.approx((0.5 / 1.0) / (0.5 / 0.5))
    x2 = 0.0  # Pearson X² over the eight account-windows, μ = e × the cell's rate
    for y, e in zip(cells_y, cells_e, strict=True):
        rate = sum(y) / sum(e)
        x2 += sum((yi - ei * rate) ** 2 / (ei * rate) for yi, ei in zip(y, e, strict=True))
    phi = x2 / (8 - 4)
    se = math.sqrt(phi * (1 / 4 + 1 / 2 + 1 / 3 + 1 / 3))
    assert out.lo == pytest.approx(0.5 * math.exp(-Z * se))
    assert out.p_value == pytest.approx(sps.norm.cdf(math.log(0.5) / se))


def _responses(seed: int, n_accounts: int, shift: float) -> pd.DataFrame:
    """Response-level NPS scores (+1/0/−1), several per account, correlated within account."""
    rng = np.random.default_rng(seed)
    rows = []
    for post in (0, 1):
        for a in range(n_accounts):
            k = rng.integers(0, 4)
            mood = rng.normal(0.2 + (shift if post else 0.0), 0.6)
            scores = np.clip(np.round(mood + rng.normal(0, 0.5, k)), -1, 1)
            rows += [{"account": a, "post": post, "s": s} for s in scores]
    return pd.DataFrame(rows)


def _mean_sums(frame: pd.DataFrame, n_accounts: int) -> np.ndarray:
    g = frame.groupby(["account", "post"])["s"].agg(["sum", "count"]).unstack(fill_value=0)
    g = g.reindex(range(n_accounts), fill_value=0)
    t_pre, t_post = g[("sum", 0)].to_numpy(float), g[("sum", 1)].to_numpy(float)
    n_pre, n_post = g[("count", 0)].to_numpy(float), g[("count", 1)].to_numpy(float)
    codes = np.zeros(n_accounts, dtype=np.int64)
    return mean_sums(t_pre, n_pre, t_post, n_post, codes, 1)[0]


def _ols_cluster(frame: pd.DataFrame) -> tuple[float, float]:
    """post − pre and its cluster-robust SE, with the C/(C − 1) factor only (as ours)."""
    exog = sm.add_constant(frame[["post"]].astype(float))
    fit = sm.OLS(frame["s"].astype(float), exog).fit(
        cov_type="cluster", cov_kwds={"groups": frame["account"], "use_correction": False}
    )
    clusters = frame["account"].nunique()
    return float(fit.params["post"]), float(fit.bse["post"]) * math.sqrt(clusters / (clusters - 1))


def test_nps_difference_matches_statsmodels_cluster_robust_ols() -> None:
    frame = _responses(seed=8, n_accounts=120, shift=-0.3)
    coef, se = _ols_cluster(frame)
    out = mean_diff([_mean_sums(frame, 120)], [1.0], 0.95, 100.0)
    assert out.estimate == pytest.approx(100 * coef, rel=1e-9)
    assert out.lo == pytest.approx(100 * (coef - Z * se), rel=1e-9)
    assert out.p_value == pytest.approx(sps.norm.cdf(coef / se), rel=1e-9)


def test_nps_did_is_the_difference_of_two_independent_changes() -> None:
    inside, outside = _responses(seed=9, n_accounts=80, shift=-0.4), _responses(10, 140, 0.0)
    (c_in, se_in), (c_out, se_out) = _ols_cluster(inside), _ols_cluster(outside)
    out = mean_diff([_mean_sums(inside, 80), _mean_sums(outside, 140)], [1.0, -1.0], 0.95, 100.0)
    se = math.hypot(se_in, se_out)
    assert out.estimate == pytest.approx(100 * (c_in - c_out), rel=1e-9)
    assert out.hi == pytest.approx(100 * (c_in - c_out + Z * se), rel=1e-9)


def test_too_few_responses_give_no_test_but_keep_the_means() -> None:
    frame = _responses(seed=11, n_accounts=6, shift=0.0)
    out = mean_diff([_mean_sums(frame, 6)], [1.0], 0.95, 100.0)
    pre = frame.loc[frame.post == 0, "s"].mean() * 100
    assert out.pre == pytest.approx(pre)
    assert math.isnan(out.p_value)
    assert math.isnan(out.lo)


def test_benjamini_hochberg_and_the_flag_rule_by_hand() -> None:
    rows = pd.DataFrame({
        "signal": ["actions", "actions", "nps", "review_rating", "referrals"],
        "ratio": [0.7, 0.9, None, None, 0.5],
        "diff": [None, None, -12.0, -0.5, None],
        "p_value": [0.001, 0.002, 0.02, 0.04, 0.5],
    })  # fmt: skip
    for col in ("pre_value", "post_value", "ci_low", "ci_high"):
        rows[col] = 0.0
    out = flag_rows(rows, DropoffConfig())
    # q = min over j ≥ i of 5·p(j)/j: 0.005, 0.005, 0.0333, 0.05, 0.5
    assert out["q_value"].tolist() == pytest.approx([0.005, 0.005, 0.1 / 3, 0.05, 0.5])
    # ratio 0.9 is within min_effect; q = 0.05 is not < 0.05; referrals are not significant.
    assert out["flagged"].tolist() == [True, False, True, False, False]
    looser = flag_rows(rows, DropoffConfig(min_effect=0.05))
    assert looser["flagged"].tolist() == [True, True, True, False, False]


def test_account_values_as_of_a_date_follow_the_history_intervals() -> None:
    from datetime import datetime

    from advocacy.analyses.dropoff_data import Accounts

    ids = np.array(["a", "b", "c"], dtype=object)
    current = {"segment": np.array(["smb", "mid_market", "(none)"], dtype=object)}
    history = pd.DataFrame({
        "idx": [0, 0, 1],
        "column": ["segment", "segment", "plan"],
        "value": ["mid_market", "smb", "pro"],
        "valid_from": pd.to_datetime(["1900-01-01", "2026-03-01", "1900-01-01"]),
        "valid_to": pd.to_datetime(["2026-03-01", "2200-01-01", "2200-01-01"]),
    })  # fmt: skip
    accounts = Accounts(ids, current, history)
    assert accounts.as_of("segment", datetime(2026, 2, 9)).tolist() == [
        "mid_market",
        "mid_market",
        "(none)",
    ]
    assert accounts.as_of("segment", datetime(2026, 3, 1)).tolist() == [
        "smb",
        "mid_market",
        "(none)",
    ]
    codes, values = accounts.codes_as_of("segment", datetime(2026, 2, 9))
    assert values == ["(none)", "mid_market", "smb"]
    assert [values[c] for c in codes] == ["mid_market", "mid_market", "(none)"]
