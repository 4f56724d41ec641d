"""Statistics the metric engine applies to per-row aggregates (DESIGN §5, "Intervals and tests").

Everything works on aggregates pulled from SQL, never raw events: each function takes array-likes
with one element per result row and returns float64 arrays (NaN where undefined, never a warning).
Confidence level is `conf` (0.95 by default). Modules by concept:

- `proportions`: Wilson, cluster-adjusted Wilson, Newcombe difference, two-proportion z.
- `design`: clustering (`ClusterSums`, design effect) and the finite-population correction.
- `nps`: NPS with its cluster-robust / adjusted-Wald SE.
- `means`: t intervals for means (plain and clustered) and the delta method for ratios of sums.
- `counts`: exact Poisson interval and exact conditional comparison.
- `ranks`: order-statistic ranks for a median's interval.
- `compare`: differences from two SEs, Benjamini–Hochberg.
"""

from __future__ import annotations

from advocacy.metrics.stats._core import Array, Comparison, Estimate, Interval
from advocacy.metrics.stats.compare import benjamini_hochberg, diff_z, nps_diff, ratio_diff_delta
from advocacy.metrics.stats.counts import poisson_conditional_test, poisson_exact
from advocacy.metrics.stats.design import (
    ClusterSums,
    cluster_variance,
    design_effect,
    design_effect_proportion,
    fpc,
    fpc_factor,
)
from advocacy.metrics.stats.means import delta_ratio, mean_t, mean_t_cluster
from advocacy.metrics.stats.nps import (
    ADJUSTED_WALD_BELOW,
    nps_interval,
    nps_score_variance,
    nps_variance_iid,
)
from advocacy.metrics.stats.proportions import (
    newcombe_diff,
    share_se_cluster,
    two_proportion_z,
    wilson,
    wilson_cluster,
)
from advocacy.metrics.stats.ranks import median_rank_bounds

__all__ = [
    "ADJUSTED_WALD_BELOW",
    "Array",
    "ClusterSums",
    "Comparison",
    "Estimate",
    "Interval",
    "benjamini_hochberg",
    "cluster_variance",
    "delta_ratio",
    "design_effect",
    "design_effect_proportion",
    "diff_z",
    "fpc",
    "fpc_factor",
    "mean_t",
    "mean_t_cluster",
    "median_rank_bounds",
    "newcombe_diff",
    "nps_diff",
    "nps_interval",
    "nps_score_variance",
    "nps_variance_iid",
    "poisson_conditional_test",
    "poisson_exact",
    "ratio_diff_delta",
    "share_se_cluster",
    "two_proportion_z",
    "wilson",
    "wilson_cluster",
]
