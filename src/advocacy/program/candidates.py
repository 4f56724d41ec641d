"""Who to ask for advocacy, as of a date: the scored candidate list of DESIGN §7.

One row per current contact of an active account (an account-level row where the account has
no current contact), with the hand-weighted score and its contributions, the learned probability of
acceptance where the ask history suffices, and eligibility under the ask policy with every
blocking rule and the day it lapses. Contacts who left before as_of are not candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pandas as pd
from ibis import _

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.calendar import add_months, end_of_day
from advocacy.metrics.context import latest_data_date
from advocacy.metrics.source import Source
from advocacy.metrics.spec import parse_day
from advocacy.program.features import ACCOUNT_KEY, FEATURES, feature_frame
from advocacy.program.model import AcceptanceModel, ask_examples, fit
from advocacy.program.policy import Policy, blocking
from advocacy.program.scoring import ASKABLE, CandidateSettings, contributions

COLUMNS = [
    "contact_id",
    "account_id",
    "score",
    "probability",
    "eligible",
    "reasons",
    "contributions",
]
_DESCRIPTION = {f.name: f.description for f in FEATURES}
PROBE = "review"  # the first ask type checked for everyone when none is named


@dataclass(frozen=True)
class CandidateRequest:
    """What `advocacy candidates` was asked; `limit` counts eligible candidates (see `select`)."""

    ask_type: str | None = None
    segment: str | None = None
    limit: int | None = None
    as_of: date | None = None

    @classmethod
    def create(
        cls, *, ask_type: str | None = None, segment: str | None = None,
        limit: int | None = None, as_of: date | str | None = None,
    ) -> CandidateRequest:  # fmt: skip
        if ask_type is not None and ask_type not in ASKABLE:
            raise UserError(
                f"--ask-type '{ask_type}' is not an ask type; one of: {', '.join(ASKABLE)}"
            )
        if limit is not None and limit < 1:
            raise UserError("--limit must be at least 1")
        return cls(ask_type, segment, limit, parse_day(as_of, "--as-of"))


@dataclass(frozen=True)
class Assessment:
    """Everything candidates and recommend share: points, features, score, model, policy."""

    points: Any  # Ibis: point_id, account_id, contact_id, at
    frame: pd.DataFrame  # point_id, account_id, contact_id, features, score
    model: AcceptanceModel | None
    settled: int
    cutoff: datetime
    settings: Settings
    cs: CandidateSettings

    def release(self) -> None:
        """Drop the materialised points (a temporary table)."""
        self.points.release()


def assess(
    source: Source, settings: Settings, *, as_of: date | None, segment: str | None = None
) -> Assessment:
    """Features, scores and the acceptance model of every candidate at the end of as_of."""
    cs = CandidateSettings.from_settings(settings)
    day = as_of or latest_data_date(source, settings)
    cutoff = end_of_day(day, settings.calendar)
    points = population(source, cutoff, day, segment).cache()
    try:
        return _assess(source, settings, cs, points, cutoff)
    except BaseException:
        points.release()
        raise


def _assess(
    source: Source, settings: Settings, cs: CandidateSettings, points: Any, cutoff: datetime
) -> Assessment:
    features = feature_frame(source, settings, points)
    ids = points.select("point_id", "account_id", "contact_id").execute()
    ids["point_id"] = ids["point_id"].astype(str)
    frame = ids.merge(features, on="point_id", validate="1:1")
    frame["score"] = contributions(frame, cs.weights).sum(axis=1)
    examples = ask_examples(source, settings, cs, label_at=cutoff)
    return Assessment(points, frame, fit(examples, cs), len(examples), cutoff, settings, cs)


def population(source: Source, cutoff: datetime, day: date, segment: str | None) -> Any:
    """Points at `cutoff`: current contacts of active accounts, account rows for the rest."""
    accounts = source.table("accounts").filter(~_.is_test.fill_null(False))
    accounts = accounts.filter(accounts.created_at < cutoff)
    if segment is not None:
        accounts = accounts.filter(accounts.segment == segment)
    active = _active(source, accounts, cutoff, day).select("account_id")
    if segment is not None and active.count().execute() == 0:
        raise UserError(f"--segment {segment}: no active account has that segment")
    contacts = source.table("contacts").semi_join(active, "account_id")
    contacts = contacts.filter(contacts.left_at.isnull() | (contacts.left_at > cutoff))
    people = contacts.select(
        point_id=_.contact_id, account_id=_.account_id, contact_id=_.contact_id.cast("string")
    )
    bare = active.anti_join(contacts.select("account_id"), "account_id")
    bare = bare.select(
        point_id=ibis.literal(ACCOUNT_KEY) + bare.account_id, account_id=bare.account_id,
        contact_id=ibis.null("string"),
    )  # fmt: skip
    return people.union(bare, distinct=False).mutate(at=ibis.literal(cutoff, "timestamp"))


def _active(source: Source, accounts: Any, cutoff: datetime, day: date) -> Any:
    """Revenue decides where an account has any (MRR > 0 this month or last); else the dates."""
    month = date(day.year, day.month, 1)
    revenue = source.table("revenue")
    paying = revenue.filter(
        (revenue.month >= add_months(month, -1)) & (revenue.month <= month) & (revenue.mrr > 0)
    ).select("account_id")
    billed = revenue.select("account_id").distinct()
    by_revenue = accounts.semi_join(paying, "account_id")
    by_dates = accounts.anti_join(billed, "account_id").filter(
        _.churned_at.isnull() | (_.churned_at > cutoff)
    )
    return by_revenue.select("account_id").union(by_dates.select("account_id"), distinct=False)


def requests(points: Any, ask_types: tuple[str, ...]) -> Any:
    """Policy requests: each point for each ask type, at the point's instant."""
    kinds = ibis.memtable(pd.DataFrame({"ask_type": list(ask_types)}))
    req = points.cross_join(kinds)
    return req.select(
        request_id=req.point_id + "|" + req.ask_type, account_id=req.account_id,
        contact_id=req.contact_id, ask_type=req.ask_type, at=req.at,
    )  # fmt: skip


