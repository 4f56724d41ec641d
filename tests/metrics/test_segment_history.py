"""Accounts that change segment inside the requested range are grouped as of each period start.

The engine keeps one group per account and overrides it per period only for accounts whose
history has a boundary between the first and the last period start; this company has accounts
on both sides of every such boundary, compared with the oracle's literal as-of-period-start rule. All metrics run as one request, so
their aggregations are batched (requests over the same rows share one GROUP BY).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
import pytest

from advocacy.demo import GeneratedCompany
from advocacy.metrics.catalog import CATALOG
from advocacy.workspace import Workspace
from tests.metrics.helpers import canonical_frames, differences, import_company
from tests.oracle.metrics_oracle import compute

START, END = date(2024, 10, 1), date(2026, 10, 1)
NEXT = {"smb": "mid_market", "mid_market": "enterprise", "enterprise": "smb"}
#: (every nth account, re-import dates): changes inside the range (between or at quarter
#: starts, twice for some), after the last quarter start, and before the range.
MOVES = [
    (7, [datetime(2025, 8, 15, 12)]),
    (11, [datetime(2025, 2, 10, 9), datetime(2026, 3, 5, 18)]),
    (13, [datetime(2026, 1, 1, 0)]),
    (17, [datetime(2026, 9, 15, 8)]),
    (19, [datetime(2024, 6, 1, 8)]),
]


def _moves(accounts: pd.DataFrame) -> list[tuple[datetime, pd.DataFrame]]:
    """Re-import files, each the changed accounts of one date, in date order."""
    files: dict[datetime, list[pd.DataFrame]] = {}
    current = accounts.set_index("account_id")["segment"].copy()
    for every, dates in MOVES:
        chosen = accounts.iloc[::every]
        chosen = chosen[chosen["segment"].isin(list(NEXT))]
        for when in dates:
            # A re-import older than the stored row would not apply (latest wins).
            movable = chosen[pd.to_datetime(chosen["updated_at"]) < pd.Timestamp(when)]
            rows = movable.copy()
            rows["segment"] = current[rows["account_id"]].map(NEXT).to_numpy()
            rows["updated_at"] = when
            current[rows["account_id"]] = rows["segment"].to_numpy()
            files.setdefault(when, []).append(rows)
    return [(when, pd.concat(parts)) for when, parts in sorted(files.items())]


@pytest.fixture(scope="module")
def moved(
    generated: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("moved")
    ws = import_company(generated, folder / "ws")
    accounts = pd.concat(pd.read_parquet(p) for p in generated.files["accounts"])
    for k, (_, rows) in enumerate(_moves(accounts)):
        path = folder / f"accounts-{k}.csv"
        rows.to_csv(path, index=False)
        ws.import_files([path], table="accounts")
    yield ws
    ws.close()


def test_some_accounts_change_segment_between_quarter_starts(moved: Workspace) -> None:
    starts = pd.date_range("2024-10-01", "2026-07-01", freq="QS")
    history = moved.query(
        "SELECT account_id, valid_from, valid_to FROM _account_history WHERE column_name = 'segment'"
    )
    inside = history["valid_from"].between(starts[0], starts[-1], inclusive="right")
    assert history.loc[inside, "account_id"].nunique() > 50
    assert (history["valid_from"] > starts[-1]).any()  # after the last quarter start
    assert (
        (history["valid_from"] > datetime(1900, 1, 1)) & (history["valid_from"] < starts[0])
    ).any()


@pytest.fixture(scope="module")
def results(moved: Workspace) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    names = [m.name for m in CATALOG]
    ours = moved.metrics(names, by="segment", start=START, end=END, as_of=date(2026, 9, 30))
    return ours, canonical_frames(moved)


@pytest.mark.parametrize(
    "metric",
    ["advocacy_rate", "referral_rate", "nps_coverage", "nps", "promoter_share", "passive_share",
     "csat", "csat_mean", "reviews", "referral_new_arr", "nrr", "grr", "logo_retention",
     "mrr_bridge", "ask_acceptance_rate", "asks_per_advocate", "first_response_hours",
     "reward_cost", "advocate_concentration"],
)  # fmt: skip
def test_groups_follow_the_history_of_each_period_start(
    results: tuple[pd.DataFrame, dict[str, pd.DataFrame]], metric: str
) -> None:
    ours, frames = results
    mine = ours[ours["metric"] == metric].reset_index(drop=True)
    theirs = compute(
        frames, metric=metric, start=START, end=END, by="segment", as_of=date(2026, 9, 30)
    )
    assert not mine.empty
    assert differences(mine, theirs, "segment") == []
