"""Candidate features, point in time (DESIGN §7).

A *point* is (point_id, account_id, contact_id?, at): a contact, or an account without a known
contact, looked at from one instant. Person-level rows (NPS answers, actions, asks) belong to the
contact they name, or to the account-level point when they name none; account-level rows
(support, usage, milestones, tenure) to the account. Every feature of a point uses only rows strictly before its
`at`, so the same function serves the candidate list (every point at the end of the as-of day)
and the acceptance model (each past ask at its own `asked_at`) without leakage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

from advocacy.config import Settings
from advocacy.metrics.rollup import counted
from advocacy.metrics.source import Source

DAY = 86400.0
ACCOUNT_KEY = "account:"  # people-keyed rows of an account-level point
SUCCESS_MILESTONES = ("onboarding_complete", "go_live", "expansion", "qbr", "support_resolution")
NPS_DAYS, NPS_TREND_DAYS, SUPPORT_DAYS, MOMENT_DAYS = 180, 365, 180, 30
ASK_DAYS, DECLINE_DAYS, RECENCY_DAYS, TENURE_CAP_YEARS = 180, 365, 180, 3.0


@dataclass(frozen=True)
class Feature:
    """One input of the score: its default weight and what a value of 1 means."""

    name: str
    weight: float
    description: str


FEATURES: tuple[Feature, ...] = (
    Feature("promoter", 1.5, "the contact's latest NPS answer in the last 180 days was 9–10"),
    Feature("detractor", -1.5, "the contact's latest NPS answer in the last 180 days was 0–6"),
    Feature("nps_trend", 1.0, "change between the contact's last two NPS answers (365 days), ÷ 10"),
    Feature("support_satisfied", 0.5, "support band 'satisfied': CSAT in 180 days, none unsatisfied"),
    Feature("support_unsatisfied", -1.0, "support band 'unsatisfied': an unsatisfied CSAT in 180 days"),
    Feature("usage_trend", 0.5, "active users of the last 4 weeks vs the 8 before, relative, ±1"),
    Feature("seat_utilisation", 0.5, "active users ÷ seats over the last 4 weeks (0 when unknown)"),
    Feature("tenure", 0.2, "years since the account was created, capped at 3"),
    Feature("recent_success", 0.7, "a success milestone (onboarding, go-live, expansion, QBR, "
            "support resolution) in the last 30 days"),
    Feature("recent_renewal", 0.7, "a completed renewal in the last 30 days"),
    Feature("past_advocacy", 0.3, "counted advocacy actions by the contact so far, capped at 3"),
    Feature("advocacy_recency", 0.5, "exp(−days since the contact's last counted action ÷ 180)"),
    Feature("recent_asks", -0.5, "asks of any type to the contact in the last 180 days, survey "
            "invitations included (fatigue)"),
    Feature("recent_declines", -0.7, "asks the contact declined in the last 365 days"),
)  # fmt: skip
NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


def feature_frame(source: Source, settings: Settings, points: Any) -> pd.DataFrame:
    """One row per point: `point_id` and every feature of FEATURES (0 = nothing known).

    Example: ``feature_frame(source, settings, asks.select(point_id=_.ask_id, ..., at=_.asked_at))``.
    """
    pts = points.select(
        "point_id", "account_id", "contact_id", "at",
        key=_person_key(points),
    )  # fmt: skip
    accts = pts.select("account_id", "at").distinct()
    out = pts.select("point_id", "account_id", "at")
    for agg in (_nps(source, pts), _actions(source, pts), _asks(source, pts)):
        out = _attach(out, agg, ["point_id"])
    for agg in (_support(source, settings, accts), _usage(source, accts), _account(source, accts)):
        out = _attach(out, agg, ["account_id", "at"])
    raw = out.execute()
    return _finish(raw)


def _attach(base: Any, agg: Any, keys: list[str]) -> Any:
    """Left-join an aggregate on its keys, keeping the base's key columns only."""
    renamed = agg.rename({f"k_{k}": k for k in keys})
    joined = base.left_join(renamed, [base[k] == renamed[f"k_{k}"] for k in keys])
    return joined.drop(*[f"k_{k}" for k in keys])