def blocked(
    a: Assessment, source: Source, ask_types: tuple[str, ...], points: Any = None
) -> pd.DataFrame:
    """Blocking rows: point_id, ask_type, rule, detail, until (a local date, or None)."""
    policy = Policy.from_settings(a.settings)
    # Materialised first: the policy joins the requests many times, and PostgreSQL plans a
    # stored table far better than the same cross join repeated in every branch.
    req = requests(a.points if points is None else points, ask_types).cache()
    try:
        out = blocking(source, policy, req).execute()
    finally:
        req.release()
    split = out["request_id"].astype(str).str.rsplit("|", n=1, expand=True)
    tz = ZoneInfo(a.settings.calendar.timezone)
    until = [None if pd.isna(t) else pd.Timestamp(t).tz_localize("UTC").tz_convert(tz).date()
             for t in out["eligible_from"]]  # fmt: skip
    return pd.DataFrame({
        "point_id": split[0] if len(out) else [], "ask_type": split[1] if len(out) else [],
        "rule": out["rule"].astype(str), "detail": out["detail"].astype(str), "until": until,
    })  # fmt: skip


def why(contrib: dict[str, float], top: int = 4) -> list[str]:
    """The largest contributions, signed, with what the feature means."""
    ranked = sorted(
        ((v, k) for k, v in contrib.items() if abs(v) >= 0.005), key=lambda x: -abs(x[0])
    )
    return [f"{k} {v:+.2f}: {_DESCRIPTION[k]}" for v, k in ranked[:top]]


