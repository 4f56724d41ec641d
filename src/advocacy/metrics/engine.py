"""`query(request) -> rows` and `explain(request) -> SQL` over any Ibis source."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import Any

import ibis
import pandas as pd

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.bootstrap import NotBootstrappable, Replay, bootstrap_interval
from advocacy.metrics.catalog import get_metric
from advocacy.metrics.compare import compare_kind, compare_previous, compare_rest
from advocacy.metrics.context import ALL, NONE_GROUP, Context, build_context, with_cohort
from advocacy.metrics.families_events import EVENT_FAMILIES
from advocacy.metrics.families_rollup import ROLLUP_FAMILIES
from advocacy.metrics.grouping import Work, rest_of, run, run_all
from advocacy.metrics.rollup import build_rollup
from advocacy.metrics.source import Source
from advocacy.metrics.spec import Basis, Family, MetricDef, MetricRequest, fingerprint

COUNTED_RULE = "all types but other; reviews rated >= 4 or unrated; social mentions with sentiment >= 0 or none"
# Families whose value is not a function of per-account sums: their analytic interval stays.
NOT_RESAMPLED = {
    Family.TICKET_MEDIAN: "a median: the order-statistic interval is exact",
    Family.CONCENTRATION: "a rank statistic of the top accounts",
}
ROW_FIELDS = [
    "metric", "period_start", "period_end", "period_label", "value", "numerator", "denominator",
    "n", "ci_low", "ci_high", "basis", "low_n", "pending_n", "partial", "as_of", "fingerprint",
    "extra",
]  # fmt: skip


def _basis(request: MetricRequest, metric: MetricDef) -> Basis:
    basis = request.basis or metric.default_basis
    if basis not in metric.bases:
        allowed = ", ".join(b.value for b in metric.bases)
        raise UserError(
            f"{metric.name} cannot be computed on the {basis.value} basis; it allows: {allowed}"
        )
    return basis


def definition(ctx: Context, metric: MetricDef, basis: Basis) -> dict[str, Any]:
    """What makes two results comparable: everything but the period instance."""
    req = ctx.request
    return {
        "metric": metric.as_dict(), "basis": basis.value, "grain": req.grain.value,
        "window": req.window.value, "dimension": req.by, "segment_as_of": req.segment_as_of,
        "filters": list(req.filters), "calendar": asdict(ctx.settings.calendar),
        "csat_satisfied": ctx.settings.csat_satisfied, "counted_actions": COUNTED_RULE,
        "include_surveys": req.include_surveys, "confidence": ctx.settings.stats.confidence,
    }  # fmt: skip


def _compute(ctx: Context, metrics: list[MetricDef]) -> list[tuple[MetricDef, Basis, pd.DataFrame]]:
    bases = [(m, _basis(ctx.request, m)) for m in metrics]
    rollup_metrics = [m for m in metrics if m.family in ROLLUP_FAMILIES]
    rollup = build_rollup(ctx, rollup_metrics).cache() if rollup_metrics else None

    def work(metric: MetricDef, basis: Basis) -> Work | pd.DataFrame:
        if metric.family in ROLLUP_FAMILIES:
            return ROLLUP_FAMILIES[metric.family](ctx, rollup, metric, basis)
        return EVENT_FAMILIES[metric.family](ctx, metric, basis)

    try:
        if ctx.request.ci == "bootstrap":
            frames = [
                _bootstrapped(ctx, metric, partial(_run_one, ctx, work, metric, basis))
                for metric, basis in bases
            ]
        else:
            # Every metric's aggregation requests, and the active accounts per group that
            # counts need for their zero rows, answered round by round, one query a round.
            works = [work(metric, basis) for metric, basis in bases]
            if any(_is_count(m) for m in metrics):
                works.append(ctx.population_work(rollup))
            frames = run_all(ctx, works)[: len(bases)]
    finally:
        if rollup is not None:
            rollup.release()
    return [(metric, basis, frame) for (metric, basis), frame in zip(bases, frames, strict=True)]


def _run_one(
    ctx: Context,
    work: Callable[[MetricDef, Basis], Work | pd.DataFrame],
    metric: MetricDef,
    basis: Basis,
) -> pd.DataFrame:
    return run(ctx, work(metric, basis))


def _bootstrapped(
    ctx: Context, metric: MetricDef, compute: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """The metric with account-cluster bootstrap intervals, or analytic ones where it can't be."""
    stats = ctx.settings.stats
    if metric.family in NOT_RESAMPLED:
        ctx.notes.append(f"{metric.name}: analytic interval kept ({NOT_RESAMPLED[metric.family]})")
        return compute()

    def replayed(state: Replay) -> pd.DataFrame:
        ctx.replay = state
        try:
            return compute()
        finally:
            ctx.replay = None

    try:
        return bootstrap_interval(
            replayed, replicates=stats.bootstrap_replicates, seed=stats.bootstrap_seed,
            confidence=stats.confidence,
        )  # fmt: skip
    except NotBootstrappable as exc:
        ctx.notes.append(f"{metric.name}: analytic interval kept ({exc})")
        return compute()


