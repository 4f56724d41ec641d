"""Everything one request shares: periods, as_of, the account dimension, active accounts."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, overload
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
from ibis import _

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.calendar import (
    MONTHS_IN,
    Period,
    add_months,
    default_range,
    end_of_day,
    period_start,
    periods_between,
    utc_instant,
)
from advocacy.metrics.source import Source
from advocacy.metrics.spec import MetricRequest, Window

NONE_GROUP = "(none)"
#: Columns of an ask that ask metrics may be grouped by (DESIGN §5).
ASK_DIMENSIONS = ("ask_type", "trigger", "channel", "owner")
ALL = "__all__"
_DAY = timedelta(days=1)


@dataclass
class Context:
    """The shared pieces of one request, built once and reused by every metric."""

    source: Source
    settings: Settings
    request: MetricRequest
    periods: list[Period]
    as_of: date
    cutoff: datetime
    notes: list[str]
    _accounts: Any = None
    _groups: Any = None
    _active: Any = None
    _population: Any = None
    _cached: list[Any] = field(default_factory=list)
    _memo: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, Any] = field(default_factory=dict)  # small calendar tables, built once
    replay: Any = None  # a bootstrap.Replay while `--ci bootstrap` computes a metric

    @property
    def cal(self) -> Any:
        """One row per period: label, local dates, UTC instants, window bounds, revenue months."""
        if "cal" not in self._tables:
            self._tables["cal"] = ibis.memtable(self._cal_frame())
        return self._tables["cal"]

    def _cal_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "period_label": [p.label for p in self.periods],
                "period_start": [p.start_date for p in self.periods],
                "period_end": [p.end_date for p in self.periods],
                "p_start": [p.start for p in self.periods],
                "p_end": [p.end for p in self.periods],
                "w_start": [p.window_start for p in self.periods],
                "w_end": [min(p.end, self.cutoff) for p in self.periods],
                "w_start_date": [p.window_start_date for p in self.periods],
                "w_end_date": [p.end_date for p in self.periods],
                "start_month": [add_months(p.window_start_date, -1) for p in self.periods],
                "r_start_month": [self.retention_start(p) for p in self.periods],
                "end_month": [self.end_month(p) for p in self.periods],
            }
        )

    def cal_days(self) -> Any:
        """`cal` with one row per UTC day (`c_day`) each window touches, and a day either side.

        The key of an equi-join that puts instants in windows (`in_window`): DuckDB runs a
        range join against the few periods as a merge join that sorts the rows (on 20M rows,
        9× the time of this hash join); joined on their UTC day, the exact bounds then check
        only that day's rows. The spare days keep a row whose day a backend computes a day
        off (never by more)."""
        if "days" not in self._tables:
            frame = self._cal_frame()
            days = [
                [d.date() for d in pd.date_range(lo.date() - _DAY, hi.date() + _DAY)]
                for lo, hi in zip(frame.w_start, frame.w_end, strict=True)
            ]
            self._tables["days"] = ibis.memtable(_spread(frame, "c_day", days))
        return self._tables["days"]

    def cal_months(self, start: str, end: str) -> Any:
        """`cal` with one row per month index (`c_month` = year × 12 + month) of [cal[start],
        cal[end]): every bound of `cal` holding a date is a first of month, so a date lies in
        that range iff its month index does (an equi-join, see `cal_days`)."""
        key = f"months:{start}:{end}"
        if key not in self._tables:
            frame = self._cal_frame()
            months = [
                list(range(_month_index(lo), _month_index(hi)))
                for lo, hi in zip(frame[start], frame[end], strict=True)
            ]
            self._tables[key] = ibis.memtable(_spread(frame, "c_month", months))
        return self._tables[key]

    def end_month(self, period: Period) -> date:
        """The end month of revenue metrics: the period's last month, or the last complete one."""
        return min(period.end_month, last_complete_month(self.as_of))

    def retention_start(self, period: Period) -> date:
        """The start month of revenue metrics: the month before the period, or on `ttm` the
        month 12 before the end month, which a partial period moves back with its end month.
        (`start_month`, the month before the window, is the arr basis's weight month.)"""
        if self.request.window is Window.TTM:
            return add_months(self.end_month(period), -12)
        return add_months(period.window_start_date, -1)

    @property
    def revenue_periods(self) -> list[str]:
        """Labels of the periods whose window has a complete month by as_of: before its first
        month ends, a period has no revenue change to measure (its end month would be its
        start month), so revenue metrics have no row for it."""
        return [p.label for p in self.periods if self.end_month(p) >= p.window_start_date]

    @property
    def known(self) -> Any:
        """Known, non-test accounts, whatever the request filters: where facts about another
        account are looked up (a referred account's first paid month, a new logo's referrer),
        which a filter on the grouped accounts must not hide."""
        return known_accounts(self.source, self.cutoff)

    @property
    def accounts(self) -> Any:
        """The known accounts with the request filters applied (current values): the accounts
        whose rows the metrics count."""
        if self._accounts is None:
            accounts = with_cohort(self, self.known)
            for column, value in self.request.filters:
                if column not in accounts.columns:
                    raise UserError(f"--filter {column}=…: accounts have no column '{column}'")
                accounts = accounts.filter(accounts[column].cast("string") == value)
            self._accounts = accounts
        return self._accounts

    @property
    def groups(self) -> tuple[Any, Any | None]:
        """The dimension value of each account in each period, in two materialised parts:
        (account_id, grp) for every known account, and (account_id, period_label, grp_p) for
        the few whose value may change between the request's period starts, which overrides it.

        Two parts rather than every account × period: joining events to one row per account is
        much cheaper, and most accounts keep their segment over a report's range."""
        if self._groups is None:
            per_account, per_period = split_groups(self)
            overrides = None if per_period is None else self.cache(per_period)
            self._groups = (self.cache(per_account), overrides)
        groups: tuple[Any, Any | None] = self._groups
        return groups

    @property
    def revenue(self) -> Any:
        """Revenue rows visible at as_of: a month counts once it has begun (DESIGN §4)."""
        revenue = self.source.table("revenue")
        return revenue.filter(revenue.month <= ibis.literal(self.as_of))

    def month_instants(self) -> Any:
        """(m_month, m_start, m_end): each month since 1990 up to as_of, as local-midnight
        UTC instants, so month boundaries follow the business time zone on every backend."""
        if "instants" not in self._tables:
            tz = ZoneInfo(self.settings.calendar.timezone)
            months, day = [], date(1990, 1, 1)
            while day <= self.as_of:
                months.append(day)
                day = add_months(day, 1)
            frame = pd.DataFrame({"m_month": months,
                                  "m_start": [utc_instant(m, tz) for m in months],
                                  "m_end": [utc_instant(add_months(m, 1), tz) for m in months]})  # fmt: skip
            self._tables["instants"] = ibis.memtable(frame)
        return self._tables["instants"]

    def cache(self, expr: Any) -> Any:
        """Materialise a piece every metric reuses, once per request (released by `release`)."""
        cached = expr.cache()
        self._cached.append(cached)
        return cached

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """A piece several metrics of the request share (new logos, ask outcomes), built and
        materialised once."""
        if key not in self._memo:
            self._memo[key] = self.cache(build())
        return self._memo[key]

    def release(self) -> None:
        for cached in self._cached:
            cached.release()
        self._cached.clear()
        self._memo.clear()

    def population_groups(self) -> pd.DataFrame:
        """(period_label, grp, active_n) of groups with active accounts, totals included."""
        if self._population is None:
            from advocacy.metrics.grouping import run

            run(self, self.population_work())
        frame: pd.DataFrame = self._population
        return frame

    def population_work(self, rollup: Any = None) -> Generator[Any, pd.DataFrame, pd.DataFrame]:
        """`population_groups` as a family-style computation, so the engine can batch it;
        from the request's rollup (its `active` rows) when there is one."""
        from advocacy.metrics.grouping import attach_group, request

        if rollup is not None:
            rows = rollup.filter(rollup.active == 1)
        else:
            rows = attach_group(self, self.active)
        self._population = yield request(rows, active_n=_.count())
        frame: pd.DataFrame = self._population
        return frame

    @property
    def active(self) -> Any:
        """(account_id, period_label) of accounts active in each period's window.

        Materialised on its own: computed inside the rollup, its distinct over every paying
        month held memory the rollup's joins needed (out of memory at scale 100 under 3GB)."""
        if self._active is None:
            self._active = self.cache(_active(self))
        return self._active


