"""Advocacy asks: who is asked, when, and whether they say yes.

Asks follow milestones, promoter answers, or a CSM's own initiative. Acceptance falls with fatigue:
``p = base[type] · fatigue[min(prior asks in 180 days, 4)] · (promoter boost)``, where prior asks
count every ask to that contact, survey invitations included (DESIGN §7). An accepted ask completes
at a drawn date; its completion chance carries the same support and product-change multipliers as
organic actions, so every counted action obeys one planted hazard model.
"""

from __future__ import annotations

import numpy as np

from advocacy.demo.accounts import Accounts, Contacts, consents, pick_contacts
from advocacy.demo.calendar import END, QUARTER_START, BoolArr, FloatArr, IntArr
from advocacy.demo.codes import (
    ACCEPTED,
    ASK_TYPE_CODES,
    DECLINED,
    EXPIRED,
    TRIGGERS,
    WITHDRAWN,
    milestone_code,
)
from advocacy.demo.frames import Cols, concat, repeat_index
from advocacy.demo.lifecycle import Lifecycle
from advocacy.demo.params import ASKABLE, Params

_ASK = {name: ASK_TYPE_CODES.index(name) for name in ASKABLE}
# What each prompt tends to ask for, over ASKABLE.
MIX_BY_TRIGGER: dict[str, tuple[float, ...]] = {
    "manual": (0.15, 0.2, 0.12, 0.15, 0.1, 0.1, 0.08, 0.1),
    "nps_promoter": (0.3, 0.4, 0.15, 0.0, 0.15, 0.0, 0.0, 0.0),
    "go_live": (0.0, 0.4, 0.2, 0.0, 0.25, 0.15, 0.0, 0.0),
    "renewal": (0.25, 0.35, 0.15, 0.25, 0.0, 0.0, 0.0, 0.0),
    "qbr": (0.2, 0.0, 0.2, 0.3, 0.0, 0.0, 0.1, 0.2),
    "support_resolution": (0.0, 0.6, 0.0, 0.0, 0.4, 0.0, 0.0, 0.0),
    "expansion": (0.3, 0.0, 0.4, 0.3, 0.0, 0.0, 0.0, 0.0),
}
SCOPE_OF = {"referral": "referral", "review": "review", "case_study": "case_study",
            "reference_call": "reference_call", "testimonial": "logo"}  # fmt: skip


def _types(rng: np.random.Generator, trigger: str, n: int) -> IntArr:
    probs = np.asarray(MIX_BY_TRIGGER[trigger])
    picks = rng.choice(len(ASKABLE), n, p=probs / probs.sum())
    return np.asarray(list(_ASK.values()), dtype=np.int64)[picks]


def _batch(account: IntArr, contact: IntArr, at: FloatArr, kind: IntArr, trigger: str) -> Cols:
    n = len(account)
    return {
        "account": account,
        "contact": contact,
        "at": at,
        "type": kind,
        "trigger": np.full(n, TRIGGERS.index(trigger), dtype=np.int64),
        "milestone": np.full(n, -1, dtype=np.int64),
    }


def milestone_asks(rng: np.random.Generator, milestones: Cols, p: Params) -> Cols:
    """Some milestones prompt an ask within two weeks (`milestone` = the milestone's position)."""
    parts: list[Cols] = []
    for trigger in ("go_live", "renewal", "qbr", "support_resolution", "expansion"):
        idx = np.flatnonzero(
            (milestones["type"] == milestone_code(trigger))
            & (rng.random(len(milestones["type"])) < p.milestone_ask_share)
        )
        at = milestones["at"][idx] + rng.uniform(1, 14, len(idx))
        kinds = _types(rng, trigger, len(idx))
        batch = _batch(milestones["account"][idx], np.full(len(idx), -2), at, kinds, trigger)
        parts.append(batch | {"milestone": idx})
    return concat(parts)


def promoter_asks(rng: np.random.Generator, responses: Cols, p: Params) -> Cols:
    """Some promoters (9–10) are asked within ten days, the respondent themself."""
    idx = np.flatnonzero(
        (responses["score"] >= 9) & (rng.random(len(responses["score"])) < p.promoter_ask_share)
    )
    at = responses["at"][idx] + rng.uniform(1, 10, len(idx))
    kinds = _types(rng, "nps_promoter", len(idx))
    return _batch(responses["account"][idx], responses["contact"][idx], at, kinds, "nps_promoter")


def manual_asks(
    rng: np.random.Generator, acc: Accounts, state: Lifecycle, q: int, p: Params
) -> Cols:
    """CSM-initiated asks, Poisson over each account's active days in the quarter."""
    start, end = state.span_start[:, q], state.span_end[:, q]
    length = np.nan_to_num(end - start)
    rate = np.asarray(p.manual_asks_per_quarter)[acc.seg] / 91.0
    owner = repeat_index(rng.poisson(rate * length))
    at = start[owner] + rng.random(len(owner)) * length[owner]
    return _batch(owner, np.full(len(owner), -2), at, _types(rng, "manual", len(owner)), "manual")