def _rows(ctx: Context, metric: MetricDef, basis: Basis, frame: pd.DataFrame) -> pd.DataFrame:
    periods = pd.DataFrame(
        {
            "period_label": [p.label for p in ctx.periods],
            "period_start": [p.start_date for p in ctx.periods],
            "period_end": [p.end_date for p in ctx.periods],
            "partial": [p.end > ctx.cutoff for p in ctx.periods],
            "_order": range(len(ctx.periods)),
        }
    )
    if _is_count(metric):
        frame = _with_zero_rows(ctx, frame)
    if metric.family in REVENUE_CHANGE:
        frame = frame[frame["period_label"].isin(ctx.revenue_periods)]
    rows = periods.merge(frame, on="period_label", how="inner")
    if not _is_count(metric):
        # No row iff the population is empty: no units, settled or pending.
        rows = rows[(rows["n"].fillna(0) > 0) | (rows["pending_n"].fillna(0) > 0)]
    rows.insert(0, "metric", metric.name)
    rows["basis"] = basis.value
    rows["low_n"] = rows["n"].fillna(0) < ctx.settings.stats.min_n
    rows["as_of"] = ctx.as_of
    rows["fingerprint"] = fingerprint(definition(ctx, metric, basis))
    rows["extra"] = [
        json.dumps(e, default=float) if isinstance(e, dict) else None for e in rows["extra"]
    ]
    by = ctx.request.by
    if by is not None:
        rest = [rest_of(g) for g in rows["grp"]]  # --compare rest: "everyone but the group"
        rows[by] = [
            (None if g == ALL else g) if r is None else r
            for r, g in zip(rest, rows["grp"], strict=True)
        ]
        rows["_rest"] = [r is not None for r in rest]
        rows["_total"] = rows[by].isna()
        rows = rows.sort_values(["_order", "_total", by], kind="stable", key=_natural(by))
    else:
        rows = rows.sort_values("_order", kind="stable")
    rows = rows.rename(columns={"se": "_se"})  # for --compare only, dropped from the result
    cols = ROW_FIELDS[:4] + ([by] if by else []) + ROW_FIELDS[4:] + ["_se"]
    return rows[cols + (["_rest"] if by else [])].reset_index(drop=True)


def _natural(by: str) -> Callable[[pd.Series], pd.Series]:
    """Sort key: a numeric dimension's groups by value (20 before 100), `(none)` last; others
    as text."""

    def key(column: pd.Series) -> pd.Series:
        if column.name != by:
            return column
        named = column.notna() & (column != NONE_GROUP)
        numbers = pd.to_numeric(column.where(named), errors="coerce")
        return numbers if numbers[named].notna().all() and named.any() else column

    return key


def _is_count(metric: MetricDef) -> bool:
    return metric.unit.value in ("count", "currency") and metric.family.value != "bridge"


#: Metrics of a change in revenue over the period: no row before one of its months has ended.
REVENUE_CHANGE = (Family.RETENTION, Family.BRIDGE)


def _with_zero_rows(ctx: Context, frame: pd.DataFrame) -> pd.DataFrame:
    """A count is 0, not missing, where the group has active accounts but nothing happened."""
    population = ctx.population_groups()
    # Not the rests' (--compare rest): a rest has events wherever the total has more than its
    # group, so its row comes from the count itself, never a zero.
    population = population[population["grp"].map(rest_of).isna().to_numpy(dtype=bool)]
    if population.empty:  # no active accounts in the range: nothing is 0, the events stay
        merged = frame.copy()
    else:
        merged = population.merge(frame, on=["period_label", "grp"], how="outer")
        merged = merged.drop(columns=["active_n"])
    for col in ("value", "numerator", "n", "pending_n"):
        merged[col] = merged[col].fillna(0)
    return merged


