"""Program health on the scale-1 demo company, each measure against an independent computation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from advocacy.analyses import AnalysisResult
from advocacy.program.incentives import incentivized_reviews
from advocacy.workspace import init_workspace
from tests.analyses.advocacy_oracle import Tables
from tests.metrics.helpers import Company, small_workspace

CONTRACT = ["measure", "segment", "value", "n", "detail"]
MEASURES = {
    "say_do_gap", "advocate_pool", "new_advocates", "repeat_advocates", "advocate_concentration",
    "asks_per_month", "months_without_asks", "ask_acceptance_rate", "acceptance_trend",
    "burned_advocates", "incentive_bias", "incentive_bias_combined",
    "detractors_awaiting_follow_up",
}  # fmt: skip


@pytest.fixture(scope="module")
def result(demo_company: Company) -> AnalysisResult:
    return demo_company.ws.analyze("program")


@pytest.fixture(scope="module")
def tables(demo_company: Company) -> Tables:
    return Tables.load(demo_company.ws, demo_company.as_of)


@pytest.fixture(scope="module")
def span(demo_truth: dict[str, Any]) -> tuple[datetime, datetime]:
    r = demo_truth["default_range"]
    return pd.Timestamp(r["from"]).to_pydatetime(), pd.Timestamp(r["to"]).to_pydatetime()


def _rows(result: AnalysisResult, measure: str) -> pd.DataFrame:
    return result.main[result.main.measure == measure]


def _total(result: AnalysisResult, measure: str) -> Any:
    rows = _rows(result, measure)
    return rows[rows.segment.isna()].iloc[0]


def test_rows_have_the_contract_columns_and_every_measure(result: AnalysisResult) -> None:
    assert list(result.main.columns[:5]) == CONTRACT
    assert set(result.main.measure) == MEASURES
    assert result.main.detail.map(lambda d: isinstance(d, str) and len(d) > 0).all()


def test_asks_per_month_match_a_pandas_count(
    result: AnalysisResult, demo_company: Company, tables: Tables, span: tuple[datetime, datetime]
) -> None:
    asks = demo_company.ws.query("SELECT account_id, ask_type, asked_at FROM asks")
    asks = asks[asks.account_id.isin(tables.accounts.account_id) & (asks.ask_type != "survey")]
    asks = asks[(asks.asked_at >= span[0]) & (asks.asked_at < span[1])]
    expected = asks.asked_at.dt.strftime("%Y-%m").value_counts().sort_index()
    rows = _rows(result, "asks_per_month")
    got = pd.Series(rows.value.to_numpy(int), index=rows.detail.str[:7].to_numpy())
    assert got.to_dict() == expected.to_dict()
    assert _total(result, "months_without_asks").value == 0


def test_burned_advocates_match_a_pandas_reading_of_the_ledger(
    result: AnalysisResult, demo_company: Company, tables: Tables
) -> None:
    ws, cutoff = demo_company.ws, tables.cutoff
    asks = ws.query("SELECT * FROM asks WHERE contact_id IS NOT NULL AND ask_type <> 'survey'")
    asks = asks[asks.account_id.isin(tables.accounts.account_id) & (asks.asked_at < cutoff)]
    out = ws.query("SELECT * FROM ask_outcomes")
    out = out[out["at"] < cutoff].sort_values(["ask_id", "at", "seq"])
    latest = out.groupby("ask_id").status.last()
    asks = asks.assign(status=asks.ask_id.map(latest))
    last3 = asks.sort_values(["asked_at", "ask_id"], ascending=False).groupby("contact_id").head(3)
    declines = last3.groupby("contact_id").status.apply(lambda s: (s == "declined").sum())
    row = _total(result, "burned_advocates")
    assert row.n == asks.contact_id.nunique()
    assert row.value == int((declines >= 2).sum())


def _incentivized(ws: Any, tables: Tables, span: tuple[datetime, datetime]) -> pd.DataFrame:
    """Rated reviews in the range with DESIGN §7's incentivized rule, in pandas."""
    a = tables.actions
    reviews = a[(a.action_type == "review") & a.rating.notna()]
    reviews = reviews[(reviews.occurred_at >= span[0]) & (reviews.occurred_at < span[1])].copy()
    rewards = ws.query("SELECT * FROM rewards WHERE kind = 'monetary'")
    offered = set(ws.query("SELECT ask_id FROM asks WHERE incentive_offered").ask_id)
    paid = reviews[["action_id", "contact_id", "occurred_at"]].dropna(subset=["contact_id"])
    paid = paid.merge(rewards[["contact_id", "given_at"]].dropna(), on="contact_id")
    # DESIGN §7 counts calendar days: a reward on day d covers reviews until the end of day d + 29.
    until = paid.given_at.dt.floor("D") + timedelta(days=30)
    paid = paid[(paid.given_at <= paid.occurred_at) & (paid.occurred_at < until)]
    reviews["inc"] = (
        reviews.incentivized.fillna(False).astype(bool)
        | reviews.action_id.isin(set(rewards.action_id.dropna()))
        | reviews.ask_id.isin(offered)
        | reviews.action_id.isin(set(paid.action_id))
    )
    reviews["platform"] = reviews.platform.fillna("(none)")
    return reviews