def _age(at: Any, then: Any) -> Any:
    """Days from `then` to `at` (DESIGN §11: durations via epoch seconds)."""
    return (at.epoch_seconds() - then.epoch_seconds()) / DAY


def _by_person(events: Any) -> Any:
    """Events keyed like points: by contact, or by account when they name no contact."""
    return events.mutate(e_key=_person_key(events))


def _person_key(table: Any) -> Any:
    return ibis.coalesce(table.contact_id, ibis.literal(ACCOUNT_KEY) + table.account_id)


def _seen(pts: Any, events: Any, when: str, days: float, key: str = "key") -> Any:
    """Point × event pairs with the event in (at − days, at): strictly before the point."""
    joined = pts.join(events, pts[key] == events[f"e_{key}"])
    age = _age(joined.at, joined[when])
    return joined.mutate(age=age).filter((_.age > 0) & (_.age <= days))


def _nps(source: Source, pts: Any) -> Any:
    r = source.table("survey_responses").filter(_.survey == "nps")
    r = _by_person(r.select("response_id", "account_id", "contact_id", "score", "responded_at"))
    seen = _seen(pts.select("point_id", "key", "at"), r, "responded_at", NPS_TREND_DAYS)
    order = [ibis.desc(seen.responded_at), ibis.desc(seen.response_id)]
    seen = seen.mutate(rn=ibis.row_number().over(group_by=seen.point_id, order_by=order))
    return seen.group_by("point_id").agg(
        nps_last=(seen.rn == 0).ifelse(seen.score, ibis.null()).max(),
        nps_last_age=(seen.rn == 0).ifelse(seen.age, ibis.null()).max(),
        nps_prev=(seen.rn == 1).ifelse(seen.score, ibis.null()).max(),
    )


def _actions(source: Source, pts: Any) -> Any:
    acts = source.table("advocacy_actions")
    acts = _by_person(acts.filter(counted(acts)).select("account_id", "contact_id", "occurred_at"))
    seen = _seen(pts.select("point_id", "key", "at"), acts, "occurred_at", 1e9)
    return seen.group_by("point_id").agg(actions_n=_.count(), action_age=_.age.min())


def _asks(source: Source, pts: Any) -> Any:
    asks = source.table("asks").select("ask_id", "account_id", "contact_id", "asked_at")
    keyed = _by_person(asks)
    base = pts.select("point_id", "key", "at")
    recent = _seen(base, keyed, "asked_at", ASK_DAYS)
    recent = recent.group_by("point_id").agg(asks_n=_.count())
    outcomes = source.table("ask_outcomes").filter(_.status == "declined")
    outcomes = outcomes.select(o_ask=_.ask_id, declined_at=_.at)
    declined = keyed.join(outcomes, keyed.ask_id == outcomes.o_ask)
    declined = _seen(base, declined, "declined_at", DECLINE_DAYS)
    declined = declined.group_by("point_id").agg(declines_n=_.ask_id.nunique())
    out = base.select("point_id")
    return _attach(_attach(out, recent, ["point_id"]), declined, ["point_id"])


def satisfied(settings: Settings, r: Any) -> Any:
    """The one CSAT threshold (same rule as metrics.rollup.satisfied)."""
    if settings.csat_satisfied == "top1":
        return r.score >= r.scale_max
    points = r.scale_max - r.scale_min + 1
    return ((points >= 5) & (r.score >= r.scale_max - 1)) | (
        (points < 5) & (r.score >= r.scale_max)
    )


def _support(source: Source, settings: Settings, accts: Any) -> Any:
    r = source.table("survey_responses").filter(_.survey == "csat")
    r = r.select(e_account_id="account_id", t=_.responded_at, sat=satisfied(settings, r))
    seen = _seen(accts, r, "t", SUPPORT_DAYS, key="account_id")
    csat = seen.group_by("account_id", "at").agg(
        csat_n=_.count(), unsat_n=(~seen.sat).ifelse(1, 0).sum()
    )
    tickets = source.table("tickets").select(e_account_id="account_id", t=_.opened_at)
    seen_t = _seen(accts, tickets, "t", SUPPORT_DAYS, key="account_id")
    tickets_n = seen_t.group_by("account_id", "at").agg(tickets_n=_.count())
    return _attach(_attach(accts, csat, ["account_id", "at"]), tickets_n, ["account_id", "at"])


