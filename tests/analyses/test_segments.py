"""Segments on the scale-1 demo company: the planted segment ranking and rates are recovered."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from advocacy.analyses import AnalysisResult
from advocacy.metrics.stats import benjamini_hochberg
from advocacy.workspace import init_workspace
from tests.analyses.advocacy_oracle import Tables, add_months
from tests.metrics.helpers import Company

CONTRACT = [
    "dimension",
    "value",
    "accounts",
    "advocacy_rate",
    "ci_low",
    "ci_high",
    "differs_from_rest",
]


@pytest.fixture(scope="module")
def result(demo_company: Company) -> AnalysisResult:
    return demo_company.ws.analyze("segments")


def _dim(result: AnalysisResult, name: str) -> pd.DataFrame:
    main = result.main
    return main[main.dimension == name].set_index("value")


def test_rows_have_the_contract_columns(result: AnalysisResult) -> None:
    assert set(CONTRACT) <= set(result.main.columns)
    dims = list(dict.fromkeys(result.main.dimension))
    assert dims[:4] == ["segment", "plan", "region", "industry"]
    assert "csm_tier" in dims  # an extra account column with few values
    assert "employees" not in dims
    assert "owner" not in dims
    assert result.main.differs_from_rest.map(type).eq(bool).all()


def test_segment_ranking_and_rates_match_the_planted_truth(
    result: AnalysisResult, demo_truth: dict[str, Any]
) -> None:
    truth = demo_truth["effects"]["segment_advocacy_rate"]
    seg = _dim(result, "segment")
    expected = truth["expected"]
    assert list(seg.index) == sorted(
        ["smb", "mid_market", "enterprise"], key=lambda s: -expected[s]
    )
    assert list(seg["rank"]) == [1, 2, 3]
    for value, row in seg.iterrows():
        assert row.ci_low <= expected[value] <= row.ci_high, value
        assert row.accounts == truth["account_quarters"][value]
    assert seg.differs_from_rest.all()


def test_segment_advocacy_ranking_agrees_with_nps_by_segment(
    result: AnalysisResult, demo_truth: dict[str, Any]
) -> None:
    nps = demo_truth["effects"]["nps_by_segment"]["expected"]
    seg = _dim(result, "segment")
    # The planted NPS is lowest in smb, as its advocacy rate is.
    assert seg.index[-1] == min(("smb", "mid_market", "enterprise"), key=lambda s: nps[s])


def test_region_has_no_planted_difference(result: AnalysisResult) -> None:
    assert not _dim(result, "region").differs_from_rest.any()


def test_counts_match_an_independent_pandas_computation(
    result: AnalysisResult, demo_company: Company, demo_truth: dict[str, Any]
) -> None:
    tables = Tables.load(demo_company.ws, demo_company.as_of)
    first = pd.Timestamp(demo_truth["default_range"]["from"]).date()
    rows = []
    for i in range(8):
        start, end = add_months(first, 3 * i), add_months(first, 3 * i + 3)
        active = sorted(tables.active(start, end))
        adv = tables.advocates(
            datetime.combine(start, datetime.min.time()),
            min(datetime.combine(end, datetime.min.time()), tables.cutoff),
        )
        rows.append(pd.DataFrame({"account_id": active, "adv": [a in adv for a in active]}))
    units = pd.concat(rows).merge(tables.accounts, on="account_id")
    for dim in ("segment", "plan", "region", "industry", "csm_tier"):
        expected = units.groupby(units[dim].fillna("(none)")).adv.agg(["count", "sum"])
        got = _dim(result, dim)
        assert set(got.index) == set(expected.index), dim
        for value, row in got.iterrows():
            assert (row.accounts, row.advocates) == tuple(expected.loc[value]), (dim, value)
            assert row.advocacy_rate == pytest.approx(row.advocates / row.accounts, rel=1e-12)


def test_pooled_counts_equal_the_metric_engine_per_period(
    result: AnalysisResult, demo_company: Company, demo_truth: dict[str, Any]
) -> None:
    span = demo_truth["default_range"]
    rows = demo_company.ws.metrics(
        "advocacy_rate", by="plan", start=span["from"], end=span["to"], as_of=demo_company.as_of
    )
    sums = rows.dropna(subset=["plan"]).groupby("plan")[["numerator", "denominator"]].sum()
    plan = _dim(result, "plan")
    assert plan.advocates.to_dict() == sums.numerator.astype(int).to_dict()
    assert plan.accounts.to_dict() == sums.denominator.astype(int).to_dict()


def test_q_values_are_benjamini_hochberg_over_every_test(result: AnalysisResult) -> None:
    main = result.main
    assert np.allclose(main.q_value, benjamini_hochberg(main.p_value.to_numpy(float)))
    assert (main.differs_from_rest == (main.q_value < 0.05)).all()


def test_intervals_are_wider_than_if_account_quarters_were_independent(
    result: AnalysisResult,
) -> None:
    from advocacy.metrics.stats import wilson

    seg = _dim(result, "segment")
    lo, hi = wilson(seg.advocates, seg.accounts)
    assert ((seg.ci_high - seg.ci_low) >= (hi - lo) - 1e-12).all()


def test_sentence_names_the_top_and_bottom_segment(result: AnalysisResult) -> None:
    assert result.sentence.startswith("By segment, advocacy is highest in enterprise")
    assert "lowest in smb" in result.sentence


def test_nps_by_segment_covers_the_planted_nps_and_pools_the_engine(
    result: AnalysisResult, demo_company: Company, demo_truth: dict[str, Any]
) -> None:
    truth = demo_truth["effects"]["nps_by_segment"]["expected"]
    nps = result.part("nps")
    seg = nps[nps.dimension == "segment"].set_index("value")
    for value, row in seg.iterrows():
        assert row.ci_low <= truth[value] <= row.ci_high, value
    assert seg.index[-1] == "smb"  # lowest planted NPS, as its advocacy rate
    span = demo_truth["default_range"]
    rows = demo_company.ws.metrics(
        "nps", by="segment", start=span["from"], end=span["to"], as_of=demo_company.as_of
    )
    sums = rows.dropna(subset=["segment"]).groupby("segment")[["numerator", "denominator"]].sum()
    assert seg.responses.to_dict() == sums.denominator.astype(int).to_dict()
    for value, row in seg.iterrows():
        expected = 100 * sums.at[value, "numerator"] / sums.at[value, "denominator"]
        assert row.nps == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("acted", [set(), {"A1", "A2"}])
def test_sentence_says_equal_rates_are_equal(tmp_path: Path, acted: set[str]) -> None:
    """Two segments with the same rate (none acted, or all did): no highest or lowest."""
    files = {
        "accounts": "account_id,segment,created_at\nA1,smb,2025-01-01\nA2,ent,2025-01-01\n",
        "advocacy_actions": "action_id,account_id,action_type,occurred_at\n"
        + "".join(f"x{a},{a},case_study,2026-02-01\n" for a in sorted(acted))
        + "y1,A1,other,2026-03-31\n",
    }
    with init_workspace(tmp_path / "ws") as ws:
        for table, text in files.items():
            (tmp_path / f"{table}.csv").write_text(text, encoding="utf-8")
            ws.import_files([tmp_path / f"{table}.csv"], table=table)
        res = ws.analyze("segments", start="2026-01-01", end="2026-04-01", as_of="2026-03-31")
    rate = "100.0%" if acted else "0.0%"
    assert res.sentence.startswith(f"By segment, advocacy is the same in every value ({rate})")
    assert "highest" not in res.sentence
