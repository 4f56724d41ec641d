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
    """Each row against the same metric and group in the period before."""
    keys = ["metric"] + ([by] if by else [])
    rows = rows.copy()
    rows["_g"] = [
        "|".join("(total)" if v is None or v != v else str(v) for v in vals)
        for vals in rows[keys].itertuples(index=False)
    ]
    prev = rows.groupby("_g", sort=False).shift(1)
    result = rows.copy()
    for col in DELTA:
        result[col] = np.nan
    for metric, idx in rows.groupby("metric").groups.items():
        has = prev.loc[idx, "value"].notna()
        cur, before = rows.loc[idx][has.to_numpy()], prev.loc[idx][has.to_numpy()]
        if len(cur):
            result.loc[cur.index, DELTA[:4]] = _pairwise(
                cur, before, _kind(str(metric)), conf
            ).to_numpy()
    result.attrs = dict(rows.attrs)
    result.attrs.setdefault("notes", []).append(OVERLAP_NOTE)
    return result.drop(columns="_g")


def compare_rest(rows: pd.DataFrame, by: str, conf: float) -> pd.DataFrame:
    """Each group against the rest of the population (total − group), Benjamini–Hochberg q."""
    result = rows.copy()
    for col in DELTA:
        result[col] = np.nan
    for (metric, _period), frame in rows.groupby(["metric", "period_start"], sort=False):
        kind = _kind(str(metric))
        total = frame[frame[by].isna()]
        groups = frame[frame[by].notna()]
        if total.empty or groups.empty or kind not in ("proportion", "count"):
            continue
        rest = groups.copy()
        rest["numerator"] = float(total["numerator"].iloc[0]) - groups["numerator"].astype(
            "float64"
        )
        rest["denominator"] = float(total["denominator"].iloc[0]) - groups["denominator"].astype(
            "float64"
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            rest["value"] = rest["numerator"] / rest["denominator"].where(rest["denominator"] > 0)
        if kind == "count":
            rest["value"] = rest["numerator"]
        d = _pairwise(groups, rest, kind, conf)
        d["q_value"] = stats.benjamini_hochberg(d["p_value"].to_numpy(dtype="float64"))
        result.loc[groups.index, DELTA] = d[DELTA].to_numpy()
    return result


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
