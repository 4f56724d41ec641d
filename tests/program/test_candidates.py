"""Candidate features against an independent pandas computation, the score's arithmetic, and
point-in-time correctness (no leakage) on the scale-1 demo company."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from advocacy.metrics.calendar import end_of_day
from advocacy.metrics.source import Source, TableMap
from advocacy.program.candidates import CandidateRequest, assess, candidates
from advocacy.program.features import NAMES, feature_frame
from advocacy.program.scoring import CandidateSettings
from tests.metrics.helpers import Company, canonical_frames

DAY = timedelta(days=1)
SUCCESS = {"onboarding_complete", "go_live", "expansion", "qbr", "support_resolution"}


@pytest.fixture(scope="module")
def frames(demo_company: Company) -> dict[str, pd.DataFrame]:
    return canonical_frames(demo_company.ws)


def _window(frame: pd.DataFrame, column: str, at: datetime, days: float) -> pd.DataFrame:
    age = (at - pd.to_datetime(frame[column])).dt.total_seconds() / 86400.0
    keep = (age > 0) & (age <= days)
    return frame[keep].assign(age=age[keep])


def oracle(f: dict[str, pd.DataFrame], account: str, contact: str | None, at: datetime) -> dict[str, float]:  # fmt: skip
    """Every feature of one point, straight from the stored tables (DESIGN §7 as features.py
    documents it)."""

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        if contact is None:
            return frame[(frame["account_id"] == account) & frame["contact_id"].isna()]
        return frame[frame["contact_id"] == contact]

    out: dict[str, float] = {}
    nps = f["survey_responses"][f["survey_responses"]["survey"] == "nps"]
    nps = _window(mine(nps), "responded_at", at, 365)
    nps = nps.sort_values(["responded_at", "response_id"], ascending=False)
    last = nps.iloc[0] if len(nps) else None
    fresh = last is not None and last["age"] <= 180
    out["promoter"] = float(fresh and last["score"] >= 9)
    out["detractor"] = float(fresh and last["score"] <= 6)
    out["nps_trend"] = (nps.iloc[0]["score"] - nps.iloc[1]["score"]) / 10 if len(nps) > 1 else 0.0
    csat = f["survey_responses"]
    csat = csat[(csat["survey"] == "csat") & (csat["account_id"] == account)]
    csat = _window(csat, "responded_at", at, 180)
    unsatisfied = csat["score"] < csat["scale_max"] - 1  # top2 on the demo's 1–5 scale
    out["support_satisfied"] = float(len(csat) > 0 and not unsatisfied.any())
    out["support_unsatisfied"] = float(unsatisfied.any())
    usage = f["usage"][f["usage"]["account_id"] == account]
    done = (at - pd.to_datetime(usage["week"])).dt.days - 7
    recent, prior = usage[(done >= 0) & (done < 28)], usage[(done >= 28) & (done < 84)]
    r, p = recent["active_users"].mean(), prior["active_users"].mean()
    out["usage_trend"] = float(np.clip((r - p) / p, -1, 1)) if p > 0 and r == r else 0.0
    seats = recent[recent["seats"].notna()]
    total = seats["seats"].sum()
    out["seat_utilisation"] = min(seats["active_users"].sum() / total, 1.0) if total > 0 else 0.0
    created = f["accounts"].set_index("account_id").loc[account, "created_at"]
    out["tenure"] = float(
        np.clip((at - pd.Timestamp(created)).total_seconds() / 86400 / 365.25, 0, 3)
    )
    ms = _window(f["milestones"][f["milestones"]["account_id"] == account], "occurred_at", at, 30)
    out["recent_success"] = float(ms["milestone_type"].isin(SUCCESS).any())
    out["recent_renewal"] = float((ms["milestone_type"] == "renewal").any())
    acts = mine(f["advocacy_actions"])
    good = (
        (acts["action_type"] != "other")
        & ~((acts["action_type"] == "review") & (acts["rating"] < 4))
        & ~((acts["action_type"] == "social_mention") & (acts["sentiment"] < 0))
    )
    acts = _window(acts[good], "occurred_at", at, 1e9)
    out["past_advocacy"] = float(min(len(acts), 3))
    out["advocacy_recency"] = math.exp(-acts["age"].min() / 180) if len(acts) else 0.0
    asks = mine(f["asks"])
    out["recent_asks"] = float(len(_window(asks, "asked_at", at, 180)))
    declined = f["ask_outcomes"][f["ask_outcomes"]["status"] == "declined"]
    declined = declined[declined["ask_id"].isin(asks["ask_id"])]
    out["recent_declines"] = float(_window(declined, "at", at, 365)["ask_id"].nunique())
    return out


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    """For every feature the first two points where it is non-zero, plus a few arbitrary ones."""
    picks = [frame[frame[n] != 0].head(2) for n in NAMES]
    bare = frame[frame["contact_id"].isna()].head(2)
    return pd.concat([*picks, bare, frame.iloc[::5000]]).drop_duplicates("point_id")


@pytest.mark.parametrize("day", [date(2026, 9, 30), date(2025, 11, 17)])
def test_features_match_pandas(demo_company: Company, frames: dict[str, pd.DataFrame], day: date) -> None:  # fmt: skip
    ws = demo_company.ws
    a = assess(ws.source(), ws.settings, as_of=day)
    a.release()
    sample = _sample(a.frame)
    assert len(sample) >= 15
    assert sample["contact_id"].isna().any()
    for row in sample.to_dict(orient="records"):
        contact = row["contact_id"] if isinstance(row["contact_id"], str) else None
        expected = oracle(frames, row["account_id"], contact, a.cutoff)
        for name in NAMES:
            assert row[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), (row["point_id"], name)  # fmt: skip


def test_contributions_sum_to_score_and_follow_weights(demo_company: Company) -> None:
    ws = demo_company.ws
    rows = candidates(
        ws.source(), ws.settings, CandidateRequest.create(limit=30, as_of=demo_company.as_of)
    )
    assert list(rows.columns) == ["contact_id", "account_id", "score", "probability", "eligible",
                                  "reasons", "contributions"]  # fmt: skip
    for score, parts in zip(rows["score"], rows["contributions"], strict=True):
        assert sum(parts.values()) == pytest.approx(score, abs=1e-5)
        assert set(parts) == set(NAMES)
    assert list(rows["score"]) == sorted(rows["score"], reverse=True)
    assert rows["eligible"].sum() == 30
    # Configured weights: only promoter counts, with weight 10.
    weights = dict.fromkeys(NAMES, 0.0) | {"promoter": 10.0}
    settings = replace(ws.settings, candidates={"weights": weights})
    a = assess(ws.source(), settings, as_of=demo_company.as_of)
    a.release()
    assert set(a.frame["score"].round(9)) == {0.0, 10.0}
    assert (a.frame["score"] == 10.0 * a.frame["promoter"]).all()


def test_limit_keeps_eligible_and_higher_scoring_ineligible(demo_company: Company) -> None:
    ws = demo_company.ws
    rows = candidates(
        ws.source(),
        ws.settings,
        CandidateRequest.create(ask_type="review", limit=40, as_of=demo_company.as_of),
    )
    eligible = rows[rows["eligible"]]
    assert len(eligible) == 40
    blocked = rows[~rows["eligible"]]
    assert len(blocked) > 0
    assert (blocked["score"] >= eligible["score"].min()).all()
    for reasons in blocked["reasons"]:
        assert any(r.startswith("blocked by ") for r in reasons)


def test_limit_shortlist_equals_the_full_list(demo_company: Company) -> None:
    """The two-step policy check behind --limit gives what checking everyone would."""
    from advocacy.program.candidates import select

    ws = demo_company.ws
    full = candidates(ws.source(), ws.settings, CandidateRequest.create(as_of=demo_company.as_of))
    short = candidates(
        ws.source(), ws.settings, CandidateRequest.create(limit=25, as_of=demo_company.as_of)
    )
    expected = select(full, 25).reset_index(drop=True)
    pd.testing.assert_frame_equal(short, expected)


@pytest.fixture
def cut_source(demo_company: Company) -> Iterator[tuple[Source, datetime]]:
    """The store with every row at or after T removed, as temporary tables."""
    cut = datetime(2026, 3, 1)
    con = demo_company.ws.store.ibis()
    timed = {"survey_responses": "responded_at", "tickets": "opened_at", "asks": "asked_at",
             "advocacy_actions": "occurred_at", "milestones": "occurred_at",
             "ask_outcomes": "at", "usage": "week"}  # fmt: skip
    maps = {}
    for name in ("accounts", "contacts", *timed):
        where = f"WHERE \"{timed[name]}\" < TIMESTAMP '{cut}'" if name in timed else ""
        con.raw_sql(f"CREATE OR REPLACE TEMP TABLE cut_{name} AS SELECT * FROM {name} {where}")
        maps[name] = TableMap(f"cut_{name}")
    yield Source(con, maps), cut
    for name in maps:
        con.raw_sql(f"DROP TABLE IF EXISTS cut_{name}")


def _ask_points(source: Source, start: datetime, end: datetime) -> Any:
    asks = source.table("asks")
    asks = asks.filter((asks.asked_at >= start) & (asks.asked_at < end))
    return asks.select(point_id=asks.ask_id, account_id=asks.account_id,
                       contact_id=asks.contact_id, at=asks.asked_at)  # fmt: skip


def test_no_leakage_when_later_rows_are_deleted_or_added(
    demo_company: Company, cut_source: tuple[Source, datetime]
) -> None:
    ws = demo_company.ws
    source, cut = cut_source
    full = feature_frame(ws.source(), ws.settings, _ask_points(ws.source(), cut - 60 * DAY, cut))
    assert len(full) > 500
    assert (full[list(NAMES)] != 0).any().all()
    assert full.equals(feature_frame(source, ws.settings, _ask_points(source, cut - 60 * DAY, cut)))
    # Rows after T for the same people: a detractor answer, an ask and its decline, an action,
    # a milestone, a usage week. Features as of earlier instants must not move.
    con = ws.store.ibis()
    ask = con.sql("SELECT * FROM cut_asks ORDER BY asked_at DESC, ask_id LIMIT 1").execute().iloc[0]
    who, acct, later = ask["contact_id"], ask["account_id"], cut + 2 * DAY
    con.raw_sql(f"""
        INSERT INTO cut_survey_responses (response_id, account_id, contact_id, survey, score,
            scale_min, scale_max, responded_at) VALUES ('late', '{acct}', '{who}', 'nps', 0, 0, 10, TIMESTAMP '{later}');
        INSERT INTO cut_asks (ask_id, account_id, contact_id, ask_type, asked_at, incentive_offered)
            VALUES ('late', '{acct}', '{who}', 'review', TIMESTAMP '{later}', false);
        INSERT INTO cut_ask_outcomes (ask_id, seq, status, "at") VALUES ('{ask["ask_id"]}', 9, 'declined', TIMESTAMP '{later}');
        INSERT INTO cut_advocacy_actions (action_id, account_id, contact_id, action_type, occurred_at)
            VALUES ('late', '{acct}', '{who}', 'referral', TIMESTAMP '{later}');
        INSERT INTO cut_milestones (milestone_id, account_id, milestone_type, occurred_at)
            VALUES ('late', '{acct}', 'renewal', TIMESTAMP '{later}');
    """)  # fmt: skip
    again = feature_frame(source, ws.settings, _ask_points(source, cut - 60 * DAY, cut))
    assert full.equals(again)
    # The same rows do count for a point after them.
    point = ibis.memtable(pd.DataFrame({"point_id": ["p"], "account_id": [acct], "contact_id": [who],
                                        "at": [later + DAY]}))  # fmt: skip
    after = feature_frame(source, ws.settings, point).iloc[0]
    assert after["detractor"] == 1
    assert after["recent_renewal"] == 1
    assert after["advocacy_recency"] > 0.99


def test_account_without_current_contacts_is_an_account_row(demo_company: Company) -> None:
    ws = demo_company.ws
    a = assess(ws.source(), ws.settings, as_of=demo_company.as_of)
    a.release()
    cutoff = end_of_day(demo_company.as_of, ws.settings.calendar)
    current = ws.query("SELECT contact_id, account_id FROM contacts WHERE left_at IS NULL OR left_at > ?", (cutoff,))  # fmt: skip
    bare = a.frame[a.frame["contact_id"].isna()]
    assert len(bare) > 0
    assert bare["account_id"].is_unique
    assert not bare["account_id"].isin(current["account_id"]).any()
    people = a.frame[a.frame["contact_id"].notna()]
    assert people["contact_id"].is_unique
    assert people["contact_id"].isin(current["contact_id"]).all()
    assert people["account_id"].isin(current["account_id"]).all()


def test_bad_settings_are_user_errors(demo_company: Company) -> None:
    from advocacy.errors import UserError

    settings = demo_company.ws.settings
    for bad in ({"weights": {"nope": 1}}, {"values": {"review": "x"}}, {"holdout_share": 1.5},
                {"typo": 1}):  # fmt: skip
        with pytest.raises(UserError):
            CandidateSettings.from_settings(replace(settings, candidates=bad))
    with pytest.raises(UserError, match="ask type"):
        CandidateRequest.create(ask_type="survey")


def test_documented_settings_are_the_defaults() -> None:
    """The commented `[candidates]` block of a new advocacy.toml, uncommented, changes nothing."""
    import tomllib

    from advocacy.config import DEFAULT_CONFIG, Settings, parse_settings

    block = DEFAULT_CONFIG.split("# [candidates]")[1]
    lines = ["[candidates]"] + [
        line[2:].split("  #")[0] for line in block.splitlines()[1:] if line.startswith("# ")
    ]
    settings = parse_settings(tomllib.loads("\n".join(lines)))
    assert settings.candidates["weights"]
    assert CandidateSettings.from_settings(settings) == CandidateSettings()
    assert CandidateSettings.from_settings(Settings()) == CandidateSettings()
