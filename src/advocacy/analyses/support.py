"""Support ↔ advocacy (DESIGN §6): do accounts with better support become advocates more often?

Index dates are the period starts of the range. The population at an index date is what was known
then: non-test accounts created before it and active at it (MRR > 0 in the month holding the index
date for accounts with a revenue row for that month or earlier — a month counts once it has begun —
else not churned before it). Each gets a support band from the 180 days before it (`no_tickets`,
`tickets_unrated`, `satisfied`, `unsatisfied`: any unsatisfied CSAT response, ticket-linked or
not) and an outcome from the 90 days after it (a counted advocacy action; its NPS). An index date
counts once its outcome window has closed by as_of. The same account recurs across index dates, so
every interval is clustered by account (the Mantel–Haenszel one by a cluster-robust linearised
variance). `accounts` counts account × index-date units (the rate's denominator);
`distinct_accounts` the accounts behind them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
from ibis import _

from advocacy.analyses import AnalysisOptions, AnalysisResult
from advocacy.analyses.common import (
    cluster_sums,
    clustered_rates,
    conf_label,
    context,
    normal_bounds,
    num,
    pct,
)
from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.calendar import utc_instant
from advocacy.metrics.context import Context
from advocacy.metrics.families_events import seconds
from advocacy.metrics.grouping import attach_group
from advocacy.metrics.rollup import counted, satisfied
from advocacy.metrics.stats.association import (
    design_effect_ratio,
    katz_risk_ratio,
    log_rr_cluster_variance,
    mantel_haenszel_rr,
    spearman,
)

LOOKBACK_DAYS = 180
OUTCOME_DAYS = 90
BANDS = ("no_tickets", "tickets_unrated", "satisfied", "unsatisfied")
REFERENCE = "unsatisfied"
KEYS = ["account_id", "period_label"]
COLUMNS = [
    "band", "segment", "accounts", "advocates", "advocacy_rate", "ci_low", "ci_high",
    "risk_ratio", "rr_ci_low", "rr_ci_high", "comparison", "distinct_accounts",
    "tickets_per_account", "median_first_response_hours", "median_resolution_hours",
    "first_index_date", "last_index_date", "index_dates", "pending_n", "as_of",
]  # fmt: skip


def _index_dates(ctx: Context) -> pd.DataFrame:
    """Each period start as an index instant, with its lookback start and outcome end."""
    tz = ZoneInfo(ctx.settings.calendar.timezone)
    frame = pd.DataFrame(
        {
            "period_label": [p.label for p in ctx.periods],
            "index_date": [p.start_date for p in ctx.periods],
            "i_month": [p.start_date.replace(day=1) for p in ctx.periods],
            "i_at": [p.start for p in ctx.periods],
            "lb_at": [
                utc_instant(p.start_date - timedelta(LOOKBACK_DAYS), tz) for p in ctx.periods
            ],
            "out_at": [
                utc_instant(p.start_date + timedelta(OUTCOME_DAYS), tz) for p in ctx.periods
            ],
        }
    )
    frame["closed"] = frame["out_at"] <= ctx.cutoff
    return frame


def _within(ctx: Context, table: Any, column: str, idx: Any, lo: str, hi: str) -> Any:
    """Rows of known accounts whose `column` lies in [idx.lo, idx.hi) of an index date."""
    known = table.semi_join(ctx.accounts.select("account_id"), "account_id")
    known = known.filter(known[column] < ctx.cutoff)
    return known.join(idx, (known[column] >= idx[lo]) & (known[column] < idx[hi]))


def _tickets(ctx: Context, idx: Any) -> Any:
    t = _within(ctx, ctx.source.table("tickets"), "opened_at", idx, "lb_at", "i_at")
    opened = seconds(t.opened_at)
    null = ibis.null("float64")
    t = t.mutate(
        fr=(t.first_response_at.notnull() & (t.first_response_at < t.i_at)).ifelse(
            (seconds(t.first_response_at) - opened) / 3600.0, null
        ),
        rs=(t.resolved_at.notnull() & (t.resolved_at < t.i_at)).ifelse(
            (seconds(t.resolved_at) - opened) / 3600.0, null
        ),
    )
    return t.group_by(KEYS).agg(tickets=_.count(), fr_h=_.fr.median(), res_h=_.rs.median())


def _csat(ctx: Context, idx: Any) -> Any:
    r = ctx.source.table("survey_responses").filter(_.survey == "csat")
    r = _within(ctx, r, "responded_at", idx, "lb_at", "i_at")
    norm = (r.score - r.scale_min) / (r.scale_max - r.scale_min).nullif(0)
    r = r.mutate(unsat=(~satisfied(ctx, r)).ifelse(1, 0), norm=norm.cast("float64"))
    return r.group_by(KEYS).agg(csat_n=_.count(), unsat_n=_.unsat.sum(), csat_sum=_.norm.sum())


def _outcomes(ctx: Context, idx: Any) -> tuple[Any, Any]:
    acts = ctx.source.table("advocacy_actions")
    acts = _within(ctx, acts.filter(counted(acts)), "occurred_at", idx, "i_at", "out_at")
    acted = acts.group_by(KEYS).agg(acted=_.count())
    nps = ctx.source.table("survey_responses").filter(_.survey == "nps")
    nps = _within(ctx, nps, "responded_at", idx, "i_at", "out_at")
    later = nps.group_by(KEYS).agg(nps_n=_.count(), nps_sum=_.score.cast("float64").sum())
    return acted, later


def _population(ctx: Context, idx: Any) -> Any:
    """(account_id, period_label) of the accounts known and active at each index date.

    Nothing after the index date is used: an account must be created before it, and revenue
    decides only for accounts billed by then (a revenue row for the index month or earlier),
    as MRR > 0 in the index month; the others are active unless churned before it.
    """
    accounts = ctx.accounts.select("account_id", "created_at", "churned_at")
    known = accounts.cross_join(idx.select("period_label", "i_at", "i_month"))
    known = known.filter(known.created_at < known.i_at)
    revenue = ctx.revenue
    first = revenue.group_by("account_id").agg(first_month=_.month.min())
    paying = revenue.filter(revenue.mrr > 0).select(p_account=_.account_id, p_month=_.month)
    paying = paying.distinct()
    known = known.left_join(first, "account_id").drop("account_id_right")
    known = known.left_join(
        paying, (known.account_id == paying.p_account) & (known.i_month == paying.p_month)
    )
    billed = known.first_month.notnull() & (known.first_month <= known.i_month)
    dated = known.churned_at.isnull() | (known.churned_at >= known.i_at)
    active = billed.ifelse(known.p_account.notnull(), dated)
    return known.filter(active).select("account_id", "period_label")


def account_frame(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per account active at an index date, and the index-date table."""
    dates = _index_dates(ctx)
    idx = ibis.memtable(dates[["period_label", "i_at", "lb_at", "out_at", "i_month"]])
    pop = attach_group(ctx, _population(ctx, idx))
    pop = pop.select("account_id", "period_label", segment=_.grp)
    acted, later = _outcomes(ctx, idx)
    for part in (_tickets(ctx, idx), _csat(ctx, idx), acted, later):
        pop = pop.left_join(part, KEYS)
        pop = pop.drop(*[c for c in pop.columns if c.endswith("_right")])
    frame: pd.DataFrame = pop.to_pandas()
    for col in ("tickets", "csat_n", "unsat_n", "acted", "nps_n"):
        frame[col] = frame[col].fillna(0).astype("int64")
    frame = frame.merge(dates[["period_label", "index_date", "closed"]], on="period_label")
    frame["band"] = np.select(
        [frame.unsat_n > 0, frame.csat_n > 0, frame.tickets > 0],
        ["unsatisfied", "satisfied", "tickets_unrated"],
        "no_tickets",
    )
    frame["advocate"] = (frame.acted > 0).astype("int64")
    return frame, dates


