"""Metric families computed from the shared account × period rollup."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

from advocacy.errors import UserError
from advocacy.metrics import intervals as iv
from advocacy.metrics.context import ALL, Context, date_active, unbilled_accounts
from advocacy.metrics.frames import f64, ratio, result
from advocacy.metrics.grouping import Work, attach_group, request, rest_of, with_totals
from advocacy.metrics.rollup import action_column
from advocacy.metrics.spec import Basis, Family, MetricDef

Frame = pd.DataFrame


def account_rate(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    """Share of active accounts with ≥ 1 qualifying action (logo), or ARR-weighted (arr)."""
    hit = (_[action_column(m)] > 0).ifelse(1.0, 0.0)
    return (yield from _weighted_share(ctx, r.filter(r.active == 1), hit, basis))


def coverage(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    hit = (_.nps_n > 0).ifelse(1.0, 0.0)
    return (yield from _weighted_share(ctx, r.filter(r.active == 1), hit, basis))


def _weighted_share(ctx: Context, act: Any, hit: Any, basis: Basis) -> Work:
    """`hit` is deferred, not a column of `act`: the rates of a request then aggregate the
    same rows (the active ones), which the engine answers with one GROUP BY."""
    conf = ctx.settings.stats.confidence
    if basis is Basis.LOGO:
        g = yield request(act, n=_.count(), x=hit.sum())
        lo, hi = iv.wilson(f64(g, "x"), f64(g, "n"), conf)
        return result(
            g, value=ratio(g.x, g.n), numerator=g.x, denominator=g.n, n=g.n, ci_low=lo, ci_high=hi
        )
    w = _.arr_weight
    g = yield request(act, excluded=(w <= 0).ifelse(1, 0).sum(), n=(w > 0).ifelse(1, 0).sum(),
        sx=(w * hit).sum(), sy=w.sum(), sxx=(w * hit * w * hit).sum(),
        syy=(w * w).sum(), sxy=(w * hit * w).sum(),
    )  # fmt: skip
    g = _weighted(g)
    value, lo, hi, se = iv.delta_ratio(g, conf)
    return result(g, value=value, numerator=g.sx, denominator=g.sy, n=g.n, ci_low=lo, ci_high=hi,
                  se=se, extra=_arr_excluded(g))  # fmt: skip


def _weighted(g: Frame) -> Frame:
    """The arr basis's groups with a weighted account: where every account is excluded (no
    MRR before or in the period), the weighted population is empty, so there is no row."""
    return g[g.n > 0].reset_index(drop=True)


def _arr_excluded(g: Frame) -> list[dict[str, int]]:
    """`extra.arr_excluded`: the accounts the arr basis left out for want of a weight."""
    return [{"arr_excluded": int(e)} for e in g.excluded]


def _survey_rows(ctx: Context, r: Any, survey: str, basis: Basis) -> Any:
    if basis is Basis.RESPONSE:
        return r.filter(r[f"{survey}_n"] > 0)
    # Survey populations are known accounts, active or not (DESIGN §4); the logo basis takes
    # each one's latest response; on the arr basis, those without a weight are counted as
    # excluded by the aggregations.
    return r.filter(r[f"last_{survey}"] > 0)


def nps(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    """100 × (P − D)/n with a cluster-robust SE over accounts (adjusted-Wald below n = 30)."""
    rows = _survey_rows(ctx, r, "nps", basis)
    if basis is Basis.RESPONSE:
        s, nc = _.nps_prom - _.nps_det, _.nps_n  # deferred: see survey_share
        g = yield request(rows, n=nc.sum(), p=_.nps_prom.sum(), d=_.nps_det.sum(),
                          clusters=_.count(), ss=(s * s).sum(), sn=(s * nc).sum(), nn=(nc * nc).sum())  # fmt: skip
        _note_single_account(ctx, m, g)
        return _nps_result(ctx, g, basis=basis)
    s = rows.last_nps_prom - rows.last_nps_det
    w = rows.arr_weight if basis is Basis.ARR else ibis.literal(1.0)
    weighted = (_.w > 0).ifelse(1, 0)
    g = yield request(rows.mutate(s=s, w=w), n=weighted.sum(), excluded=(1 - weighted).sum(),
                  p=(weighted * _.last_nps_prom).sum(), d=(weighted * _.last_nps_det).sum(),
                  sx=(_.w * _.s).sum(), sy=_.w.sum(), sxx=(_.w * _.s * _.w * _.s).sum(),
                  syy=(_.w * _.w).sum(), sxy=(_.w * _.s * _.w).sum())  # fmt: skip
    population = yield from ctx.population_work(r)
    return _nps_result(
        ctx, g.merge(population, on=["period_label", "grp"], how="left"), basis=basis
    )


def _note_single_account(ctx: Context, m: MetricDef, g: Frame) -> None:
    """Say which rows' responses all come from one account: their interval is over accounts
    (DESIGN §5, cluster-robust), so it is about as wide as for a single response, which reads
    as a bug without a word (one customer's 117 NPS responses: [−100, 100])."""
    if ctx.replay is not None and ctx.replay.replaying:
        return
    one = g[(f64(g, "clusters") == 1) & (f64(g, "n") > 1)]
    by = ctx.request.by
    rows = [
        str(period) if by is None else f"{period} {'total' if grp == ALL else f'{by} {grp}'}"
        for period, grp in zip(one["period_label"], one["grp"], strict=True)
        if rest_of(grp) is None
    ]
    if rows:
        listed = ", ".join(rows[:5]) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
        note = (
            f"{m.name}: one account gave all the responses of {listed}; the interval is over "
            "accounts, so it is about as wide as for a single response"
        )
        if note not in ctx.notes:
            ctx.notes.append(note)


def _nps_result(ctx: Context, g: Frame, *, basis: Basis) -> Frame:
    conf = ctx.settings.stats.confidence
    population = (
        f64(g, "active_n") if ctx.settings.stats.fpc == "auto" and "active_n" in g else None
    )
    if basis is Basis.ARR:
        g = _weighted(g)
        population = None if population is None else f64(g, "active_n")
        value, lo, hi, se = iv.delta_ratio(g, conf, scale=100.0, population=population)
    elif basis is Basis.LOGO:
        value, lo, hi, se = iv.nps_logo(g, conf, population)
    else:
        value, lo, hi, se = iv.nps(g, conf)
    if basis is Basis.ARR:
        return result(g, value=value, numerator=g.sx, denominator=g.sy, n=g.n, ci_low=lo,
                      ci_high=hi, se=se, extra=_arr_excluded(g))  # fmt: skip
    return result(g, value=value, numerator=g.p - g.d, denominator=g.n, n=g.n, ci_low=lo,
                  ci_high=hi, se=se)  # fmt: skip


_BAND = {"promoter": "nps_prom", "detractor": "nps_det", "satisfied": "csat_sat"}


def survey_share(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    """Share of responses in a band, Wilson cluster-adjusted (response) or per account."""
    survey, band = m.param("survey"), m.param("band")
    rows = _survey_rows(ctx, r, survey, basis)
    if basis is Basis.RESPONSE:
        # Deferred, not columns: NPS and its shares then read the same rows (one GROUP BY).
        y = _.nps_n - _.nps_prom - _.nps_det if band == "passive" else _[_BAND[band]]
        nc = _[f"{survey}_n"]
        g = yield request(rows, n=nc.sum(), x=y.sum(), clusters=_.count(),
                          yy=(y * y).sum(), yn=(y * nc).sum(), nn=(nc * nc).sum())  # fmt: skip
        _note_single_account(ctx, m, g)
        value, lo, hi, se = iv.share_clustered(g, ctx.settings.stats.confidence)
        return result(g, value=value, numerator=g.x, denominator=g.n, n=g.n, ci_low=lo,
                      ci_high=hi, se=se)  # fmt: skip
    last = _last_band(survey, band)
    w = rows.arr_weight if basis is Basis.ARR else ibis.literal(1.0)
    return (
        yield from _weighted_share(
            ctx, rows.mutate(arr_weight=w), last, Basis.LOGO if basis is Basis.LOGO else Basis.ARR
        )
    )


def _last_band(survey: str, band: str) -> Any:
    """Whether an account's latest response is in the band (deferred), 1.0 or 0.0."""
    if survey == "csat":
        return _.last_csat_sat.cast("float64")
    if band == "passive":
        return (1 - _.last_nps_prom - _.last_nps_det).cast("float64")
    return _[f"last_nps_{'prom' if band == 'promoter' else 'det'}"].cast("float64")


def survey_mean(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    """Mean CSAT on its native scale when the group shares one scale, else normalised 0–1."""
    if basis is not Basis.RESPONSE:
        raise UserError("csat_mean is computed on the response basis only")
    rows = r.filter(r.csat_n > 0)
    g = yield request(rows, n=_.csat_n.sum(), clusters=_.count(), s_native=_.csat_score.sum(),
        q_native=(_.csat_score * _.csat_score).sum(), sn_native=(_.csat_score * _.csat_n).sum(),
        s_norm=_.csat_norm.sum(), q_norm=(_.csat_norm * _.csat_norm).sum(),
        sn_norm=(_.csat_norm * _.csat_n).sum(), nn=(_.csat_n * _.csat_n).sum(),
        lo_min=_.csat_min_lo.min(), lo_max=_.csat_max_lo.max(), hi_min=_.csat_min_hi.min(), hi_max=_.csat_max_hi.max(),
    )  # fmt: skip
    _note_single_account(ctx, m, g)
    native = (g.lo_min == g.lo_max) & (g.hi_min == g.hi_max)
    s = np.where(native, g.s_native, g.s_norm)
    q = np.where(native, g.q_native, g.q_norm)
    sn = np.where(native, g.sn_native, g.sn_norm)
    value, lo, hi, se = iv.mean_clustered(
        s, q, sn, f64(g, "nn"), f64(g, "n"), f64(g, "clusters"), ctx.settings.stats.confidence
    )
    extra = [{"scale": "native" if nat else "normalised 0–1"} for nat in native]
    return result(g, value=value, numerator=s, denominator=g.n, n=g.n, ci_low=lo, ci_high=hi,
                  se=se, extra=extra)  # fmt: skip


def event_count(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    col = action_column(m)
    rows = r.filter((r.active == 1) | (r[col] > 0))
    g = yield request(rows, x=_[col].sum())
    lo, hi = iv.poisson_exact(f64(g, "x"), ctx.settings.stats.confidence)
    return result(g, value=g.x, numerator=g.x, n=g.x, ci_low=lo, ci_high=hi)


def review_rating(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    rows = r.filter(r.rating_n > 0)
    g = yield request(rows, n=_.rating_n.sum(), s=_.rating_sum.sum(), q=_.rating_sq.sum())
    value, lo, hi, se = iv.mean_t(
        f64(g, "s"), f64(g, "q"), f64(g, "n"), ctx.settings.stats.confidence
    )
    return result(g, value=value, numerator=g.s, denominator=g.n, n=g.n, ci_low=lo, ci_high=hi,
                  se=se)  # fmt: skip


def retention(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    """GRR, NRR, logo retention over the starting base (MRR_start > 0); delta / Wilson."""
    base = r.filter(r.mrr_start > 0)
    part = m.param("part")
    conf = ctx.settings.stats.confidence
    # Deferred, not columns: GRR, NRR and logo retention then read the same rows (one GROUP BY).
    if part == "logo":
        g = yield request(base, n=_.count(), x=(_.mrr_end > 0).ifelse(1, 0).sum())
        g = yield from _add_dated_retention(ctx, g)
        lo, hi = iv.wilson(f64(g, "x"), f64(g, "n"), conf)
        return result(
            g, value=ratio(g.x, g.n), numerator=g.x, denominator=g.n, n=g.n, ci_low=lo, ci_high=hi
        )
    x = (ibis.least(_.mrr_end, _.mrr_start) if part == "grr" else _.mrr_end).cast("float64")
    y = _.mrr_start.cast("float64")
    g = yield request(base, n=_.count(), sx=x.sum(), sy=y.sum(), sxx=(x * x).sum(),
                      syy=(y * y).sum(), sxy=(x * y).sum())  # fmt: skip
    value, lo, hi, se = iv.delta_ratio(g, conf)
    return result(g, value=value, numerator=g.sx, denominator=g.sy, n=g.n, ci_low=lo, ci_high=hi,
                  se=se)  # fmt: skip


def _add_dated_retention(ctx: Context, g: Frame) -> Work:
    """Accounts with no revenue rows at all follow the date rule (DESIGN §5 logo_retention),
    month for month as revenue would: in the starting base when date-active in the start
    month (the month before the period, or 12 before the end month on `ttm`), retained when
    date-active in the end month (the period's last, or the last complete one by as_of)."""
    months = ctx.month_instants()
    start = months.select(r_start_month=months.m_month, s_lo=months.m_start, s_hi=months.m_end)
    end = months.select(end_month=months.m_month, e_lo=months.m_start, e_hi=months.m_end)
    cal = ctx.cal.select("period_label", "r_start_month", "end_month")
    cal = cal.join(start, "r_start_month").join(end, "end_month")
    dated = unbilled_accounts(ctx).cross_join(cal)
    base = dated.filter(date_active(dated, dated.s_lo, dated.s_hi))
    base = base.mutate(kept=date_active(base, base.e_lo, base.e_hi).ifelse(1, 0))
    d = yield request(attach_group(ctx, base), n=_.count(), x=_.kept.sum())
    merged = pd.concat([g, d]).groupby(["period_label", "grp"], as_index=False)[["n", "x"]].sum()
    return merged


def mrr_bridge(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Work:
    s, e = r.mrr_start, r.mrr_end
    t = r.filter((s > 0) | (e > 0)).mutate(
        new=((s == 0) & (e > 0) & (r.paid_before == 0)).ifelse(e, 0.0),
        reactivation=((s == 0) & (e > 0) & (r.paid_before == 1)).ifelse(e, 0.0),
        expansion=((s > 0) & (e > s)).ifelse(e - s, 0.0),
        contraction=((s > 0) & (e > 0) & (e < s)).ifelse(s - e, 0.0),
        churn=((s > 0) & (e == 0)).ifelse(s, 0.0),
    )
    parts = ["new", "reactivation", "expansion", "contraction", "churn"]
    g = yield request(
        t,
        n=_.count(),
        start=_.mrr_start.sum(),
        end=_.mrr_end.sum(),
        **{p: _[p].sum() for p in parts},
    )
    extra = [
        {"start": row.start, **{p: getattr(row, p) for p in parts}, "end": row.end}
        for row in g.itertuples()
    ]
    return result(g, value=g.end, numerator=g.end, denominator=g.start, n=g.n, extra=extra)


def concentration(ctx: Context, r: Any, m: MetricDef, basis: Basis) -> Frame:
    """Share of counted actions by the top ⌈10%⌉ advocate accounts, and their Gini."""
    adv = with_totals(ctx, r.filter(r.counted > 0))
    win = ibis.window(
        group_by=[adv.period_label, adv.grp], order_by=[ibis.desc(adv.counted), adv.account_id]
    )
    cnt = ibis.window(group_by=[adv.period_label, adv.grp])
    t = adv.mutate(rank_desc=ibis.row_number().over(win), k=adv.count().over(cnt))
    # The ascending rank (1-based) for the Gini is the descending one reversed: one sort, not
    # two. Ties may be ranked in another order, which leaves Σ counted × rank unchanged.
    t = t.mutate(
        rank_asc=t.k - t.rank_desc,
        top=((t.rank_desc + 1) <= (t.k * 0.1).ceil()).ifelse(1, 0),
    )
    g = (
        t.group_by(["period_label", "grp"])
        .agg(
            n=_.count(),
            total=_.counted.sum(),
            top_sum=(_.counted * _.top).sum(),
            weighted=(_.counted * _.rank_asc).sum(),
        )
        .to_pandas()
    )
    n, total = f64(g, "n"), f64(g, "total")
    gini = 2 * f64(g, "weighted") / (n * total) - (n + 1) / n
    extra = [{"gini": float(x), "top_k": math.ceil(0.1 * k)} for x, k in zip(gini, n, strict=True)]
    return result(
        g,
        value=ratio(g.top_sum, g.total),
        numerator=g.top_sum,
        denominator=g.total,
        n=g.n,
        extra=extra,
    )


ROLLUP_FAMILIES: dict[Family, Callable[[Context, Any, MetricDef, Basis], Work | Frame]] = {
    Family.ACCOUNT_RATE: account_rate,
    Family.COVERAGE: coverage,
    Family.NPS: nps,
    Family.SURVEY_SHARE: survey_share,
    Family.SURVEY_MEAN: survey_mean,
    Family.EVENT_COUNT: event_count,
    Family.EVENT_MEAN: review_rating,
    Family.RETENTION: retention,
    Family.BRIDGE: mrr_bridge,
    Family.CONCENTRATION: concentration,
}
