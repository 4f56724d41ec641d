"""The engine's side of the statistics: aggregate frames in, (value, low, high) arrays out,
and for estimates their standard error, which `--compare` tests differences with (an interval
clipped to the scale or built on t quantiles does not give it back)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from advocacy.metrics import stats
from advocacy.metrics.frames import f64

Arr = Any


def _sums(g: pd.DataFrame, t2: str, tn: str, n2: str) -> stats.ClusterSums:
    return stats.ClusterSums(f64(g, "clusters"), f64(g, t2), f64(g, tn), f64(g, n2))


def wilson(x: Arr, n: Arr, conf: float) -> tuple[Arr, Arr]:
    lo, hi = stats.wilson(x, n, conf)
    return lo, hi


def share_clustered(g: pd.DataFrame, conf: float) -> tuple[Arr, Arr, Arr, Arr]:
    """A share of responses clustered in accounts: Wilson on the design-effect-adjusted n;
    SE² = deff · p(1 − p)/n, the variance that interval is built on."""
    x, n = f64(g, "x"), f64(g, "n")
    deff = stats.design_effect_proportion(x, n, _sums(g, "yy", "yn", "nn"))
    lo, hi = stats.wilson_cluster(x, n, deff, conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    return p, lo, hi, stats.share_se_cluster(x, n, deff)


def nps(g: pd.DataFrame, conf: float) -> tuple[Arr, Arr, Arr, Arr]:
    """Response-basis NPS: cluster-robust over accounts, adjusted-Wald below n = 30."""
    est = stats.nps_interval(
        f64(g, "p"), f64(g, "d"), f64(g, "n"), _sums(g, "ss", "sn", "nn"), conf
    )
    return est.value, est.lo, est.hi, est.se


def nps_logo(g: pd.DataFrame, conf: float, population: Arr | None) -> tuple[Arr, Arr, Arr, Arr]:
    """Logo-basis NPS: one response per account, with the finite-population correction."""
    p, d, n = f64(g, "p"), f64(g, "d"), f64(g, "n")
    factor = 1.0 if population is None else stats.fpc_factor(n, population)
    sums = stats.ClusterSums.independent(n, p + d, p - d)
    est = stats.nps_interval(p, d, n, sums, conf, fpc=factor)
    return est.value, est.lo, est.hi, est.se


def delta_ratio(
    g: pd.DataFrame, conf: float, *, scale: float = 1.0, population: Arr | None = None
) -> tuple[Arr, Arr, Arr, Arr]:
    """Σx/Σy over independent units with the delta method (× `scale`, optional fpc)."""
    n = f64(g, "n")
    factor = 1.0 if population is None else stats.fpc_factor(n, population)
    est = stats.delta_ratio(
        f64(g, "sx"), f64(g, "sy"), f64(g, "sxx"), f64(g, "syy"), f64(g, "sxy"), n, conf, fpc=factor
    )
    return est.value * scale, est.lo * scale, est.hi * scale, est.se * scale


def mean_clustered(
    s: Arr, q: Arr, sn: Arr, nn: Arr, n: Arr, clusters: Arr, conf: float
) -> tuple[Arr, Arr, Arr, Arr]:
    est = stats.mean_t_cluster(s, n, stats.ClusterSums(clusters, q, sn, nn), conf)
    return est.value, est.lo, est.hi, est.se


def mean_t(s: Arr, q: Arr, n: Arr, conf: float) -> tuple[Arr, Arr, Arr, Arr]:
    est = stats.mean_t(s, q, n, conf)
    return est.value, est.lo, est.hi, est.se


def poisson_exact(x: Arr, conf: float) -> tuple[Arr, Arr]:
    lo, hi = stats.poisson_exact(x, conf)
    return lo, hi


def median_ranks(n: Arr, conf: float) -> tuple[Arr, Arr]:
    lo, hi = stats.median_rank_bounds(n, conf)
    return lo, hi
