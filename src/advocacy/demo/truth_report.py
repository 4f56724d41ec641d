"""Turn the truth accumulators into the ``effects`` section of demo_truth.json."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np

from advocacy.demo.calendar import MONDAYS, N_QUARTERS, FloatArr, day_of, quarter_label
from advocacy.demo.params import (
    BANDS,
    CSAT_UNSATISFIED_MAX,
    FATIGUE_BUCKETS,
    PRODUCT_CHANGES,
    SEGMENTS,
    Params,
    ProductChange,
)
from advocacy.demo.truth import DEFAULT_QUARTERS, DIMENSIONS, OUTCOME_DAYS, Truth

METHOD = (
    "exact expectation over the outcome draws, conditional on the generated latent state "
    "(account frailty, activity spans, support bands, asks made); closed form, no simulation"
)
LEADING_QUARTERS = range(DEFAULT_QUARTERS.start, N_QUARTERS - 1)  # next quarter closed by as_of


def _r(num: float, den: float) -> float | None:
    return round(float(num) / float(den), 6) if den > 0 else None


def _by_segment(num: FloatArr, den: FloatArr) -> dict[str, float | None]:
    out = {s: _r(num[i], den[i]) for i, s in enumerate(SEGMENTS)}
    return out | {"all": _r(num.sum(), den.sum())}


def segment_rates(t: Truth, p: Params) -> dict[str, Any]:
    q = list(DEFAULT_QUARTERS)
    return {
        "estimand": "share of active accounts with >= 1 counted action in the quarter "
        "(advocacy_rate, logo basis), pooled over account-quarters of the default range",
        "parameter": {
            "counted_actions_per_active_day": dict(zip(SEGMENTS, p.counted_rate, strict=True)),
            "frailty": f"lognormal, sigma {p.frailty_sigma}, mean 1",
        },
        "expected": _by_segment(t.rate[1][:, q].sum(1), t.rate[0][:, q].sum(1)),
        "account_quarters": {
            s: int(n) for s, n in zip(SEGMENTS, t.rate[0][:, q].sum(1), strict=True)
        },
        "expected_by_quarter": {
            quarter_label(i): _by_segment(t.rate[1][:, i], t.rate[0][:, i])
            for i in range(N_QUARTERS)
        },
    }


def _mantel_haenszel(n: FloatArr, e: FloatArr, top: int, ref: int) -> float | None:
    total = n[top] + n[ref]
    safe = np.where(total > 0, total, 1)
    num = (e[top] * n[ref] / safe).sum()
    den = (e[ref] * n[top] / safe).sum()
    return _r(num, den)


def support_effect(t: Truth, p: Params) -> dict[str, Any]:
    q = list(DEFAULT_QUARTERS)
    n, e = t.band[0][:, :, q].sum(2), t.band[1][:, :, q].sum(2)  # band × segment
    rate = {b: _r(e[i].sum(), n[i].sum()) for i, b in enumerate(BANDS)}
    unsat = BANDS.index("unsatisfied")
    rr = {
        b: _r(e[i].sum() * n[unsat].sum(), n[i].sum() * e[unsat].sum()) for i, b in enumerate(BANDS)
    }
    return {
        "estimand": f"P(counted action in [index, +{OUTCOME_DAYS} days)) by support band at the "
        f"index date (quarter starts of the default range, {p.support_lookback_days}-day CSAT "
        "lookback, "
        f"unsatisfied = CSAT <= {CSAT_UNSATISFIED_MAX:g} on 1-5); accounts known and active at "
        "the index date (created before it, MRR > 0 in the month holding it)",
        "parameter": {
            "unsatisfied_hazard_multiplier": p.unsatisfied_multiplier,
            "satisfied_vs_unsatisfied_hazard_ratio": round(1 / p.unsatisfied_multiplier, 6),
        },
        "expected": {
            "rate_by_band": rate,
            "risk_ratio_vs_unsatisfied": rr,
            "risk_ratio_satisfied_vs_unsatisfied": rr["satisfied"],
            "risk_ratio_mh_by_segment": _mantel_haenszel(n, e, BANDS.index("satisfied"), unsat),
        },
        "accounts_by_band": {b: int(n[i].sum()) for i, b in enumerate(BANDS)},
    }


def _leading_rows(t: Truth, quarters: list[int]) -> dict[str, Any]:
    base, ret, exp = (t.ret[k][:, :, quarters].sum(2) for k in range(3))  # advocate × segment
    adv, oth = 1, 0
    size = base.sum(0)
    w = size / size.sum() if size.sum() > 0 else size

    def within(x: FloatArr) -> float:
        r = np.divide(x, base, out=np.zeros_like(x), where=base > 0)
        return round(float((w * (r[adv] - r[oth])).sum()), 6)

    out: dict[str, Any] = {
        "accounts": {"advocates": int(base[adv].sum()), "others": int(base[oth].sum())}
    }
    for name, x in (("next_logo_retention", ret), ("next_expansion_rate", exp)):
        a, o = _r(x[adv].sum(), base[adv].sum()), _r(x[oth].sum(), base[oth].sum())
        diff = round(a - o, 6) if a is not None and o is not None else None
        out[name] = {
            "advocates": a,
            "others": o,
            "difference": diff,
            "difference_segment_adjusted": within(x),
        }
    return out


def retention_effect(t: Truth, p: Params) -> dict[str, Any]:
    quarters = list(LEADING_QUARTERS)
    return {
        "estimand": "next-quarter logo retention and expansion rate (MRR_end > MRR_start) of the "
        "starting base (MRR > 0 in the quarter's last month), advocates (>= 1 counted action in "
        "the quarter) vs others; pooled over the default-range quarters whose next quarter has "
        "closed",
        "parameter": {
            "advocate_churn_hazard_multiplier": p.advocate_churn_multiplier,
            "advocate_expansion_multiplier": p.advocate_expansion_multiplier,
            "annual_nonrenewal": dict(zip(SEGMENTS, p.annual_nonrenewal, strict=True)),
            "monthly_churn": dict(zip(SEGMENTS, p.monthly_churn, strict=True)),
            "quarterly_expansion": dict(zip(SEGMENTS, p.quarterly_expansion, strict=True)),
            "referred_churn_multiplier": p.referred_churn_multiplier,
        },
        "expected": _leading_rows(t, quarters),
        "expected_by_period": {quarter_label(q): _leading_rows(t, [q]) for q in quarters},
    }


def _window(t: Truth, dim: str, first: int, length: int) -> tuple[FloatArr, FloatArr]:
    """(expected counted actions, active account-weeks) per value of ``dim`` in a window."""
    mondays = (first <= MONDAYS) & (first + length > MONDAYS)
    return t.actions[dim][:, first : first + length].sum(1), t.exposure[dim][:, mondays].sum(1)


def _ratios(t: Truth, dim: str, start: int, width: int) -> Callable[[list[int]], float | None]:
    """Expected post ÷ pre rate ratio over a set of values of ``dim``."""
    pre_n, pre_x = _window(t, dim, start - width, width)
    post_n, post_x = _window(t, dim, start, width)

    def ratio(sel: list[int]) -> float | None:
        pre = _r(pre_n[sel].sum(), pre_x[sel].sum())
        post = _r(post_n[sel].sum(), post_x[sel].sum())
        return _r(post, pre) if pre and post is not None else None

    return ratio


def _scoped(t: Truth, change: ProductChange, start: int, width: int) -> dict[str, Any]:
    """In-scope, out-of-scope and difference-in-differences ratios of a scoped change."""
    dim, value = str(change.scope_dimension), str(change.scope_value)
    ratio = _ratios(t, dim, start, width)
    inside = [DIMENSIONS[dim].index(value)]
    outside = [i for i in range(len(DIMENSIONS[dim])) if i not in inside]
    r_in, r_out = ratio(inside), ratio(outside)
    did = _r(r_in, r_out) if r_in is not None and r_out else None
    return {"rate_ratio_in_scope": r_in, "rate_ratio_out_of_scope": r_out, "rate_ratio_did": did}


def change_effect(t: Truth, p: Params, change: ProductChange, multiplier: float) -> dict[str, Any]:
    """Expected 8-week pre/post ratios of counted actions per active account-week for a change."""
    start, width = day_of(change.released_at.date()), p.drop_window_days
    by_segment = _ratios(t, "segment", start, width)
    expected: dict[str, Any] = {
        "rate_ratio_all_accounts": by_segment([0, 1, 2]),
        "rate_ratio_by_segment": {s: by_segment([i]) for i, s in enumerate(SEGMENTS)},
    }
    if change.scope_dimension in DIMENSIONS:
        expected |= _scoped(t, change, start, width)
    window = timedelta(days=width)
    out: dict[str, Any] = {
        "change_id": change.change_id,
        "released_at": change.released_at.isoformat(),
        "window_days": width,
        "pre_window": [str(change.released_at - window), str(change.released_at)],
        "post_window": [str(change.released_at), str(change.released_at + window)],
        "scope_dimension": change.scope_dimension,
        "scope_value": change.scope_value,
        "parameter": {"counted_action_rate_multiplier": multiplier},
        "expected": expected,
    }
    if change.scope_dimension == "segment":
        out["segment"] = change.scope_value
    return out


def fatigue_effect(t: Truth, p: Params) -> dict[str, Any]:
    n, s = t.asks
    return {
        "estimand": "ask_acceptance_rate of advocacy asks to a contact by the number of asks "
        f"(survey invitations included) to that contact in the prior {p.fatigue_window_days} "
        "days; asks whose expiry passed by as_of, withdrawn ones excluded",
        "parameter": {
            "acceptance_multiplier_by_prior_asks": dict(
                zip(FATIGUE_BUCKETS, p.fatigue_multiplier, strict=True)
            ),
            "promoter_multiplier": p.promoter_acceptance_multiplier,
            "base_acceptance_by_type": dict(
                zip(
                    (
                        "referral",
                        "review",
                        "case_study",
                        "reference_call",
                        "testimonial",
                        "community_post",
                        "speaking",
                        "advisory_board",
                    ),
                    p.base_acceptance,
                    strict=True,
                )
            ),
        },
        "expected": {
            "acceptance_by_prior_asks": {b: _r(s[i], n[i]) for i, b in enumerate(FATIGUE_BUCKETS)}
        },
        "asks_by_prior_asks": {b: int(n[i]) for i, b in enumerate(FATIGUE_BUCKETS)},
    }


def nps_truth(t: Truth, p: Params) -> dict[str, Any]:
    q = list(DEFAULT_QUARTERS)
    return {
        "estimand": "NPS (response basis) pooled over the default range",
        "parameter": {
            "latent_mean_by_segment": dict(zip(SEGMENTS, p.nps_latent_mean, strict=True)),
            "unsatisfied_effect": p.nps_unsatisfied_effect,
        },
        "expected": {
            k: (None if v is None else round(100 * v, 4))
            for k, v in _by_segment(t.nps[1][:, q].sum(1), t.nps[0][:, q].sum(1)).items()
        },
        "expected_by_quarter": {
            quarter_label(i): {
                k: (None if v is None else round(100 * v, 4))
                for k, v in _by_segment(t.nps[1][:, i], t.nps[0][:, i]).items()
            }
            for i in range(N_QUARTERS)
        },
    }


def build_effects(t: Truth, p: Params) -> dict[str, Any]:
    """Every planted effect with its parameter and expected estimand."""
    return {
        "segment_advocacy_rate": segment_rates(t, p),
        "support_advocacy": support_effect(t, p),
        "advocacy_retention": retention_effect(t, p),
        "product_change_drop": change_effect(t, p, p.drop_change, p.drop_ratio),
        "product_change_null": change_effect(t, p, p.null_change, 1.0),
        "other_product_changes": [
            change_effect(t, p, c, 1.0) for c in PRODUCT_CHANGES if c.role == "other"
        ],
        "ask_fatigue": fatigue_effect(t, p),
        "nps_by_segment": nps_truth(t, p),
    }