def _band_rows(units: pd.DataFrame, segment: str | None, conf: float) -> list[dict[str, Any]]:
    sums = clustered_rates(cluster_sums(units, ["band"], "advocate", "account_id"), conf)
    sums = sums.set_index("band")
    ref = units[units.band == REFERENCE]
    rows = []
    for band in BANDS:
        if band not in sums.index:
            continue
        s: Any = sums.loc[band]
        these = units[units.band == band]
        rr = _risk_ratio(these, ref, conf)
        rows.append({
            "band": band, "segment": segment, "accounts": int(s.n), "advocates": int(s.x),
            "advocacy_rate": s.rate, "ci_low": s.ci_low, "ci_high": s.ci_high,
            "risk_ratio": rr[0], "rr_ci_low": rr[1], "rr_ci_high": rr[2],
            "comparison": f"{band} vs {REFERENCE}",
            "distinct_accounts": int(these.account_id.nunique()),
            "tickets_per_account": float(these.tickets.mean()),
            "median_first_response_hours": float(these.fr_h.median()),
            "median_resolution_hours": float(these.res_h.median()),
        })  # fmt: skip
    return rows


def _risk_ratio(these: pd.DataFrame, ref: pd.DataFrame, conf: float) -> tuple[float, float, float]:
    if these.empty or ref.empty:
        return np.nan, np.nan, np.nan
    if these is ref or these.band.iloc[0] == REFERENCE:
        return 1.0, np.nan, np.nan
    est = katz_risk_ratio(
        these.advocate.sum(), len(these), ref.advocate.sum(), len(ref), conf,
        deff=_deff(these, ref),
    )  # fmt: skip
    return est.rr, est.lo, est.hi


