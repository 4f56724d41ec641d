"""The canonical tables as seen at as_of: known non-test accounts, their facts, revenue lookups.

Populations (DESIGN §4): is_test accounts and orphans (rows whose account is unknown) are
excluded from everything; rows at or after the as_of instant are ignored.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from advocacy.schema import TABLES, ColType

from .settings import OracleSettings
from .timegrid import (
    Window,
    add_months,
    as_of_instant,
    last_complete_month,
    local_date,
    local_midnight_utc,
    period_label,
    period_start_containing,
)

NONE_GROUP = "(none)"
SCALE_DEFAULTS = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}


def timestamps(col: pd.Series) -> pd.Series:
    """A column as naive UTC datetime64 (zoned values converted)."""
    out = (
        col if pd.api.types.is_datetime64_any_dtype(col) else pd.to_datetime(col, format="ISO8601")
    )
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype("datetime64[ns]")


def _dates(col: pd.Series) -> pd.Series:
    values = [None if pd.isna(v) else pd.Timestamp(v).date() for v in col]
    return pd.Series(values, index=col.index, dtype=object)


def canonical(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """A canonical table with every spec column present and typed (a missing table is empty)."""
    spec = TABLES[name]
    given = tables.get(name)
    df = pd.DataFrame(columns=list(spec.names)) if given is None else given.copy()
    for c in spec.columns:
        if c.name not in df.columns:
            df[c.name] = None
        if c.type == ColType.TIMESTAMP:
            df[c.name] = timestamps(df[c.name])
        elif c.type == ColType.DATE:
            df[c.name] = _dates(df[c.name])
        elif c.type == ColType.FLOAT:
            df[c.name] = pd.to_numeric(df[c.name]).astype("float64")
    return df.reset_index(drop=True)


def present(v: Any) -> bool:
    """Not null (None, NaN, NaT, pd.NA)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return False
    return not bool(pd.isna(v))


