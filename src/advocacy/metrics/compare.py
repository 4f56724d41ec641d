"""Comparisons of one definition's instances (`--compare previous|rest`) and the fingerprint
guard that refuses to compare results of different definitions (DESIGN §4–5)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from advocacy.errors import UserError
from advocacy.metrics import stats
from advocacy.metrics.context import ALL
from advocacy.metrics.frames import f64
from advocacy.metrics.spec import Basis, Interval, MetricDef, Unit

OVERLAP_NOTE = (
    "period-over-period comparisons treat the two periods as independent samples; the same "
    "accounts recur in both, so intervals and p-values are approximate"
)
DELTA = ["delta", "delta_ci_low", "delta_ci_high", "p_value", "q_value"]


def _se(rows: pd.DataFrame, conf: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Each estimate's standard error (`_se`, from the family's own variance or the bootstrap
    replicates), else the one its interval implies."""
    z = float(norm.ppf(0.5 + conf / 2))
    implied: np.ndarray[Any, np.dtype[np.float64]] = (
        f64(rows, "ci_high") - f64(rows, "ci_low")
    ) / (2 * z)
    if "_se" not in rows:
        return implied
    own = f64(rows, "_se")
    return np.where(np.isnan(own), implied, own)


def _pairwise(a: pd.DataFrame, b: pd.DataFrame, kind: str, conf: float) -> pd.DataFrame:
    """delta = a − b with an interval and p-value by the metric's kind."""
    out = pd.DataFrame(index=a.index)
    out["delta"] = f64(a, "value") - f64(b, "value")
    x1, n1 = f64(a, "numerator"), f64(a, "denominator")
    x2, n2 = f64(b, "numerator"), f64(b, "denominator")
    if kind == "proportion":
        lo, hi = stats.newcombe_diff(x1, n1, x2, n2, conf)
        p = stats.two_proportion_z(x1, n1, x2, n2)
    elif kind == "count":
        lo = hi = np.full(len(a), np.nan)
        p = stats.poisson_conditional_test(x1, np.ones(len(a)), x2, np.ones(len(a)))
    elif kind == "estimate":
        cmp = stats.diff_z(f64(a, "value"), _se(a, conf), f64(b, "value"), _se(b, conf), conf)
        lo, hi, p = cmp.lo, cmp.hi, cmp.p_value
    else:
        lo = hi = p = np.full(len(a), np.nan)
    out["delta_ci_low"], out["delta_ci_high"], out["p_value"] = lo, hi, p
    return out


def compare_kind(metric: MetricDef, basis: Basis) -> str:
    """How instances of the metric are compared (DESIGN §5): a share of countable units
    (Newcombe and the two-proportion z), a count (exact conditional Poisson), an estimate with a
    standard error (z on the difference: NPS, means, ratios, cluster-adjusted and ARR-weighted
    shares), or nothing (no interval to compare with)."""
    interval = metric.interval
    if interval in (Interval.NONE, Interval.ORDER_STATISTIC):
        return "none"
    if metric.unit is Unit.COUNT:
        return "count"
    # An ARR-weighted share counts dollars, not units: its delta-method SE, not Newcombe. On
    # the logo basis a share of responses is one of accounts (each one's latest), unclustered.
    units = interval is Interval.WILSON or (
        interval is Interval.WILSON_CLUSTER and basis is Basis.LOGO
    )
    if units and metric.unit is Unit.FRACTION and basis is not Basis.ARR:
        return "proportion"
    return "estimate"


def compare_previous(
    rows: pd.DataFrame, by: str | None, conf: float, kinds: dict[str, str]
) -> pd.DataFrame:
    """Each row against the same metric and group in the period just before (the one ending
    where it starts); where that period has no row, there is nothing to compare."""
    keys = ["metric"] + ([by] if by else [])
    rows = rows.copy()
    rows["_g"] = [
        "|".join("(total)" if v is None or v != v else str(v) for v in vals)
        for vals in rows[keys].itertuples(index=False)
    ]
    earlier = rows[["_g", "period_end", "value", "numerator", "denominator", "ci_low", "ci_high",
                    "_se"]]  # fmt: skip
    prev = rows[["_g", "period_start"]].merge(
        earlier.rename(columns={"period_end": "period_start"}), on=["_g", "period_start"],
        how="left",
    )  # fmt: skip
    prev.index = rows.index
    result = rows.copy()
    for col in DELTA:
        result[col] = np.nan
    for metric, idx in rows.groupby("metric").groups.items():
        has = prev.loc[idx, "value"].notna().to_numpy()
        cur, before = rows.loc[idx][has], prev.loc[idx][has]
        if len(cur):
            result.loc[cur.index, DELTA[:4]] = _pairwise(
                cur, before, kinds.get(str(metric), "none"), conf
            ).to_numpy()
    result.attrs = dict(rows.attrs)
    result.attrs.setdefault("notes", []).append(OVERLAP_NOTE)
    return result.drop(columns="_g")


