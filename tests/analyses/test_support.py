"""Support ↔ advocacy on the scale-1 demo company: the planted support effect is recovered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from advocacy.analyses import AnalysisOptions, AnalysisResult, support
from advocacy.errors import UserError
from advocacy.metrics.stats.association import log_rr_cluster_variance, mantel_haenszel_rr
from advocacy.workspace import Workspace
from tests.analyses.advocacy_oracle import Tables, add_months, support_units
from tests.metrics.helpers import Company, small_workspace

CONTRACT = [
    "band", "segment", "accounts", "advocates", "advocacy_rate", "ci_low", "ci_high",
    "risk_ratio", "rr_ci_low", "rr_ci_high",
]  # fmt: skip
BANDS = ["no_tickets", "tickets_unrated", "satisfied", "unsatisfied"]


@pytest.fixture(scope="module")
def result(demo_company: Company) -> AnalysisResult:
    return demo_company.ws.analyze("support")


@pytest.fixture(scope="module")
def overall(result: AnalysisResult) -> pd.DataFrame:
    main = result.main
    return main[main.segment.isna()].set_index("band")


def test_rows_have_the_contract_columns_and_every_band(result: AnalysisResult) -> None:
    main = result.main
    assert list(main.columns[: len(CONTRACT)]) == CONTRACT
    assert list(main[main.segment.isna()].band) == [*BANDS, "mh"]
    assert set(main.segment.dropna()) == {"smb", "mid_market", "enterprise"}
    assert (main[main.band != "mh"].ci_low <= main[main.band != "mh"].advocacy_rate).all()


def test_default_index_dates_are_the_eight_closed_quarter_starts(
    result: AnalysisResult, demo_truth: dict[str, Any]
) -> None:
    first = pd.Timestamp(demo_truth["default_range"]["from"]).date()
    expected = [str(add_months(first, 3 * i)) for i in range(8)]
    dates = result.part("index_dates")
    assert [str(d) for d in dates.index_date] == expected
    assert dates.closed.all()
    assert (result.main.index_dates == 8).all()
    assert str(result.main.first_index_date.iloc[0]) == expected[0]
    assert str(result.main.last_index_date.iloc[0]) == expected[-1]
    assert result.main.pending_n.iloc[0] == 0


def test_band_populations_match_the_planted_truth(
    result: AnalysisResult, overall: pd.DataFrame, demo_company: Company, demo_truth: dict[str, Any]
) -> None:
    """The truth's population is the analysis's: accounts known and active at each index date
    (account × index-date units), counted by the generator from its own state."""
    truth = demo_truth["effects"]["support_advocacy"]["accounts_by_band"]
    got = {b: int(overall.at[b, "accounts"]) for b in BANDS}
    assert got == truth
    idx = list(result.part("index_dates").index_date)
    at_index = support_units(Tables.load(demo_company.ws, demo_company.as_of), idx)
    assert at_index.groupby("band").size().to_dict() == truth


def test_band_rates_cover_the_planted_rates(
    overall: pd.DataFrame, demo_truth: dict[str, Any]
) -> None:
    expected = demo_truth["effects"]["support_advocacy"]["expected"]["rate_by_band"]
    for band in BANDS:
        assert overall.at[band, "ci_low"] <= expected[band] <= overall.at[band, "ci_high"], band


def test_risk_ratios_have_the_planted_sign_and_cover_the_truth(
    overall: pd.DataFrame, demo_truth: dict[str, Any]
) -> None:
    expected = demo_truth["effects"]["support_advocacy"]["expected"]
    sat, mh = overall.loc["satisfied"], overall.loc["mh"]
    assert sat.rr_ci_low > 1
    assert mh.rr_ci_low > 1
    assert sat.rr_ci_low <= expected["risk_ratio_satisfied_vs_unsatisfied"] <= sat.rr_ci_high
    assert mh.rr_ci_low <= expected["risk_ratio_mh_by_segment"] <= mh.rr_ci_high
    for band in ("no_tickets", "tickets_unrated"):
        rr = expected["risk_ratio_vs_unsatisfied"][band]
        assert overall.at[band, "rr_ci_low"] <= rr <= overall.at[band, "rr_ci_high"], band
    assert overall.at["unsatisfied", "risk_ratio"] == 1.0


def test_counts_match_an_independent_pandas_computation(
    result: AnalysisResult, demo_company: Company
) -> None:
    idx = list(result.part("index_dates").index_date)
    units = support_units(Tables.load(demo_company.ws, demo_company.as_of), idx)
    got = result.main.dropna(subset=["advocacy_rate"]).fillna({"segment": "all"})
    expected = pd.concat([units.assign(segment="all"), units])
    counts = expected.groupby(["segment", "band"]).advocate.agg(["count", "sum"])
    for row in got.itertuples():
        assert (row.accounts, row.advocates) == tuple(counts.loc[(row.segment, row.band)]), row


def test_risk_ratio_interval_is_katz_widened_by_the_clustering(overall: pd.DataFrame) -> None:
    sat, ref = overall.loc["satisfied"], overall.loc["unsatisfied"]
    a, n1, c, n0 = sat.advocates, sat.accounts, ref.advocates, ref.accounts
    katz_se = np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
    rr = (a / n1) / (c / n0)
    assert sat.risk_ratio == pytest.approx(rr, rel=1e-12)
    got_se = (np.log(sat.rr_ci_high) - np.log(sat.rr_ci_low)) / (2 * sps.norm.ppf(0.975))
    assert katz_se <= got_se + 1e-12
    assert got_se < 2 * katz_se  # accounts recur across 8 dates: a moderate design effect


def test_csat_correlates_with_later_nps(result: AnalysisResult) -> None:
    corr = result.part("correlations").set_index("x")
    csat = corr.loc["mean CSAT (0–1)"]
    assert csat.ci_low > 0  # the generator lowers NPS after unsatisfied support
    se = np.sqrt((1 + csat.rho**2 / 2) / (csat.n - 3))
    z = sps.norm.ppf(0.975)
    assert csat.ci_low == pytest.approx(np.tanh(np.arctanh(csat.rho) - z * se), rel=1e-12)
    assert csat.ci_high == pytest.approx(np.tanh(np.arctanh(csat.rho) + z * se), rel=1e-12)


def test_sentence_calls_it_an_association(result: AnalysisResult) -> None:
    assert "association, not an effect" in result.sentence
    assert "more often" in result.sentence


def test_a_range_without_closed_windows_is_a_user_error(demo_company: Company) -> None:
    start = add_months(demo_company.as_of.replace(day=1), 0)
    with pytest.raises(UserError, match="closed"):
        demo_company.ws.analyze("support", period="month", start=start, end=add_months(start, 1))


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[Workspace]:
    """Index date 2026-04-01. A1 (no revenue) and E1 (paying in April) exist then; B1 is created
    on 05-15 and writes a case study on 06-01; C1 stopped paying after March; D1 paid only in
    January 2025 and so is not active; F1 is created on 04-01 12:00, after the index instant."""
    ws = small_workspace(tmp_path, {
        "accounts": "account_id,segment,created_at\nA1,smb,2025-01-01\nB1,smb,2026-05-15\n"
        "C1,smb,2025-01-01\nD1,smb,2025-01-01\nE1,smb,2025-01-01\nF1,smb,2026-04-01 12:00:00\n",
        "revenue": "account_id,month,mrr\nC1,2026-03-01,100\nC1,2026-04-01,0\nD1,2025-01-01,100\n"
        "E1,2026-04-01,100\nE1,2026-05-01,100\n",
        "advocacy_actions": "action_id,account_id,action_type,occurred_at\n"
        "x1,B1,case_study,2026-06-01\nx2,F1,case_study,2026-06-02\nx3,E1,referral,2026-05-10\n"
        "x4,A1,case_study,2026-07-15\n",
    })  # fmt: skip
    yield ws
    ws.close()


def test_the_population_is_the_accounts_known_and_active_at_the_index_date(
    newcomer: Workspace,
) -> None:
    res = newcomer.analyze("support", start="2026-04-01", end="2026-07-01", as_of="2026-07-15")
    row = res.main[res.main.segment.isna()].set_index("band").loc["no_tickets"]
    # A1 (no revenue, created before) and E1 (paying in the index month); E1 referred in May.
    assert (row.accounts, row.advocates, row.distinct_accounts) == (2, 1, 2)
    assert isinstance(row.distinct_accounts, int | np.integer)
    assert res.main.distinct_accounts.dtype == np.int64


def test_sentence_states_the_configured_confidence(
    demo_company: Company, overall: pd.DataFrame
) -> None:
    base = demo_company.ws.settings
    settings = replace(base, stats=replace(base.stats, confidence=0.9))
    res = support.run(demo_company.ws.source(), settings, AnalysisOptions())
    assert "90% CI" in res.sentence
    assert "95%" not in res.sentence
    mh = res.main[res.main.band == "mh"].iloc[0]
    wide = overall.loc["mh"]
    assert wide.rr_ci_low < mh.rr_ci_low < mh.risk_ratio < mh.rr_ci_high < wide.rr_ci_high


def test_mh_cluster_variance_is_the_crude_one_with_a_single_stratum() -> None:
    rng = np.random.default_rng(5)
    n = 400
    cluster = rng.integers(0, 90, n)
    exposed = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(exposed == 1, 0.3, 0.15)).astype(int)
    robust, _iid = log_rr_cluster_variance(y, exposed, cluster)
    got = support.mh_cluster_variance(y, exposed, np.zeros(n), cluster)
    assert got == pytest.approx(robust, rel=1e-12)


def test_mh_cluster_variance_matches_a_simulation_of_recurring_accounts() -> None:
    """Accounts recur at 4 index dates with a shared frailty; 3 strata of different risk. The
    robust variance tracks the simulated Var(log RR_MH), Greenland–Robins alone falls short,
    and the robust interval covers the true risk ratio about as often as it says."""
    rng = np.random.default_rng(11)
    accounts, dates, rr_true = 300, 4, 1.6
    stratum = np.repeat(rng.integers(0, 3, accounts), dates)
    cluster = np.repeat(np.arange(accounts), dates)
    base = np.array([0.08, 0.15, 0.22])[stratum]
    logs, robust, gr, covered = [], [], [], 0
    for _ in range(300):
        frailty = np.repeat(rng.lognormal(-0.5, 1.0, accounts), dates)
        usual = np.repeat(rng.random(accounts) < 0.5, dates)  # support bands persist
        exposed = (usual ^ (rng.random(accounts * dates) < 0.15)).astype(int)
        p = np.clip(base * frailty * np.where(exposed == 1, rr_true, 1.0), 0, 1)
        y = (rng.random(p.size) < p).astype(int)
        cells = pd.DataFrame({"y": y, "e": exposed, "k": stratum})
        g = cells.groupby(["k", "e"]).y.agg(["sum", "count"]).unstack("e")
        est = mantel_haenszel_rr(g["sum"][1], g["count"][1], g["sum"][0], g["count"][0])
        v = support.mh_cluster_variance(y, exposed, stratum, cluster)
        logs.append(np.log(est.rr))
        robust.append(v)
        gr.append(est.var_log)
        half = 1.959964 * np.sqrt(v)
        covered += abs(np.log(est.rr) - np.log(rr_true)) <= half
    empirical = np.var(logs, ddof=1)
    assert np.mean(robust) == pytest.approx(empirical, rel=0.2)
    assert np.mean(gr) < 0.9 * empirical
    assert 0.91 <= covered / 300 <= 0.98


def test_mh_row_uses_the_robust_variance(
    result: AnalysisResult, overall: pd.DataFrame, demo_company: Company
) -> None:
    """The demo's MH interval, recomputed from the oracle's units with the robust variance."""
    idx = list(result.part("index_dates").index_date)
    units = support_units(Tables.load(demo_company.ws, demo_company.as_of), idx)
    both = units[units.band.isin(["satisfied", "unsatisfied"])]
    e = (both.band == "satisfied").astype(int)
    v = support.mh_cluster_variance(both.advocate, e, both.segment, both.account_id)
    mh = overall.loc["mh"]
    half = sps.norm.ppf(0.975) * np.sqrt(v)
    assert mh.rr_ci_low == pytest.approx(mh.risk_ratio * np.exp(-half), rel=1e-9)
    assert mh.rr_ci_high == pytest.approx(mh.risk_ratio * np.exp(half), rel=1e-9)