def _spread(frame: pd.DataFrame, column: str, values: list[list[Any]]) -> pd.DataFrame:
    """Each row of `frame` once per value of its list, in `column`."""
    rows = frame.loc[frame.index.repeat([len(v) for v in values])].reset_index(drop=True)
    return rows.assign(**{column: [x for v in values for x in v]})


def _month_index(day: date) -> int:
    return day.year * 12 + day.month


def in_months(ctx: Context, table: Any, column: str, start: str, end: str) -> Any:
    """Rows of `table` with each period whose [cal[start], cal[end]) holds the date `column`:
    an equi-join on the month index (`Context.cal_months`), a key computed before the join
    (see `rollup.in_window`)."""
    months = ctx.cal_months(start, end)
    day = table[column]
    keyed = table.mutate(c_month=(day.year() * 12 + day.month()).cast("int64"))
    return keyed.join(months, "c_month").drop("c_month")


def last_complete_month(as_of: date) -> date:
    """The latest month whose last day is on or before as_of."""
    this_month = date(as_of.year, as_of.month, 1)
    return this_month if (as_of + timedelta(days=1)).day == 1 else add_months(this_month, -1)


def dimension_groups(ctx: Context, accounts: Any = None) -> Any:
    """(account_id, period_label, grp): the dimension value of each account (of `accounts`,
    by default every known one) as of each period's start."""
    accounts = ctx.accounts if accounts is None else accounts
    base = accounts.select("account_id").cross_join(ctx.cal.select("period_label", "p_start"))
    by = ctx.request.by
    if by is None:
        return base.select("account_id", "period_label", grp=ibis.literal(ALL))
    if by == "cohort":
        cohorts = cohort_labels(ctx)
        joined = base.left_join(cohorts, "account_id")
        return joined.select("account_id", "period_label", grp=_.cohort.fill_null(NONE_GROUP))
    current = _current_values(accounts, by)
    joined = base.join(current, "account_id")
    hist = _history(ctx, by)
    if hist is not None:
        joined = joined.left_join(
            hist,
            (joined.account_id == hist.h_account)
            & (hist.valid_from <= joined.p_start)
            & (hist.valid_to > joined.p_start),
        )
        value = ibis.coalesce(joined.h_value, joined.current)
    else:
        value = joined.current
    return joined.select("account_id", "period_label", grp=value.fill_null(NONE_GROUP))


