"""--compare previous|rest, checked against statsmodels; comparing different definitions is refused."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from advocacy.errors import UserError
from advocacy.metrics.compare import check_same_definition
from tests.metrics.helpers import Company

START, END = date(2025, 1, 1), date(2026, 10, 1)


def test_previous_compares_each_group_with_its_last_period(company: Company) -> None:
    rows = company.ws.metrics(
        "advocacy_rate", by="segment", start=START, end=END, as_of=company.as_of, compare="previous"
    )
    smb = rows[rows.segment == "smb"].reset_index(drop=True)
    assert np.isnan(smb.loc[0, "delta"])  # nothing before the first period
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
