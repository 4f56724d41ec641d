"""An independent pandas reading of the stored tables for the analysis tests.

Straight from DESIGN §4/§5 with no code shared with the package: active accounts per quarter,
counted actions, support bands. The demo company's time zone is UTC and no account changes
segment, so current attribute values are the as-of values here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from advocacy.workspace import Workspace


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class Tables:
    accounts: pd.DataFrame
    revenue: pd.DataFrame
    actions: pd.DataFrame
    tickets: pd.DataFrame
    responses: pd.DataFrame
    cutoff: datetime

    @classmethod
    def load(cls, ws: Workspace, as_of: date) -> Tables:
        cutoff = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
        accounts = ws.query("SELECT * FROM accounts")
        accounts = accounts[~accounts.is_test.fillna(False) & (accounts.created_at < cutoff)]
        known = set(accounts.account_id)

        def own(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame.account_id.isin(known)].copy()

        revenue = own(ws.query("SELECT account_id, month, mrr FROM revenue"))
        revenue["month"] = pd.to_datetime(revenue["month"]).dt.date
        revenue = revenue[revenue.month <= as_of]
        return cls(
            accounts,
            revenue,
            own(ws.query("SELECT * FROM advocacy_actions WHERE occurred_at < ?", [cutoff])),
            own(ws.query("SELECT * FROM tickets WHERE opened_at < ?", [cutoff])),
            own(ws.query("SELECT * FROM survey_responses WHERE responded_at < ?", [cutoff])),
            cutoff,
        )

    def active(self, start: date, end: date) -> set[str]:
        """Accounts active in [start, end): MRR > 0 in a month of it, else the date rule."""
        rev = self.revenue
        paying = rev[(rev.mrr > 0) & (rev.month >= start) & (rev.month < end)]
        billed = set(rev.account_id)
        a = self.accounts[~self.accounts.account_id.isin(billed)]
        s, e = pd.Timestamp(start), pd.Timestamp(min(pd.Timestamp(end), pd.Timestamp(self.cutoff)))
        dated = a[(a.created_at < e) & (a.churned_at.isna() | (a.churned_at >= s))]
        return set(paying.account_id) | set(dated.account_id)

    def counted_actions(self) -> pd.DataFrame:
        a = self.actions
        ok = (a.action_type != "other") & ~((a.action_type == "review") & (a.rating < 4))
        ok &= ~((a.action_type == "social_mention") & (a.sentiment < 0))
        return a[ok]

    def advocates(self, start: datetime, end: datetime) -> set[str]:
        a = self.counted_actions()
        return set(a[(a.occurred_at >= start) & (a.occurred_at < end)].account_id)

    def mrr(self, month: date) -> pd.Series:
        rev = self.revenue[self.revenue.month == month]
        return rev.groupby("account_id").mrr.sum()

    def segment(self) -> pd.Series:
        return self.accounts.set_index("account_id").segment

    def active_at(self, day: date) -> set[str]:
        """Accounts known and active at the start of `day` (a month start) with nothing later:
        created before it; MRR > 0 in its month if billed by then, else not churned before it."""
        at = pd.Timestamp(day)
        rev = self.revenue[self.revenue.month <= day]
        paying = set(rev[(rev.month == day) & (rev.mrr > 0)].account_id)
        a = self.accounts[self.accounts.created_at < at]
        billed = a.account_id.isin(set(rev.account_id))
        alive = a.churned_at.isna() | (a.churned_at >= at)
        return set(a[billed & a.account_id.isin(paying)].account_id) | set(
            a[~billed & alive].account_id
        )


def support_units(t: Tables, index_dates: list[date]) -> pd.DataFrame:
    """(account, index date, segment, band, advocate) for accounts active at each index date."""
    rows = []
    csat = t.responses[t.responses.survey == "csat"]
    unsat = csat.score < np.where(
        csat.scale_max - csat.scale_min + 1 >= 5, csat.scale_max - 1, csat.scale_max
    )
    csat = csat.assign(unsat=unsat)
    segment = t.segment()
    for idx in index_dates:
        at = datetime.combine(idx, datetime.min.time())
        lb, out = at - timedelta(days=180), at + timedelta(days=90)
        active = t.active_at(idx)
        look = csat[(csat.responded_at >= lb) & (csat.responded_at < at)]
        tick = t.tickets[(t.tickets.opened_at >= lb) & (t.tickets.opened_at < at)]
        adv = t.advocates(at, out)
        frame = pd.DataFrame({"account_id": sorted(active)})
        frame["index_date"] = idx
        frame["segment"] = frame.account_id.map(segment)
        has_unsat = set(look[look.unsat].account_id)
        has_csat = set(look.account_id)
        has_ticket = set(tick.account_id)
        frame["band"] = [
            "unsatisfied" if a in has_unsat else "satisfied" if a in has_csat
            else "tickets_unrated" if a in has_ticket else "no_tickets"
            for a in frame.account_id
        ]  # fmt: skip
        frame["advocate"] = frame.account_id.isin(adv).astype(int)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)
