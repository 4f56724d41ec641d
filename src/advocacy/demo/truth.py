"""Ground truth of the planted effects, accumulated while chunks are simulated.

Each "expected" value is the exact expectation of the estimand an analysis reports, taken over the
random draws that produce the observed outcome (action, churn, expansion, acceptance and NPS draws)
and conditional on the generated latent state that precedes it (account frailty, activity spans,
support bands, asks made). It is computed in closed form from the model's own probabilities, not
estimated from the generated rows, so an interval computed on the data should cover it at its
nominal rate. Test accounts are excluded, as every metric excludes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advocacy.demo.accounts import Accounts
from advocacy.demo.calendar import (
    MONDAYS,
    N_DAYS,
    N_QUARTERS,
    QUARTER_START,
    BoolArr,
    FloatArr,
    IntArr,
    month_of,
)
from advocacy.demo.frames import Cols
from advocacy.demo.lifecycle import Lifecycle, QuarterOutlook
from advocacy.demo.params import FATIGUE_BUCKETS, PLANS, REGIONS, SEGMENTS, Params

OUTCOME_DAYS = 90
# Account dimensions a product change may be scoped to, with their values.
DIMENSIONS: dict[str, tuple[str, ...]] = {"segment": SEGMENTS, "plan": PLANS, "region": REGIONS}
DEFAULT_QUARTERS = range(N_QUARTERS - 8, N_QUARTERS)  # the last 8 complete quarters before as_of


def _no_event_log(n: int, pi: Cols, select: Any) -> FloatArr:
    """Σ log(1 − π) per account over the ask completions selected by ``select``."""
    if not pi:
        return np.zeros(n)
    keep = select(pi["at"])
    weights = np.log1p(-pi["pi"][keep])
    return np.bincount(pi["account"][keep], weights=weights, minlength=n).astype(np.float64)


def _bump(target: FloatArr, index: tuple[Any, ...], values: FloatArr | float) -> None:
    """``target[index] += values``, repeated indices accumulated (``np.add.at`` on a flat view)."""
    parts = np.broadcast_arrays(*(np.asarray(i, dtype=np.int64) for i in index))
    flat = np.ravel_multi_index(tuple(parts), target.shape)
    np.add.at(target.reshape(-1), flat, values)


def _codes(acc: Accounts, dimension: str) -> IntArr:
    return {"segment": acc.seg, "plan": acc.plan, "region": acc.region}[dimension]


def _one_hot(acc: Accounts, dimension: str) -> FloatArr:
    """values × accounts indicator of each non-test account's value of ``dimension``."""
    values = np.arange(len(DIMENSIONS[dimension]))[:, None]
    member = (_codes(acc, dimension)[None, :] == values) & ~acc.is_test[None, :]
    return np.asarray(member, dtype=np.float64)


def _active_at_index(acc: Accounts, state: Lifecycle, q: int) -> BoolArr:
    """Known and active at quarter ``q``'s start, as the support analysis selects its population.

    Created before the start (compared in the whole seconds the writer stores) and MRR > 0 in the
    quarter's first month, which holds the start; that month counts once it has begun, so it
    includes comebacks later in that month. Every account pays from its creation month, so one
    created before the start has a revenue row by then and the analysis's no-revenue rule
    (not churned before the start) never applies.
    """
    start = float(QUARTER_START[q]) * 86400.0
    created = np.floor(acc.created * 86400.0) < start
    return np.asarray(created & (state.mrr_month[:, 3 * q] > 0), dtype=np.bool_)


