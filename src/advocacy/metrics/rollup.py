"""The shared account × period rollup: every metric of a request aggregates this one table.

Events are reduced to one row per account and period first (DESIGN §2: no DISTINCT counts over
raw events), then each metric is a GROUP BY over the rollup.
"""

from __future__ import annotations

from typing import Any

import ibis

from advocacy.metrics.context import (
    Context,
    active_by_date,
    first_paid,
    in_months,
    revenue_months,
)
from advocacy.metrics.grouping import attach_group, drop_right
from advocacy.metrics.spec import Family, MetricDef, Window

KEYS = ["account_id", "period_label"]


def counted(actions: Any) -> Any:
    """The counted-action rule (DESIGN §4): not `other`; good reviews; non-negative mentions."""
    return (
        (actions.action_type != "other")
        & ((actions.action_type != "review") | actions.rating.isnull() | (actions.rating >= 4))
        & (
            (actions.action_type != "social_mention")
            | actions.sentiment.isnull()
            | (actions.sentiment >= 0)
        )
    )


def in_window(ctx: Context, table: Any, column: str, *, known_only: bool = True) -> Any:
    """Rows of the request's accounts whose `column` falls in a period's window (and before
    as_of).

    `known_only=False` keeps every account's rows, for rows that get their group in
    `attach_group` later, which keeps only the request's accounts: a semi join less (on the
    largest tables, a second's work at scale 100).

    Joined on the row's UTC day (`Context.cal_days`), a column computed before the join: with
    the cast inside the join condition, DuckDB's join ordering turned one such join into a
    nested loop (new logos: 6 s instead of 0.3 s at scale 100).
    """
    if known_only:
        table = table.semi_join(ctx.accounts.select("account_id"), "account_id")
    days = ctx.cal_days()
    keyed = table.mutate(c_day=table[column].date())
    at = keyed[column]
    joined = keyed.join(days, ["c_day", at >= days.w_start, at < days.w_end])
    return joined.drop("c_day")


def action_column(metric: MetricDef) -> str:
    return f"m_{metric.name}"


def _action_agg(ctx: Context, metrics: list[MetricDef], families: set[Family]) -> Any:
    acts = in_window(ctx, ctx.source.table("advocacy_actions"), "occurred_at", known_only=False)
    is_counted = counted(acts)
    # Counts are COUNT(*) FILTER, not SUM(CASE …): a BIGINT, where DuckDB's SUM of integers
    # is a 128-bit HUGEINT, slower to aggregate and to materialise in the rollup.
    aggs: dict[str, Any] = {}
    if Family.CONCENTRATION in families:
        aggs["counted"] = acts.count(where=is_counted)
    for m in metrics:
        types = m.param("action_types")
        hit = is_counted if m.param("counted", True) else ibis.literal(True)
        if types:
            hit = hit & acts.action_type.isin(list(types))
        aggs[action_column(m)] = acts.count(where=hit)
    if Family.EVENT_MEAN in families:
        review = (acts.action_type == "review") & acts.rating.notnull()
        aggs["rating_n"] = acts.count(where=review)
        aggs["rating_sum"] = review.ifelse(acts.rating, 0.0).sum()
        aggs["rating_sq"] = review.ifelse(acts.rating * acts.rating, 0.0).sum()
    return acts.group_by(KEYS).agg(**aggs)


def satisfied(ctx: Context, r: Any) -> Any:
    """The one CSAT threshold: top2 = score ≥ max − 1 on scales of 5+ points, else top box."""
    points = r.scale_max - r.scale_min + 1
    if ctx.settings.csat_satisfied == "top1":
        return r.score >= r.scale_max
    return ((points >= 5) & (r.score >= r.scale_max - 1)) | (
        (points < 5) & (r.score >= r.scale_max)
    )


