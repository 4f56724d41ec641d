"""`--ci bootstrap`: replicate intervals recomputed independently from per-account values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from advocacy.config import StatsSettings
from advocacy.workspace import Workspace
from tests.metrics.helpers import Company, small_workspace

START, END, AS_OF = date(2026, 1, 1), date(2026, 4, 1), date(2026, 6, 30)
STATS = StatsSettings()


@pytest.fixture
def twelve_accounts(tmp_path: Path) -> Workspace:
    """A01..A12 pay all quarter; A02, A03, A05, A07, A11 refer; NPS answers from some of them."""
    ids = [f"A{i:02d}" for i in range(1, 13)]
    revenue = "".join(f"{a},2026-0{m}-01,100\n" for a in ids for m in (1, 2, 3))
    referrers = ["A02", "A03", "A05", "A07", "A11"]
    actions = "".join(f"x{i},{a},referral,2026-02-0{i + 1}\n" for i, a in enumerate(referrers))
    scores = {"A01": [10, 9], "A02": [3], "A04": [10, 6, 2], "A06": [8], "A09": [9], "A12": [0]}
    responses = "".join(
        f"r{a}{k},{a},nps,{s},2026-03-0{k + 1}\n"
        for a, values in scores.items()
        for k, s in enumerate(values)
    )
    files = {
        "accounts": "account_id,segment,created_at\n"
        + "".join(f"{a},smb,2024-01-01\n" for a in ids),
        "revenue": "account_id,month,mrr\n" + revenue,
        "advocacy_actions": "action_id,account_id,action_type,occurred_at\n" + actions,
        "survey_responses": "response_id,account_id,survey,score,responded_at\n" + responses,
    }
    return small_workspace(tmp_path, files)


def _percentiles(draws: np.ndarray) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    low, high = np.quantile(finite, [0.025, 0.975])
    return float(low), float(high)


def test_advocacy_rate_interval_is_the_account_bootstrap(twelve_accounts: Workspace) -> None:
    rows = twelve_accounts.metrics(
        "advocacy_rate", basis="logo", start=START, end=END, as_of=AS_OF, ci="bootstrap"
    )
    assert rows.loc[0, "value"] == pytest.approx(5 / 12)
    # Independently: Poisson(1) weights per account in id order, rate = Σ w·hit / Σ w.
    hits = np.array([a in ("A02", "A03", "A05", "A07", "A11") for a in
                     [f"A{i:02d}" for i in range(1, 13)]], dtype=float)  # fmt: skip
    weights = np.random.default_rng(STATS.bootstrap_seed).poisson(
        1.0, size=(STATS.bootstrap_replicates, 12)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = weights @ hits / weights.sum(axis=1)
    assert (rows.loc[0, "ci_low"], rows.loc[0, "ci_high"]) == pytest.approx(
        _percentiles(draws), rel=1e-12
    )


def test_nps_interval_resamples_accounts_not_responses(twelve_accounts: Workspace) -> None:
    rows = twelve_accounts.metrics(
        "nps", basis="response", start=START, end=END, as_of=AS_OF, ci="bootstrap"
    )
    # Respondent accounts in id order: A01 (P,P), A02 (D), A04 (P, D, D), A06 (passive), A09 (P),
    # A12 (D): per account promoters − detractors and responses.
    net = np.array([2, -1, -1, 0, 1, -1], dtype=float)
    count = np.array([2, 1, 3, 1, 1, 1], dtype=float)
    assert rows.loc[0, "value"] == pytest.approx(100 * net.sum() / count.sum())
    weights = np.random.default_rng(STATS.bootstrap_seed).poisson(
        1.0, size=(STATS.bootstrap_replicates, 6)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = 100 * (weights @ net) / (weights @ count)
    assert (rows.loc[0, "ci_low"], rows.loc[0, "ci_high"]) == pytest.approx(
        _percentiles(draws), rel=1e-12
    )


def test_bootstrap_agrees_with_analytic_where_n_is_large(company: Company) -> None:
    """On the demo company the two methods give intervals of about the same width."""
    options = {"by": "segment", "period": "quarter", "as_of": company.as_of}
    analytic = company.ws.metrics(["advocacy_rate", "grr"], **options)
    boot = company.ws.metrics(["advocacy_rate", "grr"], ci="bootstrap", **options)
    assert (analytic["value"].to_numpy() == boot["value"].to_numpy()).all()
    big = (analytic["n"] >= 200).to_numpy()
    assert big.sum() >= 4
    width_a = (analytic["ci_high"] - analytic["ci_low"]).to_numpy()[big]
    width_b = (boot["ci_high"] - boot["ci_low"]).to_numpy()[big]
    assert np.median(width_b / width_a) == pytest.approx(1.0, abs=0.25)
    inside = (boot["ci_low"] <= boot["value"]) & (boot["value"] <= boot["ci_high"])
    assert inside[big].all()


def test_medians_keep_their_exact_interval_with_a_note(company: Company) -> None:
    analytic = company.ws.metrics("first_response_hours", as_of=company.as_of)
    boot = company.ws.metrics("first_response_hours", as_of=company.as_of, ci="bootstrap")
    assert boot[["ci_low", "ci_high"]].equals(analytic[["ci_low", "ci_high"]])
    assert any("first_response_hours: analytic interval kept" in n for n in boot.attrs["notes"])


@pytest.mark.postgres
def test_bootstrap_is_the_same_on_postgres(company: Company, postgres_company: Workspace) -> None:
    options = {"by": "segment", "as_of": company.as_of, "ci": "bootstrap"}
    names = ["nps", "advocacy_rate", "nrr"]
    ours = company.ws.metrics(names, **options)
    theirs = postgres_company.metrics(names, **options)
    for col in ("ci_low", "ci_high"):
        np.testing.assert_allclose(
            ours[col].to_numpy(dtype=float), theirs[col].to_numpy(dtype=float), rtol=1e-9
        )


def test_count_interval_resamples_active_and_acting_accounts(tmp_path: Path) -> None:
    """A count's replicate is Σ weight × count over the accounts behind its rows: the active
    accounts (zeros included) and any known account with events, here one that has churned and
    is alone in its segment, so a third of its replicates count 0 (and must stay in)."""
    ids = [f"A{i:02d}" for i in range(1, 13)]
    counts = {"A02": 3, "A03": 1, "A05": 1, "A07": 1, "A11": 1, "A13": 2}
    actions = "".join(
        f"x{a}{k},{a},referral,2026-02-{k + 10}\n" for a, c in counts.items() for k in range(c)
    )
    files = {
        "accounts": "account_id,segment,created_at,churned_at\n"
        + "".join(f"{a},smb,2024-01-01,\n" for a in ids)
        + "A13,enterprise,2024-01-01,2025-06-01\n",
        "revenue": "account_id,month,mrr\n"
        + "".join(f"{a},2026-0{m}-01,100\n" for a in ids for m in (1, 2, 3)),
        "advocacy_actions": "action_id,account_id,action_type,occurred_at\n" + actions,
    }
    ws = small_workspace(tmp_path, files)
    rows = ws.metrics("referrals", by="segment", start=START, end=END, as_of=AS_OF, ci="bootstrap")
    rows = rows.set_index(rows["segment"].fillna("(total)"))
    assert rows.loc["(total)", "value"] == 9
    # Independently: accounts A01..A13 in id order, Poisson(1) weights from the fixed seed.
    per_account = np.array([counts.get(f"A{i:02d}", 0) for i in range(1, 14)], dtype=float)
    weights = np.random.default_rng(STATS.bootstrap_seed).poisson(
        1.0, size=(STATS.bootstrap_replicates, 13)
    )
    enterprise = np.arange(13) == 12
    expected = {
        "(total)": weights @ per_account,
        "smb": weights[:, ~enterprise] @ per_account[~enterprise],
        "enterprise": weights[:, enterprise] @ per_account[enterprise],
    }
    assert (expected["enterprise"] == 0).mean() > 0.25
    for group, draws in expected.items():
        assert (rows.loc[group, "ci_low"], rows.loc[group, "ci_high"]) == pytest.approx(
            _percentiles(draws), rel=1e-12
        ), group


def test_a_metric_without_data_has_no_rows_beside_the_others(twelve_accounts: Workspace) -> None:
    """No CSAT response at all: csat has no rows (its replicates, empty, once raised a
    ValueError), and NPS beside it keeps the interval it has alone."""
    opts = {"start": START, "end": END, "as_of": AS_OF, "ci": "bootstrap"}
    both = twelve_accounts.metrics(["csat", "nps"], **opts)
    alone = twelve_accounts.metrics("nps", **opts)
    assert list(both["metric"]) == ["nps"]
    assert np.isfinite(alone["ci_low"]).all()
    for col in ("value", "ci_low", "ci_high"):
        assert both[col].tolist() == alone[col].tolist()
