"""`recommend` on the scale-1 demo company: one ask per account and contact, eligible under the
policy (checked again, row by row), for a moment of the lookback window."""

from __future__ import annotations

from datetime import timedelta

import ibis
import pandas as pd
import pytest

from advocacy.metrics.calendar import end_of_day
from advocacy.program.policy import Policy, blocking
from advocacy.program.recommend import MOMENTS
from advocacy.program.scoring import DEFAULT_VALUES
from tests.metrics.helpers import Company


@pytest.fixture(scope="module")
def recs(demo_company: Company) -> pd.DataFrame:
    return demo_company.ws.recommend(as_of=demo_company.as_of)


def test_one_per_account_and_contact(recs: pd.DataFrame) -> None:
    assert len(recs) > 50
    assert recs["account_id"].is_unique
    assert recs["contact_id"].dropna().is_unique
    assert list(recs["expected_value"]) == sorted(recs["expected_value"], reverse=True)
    values = recs["ask_type"].map(DEFAULT_VALUES)
    assert (recs["expected_value"] - recs["probability"] * values).abs().max() < 1e-12
    assert all(t in MOMENTS[m] for m, t in zip(recs["moment"], recs["ask_type"], strict=True))


def test_every_recommendation_is_eligible(demo_company: Company, recs: pd.DataFrame) -> None:
    ws = demo_company.ws
    at = end_of_day(demo_company.as_of, ws.settings.calendar)
    requests = ibis.memtable(
        pd.DataFrame(
            {
                "request_id": [str(i) for i in range(len(recs))],
                "account_id": recs["account_id"],
                "contact_id": recs["contact_id"],
                "ask_type": recs["ask_type"],
                "at": [at] * len(recs),
            }
        )
    )
    rows = blocking(ws.source(), Policy.from_settings(ws.settings), requests).execute()
    assert rows.empty, rows.head()


def test_moments_are_recent_and_real(demo_company: Company, recs: pd.DataFrame) -> None:
    ws = demo_company.ws
    at = end_of_day(demo_company.as_of, ws.settings.calendar)
    stamps = pd.to_datetime(recs["moment_at"])
    assert ((stamps < at) & (stamps >= at - timedelta(days=14))).all()
    named = recs[recs["milestone_id"].notna()]
    assert len(named) > 0
    ms = ws.query("SELECT milestone_id, account_id, milestone_type FROM milestones")
    joined = named.merge(ms, on="milestone_id")
    assert len(joined) == len(named)
    assert (joined["account_id_x"] == joined["account_id_y"]).all()
    assert (joined["moment"] == joined["milestone_type"]).all()
    contacts = ws.query("SELECT contact_id, account_id FROM contacts")
    people = recs[recs["contact_id"].notna()].merge(contacts, on="contact_id")
    assert (people["account_id_x"] == people["account_id_y"]).all()