def place(
    rng: np.random.Generator, contacts: Contacts, state: Lifecycle, q: int, asks: Cols
) -> Cols:
    """Keep asks made while the account is active, to a contact who is there, opted in and consents.

    Contact -2 means "pick one"; 3% of picked asks stay account-level (contact -1).
    """
    if not asks:
        return {}
    account, at = asks["account"], asks["at"]
    pick = asks["contact"] == -2
    contact = np.where(pick, pick_contacts(rng, contacts, account, at), asks["contact"])
    account_level = pick & (rng.random(len(at)) < 0.03)
    contact = np.where(account_level, -1, contact)
    keep = (at >= state.span_start[account, q]) & (at < state.span_end[account, q]) & (at < END)
    safe = np.maximum(contact, 0)
    person_ok = (contact >= 0) & ~contacts.opt_out[safe] & (contacts.left[safe] > at)
    for name, scope in SCOPE_OF.items():
        of_type = asks["type"] == _ASK[name]
        person_ok &= ~of_type | consents(contacts, safe, scope)
    keep &= person_ok | account_level
    return {k: v[keep] for k, v in asks.items()} | {"contact": contact[keep]}


def prior_counts(
    hist_contact: IntArr, hist_at: FloatArr, contact: IntArr, at: FloatArr, window: float
) -> IntArr:
    """Asks to the same contact in ``[at - window, at)`` among the history (may include these)."""
    keys = np.sort(hist_contact * 4096.0 + hist_at)
    probe = contact * 4096.0 + at
    count = np.searchsorted(keys, probe, "left") - np.searchsorted(keys, probe - window, "left")
    return np.where(contact >= 0, count, 0).astype(np.int64)


def recent_promoter(responses: Cols, contact: IntArr, at: FloatArr, window: float) -> BoolArr:
    """Whether the contact's latest NPS answer in ``[at - window, at)`` was a 9 or 10."""
    if not responses or len(responses["at"]) == 0:
        return np.zeros(len(contact), dtype=bool)
    keys = responses["contact"] * 4096.0 + responses["at"]
    order = np.argsort(keys)
    keys, score = keys[order], responses["score"][order]
    probe = contact * 4096.0 + at
    pos = np.searchsorted(keys, probe, "left") - 1
    safe = np.maximum(pos, 0)
    valid = (pos >= 0) & (keys[safe] >= probe - window) & (np.floor(keys[safe] / 4096) == contact)
    return np.asarray(valid & (score[safe] >= 9) & (contact >= 0))


def acceptance(p: Params, kind: IntArr, prior: IntArr, promoter: BoolArr) -> FloatArr:
    """The planted acceptance probability of each ask."""
    base = np.zeros(len(ASK_TYPE_CODES))
    base[list(_ASK.values())] = p.base_acceptance
    fatigue = np.asarray(p.fatigue_multiplier)[np.minimum(prior, len(p.fatigue_multiplier) - 1)]
    boost = np.where(promoter, p.promoter_acceptance_multiplier, 1.0)
    return np.asarray(np.minimum(base[kind] * fatigue * boost, 0.95))


def decide(rng: np.random.Generator, asks: Cols, p_accept: FloatArr, p: Params) -> Cols:
    """First outcome of each ask and, for every non-withdrawn ask, its would-be completion date."""
    n = len(p_accept)
    withdrawn = rng.random(n) < p.withdrawn_share
    accepted = ~withdrawn & (rng.random(n) < p_accept)
    declined = ~withdrawn & ~accepted & (rng.random(n) < 0.6)
    status = np.where(
        withdrawn, WITHDRAWN, np.where(accepted, ACCEPTED, np.where(declined, DECLINED, EXPIRED))
    )
    lag = np.where(
        withdrawn,
        rng.uniform(1, 10, n),
        np.where(
            accepted,
            rng.uniform(0.2, 7, n),
            np.where(declined, rng.uniform(0.5, 10, n), p.ask_expiry_days),
        ),
    )
    return asks | {
        "expires": asks["at"] + p.ask_expiry_days,
        "p_accept": p_accept,
        "accepted": accepted,
        "withdrawn": withdrawn,
        "outcome": status.astype(np.int64),
        "outcome_at": asks["at"] + lag,
        "complete_at": asks["at"] + rng.uniform(7, 60, n),
        "incentive": (asks["type"] == _ASK["review"]) & (rng.random(n) < 0.15),
        "channel": rng.choice(4, n, p=[0.5, 0.2, 0.15, 0.15]),
        "team_owner": rng.random(n) < 0.3,
    }


PENDING_KEYS = ("account", "contact", "type", "complete_at", "p_accept", "accepted", "incentive")


def respond(
    rng: np.random.Generator, new: Cols, history: Cols, responses: Cols, p: Params
) -> tuple[Cols, IntArr]:
    """Decide new asks given every earlier ask and NPS answer: (decided asks, prior-ask counts)."""
    hist_contact = np.r_[history["contact"], new["contact"]]
    hist_at = np.r_[history["at"], new["at"]]
    window = float(p.fatigue_window_days)
    prior = prior_counts(hist_contact, hist_at, new["contact"], new["at"], window)
    promoter = recent_promoter(responses, new["contact"], new["at"], window)
    return decide(rng, new, acceptance(p, new["type"], prior, promoter), p), prior


def in_quarter(times: FloatArr, q: int) -> BoolArr:
    """Times inside quarter ``q`` and before the end of as_of."""
    return np.asarray((times >= QUARTER_START[q]) & (times < QUARTER_START[q + 1]) & (times < END))
