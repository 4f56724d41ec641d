"""Milestones, weekly usage and rewards: context around the planted effects, with no effect."""

from __future__ import annotations

import numpy as np

from advocacy.demo.accounts import SEAT_PRICE, Accounts
from advocacy.demo.calendar import (
    END,
    MONDAYS,
    MONTH_START,
    N_QUARTERS,
    QUARTER_START,
    FloatArr,
    IntArr,
    month_of,
    quarter_of,
)
from advocacy.demo.codes import ACTION_TYPES, milestone_code
from advocacy.demo.frames import Cols, concat
from advocacy.demo.lifecycle import Lifecycle

REWARD_TYPES = (
    "case_study_feature", "customer_spotlight", "early_access", "advisory_invite",
    "conference_pass", "community_badge", "gift_card", "referral_bonus", "swag",
)  # fmt: skip
REWARD_KINDS = ("visibility", "access", "monetary")
# action type -> (reward type, kind, share of such counted actions rewarded, value low, value high)
REWARD_RULES: tuple[tuple[str, str, int, float, float, float], ...] = (
    ("case_study", "case_study_feature", 0, 0.8, 0.0, 0.0),
    ("testimonial", "customer_spotlight", 0, 0.3, 0.0, 0.0),
    ("reference_call", "early_access", 1, 0.3, 0.0, 0.0),
    ("reference_call", "gift_card", 2, 0.15, 100.0, 100.0),
    ("advisory_board", "advisory_invite", 1, 0.9, 0.0, 0.0),
    ("speaking", "conference_pass", 1, 0.6, 0.0, 0.0),
    ("community_post", "community_badge", 0, 0.05, 0.0, 0.0),
    ("social_mention", "swag", 2, 0.03, 40.0, 40.0),
)


def _in_span(state: Lifecycle, account: IntArr, at: FloatArr) -> IntArr:
    q = np.clip(quarter_of(np.minimum(at, END - 1e-6)), 0, N_QUARTERS - 1)
    inside = (at >= state.span_start[account, q]) & (at < state.span_end[account, q]) & (at < END)
    return np.flatnonzero(inside)


def _batch(account: IntArr, at: FloatArr, name: str) -> Cols:
    return {"account": account, "at": at, "type": np.full(len(at), milestone_code(name), np.int64)}


def onboarding_dates(rng: np.random.Generator, acc: Accounts) -> tuple[FloatArr, FloatArr]:
    """Onboarding completes within weeks of signing; 10% never go live."""
    onboard = acc.created + 14 + rng.exponential(20.0, acc.n)
    live = acc.created + 30 + rng.exponential(45.0, acc.n)
    return onboard, np.where(rng.random(acc.n) < 0.1, np.inf, live)


def quarter_milestones(
    rng: np.random.Generator,
    acc: Accounts,
    state: Lifecycle,
    q: int,
    onboarding: tuple[FloatArr, FloatArr],
    events: Cols,
    tickets: Cols,
) -> Cols:
    """Success moments of quarter ``q``, each inside the account's activity span."""
    qs, qe = QUARTER_START[q], QUARTER_START[q + 1]
    parts: list[Cols] = []
    for when, name in zip(onboarding, ("onboarding_complete", "go_live"), strict=True):
        idx = np.flatnonzero((when >= qs) & (when < qe))
        parts.append(_batch(idx, when[idx], name))
    kind, month, owner = events["kind"], events["month"], events["account"]
    for code, name, spread in ((0, "renewal", 3.0), (1, "expansion", 20.0)):
        sel = kind == code
        at = MONTH_START[month[sel]] + rng.random(int(sel.sum())) * spread
        parts.append(_batch(owner[sel], at, name))
    start, end = state.span_start[:, q], state.span_end[:, q]
    length = np.nan_to_num(end - start)
    qbr = (length >= 60) & (rng.random(acc.n) < np.array([0.0, 0.45, 0.8])[acc.seg])
    parts.append(_batch(np.flatnonzero(qbr), (start + rng.random(acc.n) * length)[qbr], "qbr"))
    hot = (tickets["priority"] >= 2) & (rng.random(len(tickets["priority"])) < 0.3)
    resolved = np.nan_to_num(tickets["resolved"], nan=np.inf)
    parts.append(_batch(tickets["account"][hot], resolved[hot], "support_resolution"))
    ms = concat(parts)
    return {k: v[_in_span(state, ms["account"], ms["at"])] for k, v in ms.items()}


def weekly_usage(rng: np.random.Generator, acc: Accounts, state: Lifecycle, since: int) -> Cols:
    """Active users and seats each Monday from ``since`` while active; usage sags before churn."""
    q = quarter_of(MONDAYS)
    start, end = state.span_start[:, q], state.span_end[:, q]
    active = (MONDAYS[None, :] >= start) & (MONDAYS[None, :] < end) & (since <= MONDAYS)[None, :]
    account, w = np.nonzero(active & acc.tracked[:, None])
    day = MONDAYS[w]
    mrr = state.mrr_month[account, month_of(day)]
    seats = np.maximum(np.round(mrr / SEAT_PRICE[acc.plan[account]]), 3).astype(np.int64)
    quarter_end = QUARTER_START[q[w] + 1]
    leaving = (end[account, w] < quarter_end) & (day > end[account, w] - 60)
    util = acc.util[account] * np.exp(0.1 * rng.standard_normal(len(w)))
    util = np.clip(np.where(leaving, util * 0.6, util), 0.0, 1.0)
    return {
        "account": account,
        "week": day,
        "active_users": rng.binomial(seats, util),
        "seats": seats,
    }


def rewards(rng: np.random.Generator, actions: Cols) -> Cols:
    """Rewards for counted actions: mostly visibility and access, money for incentivized reviews."""
    kind, counted = actions["type"], actions["counted"]
    parts: list[Cols] = []
    rules = (
        *REWARD_RULES,
        ("review", "gift_card", 2, -1.0, 25.0, 100.0),
        ("referral", "referral_bonus", 2, -2.0, 250.0, 1000.0),
    )
    for action, reward, reward_kind, share, lo, hi in rules:
        of_type = kind == ACTION_TYPES.index(action)
        if share == -1.0:
            chosen = of_type & (actions["incentivized"] == 1)
        elif share == -2.0:
            chosen = of_type & counted & (actions["referred"] >= 0) & (rng.random(len(kind)) < 0.5)
        else:
            chosen = of_type & counted & (rng.random(len(kind)) < share)
        idx = np.flatnonzero(chosen)
        value = np.round(rng.uniform(lo, hi, len(idx)) / 5) * 5 if hi > 0 else np.zeros(len(idx))
        parts.append(
            {
                "action": idx,
                "type": np.full(len(idx), REWARD_TYPES.index(reward), np.int64),
                "kind": np.full(len(idx), reward_kind, np.int64),
                "value": value,
                "at": actions["at"][idx] + rng.uniform(1, 30, len(idx)),
            }
        )
    out = concat(parts)
    keep = out["at"] < END
    out = {k: v[keep] for k, v in out.items()}
    return out | {
        "account": actions["account"][out["action"]],
        "contact": actions["contact"][out["action"]],
    }