def _deff(these: pd.DataFrame, ref: pd.DataFrame) -> float:
    """How much recurring accounts inflate Var(log RR): cluster-robust ÷ Katz, at least 1."""
    both = pd.concat([these.assign(_e=1), ref.assign(_e=0)])
    robust, iid = log_rr_cluster_variance(both.advocate, both._e, both.account_id)
    return design_effect_ratio(robust, iid)


def mh_cluster_variance(
    y: npt.ArrayLike, exposed: npt.ArrayLike, stratum: npt.ArrayLike, cluster: npt.ArrayLike
) -> float:
    """Cluster-robust linearised Var(log RR_MH), stratum margins held fixed.

    RR_MH = R/S with R = Σ_k n0_k/N_k Σ_{i ∈ k, exposed} y_i and S = Σ_k n1_k/N_k Σ_{i ∈ k,
    unexposed} y_i. Unit i of stratum k contributes n0_k/N_k (y_i − p1_k)/R if exposed and
    −n1_k/N_k (y_i − p0_k)/S if not; contributions are summed per cluster and
    V = C/(C − 1) Σ_c u_c². With one stratum this is `log_rr_cluster_variance`.
    """
    f = pd.DataFrame({"y": y, "e": exposed, "k": stratum, "c": cluster}).astype({"y": float})
    f["e"] = f["e"].astype(int)
    cell = pd.DataFrame(f.groupby(["k", "e"]).y.agg(["sum", "count"]).unstack("e", fill_value=0))
    both = pd.MultiIndex.from_product([["sum", "count"], [0, 1]])
    cell = cell.reindex(columns=both, fill_value=0)
    cell = cell[(cell["count"][0] > 0) & (cell["count"][1] > 0)]
    n1, n0 = cell["count"][1], cell["count"][0]
    total = n1 + n0
    r = float((cell["sum"][1] * n0 / total).sum())
    s = float((cell["sum"][0] * n1 / total).sum())
    f = f[f.k.isin(cell.index)]
    if r <= 0 or s <= 0 or f.c.nunique() < 2:
        return np.nan
    k = f.k
    p1, p0 = k.map(cell["sum"][1] / n1), k.map(cell["sum"][0] / n0)
    u = np.where(f.e == 1, k.map(n0 / total) * (f.y - p1) / r, -k.map(n1 / total) * (f.y - p0) / s)
    per = pd.Series(u, index=f.index).groupby(f.c.to_numpy()).sum().to_numpy()
    c = per.size
    return float(c / (c - 1) * np.sum(per * per))


def _mh_row(units: pd.DataFrame, conf: float) -> dict[str, Any]:
    """Satisfied vs unsatisfied, stratified by segment. The variance of log RR_MH is the
    cluster-robust linearised one (accounts recur across index dates), at least Greenland–Robins'."""
    sat, ref = units[units.band == "satisfied"], units[units.band == REFERENCE]
    a = sat.groupby("segment").advocate.agg(["sum", "count"])
    c = ref.groupby("segment").advocate.agg(["sum", "count"])
    strata = a.add_suffix("_1").join(c.add_suffix("_0"), how="inner")
    est = mantel_haenszel_rr(strata.sum_1, strata.count_1, strata.sum_0, strata.count_0, conf)
    both = pd.concat([sat.assign(_e=1), ref.assign(_e=0)])
    robust = mh_cluster_variance(both.advocate, both._e, both.segment, both.account_id)
    var = max(robust, est.var_log) if np.isfinite(robust) else est.var_log
    lo, hi = np.nan, np.nan
    if est.rr > 0 and np.isfinite(est.rr) and np.isfinite(var):
        lo, hi = np.exp(normal_bounds(float(np.log(est.rr)), float(np.sqrt(var)), conf))
    return {
        "band": "mh", "segment": None, "accounts": int(strata.count_1.sum() + strata.count_0.sum()),
        "advocates": int(strata.sum_1.sum() + strata.sum_0.sum()), "risk_ratio": est.rr,
        "rr_ci_low": lo, "rr_ci_high": hi,
        "comparison": f"satisfied vs {REFERENCE}, Mantel–Haenszel over {len(strata)} segments",
        "distinct_accounts": int(both.account_id.nunique()),
    }  # fmt: skip


