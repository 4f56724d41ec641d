"""Leading indicator (DESIGN §6): do this period's advocates retain and expand better next period?

For each period of the range, the accounts of the next period's starting base (MRR > 0 in this
period's last month, so active now) are split into advocates (≥ 1 counted action this period) and
others. Their next-period logo retention, GRR, NRR and expansion rate (MRR_end > MRR_start) are the
metric engine's definitions: start and end MRR come from its revenue rollup (`grr`'s months). A
period counts once its next period has closed by as_of. Differences are crude and adjusted
(strata segment × MRR tercile within segment × tenure band, weighted by stratum size); intervals
are delta-method (linearised), clustered by account in the pooled rows.
Accounts without any revenue rows have no MRR and so are in no starting base here (the date rule of
`logo_retention` does not apply to a revenue comparison).

Rows: per period `advocates`, `others` and two `difference` rows (`comparison` = `crude` |
`adjusted`; the adjusted one uses the strata holding both groups, `strata` says how many), then the
same four rows pooled over the periods (`period_label` = `pooled`, `period_start` null).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import numpy as np
import pandas as pd

from advocacy.analyses import AnalysisOptions, AnalysisResult
from advocacy.analyses.common import (
    cluster_sums,
    clustered_rates,
    conf_label,
    context,
    linear_combination,
    normal_bounds,
    num,
    pct,
)
from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.calendar import add_months
from advocacy.metrics.catalog import get_metric
from advocacy.metrics.context import Context, last_complete_month
from advocacy.metrics.engine import query
from advocacy.metrics.rollup import action_column, build_rollup
from advocacy.metrics.spec import MetricRequest

# measure -> (numerator column, denominator column, is a proportion)
MEASURES: dict[str, tuple[str, str, bool]] = {
    "next_logo_retention": ("kept", "one", True),
    "next_grr": ("grr_x", "mrr_start", False),
    "next_nrr": ("mrr_end", "mrr_start", False),
    "next_expansion_rate": ("expanded", "one", True),
}
GROUPS = ("advocates", "others")
TENURE = ((365, "<1y"), (730, "1-2y"), (np.inf, ">2y"))
_SIZE = {"month": 1, "quarter": 3, "year": 12}


def _frame(ctx: Context) -> pd.DataFrame:
    """Account × period rows of the engine's rollup: active, advocate, start/end MRR, ARR weight."""
    rate, grr = get_metric("advocacy_rate"), get_metric("grr")
    r = build_rollup(ctx, [rate, grr])
    r = r.filter((r.active == 1) | (r.mrr_start > 0))
    r = r.select(
        "account_id", "period_label", "active", "mrr_start", "mrr_end", "arr_weight",
        segment=r.grp, adv=(r[action_column(rate)] > 0).ifelse(1, 0),
    )  # fmt: skip
    created = ctx.accounts.select("account_id", "created_at")
    frame: pd.DataFrame = r.join(created, "account_id").to_pandas()
    return frame


