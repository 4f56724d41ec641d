"""CSV number, date and time columns are typed while parsing (the fast path); whatever the path,
the stored rows and the rejects are those of reading the file as text."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from advocacy.ingest.columns import parsed_types
from advocacy.ingest.mapping import ColumnRule, Mapping, OutputSpec, ReadOptions
from advocacy.ingest.readers import open_raw

from .harness import Harness, csv


def test_parsed_types_cover_numbers_dates_and_flags_not_times() -> None:
    # DuckDB's CSV reader turns a time it cannot parse into NULL, and ignores offsets: times
    # stay text, whatever the zones.
    header = ["ticket_id", "account_id", "opened_at", "resolved_at", "reopened"]
    assert parsed_types(Mapping.identity("tickets"), header) == {"reopened": "DOUBLE"}
    header = ["account_id", "created_at", "is_test", "renewal_date", "seats"]
    assert parsed_types(Mapping.identity("accounts"), header) == {
        "is_test": "BOOLEAN", "renewal_date": "DATE",
    }  # fmt: skip


def test_rules_that_read_text_keep_their_column_as_text() -> None:
    rules = {
        "score": ColumnRule(column="Score", values=(("n/a", None),)),
        "responded_at": ColumnRule(column="When", formats=("%d/%m/%Y",)),
    }
    mapping = Mapping("m", {"survey_responses": OutputSpec("survey_responses", rules)})
    assert parsed_types(mapping, ["Score", "When", "account_id"]) == {}
    with_sql = Mapping(
        "m",
        {"survey_responses": OutputSpec("survey_responses", {"score": ColumnRule(sql="x + 1")})},
    )
    assert parsed_types(with_sql, ["x", "score"]) == {}


TICKETS = csv(
    "ticket_id,account_id,opened_at,first_response_at,resolved_at,reopened,priority",
    "T1,A1,2024-03-01 10:00:00,2024-03-01T12:30:00Z,2024-03-02,2,high",
    "T2,A1,2024-03-01T10:00:00+02:00,,,1e0,low",
    "T3,A2,2024-03-05 23:59:59.5,2024-03-06 08:00:00,,,",
)


def test_a_clean_csv_takes_the_typed_path_and_a_doubtful_one_does_not(tmp_path: Path) -> None:
    hints = partial(parsed_types, Mapping.identity("tickets"))
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    clean, doubtful = tmp_path / "clean.csv", tmp_path / "doubtful.csv"
    clean.write_text(TICKETS)
    doubtful.write_text(TICKETS.replace(",2,high", ",two,high"))
    raw = open_raw(con, clean, view="raw", file_format=None, options=ReadOptions(),
                   scratch=tmp_path, hints=hints)  # fmt: skip
    assert raw.parsed
    assert (raw.columns["opened_at"], raw.columns["reopened"]) == ("VARCHAR", "DOUBLE")
    raw = open_raw(con, doubtful, view="raw", file_format=None, options=ReadOptions(),
                   scratch=tmp_path, hints=hints)  # fmt: skip
    assert not raw.parsed
    assert set(raw.columns.values()) == {"VARCHAR"}


def test_typed_csv_stores_what_the_text_reading_does(db: Harness) -> None:
    db.load("tickets", TICKETS)
    rows = db.by_key("tickets")
    assert rows["T1"]["opened_at"] == datetime(2024, 3, 1, 10)
    assert rows["T1"]["first_response_at"] == datetime(2024, 3, 1, 12, 30)
    assert rows["T1"]["resolved_at"] == datetime(2024, 3, 2)
    assert rows["T1"]["reopened"] == 2
    assert rows["T2"]["opened_at"] == datetime(2024, 3, 1, 8)  # +02:00 converted to UTC
    assert rows["T2"]["reopened"] == 1
    assert rows["T3"]["opened_at"] == datetime(2024, 3, 5, 23, 59, 59, 500000)
    assert rows["T3"]["first_response_at"] == datetime(2024, 3, 6, 8)
    assert rows["T3"]["reopened"] == 0  # the column's default
    assert db.quarantine() == []


def test_values_the_typed_reader_refuses_fall_back_to_text_rules(db: Harness) -> None:
    # "yes" is not a DuckDB boolean and "2024-05" not a date; the text rules accept both.
    report = db.load("accounts", csv(
        "account_id,created_at,is_test,renewal_date",
        "A1,2024-01-01,yes,2024-05",
        "A2,2024-01-01,0,2025-01-15",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (2, 0)
    rows = db.by_key("accounts")
    assert (rows["A1"]["is_test"], rows["A1"]["renewal_date"]) == (True, date(2024, 5, 1))
    assert (rows["A2"]["is_test"], rows["A2"]["renewal_date"]) == (False, date(2025, 1, 15))


def test_a_fractional_count_is_rejected_with_its_own_text(db: Harness) -> None:
    report = db.load("usage", csv(
        "account_id,week,active_users",
        "A1,2024-03-04,3.50",
        "A1,2024-03-11,4",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    [bad] = db.quarantine()
    assert (bad.row_number, bad.column_name) == (2, "active_users")
    assert bad.reason == 'active_users: "3.50" is not a whole number'
    assert bad.raw == {"account_id": "A1", "week": "2024-03-04", "active_users": "3.50"}


def test_a_fractional_count_in_parquet_is_rejected_not_rounded(db: Harness, tmp_path: Path) -> None:
    # The typed value (a whole number) must not stand in for the file's own value in checks.
    path = tmp_path / "usage.parquet"
    pq.write_table(
        pa.table({"account_id": ["A1", "A1"], "week": [date(2024, 3, 4), date(2024, 3, 11)],
                  "active_users": [3.5, 4.0], "seats": [10.0, -1.0]}),
        path,
    )  # fmt: skip
    report = db.load("usage", path, name="usage.parquet")
    assert (report.inserted, report.rejected) == (0, 2)
    reasons = [r.reason for r in db.quarantine()]
    assert reasons == ['active_users: "3.5" is not a whole number', 'seats: "-1.0" is below 0']


@pytest.mark.parametrize("second_header", ["week,account_id,active_users", "account_id,week"])
def test_files_with_different_headers_are_read_by_name(
    db: Harness, tmp_path: Path, second_header: str
) -> None:
    folder = tmp_path / "usage"
    folder.mkdir()
    (folder / "a.csv").write_text(csv("account_id,week,active_users", "A1,2024-03-04,3"))
    second = {"week,account_id,active_users": "2024-03-11,A2,5", "account_id,week": "A2,2024-03-11"}
    (folder / "b.csv").write_text(csv(second_header, second[second_header]))
    report = db.load("usage", folder)
    rows = db.by_key("usage")
    if second_header == "account_id,week":  # active_users is required
        assert (report.inserted, report.rejected) == (1, 1)
        [bad] = db.quarantine()
        assert (bad.source_file, bad.row_number) == ("b.csv", 2)
        return
    assert report.inserted == 2
    assert rows[("A2", date(2024, 3, 11))]["active_users"] == 5


@pytest.mark.parametrize("content", [TICKETS, TICKETS.replace(",2,high", ",two,high")])
def test_csv_imports_fit_a_small_memory_limit(tmp_path: Path, content: str) -> None:
    # DuckDB's default CSV buffer (16 × the 64 MB line limit) alone exceeded such a limit.
    from advocacy.workspace import open_workspace

    (tmp_path / "advocacy.toml").write_text('[store]\nmemory_limit = "500MB"\n')
    folder = tmp_path / "tickets"
    folder.mkdir()
    (folder / "a.csv").write_text(content)
    (folder / "b.csv").write_text(content.replace("\nT", "\nU"))
    with open_workspace(tmp_path, create=True) as ws:
        [report] = ws.import_files([folder], table="tickets")
    assert (report.inserted, report.rejected) == ((6, 0) if ",2,high" in content else (4, 2))
