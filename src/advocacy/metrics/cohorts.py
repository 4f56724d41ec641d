"""Cohort retention curves (DESIGN §5, `advocacy cohorts`), aggregated in SQL.

A cohort is the fiscal quarter of each account's first month with MRR > 0 (accounts that never
paid have no curve); k counts months from that account's own first paid month. ``accounts``:
the share of the cohort with MRR > 0 in month fpm + k; ``mrr``: Σ MRR at k ÷ Σ MRR at k = 0
(net, may exceed 1). A point (cohort, k) exists only once month fpm + k is complete by as_of for
every account of the cohort (or group): later points are absent, never zero, and the base stays
the whole cohort. ``by`` splits each cohort by an account attribute as of the cohort quarter's
start, or by ``referred`` (True/False, the referred_new_logo_share rule); each cohort then also
keeps its total curve (``by`` = None).

Portable Ibis only (DESIGN §11): month-index arithmetic for k, quarters and local-midnight
instants from a small calendar table built in Python, ``nullif`` denominators, ``ifelse``
instead of boolean casts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
from ibis import _

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.calendar import add_months, label, period_start, utc_instant
from advocacy.metrics.context import (
    ALL,
    NONE_GROUP,
    Context,
    build_context,
    last_complete_month,
)
from advocacy.metrics.source import Source
from advocacy.metrics.spec import MetricRequest

MEASURES = ("accounts", "mrr")
REFERRED = "referred"
REFERRAL_LOOKBACK = timedelta(days=365)


def cohort_curves(
    source: Source,
    settings: Settings,
    *,
    measure: str = "accounts",
    by: str | None = None,
    as_of: date | str | None = None,
) -> pd.DataFrame:
    """Rows ``cohort, k, [by], base, retained, value``, ordered by cohort, group, k.

    With ``by``, the total curve of each cohort comes first (``by`` = None), then one curve per
    group. ``frame.attrs["as_of"]`` holds the as_of used (the latest data date when not given).
    """
    if measure not in MEASURES:
        raise UserError(f"--measure must be one of {', '.join(MEASURES)}, not '{measure}'")
    if by == "cohort":
        raise UserError("--by cohort: the curves are already one per cohort")
    request = MetricRequest.create("cohorts", as_of=as_of)
    ctx = build_context(source, settings, request)
    out = _empty(by, measure)
    out.attrs["as_of"] = ctx.as_of
    out.attrs["notes"] = ctx.notes
    known = ctx.accounts.filter(_.created_at < ctx.cutoff)
    if by is not None and by != REFERRED and by not in known.columns:
        raise UserError(f"--by {by}: accounts have no such column; {_dimensions(known)}")
    rev = (
        ctx.source.table("revenue")
        .filter(_.month <= ibis.literal(ctx.as_of))
        .semi_join(known.select("account_id"), "account_id")
    )
    paid = rev.filter(rev.mrr > 0)
    first_month = paid.month.min().execute()
    if first_month is None or pd.isna(first_month):
        return out
    months = _months(ctx, pd.Timestamp(first_month).date())
    last_index = _index(last_complete_month(ctx.as_of))
    members = _members(ctx, known, rev, paid, months, by)
    if by is not None:
        members = members.union(members.mutate(grp=ibis.literal(ALL)))
    frame = _curves(rev, members, months, measure, last_index).to_pandas()
    if frame.empty:
        return out
    curves = _finish(frame, by, measure, ctx.as_of)
    curves.attrs["notes"] = ctx.notes
    return curves


def _index(month: date) -> int:
    return month.year * 12 + month.month - 1


def _month_index(column: Any) -> Any:
    return column.year() * 12 + column.month() - 1


def _months(ctx: Context, first: date) -> Any:
    """Every month from the first paid month to as_of's month, with its quarter and instants."""
    cal = ctx.settings.calendar
    tz = ZoneInfo(cal.timezone)
    rows = []
    month, last = date(first.year, first.month, 1), date(ctx.as_of.year, ctx.as_of.month, 1)
    k = 0
    while month <= last:
        quarter = period_start(month, "quarter", cal.fiscal_start_month)
        rows.append(
            {
                "m_month": month,
                "k": k,
                "q_order": _index(quarter),
                "q_label": label(quarter, "quarter", cal),
                "q_start": utc_instant(quarter, tz),
                "ref_lo": utc_instant(month, tz) - REFERRAL_LOOKBACK,
                "ref_hi": utc_instant(add_months(month, 1), tz),
            }
        )
        month, k = add_months(month, 1), k + 1
    frame = pd.DataFrame(rows).astype({"k": "int64", "q_order": "int64"})
    return ibis.memtable(frame)


def _members(ctx: Context, known: Any, rev: Any, paid: Any, months: Any, by: str | None) -> Any:
    """(account_id, fmi, first_mrr, q_order, q_label, grp): each paying account of a cohort."""
    first = paid.group_by("account_id").agg(fpm=_.month.min())
    first = first.join(months, first.fpm == months.m_month)
    start = rev.select(s_account=_.account_id, s_month=_.month, first_mrr=_.mrr)
    first = first.join(start, (first.account_id == start.s_account) & (first.fpm == start.s_month))
    first = first.select(
        "account_id", "q_order", "q_label", "q_start", "ref_lo", "ref_hi", "first_mrr",
        fmi=_month_index(first.fpm),
    )  # fmt: skip
    keep = ["account_id", "fmi", "first_mrr", "q_order", "q_label"]
    if by is None:
        return first.select(*keep, grp=ibis.literal(ALL))
    if by == REFERRED:
        return first.select(*keep, grp=_referred(ctx, known, first).ifelse("True", "False"))
    return _attribute(ctx, known, first, by).select(*keep, "grp")


