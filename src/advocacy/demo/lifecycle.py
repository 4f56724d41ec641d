"""Subscriptions month by month: creation, renewal or churn, expansion, contraction, reactivation.

The state advances one quarter at a time because churn and expansion in a quarter depend on whether
the account advocated in the quarter before (the planted "advocacy leads retention" effect). Churn
takes effect at a month start: the last paid month is the one before, and activity stops at that
midnight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advocacy.demo.accounts import Accounts
from advocacy.demo.calendar import (
    END,
    MONTH_START,
    N_MONTHS,
    N_QUARTERS,
    QUARTER_START,
    BoolArr,
    FloatArr,
    IntArr,
    month_of,
)
from advocacy.demo.frames import Cols, concat
from advocacy.demo.params import Params

MRR_STEP = 10.0  # MRR is kept in whole tens
EXPAND_BY = (0.1, 0.5)  # an expansion multiplies MRR by 1 + U(EXPAND_BY), then rounds
CONTRACT_BY = (0.1, 0.35)


@dataclass
class Lifecycle:
    """Mutable per-account subscription state of one chunk plus its recorded history."""

    alive: BoolArr
    alive_since: FloatArr
    contract_start: IntArr
    churn_month: IntArr
    churned_at: FloatArr
    mrr: FloatArr
    mrr_month: FloatArr  # accounts × months; 0 = not paying
    span_start: FloatArr  # accounts × quarters; activity span, NaN when inactive
    span_end: FloatArr
    advocate: BoolArr  # accounts × quarters: ≥ 1 counted action in the quarter

    @classmethod
    def start(cls, n: int) -> Lifecycle:
        return cls(
            alive=np.zeros(n, dtype=bool),
            alive_since=np.full(n, np.nan),
            contract_start=np.full(n, -1, dtype=np.int64),
            churn_month=np.full(n, -1, dtype=np.int64),
            churned_at=np.full(n, np.nan),
            mrr=np.zeros(n),
            mrr_month=np.zeros((n, N_MONTHS)),
            span_start=np.full((n, N_QUARTERS), np.nan),
            span_end=np.full((n, N_QUARTERS), np.nan),
            advocate=np.zeros((n, N_QUARTERS), dtype=bool),
        )


@dataclass(frozen=True)
class QuarterOutlook:
    """What the model promised at a quarter's start for accounts alive then (for the truth)."""

    alive_at_start: BoolArr
    survival: FloatArr  # P(no churn in any month of the quarter)
    expansion: FloatArr  # P(an expansion is drawn and raises the rounded MRR)
    events: Cols  # renewals (kind 0), expansions (1), contractions (-1) by account and month


def _multiplier(acc: Accounts, state: Lifecycle, q: int, params: Params) -> FloatArr:
    adv = state.advocate[:, q - 1] if q > 0 else np.zeros(acc.n, dtype=bool)
    mult = np.where(adv, params.advocate_churn_multiplier, 1.0)
    return mult * np.where(acc.referred_pool, params.referred_churn_multiplier, 1.0)


def _hazard(acc: Accounts, state: Lifecycle, m: int, mult: FloatArr, params: Params) -> FloatArr:
    """Churn probability at month ``m`` for an account paying in month ``m - 1``."""
    age = m - state.contract_start
    renewal = (age > 0) & (age % 12 == 0)
    annual = np.where(renewal, np.asarray(params.annual_nonrenewal)[acc.seg], 0.0)
    monthly = np.asarray(params.monthly_churn)[acc.seg]
    return np.minimum(np.where(acc.annual, annual, monthly) * mult, 1.0)


def _draw_change(
    rng: np.random.Generator, acc: Accounts, state: Lifecycle, q: int, params: Params
) -> tuple[FloatArr, IntArr, IntArr]:
    """Expansion probability, kind (1 expand, -1 contract, 0 none) and month offset per account."""
    adv = state.advocate[:, q - 1] if q > 0 else np.zeros(acc.n, dtype=bool)
    p_exp = np.asarray(params.quarterly_expansion)[acc.seg]
    p_exp = np.minimum(p_exp * np.where(adv, params.advocate_expansion_multiplier, 1.0), 1.0)
    p_con = np.asarray(params.quarterly_contraction)[acc.seg]
    draw = rng.random(acc.n)
    kind = np.where(draw < p_exp, 1, np.where(draw < p_exp + p_con, -1, 0))
    return np.asarray(p_exp, np.float64), kind.astype(np.int64), rng.integers(0, 3, acc.n)


def raise_chance(mrr: FloatArr) -> FloatArr:
    """P(an expansion raises MRR): small MRR can round back to itself (10 × 1.3 → 10).

    With MRR = k tens the new value is round(k·f) tens for f = 1 + U(EXPAND_BY), so it rises iff
    k·f ≥ k + ½ (a tie has probability 0), i.e. U ≥ ½ / k. Accounts alive at a quarter's start
    still have that MRR when their expansion lands: nothing else changes it within the quarter.
    """
    low, high = EXPAND_BY
    k = np.maximum(mrr / MRR_STEP, 1.0)
    return np.asarray(np.clip((high - 0.5 / k) / (high - low), 0.0, 1.0), dtype=np.float64)


