"""Edge cases a review found: whatever path a file takes (typed CSV, text, transcoded,
several files), it stores and reports what reading it as text does."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from advocacy.ingest.mapping import Mapping, OutputSpec

from .harness import Harness, csv


def test_unparseable_optional_timestamp_is_rejected_not_silently_nulled(db: Harness) -> None:
    """A value in an optional timestamp column that is not a timestamp must be quarantined
    ('resolved_at: "N/A" is not a timestamp'), exactly as the text path does (the same file
    with one junk number forces the text path and rejects the row).

    Cause: DuckDB's CSV reader turns an unparseable TIMESTAMPTZ into NULL instead of failing,
    so `_sniffed_once` never falls back to text and the row is stored with resolved_at NULL.
    """
    report = db.load("tickets", csv(
        "ticket_id,account_id,opened_at,resolved_at",
        "T1,A1,2024-03-01 10:00:00,N/A",
        "T2,A1,2024-03-02 10:00:00,2024-03-03 10:00:00",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    [bad] = db.quarantine()
    assert (bad.row_number, bad.column_name) == (2, "resolved_at")
    assert bad.reason == 'resolved_at: "N/A" is not a timestamp'
    assert db.by_key("tickets")["T2"]["resolved_at"] == datetime(2024, 3, 3, 10)


def test_extra_account_column_keeps_its_text_when_another_output_types_it(db: Harness) -> None:
    """A raw column kept as an extra (text) account column must hold the file's own string
    ("3"), as the text path stores it, even when another output of the same mapping reads that
    column as a number.

    Cause: `parsed_types` only looks at canonical columns, so "active_users" is typed DOUBLE for
    the usage output and the accounts output's extra column stores CAST(3.0 AS VARCHAR) = "3.0"
    (a later import of the same data on the text path then "updates" every account).
    """
    mapping = Mapping(
        "m", {"accounts": OutputSpec("accounts", keep_extras=True), "usage": OutputSpec("usage")}
    )
    reports = db.load_all(None, csv(
        "account_id,created_at,week,active_users",
        "A1,2024-01-01,2024-03-04,3",
        "A2,2024-01-01,2024-03-11,4",
    ), mapping=mapping)  # fmt: skip
    assert [r.inserted for r in reports] == [2, 2]
    rows = db.by_key("accounts")
    assert (rows["A1"]["active_users"], rows["A2"]["active_users"]) == ("3", "4")


def test_a_csv_column_named_file_no_can_still_be_imported(db: Harness) -> None:
    """A file with a column named "_file_no" imports like any other (it is ignored with a
    warning), and its rejects are quarantined.

    Cause: `_create_view` numbered files in a column of that name, which the file's own column
    shadowed.
    """
    report = db.load("usage", csv(
        "account_id,week,active_users,_file_no",
        "A1,2024-03-04,3,x",
        "A2,2024-03-04,-3,y",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    [bad] = db.quarantine()
    assert (bad.source_file, bad.row_number) == ("data.csv", 3)


def test_quarantine_names_a_windows_1252_file_by_its_own_name(db: Harness) -> None:
    """Rejects of a file that is transcoded (windows-1252 here, because of the euro sign) are
    quarantined under the file's own name, "data.csv".

    Cause: `_create_view` takes `_file` names from the transcoded scratch copies
    (`transcode` writes "<stem>.utf8<suffix>"), so the quarantine says "data.utf8.csv", a file
    the user never had.
    """
    content = csv("account_id,week,active_users", "A€1,2024-03-04,3", "A2,2024-03-04,-4")
    report = db.load("usage", content.encode("cp1252"))
    assert (report.inserted, report.rejected) == (1, 1)
    [bad] = db.quarantine()
    assert (bad.source_file, bad.row_number) == ("data.csv", 3)


def test_ledger_rejects_in_a_folder_name_the_file_and_its_row(db: Harness, tmp_path: Path) -> None:
    """A ledger row that changes on re-import is quarantined with the file it came from and its
    row in that file (b.csv, row 3), like every other reject of a multi-file folder.

    Cause: `merge._reject_ledger_changes` writes `job.file_name` (the folder's name, "asks")
    and `_row` (the row's number across the whole listing, 5) instead of `_file`/`_line`.
    """
    folder = tmp_path / "asks"
    folder.mkdir()
    header = "ask_id,account_id,ask_type,asked_at"
    (folder / "a.csv").write_text(csv(header, "K1,A1,review,2024-03-01", "K2,A1,review,2024-03-01"))
    (folder / "b.csv").write_text(csv(header, "K3,A1,review,2024-03-01", "K4,A1,review,2024-03-01"))
    db.load("asks", folder)
    (folder / "b.csv").write_text(csv(header, "K3,A1,review,2024-03-01", "K4,A2,review,2024-03-01"))
    report = db.load("asks", folder)
    assert report.rejected == 1
    [bad] = db.quarantine()
    assert (bad.source_file, bad.row_number) == ("b.csv", 3)


def test_a_padded_optional_timestamp_is_stored_not_lost(db: Harness) -> None:
    """A valid time with spaces around it, " 2024-03-03 10:00 " (common in hand-edited
    exports), is stored as 2024-03-03 10:00 in an optional timestamp column, as the text path
    (which trims) stores it.

    Cause: as for "N/A" above: the CSV reader's TIMESTAMPTZ conversion does not trim and
    yields NULL instead of an error, so the value is silently dropped with no reject.
    """
    report = db.load("tickets", csv(
        "ticket_id,account_id,opened_at,resolved_at",
        "T1,A1,2024-03-01 10:00:00, 2024-03-03 10:00 ",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 0)
    assert db.by_key("tickets")["T1"]["resolved_at"] == datetime(2024, 3, 3, 10)


def test_a_count_too_large_for_a_whole_number_is_rejected_not_fatal(db: Harness) -> None:
    """A value beyond the 64-bit range in a count column is one reject, not a failed file."""
    report = db.load("usage", csv(
        "account_id,week,active_users",
        "A1,2024-03-04,99999999999999999999",
        "A1,2024-03-11,4",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    [bad] = db.quarantine()
    assert bad.reason == 'active_users: "99999999999999999999" is too large'
