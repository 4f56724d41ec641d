"""The family of tests run for one date: shared by real changes and placebo dates.

A date's windows are reduced to per-account sums before and after (``WindowSums``), then to
additive sums per group code of one dimension (``GroupStats``, one bincount pass); a group is
tested against its own past (``pre_post``) or against the accounts outside it (``did``, the
complement being total − group). Keeping this in one place makes the placebo test "the same test"
by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from advocacy.analyses.dropoff_stats import (
    Outcome,
    count_sums,
    mean_diff,
    mean_sums,
    ratio_did,
    ratio_pre_post,
)

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]


class Signal(StrEnum):
    ACTIONS = "actions"
    REFERRALS = "referrals"
    NPS = "nps"
    REVIEW_RATING = "review_rating"


class Method(StrEnum):
    PRE_POST = "pre_post"
    DID = "did"


RATIO_SIGNALS = (Signal.ACTIONS, Signal.REFERRALS)
LEVEL_SUMS = {
    Signal.NPS: ("nps_s", "nps_n", 100.0),
    Signal.REVIEW_RATING: ("rating_s", "rating_n", 1.0),
}
NPS_DROP = -10.0  # points
RATING_DROP = -0.3  # stars


@dataclass(frozen=True)
class WindowSums:
    """Per-account sums before and after one date (``exposure`` = active weeks)."""

    pre: dict[str, FloatArr]
    post: dict[str, FloatArr]


@dataclass(frozen=True)
class GroupStats:
    """Additive sums per group code: counts per (signal, window), level sums per signal."""

    counts: dict[tuple[Signal, str], FloatArr]
    means: dict[Signal, FloatArr]

    @classmethod
    def of(cls, sums: WindowSums, codes: IntArr, k: int) -> GroupStats:
        counts = {
            (s, side): count_sums(w[s.value], w["exposure"], codes, k)
            for s in RATIO_SIGNALS
            for side, w in (("pre", sums.pre), ("post", sums.post))
        }
        means = {
            s: mean_sums(sums.pre[t], sums.pre[n], sums.post[t], sums.post[n], codes, k)
            for s, (t, n, _) in LEVEL_SUMS.items()
        }
        return cls(counts, means)


def run_signal(signal: Signal, stats: GroupStats, code: int, did: bool, conf: float) -> Outcome:
    """One signal for group ``code``; ``did`` compares it with all the other codes."""
    if signal in RATIO_SIGNALS:
        pre, post = stats.counts[(signal, "pre")], stats.counts[(signal, "post")]
        if not did:
            return ratio_pre_post(pre[code], post[code], conf)
        out_pre, out_post = pre.sum(0) - pre[code], post.sum(0) - post[code]
        return ratio_did(pre[code], post[code], out_pre, out_post, conf)
    sums, scale = stats.means[signal], LEVEL_SUMS[signal][2]
    if not did:
        return mean_diff([sums[code]], [1.0], conf, scale)
    return mean_diff([sums[code], sums.sum(0) - sums[code]], [1.0, -1.0], conf, scale)


def is_drop(signal: Signal, estimate: float, min_effect: float) -> bool:
    """The effect-size half of the flag rule (DESIGN §6)."""
    if not math.isfinite(estimate):
        return False
    match signal:
        case Signal.ACTIONS | Signal.REFERRALS:
            return estimate < 1.0 - min_effect
        case Signal.NPS:
            return estimate < NPS_DROP
        case Signal.REVIEW_RATING:
            return estimate < RATING_DROP