def split_groups(ctx: Context) -> tuple[Any, Any | None]:
    """`dimension_groups` as (account_id, grp) of every known account plus (account_id,
    period_label, grp_p) for the accounts whose value may differ between period starts (None
    when none can).

    An account's value can differ only if one of its history rows starts or ends after the
    first period start and no later than the last; every other account has one value for the
    whole range (its history row covering them all, else its current value)."""
    accounts = ctx.accounts
    by = ctx.request.by
    if by is None:
        return accounts.select("account_id", grp=ibis.literal(ALL)), None
    if by == "cohort":
        joined = accounts.select("account_id").left_join(cohort_labels(ctx), "account_id")
        return joined.select("account_id", grp=_.cohort.fill_null(NONE_GROUP)), None
    current = _current_values(accounts, by)
    hist = _history(ctx, by)
    if hist is None or not ctx.periods:
        return current.select("account_id", grp=_.current.fill_null(NONE_GROUP)), None
    first = ibis.literal(min(p.start for p in ctx.periods))
    last = ibis.literal(max(p.start for p in ctx.periods))
    whole = hist.filter((hist.valid_from <= first) & (hist.valid_to > last))
    joined = current.left_join(whole, current.account_id == whole.h_account)
    value = ibis.coalesce(joined.h_value, joined.current).fill_null(NONE_GROUP)
    per_account = joined.select("account_id", grp=value)

    def inside(t: Any) -> Any:
        return (t > first) & (t <= last)

    changing = hist.filter(inside(hist.valid_from) | inside(hist.valid_to))
    changing = accounts.semi_join(changing, accounts.account_id == changing.h_account)
    per_period = dimension_groups(ctx, changing).rename(grp_p="grp")
    return per_account, per_period


