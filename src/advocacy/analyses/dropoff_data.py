"""The aggregates the drop-off analysis works on, pulled once per run (DESIGN §6, §11).

Three small pulls replace any pass over raw events in Python: the accounts with their point-in-time
attribute history, each account's runs of active months (gaps and islands in SQL), and per account ×
slot sums of actions, referrals, NPS and review ratings, where a slot is a week of the weekly grid
(for placebo dates and change points) or an exact pre/post window of a product change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
from ibis import _

from advocacy.errors import UserError
from advocacy.metrics.calendar import utc_instant
from advocacy.metrics.context import NONE_GROUP, known_accounts
from advocacy.metrics.rollup import counted
from advocacy.metrics.source import Source

IntArr = npt.NDArray[np.int64]
FloatArr = npt.NDArray[np.float64]
SUMS = ("actions", "referrals", "nps_n", "nps_s", "rating_n", "rating_s")
_FAR = datetime(2200, 1, 1)


@dataclass(frozen=True)
class Accounts:
    """Known accounts (sorted ids) with current attributes and their recorded changes."""

    ids: npt.NDArray[np.object_]
    current: dict[str, npt.NDArray[np.object_]]
    history: pd.DataFrame  # idx, column, value, valid_from, valid_to (changed attributes only)

    @property
    def n(self) -> int:
        return len(self.ids)

    def index(self, ids: pd.Series) -> IntArr:
        return np.searchsorted(self.ids, ids.to_numpy(dtype=object)).astype(np.int64)

    def codes_as_of(self, dimension: str, at: datetime) -> tuple[IntArr, list[str]]:
        """Each account's value at ``at`` as a code into the dimension's sorted values."""
        values = sorted(
            set(self.current[dimension]) | set(self._changed(dimension)["value"].dropna())
        )
        lookup = np.array(values, dtype=object)
        codes = np.searchsorted(lookup, self.current[dimension]).astype(np.int64)
        hit = self._changed(dimension)
        hit = hit[(hit["valid_from"] <= at) & (hit["valid_to"] > at) & hit["value"].notna()]
        codes[hit["idx"].to_numpy()] = np.searchsorted(lookup, hit["value"].to_numpy(dtype=object))
        return codes, values

    def _changed(self, dimension: str) -> pd.DataFrame:
        return self.history[self.history["column"] == dimension]

    def as_of(self, dimension: str, at: datetime) -> npt.NDArray[np.object_]:
        """Each account's value at ``at``: the history interval holding it, else the current one."""
        values = self.current[dimension].copy()
        h = self.history
        hit = h[(h["column"] == dimension) & (h["valid_from"] <= at) & (h["valid_to"] > at)]
        found = hit["value"].notna().to_numpy()
        values[hit["idx"].to_numpy()[found]] = hit["value"].to_numpy(dtype=object)[found]
        return values


@dataclass(frozen=True)
class WeekGrid:
    """Monday weeks in the business time zone: ``starts[w]`` ≤ t < ``starts[w + 1]``."""

    mondays: list[date]
    starts: npt.NDArray[np.datetime64]  # len(mondays) + 1 instants (naive UTC)
    month: IntArr  # month index (year × 12 + month − 1) of each Monday

    @property
    def n(self) -> int:
        return len(self.mondays)

    def index_of(self, at: datetime) -> int:
        """Index of the first week whose Monday is at or after ``at``."""
        return int(np.searchsorted(self.starts[:-1], np.datetime64(at), side="left"))


@dataclass(frozen=True)
class Spans:
    """Runs of active weeks: account ``acc[i]`` is active in weeks [w0[i], w1[i])."""

    acc: IntArr
    w0: IntArr
    w1: IntArr

    def exposure(self, lo: int, hi: int, n: int) -> FloatArr:
        """Active weeks of each account among weeks [lo, hi)."""
        overlap = np.clip(np.minimum(self.w1, hi) - np.maximum(self.w0, lo), 0, None)
        return np.bincount(self.acc, weights=overlap, minlength=n).astype(np.float64)

    def weekly(self, n_weeks: int, member: npt.NDArray[np.bool_] | None = None) -> FloatArr:
        """Active accounts per week (of the accounts in ``member``)."""
        keep = np.ones(len(self.acc), dtype=bool) if member is None else member[self.acc]
        diff = np.zeros(n_weeks + 1)
        np.add.at(diff, self.w0[keep], 1.0)
        np.add.at(diff, self.w1[keep], -1.0)
        return np.cumsum(diff)[:n_weeks]

    def active_at(self, acc: IntArr, week: IntArr, n_weeks: int) -> npt.NDArray[np.bool_]:
        """Whether account ``acc[j]`` is active in week ``week[j]`` (runs never overlap)."""
        order = np.argsort(self.acc * (n_weeks + 1) + self.w0, kind="stable")
        start = (self.acc * (n_weeks + 1) + self.w0)[order]
        end = (self.acc * (n_weeks + 1) + self.w1)[order]
        key = acc * (n_weeks + 1) + week
        i = np.searchsorted(start, key, side="right") - 1
        return (i >= 0) & (key < end[np.maximum(i, 0)])


