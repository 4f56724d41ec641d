"""Survey design corrections: clustering of responses in accounts, and finite populations.

Clustered aggregates (`ClusterSums`) come from two SQL passes over the rows behind one result row::

    -- pass 1: one row per (result row, account)
    SELECT <row keys>, account_id, count(*) AS n_c, sum(q) AS t_c ... GROUP BY <row keys>, account_id
    -- pass 2: one row per result row
    SELECT <row keys>, count(*) AS clusters, sum(t_c * t_c) AS sum_t2,
           sum(t_c * n_c) AS sum_tn, sum(n_c * n_c) AS sum_n2 ... GROUP BY <row keys>

where q is the per-response quantity: 1/0 for a proportion's successes, +1/0/−1 for NPS, the score
for a mean. The row's n = Σ n_c and total = Σ t_c are the ordinary aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advocacy.metrics.stats._core import Array, as_float


@dataclass(frozen=True, eq=False)
class ClusterSums:
    """Per-row sums over accounts (clusters) c of t_c (the account's total) and n_c (its count).

    Attributes:
        clusters: number of accounts C with at least one response in the row.
        sum_t2: Σ_c t_c².
        sum_tn: Σ_c t_c·n_c.
        sum_n2: Σ_c n_c².
    """

    clusters: npt.ArrayLike
    sum_t2: npt.ArrayLike
    sum_tn: npt.ArrayLike
    sum_n2: npt.ArrayLike

    @classmethod
    def independent(
        cls, n: npt.ArrayLike, sum_q2: npt.ArrayLike, total: npt.ArrayLike
    ) -> ClusterSums:
        """The sums when every response is its own cluster (e.g. the logo basis).

        `sum_q2` is Σ q² over responses: x for a proportion, promoters + detractors for NPS.
        """
        return cls(clusters=n, sum_t2=sum_q2, sum_tn=total, sum_n2=n)


def cluster_variance(total: npt.ArrayLike, n: npt.ArrayLike, sums: ClusterSums) -> Array:
    """Cluster-robust (linearised) variance of the mean total/n of a clustered sample.

    V = C/(C−1) · Σ_c (t_c − m·n_c)² / n² with m = total/n, expanded into the `ClusterSums` as
    Σ t_c² − 2m Σ t_c n_c + m² Σ n_c². NaN when C < 2 or n = 0.
    """
    total_, n_, c, t2, tn, n2 = as_float(total, n, *_fields(sums))
    with np.errstate(divide="ignore", invalid="ignore"):
        m = total_ / n_
        ss = np.maximum(t2 - 2.0 * m * tn + m * m * n2, 0.0)
        var = c / (c - 1.0) * ss / (n_ * n_)
    return np.where((c >= 2) & (n_ > 0), var, np.nan)


def design_effect(
    total: npt.ArrayLike, n: npt.ArrayLike, unit_var: npt.ArrayLike, sums: ClusterSums
) -> Array:
    """Cluster-robust variance of the mean ÷ its iid variance, at least 1.

    `unit_var` is the population variance of one response (p(1 − p) for a proportion). Both
    variances carry their small-sample factor — C/(C−1) and n/(n−1) — so one response per account
    gives exactly 1. No variation at all (unit_var = 0) gives 1; a single account gives n (one
    independent unit); n = 0 gives NaN.
    """
    n_, uv, c = as_float(n, unit_var, sums.clusters)
    v_cl = cluster_variance(total, n_, sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = v_cl * (n_ - 1.0) / uv
    deff = np.where(uv > 0, np.maximum(ratio, 1.0), 1.0)
    deff = np.where(c == 1, n_, deff)
    return np.where(np.isnan(n_ + uv + c) | (n_ <= 0), np.nan, deff)


def design_effect_proportion(x: npt.ArrayLike, n: npt.ArrayLike, sums: ClusterSums) -> Array:
    """Design effect of the proportion x/n of responses clustered in accounts (t_c = successes).

    Example:
        >>> from advocacy.metrics.stats import ClusterSums, design_effect_proportion
        >>> float(design_effect_proportion(4, 8, ClusterSums(2, 16, 16, 32)))
        7.0
    """
    x_, n_ = as_float(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x_ / n_
    return design_effect(x_, n_, p * (1.0 - p), sums)


def fpc(n: npt.ArrayLike, big_n: npt.ArrayLike) -> Array:
    """Finite-population variance factor (N − n)/(N − 1), clipped to [0, 1]; n ≥ N gives 0."""
    n_, big = as_float(n, big_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.clip((big - n_) / (big - 1.0), 0.0, 1.0)
    return np.where(n_ >= big, 0.0, factor)


def fpc_factor(
    n: npt.ArrayLike, big_n: npt.ArrayLike, *, mode: str = "auto", threshold: float = 0.05
) -> Array:
    """The variance factor for survey metrics on the logo basis under setting `stats.fpc`.

    `mode="auto"` applies `fpc(n, N)` where N > 0 and n/N > `threshold` (N = active accounts,
    n = responding active accounts), else 1; `mode="off"` is always 1. An unknown (NaN) N gives 1:
    a population we cannot size must not narrow the interval.
    """
    n_, big = as_float(n, big_n)
    if mode == "off":
        return np.ones_like(n_)
    if mode != "auto":
        raise ValueError(f"stats.fpc must be 'auto' or 'off', got {mode!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        applies = (big > 0) & (n_ / big > threshold)
    return np.where(applies, fpc(n_, big), 1.0)


def _fields(sums: ClusterSums) -> tuple[npt.ArrayLike, ...]:
    return (sums.clusters, sums.sum_t2, sums.sum_tn, sums.sum_n2)
