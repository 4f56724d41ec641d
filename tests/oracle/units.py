"""Per-metric units of one period: the rows an aggregation turns into a value (DESIGN §5).

Every builder returns a frame with ``_ga``, the account whose attributes group the unit (NaN = the
unit counts in the total row only), plus the columns its aggregation reads:

- mean: ``x`` (the unit's value) and ``w`` (its weight; NaN = excluded from the arr basis)
- count: ``amount`` (what it adds) and ``ev`` (1 for an event, 0 for an active account that
  only makes the group's population non-empty)
- closed: ``closed`` (its forward window closed by as_of) and ``x``
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from .data import Data, present
from .timegrid import Period, Window, add_months

ASK_COLUMNS = ("ask_type", "trigger", "channel", "owner")
SETTLED = frozenset({"completed", "declined", "expired"})
BRIDGE = ("start", "new", "reactivation", "expansion", "contraction", "churn", "end")
NAN = float("nan")
RATE_ACTION_TYPE = {
    "referral_rate": "referral",
    "case_study_rate": "case_study",
    "community_rate": "community_post",
    "review_rate": "review",
}
VOLUME_ACTION_TYPE = {
    "referrals": "referral",
    "reviews": "review",
    "social_mentions": "social_mention",
}


@dataclass(frozen=True)
class Ctx:
    """What a builder needs beyond the data and the period."""

    metric: str
    basis: str | None
    window: str
    include_surveys: bool = False
    csat_native: bool = True


def _in(ts: pd.Series, w: Window) -> pd.Series:
    return (ts >= w.start_utc) & (ts < w.end_utc)


def _weights(d: Data, accounts: list[str], w: Window, basis: str | None) -> list[float]:
    if basis != "arr":
        return [1.0] * len(accounts)
    return [NAN if (x := d.arr_weight(a, w)) is None else x for a in accounts]


def _presence(d: Data, w: Window) -> pd.DataFrame:
    """The active accounts as zero rows: a count's population, so nothing happening is a 0."""
    # CHOICE: a count's population is the group's active accounts plus the accounts with an event
    # in the window (events count active or not); no row only when both are empty.
    active = d.active_accounts(w)
    return pd.DataFrame({"_ga": active, "amount": 0.0, "ev": 0})


def _count(
    d: Data, w: Window, accounts: list[Any], amounts: list[float] | None = None
) -> pd.DataFrame:
    events = pd.DataFrame({"_ga": accounts, "amount": 1.0 if amounts is None else amounts, "ev": 1})
    return pd.concat([_presence(d, w), events], ignore_index=True)


# --- survey metrics -----------------------------------------------------------------------------


def satisfied(r: pd.DataFrame, mode: str) -> pd.Series:
    """`top2`: score ≥ scale_max − 1 on scales of ≥ 5 points, top box on 2–4; `top1`: top box."""
    points = r["scale_max"] - r["scale_min"] + 1
    top2 = (mode == "top2") & (points >= 5)
    return r["score"] >= r["scale_max"] - top2.astype(float)


def _survey_x(r: pd.DataFrame, d: Data, ctx: Ctx) -> pd.Series:
    score, m = r["score"], ctx.metric
    if m == "nps":
        return (score >= 9).astype(float) - (score <= 6).astype(float)
    if m in ("promoter_share", "passive_share", "detractor_share"):
        return {
            "promoter_share": score >= 9,
            "passive_share": (score > 6) & (score < 9),
            "detractor_share": score <= 6,
        }[m].astype(float)
    if m == "csat":
        return satisfied(r, d.s.csat_satisfied).astype(float)
    if ctx.csat_native:
        return score.astype(float)
    return (score - r["scale_min"]) / (r["scale_max"] - r["scale_min"])


