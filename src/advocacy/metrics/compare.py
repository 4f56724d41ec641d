"""Comparisons of one definition's instances (`--compare previous|rest`) and the fingerprint
guard that refuses to compare results of different definitions (DESIGN §4–5)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from advocacy.errors import UserError
from advocacy.metrics import stats
from advocacy.metrics.catalog import BY_NAME
from advocacy.metrics.context import ALL

OVERLAP_NOTE = (
    "period-over-period comparisons treat the two periods as independent samples; the same "
    "accounts recur in both, so intervals and p-values are approximate"
)
DELTA = ["delta", "delta_ci_low", "delta_ci_high", "p_value", "q_value"]


def _se(rows: pd.DataFrame, conf: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    z = float(norm.ppf(0.5 + conf / 2))
    lo = rows["ci_low"].to_numpy(dtype="float64", na_value=np.nan)
    hi = rows["ci_high"].to_numpy(dtype="float64", na_value=np.nan)
    se: np.ndarray[Any, np.dtype[np.float64]] = (hi - lo) / (2 * z)
    return se


def _pairwise(a: pd.DataFrame, b: pd.DataFrame, kind: str, conf: float) -> pd.DataFrame:
    """delta = a − b with an interval and p-value by the metric's kind."""
    out = pd.DataFrame(index=a.index)
    out["delta"] = a["value"].to_numpy(dtype="float64") - b["value"].to_numpy(dtype="float64")
    x1, n1 = a["numerator"].to_numpy(dtype="float64"), a["denominator"].to_numpy(dtype="float64")
    x2, n2 = b["numerator"].to_numpy(dtype="float64"), b["denominator"].to_numpy(dtype="float64")
    if kind == "proportion":
        lo, hi = stats.newcombe_diff(x1, n1, x2, n2, conf)
        p = stats.two_proportion_z(x1, n1, x2, n2)
    elif kind == "count":
        lo = hi = np.full(len(a), np.nan)
        p = stats.poisson_conditional_test(x1, np.ones(len(a)), x2, np.ones(len(a)))
    elif kind == "estimate":
        cmp = stats.diff_z(
            a["value"].to_numpy(dtype="float64"),
            _se(a, conf),
            b["value"].to_numpy(dtype="float64"),
            _se(b, conf),
            conf,
        )
        lo, hi, p = cmp.lo, cmp.hi, cmp.p_value
    else:
        lo = hi = p = np.full(len(a), np.nan)
    out["delta_ci_low"], out["delta_ci_high"], out["p_value"] = lo, hi, p
    return out


def _kind(metric: str) -> str:
    m = BY_NAME.get(metric)
    if m is None or m.interval.value in ("none", "order statistic (distribution-free)"):
        return "none"
    if m.unit.value == "count":
        return "count"
    if m.interval.value == "wilson" and m.unit.value == "fraction":
        return "proportion"
    return "estimate"


def compare_previous(rows: pd.DataFrame, by: str | None, conf: float) -> pd.DataFrame:
    """Each row against the same metric and group in the period just before (the one ending
    where it starts); where that period has no row, there is nothing to compare."""
    keys = ["metric"] + ([by] if by else [])
    rows = rows.copy()
    rows["_g"] = [
        "|".join("(total)" if v is None or v != v else str(v) for v in vals)
        for vals in rows[keys].itertuples(index=False)
    ]
    earlier = rows[["_g", "period_end", "value", "numerator", "denominator", "ci_low", "ci_high"]]
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
                cur, before, _kind(str(metric)), conf
            ).to_numpy()
    result.attrs = dict(rows.attrs)
    result.attrs.setdefault("notes", []).append(OVERLAP_NOTE)
    return result.drop(columns="_g")


def compare_rest(
    rows: pd.DataFrame, by: str, conf: float, active: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each group against the rest of the population (total − group), Benjamini–Hochberg q.

    Proportions: Newcombe and the two-proportion z. Counts: the group's count against what
    it would be at the rest's rate per active account (`active`: period_label, grp,
    active_n, the total under `ALL`), with the exact conditional Poisson test. Other kinds
    get no comparison, and a note names them."""
    result = rows.copy()
    for col in DELTA:
        result[col] = np.nan
    skipped: list[str] = []
    for (metric, period), frame in rows.groupby(["metric", "period_label"], sort=False):
        kind = _kind(str(metric))
        total = frame[frame[by].isna()]
        groups = frame[frame[by].notna()]
        if kind not in ("proportion", "count"):
            if str(metric) not in skipped:
                skipped.append(str(metric))
            continue
        if total.empty or groups.empty:
            continue
        rest = groups.copy()
        for col in ("numerator", "denominator"):
            rest[col] = float(total[col].iloc[0]) - groups[col].astype("float64")
        if kind == "count":
            d = _count_against_rest(groups, rest, _exposures(active, period, groups[by]))
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                rest["value"] = rest["numerator"] / rest["denominator"].where(
                    rest["denominator"] > 0
                )
            d = _pairwise(groups, rest, kind, conf)
        d["q_value"] = stats.benjamini_hochberg(d["p_value"].to_numpy(dtype="float64"))
        result.loc[groups.index, DELTA] = d[DELTA].to_numpy()
    if skipped:
        result.attrs.setdefault("notes", []).append(
            f"--compare rest compares proportions and counts; {', '.join(skipped)} "
            "have no comparison with the rest"
        )
    return result


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
    x1 = groups["numerator"].to_numpy(dtype="float64")
    x2 = rest["numerator"].to_numpy(dtype="float64")
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