class Data:
    """The canonical tables as seen at ``as_of``, with per-account revenue lookups."""

    def __init__(
        self, tables: dict[str, pd.DataFrame], as_of: date, settings: OracleSettings
    ) -> None:
        self.s = settings
        self.tz = ZoneInfo(settings.timezone)
        self.as_of = as_of
        self.as_of_utc = as_of_instant(as_of, self.tz)
        self.last_complete_month = last_complete_month(as_of)
        self.history = tables.get("_account_history")
        self._load_accounts(tables)
        self._load_facts(tables)
        self._load_revenue(tables)
        self._index_referrals()

    # --- loading ------------------------------------------------------------------------------

    def _load_accounts(self, tables: dict[str, pd.DataFrame]) -> None:
        acc = canonical(tables, "accounts")
        is_test = acc["is_test"].astype(object).where(acc["is_test"].notna(), False).astype(bool)
        # CHOICE: an account created after as_of is a "later row": ignored like an unknown one
        # (its facts become orphans); a churn after as_of has not happened yet (treated as null).
        acc = acc[~is_test & (acc["created_at"] < self.as_of_utc)].copy()
        acc.loc[acc["churned_at"] >= self.as_of_utc, "churned_at"] = pd.NaT
        self.accounts = acc.set_index("account_id", drop=False)
        self.known: set[str] = set(self.accounts.index)
        self.created: dict[str, pd.Timestamp] = dict(
            zip(acc["account_id"], acc["created_at"], strict=True)
        )
        self.churned: dict[str, pd.Timestamp | None] = {
            a: None if pd.isna(c) else c
            for a, c in zip(acc["account_id"], acc["churned_at"], strict=True)
        }

    def _facts(self, tables: dict[str, pd.DataFrame], name: str, ts: str) -> pd.DataFrame:
        df = canonical(tables, name)
        keep = df["account_id"].isin(self.known) & (df[ts] < self.as_of_utc)
        return df[keep].reset_index(drop=True)

    def _load_facts(self, tables: dict[str, pd.DataFrame]) -> None:
        cut = self.as_of_utc
        r = self._facts(tables, "survey_responses", "responded_at")
        for survey, (lo, hi) in SCALE_DEFAULTS.items():
            is_s = r["survey"] == survey
            r.loc[is_s & r["scale_min"].isna(), "scale_min"] = lo
            r.loc[is_s & r["scale_max"].isna(), "scale_max"] = hi
        self.responses = r
        self.actions = self._facts(tables, "advocacy_actions", "occurred_at")
        t = self._facts(tables, "tickets", "opened_at")
        # CHOICE: a first response or resolution after as_of has not happened yet (null).
        t.loc[t["first_response_at"] >= cut, "first_response_at"] = pd.NaT
        t.loc[t["resolved_at"] >= cut, "resolved_at"] = pd.NaT
        self.tickets = t
        self.asks = self._facts(tables, "asks", "asked_at")
        o = canonical(tables, "ask_outcomes")
        o = o[o["ask_id"].isin(set(self.asks["ask_id"])) & (o["at"] < cut)]
        o = o.sort_values(["ask_id", "at", "seq"])  # latest outcome = max (at, seq)
        self.ask_statuses: dict[str, set[str]] = {}
        for ask_id, status in zip(o["ask_id"], o["status"], strict=True):
            self.ask_statuses.setdefault(ask_id, set()).add(status)
        # sorted by (at, seq) within each ask, so the last one written wins
        self.ask_latest: dict[str, str] = dict(zip(o["ask_id"], o["status"], strict=True))
        rw = self._facts(tables, "rewards", "given_at")
        rw["value"] = rw["value"].fillna(0.0)
        self.rewards = rw

    def _load_revenue(self, tables: dict[str, pd.DataFrame]) -> None:
        rev = canonical(tables, "revenue")
        rev = rev[rev["account_id"].isin(self.known)]
        # CHOICE: a revenue row is "later" when its month starts after the as_of day; the month in
        # progress is visible (activity, arr weights), but revenue metrics end at the last
        # *complete* month.
        self.rev: dict[str, dict[date, float]] = {}
        for a, m, mrr in zip(rev["account_id"], rev["month"], rev["mrr"], strict=True):
            month = date(m.year, m.month, 1)
            if month <= self.as_of:
                self.rev.setdefault(a, {})[month] = float(mrr)
        self.paid_months = {
            a: sorted(m for m, v in months.items() if v > 0) for a, months in self.rev.items()
        }

    def _index_referrals(self) -> None:
        a = self.actions
        a = a[(a["action_type"] == "referral") & a["referred_account_id"].notna()]
        a = a.sort_values(["occurred_at", "action_id"])
        self.referrals_naming: dict[str, list[tuple[pd.Timestamp, str]]] = {}
        for ref, at, who in zip(
            a["referred_account_id"], a["occurred_at"], a["account_id"], strict=True
        ):
            self.referrals_naming.setdefault(ref, []).append((at, who))

    # --- revenue and activity -----------------------------------------------------------------

    def mrr(self, account: str, month: date) -> float:
        """MRR of a month; a missing month is 0."""
        return self.rev.get(account, {}).get(month, 0.0)

    def has_revenue(self, account: str) -> bool:
        return account in self.rev

    def first_paid_month(self, account: str) -> date | None:
        months = self.paid_months.get(account, [])
        return months[0] if months else None

    def start_month(self, account: str) -> date | None:
        """The first month with MRR > 0, or, for an account with no revenue rows at all, the
        local month of created_at (the new_logos rule); None if its rows are all 0."""
        if self.has_revenue(account):
            return self.first_paid_month(account)
        created = local_date(self.created[account], self.tz)
        return date(created.year, created.month, 1)

    def month_utc(self, month: date) -> pd.Timestamp:
        return local_midnight_utc(month, self.tz)

    def date_active(self, account: str, start_utc: pd.Timestamp, end_utc: pd.Timestamp) -> bool:
        """The date rule: created_at < end and (churned_at null or churned_at ≥ start)."""
        churned = self.churned[account]
        return self.created[account] < end_utc and (churned is None or churned >= start_utc)

    def active(self, account: str, w: Window) -> bool:
        """Revenue decides when the account has any revenue row, else the date rule."""
        if self.has_revenue(account):
            months = self.paid_months.get(account, [])
            i = bisect_left(months, w.start)
            return i < len(months) and months[i] < w.end
        return self.date_active(account, w.start_utc, w.end_utc)

    def active_accounts(self, w: Window) -> list[str]:
        return [a for a in self.accounts.index if self.active(a, w)]

    def arr_weight(self, account: str, w: Window) -> float | None:
        """12 × MRR of the month before the window if > 0, else of its first month in the window
        with MRR > 0; None = excluded from the arr basis."""
        before = self.mrr(account, add_months(w.start, -1))
        if before > 0:
            return 12 * before
        for m in self.paid_months.get(account, []):
            if w.start <= m < w.end:
                return 12 * self.mrr(account, m)
        return None

    # --- actions ------------------------------------------------------------------------------

    @staticmethod
    def counted(a: pd.DataFrame) -> pd.Series:
        """Counted actions: not `other`; reviews rated ≥ 4 or unrated; social mentions with
        sentiment ≥ 0 or none."""
        t = a["action_type"]
        review_ok = (t != "review") | a["rating"].isna() | (a["rating"] >= 4)
        social_ok = (t != "social_mention") | a["sentiment"].isna() | (a["sentiment"] >= 0)
        return (t != "other") & review_ok & social_ok

    def referral(self, account: str) -> tuple[bool, str | None]:
        """(referred?, referrer): `referred_by_account_id`, else the account of the earliest
        referral action naming it in [start month − 365 days, start month end)."""
        by = self.accounts.at[account, "referred_by_account_id"]
        if present(by) and str(by) != "":
            return True, str(by)
        # CHOICE: for a new logo without revenue rows (created_at rule) the "first paid month" is
        # the local month of created_at.
        sm = self.start_month(account)
        if sm is None:
            return False, None
        # CHOICE: "− 365 days" is 365 × 24 h before the UTC instant of the month's local start.
        lo = self.month_utc(sm) - timedelta(days=365)
        hi = self.month_utc(add_months(sm, 1))
        # CHOICE: ties of the earliest referral action go to the smaller action_id.
        for at, who in self.referrals_naming.get(account, []):
            if lo <= at < hi:
                return True, str(who)
        return False, None

    # --- dimensions ---------------------------------------------------------------------------

    def cohort(self, account: str) -> str:
        """Fiscal quarter (label) of the first paid month, else of created_at (local)."""
        fpm = self.first_paid_month(account)
        when = fpm or local_date(self.created[account], self.tz)
        q = period_start_containing(when, "quarter", self.s.fiscal_start_month)
        return period_label(q, "quarter", self.s)

    def attributes(self, column: str, at_utc: pd.Timestamp) -> dict[str, Any]:
        """Each known account's value of ``column`` as of ``at_utc``; null → "(none)".

        From `_account_history` (valid_from ≤ t < valid_to, nulls open-ended) when given,
        falling back to the current value.
        """
        if column == "cohort":
            return {a: self.cohort(a) for a in self.accounts.index}
        if column not in self.accounts.columns:
            raise ValueError(f"unknown dimension {column!r}")
        values: dict[str, Any] = dict(
            zip(self.accounts["account_id"], self.accounts[column], strict=True)
        )
        h = self.history
        if h is not None and len(h):
            h = h[h["column"] == column]
            vf, vt = timestamps(h["valid_from"]), timestamps(h["valid_to"])
            ok = (vf.isna() | (vf <= at_utc)) & (vt.isna() | (at_utc < vt))
            for a, v in zip(h.loc[ok, "account_id"], h.loc[ok, "value"], strict=True):
                if a in values:
                    values[a] = v
        return {a: v if present(v) else NONE_GROUP for a, v in values.items()}