def survey_parts(ctx: Context, metrics: list[MetricDef]) -> set[str]:
    """Which survey sums the metrics read: `nps`, `csat`, `csat_mean`, and `latest` (each
    account's latest response, for the logo and arr bases: a window over the responses)."""
    parts: set[str] = set()
    for m in metrics:
        if m.family is Family.COVERAGE:
            parts.add("nps")
        elif m.family is Family.SURVEY_MEAN:
            parts.add("csat_mean")
        elif m.family in (Family.NPS, Family.SURVEY_SHARE):
            parts.add("nps" if m.family is Family.NPS else str(m.param("survey")))
            if (ctx.request.basis or m.default_basis).value != "response":
                parts.add("latest")
    return parts


def _survey_agg(ctx: Context, parts: set[str]) -> Any:
    r = in_window(ctx, ctx.source.table("survey_responses"), "responded_at", known_only=False)
    nps, csat = r.survey == "nps", r.survey == "csat"
    s = r.mutate(
        is_nps=nps,
        is_csat=csat,
        prom=nps & (r.score >= 9),
        det=nps & (r.score <= 6),
        sat=csat & satisfied(ctx, r),
    )
    latest = "latest" in parts
    if latest:
        rank = ibis.row_number().over(
            group_by=[s.account_id, s.period_label, s.survey],
            order_by=[ibis.desc(s.responded_at), ibis.desc(s.response_id)],
        )
        s = s.mutate(latest=rank == 0)
    aggs: dict[str, Any] = {}
    if "nps" in parts:
        aggs.update(nps_n=s.count(where=s.is_nps), nps_prom=s.count(where=s.prom),
                    nps_det=s.count(where=s.det))  # fmt: skip
        if latest:
            aggs.update(last_nps_prom=s.count(where=s.prom & s.latest),
                        last_nps_det=s.count(where=s.det & s.latest),
                        last_nps=s.count(where=s.is_nps & s.latest))  # fmt: skip
    if parts & {"csat", "csat_mean"}:
        aggs["csat_n"] = s.count(where=s.is_csat)
    if "csat" in parts:
        aggs["csat_sat"] = s.count(where=s.sat)
        if latest:
            aggs.update(
                last_csat=s.count(where=s.is_csat & s.latest),
                last_csat_sat=s.count(where=s.sat & s.latest),
            )
    if "csat_mean" in parts:
        csat = s.is_csat  # the column: `s` is the table these aggregates read
        aggs.update(
            csat_score=csat.ifelse(s.score, 0.0).sum(),
            csat_norm=csat.ifelse((s.score - s.scale_min) / (s.scale_max - s.scale_min).nullif(0), 0.0).sum(),
            csat_min_lo=csat.ifelse(s.scale_min, None).min(), csat_max_lo=csat.ifelse(s.scale_min, None).max(),
            csat_min_hi=csat.ifelse(s.scale_max, None).min(), csat_max_hi=csat.ifelse(s.scale_max, None).max(),
        )  # fmt: skip
    return s.group_by(KEYS).agg(**aggs)


def _revenue_agg(ctx: Context) -> Any:
    """Per account and period: active by revenue, MRR of the start and end months, the ARR
    weight, paid before.

    The first paying month's MRR is an arg-min in the same GROUP BY, not a window over every
    revenue row (5× the rest at scale 10) nor a join back to the revenue: (account_id, month)
    is the revenue key, so the minimum month is never tied.
    """
    rev = revenue_months(ctx)
    joined = in_months(ctx, rev, "month", "r_start_month", "w_end_date")
    paying_in = (joined.month >= joined.w_start_date) & (joined.mrr > 0)
    aggs = {
        "paying": joined.count(where=paying_in),
        "mrr_start": (joined.month == joined.r_start_month).ifelse(joined.mrr, 0.0).sum(),
        "mrr_end": (joined.month == joined.end_month).ifelse(joined.mrr, 0.0).sum(),
        "first_in_mrr": joined.mrr.argmin(joined.month, where=paying_in),
        "r_start_month": joined.r_start_month.min(),
    }
    if ctx.request.window is Window.TTM:
        # A partial period's ttm start month moves back with its end month; the arr weight
        # stays the MRR of the month before the window.
        aggs["mrr_before"] = (joined.month == joined.start_month).ifelse(joined.mrr, 0.0).sum()
    per = joined.group_by(KEYS).agg(**aggs)
    first = first_paid(ctx).select("account_id", first_paid="first_month")
    per = drop_right(per.left_join(first, "account_id"))
    return per.select(
        *KEYS,
        "mrr_start",
        "mrr_end",
        *(["mrr_before"] if "mrr_before" in per.columns else []),
        # Active by revenue (`Context.active`): a paying month in the window.
        active=(per.paying > 0).ifelse(1, 0).cast("int64"),
        first_in_mrr=per.first_in_mrr.fill_null(0.0),
        paid_before=(per.first_paid < per.r_start_month).ifelse(1, 0),
    )


