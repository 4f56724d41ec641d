"""Grouping helpers: every metric is computed per (period, group) and for the total."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from advocacy.metrics.context import ALL, Context

GROUP_KEYS = ["period_label", "grp"]
#: Separates a group from a bootstrap replicate's number inside `grp` (metrics/bootstrap.py).
REPLICATE_TAG = "\x1f"
#: `grp` of the row holding "everyone but group g" (REST + g), made under `--compare rest`.
REST = "\x1erest\x1e"
#: Aggregates whose total over all groups follows from the groups' own values.
_FROM_GROUPS = {"Sum": "sum", "CountStar": "sum", "Count": "sum", "Min": "min", "Max": "max"}


@dataclass(frozen=True)
class Agg:
    """A GROUP BY period and group (totals included) that a metric's computation asks for.

    Families are generators that yield these and receive the aggregated frame back
    (`g = yield Agg(table, {...})`), so the engine can answer the requests of every metric of
    a request in one query (`run_all`), or one at a time where it must (`run`).
    """

    table: Any
    aggs: dict[str, Any]


def request(table: Any, **aggs: Any) -> Agg:
    """`g = yield request(table, n=_.count(), ...)` in a family: `aggregate`, deferred."""
    return Agg(table, aggs)


#: A metric's computation: yields aggregation requests, returns its result frame.
Work = Generator[Agg, pd.DataFrame, pd.DataFrame]


def run(ctx: Context, work: Work | pd.DataFrame) -> pd.DataFrame:
    """Drive one computation, each request its own query (what `--ci bootstrap` replays)."""
    if isinstance(work, pd.DataFrame):
        return work
    answer: pd.DataFrame | None = None
    while True:
        try:
            request = next(work) if answer is None else work.send(answer)
        except StopIteration as stop:
            frame: pd.DataFrame = stop.value
            return frame
        answer = aggregate(ctx, request.table, **request.aggs)


def run_all(ctx: Context, works: list[Work | pd.DataFrame]) -> list[pd.DataFrame]:
    """Drive many computations in lockstep: each round's requests become one query."""
    done: dict[int, pd.DataFrame] = {}
    waiting: dict[int, tuple[Work, Agg]] = {}

    def step(i: int, work: Work, answer: pd.DataFrame | None) -> None:
        try:
            request = next(work) if answer is None else work.send(answer)
        except StopIteration as stop:
            done[i] = stop.value
        else:
            waiting[i] = (work, request)

    for i, work in enumerate(works):
        if isinstance(work, pd.DataFrame):
            done[i] = work
        else:
            step(i, work, None)
    while waiting:
        batch = list(waiting.items())
        waiting.clear()
        answers = aggregate_many(ctx, [request for _, (_, request) in batch])
        for (i, (work, _)), answer in zip(batch, answers, strict=True):
            step(i, work, answer)
    return [done[i] for i in range(len(works))]


def aggregate_many(ctx: Context, requests: list[Agg]) -> list[pd.DataFrame]:
    """`aggregate` for many requests, as one UNION ALL query where their results allow.

    Each branch is the GROUP BY of the requests over one relation, their values cast to
    float64 into shared column names, with a tag; totals follow from the groups in pandas, as
    in `aggregate`. Requests whose totals don't follow from their groups, or with non-numeric
    results (a boolean does not cast to float on PostgreSQL), run alone.
    """
    out: dict[int, pd.DataFrame] = {}
    plans: list[tuple[int, list[str], dict[str, str]]] = []
    for i, request in enumerate(requests):
        plan = _batch_plan(ctx, request)
        if plan is None:
            out[i] = aggregate(ctx, request.table, **request.aggs)
        else:
            plans.append((i, *plan))
    if len(plans) == 1:
        i = plans[0][0]
        out[i] = aggregate(ctx, requests[i].table, **requests[i].aggs)
    elif plans:
        # Requests over the same rows (the same relation) share one GROUP BY: one scan.
        shared: dict[Any, list[tuple[int, list[str], dict[str, str]]]] = {}
        for batched in plans:
            shared.setdefault(requests[batched[0]].table.op(), []).append(batched)
        groups = list(shared.values())
        width = max(sum(len(names) for _, names, _ in group) for group in groups)
        branches = []
        for tag, group in enumerate(groups):
            table = requests[group[0][0]].table
            exprs = [e for i, _, _ in group for e in table.bind(**requests[i].aggs)]
            grouped = table.group_by(GROUP_KEYS).agg(**{f"_a{k}": e for k, e in enumerate(exprs)})
            values = {f"_v{k}": grouped[f"_a{k}"].cast("float64") for k in range(len(exprs))}
            values |= {f"_v{k}": ibis.null("float64") for k in range(len(exprs), width)}
            branches.append(grouped.select(*GROUP_KEYS, _tag=ibis.literal(tag, "int64"), **values))
        union = branches[0] if len(branches) == 1 else ibis.union(*branches, distinct=False)
        frame = union.to_pandas()
        for tag, group in enumerate(groups):
            rows, offset = frame.loc[frame["_tag"] == tag], 0
            for i, names, combine in group:
                columns = [f"_v{offset + k}" for k in range(len(names))]
                offset += len(names)
                part = rows[[*GROUP_KEYS, *columns]].set_axis([*GROUP_KEYS, *names], axis=1)
                part = part.reset_index(drop=True)
                out[i] = (
                    _with_group_totals(ctx, part, combine) if ctx.request.by is not None else part
                )
    return [out[i] for i in range(len(requests))]


