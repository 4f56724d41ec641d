"""Order statistics found through bins equal those of a plain sort (numpy), ties and all."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from advocacy.metrics.context import ALL
from advocacy.metrics.order_stats import order_statistics, value_bin


def _values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Hours as the demo has them, with the awkward cases mixed in: ties (whole and half
    hours), zeros, negatives (a response stamped before the ticket) and far outliers."""
    hours = rng.lognormal(1.0, 1.5, n)
    tied = rng.random(n) < 0.3
    hours[tied] = np.round(hours[tied] * 2) / 2
    hours[rng.random(n) < 0.05] = 0.0
    negative = rng.random(n) < 0.05
    hours[negative] = -rng.lognormal(0.0, 1.0, negative.sum())
    hours[rng.random(n) < 0.01] = 1e5
    return hours


@pytest.fixture
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    parts = []
    sizes = {"big": 20_000, "mid": 301, "one": 1, "same": 50}
    for period in ("2025-Q1", "2025-Q2"):
        for grp, n in sizes.items():
            h = np.full(n, 7.25) if grp == "same" else _values(rng, n)
            parts.append(pd.DataFrame({"period_label": period, "grp": grp, "h": h}))
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[rng.random(len(frame)) < 0.02, "h"] = np.nan  # not counted (open tickets)
    return frame


def _expected(rows: pd.DataFrame, wanted: pd.DataFrame) -> np.ndarray:
    out = []
    for w in wanted.itertuples():
        mine = rows[rows["period_label"] == w.period_label]
        if w.grp != ALL:
            mine = mine[mine["grp"] == w.grp]
        values = np.sort(mine["h"].dropna().to_numpy())
        out.append(values[w.r - 1] if w.r <= len(values) else np.nan)
    return np.array(out)


def _wanted(rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    counts = rows.dropna().groupby(["period_label", "grp"]).size()
    totals = rows.dropna().groupby("period_label").size()
    wanted = []
    for (period, grp), n in [*counts.items(), *(((p, ALL), n) for p, n in totals.items())]:
        ranks = {1, n, n + 1, (n + 1) // 2, n // 2 + 1, *rng.integers(1, n + 1, 20).tolist()}
        wanted += [{"period_label": period, "grp": grp, "r": int(r)} for r in sorted(ranks)]
    return pd.DataFrame(wanted)


def test_ranks_match_a_sort_with_ties_negatives_and_totals(rows: pd.DataFrame) -> None:
    wanted = _wanted(rows, np.random.default_rng(3))
    table = ibis.duckdb.connect().create_table("t", rows)
    got = order_statistics(table, wanted, with_total=True)
    expected = _expected(rows, wanted)
    assert len(got) == len(wanted)
    merged = wanted.merge(got, on=["period_label", "grp", "r"], how="left")
    np.testing.assert_array_equal(merged["value"].to_numpy(), expected)
    assert np.isnan(expected).sum() == len(rows.groupby(["period_label", "grp"])) + 2  # r = n + 1


def test_without_a_dimension_the_only_group_is_ranked_alone(rows: pd.DataFrame) -> None:
    one = rows[rows["grp"] == "mid"].assign(grp=ALL)
    wanted = _wanted(one, np.random.default_rng(4))
    wanted = wanted.drop_duplicates(["period_label", "grp", "r"])
    got = order_statistics(ibis.memtable(one), wanted, with_total=False)
    merged = wanted.merge(got, on=["period_label", "grp", "r"], how="left")
    np.testing.assert_array_equal(merged["value"].to_numpy(), _expected(one, wanted))


def test_bins_never_decrease_as_values_grow() -> None:
    values = np.sort(_values(np.random.default_rng(5), 5000))
    values = np.concatenate([values, np.nextafter(values, np.inf), [0.0, -0.0, 1e-300]])
    values.sort()
    frame = pd.DataFrame({"h": values})
    binned = ibis.memtable(frame).select("h", b=value_bin(ibis._.h)).to_pandas()
    binned = binned.sort_values("h", kind="stable")
    assert (np.diff(binned["b"].to_numpy()) >= 0).all()
    assert binned["b"].nunique() > 100  # bins do split the values
