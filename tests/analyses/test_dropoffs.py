"""`analyze dropoffs` on the demo company (scale 1, seed 7): planted truth, parts, CLI."""

from __future__ import annotations

import json
import math
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from advocacy.analyses import AnalysisResult
from advocacy.analyses.changepoints import COLUMNS as CHANGEPOINT_COLUMNS
from advocacy.analyses.dropoff_quiet import COLUMNS as QUIET_COLUMNS
from advocacy.analyses.dropoffs import COLUMNS
from advocacy.demo import generate
from advocacy.errors import UserError
from tests.cli import ADVOCACY as CLI
from tests.metrics.helpers import Company

WINDOW = timedelta(weeks=8)


@pytest.fixture(scope="module")
def result(demo_company: Company) -> AnalysisResult:
    return demo_company.ws.analyze("dropoffs")


def _row(
    main: pd.DataFrame, change: str, dimension: str | None, value: str | None, signal: str
) -> Any:
    dim = main["dimension"].isna() if dimension is None else main["dimension"] == dimension
    val = main["value"].isna() if value is None else main["value"] == value
    hit = main[(main["change_id"] == change) & dim & val & (main["signal"] == signal)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_rows_have_the_contract_columns(result: AnalysisResult) -> None:
    main = result.main
    assert list(main.columns) == COLUMNS
    assert set(main["signal"]) == {"actions", "referrals", "nps", "review_rating"}
    assert set(main["method"]) == {"pre_post", "did"}
    level = main[main["signal"].isin(["nps", "review_rating"])]
    assert level["ratio"].isna().all()
    # Scoped changes compare with out-of-scope accounts, unscoped ones run per segment.
    pc07 = main[main["change_id"] == "PC07"]
    assert set(zip(pc07["dimension"].fillna("-"), pc07["value"].fillna("-"), pc07["method"], strict=True)) == {
        ("-", "-", "pre_post"), ("segment", "mid_market", "did"),
    }  # fmt: skip
    pc06 = main[main["change_id"] == "PC06"]
    assert set(pc06["value"].dropna()) == {"smb", "mid_market", "enterprise"}
    assert (pc06["method"] == "pre_post").all()


def test_planted_drop_is_flagged_in_its_change_and_segment(
    result: AnalysisResult, demo_truth: dict[str, Any]
) -> None:
    truth = demo_truth["effects"]["product_change_drop"]
    assert (truth["change_id"], truth["segment"]) == ("PC07", "mid_market")
    row = _row(result.main, "PC07", "segment", "mid_market", "actions")
    assert row["method"] == "did"
    assert bool(row["flagged"]), row
    expected = truth["expected"]["rate_ratio_did"]
    assert row["ci_low"] <= expected <= row["ci_high"]
    assert row["ratio"] < 0.8
    assert "PC07" in result.sentence
    assert "mid_market" in result.sentence


def test_in_scope_rates_match_a_pandas_count(result: AnalysisResult, demo_company: Company) -> None:
    """pre_value/post_value of PC07 mid_market: counted actions ÷ active account-weeks, by hand."""
    ws = demo_company.ws
    accounts, actions, active = _canonical(ws)
    released = datetime(2026, 2, 9)
    mid = set(accounts.loc[accounts["segment"] == "mid_market", "account_id"])
    values = []
    for start in (released - WINDOW, released):
        mondays = [start.date() + timedelta(days=7 * k) for k in range(8)]
        weeks = _active_weeks(active, mondays)
        weeks = weeks[weeks.index.isin(mid)]
        acts = actions[
            (actions["occurred_at"] >= start) & (actions["occurred_at"] < start + WINDOW)
        ]
        acts = acts[acts["account_id"].isin(weeks.index)]
        values.append(len(acts) / weeks.sum())
    row = _row(result.main, "PC07", "segment", "mid_market", "actions")
    assert row["pre_value"] == pytest.approx(values[0], rel=1e-12)
    assert row["post_value"] == pytest.approx(values[1], rel=1e-12)


def test_null_change_is_not_flagged(result: AnalysisResult, demo_truth: dict[str, Any]) -> None:
    assert demo_truth["effects"]["product_change_null"]["change_id"] == "PC06"
    pc06 = result.main[result.main["change_id"] == "PC06"]
    assert len(pc06) == 16
    assert not pc06["flagged"].any()
    overall = _row(result.main, "PC06", None, None, "actions")
    expected = demo_truth["effects"]["product_change_null"]["expected"]["rate_ratio_all_accounts"]
    assert overall["ci_low"] <= expected <= overall["ci_high"]


def test_placebo_rate_comes_from_enough_dates(result: AnalysisResult) -> None:
    main = result.main
    assert (main["placebo_dates"] >= 50).all()
    rates = main["placebo_false_alarm_rate"]
    assert rates.notna().all()
    assert ((rates >= 0) & (rates <= 1)).all()
    # One rate per signal and method: the same test at the placebo dates.
    per_test = main.groupby(["signal", "method"])["placebo_false_alarm_rate"].nunique()
    assert (per_test == 1).all()
    assert "dates without a release" in result.sentence


def test_q_values_are_benjamini_hochberg_of_the_p_values(result: AnalysisResult) -> None:
    main = result.main
    tested = main[main["p_value"].notna()].sort_values("p_value")
    m = len(tested)
    raw = tested["p_value"].to_numpy() * m / np.arange(1, m + 1)
    expected = np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)
    assert tested["q_value"].to_numpy() == pytest.approx(expected)
    assert main.loc[main["p_value"].isna(), "q_value"].isna().all()