def _units(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """One row per (period, base account of the next period) with outcomes and strata."""
    parts = []
    closed_until = last_complete_month(ctx.as_of)
    for now, nxt in zip(ctx.periods[:-1], ctx.periods[1:], strict=True):
        cur = frame[(frame.period_label == now.label) & (frame.active == 1)]
        cur = cur[["account_id", "segment", "adv", "arr_weight", "created_at"]]
        base = frame[(frame.period_label == nxt.label) & (frame.mrr_start > 0)]
        unit = base[["account_id", "mrr_start", "mrr_end"]].merge(cur, on="account_id")
        unit = unit.assign(
            period_label=now.label, period_start=now.start_date,
            closed=nxt.end_month <= closed_until,
            tenure_days=(pd.Timestamp(now.start) - pd.to_datetime(unit.created_at)).dt.days,
        )  # fmt: skip
        parts.append(unit)
    # A total order first: tercile ranks break ties by position, alike on every backend.
    units = pd.concat(parts).sort_values(["period_label", "account_id"], ignore_index=True)
    units["group"] = np.where(units.adv == 1, "advocates", "others")
    units["one"] = 1.0
    units["kept"] = (units.mrr_end > 0).astype(float)
    units["expanded"] = (units.mrr_end > units.mrr_start).astype(float)
    units["grr_x"] = np.minimum(units.mrr_end, units.mrr_start)
    units["mrr_band"] = units.groupby(["period_label", "segment"]).arr_weight.transform(_tercile)
    units["tenure"] = pd.cut(
        units.tenure_days, [-np.inf, *(t for t, _ in TENURE)], labels=[n for _, n in TENURE],
        right=False,
    ).astype(str)  # fmt: skip
    units["stratum"] = units.segment + "|" + units.mrr_band.astype(str) + "|" + units.tenure
    units["cell"] = units.stratum + "|" + units.group
    units["unit_id"] = units.account_id
    return units


def _tercile(weights: pd.Series) -> Any:
    """Terciles of ARR weight within a segment (ranks break ties, so every band is filled)."""
    ranks = weights.rank(method="first")
    return np.ceil(3 * ranks / len(weights)).astype(int)


def _group_rows(units: pd.DataFrame, conf: float) -> list[dict[str, Any]]:
    rows = []
    for group in GROUPS:
        these = units[units.group == group]
        row: dict[str, Any] = {"group": group, "comparison": None, "accounts": len(these)}
        for name, (x, y, is_share) in MEASURES.items():
            if is_share:
                s = clustered_rates(cluster_sums(these.assign(g=1), ["g"], x, "unit_id"), conf)
                value, lo, hi = (
                    (s.rate.iloc[0], s.ci_low.iloc[0], s.ci_high.iloc[0])
                    if len(s)
                    else (np.nan,) * 3
                )
            else:
                value, se = linear_combination(
                    these, x=x, y=y, cell="group", coef={group: 1.0}, cluster="unit_id"
                )
                lo, hi = normal_bounds(value, se, conf)
            row |= {name: value, f"{name}_ci_low": lo, f"{name}_ci_high": hi}  # fmt: skip
        rows.append(row)
    return rows


def _difference_rows(units: pd.DataFrame, conf: float) -> list[dict[str, Any]]:
    crude: dict[str, Any] = {"group": "difference", "comparison": "crude", "accounts": len(units)}
    adjusted: dict[str, Any] = {"group": "difference", "comparison": "adjusted"}
    size = units.groupby("stratum").size()
    both = units.groupby("stratum").group.nunique()
    used = size[both == len(GROUPS)]
    weights = used / used.sum()
    coef = {f"{s}|advocates": w for s, w in weights.items()}
    coef |= {f"{s}|others": -w for s, w in weights.items()}
    adjusted |= {"accounts": int(used.sum()), "strata": len(used)}
    for name, (x, y, _share) in MEASURES.items():
        for row, cell, c in (
            (crude, "group", {"advocates": 1.0, "others": -1.0}),
            (adjusted, "cell", coef),
        ):
            value, se = linear_combination(units, x=x, y=y, cell=cell, coef=c, cluster="unit_id")
            lo, hi = normal_bounds(value, se, conf)
            row |= {name: value, f"{name}_ci_low": lo, f"{name}_ci_high": hi}  # fmt: skip
    return [crude, adjusted]


def _signals(source: Any, settings: Settings, ctx: Context) -> pd.DataFrame:
    """Referred new logos, their ARR and reward cost over the range (the engine's metrics)."""
    request = MetricRequest.create(
        ["referral_new_arr", "reward_cost"], period=ctx.request.grain.value,
        start=ctx.periods[0].start_date, end=ctx.periods[-1].end_date, as_of=ctx.as_of,
    )  # fmt: skip
    rows = query(source, settings, request)
    total = rows.groupby("metric")[["n", "value"]].sum(min_count=1)

    def get(metric: str, column: str) -> float:
        return float(cast(Any, total.at[metric, column])) if metric in total.index else np.nan

    arr, cost = get("referral_new_arr", "value"), get("reward_cost", "value")
    return pd.DataFrame([{
        "referred_new_logos": get("referral_new_arr", "n"),
        "referral_new_arr": arr, "reward_cost": cost,
        "referral_arr_per_reward_currency": arr / cost if cost and cost > 0 else np.nan,
    }])  # fmt: skip


def _reading(adj: Any) -> str:
    """Which signal the adjusted differences give: an interval above 0 is a signal, one below 0
    a negative association (advocates doing worse), one across 0 says nothing."""
    pos, neg = [], []
    for name, what in (("next_logo_retention", "retention"), ("next_expansion_rate", "growth")):
        lo, hi = adj[f"{name}_ci_low"], adj[f"{name}_ci_high"]
        if lo > 0:
            pos.append(what)
        elif hi < 0:
            neg.append({"retention": "retention", "growth": "expansion"}[what])
    kind = {
        ("retention", "growth"): "both a retention and a growth signal",
        ("retention",): "a retention signal",
        ("growth",): "a growth signal",
    }.get(tuple(pos), "")
    if neg:
        worse = f"negatively associated with {' and '.join(neg)} (advocates did worse)"
        return f"{kind}, but {worse}" if kind else worse
    return kind or "neither a clear retention nor growth signal"


def _sentence(pooled: pd.DataFrame, signals: pd.DataFrame, currency: str, conf: float) -> str:
    if pooled.empty:
        return "No period in the range has a closed next period yet."
    g = pooled.set_index("group")
    adj = pooled[pooled.comparison == "adjusted"].iloc[0]
    keep_lo, exp_lo = adj.next_logo_retention_ci_low, adj.next_expansion_rate_ci_low
    text = (
        f"Here advocacy is {_reading(adj)}: advocates kept "
        f"{pct(g.loc['advocates'].next_logo_retention)} of "
        f"logos next period vs {pct(g.loc['others'].next_logo_retention)} (adjusted difference "
        f"{_pp(adj.next_logo_retention)}, {conf_label(conf)} CI {_pp(keep_lo)} to "
        f"{_pp(adj.next_logo_retention_ci_high)}) "
        f"and expanded {pct(g.loc['advocates'].next_expansion_rate)} vs "
        f"{pct(g.loc['others'].next_expansion_rate)} (adjusted {_pp(adj.next_expansion_rate)}, "
        f"{_pp(exp_lo)} to {_pp(adj.next_expansion_rate_ci_high)})"
    )
    s = signals.iloc[0]
    if s.referred_new_logos > 0:
        text += f"; {int(s.referred_new_logos)} referred new logos brought {s.referral_new_arr:,.0f} {currency} ARR"
        if np.isfinite(s.referral_arr_per_reward_currency):
            text += f" ({num(s.referral_arr_per_reward_currency, 1)} per {currency} of rewards)"
    return text + ". An association, not an effect."


def _pp(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:+.1f} pp"


def _rows(units: pd.DataFrame, conf: float) -> pd.DataFrame:
    return pd.DataFrame(_group_rows(units, conf) + _difference_rows(units, conf))


def run(source: Any, settings: Settings, options: AnalysisOptions) -> AnalysisResult:
    """Advocates vs others: next-period retention, GRR, NRR and expansion, per period and pooled."""
    conf = settings.stats.confidence
    first = context(source, settings, options)
    size = _SIZE[first.request.grain.value]
    wider = replace(options, start=first.periods[0].start_date, as_of=first.as_of,
                    end=add_months(first.periods[-1].end_date, size))  # fmt: skip
    ctx = context(source, settings, wider, by="segment", check=False)
    try:
        units = _units(_frame(ctx), ctx)
    finally:
        ctx.release()
    pending = int((~units.closed).sum())
    units = units[units.closed]
    if units.empty:
        raise UserError(f"no period in the range has a closed next period by {ctx.as_of}")
    parts = []
    for key, these in units.groupby(["period_label", "period_start"], sort=True):
        label, start = cast(tuple[str, Any], key)
        parts.append(_rows(these, conf).assign(period_start=start, period_label=label))
    pooled = _rows(units, conf).assign(period_start=None, period_label="pooled")
    main = pd.concat([*parts, pooled], ignore_index=True)
    main["pending_n"], main["as_of"] = pending, ctx.as_of
    lead = ["period_start", "period_label", "group", "comparison", "accounts"]
    main = main[lead + [c for c in main.columns if c not in lead]]
    signals = _signals(source, settings, first)
    sentence = _sentence(pooled, signals, settings.currency, conf)
    return AnalysisResult("leading", sentence, {"main": main, "signals": signals})