@dataclass(frozen=True)
class SlotSums:
    """Per account × slot sums, sorted by slot, so a run of slots is one slice."""

    acc: IntArr
    slot: IntArr
    values: dict[str, FloatArr]

    def window(self, lo: int, hi: int, n: int) -> dict[str, FloatArr]:
        """Per-account sums over slots [lo, hi)."""
        a, b = np.searchsorted(self.slot, [lo, hi], side="left")
        acc = self.acc[a:b]
        return {
            k: np.bincount(acc, weights=v[a:b], minlength=n).astype(np.float64)
            for k, v in self.values.items()
        }


@dataclass(frozen=True)
class Panel:
    """Everything the tests of one run need, in numpy."""

    accounts: Accounts
    weeks: WeekGrid
    spans: Spans
    weekly: SlotSums
    cutoff: datetime


def load_accounts(source: Source, cutoff: datetime, dimensions: list[str]) -> Accounts:
    known = known_accounts(source, cutoff)
    dims = [d for d in dimensions if d in known.columns]
    frame = known.select("account_id", *[known[d].cast("string").name(d) for d in dims])
    frame = frame.to_pandas().sort_values("account_id", kind="stable")
    ids = frame["account_id"].astype(str).to_numpy(dtype=object)
    current = {
        d: frame[d].astype(object).where(frame[d].notna(), NONE_GROUP).to_numpy() for d in dims
    }
    accounts = Accounts(ids, current, _empty_history())
    if dims and source.has("_account_history"):
        accounts = Accounts(ids, current, _history(source, known, dims, accounts))
    return accounts


def _empty_history() -> pd.DataFrame:
    return pd.DataFrame({"idx": [], "column": [], "value": [], "valid_from": [], "valid_to": []})


def _history(source: Source, known: Any, dims: list[str], accounts: Accounts) -> pd.DataFrame:
    """Recorded attribute changes (accounts whose attribute never changed keep the current value)."""
    h = source.table("_account_history").filter(_.column_name.isin(dims))
    h = h.semi_join(known.select("account_id"), "account_id")
    start = datetime(1900, 1, 2)
    h = h.filter((h.valid_from >= start) | (h.valid_to < _FAR))
    frame = h.select(
        "account_id", column=h.column_name, value=h.value, valid_from=h.valid_from,
        valid_to=ibis.least(h.valid_to, ibis.literal(_FAR)),
    ).to_pandas()  # fmt: skip
    frame["idx"] = accounts.index(frame["account_id"].astype(str))
    frame["valid_from"] = pd.to_datetime(frame["valid_from"])
    frame["valid_to"] = pd.to_datetime(frame["valid_to"])
    out: pd.DataFrame = frame.drop(columns="account_id")
    return out


def week_grid(first: date, cutoff: datetime, tz: ZoneInfo) -> WeekGrid:
    """Mondays from the one on or before ``first`` to the last one before ``cutoff``."""
    monday = first - timedelta(days=first.weekday())
    mondays = []
    while utc_instant(monday, tz) < cutoff:
        mondays.append(monday)
        monday += timedelta(days=7)
    starts = [utc_instant(m, tz) for m in mondays] + [utc_instant(monday, tz)]
    month = np.array([m.year * 12 + m.month - 1 for m in mondays], dtype=np.int64)
    return WeekGrid(mondays, np.array(starts, dtype="datetime64[us]"), month)


def first_data_day(source: Source, cutoff: datetime) -> date:
    """The earliest paid month or counted-action day: the weekly grid starts there."""
    days = []
    revenue = source.table("revenue")
    month = revenue.filter(revenue.mrr > 0).month.min().execute()
    if month is not None and not pd.isna(month):
        days.append(pd.Timestamp(month).date())
    acts = source.table("advocacy_actions")
    first = acts.filter(acts.occurred_at < cutoff).occurred_at.min().execute()
    if first is not None and not pd.isna(first):
        days.append(pd.Timestamp(first).date())
    if not days:
        raise UserError("drop-offs need revenue or advocacy actions: import some first")
    return min(days)