def test_incentive_bias_matches_scipy_on_a_pandas_incentivized_flag(
    result: AnalysisResult, demo_company: Company, tables: Tables, span: tuple[datetime, datetime]
) -> None:
    reviews = _incentivized(demo_company.ws, tables, span)
    rows = _rows(result, "incentive_bias").reset_index(drop=True)
    platforms = sorted(reviews.platform.unique())
    assert len(rows) == len(platforms)
    for row, platform in zip(rows.itertuples(), platforms, strict=True):
        these = reviews[reviews.platform == platform]
        inc, org = these[these.inc].rating, these[~these.inc].rating
        assert row.detail.startswith(f"platform {platform}: {len(inc)} incentivized")
        assert row.n == len(these)
        assert row.value == pytest.approx(inc.mean() - org.mean(), rel=1e-9)
        ref = sps.mannwhitneyu(inc, org, method="asymptotic", use_continuity=False)
        assert row.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    combined = _total(result, "incentive_bias_combined")
    assert combined.value > 0
    assert combined.p_value < 0.001


def test_detractors_awaiting_follow_up_match_pandas(
    result: AnalysisResult, demo_company: Company, tables: Tables
) -> None:
    r = tables.responses
    since = tables.cutoff - timedelta(days=90)
    nps = r[(r.survey == "nps") & (r.responded_at >= since)]
    last = nps.sort_values(["responded_at", "response_id"]).groupby("account_id").tail(1)
    det = last[last.score <= 6]
    ws = demo_company.ws
    touches = pd.concat([
        tables.tickets[["account_id", "opened_at"]].rename(columns={"opened_at": "at"}),
        ws.query("SELECT account_id, occurred_at AS at FROM milestones"),
    ])  # fmt: skip
    touches = touches[touches["at"] < tables.cutoff].merge(det, on="account_id")
    followed = set(touches[touches["at"] >= touches.responded_at].account_id)
    row = _total(result, "detractors_awaiting_follow_up")
    assert row.n == len(det)
    assert row.value == len(set(det.account_id) - followed)


def test_say_do_gap_pools_the_metric_engine(
    result: AnalysisResult, demo_company: Company, span: tuple[datetime, datetime]
) -> None:
    rows = demo_company.ws.metrics(
        "say_do_gap",
        by="segment",
        start=span[0].date(),
        end=span[1].date(),
        as_of=demo_company.as_of,
    )
    for segment, f in rows.groupby(rows.segment.fillna("all")):
        got = (
            _rows(result, "say_do_gap").fillna({"segment": "all"}).set_index("segment").loc[segment]
        )
        assert got.n == f.denominator.sum()
        assert got.value == pytest.approx(f.numerator.sum() / f.denominator.sum(), rel=1e-12)


def test_advocate_pool_splits_into_new_and_repeat(result: AnalysisResult, tables: Tables) -> None:
    pool, new, repeat = (
        _total(result, m) for m in ("advocate_pool", "new_advocates", "repeat_advocates")
    )
    assert new.value + repeat.value == pool.value
    assert new.n == pool.value
    start = datetime(2026, 7, 1)
    acts = tables.counted_actions()
    now = set(acts[(acts.occurred_at >= start) & (acts.occurred_at < tables.cutoff)].account_id)
    now &= tables.active(date(2026, 7, 1), date(2026, 10, 1))
    before = set(acts[acts.occurred_at < start].account_id)
    assert pool.value == len(now)
    assert repeat.value == len(now & before)


def test_acceptance_trend_uses_every_period(result: AnalysisResult) -> None:
    rates = _rows(result, "ask_acceptance_rate")
    trend = _total(result, "acceptance_trend")
    assert len(rates) == 8
    assert trend.n == rates.n.sum()
    assert np.isfinite(trend.p_value)
    slope = np.polyfit(np.arange(8.0), rates.value.to_numpy(float), 1, w=np.sqrt(rates.n))[0]
    assert trend.value == pytest.approx(slope, rel=1e-9)
    assert f"{100 * slope:+.1f} percentage points per period" in trend.detail
    assert "% points" not in trend.detail


