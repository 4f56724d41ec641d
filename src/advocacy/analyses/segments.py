"""Segments (DESIGN §6): advocacy rate per value of each account dimension, ranked.

The rate is the metric engine's `advocacy_rate` (logo basis: active accounts with ≥ 1 counted
action in the period, the dimension as of the period start) pooled over the periods of the range.
An account recurs across periods, so intervals and tests are clustered by account. Each value is
tested against the rest of its dimension (two-proportion z on design-effect-adjusted counts) and
the q-values control the false discovery rate over every test of the run (Benjamini–Hochberg).
The `nps` part gives NPS (response basis, respondents active or not) per value on the same
grouping, with the engine's cluster-robust interval, so advocacy and NPS rankings can be read
side by side.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from ibis import _

from advocacy.analyses import AnalysisOptions, AnalysisResult
from advocacy.analyses.common import clustered_rates, context, pct
from advocacy.config import Settings
from advocacy.metrics import stats
from advocacy.metrics.catalog import get_metric
from advocacy.metrics.context import Context, dimension_groups
from advocacy.metrics.rollup import action_column, build_rollup

STANDARD = ("segment", "plan", "region", "industry")
NOT_DIMENSIONS = {
    "account_id", "name", "parent_account_id", "referred_by_account_id", "is_test",
    "created_at", "churned_at", "renewal_date", "updated_at", "owner",
}  # fmt: skip
MAX_VALUES = 12
ALPHA = 0.05
SUMS = ["x", "n", "clusters", "sum_t2", "sum_tn", "sum_n2"]
COLUMNS = [
    "dimension", "value", "rank", "accounts", "advocates", "advocacy_rate", "ci_low", "ci_high",
    "rest_rate", "p_value", "q_value", "differs_from_rest", "distinct_accounts", "first_period",
    "last_period", "periods", "as_of",
]  # fmt: skip


def dimensions(ctx: Context) -> list[str]:
    """The standard dimensions plus extra account columns with at most 12 values."""
    accounts = ctx.accounts
    out = [d for d in STANDARD if d in accounts.columns]
    for column in accounts.columns:
        if column in NOT_DIMENSIONS or column in out:
            continue
        if not (accounts[column].type().is_string() or accounts[column].type().is_boolean()):
            continue
        if int(accounts[column].nunique().execute()) <= MAX_VALUES:
            out.append(column)
    return out


def _rollup(ctx: Context) -> Any:
    """The engine's account × period rollup for advocacy_rate and nps (materialised once)."""
    return ctx.cache(build_rollup(ctx, [get_metric("advocacy_rate"), get_metric("nps")]))


def _base(rollup: Any) -> Any:
    """(account_id, period_label, adv) of active accounts: advocacy_rate's population."""
    r = rollup.filter(rollup.active == 1)
    hit = r[action_column(get_metric("advocacy_rate"))] > 0
    return r.select("account_id", "period_label", adv=hit.ifelse(1, 0))


def _nps_base(rollup: Any) -> Any:
    """(account_id, period_label, n, p, d) of accounts with NPS responses, active or not."""
    r = rollup.filter(rollup.nps_n > 0)
    return r.select("account_id", "period_label", n=r.nps_n, p=r.nps_prom, d=r.nps_det)


