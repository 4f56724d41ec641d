"""Test oracle: DESIGN §4–§5 implemented literally, in plain pandas and Python loops.

Independent of ``advocacy.metrics`` by design: it reads canonical frames (column names as in
``advocacy.schema.TABLES``; timestamps naive UTC) and recomputes every metric value the slow,
obvious way. Where DESIGN leaves a choice open, the choice is a ``CHOICE:`` comment next to the
code (in this package's modules); the metric engine must agree with them, or DESIGN must change.

Example::

    rows = compute(tables, metric="nps", period="quarter", start=date(2026, 1, 1),
                   end=date(2026, 7, 1), by="segment", as_of=date(2026, 6, 30))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from . import aggregate as agg
from . import units as u
from .cohorts import cohorts
from .data import NONE_GROUP, Data, present
from .settings import DEFAULT_SETTINGS, OracleSettings
from .timegrid import PERIOD_MONTHS, Period, Window, periods, window_of

__all__ = ["CATALOGUE", "METRICS", "OracleSettings", "cohorts", "compute"]

RESULT_COLUMNS = (
    "metric", "period_start", "period_end", "period_label", "value", "numerator", "denominator",
    "n", "pending_n", "partial", "low_n", "basis", "extra",
)  # fmt: skip
SURVEY_BASES = ("response", "logo", "arr")
ACCOUNT_BASES = ("logo", "arr")

Units = Callable[[Data, Period, Window, u.Ctx], pd.DataFrame]
Agg = Callable[[pd.DataFrame, u.Ctx], agg.Result]


@dataclass(frozen=True)
class Spec:
    units: Units
    agg: Agg
    # Allowed bases, the first being the default; () = the metric has no basis (basis None).
    # CHOICE: survey metrics take response|logo|arr, account rates logo|arr, say_do_gap response;
    # every other metric has none.
    bases: tuple[str, ...] = ()
    # CHOICE: only ask_acceptance_rate / ask_completion_rate may be grouped by the ask's
    # ask_type, trigger, channel, owner, and there the ask column wins over the account column of
    # the same name (`owner`); other ask metrics group by account columns.
    ask_groups: bool = False


CATALOGUE: dict[str, Spec] = {
    "nps": Spec(u.survey, agg.nps, SURVEY_BASES),
    "promoter_share": Spec(u.survey, agg.mean, SURVEY_BASES),
    "passive_share": Spec(u.survey, agg.mean, SURVEY_BASES),
    "detractor_share": Spec(u.survey, agg.mean, SURVEY_BASES),
    "nps_coverage": Spec(u.account_rate, agg.mean, ACCOUNT_BASES),
    "csat": Spec(u.survey, agg.mean, SURVEY_BASES),
    "csat_mean": Spec(u.survey, agg.mean, SURVEY_BASES),
    "advocacy_rate": Spec(u.account_rate, agg.mean, ACCOUNT_BASES),
    "referral_rate": Spec(u.account_rate, agg.mean, ACCOUNT_BASES),
    "case_study_rate": Spec(u.account_rate, agg.mean, ACCOUNT_BASES),
    "community_rate": Spec(u.account_rate, agg.mean, ACCOUNT_BASES),
    "review_rate": Spec(u.account_rate, agg.mean, ACCOUNT_BASES),
    "advocacy_actions": Spec(u.action_count, agg.count),
    "referrals": Spec(u.action_count, agg.count),
    "reviews": Spec(u.action_count, agg.count),
    "social_mentions": Spec(u.action_count, agg.count),
    "review_rating": Spec(u.review_rating, agg.mean),
    "new_logos": Spec(u.new_logos, agg.count),
    "referred_new_logo_share": Spec(u.referred_share, agg.mean),
    "referral_new_arr": Spec(u.referral_arr, agg.count),
    "referral_conversion_rate": Spec(u.referral_conversion, agg.closed),
    "say_do_gap": Spec(u.say_do, agg.closed, ("response",)),
    "ask_acceptance_rate": Spec(u.ask_rate, agg.closed, ask_groups=True),
    "ask_completion_rate": Spec(u.ask_rate, agg.closed, ask_groups=True),
    "asks_per_advocate": Spec(u.asks_per_advocate, agg.per_contact),
    "over_asked_contacts": Spec(u.over_asked, agg.count),
    "advocate_concentration": Spec(u.concentration, agg.concentration),
    "grr": Spec(u.retention, agg.grr),
    "nrr": Spec(u.retention, agg.nrr),
    "logo_retention": Spec(u.retention, agg.share),
    "mrr_bridge": Spec(u.bridge, agg.bridge),
    "first_response_hours": Spec(u.tickets, agg.median),
    "resolution_hours": Spec(u.tickets, agg.median),
    "reward_cost": Spec(u.rewards, agg.count),
    "monetary_reward_share": Spec(u.rewards, agg.mean),
}
METRICS = tuple(CATALOGUE)


def _csat_native(d: Data, ps: list[Period], window: str) -> bool:
    """Do all CSAT responses of the query share one scale?"""
    # CHOICE: decided once per query, over every CSAT response in the union of its windows (before
    # any basis picks latest responses), so every row of one result has the same unit.
    ws = [window_of(p, window, d.tz) for p in ps]
    if not ws:
        return True
    r = d.responses
    lo, hi = min(w.start_utc for w in ws), max(w.end_utc for w in ws)
    r = r[(r["survey"] == "csat") & (r["responded_at"] >= lo) & (r["responded_at"] < hi)]
    return len(set(zip(r["scale_min"], r["scale_max"], strict=True))) <= 1


def _groups(units: pd.DataFrame, d: Data, p: Period, by: str, ask_column: bool) -> list[Any]:
    """Each unit's group; None = the unit counts in the total row only (a plain list: a pandas
    map would turn None into NaN)."""
    if ask_column:
        return [v if present(v) else NONE_GROUP for v in units[by]]
    # Attributes as of the period start (also on the ttm window); an account outside the known
    # set (an unknown or test referrer) has null attributes: "(none)".
    attrs = d.attributes(by, p.start_utc)
    return [attrs.get(a, NONE_GROUP) if present(a) else None for a in units["_ga"]]


def _rows(spec: Spec, units: pd.DataFrame, d: Data, p: Period, by: str | None,
          ask_column: bool, ctx: u.Ctx) -> list[dict[str, Any]]:  # fmt: skip
    parts: list[tuple[Any, pd.DataFrame]] = [(None, units)]
    if by is not None and not units.empty:
        g = _groups(units, d, p, by, ask_column)
        # CHOICE: the total row first, then the groups sorted by their text.
        keys = sorted({k for k in g if k is not None}, key=str)
        parts += [(k, units[[x == k for x in g]]) for k in keys]
    head = {"metric": ctx.metric, "period_start": p.start, "period_end": p.end,
            "period_label": p.label, "partial": bool(p.end_utc > d.as_of_utc),
            "basis": ctx.basis, "pending_n": 0, "extra": None}  # fmt: skip
    rows = []
    for key, part in parts:
        res = spec.agg(part, ctx)
        if res is not None:
            row = head | ({by: key} if by is not None else {}) | res
            row["low_n"] = int(res["n"]) < d.s.min_n
            rows.append(row)
    return rows


def compute(
    tables: dict[str, pd.DataFrame],
    *,
    metric: str,
    period: str = "quarter",
    start: date,
    end: date,
    by: str | None = None,
    basis: str | None = None,
    window: str = "period",
    as_of: date,
    settings: OracleSettings = DEFAULT_SETTINGS,
    include_surveys: bool = False,
) -> pd.DataFrame:
    """One row per (period, group) with a non-empty population, plus the total row (``by`` =
    None) when ``by`` is given; periods cover [start, end) snapped outward.

    ``by`` is an account column (as of the period start: `_account_history` in ``tables`` when
    given, else the current value), ``cohort``, or for ask rates an ask column.
    """
    if metric not in CATALOGUE:
        raise ValueError(f"unknown metric {metric!r}")
    if period not in PERIOD_MONTHS or window not in ("period", "ttm"):
        raise ValueError(f"unknown period {period!r} or window {window!r}")
    spec = CATALOGUE[metric]
    if basis is None:
        basis = spec.bases[0] if spec.bases else None
    elif basis not in spec.bases:
        raise ValueError(f"{metric} does not take the {basis!r} basis (allowed: {spec.bases})")
    d = Data(tables, as_of, settings)
    # CHOICE: a period starting at or after the as_of instant has no rows (nothing is known yet;
    # the date rule alone would otherwise make accounts "active" in the future).
    ps = [p for p in periods(start, end, period, settings) if p.start_utc < d.as_of_utc]
    native = metric != "csat_mean" or _csat_native(d, ps, window)
    ctx = u.Ctx(metric, basis, window, include_surveys, native)
    ask_column = spec.ask_groups and by in u.ASK_COLUMNS
    rows: list[dict[str, Any]] = []
    for p in ps:
        units = spec.units(d, p, window_of(p, window, d.tz), ctx)
        rows += _rows(spec, units, d, p, by, ask_column, ctx)
    cols = list(RESULT_COLUMNS)
    if by is None:
        return pd.DataFrame(rows, columns=cols)
    cols.insert(4, by)
    out = pd.DataFrame(rows, columns=cols)
    # Group values as given (object), the total row's dimension None rather than NaN.
    out[by] = pd.Series([r[by] for r in rows], index=out.index, dtype=object)
    return out
