"""Hand-computed tiny companies that pin the oracle itself, then a smoke run on the demo company."""

from __future__ import annotations

import itertools
import math
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .metrics_oracle import METRICS, OracleSettings, cohorts, compute
from .timegrid import periods

Rows = list[dict[str, Any]]
Q1 = {"start": date(2026, 1, 1), "end": date(2026, 4, 1)}
AS_OF = date(2026, 9, 30)


def account(account_id: str, created: str = "2024-01-01", **kw: Any) -> dict[str, Any]:
    return {"account_id": account_id, "created_at": created, "is_test": False, **kw}


def paid(account_id: str, months: dict[str, float]) -> Rows:
    """Revenue rows from {"2026-01": mrr}."""
    return [{"account_id": account_id, "month": f"{m}-01", "mrr": v} for m, v in months.items()]


def run(tables: dict[str, Rows], metric: str, **kw: Any) -> pd.DataFrame:
    frames = {name: pd.DataFrame(rows) for name, rows in tables.items()}
    kw.setdefault("start", Q1["start"])
    kw.setdefault("end", Q1["end"])
    kw.setdefault("as_of", AS_OF)
    return compute(frames, metric=metric, **kw)


def one(tables: dict[str, Rows], metric: str, **kw: Any) -> dict[str, Any]:
    """The only row of a one-period, ungrouped result."""
    out = run(tables, metric, **kw)
    assert len(out) == 1, out
    return dict(out.iloc[0])


_ids = itertools.count()


def responses(account_id: str, scores: list[float], at: str = "2026-02-01", **kw: Any) -> Rows:
    return [
        {"response_id": f"R{next(_ids):05d}", "account_id": account_id, "survey": "nps",
         "score": s, "responded_at": at, **kw}
        for s in scores
    ]  # fmt: skip


