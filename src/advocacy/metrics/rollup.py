"""The shared account × period rollup: every metric of a request aggregates this one table.

Events are reduced to one row per account and period first (DESIGN §2: no DISTINCT counts over
raw events), then each metric is a GROUP BY over the rollup.
"""

from __future__ import annotations

from typing import Any

import ibis
from ibis import _

from advocacy.metrics.context import Context
from advocacy.metrics.grouping import drop_right
from advocacy.metrics.spec import Family, MetricDef

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


def in_window(ctx: Context, table: Any, column: str) -> Any:
    """Rows of known accounts whose `column` falls in a period's window (and before as_of)."""
    known = table.semi_join(ctx.accounts.select("account_id"), "account_id")
    cal = ctx.cal
    return known.join(cal, (known[column] >= cal.w_start) & (known[column] < cal.w_end))


def action_column(metric: MetricDef) -> str:
    return f"m_{metric.name}"


def _action_agg(ctx: Context, metrics: list[MetricDef], families: set[Family]) -> Any:
    acts = in_window(ctx, ctx.source.table("advocacy_actions"), "occurred_at")
    is_counted = counted(acts)
    aggs: dict[str, Any] = {}
    if Family.CONCENTRATION in families:
        aggs["counted"] = is_counted.ifelse(1, 0).sum()
    for m in metrics:
        types = m.param("action_types")
        hit = is_counted if m.param("counted", True) else ibis.literal(True)
        if types:
            hit = hit & acts.action_type.isin(list(types))
        aggs[action_column(m)] = hit.ifelse(1, 0).sum()
    if Family.EVENT_MEAN in families:
        review = (acts.action_type == "review") & acts.rating.notnull()
        aggs["rating_n"] = review.ifelse(1, 0).sum()
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
    r = in_window(ctx, ctx.source.table("survey_responses"), "responded_at")
    nps = r.survey == "nps"
    csat = r.survey == "csat"
    s = r.mutate(
        is_nps=nps.ifelse(1, 0),
        prom=(nps & (r.score >= 9)).ifelse(1, 0),
        det=(nps & (r.score <= 6)).ifelse(1, 0),
        is_csat=csat.ifelse(1, 0),
        sat=(csat & satisfied(ctx, r)).ifelse(1, 0),
        c_score=csat.ifelse(r.score, 0.0),
        c_norm=csat.ifelse((r.score - r.scale_min) / (r.scale_max - r.scale_min).nullif(0), 0.0),
    )
    latest = "latest" in parts
    if latest:
        rank = ibis.row_number().over(
            group_by=[s.account_id, s.period_label, s.survey],
            order_by=[ibis.desc(s.responded_at), ibis.desc(s.response_id)],
        )
        s = s.mutate(latest=(rank == 0).ifelse(1, 0))
    aggs: dict[str, Any] = {}
    if "nps" in parts:
        aggs.update(nps_n=s.is_nps.sum(), nps_prom=s.prom.sum(), nps_det=s.det.sum())
        if latest:
            aggs.update(last_nps_prom=(s.prom * s.latest).sum(), last_nps_det=(s.det * s.latest).sum(),
                        last_nps=(s.is_nps * s.latest).sum())  # fmt: skip
    if parts & {"csat", "csat_mean"}:
        aggs["csat_n"] = s.is_csat.sum()
    if "csat" in parts:
        aggs["csat_sat"] = s.sat.sum()
        if latest:
            aggs.update(
                last_csat=(s.is_csat * s.latest).sum(), last_csat_sat=(s.sat * s.latest).sum()
            )
    if "csat_mean" in parts:
        aggs.update(
            csat_score=s.c_score.sum(), csat_norm=s.c_norm.sum(),
            csat_min_lo=csat.ifelse(r.scale_min, None).min(), csat_max_lo=csat.ifelse(r.scale_min, None).max(),
            csat_min_hi=csat.ifelse(r.scale_max, None).min(), csat_max_hi=csat.ifelse(r.scale_max, None).max(),
        )  # fmt: skip
    return s.group_by(KEYS).agg(**aggs)


def revenue_months(ctx: Context) -> Any:
    """Revenue rows of known accounts up to as_of (a month counts once it has begun)."""
    return ctx.revenue.semi_join(ctx.accounts.select("account_id"), "account_id")


def _revenue_agg(ctx: Context) -> Any:
    """Per account and period: MRR of the start and end months, the ARR weight, paid before.

    The first paying month's MRR and the first paid month are key lookups on the aggregated
    rows, not a window over every revenue row (a window cost 5× the rest at scale 10).
    """
    rev = revenue_months(ctx)
    cal = ctx.cal
    joined = rev.join(cal, (rev.month >= cal.start_month) & (rev.month < cal.w_end_date))
    paying_in = (joined.month >= joined.w_start_date) & (joined.mrr > 0)
    per = joined.group_by(KEYS).agg(
        mrr_start=(joined.month == joined.start_month).ifelse(joined.mrr, 0.0).sum(),
        mrr_end=(joined.month == joined.end_month).ifelse(joined.mrr, 0.0).sum(),
        first_in=joined.month.min(where=paying_in),
        start_month=joined.start_month.min(),
    )
    mrr = rev.select(l_account=rev.account_id, l_month=rev.month, l_mrr=rev.mrr)
    per = per.left_join(mrr, (per.account_id == mrr.l_account) & (per.first_in == mrr.l_month))
    first_paid = rev.filter(rev.mrr > 0).group_by("account_id").agg(first_paid=_.month.min())
    per = drop_right(per.left_join(first_paid, "account_id"))
    return per.select(
        *KEYS,
        "mrr_start",
        "mrr_end",
        first_in_mrr=per.l_mrr.fill_null(0.0),
        paid_before=(per.first_paid < per.start_month).ifelse(1, 0),
    )


def build_rollup(ctx: Context, metrics: list[MetricDef]) -> Any:
    """The rollup for these metrics: groups × periods with only the parts they need."""
    families = {m.family for m in metrics}
    r = drop_right(ctx.groups.left_join(ctx.active.mutate(active=ibis.literal(1)), KEYS))
    r = r.mutate(active=_.active.fill_null(0))
    action_metrics = [m for m in metrics if m.family in (Family.ACCOUNT_RATE, Family.EVENT_COUNT)]
    if families & {
        Family.ACCOUNT_RATE,
        Family.EVENT_COUNT,
        Family.EVENT_MEAN,
        Family.CONCENTRATION,
    }:
        r = _join(r, _action_agg(ctx, action_metrics, families))
    if parts := survey_parts(ctx, metrics):
        r = _join(r, _survey_agg(ctx, parts))
    if families & {Family.RETENTION, Family.BRIDGE} or any(
        b.value == "arr" for b in _bases(ctx, metrics)
    ):
        rev = _revenue_agg(ctx)
        r = _join(r, rev)
        r = r.mutate(
            arr_weight=12
            * ibis.cases(
                (r.mrr_start > 0, r.mrr_start), (r.first_in_mrr > 0, r.first_in_mrr), else_=0.0
            )
        )
    return r


def _bases(ctx: Context, metrics: list[MetricDef]) -> list[Any]:
    return [ctx.request.basis or m.default_basis for m in metrics]


def _join(left: Any, right: Any) -> Any:
    joined = left.left_join(right, KEYS)
    extra = [c for c in joined.columns if c.endswith("_right")]
    joined = joined.drop(*extra)
    fills = {
        c: joined[c].fill_null(0)
        for c in right.columns
        if c not in KEYS and not c.startswith("csat_m")
    }
    return joined.mutate(**fills)