def contribution_dicts(frame: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """Each row's contributions as an object (rounded; -0.0 shown as 0.0), on the frame's index."""
    parts = contributions(frame, weights).round(6) + 0.0
    rows = [{str(k): float(v) for k, v in row.items()} for row in parts.to_dict(orient="records")]
    return pd.Series(rows, index=frame.index, dtype=object)


def candidates(source: Source, settings: Settings, request: CandidateRequest) -> pd.DataFrame:
    """The candidate rows (COLUMNS), by score, best first.

    With a limit, the policy is first checked for every candidate with one ask type (the named
    one, else PROBE); a candidate allowed that type is eligible. Without an ask type, only the
    candidates that could still reach the list are then checked for every ask type.
    """
    a = assess(source, settings, as_of=request.as_of, segment=request.segment)
    frame = a.frame.sort_values(["score", "point_id"], ascending=[False, True], kind="stable")
    types = (request.ask_type,) if request.ask_type else ASKABLE
    try:
        if request.limit is None:
            blocks = blocked(a, source, types)
        else:
            frame, blocks = _shortlist(a, source, frame, request)
    finally:
        a.release()
    frame["eligible"], frame["reasons"] = _eligibility(frame, blocks, types)
    frame = select(frame, request.limit).copy()
    frame["probability"] = (
        a.model.predict(frame, request.ask_type) if a.model is not None else np.nan
    )
    frame["contributions"] = contribution_dicts(frame, a.cs.weights)
    frame["reasons"] = [
        r + why(c) for r, c in zip(frame["reasons"], frame["contributions"], strict=True)
    ]
    return frame[COLUMNS].reset_index(drop=True)


def _shortlist(
    a: Assessment, source: Source, frame: pd.DataFrame, request: CandidateRequest
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows scoring at least the `limit`-th candidate allowed one ask type, and their blocks.

    Being allowed that type makes a candidate eligible, so the true `limit`-th eligible score is
    at least this floor and every row `select` keeps is in the shortlist.
    """
    assert request.limit is not None
    first = blocked(a, source, (request.ask_type or PROBE,))
    allowed = frame[~frame["point_id"].isin(first["point_id"])]
    floor = allowed["score"].iloc[request.limit - 1] if len(allowed) >= request.limit else -np.inf
    short = frame[frame["score"] >= floor]
    if request.ask_type:
        return short, first[first["point_id"].isin(short["point_id"])]
    ids = ibis.memtable(pd.DataFrame({"point_id": short["point_id"].astype(str)}))
    return short, blocked(a, source, ASKABLE, a.points.semi_join(ids, "point_id"))


def _eligibility(
    frame: pd.DataFrame, blocks: pd.DataFrame, types: tuple[str, ...]
) -> tuple[list[bool], list[list[str]]]:
    """Eligible for the ask type (for at least one ask type when none is named); every blocking
    rule as a reason, naming the ask types it blocks when not all of them."""
    lapse = ["no end date" if u is None else f"eligible from {u}" for u in blocks["until"]]
    text = "blocked by " + blocks["rule"] + " (" + pd.Series(lapse, index=blocks.index, dtype=str)
    text = text + "): " + blocks["detail"]
    per_text = pd.DataFrame({"point_id": blocks["point_id"], "text": text, "t": blocks["ask_type"]})
    per_text = per_text.drop_duplicates().sort_values(["point_id", "text", "t"])
    kinds: dict[tuple[str, str], list[str]] = {}
    for pid, txt, kind in zip(per_text["point_id"], per_text["text"], per_text["t"], strict=True):
        kinds.setdefault((pid, txt), []).append(kind)
    reasons: dict[str, list[str]] = {}
    blocked_types: dict[str, set[str]] = {}
    for (pid, txt), ks in kinds.items():
        label = txt if len(ks) == len(types) else f"{txt} [for {', '.join(ks)}]"
        reasons.setdefault(pid, []).append(label)
        blocked_types.setdefault(pid, set()).update(ks)
    n_types = {p: len(ks) for p, ks in blocked_types.items()}
    ids = frame["point_id"].astype(str)
    return (
        [n_types.get(p, 0) < len(types) for p in ids],
        [list(reasons.get(p, [])) for p in ids],
    )


def select(frame: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """The `limit` best eligible candidates, and the ineligible ones scoring at least as high as
    the last of them (so the list shows who was passed over, and why)."""
    if limit is None:
        return frame
    chosen = frame[frame["eligible"]].head(limit)
    floor = chosen["score"].min() if len(chosen) else -np.inf
    keep = frame["eligible"].index.isin(chosen.index) | (
        ~frame["eligible"] & (frame["score"] >= floor)
    )
    return frame[keep]