def _usage(source: Source, accts: Any) -> Any:
    """A week is seen once it has ended: its Monday is at least 7 days before the point."""
    u = source.table("usage")
    u = u.select(
        e_account_id="account_id", t=u.week.cast("timestamp"),
        users=u.active_users.cast("float64"), seats=u.seats.cast("float64"),
    )  # fmt: skip
    seen = _seen(accts, u, "t", 7 + 84, key="account_id").mutate(done=_.age - 7)
    seen = seen.filter((seen.done >= 0) & (seen.done < 84))
    recent = seen.done < 28
    return seen.group_by("account_id", "at").agg(
        users_recent=recent.ifelse(seen.users, ibis.null()).mean(),
        users_prior=(~recent).ifelse(seen.users, ibis.null()).mean(),
        seat_users=(recent & seen.seats.notnull()).ifelse(seen.users, 0.0).sum(),
        seats=recent.ifelse(seen.seats, 0.0).sum(),
    )


def _account(source: Source, accts: Any) -> Any:
    """Tenure and recent milestones of each account at each point."""
    acc = source.table("accounts").select(a_account="account_id", created_at=_.created_at)
    tenure = accts.join(acc, accts.account_id == acc.a_account)
    tenure = tenure.select("account_id", "at", tenure_days=_age(tenure.at, tenure.created_at))
    ms = source.table("milestones").select(
        e_account_id="account_id", t=_.occurred_at, mtype=_.milestone_type
    )
    seen = _seen(accts, ms, "t", MOMENT_DAYS, key="account_id")
    moments = seen.group_by("account_id", "at").agg(
        success_n=seen.mtype.isin(SUCCESS_MILESTONES).ifelse(1, 0).sum(),
        renewal_n=(seen.mtype == "renewal").ifelse(1, 0).sum(),
    )
    return _attach(_attach(accts, tenure, ["account_id", "at"]), moments, ["account_id", "at"])


def _finish(raw: pd.DataFrame) -> pd.DataFrame:
    """Turn the pulled aggregates into the features of FEATURES (0 = nothing known)."""
    f = pd.DataFrame({"point_id": raw["point_id"].astype(str)})
    n = _num(raw, "nps_last")
    fresh = _num(raw, "nps_last_age") <= NPS_DAYS
    f["promoter"] = (fresh & (n >= 9)).astype(float)
    f["detractor"] = (fresh & (n <= 6)).astype(float)
    f["nps_trend"] = ((n - _num(raw, "nps_prev")) / 10.0).fillna(0.0)
    csat_n, unsat = _num(raw, "csat_n").fillna(0), _num(raw, "unsat_n").fillna(0)
    f["support_satisfied"] = ((csat_n > 0) & (unsat == 0)).astype(float)
    f["support_unsatisfied"] = (unsat > 0).astype(float)
    recent, prior = _num(raw, "users_recent"), _num(raw, "users_prior")
    trend = (recent - prior) / prior.where(prior > 0)
    f["usage_trend"] = trend.clip(-1.0, 1.0).fillna(0.0)
    seats = _num(raw, "seats")
    f["seat_utilisation"] = (_num(raw, "seat_users") / seats.where(seats > 0)).clip(0, 1).fillna(0)
    f["tenure"] = (_num(raw, "tenure_days") / 365.25).clip(0.0, TENURE_CAP_YEARS).fillna(0.0)
    f["recent_success"] = (_num(raw, "success_n").fillna(0) > 0).astype(float)
    f["recent_renewal"] = (_num(raw, "renewal_n").fillna(0) > 0).astype(float)
    f["past_advocacy"] = _num(raw, "actions_n").fillna(0).clip(upper=3.0)
    f["advocacy_recency"] = np.exp(-_num(raw, "action_age") / RECENCY_DAYS).fillna(0.0)
    f["recent_asks"] = _num(raw, "asks_n").fillna(0.0)
    f["recent_declines"] = _num(raw, "declines_n").fillna(0.0)
    return f.sort_values("point_id", kind="stable").reset_index(drop=True)


def _num(raw: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(raw[column], errors="coerce").astype(float)
