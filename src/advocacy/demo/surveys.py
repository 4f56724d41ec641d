"""Quarterly relationship NPS waves, each invitation a `survey` ask in the ledger.

A score is a rounded latent ``mu + s·logistic`` clipped to 0–10, so the chance of a promoter (≥ 9)
or a detractor (≤ 6) is a closed-form logistic CDF and the expected NPS of every response is exact.
"""

from __future__ import annotations

import numpy as np

from advocacy.demo.accounts import Accounts, Contacts, consents
from advocacy.demo.calendar import END, QUARTER_START, FloatArr, IntArr
from advocacy.demo.codes import COMPLETED, EXPIRED, SURVEY_ASK
from advocacy.demo.frames import Cols
from advocacy.demo.lifecycle import Lifecycle
from advocacy.demo.params import Params


def _logistic_cdf(x: FloatArr) -> FloatArr:
    return np.asarray(1 / (1 + np.exp(-x)))


def nps_mean(acc: Accounts, account: IntArr, band: IntArr, p: Params) -> FloatArr:
    """Latent mean score: segment level, account propensity, and a hit after bad support."""
    mu = np.asarray(p.nps_latent_mean)[acc.seg[account]] + p.nps_frailty_effect * acc.z[account]
    return np.asarray(mu + np.where(band[account] == 3, p.nps_unsatisfied_effect, 0.0))


def promoter_minus_detractor(mu: FloatArr, p: Params) -> FloatArr:
    """P(score ≥ 9) − P(score ≤ 6) for latent means ``mu`` (the expected NPS ÷ 100)."""
    s = p.nps_noise_scale
    return (1 - _logistic_cdf((8.5 - mu) / s)) - _logistic_cdf((6.5 - mu) / s)


def _invitations(
    rng: np.random.Generator, contacts: Contacts, state: Lifecycle, q: int, p: Params
) -> tuple[IntArr, FloatArr]:
    at = QUARTER_START[q] + 30 + rng.random(contacts.n) * 14
    account = contacts.account
    inside = (at >= state.span_start[account, q]) & (at < state.span_end[account, q])
    ok = inside & (contacts.left > at) & consents(contacts, np.arange(contacts.n), "survey")
    chosen = np.flatnonzero(ok & (rng.random(contacts.n) < p.nps_invite_share))
    return chosen, at[chosen]


def nps_wave(
    rng: np.random.Generator,
    acc: Accounts,
    contacts: Contacts,
    state: Lifecycle,
    q: int,
    band: IntArr,
    p: Params,
) -> tuple[Cols, Cols]:
    """(survey asks with their outcome, responses) of quarter ``q``'s wave.

    Responses carry ``ask`` as the position of their invitation in the returned asks.
    """
    contact, at = _invitations(rng, contacts, state, q, p)
    account = contacts.account[contact]
    n = len(contact)
    expires = at + p.survey_expiry_days
    responded = at + np.minimum(np.exp(np.log(1.5) + 0.8 * rng.standard_normal(n)), 13.9)
    answers = (rng.random(n) < p.nps_response) & (responded < state.span_end[account, q])
    answers &= responded < END
    mu = nps_mean(acc, account, band, p)
    score = np.clip(np.floor(mu + rng.logistic(0.0, p.nps_noise_scale, n) + 0.5), 0, 10)
    asks = {
        "account": account,
        "contact": contact,
        "type": np.full(n, SURVEY_ASK, dtype=np.int64),
        "at": at,
        "expires": expires,
        "trigger": np.zeros(n, dtype=np.int64),
        "milestone": np.full(n, -1, dtype=np.int64),
        "incentive": np.zeros(n, dtype=bool),
        "outcome": np.where(answers, COMPLETED, EXPIRED).astype(np.int64),
        "outcome_at": np.where(answers, responded, expires),
        "p_accept": np.full(n, np.nan),
        "accepted": np.zeros(n, dtype=bool),
        "withdrawn": np.zeros(n, dtype=bool),
        "complete_at": np.full(n, np.nan),
        "channel": np.zeros(n, dtype=np.int64),
        "team_owner": np.zeros(n, dtype=bool),
    }
    idx = np.flatnonzero(answers)
    responses = {
        "account": account[idx],
        "contact": contact[idx],
        "at": responded[idx],
        "score": score[idx],
        "ask": idx,
        "pmd": promoter_minus_detractor(mu[idx], p),
    }
    return asks, responses
