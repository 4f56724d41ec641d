"""Advocacy actions: the organic Poisson stream, action details, and referral conversions.

Organic counted actions are Poisson on a day grid with intensity
``counted_rate[segment] · frailty · support multiplier · product-change multiplier`` while the
account is active; uncounted ones (`other`, reviews under 4 stars, negative mentions) form an
independent stream so they never disturb the counted-action truth.
"""

from __future__ import annotations

import numpy as np

from advocacy.demo.accounts import Accounts, Contacts, categorical, pick_contacts
from advocacy.demo.calendar import QUARTER_START, BoolArr, FloatArr, IntArr
from advocacy.demo.codes import ACTION_TYPES, OTHER, REFERENCE_CALL, REFERRAL, REVIEW, SOCIAL
from advocacy.demo.frames import Cols
from advocacy.demo.lifecycle import Lifecycle
from advocacy.demo.params import Params

PLATFORMS = ("g2", "capterra", "trustradius", "linkedin", "x", "community")
# Counted organic action mix per segment over ACTION_TYPES (`other` excluded).
COUNTED_MIX = np.array(
    [
        [0.12, 0.26, 0.01, 0.03, 0.06, 0.28, 0.22, 0.01, 0.01],
        [0.14, 0.20, 0.03, 0.07, 0.08, 0.22, 0.20, 0.03, 0.03],
        [0.14, 0.12, 0.07, 0.13, 0.08, 0.15, 0.17, 0.07, 0.07],
    ]
)
UNCOUNTED_TYPES = np.array([OTHER, REVIEW, SOCIAL])
UNCOUNTED_MIX = np.array([0.45, 0.3, 0.25])


def _day_mask(state: Lifecycle, q: int, days: IntArr) -> BoolArr:
    """Days on which an account can act: whole days inside its activity span."""
    first = np.ceil(np.nan_to_num(state.span_start[:, q], nan=np.inf))
    last = np.floor(np.nan_to_num(state.span_end[:, q], nan=-np.inf))
    return np.asarray((days[None, :] >= first[:, None]) & (days[None, :] < last[:, None]))


def base_intensity(acc: Accounts, state: Lifecycle, q: int, p: Params) -> FloatArr:
    """Organic counted actions per account and day of quarter ``q`` before any multiplier."""
    days = np.arange(QUARTER_START[q], QUARTER_START[q + 1])
    base = np.asarray(p.counted_rate)[acc.seg] * acc.u
    return base[:, None] * _day_mask(state, q, days)


def counted_intensity(
    acc: Accounts, base: FloatArr, q: int, support: FloatArr, change: FloatArr
) -> FloatArr:
    """``base`` times the support multiplier and the segments × days product-change multiplier."""
    days = np.arange(QUARTER_START[q], QUARTER_START[q + 1])
    return base * support[:, None] * change[acc.seg][:, days]


def _events(rng: np.random.Generator, lam: FloatArr, q: int) -> tuple[IntArr, FloatArr]:
    counts = rng.poisson(lam)
    account, day = np.nonzero(counts)
    reps = counts[account, day]
    account, day = np.repeat(account, reps), np.repeat(day, reps)
    at = QUARTER_START[q] + day + rng.random(len(day))
    return account.astype(np.int64), at


def organic(
    rng: np.random.Generator,
    acc: Accounts,
    lam: FloatArr,
    base: FloatArr,
    unsatisfied: BoolArr,
    q: int,
    p: Params,
) -> Cols:
    """Organic actions of quarter ``q``: counted ones from ``lam``, uncounted ones from ``base``."""
    account, at = _events(rng, lam, q)
    kind = categorical(rng, COUNTED_MIX, acc.seg[account])
    factor = p.uncounted_share * np.where(unsatisfied, p.unsatisfied_uncounted_multiplier, 1.0)
    u_account, u_at = _events(rng, base * factor[:, None], q)
    u_kind = UNCOUNTED_TYPES[rng.choice(3, len(u_account), p=UNCOUNTED_MIX)]
    n, m = len(account), len(u_account)
    return {
        "account": np.r_[account, u_account],
        "at": np.r_[at, u_at],
        "type": np.r_[kind, u_kind].astype(np.int64),
        "counted": np.r_[np.ones(n, bool), np.zeros(m, bool)],
        "ask": np.full(n + m, -1, dtype=np.int64),
        "incentive": np.full(n + m, -1, dtype=np.int64),
    }


