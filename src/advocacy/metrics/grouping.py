"""Grouping helpers: every metric is computed per (period, group) and for the total."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from advocacy.metrics.context import ALL, Context

GROUP_KEYS = ["period_label", "grp"]


def with_totals(ctx: Context, table: Any) -> Any:
    """Rows once under their group and once under the total (when grouping by a dimension)."""
    if ctx.request.by is None:
        return table
    return table.union(table.mutate(grp=ibis.literal(ALL)))


def aggregate(ctx: Context, table: Any, **aggs: Any) -> pd.DataFrame:
    """GROUP BY period and group (totals included) and pull the small result into pandas.

    Under `--ci bootstrap` the sums are also recorded per account, and replicates replay them
    reweighted instead of querying (metrics/bootstrap.py).
    """
    replay = ctx.replay
    if replay is not None and replay.replaying:
        replayed: pd.DataFrame = replay.replay()
        return replayed
    frame: pd.DataFrame = with_totals(ctx, table).group_by(GROUP_KEYS).agg(**aggs).to_pandas()
    if replay is not None:
        if "account_id" not in table.columns:
            from advocacy.metrics.bootstrap import NotBootstrappable

            raise NotBootstrappable("the rows have no account to resample")
        keys = [*GROUP_KEYS, "account_id"]
        per_account = with_totals(ctx, table).group_by(keys).agg(**aggs).to_pandas()
        replay.record(per_account, list(aggs))
    return frame


def attach_group(ctx: Context, table: Any) -> Any:
    """Give event rows (with account_id and period_label) their account's group in that period."""
    groups = ctx.groups
    joined = table.join(groups, ["account_id", "period_label"])
    return joined.drop(*[c for c in joined.columns if c.endswith("_right")])


def drop_right(table: Any) -> Any:
    """Drop the `*_right` key copies an Ibis left join on same-named keys keeps."""
    extra = [c for c in table.columns if c.endswith("_right")]
    return table.drop(*extra) if extra else table