def _current_values(accounts: Any, by: str) -> Any:
    """(account_id, current): the dimension's current value; a clear error for a bad `--by`."""
    if by not in accounts.columns and by in ASK_DIMENSIONS:
        raise UserError(
            f"--by {by} is a column of asks: it groups only ask_acceptance_rate, "
            "ask_completion_rate and asks_per_advocate; ask for those alone"
        )
    if by not in accounts.columns:
        dims = sorted(
            c
            for c in accounts.columns
            if c
            not in ("account_id", "name", "created_at", "churned_at", "updated_at", "renewal_date")
        )
        raise UserError(
            f"--by {by}: accounts have no such column; dimensions: {', '.join(dims)}, cohort"
        )
    return accounts.select("account_id", current=accounts[by].cast("string"))


def _history(ctx: Context, by: str) -> Any:
    """The dimension's history rows when values are taken as of period starts, else None."""
    if ctx.request.segment_as_of != "period_start" or not ctx.source.has("_account_history"):
        return None
    hist = ctx.source.table("_account_history").filter(_.column_name == by)
    return hist.select(
        h_account=_.account_id, h_value=_.value, valid_from=_.valid_from, valid_to=_.valid_to
    )


def revenue_months(ctx: Context) -> Any:
    """Revenue rows of known accounts up to as_of (a month counts once it has begun), whatever
    the request filters: a referred account's first paid month is a fact about that account,
    and readers that count revenue give rows their group, which applies the filters."""
    return ctx.revenue.semi_join(ctx.known.select("account_id"), "account_id")


def first_paid(ctx: Context) -> Any:
    """(account_id, first_month, first_mrr): each known account's first month with MRR > 0,
    materialised once per request for the rollup, new logos, referrals and cohorts.

    One GROUP BY with an arg-min, cheaper than a window or a join back on the key; the key
    (account_id, month) leaves no ties."""

    def build() -> Any:
        paying = revenue_months(ctx).filter(_.mrr > 0)
        return paying.group_by("account_id").agg(
            first_month=_.month.min(), first_mrr=_.mrr.argmin(_.month)
        )

    return ctx.memo("first_paid", build)


def with_cohort(ctx: Context, accounts: Any) -> Any:
    """`accounts` with their `cohort` column when a filter names it: a derived column, which
    `--filter cohort=…` then compares like a stored one."""
    if "cohort" in accounts.columns or all(c != "cohort" for c, _v in ctx.request.filters):
        return accounts
    labels = cohort_labels(ctx, ctx.known).rename(c_account="account_id")
    joined = accounts.left_join(labels, accounts.account_id == labels.c_account)
    return joined.drop("c_account")