def _ratings(rng: np.random.Generator, counted: BoolArr, incentivized: BoolArr) -> FloatArr:
    n = len(counted)
    top = rng.random(n) < np.where(incentivized, 0.75, 0.55)
    high = np.where(top, 5.0, 4.0)
    high = np.where(rng.random(n) < 0.04, np.nan, high)
    low = np.array([3.0, 2.0, 1.0])[rng.choice(3, n, p=[0.5, 0.3, 0.2])]
    return np.where(counted, high, low)


def _platforms(rng: np.random.Generator, kind: IntArr) -> IntArr:
    n = len(kind)
    review = rng.choice(3, n, p=[0.55, 0.3, 0.15])
    social = 3 + (rng.random(n) < 0.3)
    platform = np.where(kind == REVIEW, review, np.where(kind == SOCIAL, social, -1))
    return np.where(kind == ACTION_TYPES.index("community_post"), 5, platform).astype(np.int64)


def describe(rng: np.random.Generator, acc: Accounts, contacts: Contacts, cols: Cols) -> Cols:
    """Add contact, platform, rating, sentiment, value and incentive flags to raw actions."""
    kind, counted, n = cols["type"], cols["counted"], len(cols["type"])
    is_review = kind == REVIEW
    declared = rng.random(n) < np.where(counted, 0.15, 0.05)
    incentive = np.where(cols["incentive"] >= 0, cols["incentive"] == 1, declared)
    platform = _platforms(rng, kind)
    rating = np.where(is_review, _ratings(rng, counted, incentive), np.nan)
    half = (platform == 2) & (rating == 4.0) & (rng.random(n) < 0.3)
    positive = np.where(rng.random(n) < 0.1, np.nan, np.round(rng.random(n) ** 0.7, 2))
    negative = -np.round(rng.uniform(0.05, 1.0, n), 2)
    deal = 30000.0 * (1 + acc.seg[cols["account"]]) * np.exp(0.6 * rng.standard_normal(n))
    contact = cols.get("contact")
    if contact is None:
        contact = pick_contacts(rng, contacts, cols["account"], cols["at"])
        contact[rng.random(n) < np.where(kind == SOCIAL, 0.2, 0.05)] = -1
    return cols | {
        "contact": contact,
        "platform": platform,
        "rating": np.where(half, 4.5, rating),
        "sentiment": np.where(kind == SOCIAL, np.where(counted, positive, negative), np.nan),
        "value": np.where((kind == REFERENCE_CALL) & (rng.random(n) < 0.6), np.round(deal), np.nan),
        "incentivized": np.where(is_review, incentive.astype(np.int64), -1),
        "referred": np.full(n, -1, dtype=np.int64),
    }


def match_referrals(
    rng: np.random.Generator, acc: Accounts, referred_by: IntArr, actions: Cols, p: Params
) -> None:
    """Link some referral actions to accounts created 2 weeks to a year later (in place).

    Only accounts of the referral-sourced pool can be matched; a matched account records its
    referrer in ``referred_by`` and the action names it. Unmatched referrals keep a null referred
    account.
    """
    pool = np.flatnonzero(acc.referred_pool & ~acc.is_test & (referred_by < 0))
    ref = np.flatnonzero(
        (actions["type"] == REFERRAL) & ~acc.is_test[actions["account"]] & (actions["referred"] < 0)
    )
    ref = ref[np.argsort(actions["at"][ref], kind="stable")]
    ref = ref[rng.random(len(ref)) < p.referral_conversion]
    if len(pool) == 0 or len(ref) == 0:
        return
    at = actions["at"][ref]
    target = at + 14 + rng.exponential(60.0, len(ref))
    j = np.searchsorted(acc.created[pool], target)
    ok = j < len(pool)
    ok[ok] &= acc.created[pool[j[ok]]] - at[ok] <= 420
    ref, j = ref[ok], j[ok]
    _, first = np.unique(j, return_index=True)
    ref, new = ref[first], pool[j[first]]
    referred_by[new] = actions["account"][ref]
    actions["referred"][ref] = new
    actions["value"][ref] = 12 * acc.mrr0[new]