class Truth:
    """Sums per segment, band, quarter and day from which demo_truth.json is derived."""

    def __init__(self) -> None:
        q = N_QUARTERS
        self.rate = np.zeros((2, 3, q))  # (accounts, Σ P(advocate)) per segment and quarter
        # (accounts, Σ P(action in 90 days)) per band, of the accounts active at the quarter start
        self.band = np.zeros((2, 4, 3, q))
        self.ret = np.zeros((3, 2, 3, q))  # (base, Σ P(retained), Σ P(expanded)) by advocate
        # Expected counted actions per day and active accounts per Monday, by dimension value.
        self.actions = {d: np.zeros((len(v), N_DAYS)) for d, v in DIMENSIONS.items()}
        self.exposure = {d: np.zeros((len(v), len(MONDAYS))) for d, v in DIMENSIONS.items()}
        self.nps = np.zeros((2, 3, q))  # (responses, Σ P(promoter) − P(detractor))
        self.asks = np.zeros((2, len(FATIGUE_BUCKETS)))  # (asks, Σ acceptance probability)

    def add_quarter(
        self, acc: Accounts, state: Lifecycle, q: int, lam: FloatArr, band: IntArr, pi: Cols
    ) -> None:
        """Advocacy probabilities of quarter ``q`` and its first 90 days, and expected counts."""
        n, real = acc.n, ~acc.is_test
        qs, qe = float(QUARTER_START[q]), float(QUARTER_START[q + 1])
        log_q = -lam.sum(1) + _no_event_log(n, pi, lambda t: t < qe)
        log_90 = -lam[:, :OUTCOME_DAYS].sum(1) + _no_event_log(
            n, pi, lambda t: t < qs + OUTCOME_DAYS
        )
        active = real & ~np.isnan(state.span_start[:, q])
        seg = acc.seg[active]
        _bump(self.rate, (0, seg, q), 1.0)
        _bump(self.rate, (1, seg, q), -np.expm1(log_q[active]))
        at_index = real & _active_at_index(acc, state, q)
        seg = acc.seg[at_index]
        _bump(self.band, (0, band[at_index], seg, q), 1.0)
        _bump(self.band, (1, band[at_index], seg, q), -np.expm1(log_90[at_index]))
        days = np.arange(int(qs), int(qe))
        ok = real[pi["account"]] if pi else np.zeros(0, dtype=bool)
        for dim, target in self.actions.items():
            target[:, days] += _one_hot(acc, dim) @ lam
            if pi:
                value = _codes(acc, dim)[pi["account"][ok]]
                day = np.floor(pi["at"][ok]).astype(np.int64)
                _bump(target, (value, day), pi["pi"][ok])

    def add_retention(
        self, acc: Accounts, state: Lifecycle, q: int, outlook: QuarterOutlook
    ) -> None:
        """Next-quarter retention and expansion chances of quarter ``q - 1``'s starting base."""
        base = outlook.alive_at_start & ~acc.is_test
        adv = state.advocate[base, q - 1].astype(np.int64)
        seg = acc.seg[base]
        surv = outlook.survival[base]
        _bump(self.ret, (0, adv, seg, q - 1), 1.0)
        _bump(self.ret, (1, adv, seg, q - 1), surv)
        _bump(self.ret, (2, adv, seg, q - 1), surv * outlook.expansion[base])

    def add_nps(self, acc: Accounts, q: int, responses: Cols) -> None:
        ok = ~acc.is_test[responses["account"]]
        seg = acc.seg[responses["account"][ok]]
        _bump(self.nps, (0, seg, q), 1.0)
        _bump(self.nps, (1, seg, q), responses["pmd"][ok])

    def add_asks(self, acc: Accounts, asks: Cols, prior: IntArr) -> None:
        """Acceptance chances of asks settled by as_of whatever happens (expired by then)."""
        ok = (asks["contact"] >= 0) & ~asks["withdrawn"] & (asks["expires"] < N_DAYS)
        ok &= ~acc.is_test[asks["account"]]
        bucket = np.minimum(prior[ok], len(FATIGUE_BUCKETS) - 1)
        _bump(self.asks, (0, bucket), 1.0)
        _bump(self.asks, (1, bucket), asks["p_accept"][ok])

    def add_exposure(self, acc: Accounts, state: Lifecycle) -> None:
        """Active account-weeks: active in the month holding the Monday (DESIGN §4)."""
        active = (state.mrr_month[:, month_of(MONDAYS)] > 0).astype(np.float64)
        for dim, target in self.exposure.items():
            target += _one_hot(acc, dim) @ active

    def report(self, p: Params) -> dict[str, Any]:
        """The ``effects`` section of demo_truth.json."""
        from advocacy.demo.truth_report import build_effects

        return build_effects(self, p)