def _referred(ctx: Context, known: Any, first: Any) -> Any:
    """`referred_by_account_id` set, or a referral action naming the account in
    [first paid month start − 365 days, first paid month end) (DESIGN §5)."""
    flag = ibis.literal(False)
    if "referred_by_account_id" in known.columns:
        refs = known.select(r_account=_.account_id, r_by=_.referred_by_account_id)
        by_column = refs.filter(refs.r_by.notnull() & (refs.r_by != "")).select("r_account")
        flag = first.account_id.isin(by_column.r_account)
    if ctx.source.has("advocacy_actions"):
        acts = ctx.source.table("advocacy_actions")
        acts = acts.filter(
            (acts.action_type == "referral")
            & acts.referred_account_id.notnull()
            & (acts.occurred_at < ctx.cutoff)
        ).semi_join(known.select("account_id"), "account_id")
        acts = acts.select(a_referred=_.referred_account_id, a_at=_.occurred_at)
        windows = first.select(w_account=_.account_id, w_lo=_.ref_lo, w_hi=_.ref_hi)
        hits = windows.join(
            acts,
            (windows.w_account == acts.a_referred)
            & (acts.a_at >= windows.w_lo)
            & (acts.a_at < windows.w_hi),
        )
        flag = flag | first.account_id.isin(hits.w_account)
    return flag


def _attribute(ctx: Context, known: Any, first: Any, by: str) -> Any:
    """The account's `by` value as of the cohort quarter's start (history, else current)."""
    current = known.select(c_account=_.account_id, current=known[by].cast("string"))
    joined = first.join(current, first.account_id == current.c_account)
    value = joined.current
    if ctx.source.has("_account_history"):
        hist = ctx.source.table("_account_history").filter(_.column_name == by)
        hist = hist.select(h_account=_.account_id, h_value=_.value, h_from=_.valid_from,
                           h_to=_.valid_to)  # fmt: skip
        joined = joined.left_join(
            hist,
            (joined.account_id == hist.h_account)
            & (hist.h_from.isnull() | (hist.h_from <= joined.q_start))
            & (hist.h_to.isnull() | (hist.h_to > joined.q_start)),
        )
        value = ibis.coalesce(joined.h_value, joined.current)
    return joined.mutate(grp=value.fill_null(NONE_GROUP))


def _curves(rev: Any, members: Any, months: Any, measure: str, last_index: int) -> Any:
    """One row per (cohort, group, k ≤ the group's last complete k)."""
    keys = ["q_order", "q_label", "grp"]
    groups = members.group_by(keys).agg(
        base_n=_.count(), base_mrr=_.first_mrr.sum(), last_k=last_index - _.fmi.max()
    )
    hits = rev.join(members, "account_id")
    hits = hits.mutate(k=_month_index(hits.month) - hits.fmi).filter(_.k >= 0)
    kept = hits.group_by([*keys, "k"]).agg(
        kept_n=(hits.mrr > 0).ifelse(1, 0).sum(), kept_mrr=hits.mrr.sum()
    )
    grid = groups.cross_join(months.select("k")).filter(_.k <= _.last_k)
    grid = grid.left_join(kept, [*keys, "k"])
    if measure == "accounts":
        base, retained = grid.base_n, grid.kept_n.fill_null(0)
    else:
        base, retained = grid.base_mrr, grid.kept_mrr.fill_null(0.0)
    value = retained.cast("float64") / base.cast("float64").nullif(0)
    return grid.select("q_order", "q_label", "grp", "k", base=base, retained=retained, value=value)


def _finish(frame: pd.DataFrame, by: str | None, measure: str, as_of: date) -> pd.DataFrame:
    frame["_total"] = frame["grp"] == ALL
    frame = frame.sort_values(
        ["q_order", "_total", "grp", "k"], ascending=[True, False, True, True], kind="stable"
    )
    out = pd.DataFrame({"cohort": frame["q_label"].astype(str), "k": frame["k"].astype("int64")})
    if by is not None:
        groups: list[Any] = [None if g == ALL else g for g in frame["grp"]]
        if by == REFERRED:
            groups = [None if g is None else g == "True" for g in groups]
        out[by] = pd.Series(groups, index=frame.index, dtype=object)
    kind: Any = "int64" if measure == "accounts" else "float64"
    out["base"] = frame["base"].astype(kind)
    out["retained"] = frame["retained"].astype(kind)
    out["value"] = frame["value"].astype("float64")
    out = out.reset_index(drop=True)
    out.attrs["as_of"] = as_of
    return out


def _empty(by: str | None, measure: str) -> pd.DataFrame:
    kind = "int64" if measure == "accounts" else "float64"
    columns: dict[str, Any] = {"cohort": pd.Series(dtype=object), "k": pd.Series(dtype="int64")}
    if by is not None:
        columns[by] = pd.Series(dtype=object)
    columns |= {
        "base": pd.Series(dtype=kind),
        "retained": pd.Series(dtype=kind),
        "value": pd.Series(dtype="float64"),
    }
    return pd.DataFrame(columns)


def _dimensions(accounts: Any) -> str:
    skip = ("account_id", "name", "created_at", "churned_at", "updated_at", "renewal_date")
    dims = sorted(c for c in accounts.columns if c not in skip)
    return f"dimensions: {', '.join(dims)}, {REFERRED}"