def test_changepoints_part_has_its_columns(result: AnalysisResult) -> None:
    cps = result.part("changepoints")
    assert list(cps.columns) == CHANGEPOINT_COLUMNS
    for row in cps.itertuples():
        assert row.explained == (
            row.weeks_from_change is not None and abs(row.weeks_from_change) <= 3
        )


def test_quiet_accounts_match_an_independent_pandas_computation(
    result: AnalysisResult, demo_company: Company
) -> None:
    quiet = result.part("quiet")
    assert list(quiet.columns) == QUIET_COLUMNS
    accounts, actions, active = _canonical(demo_company.ws)
    released = datetime(2026, 2, 9)
    pre = actions[
        (actions["occurred_at"] >= released - WINDOW) & (actions["occurred_at"] < released)
    ]
    post = actions[
        (actions["occurred_at"] >= released) & (actions["occurred_at"] < released + WINDOW)
    ]
    weeks = _active_weeks(active, [released.date() + timedelta(days=7 * k) for k in range(8)])
    mid = accounts.loc[accounts["segment"] == "mid_market", "account_id"]
    expected = set(pre["account_id"]) - set(post["account_id"])
    expected &= set(weeks[weeks > 0].index) & set(mid)
    got = quiet[quiet["change_id"] == "PC07"]
    assert len(expected) > 20
    assert set(got["account_id"]) == expected
    assert (got["dimension"] == "segment").all()
    assert (got["value"] == "mid_market").all()
    by_account = got.set_index("account_id")
    assert (by_account["post_active_weeks"] == weeks.reindex(by_account.index)).all()
    pre_counts = pre.groupby("account_id").size()
    assert (by_account["pre_actions"] == pre_counts.reindex(by_account.index)).all()


def test_unknown_option_is_a_user_error(demo_company: Company) -> None:
    with pytest.raises(UserError, match="unknown option"):
        demo_company.ws.analyze("dropoffs", min_efect=0.3)


