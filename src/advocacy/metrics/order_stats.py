"""Exact order statistics per (period, group) without ranking every row.

A median's value and its distribution-free interval are a few order statistics of each group.
Ranking every row (a window sorted per group, the total's rows once more) was the costliest
query of the metric suite. Instead, two passes find them exactly:

1. count the rows per (period, group, bin), bins being ranges of the value;
2. in pandas, locate the bin holding each wanted rank and its rank within the bin, then rank
   only those bins' rows in the database.

Bins are ``floor(20 · sqrt(|h|))`` (mirrored below zero): square root, multiplication and floor
are correctly rounded on every backend (IEEE 754), so the bin number never decreases as the
value grows, and equal values share a bin. The total's counts are the sum of its groups'.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from advocacy.metrics.context import ALL
from advocacy.metrics.grouping import GROUP_KEYS

BIN_KEYS = [*GROUP_KEYS, "b"]
#: Bins per unit of sqrt(|value|): for hours, about 5 minutes wide at 1 h and 1 hour at 100 h.
BINS_PER_ROOT = 20


def value_bin(h: Any) -> Any:
    """The bin of `h` (an Ibis float column): monotone in `h`, negative values below zero."""
    root = (h.abs().sqrt() * float(BINS_PER_ROOT)).floor().cast("int64")
    return (h < 0).ifelse(-1 - root, root)


def order_statistics(t: Any, wanted: pd.DataFrame, *, with_total: bool) -> pd.DataFrame:
    """The `wanted` ranks' values of column `h` of `t`, per period and group.

    `t` has period_label, grp and h (NULL = not counted); `wanted` has period_label, grp and
    r (1-based ranks among the non-NULL values of the group; with `with_total`, grp ALL asks
    for the ranks among every group's values of the period). Returns `wanted` with a column
    `value` (NaN where the group has fewer than r values).
    """
    out = wanted.assign(value=np.nan)
    if wanted.empty:
        return out
    valued = t.filter(t.h.notnull()).select(*GROUP_KEYS, "h", b=value_bin(t.h))
    counts = valued.group_by(BIN_KEYS).agg(c=ibis._.count()).to_pandas()
    if with_total:
        totals = counts.groupby(["period_label", "b"], as_index=False)["c"].sum()
        counts = pd.concat([counts, totals.assign(grp=ALL)[counts.columns]], ignore_index=True)
    located = _locate(counts, wanted)
    if located.empty:
        return out
    bins = located[BIN_KEYS].drop_duplicates()
    is_total = (bins["grp"] == ALL) & with_total
    parts = []
    if (~is_total).any():
        mine = ibis.memtable(bins[~is_total].reset_index(drop=True))
        parts.append(valued.join(mine, BIN_KEYS).select(*BIN_KEYS, "h"))
    if is_total.any():
        # Every group's rows of the total's bins: the total ranks them all.
        total = ibis.memtable(bins.loc[is_total, ["period_label", "b"]].reset_index(drop=True))
        rows = valued.join(total, ["period_label", "b"])
        parts.append(rows.select("period_label", grp=ibis.literal(ALL), b=rows.b, h=rows.h))
    rows = parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)
    rank = ibis.row_number().over(group_by=[rows.period_label, rows.grp, rows.b], order_by=rows.h)
    ranked = rows.mutate(k=rank + 1)
    want = ibis.memtable(located[[*BIN_KEYS, "k"]].drop_duplicates().reset_index(drop=True))
    picked = ranked.join(want, [*BIN_KEYS, "k"]).select(*BIN_KEYS, "k", "h").to_pandas()
    values = located.merge(picked, on=[*BIN_KEYS, "k"], how="left")[[*GROUP_KEYS, "r", "h"]]
    out = wanted.merge(values, on=[*GROUP_KEYS, "r"], how="left")
    return out.rename(columns={"h": "value"})


def _locate(counts: pd.DataFrame, wanted: pd.DataFrame) -> pd.DataFrame:
    """(period_label, grp, r, b, k): the bin holding rank r of its group and r's rank within
    the bin; ranks beyond the group's count are left out."""
    counts = counts.sort_values(BIN_KEYS, kind="stable").reset_index(drop=True)
    counts["end"] = counts.groupby(GROUP_KEYS, sort=False)["c"].cumsum()
    counts["start"] = counts["end"] - counts["c"]  # rows before the bin
    ranks = wanted[wanted["r"] >= 1].astype({"r": "int64"})
    # The bin holding rank r is the last whose start is below r (starts rise within a group).
    located = pd.merge_asof(
        ranks.sort_values("r"),
        counts[[*BIN_KEYS, "start", "end"]].sort_values("start"),
        left_on="r", right_on="start", by=GROUP_KEYS, allow_exact_matches=False,
    )  # fmt: skip
    located = located[located["b"].notna() & (located["r"] <= located["end"])]
    # A rank wanted twice (the two middle ranks of an odd count) is looked up once.
    located = located.drop_duplicates([*GROUP_KEYS, "r"])
    located = located.astype({"b": "int64", "start": "int64"})
    return located.assign(k=located["r"] - located["start"])[[*GROUP_KEYS, "r", "b", "k"]]