def _nps_rows(dimension: str, nps: Any, groups: Any, conf: float) -> pd.DataFrame:
    """NPS (response basis) per value pooled over the periods, cluster-robust over accounts."""
    joined = nps.join(groups, ["account_id", "period_label"])
    per = joined.group_by(["grp", "account_id"]).agg(n=_.n.sum(), p=_.p.sum(), d=_.d.sum())
    per = per.mutate(t=per.p - per.d)
    g: pd.DataFrame = (
        per.group_by("grp")
        .agg(
            n=_.n.sum(), p=_.p.sum(), d=_.d.sum(), clusters=_.count(), t2=(_.t * _.t).sum(),
            tn=(_.t * _.n).sum(), n2=(_.n * _.n).sum(),
        )
        .to_pandas()
    )  # fmt: skip
    sums = stats.ClusterSums(g.clusters, g.t2, g.tn, g.n2)
    est = stats.nps_interval(g.p, g.d, g.n, sums, conf)
    out = pd.DataFrame({
        "dimension": dimension, "value": g.grp, "responses": g.n.astype("int64"),
        "accounts": g.clusters.astype("int64"), "nps": est.value, "ci_low": est.lo,
        "ci_high": est.hi,
    })  # fmt: skip
    out = out.sort_values(["nps", "value"], ascending=[False, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def _account_totals(base: Any) -> Any:
    """Per account: advocate periods and active periods over the range (any dimension)."""
    return base.group_by("account_id").agg(big_t=_.adv.sum(), big_m=_.count())


def _totals(tot: Any) -> pd.Series:
    frame: pd.DataFrame = tot.agg(
        bx=_.big_t.sum(), bn=_.big_m.sum(), bc=_.count(), bt2=(_.big_t * _.big_t).sum(),
        btn=(_.big_t * _.big_m).sum(), bn2=(_.big_m * _.big_m).sum(),
    ).to_pandas()  # fmt: skip
    return frame.iloc[0]


def _dimension_sums(base: Any, groups: Any, tot: Any, totals: pd.Series) -> pd.DataFrame:
    """Per value: the cluster sums of the value and of the rest of the dimension (exact)."""
    joined = base.join(groups, ["account_id", "period_label"])
    per = joined.group_by(["grp", "account_id"]).agg(t=_.adv.sum(), m=_.count())
    per = per.join(tot, "account_id")
    frame: pd.DataFrame = (
        per.group_by("grp")
        .agg(
            x=_.t.sum(), n=_.m.sum(), clusters=_.count(), sum_t2=(_.t * _.t).sum(),
            sum_tn=(_.t * _.m).sum(), sum_n2=(_.m * _.m).sum(), t_bt=(_.t * _.big_t).sum(),
            m_bm=(_.m * _.big_m).sum(), t_bm=(_.t * _.big_m).sum(), m_bt=(_.m * _.big_t).sum(),
            only=(_.m == _.big_m).ifelse(1, 0).sum(),
        )
        .to_pandas()
    )  # fmt: skip
    rest = pd.DataFrame({
        "x": totals.bx - frame.x, "n": totals.bn - frame.n, "clusters": totals.bc - frame.only,
        "sum_t2": totals.bt2 - 2 * frame.t_bt + frame.sum_t2,
        "sum_tn": totals.btn - frame.t_bm - frame.m_bt + frame.sum_tn,
        "sum_n2": totals.bn2 - 2 * frame.m_bm + frame.sum_n2,
    })  # fmt: skip
    return frame[["grp", *SUMS]].join(rest.add_prefix("rest_"))


def _rows(dimension: str, sums: pd.DataFrame, conf: float) -> pd.DataFrame:
    own = clustered_rates(sums[["grp", *SUMS]], conf)
    rest = clustered_rates(sums[[f"rest_{c}" for c in SUMS]].set_axis(SUMS, axis=1), conf)
    p = stats.two_proportion_z(own.x / own.deff, own.n / own.deff, rest.x / rest.deff,
                               rest.n / rest.deff)  # fmt: skip
    out = pd.DataFrame({
        "dimension": dimension, "value": own.grp, "accounts": own.n.astype("int64"),
        "advocates": own.x.astype("int64"), "advocacy_rate": own.rate, "ci_low": own.ci_low,
        "ci_high": own.ci_high, "rest_rate": rest.rate, "p_value": p,
        "distinct_accounts": own.clusters.astype("int64"),
    })  # fmt: skip
    out = out.sort_values(["advocacy_rate", "value"], ascending=[False, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def _sentence(main: pd.DataFrame) -> str:
    if main.empty:
        return "No active accounts in the range."
    flagged = main[main.differs_from_rest]
    top = main[main.dimension == main.dimension.iloc[0]]
    high, low = float(top.advocacy_rate.iloc[0]), float(top.advocacy_rate.iloc[-1])
    if len(top) == 1:
        lead = f"By {top.dimension.iloc[0]}, advocacy is {pct(high)} in {top.value.iloc[0]}, its only value"
    elif abs(high - low) <= 1e-12:
        lead = f"By {top.dimension.iloc[0]}, advocacy is the same in every value ({pct(high)})"
    else:
        lead = (
            f"By {top.dimension.iloc[0]}, advocacy is highest in {top.value.iloc[0]} "
            f"({pct(high)}) and lowest in {top.value.iloc[-1]} ({pct(low)})"
        )
    if flagged.empty:
        return (
            lead + "; no value differs from the rest of its dimension beyond chance (BH q < 0.05)."
        )
    names = ", ".join(f"{r.dimension}={r.value}" for r in flagged.head(6).itertuples())
    more = "" if len(flagged) <= 6 else f" and {len(flagged) - 6} more"
    return (
        f"{lead}; {len(flagged)} of {len(main)} values differ from the rest of their dimension "
        f"with the false discovery rate held at 5% ({names}{more})."
    )


def run(source: Any, settings: Settings, options: AnalysisOptions) -> AnalysisResult:
    """Advocacy rate per value of every account dimension, ranked within the dimension."""
    conf = settings.stats.confidence
    ctx = context(source, settings, options)
    contexts = [ctx]
    try:
        rollup = _rollup(ctx)
        base, nps = ctx.cache(_base(rollup)), _nps_base(rollup)
        tot = ctx.cache(_account_totals(base))
        totals = _totals(tot)
        parts, nps_parts = [], []
        for dim in dimensions(ctx):
            dim_ctx = context(
                source, settings, replace(options, as_of=ctx.as_of), by=dim, check=False
            )
            contexts.append(dim_ctx)
            # Used twice at most: the as-of groups stay a query instead of a materialised table.
            groups = dimension_groups(dim_ctx)
            parts.append(_rows(dim, _dimension_sums(base, groups, tot, totals), conf))
            nps_parts.append(_nps_rows(dim, nps, groups, conf))
    finally:
        for c in contexts:
            c.release()
    main = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    main["q_value"] = stats.benjamini_hochberg(main["p_value"].to_numpy(float))
    main["differs_from_rest"] = main["q_value"] < ALPHA
    main["first_period"], main["last_period"] = ctx.periods[0].label, ctx.periods[-1].label
    main["periods"] = len(ctx.periods)
    main["as_of"] = ctx.as_of
    main = main.reindex(columns=COLUMNS)
    nps_frame = pd.concat(nps_parts, ignore_index=True) if nps_parts else pd.DataFrame()
    return AnalysisResult("segments", _sentence(main), {"main": main, "nps": nps_frame})