def grouped(out: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows indexed by group, the total row as "*"."""
    return out.assign(**{by: out[by].astype(object).where(out[by].notna(), "*")}).set_index(by)


def action(
    action_id: str, account_id: str, kind: str, at: str = "2026-02-01", **kw: Any
) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "account_id": account_id,
        "action_type": kind,
        "occurred_at": at,
        **kw,
    }


# --- calendar -----------------------------------------------------------------------------------


def test_range_snaps_outward_to_quarters_and_to_is_exclusive() -> None:
    s = OracleSettings()
    got = [(p.start, p.label) for p in periods(date(2026, 2, 15), date(2026, 5, 1), "quarter", s)]
    assert got == [(date(2026, 1, 1), "2026-Q1"), (date(2026, 4, 1), "2026-Q2")]
    assert [p.label for p in periods(date(2026, 1, 1), date(2026, 4, 1), "quarter", s)] == [
        "2026-Q1"
    ]
    assert [p.label for p in periods(date(2026, 3, 3), date(2026, 3, 4), "month", s)] == ["2026-03"]


def test_fiscal_quarters_starting_in_april() -> None:
    end_label = OracleSettings(fiscal_start_month=4)
    ps = periods(date(2026, 1, 1), date(2027, 1, 1), "quarter", end_label)
    assert [(p.start, p.label) for p in ps] == [
        (date(2026, 1, 1), "FY2026-Q4"), (date(2026, 4, 1), "FY2027-Q1"),
        (date(2026, 7, 1), "FY2027-Q2"), (date(2026, 10, 1), "FY2027-Q3"),
    ]  # fmt: skip
    start_label = OracleSettings(fiscal_start_month=4, fiscal_label="start")
    assert (
        periods(date(2026, 4, 1), date(2026, 4, 2), "quarter", start_label)[0].label == "FY2026-Q1"
    )
    (year,) = periods(date(2026, 5, 1), date(2026, 6, 1), "year", end_label)
    assert (year.start, year.end, year.label) == (date(2026, 4, 1), date(2027, 4, 1), "FY2027")
    t = {
        "accounts": [account("A")],
        "survey_responses": responses("A", [10], at="2026-03-31 12:00")
        + responses("A", [0, 0], at="2026-04-01 12:00"),
    }
    out = run(t, "nps", end=date(2026, 7, 1), settings=end_label)
    assert list(out["period_label"]) == ["FY2026-Q4", "FY2027-Q1"]
    assert list(out["n"]) == [1, 2]
    assert list(out["value"]) == [100.0, -100.0]


def test_business_time_zone_moves_a_response_across_the_quarter_boundary() -> None:
    # 2026-04-01 02:00 UTC is 2026-03-31 22:00 in New York (Q1) but Q2 in UTC.
    t = {
        "accounts": [account("A")],
        "survey_responses": responses("A", [10], at="2026-04-01 02:00"),
    }
    utc = run(t, "nps", end=date(2026, 7, 1))
    assert list(utc["period_label"]) == ["2026-Q2"]
    ny = run(t, "nps", end=date(2026, 7, 1), settings=OracleSettings(timezone="America/New_York"))
    assert list(ny["period_label"]) == ["2026-Q1"]
    # and the other way round: 2026-03-31 16:00 UTC is 2026-04-01 01:00 in Tokyo.
    t["survey_responses"] = responses("A", [10], at="2026-03-31 16:00")
    tokyo = run(t, "nps", end=date(2026, 7, 1), settings=OracleSettings(timezone="Asia/Tokyo"))
    assert list(tokyo["period_label"]) == ["2026-Q2"]


def test_as_of_ignores_later_rows_marks_partial_and_drops_future_periods() -> None:
    t = {
        "accounts": [account("A")],
        "survey_responses": responses("A", [10], at="2026-02-10 23:59")
        + responses("B", [0], at="2026-02-11 00:00"),  # B unknown: an orphan
    }
    t["survey_responses"] += [
        {
            "response_id": "late",
            "account_id": "A",
            "survey": "nps",
            "score": 0,
            "responded_at": "2026-02-11",
        }
    ]
    out = run(t, "nps", end=date(2026, 7, 1), as_of=date(2026, 2, 10))
    assert len(out) == 1  # Q2 starts after as_of: no row
    row = out.iloc[0]
    assert (row["value"], row["n"], row["partial"]) == (100.0, 1, True)
    assert not run(t, "nps", as_of=date(2026, 3, 31)).iloc[0]["partial"]


# --- survey metrics -----------------------------------------------------------------------------


def test_published_nps_example_and_shares() -> None:
    # 1 detractor, 2 passives, 3 promoters: NPS = 100 × (3 − 1) ÷ 6 = 33.33
    t = {"accounts": [account("A")], "survey_responses": responses("A", [3, 7, 8, 9, 10, 10])}
    row = one(t, "nps")
    assert row["value"] == pytest.approx(33.333333, abs=1e-4)
    assert (row["numerator"], row["denominator"], row["n"]) == (2.0, 6.0, 6)
    assert row["low_n"]
    assert row["basis"] == "response"
    assert row["pending_n"] == 0
    assert one(t, "promoter_share")["value"] == pytest.approx(0.5)
    assert one(t, "passive_share")["value"] == pytest.approx(1 / 3)
    assert one(t, "detractor_share")["value"] == pytest.approx(1 / 6)


def test_decimal_scores_around_the_nps_cutoffs() -> None:
    t = {"accounts": [account("A")], "survey_responses": responses("A", [6.0, 6.5, 8.9, 9.0])}
    assert one(t, "detractor_share")["value"] == pytest.approx(0.25)
    assert one(t, "passive_share")["value"] == pytest.approx(0.5)


def test_no_responses_no_row_and_a_single_account() -> None:
    t: dict[str, Rows] = {"accounts": [account("A")], "survey_responses": []}
    assert run(t, "nps").empty
    t["survey_responses"] = responses("A", [9], at="2026-05-05")
    out = run(t, "nps", end=date(2026, 7, 1))
    assert list(out["period_label"]) == ["2026-Q2"]  # Q1 has no responses: no row
    assert (out.iloc[0]["value"], out.iloc[0]["n"], out.iloc[0]["low_n"]) == (100.0, 1, True)
    assert one(t, "advocacy_rate")["value"] == 0.0  # a rate with nothing in it is 0


def test_test_accounts_and_orphans_are_excluded() -> None:
    t = {
        "accounts": [account("A"), account("T", is_test=True)],
        "survey_responses": responses("A", [10]) + responses("T", [0]) + responses("X", [0]),
        "advocacy_actions": [action("a1", "T", "case_study"), action("a2", "X", "review")],
    }
    assert one(t, "nps")["value"] == 100.0
    assert one(t, "advocacy_actions")["value"] == 0.0
    assert one(t, "advocacy_rate")["n"] == 1


def test_logo_basis_takes_each_accounts_latest_response_ties_to_greater_id() -> None:
    t = {
        "accounts": [account("A"), account("B")],
        "survey_responses": [
            {"response_id": "R1", "account_id": "A", "survey": "nps", "score": 10, "responded_at": "2026-01-10"},
            {"response_id": "R2", "account_id": "A", "survey": "nps", "score": 3, "responded_at": "2026-02-10"},
            {"response_id": "R3", "account_id": "A", "survey": "nps", "score": 9, "responded_at": "2026-02-10"},
            {"response_id": "R4", "account_id": "B", "survey": "nps", "score": 8, "responded_at": "2026-03-01"},
        ],
    }  # fmt: skip
    assert one(t, "nps")["value"] == pytest.approx(25.0)  # (2 − 1) ÷ 4
    logo = one(t, "nps", basis="logo")
    assert (logo["value"], logo["n"], logo["basis"]) == (50.0, 2, "logo")  # R3 (promoter), R4


def test_arr_basis_weights_and_counts_excluded_accounts() -> None:
    t = {
        "accounts": [account("A"), account("B"), account("C")],
        # A: 12 × 100 from December; B: nothing in December, 12 × 50 from February; C: none
        "revenue": paid("A", {"2025-12": 100, "2026-01": 100})
        + paid("B", {"2025-12": 0, "2026-01": 0, "2026-02": 50}),
        "survey_responses": responses("A", [10]) + responses("B", [3]) + responses("C", [10]),
    }
    row = one(t, "nps", basis="arr")
    assert row["value"] == pytest.approx(100 * (1200 - 600) / 1800)
    assert (row["numerator"], row["denominator"], row["n"]) == (600.0, 1800.0, 2)
    assert row["extra"] == {"arr_excluded": 1}
    rate = one(t, "advocacy_rate", basis="arr")
    assert rate["extra"] == {"arr_excluded": 1}
    assert rate["n"] == 2


def test_nps_coverage_over_active_accounts() -> None:
    t = {
        "accounts": [
            account("A"),
            account("B"),
            account("C"),
            account("D", churned_at="2025-06-01"),
        ],
        "survey_responses": responses("A", [10, 2]) + responses("D", [9]),  # D is not active
    }
    row = one(t, "nps_coverage")
    assert (row["value"], row["n"], row["basis"]) == (pytest.approx(1 / 3), 3, "logo")


def _csat(scores: list[tuple[float, float, float]]) -> Rows:
    return [
        {"response_id": f"S{i}", "account_id": "A", "survey": "csat", "score": s,
         "scale_min": lo, "scale_max": hi, "responded_at": "2026-02-01"}
        for i, (s, lo, hi) in enumerate(scores)
    ]  # fmt: skip


def test_csat_thresholds_top2_and_top1_on_long_and_short_scales() -> None:
    five = {
        "accounts": [account("A")],
        "survey_responses": _csat([(5, 1, 5), (4, 1, 5), (3, 1, 5)]),
    }
    assert one(five, "csat")["value"] == pytest.approx(2 / 3)
    assert one(five, "csat", settings=OracleSettings(csat_satisfied="top1"))[
        "value"
    ] == pytest.approx(1 / 3)
    assert one(five, "csat_mean")["value"] == pytest.approx(4.0)  # one scale: native
    # a 1–3 scale has 3 points: top box only, even with top2
    mixed = {
        "accounts": [account("A")],
        "survey_responses": _csat([(5, 1, 5), (4, 1, 5), (3, 1, 3), (2, 1, 3)]),
    }
    assert one(mixed, "csat")["value"] == pytest.approx(3 / 4)
    assert one(mixed, "csat", settings=OracleSettings(csat_satisfied="top1"))[
        "value"
    ] == pytest.approx(2 / 4)
    # mixed scales: mean of (score − min) ÷ (max − min) = (1 + .75 + 1 + .5) ÷ 4
    assert one(mixed, "csat_mean")["value"] == pytest.approx(0.8125)
    # null scales default to 1–5 for CSAT
    nulls = {"accounts": [account("A")], "survey_responses": _csat([(4, math.nan, math.nan)])}
    assert one(nulls, "csat")["value"] == 1.0


def test_say_do_gap_counts_closed_windows_and_leaves_the_rest_pending() -> None:
    t = {
        "accounts": [account("A"), account("B"), account("C")],
        "survey_responses": responses("A", [10], at="2026-01-10")
        + responses("B", [9], at="2026-01-20")
        + responses("C", [9, 4], at="2026-03-20"),
        "advocacy_actions": [
            action("a1", "A", "review", at="2026-04-09", rating=5),  # inside [Jan 10, +90 days)
            action("a2", "B", "other", at="2026-02-01"),  # not counted
            action("a3", "B", "review", at="2026-02-01", rating=2),  # not counted
        ],
    }
    row = one(t, "say_do_gap", as_of=date(2026, 5, 31))  # C's window closes on 2026-06-18
    assert (row["value"], row["n"], row["pending_n"]) == (0.5, 2, 1)
    assert one(t, "say_do_gap")["pending_n"] == 0
    t["advocacy_actions"][0]["occurred_at"] = "2026-04-10"  # Jan 10 + 90 days: outside
    assert one(t, "say_do_gap", as_of=date(2026, 5, 31))["value"] == 1.0


# --- active accounts and advocacy ---------------------------------------------------------------


def _advocacy_company() -> dict[str, Rows]:
    return {
        "accounts": [
            account(a, segment=s)
            for a, s in zip("ABCDF", ["smb", "smb", "ent", "ent", None], strict=True)
        ]
        + [account("E", churned_at="2025-12-31")],
        "advocacy_actions": [
            action("a1", "A", "review", rating=5),
            action("a2", "A", "referral"),
            action("a3", "B", "review", rating=3),  # not counted
            action("a4", "C", "social_mention", sentiment=-0.5),  # not counted
            action("a5", "C", "social_mention"),  # counted: no sentiment
            action("a6", "D", "other"),  # not counted
            action("a7", "E", "case_study"),  # E is not active
            action("a8", "F", "community_post"),
            action("a9", "A", "review", at="2026-04-01"),  # next quarter
        ],
    }


def test_advocacy_rate_and_per_type_rates_by_segment() -> None:
    t = _advocacy_company()
    out = grouped(run(t, "advocacy_rate", by="segment"), "segment")
    assert out.loc["*", "value"] == pytest.approx(3 / 5)
    assert out.loc["*", "n"] == 5
    assert out.loc["smb", "value"] == 0.5
    assert out.loc["ent", "value"] == 0.5
    assert out.loc["(none)", "value"] == 1.0
    assert list(out.index) == ["*", "(none)", "ent", "smb"]
    assert one(t, "review_rate")["value"] == pytest.approx(1 / 5)
    assert one(t, "referral_rate")["value"] == pytest.approx(1 / 5)
    assert one(t, "community_rate")["value"] == pytest.approx(1 / 5)
    assert one(t, "case_study_rate")["value"] == 0.0  # E acted but is not active


def test_action_counts_and_review_rating() -> None:
    t = _advocacy_company()
    # counted, active or not: a1, a2, a5, a7, a8
    assert one(t, "advocacy_actions")["value"] == 5.0
    assert one(t, "reviews")["value"] == 2.0  # volumes count all
    assert one(t, "social_mentions")["value"] == 2.0
    assert one(t, "referrals")["value"] == 1.0
    t["advocacy_actions"].append(action("a10", "B", "review"))  # no rating
    row = one(t, "review_rating")
    assert (row["value"], row["n"]) == (4.0, 2)
    by = grouped(run(t, "reviews", by="segment"), "segment")
    assert by.loc["ent", "value"] == 0.0  # active accounts, no reviews: 0, not absent


def test_churn_in_the_first_month_and_reactivation() -> None:
    t = {
        "accounts": [
            account("C"),
            account("R"),
            account("N", created="2025-06-01", churned_at="2026-01-15"),
        ],
        # C pays December and January, churns in February; R pays in H1 2025 then from February 2026
        "revenue": paid("C", {"2025-12": 100, "2026-01": 100, "2026-02": 0})
        + paid("R", {"2025-01": 40, "2025-06": 40, "2025-07": 0, "2026-02": 60, "2026-03": 60}),
    }
    assert one(t, "advocacy_rate")["n"] == 3  # C (January), R (February), N (date rule)
    q3 = run(t, "advocacy_rate", start=date(2025, 7, 1), end=date(2025, 10, 1))
    assert q3.iloc[0]["n"] == 1  # only N: R's revenue decides, churned_at is not needed
    bridge = one(t, "mrr_bridge")["extra"]
    assert bridge == {"start": 100.0, "new": 0.0, "reactivation": 60.0, "expansion": 0.0,
                      "contraction": 0.0, "churn": 100.0, "end": 60.0}  # fmt: skip
    assert one(t, "grr")["value"] == 0.0
    assert one(t, "logo_retention")["n"] == 2


def test_date_rule_for_accounts_without_revenue() -> None:
    t = {
        "accounts": [
            account("A", created="2026-03-31 23:00"),  # active in Q1
            account("B", created="2026-04-01 00:00"),  # not yet
            account("C", created="2025-01-01", churned_at="2026-01-01 00:00"),  # churned_at ≥ start
            account("D", created="2025-01-01", churned_at="2025-12-31 23:59"),
        ],
    }
    assert one(t, "advocacy_rate")["n"] == 2


def test_ttm_window_and_monthly_periods() -> None:
    t = {
        "accounts": [account("A"), account("B")],
        # A paid only in May 2025: active in the 12 months to March 2026, not in Q1 2026
        "revenue": paid("A", {"2025-05": 10}) + paid("B", {"2026-01": 10, "2026-02": 10}),
        "advocacy_actions": [action("x", "A", "review", at="2025-05-20")],
    }
    ttm = one(t, "advocacy_rate", window="ttm")
    assert (ttm["value"], ttm["n"]) == (0.5, 2)
    assert one(t, "advocacy_rate")["n"] == 1
    months = run(t, "new_logos", period="month")
    # March: no active account and no new logo, an empty population: no row
    assert list(months["period_label"]) == ["2026-01", "2026-02"]
    assert list(months["value"]) == [1.0, 0.0]


# --- new logos and referrals --------------------------------------------------------------------


def _referral_company() -> dict[str, Rows]:
    return {
        "accounts": [
            account("R1", segment="ent"),
            account("R2", segment="smb"),
            account("S", segment="smb"),
            account("L1", segment="mid", referred_by_account_id="R1"),
            account("L2", segment="mid"),
            account("L3", segment="mid"),
            account("L4", created="2026-03-05", segment="mid"),  # no revenue rows: created_at
            account("Z", segment="mid"),  # revenue rows, all 0: never a new logo
        ],
        "revenue": paid("R1", {"2025-12": 10, "2026-01": 10})
        + paid("R2", {"2025-12": 10, "2026-01": 10})
        + paid("S", {"2025-12": 10, "2026-01": 10})
        + paid("L1", {"2026-01": 0, "2026-02": 1000})
        + paid("L2", {"2026-03": 500})
        + paid("L3", {"2026-01": 200})
        + paid("Z", {"2026-01": 0}),
        "advocacy_actions": [
            action(
                "x1", "R2", "referral", at="2025-08-13", referred_account_id="L2"
            ),  # 200 d before
            action("x2", "R1", "referral", at="2024-11-01", referred_account_id="L3"),  # > 365 d
        ],
    }


def test_new_logos_and_referred_share() -> None:
    t = _referral_company()
    assert one(t, "new_logos")["value"] == 4.0  # L1, L2, L3, L4
    row = one(t, "referred_new_logo_share")
    assert (row["value"], row["n"]) == (0.5, 4)  # L1 (referred_by), L2 (an action)


def test_referral_new_arr_is_grouped_by_the_referrers_attributes() -> None:
    t = _referral_company()
    out = grouped(run(t, "referral_new_arr", by="segment"), "segment")
    assert out.loc["*", "value"] == 18000.0
    assert out.loc["*", "n"] == 2
    assert out.loc["ent", "value"] == 12000.0  # L1 referred by R1
    assert out.loc["smb", "value"] == 6000.0  # L2 referred by R2
    assert out.loc["mid", "value"] == 0.0  # the new logos' own segment gets nothing


def test_referral_conversion_rate_windows_exclusions_and_pending() -> None:
    t = {
        "accounts": [account(a) for a in ["R", "X", "Y", "Z", "W"]],
        "revenue": paid("R", {"2026-01": 10})
        + paid("X", {"2026-03": 10})  # starts paying within 180 days of a1
        + paid("Y", {"2025-12": 10})  # already paying before a2: excluded
        + paid("Z", {"2026-09": 10})  # 2026-09-01 is more than 180 days after a4
        + paid("W", {"2026-04": 10}),
        "advocacy_actions": [
            action("a1", "R", "referral", at="2026-01-10", referred_account_id="X"),
            action("a2", "R", "referral", at="2026-01-15", referred_account_id="Y"),
            action("a3", "R", "referral", at="2026-02-01"),  # no referred account
            action("a4", "R", "referral", at="2026-02-05", referred_account_id="Z"),
            action("a5", "R", "referral", at="2026-03-30", referred_account_id="W"),  # closes 09-26
        ],
    }
    row = one(t, "referral_conversion_rate")
    assert (row["value"], row["n"], row["pending_n"]) == (0.5, 4, 0)
    early = one(t, "referral_conversion_rate", as_of=date(2026, 9, 10))
    assert (early["value"], early["n"], early["pending_n"]) == (pytest.approx(1 / 3), 3, 1)
    pending = one(t, "referral_conversion_rate", as_of=date(2026, 4, 30))
    assert pending["n"] == 0
    assert pending["pending_n"] == 4
    assert math.isnan(pending["value"])


# --- asks ---------------------------------------------------------------------------------------


def _ask(
    ask_id: str, kind: str, at: str, expires: str | None = None, contact: str | None = "c1"
) -> dict[str, Any]:
    return {"ask_id": ask_id, "account_id": "A", "contact_id": contact, "ask_type": kind,
            "asked_at": at, "expires_at": expires}  # fmt: skip


def _outcome(ask_id: str, seq: int, status: str, at: str) -> dict[str, Any]:
    return {"ask_id": ask_id, "seq": seq, "status": status, "at": at}


def _ask_company() -> dict[str, Rows]:
    return {
        "accounts": [account("A")],
        "asks": [
            _ask("k1", "review", "2026-01-05", "2026-02-05"),
            _ask("k2", "review", "2026-01-10", "2026-02-10"),
            _ask("k3", "case_study", "2026-02-01", "2026-12-31"),
            _ask("k4", "referral", "2026-02-10", "2026-03-10"),
            _ask("k5", "review", "2026-02-15"),
            _ask("k6", "survey", "2026-03-01", "2026-03-15"),
            _ask("k7", "case_study", "2026-03-05"),
            _ask("k8", "referral", "2026-03-10", "2026-03-20"),
        ],
        "ask_outcomes": [
            _outcome("k1", 1, "accepted", "2026-01-06"), _outcome("k1", 2, "completed", "2026-01-20"),
            _outcome("k2", 1, "declined", "2026-01-11"),
            _outcome("k3", 1, "accepted", "2026-02-02"),  # accepted, not settled: pending
            # k4: no outcome, expired by as_of: settled
            _outcome("k5", 1, "accepted", "2026-02-16 10:00"),  # same `at`: seq decides,
            _outcome("k5", 2, "withdrawn", "2026-02-16 10:00"),  # latest = withdrawn: excluded
            _outcome("k6", 1, "completed", "2026-03-02"),  # a survey ask
            _outcome("k7", 1, "withdrawn", "2026-03-06"), _outcome("k7", 2, "accepted", "2026-03-07"),
            _outcome("k8", 1, "withdrawn", "2026-10-05"),  # after as_of: ignored
        ],
    }  # fmt: skip


def test_ask_acceptance_and_completion() -> None:
    t = _ask_company()
    acc = one(t, "ask_acceptance_rate")  # settled: k1, k2, k4, k8; pending: k3, k7
    assert (acc["value"], acc["n"], acc["pending_n"]) == (0.25, 4, 2)
    assert one(t, "ask_completion_rate")["value"] == 0.25
    surveys = one(t, "ask_acceptance_rate", include_surveys=True)
    assert (surveys["value"], surveys["n"]) == (0.4, 5)
    by = grouped(run(t, "ask_acceptance_rate", by="ask_type"), "ask_type")
    assert by.loc["review", "value"] == 0.5
    assert by.loc["referral", "value"] == 0.0
    assert by.loc["case_study", "pending_n"] == 2
    assert by["value"].isna()["case_study"]


def test_asks_per_advocate() -> None:
    t = _ask_company()
    t["asks"] += [
        _ask("k9", "review", "2026-03-11", contact="c2"),
        _ask("k10", "review", "2026-03-12", contact=None),
    ]
    row = one(t, "asks_per_advocate")  # 7 non-survey asks to c1, 1 to c2; k10 has no contact
    assert (row["value"], row["n"]) == (4.0, 2)


def test_over_asked_contacts_with_rolling_windows_reaching_outside_the_period() -> None:
    def asks(contact: str, *ats: str, kind: str = "review") -> Rows:
        return [_ask(f"{contact}{i}", kind, at, contact=contact) for i, at in enumerate(ats)]

    t = {
        "accounts": [account("A")],
        "asks": asks("c1", "2026-01-10", "2026-03-01")  # 50 days apart
        + asks("c2", "2025-11-20", "2026-01-05")  # a window ending in Q1 holds both
        + asks("c3", "2025-10-01", "2026-02-01")  # 123 days apart
        + asks("c4", "2025-12-01", "2025-12-20")  # (t − 90 d, t] at t = 2026-01-01 holds both
        + asks("c5", "2026-01-05", "2026-01-06", kind="survey")  # surveys have their own cap
        + asks("c6", "2026-06-25", "2026-07-01"),
    }
    out = run(t, "over_asked_contacts", end=date(2026, 7, 1))
    assert list(out["value"]) == [3.0, 2.0]  # Q1: c1, c2, c4; Q2: c1 (t = 04-01), c6
    assert one(t, "over_asked_contacts", settings=OracleSettings(ask_cap=2))["value"] == 0.0


# --- concentration ------------------------------------------------------------------------------


def test_advocate_concentration_and_gini() -> None:
    names = [f"A{i:02d}" for i in range(12)]
    acts = [action(f"x{i}", "A00", "testimonial") for i in range(10)]
    acts += [action(f"y{n}", n, "speaking") for n in names[1:]]
    row = one(
        {"accounts": [account(n) for n in names], "advocacy_actions": acts},
        "advocate_concentration",
    )
    # top ⌈1.2⌉ = 2 accounts hold 10 + 1 of 21 actions
    assert (row["value"], row["n"]) == (pytest.approx(11 / 21), 12)
    assert row["extra"]["gini"] == pytest.approx((110 - 11) / (12 * 21))
    flat = [f"B{i:02d}" for i in range(30)]
    t = {
        "accounts": [account(n) for n in flat],
        "advocacy_actions": [action(f"z{n}", n, "review") for n in flat],
    }
    row = one(t, "advocate_concentration")  # ⌈0.1 × 30⌉ = 3, not 4
    assert row["value"] == pytest.approx(0.1)
    assert row["extra"]["gini"] == 0.0


# --- revenue ------------------------------------------------------------------------------------


def _nrr_company() -> dict[str, Rows]:
    """Start 200k − 6k churn − 4k contraction + 20k expansion: NRR 1.05, GRR 0.95."""
    return {
        "accounts": [account(a, segment="ent" if a in "CD" else "smb") for a in "ABCDEFG"],
        "revenue": paid(
            "A", {"2025-03": 6000, "2025-12": 6000, "2026-01": 6000}
        )  # churn (no March row)
        + paid("B", {"2025-12": 50_000, "2026-03": 46_000})
        + paid("C", {"2025-03": 60_000, "2025-12": 60_000, "2026-03": 80_000})
        + paid("D", {"2025-03": 84_000, "2025-12": 84_000, "2026-03": 84_000})
        + paid("E", {"2026-02": 10_000, "2026-03": 10_000})  # new
        + paid(
            "F", {"2025-01": 5000, "2025-06": 5000, "2025-12": 0, "2026-03": 5000}
        )  # reactivation
        + paid("G", {"2026-01": 7000, "2026-02": 0}),  # starts and churns inside the period
    }


def test_published_nrr_example_grr_logo_retention_and_the_bridge() -> None:
    t = _nrr_company()
    nrr = one(t, "nrr")
    assert (nrr["value"], nrr["numerator"], nrr["denominator"], nrr["n"]) == (
        pytest.approx(1.05), 210_000.0, 200_000.0, 4,
    )  # fmt: skip
    assert one(t, "grr")["value"] == pytest.approx(0.95)
    assert one(t, "logo_retention")["value"] == pytest.approx(0.75)
    bridge = one(t, "mrr_bridge")
    assert bridge["extra"] == {"start": 200_000.0, "new": 10_000.0, "reactivation": 5000.0,
                               "expansion": 20_000.0, "contraction": 4000.0, "churn": 6000.0,
                               "end": 225_000.0}  # fmt: skip
    assert bridge["value"] == 225_000.0
    assert bridge["n"] == 6
    by = grouped(run(t, "nrr", by="segment"), "segment")
    assert by.loc["ent", "value"] == pytest.approx(164 / 144)
    assert by.loc["smb", "value"] == pytest.approx(46 / 56)


def test_ttm_retention_and_partial_periods() -> None:
    t = _nrr_company()
    ttm = one(t, "nrr", window="ttm")  # March 2025 → March 2026: A, C, D
    assert (ttm["value"], ttm["n"]) == (pytest.approx(164_000 / 150_000), 3)
    # as_of mid-February: Q1 is partial and ends at January, the last complete month
    partial = one(t, "nrr", as_of=date(2026, 2, 15))
    assert partial["partial"]
    assert partial["value"] == pytest.approx(6000 / 200_000)
    # as_of in January: no complete month of Q1 yet, no row
    assert run(t, "grr", as_of=date(2026, 1, 20)).empty


def test_logo_retention_date_rule_without_revenue() -> None:
    t = {
        "accounts": [
            account("K"),
            account("L", churned_at="2026-02-10"),
            account("M", created="2026-01-05"),
        ],
    }
    row = one(t, "logo_retention")  # base: K and L (December); M arrives later
    assert (row["value"], row["n"]) == (0.5, 2)


# --- support and rewards ------------------------------------------------------------------------


def test_ticket_medians_in_calendar_hours_and_open_tickets() -> None:
    def ticket(tid: str, opened: str, first: str | None, resolved: str | None) -> dict[str, Any]:
        return {"ticket_id": tid, "account_id": "A", "opened_at": opened,
                "first_response_at": first, "resolved_at": resolved}  # fmt: skip

    t = {
        "accounts": [account("A")],
        "tickets": [
            ticket(
                "t1",
                "2026-02-01 00:00:00.900",
                "2026-02-01 01:00:00.100",
                "2026-02-01 10:00:00.900",
            ),
            ticket("t2", "2026-02-02 00:00:00", "2026-02-02 03:00:00", None),
            ticket("t3", "2026-02-03 00:00:00", None, "2026-02-03 02:00:00"),
            ticket("t4", "2026-03-30 00:00:00", "2026-10-02 05:00:00", "2026-10-02 00:00:00"),
        ],
    }
    # t1: 3599.2 s; t3 unanswered, t4 answered after as_of: open
    first = one(t, "first_response_hours")
    assert first["value"] == pytest.approx((3599.2 / 3600 + 3) / 2)
    assert (first["n"], first["extra"]) == (2, {"open_n": 2})
    res = one(t, "resolution_hours")  # 10, 2; t4 resolves after as_of: open
    assert (res["value"], res["n"], res["extra"]) == (6.0, 2, {"open_n": 2})


def test_reward_cost_and_monetary_share() -> None:
    t: dict[str, Rows] = {
        "accounts": [account("A")],
        "rewards": [
            {"reward_id": "w1", "account_id": "A", "reward_type": "gift_card", "kind": "monetary", "value": 100, "given_at": "2026-01-10"},
            {"reward_id": "w2", "account_id": "A", "reward_type": "spotlight", "kind": "visibility", "value": None, "given_at": "2026-02-10"},
            {"reward_id": "w3", "account_id": "A", "reward_type": "referral_bonus", "kind": "monetary", "value": 50, "given_at": "2026-03-10"},
        ],
    }  # fmt: skip
    assert one(t, "reward_cost")["value"] == 150.0
    assert one(t, "monetary_reward_share")["value"] == pytest.approx(2 / 3)


# --- dimensions ---------------------------------------------------------------------------------


def test_attributes_as_of_the_period_start_from_account_history() -> None:
    t = {
        "accounts": [account("A", segment="ent"), account("B", segment=None)],
        "survey_responses": responses("A", [10], at="2026-02-01")
        + responses("A", [10], at="2026-05-01")
        + responses("B", [0], at="2026-02-01"),
        "_account_history": [
            {"account_id": "A", "column": "segment", "value": "smb", "valid_from": None, "valid_to": "2026-04-01"},
            {"account_id": "A", "column": "segment", "value": "ent", "valid_from": "2026-04-01", "valid_to": None},
        ],
    }  # fmt: skip
    out = run(t, "nps", by="segment", end=date(2026, 7, 1))
    got = [(r.period_label, r.segment, r.value) for r in out.itertuples()]
    assert got == [("2026-Q1", None, 0.0), ("2026-Q1", "(none)", -100.0), ("2026-Q1", "smb", 100.0),
                   ("2026-Q2", None, 100.0), ("2026-Q2", "ent", 100.0)]  # fmt: skip
    del t["_account_history"]
    current = run(t, "nps", by="segment")
    assert set(current["segment"].dropna()) == {"(none)", "ent"}


def test_cohort_dimension() -> None:
    t = {
        "accounts": [account("A"), account("B", created="2025-11-20")],
        "revenue": paid("A", {"2025-07": 10, "2026-01": 10}),  # B has none: created_at
        "advocacy_actions": [action("x", "A", "review")],
    }
    out = grouped(run(t, "advocacy_rate", by="cohort"), "cohort")
    assert out.loc["2025-Q3", "value"] == 1.0
    assert out.loc["2025-Q4", "value"] == 0.0


def test_refused_bases() -> None:
    t = {"accounts": [account("A")]}
    with pytest.raises(ValueError, match="basis"):
        run(t, "advocacy_rate", basis="response")
    with pytest.raises(ValueError, match="basis"):
        run(t, "grr", basis="arr")


# --- cohort curves ------------------------------------------------------------------------------


def test_cohort_curves_by_accounts_and_mrr() -> None:
    frames = {
        "accounts": pd.DataFrame([account("A"), account("B", referred_by_account_id="A")]),
        "revenue": pd.DataFrame(
            paid("A", {"2026-01": 100, "2026-02": 100, "2026-03": 100, "2026-04": 0})
            + paid("B", {"2026-02": 200, "2026-03": 200, "2026-04": 300, "2026-05": 300})
        ),
    }
    acc = cohorts(frames, as_of=date(2026, 4, 30))  # May is not complete: k ≤ 2 for B
    assert list(acc["k"]) == [0, 1, 2]
    assert set(acc["cohort"]) == {"2026-Q1"}
    assert list(acc["value"]) == [1.0, 1.0, 1.0]
    assert list(acc["base"]) == [2.0, 2.0, 2.0]
    mrr = cohorts(frames, measure="mrr", as_of=date(2026, 4, 30))
    assert list(mrr["retained"]) == [300.0, 300.0, 400.0]
    assert mrr["value"].tolist() == pytest.approx([1.0, 1.0, 4 / 3])
    split = cohorts(frames, by="referred", as_of=date(2026, 5, 31))
    assert split[split["referred"].eq(False)]["value"].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert split[split["referred"].eq(True)]["value"].tolist() == [1.0, 1.0, 1.0, 1.0]


# --- smoke on the demo company ------------------------------------------------------------------

RATES = {
    "promoter_share", "passive_share", "detractor_share", "nps_coverage", "csat", "advocacy_rate",
    "referral_rate", "case_study_rate", "community_rate", "review_rate", "referred_new_logo_share",
    "referral_conversion_rate", "say_do_gap", "ask_acceptance_rate", "ask_completion_rate",
    "advocate_concentration", "grr", "logo_retention", "monetary_reward_share",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame], date]:
    from advocacy.demo import generate

    company = generate(Path(tmp_path_factory.mktemp("demo")), scale=0.05, seed=7)
    tables = {
        name: pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        for name, parts in company.files.items()
    }
    return tables, company.as_of


def test_every_metric_runs_on_the_demo_company_by_segment(
    demo_tables: tuple[dict[str, pd.DataFrame], date],
) -> None:
    tables, as_of = demo_tables
    for metric in METRICS:
        out = compute(
            tables,
            metric=metric,
            start=date(2025, 10, 1),
            end=date(2026, 10, 1),
            by="segment",
            as_of=as_of,
        )
        totals = out[out["segment"].isna()]
        # a total row per quarter, except where the population is empty (no new logo in Q3 2026)
        assert 3 <= len(totals) == totals["period_start"].nunique() <= 4, metric
        assert set(out["period_start"]) == set(totals["period_start"]), metric
        assert set(out["segment"].dropna()) <= {"smb", "mid_market", "enterprise", "(none)"}, metric
        values = out["value"].dropna()
        if metric in RATES:
            assert values.between(0, 1).all(), metric
        elif metric == "nps":
            assert values.between(-100, 100).all(), metric
        elif metric == "csat_mean":
            assert values.between(1, 5).all(), metric
        elif metric == "nrr":
            assert values.between(0.5, 2).all(), metric
        else:
            assert (values >= 0).all(), metric
    bridge = compute(
        tables, metric="mrr_bridge", start=date(2025, 10, 1), end=date(2026, 10, 1), as_of=as_of
    )
    for parts in bridge["extra"]:
        flow = parts["start"] + parts["new"] + parts["reactivation"] + parts["expansion"]
        assert flow - parts["contraction"] - parts["churn"] == pytest.approx(parts["end"])
    curves = cohorts(tables, measure="accounts", as_of=as_of)
    assert curves["value"].between(0, 1).all()
    assert (curves[curves["k"] == 0]["value"] == 1).all()