def test_a_month_without_asks_is_flagged(tmp_path: Path) -> None:
    """A tiny workspace through the real import path: asks in January and March, none in February."""
    (tmp_path / "accounts.csv").write_text(
        "account_id,segment,created_at\nA1,smb,2025-01-01\nA2,enterprise,2025-01-01\n",
        encoding="utf-8",
    )
    (tmp_path / "asks.csv").write_text(
        "ask_id,account_id,ask_type,asked_at\nK1,A1,review,2026-01-10\nK2,A2,referral,2026-03-05\n"
        "K3,A1,survey,2026-02-10\nK4,A1,survey,2026-03-31\n",
        encoding="utf-8",
    )
    with init_workspace(tmp_path / "ws") as ws:
        ws.import_files([tmp_path / "accounts.csv"], table="accounts")
        ws.import_files([tmp_path / "asks.csv"], table="asks")
        res = ws.analyze("program", start="2026-01-01", end="2026-04-01", as_of="2026-03-31")
    months = _rows(res, "asks_per_month")
    assert months.value.tolist() == [1, 0, 1]
    assert "no asks" in months.detail.iloc[1]
    empty = _total(res, "months_without_asks")
    assert empty.value == 1
    assert empty.detail == "2026-02"
    assert "1 month(s) had no asks" in res.sentence


def test_the_month_in_progress_is_not_flagged_as_without_asks(tmp_path: Path) -> None:
    """as_of 2026-03-15: March has no advocacy ask yet, but it has not ended."""
    with small_workspace(tmp_path, {
        "accounts": "account_id,segment,created_at\nA1,smb,2025-01-01\n",
        "asks": "ask_id,account_id,ask_type,asked_at\nK1,A1,review,2026-01-10\n"
        "K2,A1,referral,2026-02-05\nK3,A1,survey,2026-03-15\n",
    }) as ws:  # fmt: skip
        res = ws.analyze("program", start="2026-01-01", end="2026-04-01", as_of="2026-03-15")
    months = _rows(res, "asks_per_month")
    assert months.value.tolist() == [1, 1, 0]
    assert "not a campaign" not in months.detail.iloc[2]
    assert "in progress" in months.detail.iloc[2]
    empty = _total(res, "months_without_asks")
    assert (empty.value, empty.n) == (0, 2)
    assert "asks went out every month" in res.sentence


REVIEWS = {
    "accounts": "account_id,segment,created_at\nA1,smb,2025-01-01\nA2,smb,2025-01-01\n",
    "advocacy_actions": "action_id,account_id,contact_id,action_type,occurred_at,platform,rating\n"
    "R1,A1,C1,review,2026-02-01,g2,5\nR2,A2,C2,review,2026-02-03,g2,3\n"
    "R3,A2,C2,review,2026-02-10,g2,4\nz1,A1,,other,2026-05-02,,\n",
    "rewards": "reward_id,account_id,contact_id,reward_type,kind,value,given_at,action_id\n"
    "W1,A1,C1,gift_card,monetary,50,2026-05-01,R1\n",
}


@pytest.mark.parametrize(("as_of", "flagged"), [("2026-03-31", 0), ("2026-05-02", 1)])
def test_a_reward_after_as_of_does_not_make_an_earlier_review_incentivized(
    tmp_path: Path, as_of: str, flagged: int
) -> None:
    """R1 (Feb) is linked to a monetary reward given on 05-01: incentivized only from then on."""
    with small_workspace(tmp_path, REVIEWS) as ws:
        res = ws.analyze("program", start="2026-01-01", end="2026-04-01", as_of=as_of)
        found = incentivized_reviews(ws.source(), cutoff=datetime(2026, 4, 1)).execute()
    assert (
        _rows(res, "incentive_bias")
        .detail.iloc[0]
        .startswith(f"platform g2: {flagged} incentivized")
    )
    assert found.empty


def test_incentivized_reviews_cutoff_hides_later_asks_rewards_and_reviews(tmp_path: Path) -> None:
    """R2 (02-03) came from ask K1 logged on 03-01 with an incentive; R5 (04-10) is declared."""
    files = dict(REVIEWS)
    files["advocacy_actions"] = (
        "action_id,account_id,contact_id,action_type,occurred_at,platform,rating,ask_id,"
        "incentivized\nR1,A1,C1,review,2026-02-01,g2,5,,\nR2,A2,C2,review,2026-02-03,g2,3,K1,\n"
        "R5,A2,C2,review,2026-04-10,g2,4,,true\n"
    )
    files["asks"] = (
        "ask_id,account_id,contact_id,ask_type,asked_at,incentive_offered\n"
        "K1,A2,C2,review,2026-03-01,true\n"
    )
    with small_workspace(tmp_path, files) as ws:
        found = {
            cut: sorted(incentivized_reviews(ws.source(), cutoff=cut).execute().action_id)
            for cut in (None, datetime(2026, 2, 15), datetime(2026, 3, 2), datetime(2026, 5, 2))
        }
    assert list(found.values()) == [["R1", "R2", "R5"], [], ["R2"], ["R1", "R2", "R5"]]
