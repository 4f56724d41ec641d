"""Instants given on the command line or the API, stored as naive UTC (DESIGN §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from advocacy.errors import UserError
from advocacy.metrics.calendar import end_of_day, utc_instant


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_instant(value: str | datetime | date | None, tz: str, *, what: str = "--at") -> datetime:
    """Naive UTC from ISO text: zoned values are converted, naive ones are UTC, a bare date is
    the start of that day in the business time zone; None is now. More than a day ahead is
    refused, as imports refuse it."""
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
    else:
        parsed = value
    if not isinstance(parsed, datetime):
        instant = utc_instant(parsed, ZoneInfo(tz))
    elif parsed.tzinfo is not None:
        instant = parsed.astimezone(UTC).replace(tzinfo=None)
    else:
        instant = parsed
    if instant > utcnow() + timedelta(days=1):
        raise UserError(f"{what} {instant:%Y-%m-%d %H:%M} UTC is more than a day in the future")
    return instant


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


def local_text(instant: datetime, tz: str) -> str:
    """An instant as the business time zone shows it: the date alone at a local midnight."""
    local = instant.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))
    if local.hour == local.minute == local.second == 0:
        return f"{local:%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}"
