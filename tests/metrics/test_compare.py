"""--compare previous|rest, checked against statsmodels; comparing different definitions is refused."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import binomtest, norm
from scipy.stats import t as t_dist
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from advocacy.errors import UserError
from advocacy.metrics.compare import check_same_definition
from advocacy.workspace import Workspace, init_workspace
from tests.cli import ADVOCACY
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
    table = subprocess.run(
        [ADVOCACY, "-w", str(tmp_path / "ws"), "metrics", "nps", "--period", "month", "--from",
         "2026-01-01", "--to", "2026-05-01", "--as-of", "2026-06-30", "--compare", "previous"],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "200"},
    ).stdout  # fmt: skip
    april = next(line for line in table.splitlines() if "2026-04" in line)
    assert [cell.strip() for cell in april.split("│")][6] == "-100.0"  # points, signed once


def test_previous_on_the_arr_basis_compares_dollar_weighted_shares_by_their_se(
    company: Company,
) -> None:
    """An ARR-weighted share is a ratio of dollars: z on the difference of the two estimates
    with their delta-method SEs, not a two-proportion test on dollars as if they were counts."""
    rows = company.ws.metrics("advocacy_rate", basis="arr", start=START, end=END,
                              as_of=company.as_of, compare="previous")  # fmt: skip
    cur, prev = rows.iloc[-1], rows.iloc[-2]
    z = (cur.value - prev.value) / np.hypot(_se(cur), _se(prev))
    assert cur.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    assert cur.p_value > 1e-6  # dollars as counts gave p ≈ 0 for a shift of a few points


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
    nps = period[(period.metric == "nps") & period.segment.notna()]
    assert len(nps) >= 2
    assert nps["delta"].notna().all()


# --compare rest against the rest computed as a group of its own: the same company with an
# account column `side` = "in" for the segment's accounts, "out" for everyone else. The rest row
# is derived from total − group sums; the "out" group is computed directly. They must agree.
REST_METRICS = {
    "response": ["nps", "promoter_share", "csat", "csat_mean", "review_rating", "say_do_gap",
                 "referral_conversion_rate", "ask_acceptance_rate", "referrals"],
    "logo": ["nps", "detractor_share", "advocacy_rate", "logo_retention", "nps_coverage"],
    "arr": ["nps", "csat", "advocacy_rate", "grr", "nrr"],
}  # fmt: skip
SEGMENT = "mid_market"


@pytest.fixture(scope="module")
def sided(company: Company, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("sided")
    accounts = pd.concat(pd.read_parquet(p) for p in company.generated.files["accounts"])
    accounts["side"] = np.where(accounts["segment"] == SEGMENT, "in", "out")
    (folder / "accounts").mkdir()
    accounts.to_parquet(folder / "accounts" / "part-00000.parquet")
    ws = init_workspace(folder / "ws")
    for table, parts in company.generated.files.items():
        ws.import_files([folder / "accounts" if table == "accounts" else parts[0].parent],
                        table=table)  # fmt: skip
    yield ws
    ws.close()


Z = float(norm.ppf(0.975))
PROPORTIONS = ("referral_conversion_rate", "ask_acceptance_rate", "advocacy_rate",
               "logo_retention", "nps_coverage", "detractor_share")  # fmt: skip
CLUSTERED_SHARES = ("promoter_share", "csat", "say_do_gap")


def _se(row: pd.Series) -> float:
    """The SE of a normal interval (NPS, delta method) not clipped at the scale's ends."""
    assert row.ci_low > -100  # clipped, the width would not give it
    assert row.ci_high < 100
    return float(row.ci_high - row.ci_low) / (2 * Z)


def _se_t(row: pd.Series) -> float:
    """The SE of a t interval on n − 1 degrees of freedom (review_rating)."""
    return float(row.ci_high - row.ci_low) / (2 * t_dist.ppf(0.975, row.n - 1))


def _se_share(row: pd.Series) -> float:
    """A cluster-adjusted share: Wilson on n_eff responses; SE² = p(1 − p)/n_eff, n_eff found
    from the interval with statsmodels' Wilson."""
    p = row.numerator / row.denominator

    def gap(m: float) -> float:
        return float(proportion_confint(p * m, m, alpha=0.05, method="wilson")[1] - row.ci_high)

    m = brentq(gap, 1.0, row.denominator * (1 + 1e-9), xtol=1e-12)
    return float(np.sqrt(p * (1 - p) / m))


def _expected_p(metric: str, basis: str, row: pd.Series, other: pd.Series) -> float:
    if metric in PROPORTIONS and basis != "arr":
        _, p = proportions_ztest([row.numerator, other.numerator],
                                 [row.denominator, other.denominator])  # fmt: skip
        return float(p)
    se = {"review_rating": _se_t}.get(metric, _se_share if metric in CLUSTERED_SHARES else _se)
    if basis == "arr":
        se = _se
    z = (row.value - other.value) / np.hypot(se(row), se(other))
    return float(2 * norm.sf(abs(z)))


