"""Metric definitions and requests as values (frozen, normalised once in `create`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from advocacy.errors import UserError

#: What `advocacy metrics` and `ws.metrics()` show when no metric is named.
HEADLINE = ("advocacy_rate", "nps", "csat", "referral_rate", "reviews", "grr", "nrr")


class Grain(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Window(StrEnum):
    PERIOD = "period"
    TTM = "ttm"


class Basis(StrEnum):
    RESPONSE = "response"
    LOGO = "logo"
    ARR = "arr"


class Unit(StrEnum):
    FRACTION = "fraction"
    RATIO = "ratio"
    POINTS = "points"
    HOURS = "hours"
    CURRENCY = "currency"
    COUNT = "count"


class Direction(StrEnum):
    HIGHER = "higher is better"
    LOWER = "lower is better"
    NEUTRAL = "neutral"


class Family(StrEnum):
    """How a metric is computed; each family is one module of the engine."""

    NPS = "nps"
    SURVEY_SHARE = "survey_share"
    SURVEY_MEAN = "survey_mean"
    COVERAGE = "coverage"
    ACCOUNT_RATE = "account_rate"
    EVENT_COUNT = "event_count"
    EVENT_MEAN = "event_mean"
    RETENTION = "retention"
    BRIDGE = "bridge"
    NEW_LOGOS = "new_logos"
    REFERRAL = "referral"
    SAY_DO = "say_do"
    ASKS = "asks"
    CONCENTRATION = "concentration"
    TICKET_MEDIAN = "ticket_median"
    REWARDS = "rewards"


class Interval(StrEnum):
    NONE = "none"
    WILSON = "wilson"
    WILSON_CLUSTER = "wilson (cluster-adjusted)"
    NPS = "cluster-robust linearised (adjusted-Wald below n = 30)"
    DELTA = "delta method"
    POISSON = "exact Poisson"
    T = "t"
    T_CLUSTER = "t (cluster-robust)"
    ORDER_STATISTIC = "order statistic (distribution-free)"


@dataclass(frozen=True)
class MetricDef:
    """One metric: what it counts, over which population, in which unit, with which interval.

    ``params`` carries the family's knobs (e.g. the action types of an account rate), so a
    user-defined metric is a new row of data, not new code.
    """

    name: str
    family: Family
    description: str
    numerator: str
    denominator: str
    unit: Unit
    direction: Direction
    bases: tuple[Basis, ...]
    interval: Interval
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def default_basis(self) -> Basis:
        return self.bases[0]

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["params"] = dict(self.params)
        data["bases"] = [b.value for b in self.bases]
        return data


@dataclass(frozen=True)
class MetricRequest:
    """What to compute. Build with `MetricRequest.create`, which validates and normalises."""

    metrics: tuple[str, ...]
    by: str | None = None
    grain: Grain = Grain.QUARTER
    start: date | None = None
    end: date | None = None
    window: Window = Window.PERIOD
    basis: Basis | None = None
    as_of: date | None = None
    filters: tuple[tuple[str, str], ...] = ()
    segment_as_of: str = "period_start"
    include_surveys: bool = False
    ci: str = "analytic"
    compare: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def create(
        cls, metrics: str | list[str] | tuple[str, ...], *, by: str | None = None,
        period: str = "quarter", start: date | str | None = None, end: date | str | None = None,
        window: str = "period", basis: str | None = None, as_of: date | str | None = None,
        filters: dict[str, str] | None = None, segment_as_of: str = "period_start",
        include_surveys: bool = False, ci: str = "analytic", compare: str | None = None,
    ) -> MetricRequest:  # fmt: skip
        # The same metric named twice is computed (and shown) once.
        names = tuple(dict.fromkeys((metrics,) if isinstance(metrics, str) else metrics))
        if not names:
            raise UserError("name at least one metric (see `advocacy metrics --list`)")
        if segment_as_of not in ("period_start", "current"):
            raise UserError("--segment-as-of must be period_start or current")
        if ci not in ("analytic", "bootstrap"):
            raise UserError("--ci must be analytic or bootstrap")
        if compare not in (None, "previous", "rest"):
            raise UserError("--compare must be previous or rest")
        if compare == "rest" and by is None:
            raise UserError("--compare rest needs --by: each group is compared with the rest")
        return cls(
            metrics=names,
            by=by,
            grain=_enum(Grain, period, "--period"),
            start=parse_day(start, "--from"),
            end=parse_day(end, "--to"),
            window=_enum(Window, window, "--window"),
            basis=None if basis is None else _enum(Basis, basis, "--basis"),
            as_of=parse_day(as_of, "--as-of"),
            filters=_filters(filters),
            segment_as_of=segment_as_of,
            include_surveys=include_surveys,
            ci=ci,
            compare=compare,
        )


def _enum(kind: type[StrEnum], value: str, flag: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise UserError(f"{flag} must be one of {allowed}, not '{value}'") from None


def _filters(filters: Any) -> tuple[tuple[str, str], ...]:
    """`{column: value}` with text values: accounts' columns are compared as text."""
    if filters is None:
        return ()
    if not isinstance(filters, dict):
        raise UserError("filters must be a dict of account column → value, e.g. {'segment': 'smb'}")
    out = []
    for column, value in filters.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise UserError(
                f"filter {column}: one value per column (text or a number), not {value!r}"
            )
        out.append((str(column), str(value)))
    return tuple(sorted(out))


#: Dates outside these years are a typo, not a range anyone measures.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def parse_day(value: date | str | None, flag: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise UserError(f"{flag} must be a date like 2026-01-31, not '{value}'") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise UserError(f"{flag} {day} is outside {FIRST_DAY} … {LAST_DAY}")
    return day


def fingerprint(definition: dict[str, Any]) -> str:
    """A short stable hash of a result's definition (not of the period instance)."""
    text = json.dumps(definition, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
