"""Timestamps are stored as naive UTC: naive = UTC (or the mapping's source_timezone), zoned converted."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from advocacy.config import CalendarSettings
from advocacy.ingest.mapping import Mapping, parse_mapping

from .harness import Harness, csv


def created(db: Harness) -> dict[str, datetime]:
    return {k: r["created_at"] for k, r in db.by_key("accounts").items()}


def source_tz(zone: str) -> Mapping:
    return parse_mapping({"source_timezone": zone, "outputs": {"accounts": {}}}, origin="t")


def test_naive_timestamps_are_utc(db: Harness) -> None:
    db.load("accounts", csv(
        "account_id,created_at",
        "A1,2024-03-10 12:00:00", "A2,2024-03-10T12:00", "A3,2024-07-01 23:59:59.250",
    ))  # fmt: skip
    assert created(db) == {
        "A1": datetime(2024, 3, 10, 12), "A2": datetime(2024, 3, 10, 12),
        "A3": datetime(2024, 7, 1, 23, 59, 59, 250000),
    }  # fmt: skip


def test_offsets_are_converted_to_utc(db: Harness) -> None:
    db.load("accounts", csv(
        "account_id,created_at",
        "A1,2024-03-10T12:00:00+02:00",
        "A2,2024-03-10T12:00:00Z",
        "A3,2024-03-10T12:00:00-05:30",
        "A4,2024-03-10T12:00:00+0200",
        "A5,2024-03-10T01:00:00+02:00",
        "A6,2024-03-10 12:00:00 UTC",
    ))  # fmt: skip
    assert created(db) == {
        "A1": datetime(2024, 3, 10, 10), "A2": datetime(2024, 3, 10, 12),
        "A3": datetime(2024, 3, 10, 17, 30), "A4": datetime(2024, 3, 10, 10),
        "A5": datetime(2024, 3, 9, 23),  # crosses midnight backwards
        "A6": datetime(2024, 3, 10, 12),
    }  # fmt: skip


def test_source_timezone_applies_to_naive_values_only(db: Harness) -> None:
    db.load("accounts", csv(
        "account_id,created_at",
        "A1,2024-01-15 12:00:00",  # EST, UTC−5
        "A2,2024-07-01 00:00:00",  # EDT, UTC−4
        "A3,2024-03-10 03:30:00",  # just after the spring-forward gap
        "A4,2024-03-10T12:00:00+02:00",  # zoned: the mapping's zone does not apply
        "A5,2024-03-10T12:00:00Z",
    ), mapping=source_tz("America/New_York"))  # fmt: skip
    assert created(db) == {
        "A1": datetime(2024, 1, 15, 17), "A2": datetime(2024, 7, 1, 4),
        "A3": datetime(2024, 3, 10, 7, 30), "A4": datetime(2024, 3, 10, 10),
        "A5": datetime(2024, 3, 10, 12),
    }  # fmt: skip


def test_source_timezone_east_of_utc(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-01 00:30:00"),
            mapping=source_tz("Asia/Tokyo"))  # fmt: skip
    assert created(db) == {"A1": datetime(2023, 12, 31, 15, 30)}


def test_date_only_values_are_midnight_in_the_business_zone(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at,renewal_date", "A1,2024-01-15,2025-01-15"))
    row = db.by_key("accounts")["A1"]
    assert row["created_at"] == datetime(2024, 1, 15)
    assert row["renewal_date"] == date(2025, 1, 15)


def test_date_only_values_with_a_business_zone(db: Harness) -> None:
    db.settings = replace(db.settings, calendar=CalendarSettings(timezone="Europe/Berlin"))
    db.load("accounts", csv(
        "account_id,created_at,renewal_date",
        "A1,2024-01-15,2025-01-15",  # a date: midnight in Berlin (UTC+1)
        "A2,2024-07-15,",  # summer: UTC+2
        "A3,2024-01-15 00:00:00,",  # a naive timestamp is still UTC
    ))  # fmt: skip
    assert created(db) == {
        "A1": datetime(2024, 1, 14, 23), "A2": datetime(2024, 7, 14, 22), "A3": datetime(2024, 1, 15),
    }  # fmt: skip
    assert db.by_key("accounts")["A1"]["renewal_date"] == date(2025, 1, 15)


def test_timestamp_formats_from_a_mapping(db: Harness) -> None:
    mapping = parse_mapping({"outputs": {"accounts": {"columns": {
        "created_at": {"column": "Created", "formats": ["%d/%m/%Y %H:%M", "%d/%m/%Y"]},
    }}}}, origin="t")  # fmt: skip
    report = db.load("accounts", csv(
        "account_id,Created", "A1,31/01/2024 13:45", "A2,01/02/2024", "A3,2024-02-01",
    ), mapping=mapping)  # fmt: skip
    assert (report.inserted, report.rejected) == (2, 1)
    assert created(db) == {"A1": datetime(2024, 1, 31, 13, 45), "A2": datetime(2024, 2, 1)}
    assert "expected formats: %d/%m/%Y %H:%M, %d/%m/%Y" in db.quarantine()[0].reason


def test_ambiguous_us_dates_are_rejected_not_guessed(db: Harness) -> None:
    report = db.load("accounts", csv("account_id,created_at", "A1,03/04/2024"))
    assert (report.inserted, report.rejected) == (0, 1)


def test_date_only_ignores_the_source_timezone_in_a_business_zone(db: Harness) -> None:
    """With a business zone other than UTC, date-only values ignore the source zone."""
    db.settings = replace(db.settings, calendar=CalendarSettings(timezone="Europe/Berlin"))
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-15", "A2,2024-01-15 00:00:00"),
            mapping=source_tz("America/New_York"))  # fmt: skip
    assert created(db) == {"A1": datetime(2024, 1, 14, 23), "A2": datetime(2024, 1, 15, 5)}


def test_date_only_ignores_the_source_timezone_in_the_default_business_zone(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-15"),
            mapping=source_tz("America/New_York"))  # fmt: skip
    assert created(db) == {"A1": datetime(2024, 1, 15)}


def test_value_zoned_by_name_ignores_the_source_timezone(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-03-10 12:00:00 UTC"),
            mapping=source_tz("America/New_York"))  # fmt: skip
    assert created(db) == {"A1": datetime(2024, 3, 10, 12)}