@pytest.mark.parametrize("ci", ["analytic", "bootstrap"])
@pytest.mark.parametrize("basis", ["response", "logo", "arr"])
def test_rest_equals_the_rest_computed_as_a_group(
    company: Company, sided: Workspace, basis: str, ci: str
) -> None:
    """Values and changes against the rest computed directly; p-values from SEs recovered
    independently from each interval (analytic), or within (0, 1] (bootstrap: the replicates'
    spread is not in the rows)."""
    names = REST_METRICS[basis]
    if ci == "bootstrap":
        names = names[:3]
    options: dict[str, Any] = {
        "start": START, "end": END, "as_of": company.as_of, "ci": ci, "segment_as_of": "current",
        "basis": None if basis == "response" else basis,
    }  # fmt: skip
    rows = company.ws.metrics(names, by="segment", compare="rest", **options)
    direct = sided.metrics(names, by="side", **options)
    mine = rows[rows.segment == SEGMENT].set_index(["metric", "period_label"])
    out = direct[direct.side == "out"].set_index(["metric", "period_label"])
    inside = direct[direct.side == "in"].set_index(["metric", "period_label"])
    checked = 0
    for key, row in mine.iterrows():
        assert row.value == pytest.approx(inside.loc[key, "value"], rel=1e-9, nan_ok=True)
        if key not in out.index or np.isnan(row.value):
            assert np.isnan(row.delta)
            continue
        other = out.loc[key]
        if key[0] == "referrals":  # counts: per active account, tested above
            continue
        assert row.delta == pytest.approx(row.value - other.value, rel=1e-9, abs=1e-12)
        if ci == "bootstrap":
            assert 0 < row.p_value <= 1
        elif key[0] != "csat_mean":  # its t has the responding accounts − 1 df, not in the rows
            expected = _expected_p(str(key[0]), basis, row, other)
            assert row.p_value == pytest.approx(expected, rel=1e-6, abs=1e-12), key
        checked += 1
    assert checked >= 4 * len(names) // 2
    assert not any("have no comparison" in note for note in rows.attrs["notes"])


def test_a_clipped_nps_interval_does_not_shrink_the_test(tmp_path: Path) -> None:
    """Ten promoters in a group: NPS 100 with its interval clipped at 100. The test uses the
    estimate's SE (adjusted-Wald below n = 30), not half the clipped width."""
    responses = "".join(f"r{i},A{i},nps,10,2026-02-0{1 + i % 9}\n" for i in range(10))
    responses += "".join(f"s{i},B{i},nps,{i % 11},2026-02-0{1 + i % 9}\n" for i in range(40))
    accounts = "".join(f"A{i},smb,2024-01-01\n" for i in range(10))
    accounts += "".join(f"B{i},enterprise,2024-01-01\n" for i in range(40))
    ws = small_workspace(tmp_path, {
        "accounts": "account_id,segment,created_at\n" + accounts,
        "survey_responses": "response_id,account_id,survey,score,responded_at\n" + responses,
    })  # fmt: skip
    rows = ws.metrics("nps", by="segment", start=date(2026, 1, 1), end=date(2026, 4, 1),
                      as_of=date(2026, 6, 30), compare="rest").set_index("segment")  # fmt: skip
    ws.close()
    smb, ent = rows.loc["smb"], rows.loc["enterprise"]
    assert smb.value == 100
    assert smb.ci_high == 100
    # Adjusted-Wald: 10 responses plus 3 (¾ promoter, ¾ detractor, 1½ passive).
    n, p, d = 13.0, 10.75 / 13, 0.75 / 13
    se_smb = 100 * np.sqrt((p + d - (p - d) ** 2) / n)
    scores = np.array([i % 11 for i in range(40)])
    s = np.where(scores >= 9, 1.0, np.where(scores <= 6, -1.0, 0.0))
    se_ent = 100 * s.std(ddof=1) / np.sqrt(40)  # one response per account: iid × √(n/(n−1))
    z = (smb.value - ent.value) / np.hypot(se_smb, se_ent)
    assert smb.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)


def test_rest_by_a_column_of_asks(company: Company) -> None:
    """Ask metrics grouped by an ask column compare with the other asks (no account groups)."""
    rows = company.ws.metrics(["ask_acceptance_rate", "ask_completion_rate"], by="ask_type",
                              start=START, end=END, as_of=company.as_of, compare="rest")  # fmt: skip
    period = rows[rows.period_start == rows.period_start.max()]
    total = period[period.ask_type.isna()].set_index("metric")
    groups = period[period.ask_type.notna()]
    assert len(groups) >= 4
    for _, g in groups.iterrows():
        t = total.loc[g.metric]
        _, p = proportions_ztest([g.numerator, t.numerator - g.numerator],
                                 [g.denominator, t.denominator - g.denominator])  # fmt: skip
        assert g.p_value == pytest.approx(p, rel=1e-9)
