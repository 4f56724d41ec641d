"""Calendar days of the business time zone as Ibis expressions, for the policy rules.

"30 days between asks" means the 30th local day after the last ask: an ask on local day d
blocks until the local midnight that starts day d + 30, given as a naive UTC instant.

The zone conversion is the one place where the backends need their own function names
(DuckDB and PostgreSQL: `timezone`, Spark: `from_utc_timestamp`/`to_utc_timestamp`); a CASE
over a zone's transitions was portable but made SQL of hundreds of kilobytes that took seconds
to compile. Every backend reads the IANA database, and tests compare them with `zoneinfo`;
gaps and folds resolve as `metrics.calendar.utc_instant` does (the offset before the change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt


@ibis.udf.scalar.builtin(name="timezone")  # type: ignore[untyped-decorator]
def _timezone(zone: str, ts: dt.timestamp) -> dt.timestamp:  # type: ignore[empty-body]
    """DuckDB and PostgreSQL: naive → zoned (read in `zone`) and zoned → naive (wall in `zone`)."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")  # type: ignore[untyped-decorator]
def _from_utc(ts: dt.timestamp, zone: str) -> dt.timestamp:  # type: ignore[empty-body]
    """Spark: the wall time in `zone` of a UTC instant."""


@ibis.udf.scalar.builtin(name="to_utc_timestamp")  # type: ignore[untyped-decorator]
def _to_utc(ts: dt.timestamp, zone: str) -> dt.timestamp:  # type: ignore[empty-body]
    """Spark: the UTC instant of a wall time in `zone`."""


BACKENDS = ("duckdb", "postgres", "pyspark")


@dataclass(frozen=True)
class LocalDays:
    """Local calendar days of `tz` on one backend (`duckdb`, `postgres` or `pyspark`)."""

    tz: str
    backend: str

    def wall(self, ts: Any) -> Any:
        """The local wall-clock time of a naive-UTC timestamp."""
        if self.tz == "UTC":
            return ts
        zone = ibis.literal(self.tz)
        if self.backend == "pyspark":
            return _from_utc(ts, zone)
        return _timezone(zone, _timezone(ibis.literal("UTC"), ts))

    def utc(self, wall: Any) -> Any:
        """The naive-UTC instant of a local wall-clock time."""
        if self.tz == "UTC":
            return wall
        zone = ibis.literal(self.tz)
        if self.backend == "pyspark":
            return _to_utc(wall, zone)
        return _timezone(ibis.literal("UTC"), _timezone(zone, wall))

    def date(self, ts: Any) -> Any:
        """The local calendar date of a naive-UTC timestamp."""
        return self.wall(ts).date()

    def day_start(self, ts: Any, days: int) -> Any:
        """When local day `date(ts) + days` begins, as naive UTC."""
        return self.date_start(self.date(ts), days)

    def date_start(self, day: Any, days: int = 0) -> Any:
        """When the local date `day + days` begins, as naive UTC."""
        midnight = day.cast("timestamp")
        if days:
            midnight = midnight + ibis.interval(days=days)
        return self.utc(midnight)


def backend_of(con: Any) -> str:
    """The backend name of an Ibis connection (DuckDB when it cannot tell)."""
    name = str(getattr(con, "name", "duckdb"))
    return name if name in BACKENDS else "duckdb"
