"""Support ↔ advocacy on the scale-1 demo company: the planted support effect is recovered."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from advocacy.analyses import AnalysisResult
from advocacy.errors import UserError
from tests.analyses.advocacy_oracle import Tables, add_months, support_units
from tests.metrics.helpers import Company

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
    overall: pd.DataFrame, demo_truth: dict[str, Any]
) -> None:
    truth = demo_truth["effects"]["support_advocacy"]["accounts_by_band"]
    assert {b: int(overall.at[b, "accounts"]) for b in BANDS} == truth


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