def query(
    source: Source,
    settings: Settings,
    request: MetricRequest,
    *,
    extra: dict[str, MetricDef] | None = None,
) -> pd.DataFrame:
    """Compute the request's metrics; one row per metric × period × group (and total)."""
    metrics = [get_metric(name, extra) for name in request.metrics]
    # --compare previous also computes the period before the range, to compare the first with.
    lead = 1 if request.compare == "previous" else 0
    ctx = build_context(source, settings, request, lead=lead)
    active = None
    kinds = {m.name: compare_kind(m, _basis(request, m)) for m in metrics}
    try:
        frames = [_rows(ctx, m, b, f) for m, b, f in _compute(ctx, metrics)]
        if not any(len(f) for f in frames):
            ctx.notes.append(_empty_range(ctx, request, lead))
            if request.filters:
                ctx.notes.extend(_unmatched_filters(ctx))
        if request.compare == "rest" and "count" in kinds.values():
            active = ctx.population_groups()  # counts are compared per active account
    finally:
        ctx.release()
    if not frames:
        empty = pd.DataFrame(columns=ROW_FIELDS)
        empty.attrs["notes"] = ctx.notes
        return empty
    result = pd.concat(frames, ignore_index=True)
    rest = None
    if "_rest" in result:
        rest = result[result["_rest"].astype(bool)].drop(columns="_rest")
        result = result[~result["_rest"].astype(bool)].drop(columns="_rest")
        result = result.reset_index(drop=True)
    for col in ("value", "numerator", "denominator", "ci_low", "ci_high", "_se"):
        result[col] = pd.to_numeric(result[col], errors="coerce").astype("float64")
    result["n"] = pd.to_numeric(result["n"], errors="coerce").fillna(0).astype("int64")
    result["pending_n"] = (
        pd.to_numeric(result["pending_n"], errors="coerce").fillna(0).astype("int64")
    )
    result.attrs["notes"] = ctx.notes
    result.attrs["definitions"] = {
        fingerprint(definition(ctx, m, _basis(request, m))): definition(ctx, m, _basis(request, m))
        for m in metrics
    }
    if request.compare == "previous":
        result = compare_previous(result, request.by, settings.stats.confidence, kinds)
        first = ctx.periods[lead].start_date  # the lead period was only for comparing
        result = result[result["period_start"] >= first].reset_index(drop=True)
    elif request.compare == "rest":
        assert request.by is not None
        assert rest is not None
        result = compare_rest(result, rest, request.by, settings.stats.confidence, kinds, active)
    return result.drop(columns="_se")


def _empty_range(ctx: Context, request: MetricRequest, lead: int) -> str:
    """Which range gave no rows, and, when it was the default, how to ask for another: data
    all in the current quarter is outside the default (complete quarters only)."""
    start, end = ctx.periods[lead].start_date, ctx.periods[-1].end_date
    note = f"no rows in [{start}, {end}) as of {ctx.as_of}"
    if request.start is None and request.end is None:
        note += " (the default range: the last 8 complete quarters; --from and --to set another)"
    return note


def _unmatched_filters(ctx: Context) -> list[str]:
    """Notes naming each filter no known account matches, with values that do occur."""
    notes = []
    known = with_cohort(ctx, ctx.known)
    for column, value in ctx.request.filters:
        values = known[column].cast("string")
        if int(known.filter(values == value).count().execute()):
            continue
        seen = sorted(
            str(v)
            for v in values.name("v").as_table().distinct().limit(21).to_pandas()["v"].dropna()
        )
        listed = ", ".join(seen[:20]) + (", …" if len(seen) > 20 else "")
        notes.append(f"--filter {column}={value}: no account has that value ({column}: {listed})")
    return notes


def explain(
    source: Source,
    settings: Settings,
    request: MetricRequest,
    *,
    extra: dict[str, MetricDef] | None = None,
) -> str:
    """The SQL of the request's shared rollup (the scan every metric then aggregates)."""
    metrics = [get_metric(name, extra) for name in request.metrics]
    for m in metrics:
        _basis(request, m)  # refuse what `query` would refuse
    ctx = build_context(source, settings, request)
    rollup_metrics = [m for m in metrics if m.family in ROLLUP_FAMILIES]
    try:
        return str(ibis.to_sql(build_rollup(ctx, rollup_metrics or metrics)))
    finally:
        ctx.release()