def _create(acc: Accounts, state: Lifecycle, m: int) -> None:
    new = month_of(acc.created) == m
    state.alive[new] = True
    state.alive_since[new] = acc.created[new]
    state.contract_start[new] = m
    state.mrr[new] = acc.mrr0[new]


def _churn(rng: np.random.Generator, state: Lifecycle, m: int, hazard: FloatArr) -> BoolArr:
    at_risk = state.alive & (state.contract_start < m)
    churn = at_risk & (rng.random(len(hazard)) < hazard)
    state.alive[churn] = False
    state.churn_month[churn] = m
    state.churned_at[churn] = MONTH_START[m] + rng.random(int(churn.sum())) * 0.75
    return churn


def _renewals(acc: Accounts, state: Lifecycle, m: int, at_risk: BoolArr) -> Cols:
    age = m - state.contract_start
    renewed = at_risk & state.alive & acc.annual & (age > 0) & (age % 12 == 0)
    idx = np.flatnonzero(renewed)
    return {"account": idx, "month": np.full(len(idx), m), "kind": np.zeros(len(idx), np.int64)}


def _reactivate(
    rng: np.random.Generator, acc: Accounts, state: Lifecycle, m: int, p: Params
) -> None:
    gap_ok = (
        ~state.alive
        & (state.churn_month >= 0)
        & (state.churn_month <= m - p.reactivation_gap_months)
    )
    back = gap_ok & (rng.random(acc.n) < p.reactivation_monthly)
    k = int(back.sum())
    state.alive[back] = True
    state.alive_since[back] = MONTH_START[m] + rng.random(k) * 10
    state.contract_start[back] = m
    state.mrr[back] = np.round(state.mrr[back] * rng.uniform(0.6, 1.1, k) / 10) * 10
    state.churned_at[back] = np.nan


def _apply_change(
    rng: np.random.Generator,
    state: Lifecycle,
    m: int,
    kind: IntArr,
    month: IntArr,
    eligible: BoolArr,
) -> Cols:
    hit = eligible & state.alive & (kind != 0) & (month == m % 3)
    idx = np.flatnonzero(hit)
    up = kind[idx] > 0
    grow, shrink = rng.uniform(*EXPAND_BY, len(idx)), rng.uniform(*CONTRACT_BY, len(idx))
    factor = np.where(up, 1 + grow, 1 - shrink)
    state.mrr[idx] = np.maximum(np.round(state.mrr[idx] * factor / MRR_STEP) * MRR_STEP, MRR_STEP)
    return {"account": idx, "month": np.full(len(idx), m), "kind": kind[idx]}


def _spans(state: Lifecycle, q: int, was_alive: BoolArr, touched: BoolArr) -> None:
    """One contiguous activity span per account and quarter (churn and comeback never share one)."""
    qs, qe = float(QUARTER_START[q]), float(QUARTER_START[q + 1])
    end = np.where(state.alive, qe, MONTH_START[np.clip(state.churn_month, 0, N_MONTHS)])
    start = np.where(was_alive, qs, state.alive_since)
    active = touched & (end > start)
    state.span_start[active, q] = start[active]
    state.span_end[active, q] = np.minimum(end[active], END)


def advance_quarter(
    rng: np.random.Generator, acc: Accounts, state: Lifecycle, q: int, params: Params
) -> QuarterOutlook:
    """Move the subscriptions through quarter ``q``'s three months and record its activity spans."""
    was_alive = state.alive.copy()
    mult = _multiplier(acc, state, q, params)
    months = range(3 * q, 3 * q + 3)
    survival = np.prod([1 - _hazard(acc, state, m, mult, params) for m in months], axis=0)
    p_exp, kind, month = _draw_change(rng, acc, state, q, params)
    p_raise = p_exp * raise_chance(state.mrr)
    touched = was_alive.copy()
    events: list[Cols] = []
    for m in months:
        at_risk = state.alive & (state.contract_start < m)
        _churn(rng, state, m, _hazard(acc, state, m, mult, params))
        events.append(_renewals(acc, state, m, at_risk))
        _reactivate(rng, acc, state, m, params)
        _create(acc, state, m)
        events.append(_apply_change(rng, state, m, kind, month, was_alive))
        state.mrr_month[:, m] = np.where(state.alive, state.mrr, 0.0)
        touched |= state.alive
    _spans(state, q, was_alive, touched)
    survival = np.asarray(survival, dtype=np.float64)
    return QuarterOutlook(was_alive, survival, p_raise, concat(events))
