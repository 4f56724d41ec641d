"""Grouping helpers: every metric is computed per (period, group) and for the total."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from advocacy.metrics.context import ALL, Context

GROUP_KEYS = ["period_label", "grp"]
#: Aggregates whose total over all groups follows from the groups' own values.
_FROM_GROUPS = {"Sum": "sum", "CountStar": "sum", "Count": "sum", "Min": "min", "Max": "max"}


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
    frame = _grouped_with_totals(ctx, table, aggs)
    if replay is not None:
        if "account_id" not in table.columns:
            from advocacy.metrics.bootstrap import NotBootstrappable

            raise NotBootstrappable("the rows have no account to resample")
        keys = [*GROUP_KEYS, "account_id"]
        per_account = with_totals(ctx, table).group_by(keys).agg(**aggs).to_pandas()
        replay.record(per_account, list(aggs))
    return frame


def _grouped_with_totals(ctx: Context, table: Any, aggs: dict[str, Any]) -> pd.DataFrame:
    """Per period and group, plus the totals. Each account is in one group per period, so
    sums, counts, minima and maxima of the total are those of its groups: computed here from
    the group rows instead of aggregating every row a second time in the database."""
    combine = _combinable(table, aggs) if ctx.request.by is not None else None
    if combine is None:
        out: pd.DataFrame = with_totals(ctx, table).group_by(GROUP_KEYS).agg(**aggs).to_pandas()
        return out
    groups: pd.DataFrame = table.group_by(GROUP_KEYS).agg(**aggs).to_pandas()
    by_period = groups.groupby("period_label", sort=False)
    totals = pd.DataFrame(
        {
            # SQL semantics: the sum of nothing but NULLs is NULL, not 0.
            name: by_period[name].sum(min_count=1) if how == "sum" else by_period[name].agg(how)
            for name, how in combine.items()
        }
    ).reset_index()
    totals["grp"] = ALL
    return pd.concat([groups, totals[groups.columns]], ignore_index=True)


def _combinable(table: Any, aggs: dict[str, Any]) -> dict[str, str] | None:
    """How each aggregate's total follows from its groups' values, or None if one does not."""
    combine = {}
    for expr in table.bind(**aggs):
        op = expr.op()
        while type(op).__name__ == "Alias":
            op = op.arg
        how = _FROM_GROUPS.get(type(op).__name__)
        if how is None:
            return None
        combine[expr.get_name()] = how
    return combine


def attach_group(ctx: Context, table: Any) -> Any:
    """Give event rows (with account_id and period_label) their account's group in that period."""
    groups = ctx.groups
    joined = table.join(groups, ["account_id", "period_label"])
    return joined.drop(*[c for c in joined.columns if c.endswith("_right")])


def drop_right(table: Any) -> Any:
    """Drop the `*_right` key copies an Ibis left join on same-named keys keeps."""
    extra = [c for c in table.columns if c.endswith("_right")]
    return table.drop(*extra) if extra else table
