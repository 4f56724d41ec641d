"""A report re-run later with `--as-of` gives the numbers the data of that day gave (DESIGN §4:
later rows are ignored; priority 2, the same on every re-run of a closed period).

The company is cut back to what it held at the end of an earlier day — facts after it dropped,
mutable facts (a ticket's response and resolution, an account's churn, a contact leaving)
undone — and imported into a second workspace through the real path. Every metric by segment ×
month must then be the same from the cut company as from the whole one with `as_of` that day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from advocacy.demo import GeneratedCompany
from advocacy.metrics.catalog import CATALOG
from tests.metrics.helpers import Company, row_differences

#: Each table's fact time: rows at or after the cutoff did not exist yet.
HAPPENED = {
    "accounts": "created_at", "survey_responses": "responded_at",
    "advocacy_actions": "occurred_at", "tickets": "opened_at", "asks": "asked_at",
    "ask_outcomes": "at", "rewards": "given_at", "milestones": "occurred_at",
    "product_changes": "released_at", "revenue": "month", "usage": "week",
}  # fmt: skip
#: Later changes to rows that did exist: not known yet at the cutoff.
NOT_YET = {
    "tickets": ("first_response_at", "resolved_at"), "accounts": ("churned_at",),
    "contacts": ("left_at",),
}  # fmt: skip


def _as_it_was(table: str, frame: pd.DataFrame, cutoff: datetime, gone: set[str]) -> pd.DataFrame:
    """`frame` as it stood at `cutoff` (accounts in `gone` did not exist yet)."""
    if table in HAPPENED:
        at = pd.to_datetime(frame[HAPPENED[table]])
        # A revenue month or usage week counts once it has ended by the cutoff.
        span = {"revenue": pd.DateOffset(months=1), "usage": pd.Timedelta(days=7)}
        frame = frame[(at + span[table] if table in span else at) <= pd.Timestamp(cutoff)]
    if "account_id" in frame.columns and table != "accounts":
        frame = frame[~frame["account_id"].isin(gone)]
    for column in NOT_YET.get(table, ()):
        late = pd.to_datetime(frame[column]) >= pd.Timestamp(cutoff)
        frame = frame.assign(**{column: frame[column].mask(late)})
        if table == "tickets" and column == "resolved_at":
            frame = frame.assign(status=frame["status"].mask(late, "open"))
    return frame


def _cut(generated: GeneratedCompany, folder: Path, cutoff: datetime) -> dict[str, Path]:
    """The company's files cut back to `cutoff`, one Parquet file per table."""
    tables = {name: pq.read_table(parts).to_pandas() for name, parts in generated.files.items()}
    created = pd.to_datetime(tables["accounts"]["created_at"])
    gone = set(tables["accounts"].loc[created >= pd.Timestamp(cutoff), "account_id"])
    kept_asks = None
    cut = {}
    for name, frame in tables.items():
        frame = _as_it_was(name, frame, cutoff, gone)
        if name == "asks":
            kept_asks = set(frame["ask_id"])
        if name == "ask_outcomes":
            assert kept_asks is not None  # asks are imported (and cut) before their outcomes
            frame = frame[frame["ask_id"].isin(kept_asks)]
        path = folder / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        cut[name] = path
    return cut


def test_a_later_run_with_as_of_gives_the_numbers_of_that_day(
    company: Company, tmp_path: Path
) -> None:
    from advocacy.workspace import init_workspace

    first = company.as_of.replace(day=1)
    for _ in range(3):
        first = (first - timedelta(days=1)).replace(day=1)
    then = first - timedelta(days=1)  # the last day of a month, 3 months before as_of
    cutoff = datetime.combine(first, datetime.min.time())
    files = _cut(company.generated, tmp_path, cutoff)
    names = [m.name for m in CATALOG]
    options = {"by": "segment", "period": "month", "start": date(then.year - 1, 1, 1),
               "end": first, "as_of": then}  # fmt: skip
    with init_workspace(tmp_path / "ws") as ws:
        for table, path in files.items():
            ws.import_files([path], table=table)
        cut = ws.metrics(names, **options)
    later = company.ws.metrics(names, **options)
    keys = ["metric", "period_label", "segment"]
    problems = row_differences(later, cut, keys, ("later", "then"),
                               as_text=("fingerprint", "as_of", "partial"))  # fmt: skip
    assert not problems, "\n".join(problems[:20])
    # The cut removed facts the later run had to ignore, in the measured tables.
    whole = company.ws.query(
        "SELECT count(*) AS n FROM tickets WHERE resolved_at >= ? AND opened_at < ?",
        [cutoff, cutoff],
    )
    assert int(whole["n"].iloc[0]) > 0
    assert set(later["metric"]) == set(names)
