"""Support tickets, their transactional CSAT and the support band each quarter starts with.

The band (DESIGN §6: no_tickets, tickets_unrated, satisfied, unsatisfied over a 180-day lookback) is
computed exactly as the support analysis computes it, because the planted support effect multiplies
the counted-action hazard of accounts that start a quarter in the ``unsatisfied`` band.
"""

from __future__ import annotations

import numpy as np

from advocacy.demo.accounts import Accounts, Contacts, pick_contacts
from advocacy.demo.calendar import END, BoolArr, FloatArr, IntArr
from advocacy.demo.frames import Cols, repeat_index
from advocacy.demo.lifecycle import Lifecycle
from advocacy.demo.params import CSAT_UNSATISFIED_MAX, Params

PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "chat", "web", "phone")
STATUSES = ("open", "pending", "solved", "closed")
FIRST_RESPONSE_MEDIAN_H = np.array([12.0, 6.0, 2.0, 0.5])
RESOLUTION_MEDIAN_H = np.array([60.0, 30.0, 16.0, 8.0])


def _status(rng: np.random.Generator, resolved: FloatArr) -> IntArr:
    done = resolved < END
    closed = done & (resolved < END - 5) & (rng.random(len(resolved)) < 0.7)
    waiting = rng.random(len(resolved)) < 0.4
    return np.where(closed, 3, np.where(done, 2, np.where(waiting, 1, 0))).astype(np.int64)


def _timings(
    rng: np.random.Generator, priority: IntArr, ai: BoolArr, reopened: IntArr
) -> tuple[FloatArr, FloatArr]:
    """First-response and resolution hours: AI answers at once and closes simple tickets fast."""
    n = len(priority)
    first = FIRST_RESPONSE_MEDIAN_H[priority] * np.exp(0.9 * rng.standard_normal(n))
    first = np.where(ai, first * 0.05, first)
    work = RESOLUTION_MEDIAN_H[priority] * np.exp(1.0 * rng.standard_normal(n))
    work = np.where(ai, work * 0.4, work) * (1 + 0.8 * reopened)
    return first, first + work


def quarter_tickets(
    rng: np.random.Generator, acc: Accounts, contacts: Contacts, state: Lifecycle, q: int
) -> Cols:
    """Tickets opened during each account's activity span in quarter ``q``."""
    start, end = state.span_start[:, q], state.span_end[:, q]
    length = np.nan_to_num(end - start)
    owner = repeat_index(rng.poisson(acc.ticket_rate * length))
    n = len(owner)
    opened = start[owner] + rng.random(n) * length[owner]
    priority = rng.choice(4, n, p=[0.25, 0.5, 0.18, 0.07])
    channel = rng.choice(4, n, p=[0.45, 0.3, 0.15, 0.1])
    ai = rng.random(n) < np.where(channel == 1, 0.45, 0.15)
    reopened = rng.poisson(0.12, n)
    first_h, resolve_h = _timings(rng, priority, ai, reopened)
    resolved = opened + resolve_h / 24
    contact = pick_contacts(rng, contacts, owner, opened)
    contact[rng.random(n) < 0.05] = -1
    return {
        "account": owner,
        "contact": contact,
        "opened": opened,
        "first_response": np.where(opened + first_h / 24 < END, opened + first_h / 24, np.nan),
        "resolved": np.where(resolved < END, resolved, np.nan),
        "resolution_h": resolve_h,
        "status": _status(rng, resolved),
        "priority": priority,
        "channel": channel,
        "ai": ai,
        "reopened": reopened,
    }


def csat_responses(rng: np.random.Generator, tickets: Cols, first_index: int, p: Params) -> Cols:
    """CSAT (1–5) on some resolved tickets: slow, reopened or AI-closed tickets score lower."""
    resolved = tickets["resolved"]
    lag = np.exp(np.log(5.0) + 1.0 * rng.standard_normal(len(resolved))) / 24
    at = resolved + lag
    keep = ~np.isnan(resolved) & (rng.random(len(resolved)) < p.csat_response) & (at < END)
    idx = np.flatnonzero(keep)
    mu = (
        4.6
        - 0.35 * np.log1p(tickets["resolution_h"][idx] / 24)
        - 0.45 * tickets["reopened"][idx]
        - 0.25 * tickets["ai"][idx]
    )
    noise = rng.logistic(0.0, 0.6, len(idx))
    score = np.clip(np.floor(mu + noise + 0.5), 1, 5)
    return {
        "account": tickets["account"][idx],
        "contact": tickets["contact"][idx],
        "ticket": idx + first_index,
        "at": at[idx],
        "score": score,
    }


def support_bands(n: int, tickets: Cols, csat: Cols, t0: float, lookback: int) -> IntArr:
    """Band per account at index date ``t0`` (0..3 in the order of params.BANDS)."""

    def window(times: FloatArr) -> BoolArr:
        return np.asarray((times >= t0 - lookback) & (times < t0))

    if not csat:
        csat = {"account": np.zeros(0, np.int64), "at": np.zeros(0), "score": np.zeros(0)}
    if not tickets:
        tickets = {"account": np.zeros(0, np.int64), "opened": np.zeros(0)}
    rated = window(csat["at"])
    unsat = rated & (csat["score"] <= CSAT_UNSATISFIED_MAX)
    had_ticket = np.bincount(tickets["account"][window(tickets["opened"])], minlength=n) > 0
    had_csat = np.bincount(csat["account"][rated], minlength=n) > 0
    had_unsat = np.bincount(csat["account"][unsat], minlength=n) > 0
    return np.where(had_unsat, 3, np.where(had_csat, 2, np.where(had_ticket, 1, 0))).astype(
        np.int64
    )