def active_spans(
    source: Source, accounts: Accounts, weeks: WeekGrid, cutoff: datetime, as_of: date, tz: ZoneInfo
) -> Spans:
    """Active weeks per account (DESIGN §4): revenue decides, else created_at/churned_at."""
    known = known_accounts(source, cutoff)
    revenue = source.table("revenue")
    revenue = revenue.filter(revenue.month <= ibis.literal(as_of)).semi_join(
        known.select("account_id"), "account_id"
    )
    paying = revenue.filter(revenue.mrr > 0).select(
        "account_id", mi=(revenue.month.year() * 12 + revenue.month.month() - 1).cast("int64")
    )
    paying = paying.distinct()
    order = ibis.window(group_by=paying.account_id, order_by=paying.mi)
    runs = paying.mutate(island=paying.mi - ibis.row_number().over(order))
    runs = runs.group_by(["account_id", "island"]).agg(m0=_.mi.min(), m1=_.mi.max()).to_pandas()
    billed = revenue.select("account_id").distinct()
    dated = known.select("account_id", "created_at", "churned_at").anti_join(billed, "account_id")
    dated_runs = _date_rule_runs(dated.to_pandas(), as_of, tz)
    months = pd.concat([runs[["account_id", "m0", "m1"]], dated_runs], ignore_index=True)
    acc = accounts.index(months["account_id"].astype(str))
    w0 = np.searchsorted(weeks.month, months["m0"].to_numpy(dtype=np.int64), side="left")
    w1 = np.searchsorted(weeks.month, months["m1"].to_numpy(dtype=np.int64), side="right")
    keep = w1 > w0
    return Spans(acc[keep], w0[keep].astype(np.int64), w1[keep].astype(np.int64))


def _date_rule_runs(frame: pd.DataFrame, as_of: date, tz: ZoneInfo) -> pd.DataFrame:
    """Accounts without revenue rows: active from the month of created_at to that of churned_at."""

    def local_month(column: pd.Series) -> pd.Series:
        local = pd.to_datetime(column).dt.tz_localize("UTC").dt.tz_convert(tz)
        return local.dt.year * 12 + local.dt.month - 1

    last = as_of.year * 12 + as_of.month - 1
    m0 = local_month(frame["created_at"])
    m1 = local_month(frame["churned_at"]).fillna(last).clip(upper=last)
    return pd.DataFrame({"account_id": frame["account_id"], "m0": m0, "m1": m1}).dropna()


def slot_sums(
    source: Source, accounts: Accounts, cutoff: datetime, slots: pd.DataFrame
) -> SlotSums:
    """Sums per account × slot; ``slots`` has (slot, s_start, s_end) and slots may overlap."""
    known = known_accounts(source, cutoff).select("account_id")
    table = ibis.memtable(slots)
    acts = source.table("advocacy_actions").filter(_.occurred_at < cutoff)
    acts = acts.semi_join(known, "account_id")
    acts = acts.join(table, (acts.occurred_at >= table.s_start) & (acts.occurred_at < table.s_end))
    ok = counted(acts)
    review = (acts.action_type == "review") & acts.rating.notnull()
    a = acts.group_by(["account_id", "slot"]).agg(
        actions=ok.ifelse(1, 0).sum(), referrals=(ok & (acts.action_type == "referral")).ifelse(1, 0).sum(),
        rating_n=review.ifelse(1, 0).sum(), rating_s=review.ifelse(acts.rating.cast("float64"), 0.0).sum(),
    ).to_pandas()  # fmt: skip
    r = source.table("survey_responses").filter((_.survey == "nps") & (_.responded_at < cutoff))
    r = r.semi_join(known, "account_id")
    r = r.join(table, (r.responded_at >= table.s_start) & (r.responded_at < table.s_end))
    score = (r.score >= 9).ifelse(1, (r.score <= 6).ifelse(-1, 0))
    s = r.group_by(["account_id", "slot"]).agg(nps_n=_.count(), nps_s=score.sum()).to_pandas()
    return _to_slot_sums(a.merge(s, on=["account_id", "slot"], how="outer"), accounts)


def _to_slot_sums(frame: pd.DataFrame, accounts: Accounts) -> SlotSums:
    frame = frame.sort_values(["slot", "account_id"], kind="stable")
    acc = accounts.index(frame["account_id"].astype(str))
    values = {k: frame[k].fillna(0).to_numpy(dtype=np.float64) for k in SUMS}
    return SlotSums(acc, frame["slot"].to_numpy(dtype=np.int64), values)


def weekly_slots(weeks: WeekGrid) -> pd.DataFrame:
    return pd.DataFrame(
        {"slot": np.arange(weeks.n, dtype=np.int64),
         "s_start": pd.to_datetime(weeks.starts[:-1]), "s_end": pd.to_datetime(weeks.starts[1:])}
    )  # fmt: skip