def _batch_plan(ctx: Context, request: Agg) -> tuple[list[str], dict[str, str]] | None:
    """(result names, how totals combine) if the request can join a batch, else None."""
    if ctx.replay is not None:
        return None
    bound = request.table.bind(**request.aggs)
    if not all(e.type().is_numeric() for e in bound):
        return None
    combine = _combinable(request.table, request.aggs) if ctx.request.by is not None else {}
    if combine is None:
        return None
    return [e.get_name() for e in bound], combine


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
        combine = _combinable(table, aggs) if _wants_rest(ctx) else None
        return replayed if combine is None else with_rest(replayed, combine)
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
    return _with_group_totals(ctx, groups, combine)


def _with_group_totals(ctx: Context, groups: pd.DataFrame, combine: dict[str, str]) -> pd.DataFrame:
    """The group rows and, per period, the total row computed from them (and, under
    `--compare rest`, each group's rest)."""
    by_period = groups.groupby("period_label", sort=False)
    totals = pd.DataFrame(
        {
            # SQL semantics: the sum of nothing but NULLs is NULL, not 0.
            name: by_period[name].sum(min_count=1) if how == "sum" else by_period[name].agg(how)
            for name, how in combine.items()
        }
    ).reset_index()
    totals["grp"] = ALL
    out = pd.concat([groups, totals[groups.columns]], ignore_index=True)
    return with_rest(out, combine) if _wants_rest(ctx) else out


def _wants_rest(ctx: Context) -> bool:
    return ctx.request.compare == "rest" and ctx.request.by is not None


def with_rest(frame: pd.DataFrame, combine: dict[str, str]) -> pd.DataFrame:
    """Add, per group row, the row of everyone else (`grp` = REST + group): its sums are the
    total's minus the group's, since each unit is in one group. Its minima and maxima are the
    total's, the only bound the groups give. Families then compute the rest's value and
    interval with their own arithmetic, which is what `--compare rest` compares against.
    Bootstrap replicates (tagged groups) get rests within their replicate."""
    if frame.empty:
        return frame
    parts = frame["grp"].astype(str).str.partition(REPLICATE_TAG)
    key = (frame["period_label"].astype(str) + REPLICATE_TAG + parts[2]).to_numpy()
    is_total = (parts[0] == ALL).to_numpy()
    groups: pd.DataFrame = frame.loc[~is_total]
    totals = frame.loc[is_total].set_axis(key[is_total]).reindex(key[~is_total])
    rest = groups.copy()
    for column, how in combine.items():
        total = totals[column].to_numpy(dtype="float64", na_value=np.nan)
        if how == "sum":
            rest[column] = total - groups[column].to_numpy(dtype="float64", na_value=np.nan)
        else:
            rest[column] = total
    # A replicate's tag stays at the end of `grp`, where bootstrap looks for it.
    rest["grp"] = [REST + str(g) for g in groups["grp"]]
    return pd.concat([frame, rest], ignore_index=True)


def rest_of(grp: Any) -> str | None:
    """The group whose rest this row is, or None for group and total rows."""
    text = str(grp)
    return text[len(REST) :] if text.startswith(REST) else None


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
    per_account, per_period = ctx.groups
    joined = drop_right(table.join(per_account, "account_id"))
    if per_period is None:
        return joined
    joined = joined.left_join(per_period, ["account_id", "period_label"])
    joined = joined.mutate(grp=ibis.coalesce(joined.grp_p, joined.grp))
    return drop_right(joined.drop("grp_p"))


def drop_right(table: Any) -> Any:
    """Drop the `*_right` key copies an Ibis left join on same-named keys keeps."""
    extra = [c for c in table.columns if c.endswith("_right")]
    return table.drop(*extra) if extra else table
