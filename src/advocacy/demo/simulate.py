"""One chunk of the demo company, simulated quarter by quarter.

A chunk is a self-contained slice of accounts with everything that happens to them. Quarters run in
order because each depends on the last: churn and expansion on last quarter's advocacy, the support
band on the last 180 days of CSAT, fatigue on earlier asks. Inside a quarter all work is vectorised.
Event rows carry chunk-local positions as references; the writer turns them into ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from advocacy.demo import actions, asks, extras, support, surveys
from advocacy.demo.accounts import Accounts, Contacts, make_accounts, make_contacts
from advocacy.demo.calendar import N_DAYS, N_QUARTERS, QUARTER_START, FloatArr, IntArr, day_of
from advocacy.demo.codes import COMPLETED, REVIEW
from advocacy.demo.frames import Cols, concat, n_rows
from advocacy.demo.lifecycle import Lifecycle, advance_quarter
from advocacy.demo.params import Params
from advocacy.demo.truth import Truth


@dataclass
class Chunk:
    """A simulated chunk: entities plus event batches with chunk-local references."""

    acc: Accounts
    contacts: Contacts
    state: Lifecycle
    referred_by: IntArr
    tables: dict[str, list[Cols]] = field(default_factory=dict)

    def add(self, name: str, cols: Cols) -> int:
        """Append a batch; returns the local position of its first row."""
        parts = self.tables.setdefault(name, [])
        start = sum(n_rows(p) for p in parts)
        parts.append(cols)
        return start

    def all(self, name: str) -> Cols:
        return concat(self.tables.get(name, []))


def change_multiplier(p: Params) -> FloatArr:
    """Segments × days multiplier of the counted-action rate: the planted post-release drop."""
    mult = np.ones((3, N_DAYS))
    drop = p.drop_change
    first = day_of(drop.released_at.date())
    segment = ("smb", "mid_market", "enterprise").index(str(drop.scope_value))
    mult[segment, first : first + p.drop_window_days] = p.drop_ratio
    return mult


def _outcomes(
    ask: IntArr, seq: int, status: IntArr, at: FloatArr, action: IntArr | None = None
) -> Cols:
    keep = at < float(N_DAYS)
    return {
        "ask": ask[keep],
        "seq": np.full(int(keep.sum()), seq, dtype=np.int64),
        "status": status[keep],
        "at": at[keep],
        "action": (action if action is not None else np.full(len(ask), -1, np.int64))[keep],
    }


@dataclass
class _Quarter:
    """Per-quarter context shared by the steps of one quarter."""

    q: int
    band: IntArr
    support: FloatArr
    responses: Cols


class ChunkSimulator:
    """Runs the quarter loop for one chunk and feeds the truth accumulator."""

    def __init__(self, rng: np.random.Generator, n: int, p: Params, truth: Truth) -> None:
        self.rng, self.p, self.truth = rng, p, truth
        acc = make_accounts(rng, n, p)
        self.chunk = Chunk(
            acc, make_contacts(rng, acc), Lifecycle.start(n), np.full(n, -1, np.int64)
        )
        self.onboarding = extras.onboarding_dates(rng, acc)
        self.change = change_multiplier(p)
        self.pending: list[Cols] = []

    def run(self) -> Chunk:
        for q in range(N_QUARTERS):
            self._quarter(q)
        chunk, rng = self.chunk, self.rng
        since = day_of(self.p.usage_since)
        chunk.add("usage", extras.weekly_usage(rng, chunk.acc, chunk.state, since))
        chunk.add("rewards", extras.rewards(rng, chunk.all("actions")))
        self.truth.add_exposure(chunk.acc, chunk.state)
        return chunk

    def _quarter(self, q: int) -> None:
        c, p, rng = self.chunk, self.p, self.rng
        outlook = advance_quarter(rng, c.acc, c.state, q, p)
        if q > 0:
            self.truth.add_retention(c.acc, c.state, q, outlook)
        band = support.support_bands(
            c.acc.n,
            c.all("tickets"),
            c.all("csat"),
            float(QUARTER_START[q]),
            p.support_lookback_days,
        )
        mult = np.where(band == 3, p.unsatisfied_multiplier, 1.0)
        tickets = support.quarter_tickets(rng, c.acc, c.contacts, c.state, q)
        first = c.add("tickets", tickets)
        c.add("csat", support.csat_responses(rng, tickets, first, p))
        ms = extras.quarter_milestones(
            rng, c.acc, c.state, q, self.onboarding, outlook.events, tickets
        )
        ms_first = c.add("milestones", ms)
        responses = self._nps(q, band)
        ctx = _Quarter(q, band, mult, responses)
        self._asks(ctx, ms, ms_first)
        self._actions(ctx)

    def _nps(self, q: int, band: IntArr) -> Cols:
        c = self.chunk
        survey_asks, responses = surveys.nps_wave(
            self.rng, c.acc, c.contacts, c.state, q, band, self.p
        )
        first = c.add("asks", survey_asks)
        idx = first + np.arange(n_rows(survey_asks))
        c.add("outcomes", _outcomes(idx, 1, survey_asks["outcome"], survey_asks["outcome_at"]))
        responses = responses | {"ask": responses["ask"] + first}
        c.add("nps", responses)
        self.truth.add_nps(c.acc, q, responses)
        return responses

    def _asks(self, ctx: _Quarter, ms: Cols, ms_first: int) -> None:
        c, p, rng = self.chunk, self.p, self.rng
        from_ms = asks.milestone_asks(rng, ms, p)
        if from_ms:
            from_ms["milestone"] = from_ms["milestone"] + ms_first
        raw = concat(
            [
                from_ms,
                asks.promoter_asks(rng, ctx.responses, p),
                asks.manual_asks(rng, c.acc, c.state, ctx.q, p),
            ]
        )
        new = asks.place(rng, c.contacts, c.state, ctx.q, raw)
        if not new:
            return
        decided, prior = asks.respond(rng, new, c.all("asks"), c.all("nps"), p)
        first = c.add("asks", decided)
        idx = first + np.arange(n_rows(decided))
        c.add("outcomes", _outcomes(idx, 1, decided["outcome"], decided["outcome_at"]))
        self.truth.add_asks(c.acc, decided, prior)
        live = ~decided["withdrawn"]
        pending = {k: decided[k][live] for k in asks.PENDING_KEYS}
        self.pending.append(pending | {"ask": idx[live]})

    def _completions(self, ctx: _Quarter) -> tuple[Cols, Cols]:
        """Ask completions due this quarter: (actions, truth inputs)."""
        c, p, rng = self.chunk, self.p, self.rng
        pending = concat(self.pending)
        if not pending:
            return {}, {}
        due = asks.in_quarter(pending["complete_at"], ctx.q)
        self.pending = [{k: v[~due] for k, v in pending.items()}]
        d = {k: v[due] for k, v in pending.items()}
        account, at = d["account"], d["complete_at"]
        alive = (at >= c.state.span_start[account, ctx.q]) & (at < c.state.span_end[account, ctx.q])
        alive &= (d["contact"] < 0) | (c.contacts.left[np.maximum(d["contact"], 0)] > at)
        day = np.minimum(np.floor(at).astype(np.int64), N_DAYS - 1)
        chance = p.completion * ctx.support[account] * self.change[c.acc.seg[account], day] * alive
        is_review = d["type"] == REVIEW
        counted_share = np.where(is_review, 1 - p.review_low_share, 1.0)
        pi = {"account": account, "at": at, "pi": d["p_accept"] * chance * counted_share}
        done = d["accepted"] & (rng.random(len(at)) < chance)
        low = is_review & (rng.random(len(at)) < p.review_low_share)
        sel = np.flatnonzero(done)
        made = {
            "account": account[sel], "contact": d["contact"][sel], "at": at[sel],
            "type": d["type"][sel], "counted": ~low[sel], "ask": d["ask"][sel],
            "incentive": d["incentive"][sel].astype(np.int64),
        }  # fmt: skip
        return made, pi

    def _actions(self, ctx: _Quarter) -> None:
        c, p, rng = self.chunk, self.p, self.rng
        made, pi = self._completions(ctx)
        base = actions.base_intensity(c.acc, c.state, ctx.q, p)
        lam = actions.counted_intensity(c.acc, base, ctx.q, ctx.support, self.change)
        organic = actions.organic(rng, c.acc, lam, base, ctx.band == 3, ctx.q, p)
        batch = concat([actions.describe(rng, c.acc, c.contacts, b) for b in (made, organic) if b])
        first = c.add("actions", batch)
        n_made = n_rows(made)
        if n_made:
            done_at = made["at"]
            ids = first + np.arange(n_made)
            c.add("outcomes", _outcomes(made["ask"], 2, np.full(n_made, COMPLETED), done_at, ids))
        counted = batch["account"][batch["counted"]]
        c.state.advocate[:, ctx.q] = np.bincount(counted, minlength=c.acc.n) > 0
        actions.match_referrals(rng, c.acc, c.referred_by, batch, p)
        self.truth.add_quarter(c.acc, c.state, ctx.q, lam, ctx.band, pi)
