"""`advocacy recommend`: the best ask to make now for each recent moment (DESIGN §7).

A moment is a success milestone (onboarding, go-live, a completed renewal, an expansion), a
satisfied CSAT answer on a resolved ticket, or a promoter NPS answer, in the `moment_days`
before the end of as_of. Each moment suggests ask types; each eligible (contact, ask type) at
that account is worth P(accept) × the ask type's value. Picks are greedy by expected value,
spreading asks over the pool: an account gets at most one recommendation, a contact at most one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import pandas as pd
from ibis import _
from scipy.special import expit

from advocacy.config import Settings
from advocacy.metrics.source import Source
from advocacy.program.candidates import Assessment, assess, blocked, contribution_dicts, why
from advocacy.program.features import satisfied

MOMENTS: dict[str, tuple[str, ...]] = {
    "onboarding_complete": ("review", "testimonial", "community_post"),
    "go_live": ("review", "testimonial", "community_post"),
    "renewal": ("case_study", "reference_call", "referral", "review"),
    "expansion": ("case_study", "reference_call", "referral"),
    "high_csat_resolution": ("review", "testimonial"),
    "promoter_response": ("review", "referral", "case_study", "testimonial", "reference_call"),
}
COLUMNS = ["moment", "milestone_id", "contact_id", "account_id", "ask_type", "expected_value",
           "probability", "moment_at", "reasons"]  # fmt: skip
_MILESTONES = ("onboarding_complete", "go_live", "renewal", "expansion")


def recommend(source: Source, settings: Settings, *, as_of: date | None = None) -> pd.DataFrame:
    """One row per recommended ask (COLUMNS), best expected value first."""
    a = assess(source, settings, as_of=as_of)
    try:
        moments = recent_moments(source, settings, a)
        pairs = _pairs(a, moments)
        if pairs.empty:
            return pd.DataFrame(columns=COLUMNS)
        accounts = ibis.memtable(pd.DataFrame({"account_id": sorted(set(pairs["account_id"]))}))
        points = a.points.semi_join(accounts, "account_id")
        blocks = blocked(a, source, tuple(sorted(set(pairs["ask_type"]))), points)
    finally:
        a.release()
    keys = set(zip(blocks["point_id"], blocks["ask_type"], strict=True))
    ok = [(p, t) not in keys for p, t in zip(pairs["point_id"], pairs["ask_type"], strict=True)]
    return _pick(a, pairs[ok].copy())


def recent_moments(source: Source, settings: Settings, a: Assessment) -> pd.DataFrame:
    """moment, milestone_id, account_id, contact_id, moment_at of the lookback window."""
    start = a.cutoff - timedelta(days=a.cs.moment_days)

    def window(t: Any, column: str) -> Any:
        return t.filter((t[column] >= start) & (t[column] < a.cutoff))

    ms = window(source.table("milestones"), "occurred_at")
    ms = ms.filter(ms.milestone_type.isin(_MILESTONES)).select(
        moment=_.milestone_type, milestone_id=_.milestone_id, account_id=_.account_id,
        contact_id=ibis.null("string"), moment_at=_.occurred_at,
    )  # fmt: skip
    r = window(source.table("survey_responses"), "responded_at")
    csat = r.filter((r.survey == "csat") & r.ticket_id.notnull() & satisfied(settings, r))
    nps = r.filter((r.survey == "nps") & (r.score >= 9))
    answers = [
        t.select(
            moment=ibis.literal(name),
            milestone_id=ibis.null("string"),
            account_id=_.account_id,
            contact_id=_.contact_id.cast("string"),
            moment_at=_.responded_at,
        )
        for name, t in (("high_csat_resolution", csat), ("promoter_response", nps))
    ]
    schema = {"moment": "string", "milestone_id": "string", "account_id": "string",
              "contact_id": "string", "moment_at": "timestamp"}  # fmt: skip
    parts = [t.select(**{k: t[k].cast(v) for k, v in schema.items()}) for t in (ms, *answers)]
    frame: pd.DataFrame = ibis.union(*parts, distinct=False).execute()
    return frame.sort_values(["moment_at", "moment", "account_id"], kind="stable")


def _pairs(a: Assessment, moments: pd.DataFrame) -> pd.DataFrame:
    """(moment, candidate point, ask type): the moment's contact if it names a current one,
    else every candidate of the account."""
    cands = a.frame[["point_id", "account_id", "contact_id"]]
    moments = moments.assign(mid=range(len(moments)))
    people = cands[cands["contact_id"].notna()]
    named = moments[moments["contact_id"].notna()].merge(people, on=["account_id", "contact_id"])
    rest = moments[~moments["mid"].isin(named["mid"])].drop(columns="contact_id")
    rest = rest.merge(cands, on="account_id")
    both = pd.concat([named, rest], ignore_index=True).drop(columns="mid")
    types = pd.DataFrame(
        [(m, t) for m, kinds in MOMENTS.items() for t in kinds], columns=["moment", "ask_type"]
    )
    return both.merge(types, on="moment")


def _pick(a: Assessment, pairs: pd.DataFrame) -> pd.DataFrame:
    feats = pairs[["point_id"]].merge(a.frame, on="point_id", how="left")
    if a.model is not None:
        p = a.model.predict(feats, pairs["ask_type"].astype(str).tolist())
        basis = "learned acceptance model"
    else:
        p = expit(feats["score"].to_numpy(float))
        basis = "a stand-in from the hand score; too little ask history for a model"
    pairs["probability"] = p
    pairs["value"] = [a.cs.values[t] for t in pairs["ask_type"]]
    pairs["expected_value"] = pairs["probability"] * pairs["value"]
    pairs["contributions"] = contribution_dicts(feats.set_index(pairs.index), a.cs.weights)
    pairs = pairs.sort_values(
        ["expected_value", "moment_at", "point_id", "ask_type"],
        ascending=[False, False, True, True], kind="stable",
    )  # fmt: skip
    pairs = pairs.drop_duplicates("account_id").drop_duplicates("point_id")
    pairs["reasons"] = [
        [f"{m} on {pd.Timestamp(at):%Y-%m-%d}",
         f"P(accepts {t}) = {p:.2f} ({basis}) × value {v:g}", *why(c, 3)]
        for m, at, t, p, v, c in zip(pairs["moment"], pairs["moment_at"], pairs["ask_type"],
                                     pairs["probability"], pairs["value"], pairs["contributions"],
                                     strict=True)
    ]  # fmt: skip
    pairs["contact_id"] = pairs["contact_id"].where(pairs["contact_id"].notna(), None)
    return pairs[COLUMNS].reset_index(drop=True)
