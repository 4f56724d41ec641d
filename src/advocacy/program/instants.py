"""Instants given on the command line or the API, stored as naive UTC (DESIGN §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from advocacy.errors import UserError
from advocacy.metrics.calendar import end_of_day, utc_instant


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_instant(value: str | datetime | date | None, tz: str, *, what: str = "--at") -> datetime:
    """Naive UTC from ISO text: zoned values are converted, naive text is a wall time of the
    business time zone `tz` (as a bare date is the start of that day there); None is now. A
    `datetime` object without a zone is taken as naive UTC, the storage convention of the Python
    API. More than a day ahead is refused, as imports refuse it."""
    if value is None:
        return utcnow()
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: datetime | date = (
                date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
            )
        except ValueError:
            raise UserError(
                f"{what} '{value}' is not an ISO date or time (2026-03-01T14:30)"
            ) from None
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            parsed = _wall_to_utc(parsed, tz)
    else:
        parsed = value
    if not isinstance(parsed, datetime):
        instant = utc_instant(parsed, ZoneInfo(tz))
    elif parsed.tzinfo is not None:
        instant = parsed.astimezone(UTC).replace(tzinfo=None)
    else:
        instant = parsed
    if instant > utcnow() + timedelta(days=1):
        raise UserError(f"{what} {zoned_text(instant, tz)} is more than a day in the future")
    return instant


def _wall_to_utc(wall: datetime, tz: str) -> datetime:
    """A wall time of `tz` as an aware instant; in a gap or a fold the offset before the change
    applies, as `metrics.calendar.utc_instant` resolves local midnights."""
    return wall.replace(tzinfo=ZoneInfo(tz), fold=0).astimezone(UTC)


def as_of_instant(value: str | date | None, tz: str) -> datetime:
    """--as-of DATE: the end of that day in the business time zone; None is now."""
    if value is None:
        return utcnow()
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        raise UserError(f"--as-of '{value}' is not a date (YYYY-MM-DD)") from None
    from advocacy.config import CalendarSettings

    return end_of_day(day, CalendarSettings(timezone=tz))


def zoned_text(instant: datetime, tz: str) -> str:
    """A naive-UTC instant as a wall time of the business time zone, naming the zone."""
    local = instant.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))
    return f"{local:%Y-%m-%d %H:%M} {tz}"


def local_text(instant: datetime, tz: str) -> str:
    """An instant as the business time zone shows it: the date alone at a local midnight."""
    local = instant.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))
    if local.hour == local.minute == local.second == 0:
        return f"{local:%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}"
