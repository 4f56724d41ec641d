"""Incentive bias of reviews (DESIGN §6, program health): incentivized vs organic ratings.

A review is incentivized (DESIGN §7) when declared, linked to a monetary reward, asked for with an
incentive, or preceded by a monetary reward to its contact in the 30 local days before (the
program's own rule, `advocacy.program.incentives`, reused here). Ratings are
compared per platform with the Wilcoxon–Mann–Whitney test and combined over platforms with van
Elteren's stratified test (weights 1/(N_s + 1)), so a platform mix that differs between
incentivized and organic reviews cannot masquerade as bias. Only counts per (platform,
incentivized, rating) leave the database.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from ibis import _

from advocacy.metrics.context import Context
from advocacy.metrics.stats.association import rank_sum_from_counts, van_elteren
from advocacy.program.incentives import incentivized_reviews as program_incentivized
from advocacy.program.policy import Policy

NO_PLATFORM = "(none)"


def incentivized_reviews(ctx: Context, start: Any, end: Any) -> Any:
    """Rated reviews of known accounts in [start, end) with an `inc` flag (0/1) and platform.

    The flag is the program's rule (`advocacy.program.incentives`), with the workspace policy,
    seeing only rewards and asks before the cutoff (a later reward does not flag a review).
    """
    acts = ctx.source.table("advocacy_actions")
    reviews = acts.filter((acts.action_type == "review") & acts.rating.notnull())
    reviews = reviews.filter((reviews.occurred_at >= start) & (reviews.occurred_at < end))
    reviews = reviews.filter(reviews.occurred_at < ctx.cutoff)
    reviews = reviews.semi_join(ctx.accounts.select("account_id"), "account_id")
    policy = Policy.from_settings(ctx.settings)
    flagged = program_incentivized(ctx.source, policy, cutoff=ctx.cutoff)
    flagged = flagged.select(f_action=_.action_id).distinct()
    r = reviews.left_join(flagged, reviews.action_id == flagged.f_action)
    return r.select(
        platform=r.platform.fill_null(NO_PLATFORM),
        inc=r.f_action.notnull().ifelse(1, 0),
        rating=r.rating.cast("float64"),
    )


def rating_counts(ctx: Context, start: Any, end: Any) -> pd.DataFrame:
    """(platform, inc, rating, n): the frequency table the tests run on."""
    reviews = incentivized_reviews(ctx, start, end)
    frame: pd.DataFrame = (
        reviews.group_by(["platform", "inc", "rating"]).agg(n=_.count()).to_pandas()
    )
    return frame


def bias_rows(counts: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per platform (Mann–Whitney) and one combined row (van Elteren)."""
    rows, tests, sizes = [], [], []
    num_diff, den = 0.0, 0.0
    for platform, f in counts.groupby("platform", sort=True):
        wide = f.pivot_table(index="rating", columns="inc", values="n", aggfunc="sum", fill_value=0)
        wide = wide.reindex(columns=[0, 1], fill_value=0)
        test = rank_sum_from_counts(wide.index.to_numpy(float), wide[1], wide[0])
        mean_inc, mean_org = _mean(wide, 1), _mean(wide, 0)
        n_inc, n_org = int(wide[1].sum()), int(wide[0].sum())
        tests.append(test)
        sizes.append(n_inc + n_org)
        diff = mean_inc - mean_org
        if np.isfinite(diff):
            num_diff, den = num_diff + diff * (n_inc + n_org), den + n_inc + n_org
        rows.append({
            "measure": "incentive_bias", "segment": None, "value": diff, "n": n_inc + n_org,
            "p_value": test.p_value,
            "detail": f"platform {platform}: {n_inc} incentivized (mean {mean_inc:.2f}) vs {n_org} "
            f"organic (mean {mean_org:.2f}); Mann–Whitney z = {test.z:.2f}",
        })  # fmt: skip
    combined = van_elteren(tests, sizes)
    rows.append({
        "measure": "incentive_bias_combined", "segment": None,
        "value": num_diff / den if den else np.nan, "n": int(sum(sizes)), "p_value": combined.p_value,
        "detail": "mean rating incentivized − organic within platform, weighted by platform size; "
        f"van Elteren stratified rank-sum test over {len(tests)} platforms, z = {combined.z:.2f}",
    })  # fmt: skip
    return rows


def _mean(wide: pd.DataFrame, col: int) -> float:
    n = float(wide[col].sum())
    return float((wide.index.to_numpy(float) * wide[col]).sum() / n) if n else np.nan