def survey(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    kind = "csat" if ctx.metric.startswith("csat") else "nps"
    r = d.responses
    r = r[(r["survey"] == kind) & _in(r["responded_at"], w)]
    # Survey metrics use the responses from known non-test accounts, active or not (§4).
    # CHOICE: on every basis, so logo/arr take each *responding* account's latest response in the
    # window whether or not the account is active (ties → the greater response_id).
    if ctx.basis in ("logo", "arr"):
        r = r.sort_values(["account_id", "responded_at", "response_id"])
        r = r.groupby("account_id", sort=False).tail(1)
    accounts = list(r["account_id"])
    x = list(_survey_x(r, d, ctx))
    return pd.DataFrame({"_ga": accounts, "x": x, "w": _weights(d, accounts, w, ctx.basis)})


def say_do(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """Promoter responses; x = 1 when the account has no counted action in [t, t + 90 days)."""
    r = d.responses
    r = r[(r["survey"] == "nps") & (r["score"] >= 9) & _in(r["responded_at"], w)]
    a = d.actions[Data.counted(d.actions)]
    times: dict[str, list[pd.Timestamp]] = {}
    for acc, t in zip(a["account_id"], a["occurred_at"], strict=True):
        times.setdefault(acc, []).append(t)
    span = timedelta(days=d.s.say_do_days)
    rows = []
    for acc, t0 in zip(r["account_id"], r["responded_at"], strict=True):
        acted = any(t0 <= t < t0 + span for t in times.get(acc, []))
        rows.append((acc, t0 + span <= d.as_of_utc, 0.0 if acted else 1.0))
    return pd.DataFrame(rows, columns=["_ga", "closed", "x"])


# --- rates over active accounts ------------------------------------------------------------------


def account_rate(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """Active accounts; x = 1 with ≥ 1 NPS response (coverage) or counted action in the window."""
    active = d.active_accounts(w)
    if ctx.metric == "nps_coverage":
        r = d.responses
        hit = set(r.loc[(r["survey"] == "nps") & _in(r["responded_at"], w), "account_id"])
    else:
        a = d.actions
        a = a[_in(a["occurred_at"], w) & Data.counted(a)]
        # CHOICE: a per-type rate counts that type's *counted* actions (a review rated < 4 makes
        # no one a reviewer), as "same, for one action type" reads.
        if ctx.metric in RATE_ACTION_TYPE:
            a = a[a["action_type"] == RATE_ACTION_TYPE[ctx.metric]]
        hit = set(a["account_id"])
    x = [float(acc in hit) for acc in active]
    return pd.DataFrame({"_ga": active, "x": x, "w": _weights(d, active, w, ctx.basis)})


# --- actions ------------------------------------------------------------------------------------


def action_count(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    a = d.actions
    a = a[_in(a["occurred_at"], w)]
    if ctx.metric == "advocacy_actions":
        a = a[Data.counted(a)]
    else:
        a = a[a["action_type"] == VOLUME_ACTION_TYPE[ctx.metric]]
    return _count(d, w, list(a["account_id"]))


def review_rating(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    a = d.actions
    # CHOICE: all reviews (not only counted ones); unrated reviews have nothing to average, so
    # n = rated reviews.
    a = a[_in(a["occurred_at"], w) & (a["action_type"] == "review") & a["rating"].notna()]
    return pd.DataFrame({"_ga": list(a["account_id"]), "x": list(a["rating"]), "w": 1.0})


def concentration(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """One row per counted action; advocate accounts = accounts with ≥ 1 of them."""
    # CHOICE: advocate accounts are counted active or not (the population of actions).
    a = d.actions
    a = a[_in(a["occurred_at"], w) & Data.counted(a)]
    return pd.DataFrame({"_ga": list(a["account_id"])})


# --- new logos and referrals ---------------------------------------------------------------------


def new_logo_accounts(d: Data, w: Window) -> list[str]:
    """First month with MRR > 0 in the window; with no revenue rows at all, created_at in it."""
    out = []
    for a in d.accounts.index:
        if d.has_revenue(a):
            fpm = d.first_paid_month(a)
            if fpm is not None and w.start <= fpm < w.end:
                out.append(a)
        elif w.start_utc <= d.created[a] < w.end_utc:
            out.append(a)
    return out


def new_logos(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    return _count(d, w, new_logo_accounts(d, w))


def referred_share(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    logos = new_logo_accounts(d, w)
    x = [float(d.referral(a)[0]) for a in logos]
    return pd.DataFrame({"_ga": logos, "x": x, "w": 1.0})


def referral_arr(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """Referred new logos, each adding 12 × MRR of its first paid month, grouped by referrer."""
    referrers, amounts = [], []
    for a in new_logo_accounts(d, w):
        referred, referrer = d.referral(a)
        if referred:
            # CHOICE: a referred new logo without revenue rows (created_at rule) adds 0 but counts
            # in n; a referrer that is unknown or a test account is the group "(none)".
            fpm = d.first_paid_month(a)
            referrers.append(referrer)
            amounts.append(12 * d.mrr(a, fpm) if fpm is not None else 0.0)
    # CHOICE: as for every count, a group's population is its active accounts (the potential
    # referrers) plus its events, so a segment whose accounts referred no one reads 0.
    return _count(d, w, referrers, amounts)


def referral_conversion(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """Referral actions in the window, grouped by the referring account."""
    a = d.actions
    a = a[(a["action_type"] == "referral") & _in(a["occurred_at"], w)]
    span = timedelta(days=d.s.conversion_window_days)
    rows = []
    cols = (a["account_id"], a["occurred_at"], a["referred_account_id"])
    for referrer, at, referred in zip(*cols, strict=True):
        converted = False
        # CHOICE: the first paid month is the revenue one only (first month with MRR > 0, seen
        # by as_of): a referred account with no such month, an unknown or a test account has not
        # paid, so it is unconverted once the window closes.
        fpm = d.first_paid_month(referred) if present(referred) and referred in d.known else None
        if fpm is not None:
            starts, ends = d.month_utc(fpm), d.month_utc(add_months(fpm, 1))
            # CHOICE (agreed with the engine): "already paying before the referral" = the first
            # paid month *ended* before occurred_at; a first paid month holding the referral day
            # counts as a conversion (refer on the 10th, sign on the 20th: same billing month);
            # converted = that month starts before occurred_at + 180 days.
            if ends <= at:
                continue
            converted = starts < at + span
        rows.append((referrer, at + span <= d.as_of_utc, float(converted)))
    return pd.DataFrame(rows, columns=["_ga", "closed", "x"])


# --- asks ---------------------------------------------------------------------------------------


def ask_rate(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """Asks in the window, less latest-withdrawn (and survey) asks; closed = settled."""
    k = d.asks
    k = k[_in(k["asked_at"], w)]
    if not ctx.include_surveys:
        k = k[k["ask_type"] != "survey"]
    hits = {"accepted", "completed"} if ctx.metric == "ask_acceptance_rate" else {"completed"}
    rows = []
    for ask in k.to_dict("records"):
        if d.ask_latest.get(ask["ask_id"]) == "withdrawn":
            continue
        statuses = d.ask_statuses.get(ask["ask_id"], set())
        # CHOICE: `expires_at` has passed by as_of when expires_at ≤ the as_of instant (the
        # window [asked_at, expires_at) has closed), as for every other window.
        expires: Any = ask["expires_at"]
        expired = present(expires) and bool(expires <= d.as_of_utc)
        settled = bool(statuses & SETTLED) or expired
        x = float(bool(statuses & hits))
        rows.append((ask["account_id"], settled, x, *(ask[c] for c in ASK_COLUMNS)))
    return pd.DataFrame(rows, columns=["_ga", "closed", "x", *ASK_COLUMNS])


def asks_per_advocate(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    k = d.asks
    # CHOICE: "non-survey asks" whatever include_surveys says; withdrawn asks count (asked).
    k = k[_in(k["asked_at"], w) & (k["ask_type"] != "survey") & k["contact_id"].notna()]
    return pd.DataFrame({"_ga": list(k["account_id"]), "contact": list(k["contact_id"])})


def is_over_asked(times: list[pd.Timestamp], w: Window, cap: int, days: int) -> bool:
    """Does some window (t − days, t] overlapping [w.start, w.end) hold more than ``cap`` asks?

    Sorted asks a_i ≤ … ≤ a_j fit one such window iff some t has a_j ≤ t < a_i + days, t ≥ start
    and t − days < end, i.e. iff a_j − a_i < days, a_i > start − days and a_j < end + days.
    """
    span = timedelta(days=days)
    ts = sorted(times)
    for i in range(len(ts) - cap):
        first, last = ts[i], ts[i + cap]
        if last - first < span and first > w.start_utc - span and last < w.end_utc + span:
            return True
    return False


def over_asked(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    k = d.asks
    k = k[(k["ask_type"] != "survey") & k["contact_id"].notna()].sort_values("asked_at")
    # CHOICE: every advocacy ask (not `survey`; withdrawn ones too) counts toward the cap, also
    # outside the period when the rolling window reaches there; only visible asks (< as_of).
    # A contact is grouped by the account of its latest ask.
    accounts = []
    for _contact, g in k.groupby("contact_id"):
        if is_over_asked(list(g["asked_at"]), w, d.s.ask_cap, d.s.ask_cap_days):
            accounts.append(g["account_id"].iloc[-1])
    return _count(d, w, accounts)


# --- revenue ------------------------------------------------------------------------------------


def retention_months(d: Data, p: Period, window: str) -> tuple[date, date] | None:
    """(start month, end month) of GRR/NRR/the bridge; None if a partial period has no complete
    month yet."""
    end = add_months(p.end, -1)
    if p.end_utc > d.as_of_utc:  # partial: the last complete month ≤ as_of
        end = min(end, d.last_complete_month)
    start = add_months(p.start, -1) if window == "period" else add_months(end, -12)
    # CHOICE: no row while the end month is not after the start month.
    return (start, end) if end > start else None


def _month_span(d: Data, month: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    return d.month_utc(month), d.month_utc(add_months(month, 1))


def retention(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """The starting base (MRR_start > 0) with start, end and x = (MRR_end > 0)."""
    cols = ["_ga", "start", "end", "x"]
    months = retention_months(d, p, ctx.window)
    if months is None:
        return pd.DataFrame(columns=cols)
    sm, em = months
    rows = []
    for a in d.accounts.index:
        if d.has_revenue(a):
            s, e = d.mrr(a, sm), d.mrr(a, em)
            if s > 0:
                rows.append((a, s, e, float(e > 0)))
        # CHOICE: logo_retention's date rule for accounts without revenue rows: in the base when
        # date-active in the start month, retained when date-active in the end month.
        elif ctx.metric == "logo_retention" and d.date_active(a, *_month_span(d, sm)):
            kept = d.date_active(a, *_month_span(d, em))
            rows.append((a, NAN, NAN, float(kept)))
    return pd.DataFrame(rows, columns=cols)


def bridge(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    """Endpoint comparison per account between the start and end month of grr."""
    cols = ["_ga", *BRIDGE]
    months = retention_months(d, p, ctx.window)
    if months is None:
        return pd.DataFrame(columns=cols)
    sm, em = months
    rows = []
    for a in d.rev:
        s, e = d.mrr(a, sm), d.mrr(a, em)
        if s == 0 and e == 0:
            continue
        c = dict.fromkeys(BRIDGE, 0.0) | {"start": s, "end": e}
        if s > 0 and e == 0:
            c["churn"] = s
        elif s > 0:
            c["expansion"], c["contraction"] = max(e - s, 0.0), max(s - e, 0.0)
        else:
            # CHOICE: "first paid month in the period" = in (start month, end month], which on
            # the ttm window is its 12 months; fpm ≤ em since e > 0, and never = sm since s = 0.
            fpm = d.first_paid_month(a)
            c["new" if fpm is not None and fpm > sm else "reactivation"] = e
        rows.append({"_ga": a, **c})
    return pd.DataFrame(rows, columns=cols)


# --- support and rewards ------------------------------------------------------------------------


def _epoch_hours(start: pd.Series, stop: pd.Series) -> pd.Series:
    """Calendar hours from epoch-second differences (§11), fractions of a second kept."""
    # CHOICE: epoch seconds keep their fraction, as Ibis' epoch_seconds() does on DuckDB (EPOCH)
    # and PostgreSQL (EXTRACT epoch); Spark's unix_timestamp would truncate to whole seconds.
    seconds: pd.Series = (stop - start).dt.total_seconds()
    return seconds / 3600.0


def tickets(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    t = d.tickets
    t = t[_in(t["opened_at"], w)]
    stop = "first_response_at" if ctx.metric == "first_response_hours" else "resolved_at"
    # CHOICE: "resolved" = resolved_at set (by as_of), whatever the status; open_n = tickets of
    # the population without the end time (for first_response_hours: not yet answered).
    return pd.DataFrame(
        {"_ga": list(t["account_id"]), "x": list(_epoch_hours(t["opened_at"], t[stop]))}
    )


def rewards(d: Data, p: Period, w: Window, ctx: Ctx) -> pd.DataFrame:
    r = d.rewards
    r = r[_in(r["given_at"], w)]
    if ctx.metric == "reward_cost":
        return _count(d, w, list(r["account_id"]), list(r["value"]))
    x = list((r["kind"] == "monetary").astype(float))
    return pd.DataFrame({"_ga": list(r["account_id"]), "x": x, "w": 1.0})
