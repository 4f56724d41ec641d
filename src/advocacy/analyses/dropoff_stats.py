"""The two tests of the drop-off analysis, in closed form on additive per-group sums.

Ratio signals (counted actions, referrals) use a quasi-Poisson model with one rate per cell
(window × group) and each account-window as an observation with its active weeks as exposure:
``log E[y] = log(e) + α_cell``. The model is saturated in the cells, so the MLE of each rate is
Σy ÷ Σe, Var(log rate) = φ ÷ Σy, and the Pearson dispersion φ = X² ÷ (N − K) inflates it for
accounts that act in bursts (several actions in one window) and for frailty; with Σμ = Σy in each
cell, X² = Σ_cells (Σ y²/e) ÷ rate − Σy. This is what ``statsmodels`` GLM(Poisson, offset=log e,
scale="X2") reports for the same frame (tested).

Level signals (NPS, review rating) compare ratio-of-sums means with a cluster-robust (by account)
linearised variance that keeps the covariance of the same account before and after; its sum of
squares expands into sums of products, so it too comes from additive per-group sums.

p-values are one-sided, against the alternative of a drop: the analysis asks whether advocacy fell
after a release, and only drops are flagged; intervals are two-sided.

Every function takes sums that add over accounts, so a group's complement is ``total − group``
and all the groups of a dimension come from one ``np.bincount`` pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
NAN = float("nan")
# Below this many responses (or reviews) in a window the linearised z test is not trusted (the
# adjusted-Wald threshold of NPS intervals, DESIGN §5); the means are still reported.
MIN_RESPONSES = 30
# Count sums: Σy, Σe, Σy²/e, accounts (each over accounts with e > 0).
COUNT_SUMS = 4
# Mean sums over a = t_post, b = n_post, c = t_pre, d = n_pre (per account) and cluster counts.
MEAN_SUMS = 17


class Outcome(NamedTuple):
    """One row's estimate: pre/post values of the group, the ratio or difference, interval, p."""

    pre: float
    post: float
    estimate: float
    lo: float
    hi: float
    p_value: float
    pre_n: float
    post_n: float


def count_sums(y: FloatArr, e: FloatArr, codes: IntArr, k: int) -> FloatArr:
    """(k, 4) sums per group code of one window; accounts without exposure are left out."""
    ok = e > 0
    safe = np.where(ok, e, 1.0)
    parts = (y, e, y * y / safe, np.ones_like(e))
    return np.column_stack([np.bincount(codes[ok], p[ok], minlength=k) for p in parts])


def mean_sums(
    t_pre: FloatArr, n_pre: FloatArr, t_post: FloatArr, n_post: FloatArr, codes: IntArr, k: int
) -> FloatArr:
    """(k, 17) sums per group code of a level signal, both windows."""
    keep = (n_post + n_pre) > 0  # accounts without responses add nothing: skip them
    a, b, c, d, codes = t_post[keep], n_post[keep], t_pre[keep], n_pre[keep], codes[keep]
    parts = (
        a, b, c, d, a * a, b * b, a * b, c * c, d * d, c * d, a * c, a * d, b * c, b * d,
        ((b + d) > 0).astype(np.float64), (b > 0).astype(np.float64), (d > 0).astype(np.float64),
    )  # fmt: skip
    return np.column_stack([np.bincount(codes, p, minlength=k) for p in parts])


def z_crit(conf: float) -> float:
    return float(sps.norm.ppf(0.5 + conf / 2.0))


def _p(z: float) -> float:
    """One-sided p-value of a drop (H1: the estimate is below its null value)."""
    return float(sps.norm.cdf(z)) if math.isfinite(z) else NAN


def poisson_contrast(cells: Sequence[FloatArr], contrast: Sequence[float], conf: float) -> Outcome:
    """exp(Σ c_k log rate_k) with a quasi-Poisson Wald interval and p-value (H1: ratio < 1).

    ``cells`` are `count_sums` rows; ``pre``/``post`` of the result are the rates of the first two
    cells (the group's own windows).
    """
    ys, es, ss, ns = (np.array([c[j] for c in cells]) for j in range(COUNT_SUMS))
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = ys / es
    pre, post = float(rates[0]), float(rates[1])
    n_obs = float(ns.sum())
    if not (np.all(ys > 0) and np.all(es > 0)) or n_obs <= len(cells):
        return Outcome(pre, post, NAN, NAN, NAN, NAN, float(ys[0]), float(ys[1]))
    phi = float((ss / rates - ys).sum()) / (n_obs - len(cells))
    c = np.asarray(contrast, dtype=np.float64)
    log_ratio = float((c * np.log(rates)).sum())
    se = math.sqrt(max(phi, 0.0) * float((c**2 / ys).sum()))
    half = z_crit(conf) * se
    p = _p(log_ratio / se) if se > 0 else NAN
    lo, hi = math.exp(log_ratio - half), math.exp(log_ratio + half)
    return Outcome(pre, post, math.exp(log_ratio), lo, hi, p, float(ys[0]), float(ys[1]))


def ratio_pre_post(pre: FloatArr, post: FloatArr, conf: float) -> Outcome:
    return poisson_contrast([pre, post], [-1.0, 1.0], conf)


def ratio_did(
    in_pre: FloatArr, in_post: FloatArr, out_pre: FloatArr, out_post: FloatArr, conf: float
) -> Outcome:
    """(in-scope post ÷ pre) ÷ (out-of-scope post ÷ pre), one dispersion over the four cells."""
    return poisson_contrast([in_pre, in_post, out_pre, out_post], [-1.0, 1.0, 1.0, -1.0], conf)


def _mean_change(v: FloatArr) -> tuple[float, float, float, float]:
    """(pre mean, post mean, post − pre, cluster-robust variance of the difference)."""
    a, b, c, d, aa, bb, ab, cc, dd, cd, ac, ad, bc, bd, k, k_post, k_pre = (float(x) for x in v)
    post = a / b if b > 0 else NAN
    pre = c / d if d > 0 else NAN
    if min(b, d) < MIN_RESPONSES or min(k_post, k_pre) < 2:
        return pre, post, post - pre, NAN
    # u_i = (a_i − post·b_i)/b − (c_i − pre·d_i)/d;  Σu² from the sums of products.
    xx = (aa - 2 * post * ab + post * post * bb) / (b * b)
    zz = (cc - 2 * pre * cd + pre * pre * dd) / (d * d)
    xz = (ac - pre * ad - post * bc + post * pre * bd) / (b * d)
    var = k / (k - 1) * max(xx + zz - 2 * xz, 0.0)
    return pre, post, post - pre, var


def mean_diff(
    groups: Sequence[FloatArr], signs: Sequence[float], conf: float, scale: float
) -> Outcome:
    """Σ sign × (post − pre) over disjoint groups (`mean_sums` rows), times ``scale``, z test (H1: < 0)."""
    parts = [_mean_change(g) for g in groups]
    pre, post = parts[0][0] * scale, parts[0][1] * scale
    pre_n, post_n = float(groups[0][3]), float(groups[0][1])
    diff = sum(s * p[2] for s, p in zip(signs, parts, strict=True)) * scale
    var = sum(p[3] for p in parts) * scale * scale
    if not (math.isfinite(diff) and math.isfinite(var)) or var <= 0:
        return Outcome(pre, post, diff, NAN, NAN, NAN, pre_n, post_n)
    se = math.sqrt(var)
    half = z_crit(conf) * se
    return Outcome(pre, post, diff, diff - half, diff + half, _p(diff / se), pre_n, post_n)
