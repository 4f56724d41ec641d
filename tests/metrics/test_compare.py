"""--compare previous|rest, checked against statsmodels; comparing different definitions is refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from advocacy.errors import UserError
from advocacy.metrics.compare import check_same_definition
from tests.metrics.helpers import Company, small_workspace

START, END = date(2025, 1, 1), date(2026, 10, 1)


def test_previous_compares_each_group_with_its_last_period(company: Company) -> None:
    rows = company.ws.metrics(
        "advocacy_rate", by="segment", start=START, end=END, as_of=company.as_of, compare="previous"
    )
    smb = rows[rows.segment == "smb"].reset_index(drop=True)
    assert smb.loc[0, "period_start"] == START  # the period before is computed, not shown
    before = company.ws.metrics(
        "advocacy_rate", by="segment", start=date(2024, 10, 1), end=START, as_of=company.as_of
    )
    first = before[before.segment == "smb"].iloc[0]
    assert smb.loc[0, "delta"] == pytest.approx(smb.loc[0, "value"] - first["value"], rel=1e-12)
    cur, prev = smb.loc[3], smb.loc[2]
    assert cur["delta"] == pytest.approx(cur["value"] - prev["value"], rel=1e-12)
    lo, hi = confint_proportions_2indep(
        cur.numerator,
        cur.denominator,
        prev.numerator,
        prev.denominator,
        method="newcomb",
        compare="diff",
    )
    assert (cur["delta_ci_low"], cur["delta_ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
    _, p = proportions_ztest([cur.numerator, prev.numerator], [cur.denominator, prev.denominator])
    assert cur["p_value"] == pytest.approx(p, rel=1e-9)
    assert any("independent samples" in note for note in rows.attrs["notes"])


def test_rest_compares_each_group_with_the_others_and_controls_false_discoveries(
    company: Company,
) -> None:
    rows = company.ws.metrics(
        "advocacy_rate", by="segment", start=START, end=END, as_of=company.as_of, compare="rest"
    )
    period = rows[rows.period_start == rows.period_start.max()]
    total = period[period.segment.isna()].iloc[0]
    groups = period[period.segment.notna()]
    pvalues = []
    for _, g in groups.iterrows():
        rx, rn = total.numerator - g.numerator, total.denominator - g.denominator
        assert g["delta"] == pytest.approx(g["value"] - rx / rn, rel=1e-9)
        _, p = proportions_ztest([g.numerator, rx], [g.denominator, rn])
        assert g["p_value"] == pytest.approx(p, rel=1e-9)
        pvalues.append(p)
    expected_q = multipletests(pvalues, method="fdr_bh")[1]
    assert groups["q_value"].to_numpy() == pytest.approx(expected_q, rel=1e-9)
    assert np.isnan(total["delta"])


def test_results_of_different_definitions_are_not_compared(company: Company) -> None:
    logo = company.ws.metrics("advocacy_rate", start=START, end=END, as_of=company.as_of)
    arr = company.ws.metrics(
        "advocacy_rate", start=START, end=END, as_of=company.as_of, basis="arr"
    )
    check_same_definition(logo, logo)
    with pytest.raises(UserError, match="basis"):
        check_same_definition(logo, arr)


def test_compare_rest_needs_a_dimension(company: Company) -> None:
    with pytest.raises(UserError, match="needs --by"):
        company.ws.metrics("advocacy_rate", compare="rest")


def test_previous_is_the_period_just_before_not_the_last_row(tmp_path: Path) -> None:
    """A month without responses has no NPS row: the month after it has nothing to compare."""
    files = {
        "accounts": "account_id,created_at\nA1,2024-01-01\nA2,2024-01-01\n",
        "survey_responses": (
            "response_id,account_id,survey,score,responded_at\n"
            "r1,A1,nps,10,2026-01-10\nr2,A2,nps,3,2026-01-11\n"
            "r3,A1,nps,9,2026-03-10\nr4,A2,nps,9,2026-03-11\n"
            "r5,A1,nps,0,2026-04-10\nr6,A2,nps,10,2026-04-11\n"
        ),
    }
    ws = small_workspace(tmp_path, files)
    rows = ws.metrics("nps", period="month", start=date(2026, 1, 1), end=date(2026, 5, 1),
                      as_of=date(2026, 6, 30), compare="previous")  # fmt: skip
    ws.close()
    by_month = rows.set_index("period_label")
    assert list(by_month.index) == ["2026-01", "2026-03", "2026-04"]
    assert np.isnan(by_month.loc["2026-01", "delta"])  # no responses in December either
    assert np.isnan(by_month.loc["2026-03", "delta"])  # February has no row
    assert by_month.loc["2026-04", "delta"] == pytest.approx(0.0 - 100.0)


def test_rest_compares_counts_per_active_account(company: Company) -> None:
    """A group's count against its count at the other groups' rate per active account, with
    the exact conditional test (scipy's binomial test given the two counts' sum)."""
    rows = company.ws.metrics(["referrals", "advocacy_rate", "nps"], by="segment", start=START,
                              end=END, as_of=company.as_of, compare="rest")  # fmt: skip
    period = rows[rows.period_start == rows.period_start.max()]
    rate = period[period.metric == "advocacy_rate"]
    active = rate.set_index(rate.segment.fillna("(all)"))
    counts = period[period.metric == "referrals"]
    total = counts[counts.segment.isna()].iloc[0]
    checked = 0
    for _, g in counts[counts.segment.notna()].iterrows():
        e1 = active.loc[g.segment, "denominator"]
        e2 = active.loc["(all)", "denominator"] - e1
        x1, x2 = g.numerator, total.numerator - g.numerator
        assert g["delta"] == pytest.approx(x1 - e1 * x2 / e2, rel=1e-9)
        expected = binomtest(int(x1), int(x1 + x2), e1 / (e1 + e2)).pvalue
        assert g["p_value"] == pytest.approx(expected, rel=1e-6)
        checked += 1
    assert checked >= 2
    assert period[period.metric == "nps"]["delta"].isna().all()
    assert any("nps have no comparison" in note for note in rows.attrs["notes"])
