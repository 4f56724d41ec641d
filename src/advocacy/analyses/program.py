"""Program health (DESIGN §6): is advocacy run as a program, and is it healthy?

One row per measure (`measure, segment, value, n, detail`, plus intervals or p-values where they
exist): say–do gap by segment; the advocate pool of the latest complete period with new vs repeat
advocates and concentration; advocacy asks per month (a month that ended by as_of with none is
flagged: a program, not a campaign); the acceptance trend; burned advocates (≥ 2 declines in their last 3 asks);
incentive bias of review ratings; detractors awaiting follow-up. Metric-shaped measures come from
the metric engine so they match `advocacy metrics`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pandas as pd
from ibis import _

from advocacy.analyses import AnalysisOptions, AnalysisResult
from advocacy.analyses.common import context, pct
from advocacy.analyses.incentives import bias_rows, rating_counts
from advocacy.config import Settings
from advocacy.metrics.calendar import utc_instant
from advocacy.metrics.catalog import get_metric
from advocacy.metrics.context import Context
from advocacy.metrics.engine import query
from advocacy.metrics.rollup import action_column, build_rollup, counted
from advocacy.metrics.spec import MetricRequest
from advocacy.metrics.stats.association import cochran_armitage

COLUMNS = ["measure", "segment", "value", "n", "detail", "ci_low", "ci_high", "p_value", "as_of"]
DETRACTOR_DAYS = 90
BURN_LAST, BURN_DECLINES = 3, 2


def _metrics(
    source: Any, settings: Settings, ctx: Context, names: list[str], by: str | None
) -> pd.DataFrame:
    request = MetricRequest.create(
        names, by=by, period=ctx.request.grain.value, start=ctx.periods[0].start_date,
        end=ctx.periods[-1].end_date, as_of=ctx.as_of,
    )  # fmt: skip
    return query(source, settings, request)


def _say_do(source: Any, settings: Settings, ctx: Context) -> list[dict[str, Any]]:
    rows = _metrics(source, settings, ctx, ["say_do_gap"], "segment")
    out = []
    for segment, f in rows.groupby(rows.segment.fillna("__all__"), sort=True):
        x, n = float(f.numerator.sum()), float(f.denominator.sum())
        out.append({
            "measure": "say_do_gap", "segment": None if segment == "__all__" else segment,
            "value": x / n if n else np.nan, "n": int(n),
            "detail": f"promoter responses with no counted action within 90 days, pooled over "
            f"{len(f)} periods ({int(f.pending_n.sum())} still pending)",
        })  # fmt: skip
    return out


def _with_total(frame: pd.DataFrame, key: str) -> Any:
    """The all-segments row (key None) first, then the segments in name order (an untyped
    frame: rows are read by attribute)."""
    total = frame.drop(columns=[key]).sum().to_frame().T.assign(**{key: None})
    return pd.concat([total, frame.sort_values(key)], ignore_index=True)


def _latest_complete(ctx: Context) -> Any:
    closed = [p for p in ctx.periods if p.end <= ctx.cutoff]
    return closed[-1] if closed else ctx.periods[-1]


def _advocate_pool(ctx: Context) -> list[dict[str, Any]]:
    """Advocates of the latest complete period, new (first counted action ever) vs repeat."""
    period = _latest_complete(ctx)
    rate = get_metric("advocacy_rate")
    r = build_rollup(ctx, [rate])
    r = r.filter((r.active == 1) & (r.period_label == period.label))
    acts = ctx.source.table("advocacy_actions")
    earlier = acts.filter(counted(acts) & (acts.occurred_at < period.start))
    earlier = earlier.select("account_id").distinct().mutate(before=ibis.literal(1))
    r = r.left_join(earlier, "account_id")
    adv = (r[action_column(rate)] > 0).ifelse(1, 0)
    frame = (
        r.mutate(adv=adv, rep=(adv == 1) & r.before.notnull())
        .group_by("grp")
        .agg(active=_.count(), pool=_.adv.sum(), repeat=_.rep.ifelse(1, 0).sum())
        .to_pandas()
    )
    frame = _with_total(frame, "grp")
    out = []
    for row in frame.itertuples():
        seg = row.grp
        pool, repeat = int(row.pool), int(row.repeat)
        out += [
            {"measure": "advocate_pool", "segment": seg, "value": pool, "n": int(row.active),
             "detail": f"active accounts with ≥ 1 counted action in {period.label}"},
            {"measure": "new_advocates", "segment": seg, "value": pool - repeat, "n": pool,
             "detail": f"advocates in {period.label} with no counted action before it"},
            {"measure": "repeat_advocates", "segment": seg, "value": repeat, "n": pool,
             "detail": f"advocates in {period.label} who had acted before"},
        ]  # fmt: skip
    return out


def _concentration(source: Any, settings: Settings, ctx: Context) -> list[dict[str, Any]]:
    rows = _metrics(source, settings, ctx, ["advocate_concentration"], "segment")
    period = _latest_complete(ctx)
    rows = rows[rows.period_label == period.label]
    out = []
    for row in rows.itertuples():
        extra = json.loads(row.extra) if row.extra else {}
        out.append({
            "measure": "advocate_concentration", "segment": row.segment, "value": row.value,
            "n": int(row.n), "detail": f"share of counted actions by the top {extra.get('top_k')} "
            f"advocate accounts in {period.label}; Gini {extra.get('gini', np.nan):.2f}",
        })  # fmt: skip
    return out


def _asks_per_month(ctx: Context) -> list[dict[str, Any]]:
    """Advocacy asks (not survey invitations) per month of the range; empty months flagged."""
    first, last = ctx.periods[0].start_date, min(ctx.periods[-1].end_date, ctx.as_of + timedelta(1))
    months = ctx.month_instants().filter((_.m_month >= first) & (_.m_month < last))
    asks = ctx.source.table("asks").filter((_.ask_type != "survey") & (_.asked_at < ctx.cutoff))
    asks = asks.semi_join(ctx.accounts.select("account_id"), "account_id")
    hit = asks.join(months, (asks.asked_at >= months.m_start) & (asks.asked_at < months.m_end))
    counts = hit.group_by("m_month").agg(asks=_.count()).to_pandas()
    every = months.select("m_month", "m_end").to_pandas().merge(counts, on="m_month", how="left")
    every["asks"] = every["asks"].fillna(0).astype("int64")
    every = every.sort_values("m_month")
    # A month still in progress at as_of may get its asks later: it is shown, never flagged.
    every["ended"] = pd.to_datetime(every["m_end"]) <= pd.Timestamp(ctx.cutoff)
    out = [
        {"measure": "asks_per_month", "segment": None, "value": int(r.asks), "n": int(r.asks),
         "detail": f"{pd.Timestamp(r.m_month):%Y-%m}" + (
             "" if r.asks else ": no asks — a program, not a campaign" if r.ended
             else ": no asks yet (month in progress)")}
        for r in every.itertuples()
    ]  # fmt: skip
    ended = every[every.ended]
    empty = [f"{pd.Timestamp(m):%Y-%m}" for m in ended.m_month[ended.asks == 0]]
    out.append({
        "measure": "months_without_asks", "segment": None, "value": len(empty), "n": len(ended),
        "detail": ", ".join(empty) if empty else "every ended month had advocacy asks",
    })  # fmt: skip
    return out


def _acceptance(source: Any, settings: Settings, ctx: Context) -> list[dict[str, Any]]:
    rows = _metrics(source, settings, ctx, ["ask_acceptance_rate"], None)
    out = [
        {"measure": "ask_acceptance_rate", "segment": None, "value": r["value"], "n": int(r["n"]),
         "ci_low": r["ci_low"], "ci_high": r["ci_high"],
         "detail": f"{r['period_label']}: settled advocacy asks accepted or completed ({int(r['pending_n'])} pending)"}
        for r in rows.to_dict("records")
    ]  # fmt: skip
    rows = rows[rows.n > 0]
    if len(rows) >= 2:
        scores = np.arange(len(rows), dtype=float)
        test = cochran_armitage(rows.numerator, rows.n, scores)
        w = rows.n.to_numpy(float)
        slope = float(np.polyfit(scores, rows.value.to_numpy(float), 1, w=np.sqrt(w))[0])
        out.append({
            "measure": "acceptance_trend", "segment": None, "value": slope, "n": int(w.sum()),
            "p_value": test.p_value,
            "detail": f"change in acceptance of {100 * slope:+.1f} percentage points per period "
            f"over {len(rows)} periods (weighted least squares); Cochran–Armitage test for trend",
        })  # fmt: skip
    return out


def _burned(ctx: Context) -> list[dict[str, Any]]:
    """Contacts with ≥ 2 declines among their last 3 advocacy asks (latest outcome per ask)."""
    asks = ctx.source.table("asks").filter(
        (_.ask_type != "survey") & _.contact_id.notnull() & (_.asked_at < ctx.cutoff)
    )
    asks = asks.semi_join(ctx.accounts.select("account_id"), "account_id")
    out = ctx.source.table("ask_outcomes").filter(_.at < ctx.cutoff)
    rank = ibis.row_number().over(
        group_by=out.ask_id, order_by=[ibis.desc(out.at), ibis.desc(out.seq)]
    )
    latest = out.mutate(rk=rank).filter(_.rk == 0).select(l_ask=_.ask_id, status=_.status)
    order = ibis.row_number().over(
        group_by=asks.contact_id, order_by=[ibis.desc(asks.asked_at), ibis.desc(asks.ask_id)]
    )
    recent = asks.mutate(rk=order).filter(_.rk < BURN_LAST)
    recent = recent.left_join(latest, recent.ask_id == latest.l_ask)
    per = recent.group_by("contact_id").agg(
        declines=(_.status == "declined").ifelse(1, 0).sum(),
        account_id=(_.rk == 0).ifelse(_.account_id, ibis.null("string")).max(),
    )
    seg = ctx.accounts.select("account_id", segment=_.segment.fill_null("(none)"))
    per = per.join(seg, "account_id")
    frame = (
        per.group_by("segment")
        .agg(contacts=_.count(), burned=(_.declines >= BURN_DECLINES).ifelse(1, 0).sum())
        .to_pandas()
    )
    frame = _with_total(frame, "segment")
    return [
        {"measure": "burned_advocates", "segment": r.segment, "value": int(r.burned),
         "n": int(r.contacts), "detail": f"contacts with ≥ {BURN_DECLINES} declines in their last "
         f"{BURN_LAST} advocacy asks, of contacts ever asked (segment: current)"}
        for r in frame.itertuples()
    ]  # fmt: skip


def _detractors(ctx: Context) -> list[dict[str, Any]]:
    """Accounts whose latest NPS answer in the last 90 days is a detractor, with no ticket or
    milestone of the account since that answer (nothing shows anyone followed up)."""
    tz = ZoneInfo(ctx.settings.calendar.timezone)
    since = utc_instant(ctx.as_of + timedelta(1) - timedelta(DETRACTOR_DAYS), tz)
    r = ctx.source.table("survey_responses").filter(
        (_.survey == "nps") & (_.responded_at >= since) & (_.responded_at < ctx.cutoff)
    )
    r = r.semi_join(ctx.accounts.select("account_id"), "account_id")
    rank = ibis.row_number().over(
        group_by=r.account_id, order_by=[ibis.desc(r.responded_at), ibis.desc(r.response_id)]
    )
    last = (
        r.mutate(rk=rank).filter((_.rk == 0) & (_.score <= 6)).select("account_id", "responded_at")
    )
    touches = [
        ctx.source.table("tickets").select("account_id", at=_.opened_at),
        ctx.source.table("milestones").select("account_id", at=_.occurred_at),
    ]
    touch = touches[0].union(touches[1]).filter(_.at < ctx.cutoff).rename(t_acc="account_id")
    followed = last.join(touch, (last.account_id == touch.t_acc) & (touch.at >= last.responded_at))
    followed = followed.select("account_id").distinct().mutate(f=ibis.literal(1))
    x = last.left_join(followed, "account_id")
    seg = ctx.accounts.select("account_id", segment=_.segment.fill_null("(none)"))
    x = x.join(seg, "account_id")
    frame = (
        x.group_by("segment")
        .agg(detractors=_.count(), waiting=_.f.isnull().ifelse(1, 0).sum())
        .to_pandas()
    )
    frame = _with_total(frame, "segment")
    return [
        {"measure": "detractors_awaiting_follow_up", "segment": r.segment, "value": int(r.waiting),
         "n": int(r.detractors), "detail": f"accounts whose latest NPS in the last {DETRACTOR_DAYS} "
         "days is 0–6 with no ticket or milestone since (segment: current)"}
        for r in frame.itertuples()
    ]  # fmt: skip


def _sentence(main: pd.DataFrame) -> str:
    def first(measure: str) -> Any:
        rows = main[(main.measure == measure) & main.segment.isna()]
        return rows.iloc[0] if len(rows) else None

    gap, empty, burned = (
        first("say_do_gap"),
        first("months_without_asks"),
        first("burned_advocates"),
    )
    bias, trend = first("incentive_bias_combined"), first("acceptance_trend")
    parts = []
    if gap is not None:
        parts.append(f"{pct(gap.value)} of promoters did not act within 90 days")
    if empty is not None:
        parts.append(
            "asks went out every month"
            if empty.value == 0
            else f"{int(empty.value)} month(s) had no asks"
        )
    if trend is not None and np.isfinite(trend.p_value):
        way = "falling" if trend.value < 0 else "rising"
        parts.append(
            f"acceptance is {way if trend.p_value < 0.05 else 'flat'} (trend p = {trend.p_value:.2g})"
        )
    if burned is not None:
        parts.append(f"{int(burned.value)} contacts look burned")
    if bias is not None and np.isfinite(bias.p_value):
        verdict = "higher" if bias.value > 0 else "lower"
        sure = "beyond chance" if bias.p_value < 0.05 else "within chance"
        parts.append(
            f"incentivized reviews rate {abs(bias.value):.2f} stars {verdict} than organic ones ({sure}, van Elteren p = {bias.p_value:.2g})"
        )
    return (
        ("Program health: " + "; ".join(parts) + ".") if parts else "No program data in the range."
    )


def run(source: Any, settings: Settings, options: AnalysisOptions) -> AnalysisResult:
    """Every program-health measure as one row."""
    ctx = context(source, settings, options, by="segment")
    try:
        start, end = ctx.periods[0].start, ctx.periods[-1].end
        rows = _say_do(source, settings, ctx) + _advocate_pool(ctx)
        rows += _concentration(source, settings, ctx) + _asks_per_month(ctx)
        rows += _acceptance(source, settings, ctx) + _burned(ctx)
        rows += bias_rows(rating_counts(ctx, start, end)) + _detractors(ctx)
    finally:
        ctx.release()
    main = pd.DataFrame(rows).reindex(columns=COLUMNS)
    main["as_of"] = ctx.as_of
    return AnalysisResult("program", _sentence(main), {"main": main})