def build_rollup(ctx: Context, metrics: list[MetricDef]) -> Any:
    """The rollup for these metrics: its rows are the (account, period) pairs with something
    in a part (active, an action, a response, revenue), in their group, with only the parts
    the metrics need.

    Sparse on purpose: every family reads only rows with something in a part (active, a count
    or MRR above zero), so the pairs with nothing, a third at scale 10, are left out instead of
    joined through every part.
    """
    families = {m.family for m in metrics}
    revenue = families & {Family.RETENTION, Family.BRIDGE} or any(
        b.value == "arr" for b in _bases(ctx, metrics)
    )
    if revenue:
        # The revenue pass reads every paying month of the windows: it tells which accounts
        # are active by revenue, instead of a second pass over the revenue (`ctx.active`).
        parts = [_with_active_by_date(ctx, _revenue_agg(ctx))]
    else:
        parts = [ctx.active.mutate(active=ibis.literal(1, "int64"))]
    action_metrics = [m for m in metrics if m.family in (Family.ACCOUNT_RATE, Family.EVENT_COUNT)]
    if families & {
        Family.ACCOUNT_RATE,
        Family.EVENT_COUNT,
        Family.EVENT_MEAN,
        Family.CONCENTRATION,
    }:
        parts.append(_action_agg(ctx, action_metrics, families))
    if survey := survey_parts(ctx, metrics):
        parts.append(_survey_agg(ctx, survey))
    keyed = parts[0]
    for part in parts[1:]:
        keyed = _outer_join(keyed, part)
    r = attach_group(ctx, keyed)
    r = r.mutate(
        **{c: r[c].fill_null(0) for c in r.columns if c not in (*KEYS, "grp")
           and not c.startswith("csat_m")}
    )  # fmt: skip
    if revenue:
        before = r.mrr_before if "mrr_before" in r.columns else r.mrr_start
        r = r.mutate(
            arr_weight=12
            * ibis.cases((before > 0, before), (r.first_in_mrr > 0, r.first_in_mrr), else_=0.0)
        )
    return r


def _with_active_by_date(ctx: Context, revenue: Any) -> Any:
    """The revenue part and, stacked under it, the accounts without revenue that are active
    by the date rule (no revenue columns: they never share an account with the revenue)."""
    dated = active_by_date(ctx)
    empty = {c: ibis.null(revenue[c].type()) for c in revenue.columns if c not in (*KEYS, "active")}
    dated = dated.select(*KEYS, active=ibis.literal(1, "int64"), **empty)
    return revenue.union(dated.select(*revenue.columns), distinct=False)


def _outer_join(left: Any, right: Any) -> Any:
    """Both sides' (account, period) pairs, each with its parts (NULL where it has none)."""
    joined = left.outer_join(right, KEYS)
    keyed = joined.select(
        *(ibis.coalesce(joined[k], joined[f"{k}_right"]).name(k) for k in KEYS),
        *(c for c in joined.columns if c not in KEYS and not c.endswith("_right")),
    )
    # A view ends Ibis's join chain: the next join's keys are these coalesced columns.
    return keyed.view()


def _bases(ctx: Context, metrics: list[MetricDef]) -> list[Any]:
    return [ctx.request.basis or m.default_basis for m in metrics]