def _canonical(ws: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(known accounts, counted actions of known accounts, (account, month) active rows)."""
    accounts = ws.query("SELECT * FROM accounts WHERE NOT is_test")
    acts = ws.query("SELECT * FROM advocacy_actions")
    acts = acts[acts["account_id"].isin(accounts["account_id"])]
    counted = acts["action_type"] != "other"
    counted &= (acts["action_type"] != "review") | acts["rating"].isna() | (acts["rating"] >= 4)
    counted &= (
        (acts["action_type"] != "social_mention")
        | acts["sentiment"].isna()
        | (acts["sentiment"] >= 0)
    )
    acts = acts[counted].assign(occurred_at=lambda f: pd.to_datetime(f["occurred_at"]))
    revenue = ws.query("SELECT account_id, month, mrr FROM revenue")
    paying = revenue[revenue["mrr"] > 0].assign(month=lambda f: pd.to_datetime(f["month"]).dt.date)
    billed = set(revenue["account_id"])
    dated = accounts[~accounts["account_id"].isin(billed)]
    months = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, m, 1) for m in range(1, 10)]
    rows = [
        (a.account_id, m) for a in dated.itertuples() for m in months
        if pd.Timestamp(a.created_at).date() < _next_month(m)
        and (pd.isna(a.churned_at) or pd.Timestamp(a.churned_at).date() >= m)
    ]  # fmt: skip
    active = pd.concat(
        [paying[["account_id", "month"]], pd.DataFrame(rows, columns=["account_id", "month"])]
    )
    return accounts, acts, active[active["account_id"].isin(accounts["account_id"])]


def _next_month(m: date) -> date:
    return date(m.year + m.month // 12, m.month % 12 + 1, 1)


def _active_weeks(active: pd.DataFrame, mondays: list[date]) -> pd.Series:
    """Active weeks per account: Mondays whose month the account is active in."""
    months = pd.Series([date(d.year, d.month, 1) for d in mondays]).value_counts()
    hit = active[active["month"].isin(months.index)]
    return hit["month"].map(months).groupby(hit["account_id"]).sum()


# -- the CLI, on its own small workspace (the session workspace holds the DuckDB lock) ---------


@pytest.fixture(scope="module")
def small_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from advocacy.workspace import init_workspace

    company = generate(tmp_path_factory.mktemp("dropoff-data"), scale=0.2, seed=5)
    folder = tmp_path_factory.mktemp("dropoff-ws")
    with init_workspace(folder) as ws:
        for table in (
            "accounts",
            "product_changes",
            "revenue",
            "advocacy_actions",
            "survey_responses",
        ):
            ws.import_files([company.files[table][0].parent], table=table)
    return folder


def test_cli_prints_json_rows(small_workspace: Path) -> None:
    out = subprocess.run(
        [str(CLI), "--workspace", str(small_workspace), "analyze", "dropoffs", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) >= 8 * 4
    required = {
        "change_id", "dimension", "value", "signal", "method", "pre_value", "post_value", "ratio",
        "diff", "ci_low", "ci_high", "p_value", "q_value", "flagged", "placebo_false_alarm_rate",
    }  # fmt: skip
    assert required <= set(rows[0])
    assert {r["change_id"] for r in rows} == {f"PC0{i}" for i in range(1, 9)}
    assert all(isinstance(r["flagged"], bool) for r in rows)
    assert any(r["dimension"] is None for r in rows)
    for r in rows:
        if r["signal"] in ("nps", "review_rating"):
            assert r["ratio"] is None
        rate = r["placebo_false_alarm_rate"]
        assert rate is None or 0 <= rate <= 1 or math.isnan(rate)


def test_cli_quiet_part(small_workspace: Path) -> None:
    out = subprocess.run(
        [str(CLI), "--workspace", str(small_workspace), "analyze", "dropoffs", "--part", "quiet",
         "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows
    assert set(QUIET_COLUMNS) == set(rows[0])


def test_overlapping_windows_are_noted(demo_company: Company) -> None:
    """PC07 and PC08 are 18 weeks apart: with 10-week windows their windows overlap."""
    main = demo_company.ws.analyze("dropoffs", window_weeks=10, placebo_dates=0).main
    notes = main.groupby("change_id")["notes"].first()
    assert "PC08" in notes["PC07"]
    assert "PC07" in notes["PC08"]
    assert notes[["PC01", "PC02", "PC03", "PC04", "PC05"]].isna().all()
    assert (main["placebo_dates"] == 0).all()


def test_an_as_of_after_the_data_is_refused(demo_company: Company) -> None:
    latest = demo_company.as_of
    with pytest.raises(UserError, match="after the latest data"):
        demo_company.ws.analyze("dropoffs", as_of=latest + timedelta(days=30))