def compare_rest(
    rows: pd.DataFrame,
    rest: pd.DataFrame,
    by: str,
    conf: float,
    kinds: dict[str, str],
    active: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each group against the rest of the population, Benjamini–Hochberg q across groups.

    `rest` holds, per group row, the metric computed over everyone else (the families'
    own arithmetic on total − group sums, `grouping.with_rest`). Proportions: Newcombe and the
    two-proportion z; estimates: z on the difference of the two with their SEs. Counts: the
    group's count against what it would be at the rest's rate per active account (`active`:
    period_label, grp, active_n, the total under `ALL`), with the exact conditional Poisson
    test. Metrics without an interval get no comparison, and a note names them."""
    result = rows.copy()
    for col in DELTA:
        result[col] = np.nan
    keys = ["metric", "period_label", by]
    computed = set(rest["metric"])  # a metric whose sums give no rest has no rest rows at all
    rest = rest.assign(**{by: rest[by].astype(str)}).drop_duplicates(keys).set_index(keys)
    skipped: list[str] = []
    for (metric, period), frame in rows.groupby(["metric", "period_label"], sort=False):
        kind = kinds.get(str(metric), "none")
        groups = frame[frame[by].notna()]
        if groups.empty:
            continue
        if kind == "count":
            total = frame[frame[by].isna()]
            if total.empty:
                continue
            others = groups.copy()
            others["numerator"] = float(total["numerator"].iloc[0]) - f64(groups, "numerator")
            d = _count_against_rest(groups, others, _exposures(active, period, groups[by]))
        else:
            at = pd.MultiIndex.from_arrays(
                [groups["metric"], groups["period_label"], groups[by].astype(str)]
            )
            others = rest.reindex(at).set_axis(groups.index)
            others.loc[_other_scale(groups, others), "value"] = np.nan
            if kind == "none" or str(metric) not in computed:
                if str(metric) not in skipped:
                    skipped.append(str(metric))
                continue
            d = _pairwise(groups, others, kind, conf)
            d.loc[others["value"].isna().to_numpy(), ["delta", *DELTA[1:4]]] = np.nan
        d["q_value"] = stats.benjamini_hochberg(d["p_value"].to_numpy(dtype="float64"))
        result.loc[groups.index, DELTA] = d[DELTA].to_numpy()
    if skipped:
        result.attrs.setdefault("notes", []).append(
            f"--compare rest: {', '.join(skipped)} have no comparison with the rest "
            "(no test for a median or a metric without an interval)"
        )
    return result


def _other_scale(groups: pd.DataFrame, others: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Rows whose rest is on another scale than the group (csat_mean: native vs 0–1)."""

    def scale(extra: Any) -> Any:
        return json.loads(extra).get("scale") if isinstance(extra, str) else None

    mine = [scale(e) for e in groups["extra"]]
    theirs = [scale(e) for e in others["extra"]]
    return np.array([a != b for a, b in zip(mine, theirs, strict=True)], dtype=bool)


def _exposures(active: pd.DataFrame | None, period: Any, groups: pd.Series) -> np.ndarray[Any, Any]:
    """(group, rest) active accounts per group row, NaN where unknown."""
    out = np.full((len(groups), 2), np.nan)
    if active is None:
        return out
    here = active[active["period_label"] == period].set_index("grp")["active_n"]
    total = float(here.get(ALL, np.nan))
    for i, g in enumerate(groups):
        n = float(here.get(str(g), np.nan))
        out[i] = (n, total - n)
    return out


def _count_against_rest(
    groups: pd.DataFrame, rest: pd.DataFrame, exposure: np.ndarray[Any, Any]
) -> pd.DataFrame:
    """delta = the group's count − its count at the rest's rate per active account."""
    x1, x2 = f64(groups, "numerator"), f64(rest, "numerator")
    e1, e2 = exposure[:, 0], exposure[:, 1]
    ok = (e1 > 0) & (e2 > 0)
    out = pd.DataFrame(index=groups.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["delta"] = np.where(ok, x1 - e1 * x2 / np.where(ok, e2, 1), np.nan)
    out["delta_ci_low"] = out["delta_ci_high"] = np.nan
    p = stats.poisson_conditional_test(x1, np.where(ok, e1, 1), x2, np.where(ok, e2, 1))
    out["p_value"] = np.where(ok, p, np.nan)
    return out


def check_same_definition(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Refuse to compare results of different definitions, naming what differs."""
    fa, fb = set(left["fingerprint"]), set(right["fingerprint"])
    if fa == fb:
        return
    da = left.attrs.get("definitions", {})
    db = right.attrs.get("definitions", {})
    diffs: set[str] = set()
    for x in fa:
        for y in fb:
            a, b = da.get(x, {}), db.get(y, {})
            diffs |= {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    what = ", ".join(sorted(diffs)) or "the definitions"
    raise UserError(f"these results are not comparable: they differ in {what}")
