"""The support truth's population, recounted from the generated rows with pandas."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from advocacy.demo import GeneratedCompany


def _load(company: GeneratedCompany, table: str) -> pd.DataFrame:
    return pa.concat_tables([pq.read_table(p) for p in company.files[table]]).to_pandas()


def _bands_at(company: GeneratedCompany, index_dates: list[pd.Timestamp]) -> pd.Series:
    """Accounts per support band over account × index-date units: non-test accounts created
    before the index date; with a revenue row by its month, MRR > 0 in that month, else not
    churned before it. Band from CSAT (<= 3 of 5 unsatisfied) and tickets in the 180 days before."""
    accounts = _load(company, "accounts").query("not is_test")
    revenue = _load(company, "revenue")
    revenue["month"] = pd.to_datetime(revenue["month"])
    csat = _load(company, "survey_responses").query("survey == 'csat'")
    tickets = _load(company, "tickets")
    first = revenue.groupby("account_id")["month"].min()
    counts: dict[str, int] = {}
    for at in index_dates:
        known = accounts[accounts["created_at"] < at].set_index("account_id")
        billed = known.index.map(first).to_series(index=known.index) <= at
        paying = set(revenue.loc[(revenue["month"] == at) & (revenue["mrr"] > 0), "account_id"])
        dated = known["churned_at"].isna() | (known["churned_at"] >= at)
        active = known.index[np.where(billed, known.index.isin(paying), dated)]
        lookback = at - pd.Timedelta(days=180)
        recent = csat[(csat["responded_at"] >= lookback) & (csat["responded_at"] < at)]
        opened = tickets[(tickets["opened_at"] >= lookback) & (tickets["opened_at"] < at)]
        unsat = set(recent.loc[recent["score"] <= 3, "account_id"])
        rated, ticketed = set(recent["account_id"]), set(opened["account_id"])
        for account in active:
            band = (
                "unsatisfied" if account in unsat else "satisfied" if account in rated
                else "tickets_unrated" if account in ticketed else "no_tickets"
            )  # fmt: skip
            counts[band] = counts.get(band, 0) + 1
    return pd.Series(counts)


def test_support_truth_counts_the_accounts_active_at_each_index_date(
    small: GeneratedCompany,
) -> None:
    doc: dict[str, Any] = json.loads(small.truth_path.read_text())
    start, end = (pd.Timestamp(doc["default_range"][k]) for k in ("from", "to"))
    index_dates = list(pd.date_range(start, end, freq="3MS", inclusive="left"))
    assert len(index_dates) == 8
    truth = doc["effects"]["support_advocacy"]["accounts_by_band"]
    assert _bands_at(small, index_dates).to_dict() == truth
    assert min(truth.values()) > 0