def _correlations(units: pd.DataFrame, conf: float) -> pd.DataFrame:
    """Spearman of resolution time and CSAT with later NPS; one pair per account (its latest
    index date with both values), so the pairs are independent as Bonett–Wright assumes."""
    later = units[units.nps_n > 0].assign(nps=lambda f: f.nps_sum / f.nps_n)
    later = later.assign(csat=later.csat_sum / later.csat_n.where(later.csat_n > 0))
    rows = []
    for x, label in (("res_h", "median resolution hours"), ("csat", "mean CSAT (0–1)")):
        pairs = later[later[x].notna()].sort_values("index_date").groupby("account_id").tail(1)
        est = spearman(pairs[x], pairs["nps"], conf)
        rows.append({
            "x": label, "y": "mean NPS score in the 90 days after", "n": est.n, "rho": est.r,
            "ci_low": est.lo, "ci_high": est.hi, "p_value": est.p_value,
            "method": "Spearman; Fisher z with the Bonett–Wright SE; one pair per account",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _sentence(main: pd.DataFrame, conf: float) -> str:
    rows = main.set_index(["band"]).loc[lambda f: f.segment.isna()]
    if "satisfied" not in rows.index or REFERENCE not in rows.index or "mh" not in rows.index:
        return "Too few accounts with CSAT responses to compare satisfied and unsatisfied support."
    sat, ref, mh = rows.loc["satisfied"], rows.loc[REFERENCE], rows.loc["mh"]
    lo, hi = mh.rr_ci_low, mh.rr_ci_high
    if lo > 1:
        verdict = (
            "customers with satisfied support became advocates more often than unsatisfied ones"
        )
        sure = "the interval excludes 1"
    elif hi < 1:
        verdict = (
            "customers with satisfied support became advocates less often than unsatisfied ones"
        )
        sure = "the interval excludes 1"
    else:
        verdict = "we cannot tell whether satisfied or unsatisfied support customers advocate more"
        sure = "the interval includes 1"
    return (
        f"On this data {verdict} within 90 days ({pct(sat.advocacy_rate)} vs "
        f"{pct(ref.advocacy_rate)}; segment-adjusted risk ratio {num(mh.risk_ratio)}, {conf_label(conf)} CI "
        f"{num(lo)}–{num(hi)}, {sure}): an association, not an effect."
    )


def run(source: Any, settings: Settings, options: AnalysisOptions) -> AnalysisResult:
    """Support bands at each index date against advocacy in the 90 days after."""
    ctx = context(source, settings, options, by="segment")
    conf = settings.stats.confidence
    try:
        frame, dates = account_frame(ctx)
    finally:
        ctx.release()
    units = frame[frame.closed]
    if units.empty:
        raise UserError(
            f"no index date in the range has a closed {OUTCOME_DAYS}-day outcome window by "
            f"{ctx.as_of}; choose an earlier range"
        )
    rows = [*_band_rows(units, None, conf), _mh_row(units, conf)]
    for segment in sorted(units.segment.unique()):
        rows += _band_rows(units[units.segment == segment], segment, conf)
    main = pd.DataFrame(rows).reindex(columns=COLUMNS)
    main["distinct_accounts"] = main["distinct_accounts"].astype("int64")
    closed = dates[dates.closed].index_date
    main["first_index_date"], main["last_index_date"] = closed.min(), closed.max()
    main["index_dates"] = len(closed)
    main["pending_n"] = int((~frame.closed).sum())
    main["as_of"] = ctx.as_of
    parts = {"main": main, "correlations": _correlations(units, conf), "index_dates": _dates(frame)}
    return AnalysisResult("support", _sentence(main, conf), parts)


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per index date: accounts, advocates and whether its outcome window has closed."""
    g = frame.groupby(["index_date", "closed"], sort=True).advocate.agg(["count", "sum"])
    return g.rename(columns={"count": "accounts", "sum": "advocates"}).reset_index()
