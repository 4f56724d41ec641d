"""Pieces the support, leading, segments and program analyses share.

Each analysis builds the metric engine's `Context` (periods, as_of, active accounts, as-of
dimensions) from its options, so populations and periods mean exactly what they mean in metrics.
Statistics then run on account-level frames pulled from SQL (one row per account × period at most).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from advocacy.analyses import AnalysisOptions
from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics import stats
from advocacy.metrics.context import Context, build_context, latest_data_date
from advocacy.metrics.spec import MetricRequest
from advocacy.metrics.stats._core import z_value


def checked_as_of(source: Any, settings: Settings, options: AnalysisOptions) -> date:
    """options.as_of, or the latest data date; an as_of after the latest data is refused."""
    latest = latest_data_date(source, settings)
    if options.as_of is not None and options.as_of > latest:
        raise UserError(
            f"--as-of {options.as_of} is after the latest data ({latest}): outcomes after "
            f"{latest} are not known yet; use --as-of {latest} or earlier"
        )
    return options.as_of or latest


def context(
    source: Any,
    settings: Settings,
    options: AnalysisOptions,
    *,
    by: str | None = None,
    check: bool = True,
) -> Context:
    """The metric engine's context for the analysis's period, range and as_of.

    An as_of after the latest data is refused (`check`): the analyses count outcomes once their
    window has closed by as_of, and a window past the data would count as closed with no events.
    """
    as_of = checked_as_of(source, settings, options) if check else options.as_of
    request = MetricRequest.create(
        ["advocacy_rate"], by=by, period=options.period, start=options.start,
        end=options.end, as_of=as_of,
    )  # fmt: skip
    return build_context(source, settings, request)


def cluster_sums(frame: pd.DataFrame, keys: Sequence[str], y: str, cluster: str) -> pd.DataFrame:
    """Per group: units n, successes x and the `ClusterSums` of the clusters within it."""
    per = frame.groupby([*keys, cluster], dropna=False, sort=False)[y].agg(["sum", "count"])
    per = per.rename(columns={"sum": "t", "count": "m"}).reset_index()
    per["tt"], per["tm"], per["mm"] = per.t * per.t, per.t * per.m, per.m * per.m
    out = per.groupby(list(keys), dropna=False, sort=False).agg(
        x=("t", "sum"), n=("m", "sum"), clusters=("t", "size"),
        sum_t2=("tt", "sum"), sum_tn=("tm", "sum"), sum_n2=("mm", "sum"),
    )  # fmt: skip
    return out.reset_index()


def clustered_rates(sums: pd.DataFrame, conf: float) -> pd.DataFrame:
    """Rate x/n per row of `cluster_sums` with a cluster-adjusted Wilson interval."""
    x, n = sums["x"].to_numpy(float), sums["n"].to_numpy(float)
    cs = stats.ClusterSums(sums["clusters"], sums["sum_t2"], sums["sum_tn"], sums["sum_n2"])
    deff = stats.design_effect_proportion(x, n, cs)
    lo, hi = stats.wilson_cluster(x, n, deff, conf)
    out = sums.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    out["ci_low"], out["ci_high"], out["deff"] = lo, hi, deff
    return out


def linear_combination(
    frame: pd.DataFrame, *, x: str, y: str, cell: str, coef: dict[Any, float], cluster: str
) -> tuple[float, float]:
    """Σ coef_k · (Σx/Σy within cell k), with a cluster-robust linearised (delta-method) SE.

    Unit i of cell k contributes coef_k (x_i − R_k y_i)/Y_k; contributions are summed per cluster
    and V = C/(C − 1) Σ_c u_c². With one unit per cluster and one cell this is the delta method of
    `stats.delta_ratio`; two cells with coefficients ±1 give a difference, strata weights an
    adjusted difference.
    """
    f = frame[frame[cell].isin(list(coef))]
    if f.empty:
        return np.nan, np.nan
    codes, cells = pd.factorize(f[cell])
    xs, ys = f[x].to_numpy(float), f[y].to_numpy(float)
    sx, sy = np.bincount(codes, weights=xs), np.bincount(codes, weights=ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sy != 0, sx / sy, np.nan)
        c = np.array([coef[k] for k in cells], dtype=float)
        u = c[codes] * (xs - ratio[codes] * ys) / sy[codes]
    clusters = pd.factorize(f[cluster])[0]
    per = np.bincount(clusters, weights=u)
    k = per.size
    ratios = dict(zip(cells, ratio, strict=True))
    estimate = float(sum(coef[key] * ratios.get(key, np.nan) for key in coef))
    var = k / (k - 1) * float(np.sum(per * per)) if k > 1 else np.nan
    return estimate, float(np.sqrt(var)) if np.isfinite(var) else np.nan


def normal_bounds(value: float, se: float, conf: float) -> tuple[float, float]:
    """value ± z·se; NaN bounds when either is undefined."""
    if not (np.isfinite(value) and np.isfinite(se)):
        return np.nan, np.nan
    half = z_value(conf) * se
    return value - half, value + half


def conf_label(conf: float) -> str:
    """The confidence level as a sentence names it: 0.95 → "95%", 0.975 → "97.5%"."""
    return f"{100 * conf:.10g}%"


def pct(value: Any, digits: int = 1) -> str:
    v = float(value)
    return "n/a" if not np.isfinite(v) else f"{100 * v:.{digits}f}%"


def num(value: Any, digits: int = 2) -> str:
    v = float(value)
    return "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"