def cohort_labels(ctx: Context, accounts: Any = None) -> Any:
    """(account_id, cohort) of `accounts` (the request's by default): fiscal quarter of the
    first paid month, else of created_at."""
    first = first_paid(ctx).select("account_id", "first_month")
    accounts = (ctx.accounts if accounts is None else accounts).select("account_id", "created_at")
    accounts = accounts.left_join(first, "account_id")
    day = ibis.coalesce(accounts.first_month.cast("date"), accounts.created_at.date())
    fm = ctx.settings.calendar.fiscal_start_month - 1
    shifted = day.year() * 12 + day.month() - 1 - fm
    shift = 1 if ctx.settings.calendar.fiscal_label == "end" and fm else 0
    year = (shifted // 12 + shift).cast("int64").cast("string")
    quarter = ((shifted % 12) // 3 + 1).cast("int64").cast("string")
    prefix = "FY" if fm else ""
    return accounts.select("account_id", cohort=ibis.literal(prefix) + year + "-Q" + quarter)


def _active(ctx: Context) -> Any:
    """Revenue decides for accounts with any revenue row; the date rule for the others.

    Rows of unknown accounts stay: every reader gives rows their group (`attach_group`), which
    drops them. The two parts never share an account, so they are stacked, not deduplicated."""
    paying = ctx.revenue.filter(_.mrr > 0)
    by_revenue = in_months(ctx, paying, "month", "w_start_date", "w_end_date")
    by_revenue = by_revenue.select("account_id", "period_label").distinct()
    return by_revenue.union(active_by_date(ctx), distinct=False)


def active_by_date(ctx: Context) -> Any:
    """(account_id, period_label) of the accounts without revenue active in a period: created
    before its window ends and not churned before it starts (DESIGN §4)."""
    dated = unbilled_accounts(ctx).cross_join(
        ctx.cal.select("period_label", "w_start", w_stop=ctx.cal.w_end)
    )
    return dated.filter(date_active(dated, dated.w_start, dated.w_stop)).select(
        "account_id", "period_label"
    )


def date_active(accounts: Any, start: Any, end: Any) -> Any:
    """The date rule (DESIGN §4) for [start, end): created before its end and not churned
    before its start."""
    return (accounts.created_at < end) & (
        accounts.churned_at.isnull() | (accounts.churned_at >= start)
    )


def known_accounts(source: Source, cutoff: datetime) -> Any:
    """Accounts that are not test accounts and exist by the cutoff: rows of any other
    account are orphans (DESIGN §4), an account created after as_of not known yet."""
    accounts = source.table("accounts").filter(~_.is_test.fill_null(False))
    return accounts.filter(accounts.created_at < cutoff)


def unbilled_accounts(ctx: Context) -> Any:
    """(account_id, created_at, churned_at) of known accounts without any revenue row: the
    accounts whose activity follows the date rule (DESIGN §4). Filters are not applied: every
    reader gives the rows their group (`attach_group`), which drops the filtered-out ones.

    Materialised once per request: active accounts, new logos and logo retention each read
    it, and each would otherwise scan the revenue again (a second at scale 100)."""

    def build() -> Any:
        billed = ctx.revenue.select("account_id").distinct()
        columns = ctx.known.select("account_id", "created_at", "churned_at")
        return columns.anti_join(billed, "account_id")

    return ctx.memo("unbilled", build)


#: More periods than this in one request is a mistyped range, not a report.
MAX_PERIODS = 600
#: An explicit as_of this many days past the latest data gets a note.
STALE_DAYS = 31


def build_context(
    source: Source, settings: Settings, request: MetricRequest, *, lead: int = 0
) -> Context:
    """The request's periods and as_of; `lead` periods before the range are added in front
    (`--compare previous` needs the period before the first)."""
    notes: list[str] = []
    as_of = request.as_of or latest_data_date(source, settings)
    # Data a few days old is normal; a month without any is worth saying.
    recent = as_of - timedelta(days=STALE_DAYS)
    if request.as_of is not None and not _has_data_since(source, settings, recent):
        latest = latest_data_date(source, settings, required=False)
        if latest is not None:
            notes.append(
                f"--as-of {as_of} is after the latest data ({latest}): windows and months up to "
                "as_of count as complete, so what happened after the data ends counts as nothing"
            )
    grain, cal = request.grain.value, settings.calendar
    start, end = _range(request, as_of, grain, cal)
    # Periods that begin after as_of have nothing in them yet: the range ends with as_of's.
    last = add_months(period_start(as_of, grain, cal.fiscal_start_month), MONTHS_IN[grain])
    if end > last:
        if start >= last:
            raise UserError(
                f"the range [{start}, {end}) begins after as_of {as_of}: nothing to measure yet"
            )
        notes.append(f"periods beginning after as_of {as_of} left out: the range ends {last}")
        end = last
    first = period_start(start, grain, cal.fiscal_start_month)
    count = ((end.year - first.year) * 12 + end.month - first.month) / MONTHS_IN[grain]
    if count > MAX_PERIODS:
        raise UserError(
            f"the range holds about {count:.0f} {grain}s; ask for at most {MAX_PERIODS} (a "
            "shorter range or a longer --period)"
        )
    periods = periods_between(start, end, grain, cal, ttm=request.window is Window.TTM)
    if periods and (periods[0].start_date != start or periods[-1].end_date != end):
        notes.append(
            f"range snapped to {grain} boundaries: [{periods[0].start_date}, {periods[-1].end_date})"
        )
    if lead and periods:
        before = add_months(periods[0].start_date, -lead * MONTHS_IN[grain])
        periods = periods_between(before, end, grain, cal, ttm=request.window is Window.TTM)
    return Context(
        source.for_request(), settings, request, periods, as_of,
        end_of_day(as_of, settings.calendar), notes,
    )  # fmt: skip


def _range(request: MetricRequest, as_of: date, grain: str, cal: Any) -> tuple[date, date]:
    """[from, to) with the defaults of DESIGN §4: the last 8 complete quarters before as_of;
    8 quarters ending at --to when only --to is given; --from to the last complete quarter
    (or to as_of, when --from is later) when only --from is."""
    start, end = request.start, request.end
    if start is None and end is None:
        return default_range(as_of, grain, cal)
    if start is None:
        assert end is not None
        last_quarter = period_start(end - timedelta(days=1), "quarter", cal.fiscal_start_month)
        start = add_months(last_quarter, -21)
    if end is None:
        end = default_range(as_of, grain, cal)[1]
        if start >= end:
            end = add_months(period_start(as_of, grain, cal.fiscal_start_month), MONTHS_IN[grain])
    if start >= end:
        raise UserError(f"--from {start} must be before --to {end} (the range is [from, to))")
    return start, end


#: The dated facts whose latest timestamp is the default as_of (revenue months aside).
DATED = (("survey_responses", "responded_at"), ("advocacy_actions", "occurred_at"),
         ("tickets", "opened_at"), ("asks", "asked_at"), ("ask_outcomes", "at"))  # fmt: skip


def _has_data_since(source: Source, settings: Settings, day: date) -> bool:
    """Whether any dated fact (or revenue month) reaches `day`: a filtered LIMIT 1 per table,
    which skips whole blocks by their min/max, instead of a max() scan on every request."""
    since = utc_instant(day, ZoneInfo(settings.calendar.timezone))
    for table, column in DATED:
        if source.has(table):
            t = source.table(table)
            if int(t.filter(t[column] >= since).limit(1).count().execute()):
                return True
    if source.has("revenue"):  # a month is data through its last day
        t = source.table("revenue")
        return bool(int(t.filter(t.month >= day.replace(day=1)).limit(1).count().execute()))
    return False


@overload
def latest_data_date(source: Source, settings: Settings) -> date: ...
@overload
def latest_data_date(source: Source, settings: Settings, *, required: bool) -> date | None: ...


def latest_data_date(source: Source, settings: Settings, *, required: bool = True) -> date | None:
    """as_of when none is given: the latest event timestamp (or end of the latest revenue month)."""
    stamps = []
    for table, column in DATED:
        if source.has(table):
            value = source.table(table)[column].max().execute()
            if value is not None and not pd.isna(value):
                stamps.append(pd.Timestamp(value).to_pydatetime())
    if source.has("revenue"):
        month = source.table("revenue").month.max().execute()
        if month is not None and not pd.isna(month):
            m = pd.Timestamp(month).date()
            stamps.append(
                datetime.combine(add_months(m, 1), datetime.min.time()) - timedelta(seconds=1)
            )
    if not stamps:
        if not required:
            return None
        raise UserError(
            "there is no dated data yet (survey responses, advocacy actions, tickets, asks or "
            "revenue): import some, or give --as-of"
        )
    latest = max(stamps)
    tz = settings.calendar.timezone
    return pd.Timestamp(latest).tz_localize("UTC").tz_convert(tz).date()
