"""Accounts and contacts of one chunk: who the customers are, before anything happens to them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advocacy.demo.calendar import LAST_CREATION, BoolArr, FloatArr, IntArr, day_of
from advocacy.demo.frames import repeat_index
from advocacy.demo.params import INDUSTRIES, REGIONS, Params

ROLES = ("champion", "executive_sponsor", "admin", "end_user", "billing")
SCOPES = ("review", "reference_call", "case_study", "logo", "referral", "survey")
PLAN_BY_SEGMENT = np.array([[0.7, 0.28, 0.02], [0.15, 0.7, 0.15], [0.0, 0.25, 0.75]])
EMPLOYEES = np.array([[10, 200], [200, 2000], [2000, 50000]], dtype=np.float64)
MRR_MEDIAN = np.array([350.0, 2400.0, 11000.0])
PLAN_PRICE_FACTOR = np.array([0.7, 1.0, 1.5])
SEAT_PRICE = np.array([20.0, 45.0, 75.0])
CONTACTS_RANGE = np.array([[1, 3], [2, 5], [3, 8]])
N_OWNERS = 12  # CSM names; the first three cover the pooled SMB book


@dataclass(frozen=True)
class Accounts:
    """Static attributes of a chunk's accounts, sorted by creation time (index = id order)."""

    seg: IntArr
    plan: IntArr
    region: IntArr
    industry: IntArr
    owner: IntArr
    employees: IntArr
    is_test: BoolArr
    created: FloatArr
    annual: BoolArr
    referred_pool: BoolArr
    parent: IntArr
    z: FloatArr  # standard normal propensity: drives advocacy frailty, NPS and usage
    u: FloatArr  # lognormal frailty with mean 1
    ticket_rate: FloatArr  # tickets per active day
    util: FloatArr
    mrr0: FloatArr
    tracked: BoolArr  # reports weekly usage
    name_a: IntArr
    name_b: IntArr

    @property
    def n(self) -> int:
        return len(self.seg)


@dataclass(frozen=True)
class Contacts:
    """People at the chunk's accounts; ``start``/``count`` index them per account."""

    account: IntArr
    start: IntArr
    count: IntArr
    role: IntArr
    opt_out: BoolArr
    scopes: IntArr  # bit mask over SCOPES; -1 = null (every scope)
    left: FloatArr  # day they left, +inf if still there
    first: IntArr
    last: IntArr

    @property
    def n(self) -> int:
        return len(self.account)


def _creation_days(rng: np.random.Generator, n: int) -> FloatArr:
    """Creation times with a growing company: density rises e-fold over the history."""
    growth = 1.0
    x = np.log1p(rng.random(n) * np.expm1(growth)) / growth
    return np.sort(x * day_of(LAST_CREATION))


def categorical(rng: np.random.Generator, probs: FloatArr, rows: IntArr) -> IntArr:
    """One draw per row from the probability vector ``probs[rows]`` (vectorised inverse CDF)."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    pick: IntArr = (rng.random(len(rows))[:, None] > cdf[rows]).sum(axis=1).astype(np.int64)
    return pick


def _parents(rng: np.random.Generator, n: int) -> IntArr:
    """A few subsidiaries: parent is an earlier-created account of the chunk."""
    parent = np.full(n, -1, dtype=np.int64)
    has = (rng.random(n) < 0.03) & (np.arange(n) > n // 10)
    idx = np.flatnonzero(has)
    parent[idx] = np.floor(rng.random(len(idx)) * idx).astype(np.int64)
    return parent


def make_accounts(rng: np.random.Generator, n: int, params: Params) -> Accounts:
    """Draw ``n`` accounts; segment drives size, plan, MRR, contract and support load."""
    seg = rng.choice(3, size=n, p=np.asarray(params.segment_share))
    plan = categorical(rng, PLAN_BY_SEGMENT, seg)
    lo, hi = EMPLOYEES[seg, 0], EMPLOYEES[seg, 1]
    employees = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi)))).astype(np.int64)
    z = rng.standard_normal(n)
    sigma = params.frailty_sigma
    mrr0 = MRR_MEDIAN[seg] * PLAN_PRICE_FACTOR[plan] * np.exp(0.5 * rng.standard_normal(n))
    owner_hi = rng.integers(3, N_OWNERS, n)
    return Accounts(
        seg=seg,
        plan=plan,
        region=rng.choice(len(REGIONS), size=n, p=[0.45, 0.30, 0.15, 0.10]),
        industry=rng.integers(0, len(INDUSTRIES), n),
        owner=np.where(seg == 0, rng.integers(0, 3, n), owner_hi),
        employees=employees,
        is_test=rng.random(n) < 0.005,
        created=_creation_days(rng, n),
        annual=rng.random(n) < np.asarray(params.annual_share)[seg],
        referred_pool=rng.random(n) < params.referred_share,
        parent=_parents(rng, n),
        z=z,
        u=np.exp(sigma * z - sigma**2 / 2),
        ticket_rate=np.asarray(params.monthly_tickets)[seg] * rng.gamma(2.0, 0.5, n) / 30.44,
        util=1 / (1 + np.exp(-(0.3 + 0.4 * z + 0.5 * rng.standard_normal(n)))),
        mrr0=np.maximum(np.round(mrr0 / 10) * 10, 50.0),
        tracked=rng.random(n) < params.usage_coverage,
        name_a=rng.integers(0, 1 << 30, n),
        name_b=rng.integers(0, 1 << 30, n),
    )


def make_contacts(rng: np.random.Generator, acc: Accounts) -> Contacts:
    """1–8 contacts per account by segment; a few opted out, scoped, or gone."""
    lo, hi = CONTACTS_RANGE[acc.seg, 0], CONTACTS_RANGE[acc.seg, 1]
    count = rng.integers(lo, hi + 1)
    start = np.r_[0, np.cumsum(count)[:-1]].astype(np.int64)
    account = repeat_index(count)
    n = len(account)
    first_of_account = np.arange(n) == start[account]
    role = np.where(first_of_account, 0, rng.choice(len(ROLES), n, p=[0.15, 0.2, 0.2, 0.35, 0.1]))
    scoped = rng.random(n) < 0.12
    scopes = np.where(scoped, rng.integers(1, 1 << len(SCOPES), n), -1)
    leaves = rng.random(n) < 0.15
    left = acc.created[account] + 90 + rng.random(n) * 1200
    return Contacts(
        account=account,
        start=start,
        count=count,
        role=role.astype(np.int64),
        opt_out=rng.random(n) < 0.05,
        scopes=scopes.astype(np.int64),
        left=np.where(leaves, left, np.inf),
        first=rng.integers(0, 1 << 30, n),
        last=rng.integers(0, 1 << 30, n),
    )


def consents(contacts: Contacts, idx: IntArr, scope: str) -> BoolArr:
    """Whether contacts ``idx`` allow ``scope`` (null scopes allow all)."""
    bit = 1 << SCOPES.index(scope)
    mask = contacts.scopes[idx]
    return np.asarray((mask < 0) | ((mask & bit) != 0))


def pick_contacts(
    rng: np.random.Generator, contacts: Contacts, account: IntArr, at: FloatArr, tries: int = 3
) -> IntArr:
    """A random contact of each account still there at ``at``; -1 where none was found."""
    out = np.full(len(account), -1, dtype=np.int64)
    todo = np.arange(len(account))
    for _ in range(tries):
        a = account[todo]
        cand = contacts.start[a] + np.floor(rng.random(len(todo)) * contacts.count[a]).astype(
            np.int64
        )
        ok = contacts.left[cand] > at[todo]
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return out
