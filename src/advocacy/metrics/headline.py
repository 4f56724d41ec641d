"""The headline numbers `advocacy demo` prints: advocacy rate and NPS by segment and quarter.

A first slice of the metric engine, following DESIGN §4–5 to the letter for these two metrics
(active accounts, counted actions, response-basis NPS), with the segment's current value.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import ibis
import pandas as pd
from ibis import _

from advocacy.metrics.calendar import Period, quarters_before
from advocacy.workspace import Workspace


def _calendar(periods: list[Period]) -> Any:
    return ibis.memtable(
        pd.DataFrame(
            {
                "period_label": [p.label for p in periods],
                "start_date": [p.start_date for p in periods],
                "end_date": [p.end_date for p in periods],
                "start": [p.start for p in periods],
                "end": [p.end for p in periods],
            }
        )
    )


def counted_actions(actions: Any) -> Any:
    """Actions that make an advocate: not `other`; good reviews; non-negative mentions."""
    return actions.filter(
        (_.action_type != "other")
        & ((_.action_type != "review") | _.rating.isnull() | (_.rating >= 4))
        & ((_.action_type != "social_mention") | _.sentiment.isnull() | (_.sentiment >= 0))
    )


def active_accounts(con: Any, cal: Any, accounts: Any) -> Any:
    """(account_id, period_label) of accounts active in each period (revenue decides)."""
    revenue = con.table("revenue")
    paying = revenue.filter(_.mrr > 0)
    by_revenue = paying.join(cal, (paying.month >= cal.start_date) & (paying.month < cal.end_date))
    by_revenue = by_revenue.select("account_id", "period_label").distinct()
    billed = revenue.select("account_id").distinct()
    dated = accounts.anti_join(billed, "account_id").cross_join(cal)
    dated = dated.filter(
        (dated.created_at < dated.end)
        & (dated.churned_at.isnull() | (dated.churned_at >= dated.start))
    ).select("account_id", "period_label")
    return by_revenue.union(dated)


def headline(ws: Workspace, *, as_of: date, quarters: int = 8) -> pd.DataFrame:
    """Advocacy rate and NPS per segment (and overall) for the quarters before `as_of`."""
    con = ws.store.ibis()
    periods = quarters_before(as_of, quarters, ws.settings.calendar)
    cutoff = datetime.combine(as_of + timedelta(days=1), time())
    cal = _calendar(periods)
    accounts = con.table("accounts").filter(~_.is_test)
    accounts = accounts.mutate(segment=_.segment.fill_null("(none)")).select(
        "account_id", "segment", "created_at", "churned_at"
    )
    active = active_accounts(con, cal, accounts).join(
        accounts.select("account_id", "segment"), "account_id"
    )
    acts = counted_actions(con.table("advocacy_actions")).filter(_.occurred_at < cutoff)
    acts = acts.join(cal, (acts.occurred_at >= cal.start) & (acts.occurred_at < cal.end))
    advocates = (
        acts.select("account_id", "period_label").distinct().mutate(advocate=ibis.literal(1))
    )
    joined = active.left_join(advocates, ["account_id", "period_label"]).select(
        "period_label", "segment", advocate=_.advocate.fill_null(0)
    )
    nps = con.table("survey_responses").filter((_.survey == "nps") & (_.responded_at < cutoff))
    nps = nps.join(accounts.select("account_id", "segment"), "account_id")
    nps = nps.join(cal, (nps.responded_at >= cal.start) & (nps.responded_at < cal.end))
    nps = nps.select(
        "period_label",
        "segment",
        promoter=(_.score >= 9).cast("int64"),
        detractor=(_.score <= 6).cast("int64"),
    )
    frames = []
    for by in (["period_label", "segment"], ["period_label"]):
        rate = (
            joined.group_by(by)
            .agg(active_accounts=_.count(), advocates=_.advocate.sum())
            .to_pandas()
        )
        score = (
            nps.group_by(by)
            .agg(responses=_.count(), promoters=_.promoter.sum(), detractors=_.detractor.sum())
            .to_pandas()
        )
        merged = rate.merge(score, on=by, how="outer")
        if "segment" not in by:
            merged["segment"] = None
        frames.append(merged)
    out = pd.concat(frames, ignore_index=True)
    out["advocacy_rate"] = out["advocates"] / out["active_accounts"]
    out["nps"] = 100 * (out["promoters"] - out["detractors"]) / out["responses"]
    order = {p.label: i for i, p in enumerate(periods)}
    out["_o"] = out["period_label"].map(order)
    out["_s"] = out["segment"].isna()
    out = out.sort_values(["_o", "_s", "segment"]).drop(columns=["_o", "_s"])
    cols = [
        "period_label",
        "segment",
        "active_accounts",
        "advocates",
        "advocacy_rate",
        "responses",
        "nps",
    ]
    result: pd.DataFrame = out[cols].reset_index(drop=True)
    return result
