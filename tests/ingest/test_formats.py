"""Encodings and shapes: the same rows, however the file spells them, are stored identically."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from advocacy.schema import TABLES

from .harness import Harness, csv

HEADER = "account_id,name,segment,created_at"
# Two accounts: leading-zero ids, an accented name, a name with a comma and a line break.
EXPECTED = {
    "00001": {"name": "Café Zoé", "segment": "smb", "created_at": datetime(2024, 1, 1)},
    "00002": {"name": "Multi\nline, name", "segment": "ent", "created_at": datetime(2024, 2, 1, 10, 30)},
}  # fmt: skip
RECORDS = [
    {"account_id": "00001", "name": "Café Zoé", "segment": "smb", "created_at": "2024-01-01"},
    {"account_id": "00002", "name": "Multi\nline, name", "segment": "ent",
     "created_at": "2024-02-01 10:30:00"},
]  # fmt: skip
CSV_TEXT = csv(
    HEADER,
    "00001,Café Zoé,smb,2024-01-01",
    '00002,"Multi\nline, name",ent,2024-02-01 10:30:00',
)


def stored(db: Harness) -> dict[str, dict[str, Any]]:
    return {
        k: {c: r[c] for c in ("name", "segment", "created_at")}
        for k, r in db.by_key("accounts").items()
    }


def load_clean(db: Harness, content: str | bytes | Path, name: str, **kw: Any) -> None:
    report = db.load("accounts", content, name=name, **kw)
    assert (report.read, report.inserted, report.rejected) == (2, 2, 0), report
    assert db.count("_quarantine") == 0


def test_utf8(db: Harness) -> None:
    load_clean(db, CSV_TEXT, "utf8.csv")
    assert stored(db) == EXPECTED


def test_utf8_with_bom_still_matches_the_first_header(db: Harness) -> None:
    text = CSV_TEXT + "00003,Bad,smb,not-a-date\n"
    report = db.load("accounts", text.encode("utf-8-sig"), name="bom.csv")
    assert (report.inserted, report.rejected) == (2, 1)
    assert stored(db) == EXPECTED
    # the reject's raw row is keyed by the file's headers: the BOM is not part of the first one
    assert list(db.quarantine()[0].raw) == ["account_id", "name", "segment", "created_at"]


def test_latin1(db: Harness) -> None:
    load_clean(db, CSV_TEXT.encode("latin-1"), "latin1.csv")
    assert stored(db)["00001"]["name"] == "Café Zoé"
    assert stored(db) == EXPECTED


def test_utf16_with_bom(db: Harness) -> None:
    load_clean(db, CSV_TEXT.encode("utf-16"), "utf16.csv")
    assert stored(db) == EXPECTED


def test_semicolon_delimited(db: Harness) -> None:
    text = csv(
        HEADER.replace(",", ";"),
        "00001;Café Zoé;smb;2024-01-01",
        '00002;"Multi\nline, name";ent;2024-02-01 10:30:00',
    )
    load_clean(db, text, "semicolons.csv")
    assert stored(db) == EXPECTED


def test_tab_delimited(db: Harness) -> None:
    text = csv(HEADER.replace(",", "\t"), "00001\tCafé Zoé\tsmb\t2024-01-01",
               '00002\t"Multi\nline, name"\tent\t2024-02-01 10:30:00')  # fmt: skip
    load_clean(db, text, "tabs.tsv")
    assert stored(db) == EXPECTED


def test_crlf_line_endings(db: Harness) -> None:
    text = (
        "account_id,created_at,name\r\n00001,2024-01-01,Café Zoé\r\n00002,2024-02-01 10:30,Beta\r\n"
    )
    load_clean(db, text, "crlf.csv")
    names = {k: r["name"] for k, r in db.by_key("accounts").items()}
    assert names == {"00001": "Café Zoé", "00002": "Beta"}  # no stray \r on the last column


def test_quoted_fields_keep_commas_quotes_and_line_breaks(db: Harness) -> None:
    text = csv(
        "account_id,created_at,name",
        'A1,2024-01-01,"Acme, ""The"" Company"',
        'A2,2024-01-01,"line one\nline two\nline three"',
        "A3,bad-date,x",
    )
    report = db.load("accounts", text)
    assert (report.read, report.inserted, report.rejected) == (3, 2, 1)
    names = {k: r["name"] for k, r in db.by_key("accounts").items()}
    assert names == {"A1": 'Acme, "The" Company', "A2": "line one\nline two\nline three"}
    # a record spanning lines is still one row: A3 is the 4th row, not the 6th line
    assert db.quarantine()[0].row_number == 4


def test_ids_with_leading_zeros_stay_strings(db: Harness) -> None:
    db.load(
        "accounts",
        csv("account_id,created_at", "00001,2024-01-01", "1,2024-01-01", "1e3,2024-01-01"),
    )
    assert sorted(db.by_key("accounts")) == ["00001", "1", "1e3"]
    db.load("revenue", csv("account_id,month,mrr", "00001,2024-01-01,10"))
    assert db.rows("SELECT account_id FROM revenue") == [("00001",)]


def test_json_array(db: Harness) -> None:
    load_clean(db, json.dumps(RECORDS), "accounts.json")
    assert stored(db) == EXPECTED


def test_ndjson(db: Harness) -> None:
    load_clean(db, "\n".join(json.dumps(r) for r in RECORDS) + "\n", "accounts.ndjson")
    assert stored(db) == EXPECTED


def test_parquet_with_string_columns(db: Harness, tmp_path: Path) -> None:
    path = tmp_path / "accounts.parquet"
    pq.write_table(pa.Table.from_pylist(RECORDS), path)
    load_clean(db, path, "accounts.parquet")
    assert stored(db) == EXPECTED


def test_parquet_with_native_types(db: Harness, tmp_path: Path) -> None:
    table = pa.table({
        "account_id": ["00001", "00002"],
        "name": ["Café Zoé", "Multi\nline, name"],
        "segment": ["smb", "ent"],
        "created_at": pa.array([datetime(2024, 1, 1), datetime(2024, 2, 1, 10, 30)], pa.timestamp("us")),
        "is_test": [False, True],
    })  # fmt: skip
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    load_clean(db, path, "typed.parquet")
    assert stored(db) == EXPECTED
    assert {k: r["is_test"] for k, r in db.by_key("accounts").items()} == {
        "00001": False,
        "00002": True,
    }


def test_file_format_option_overrides_the_extension(db: Harness) -> None:
    load_clean(db, json.dumps(RECORDS), "export.txt", file_format="json")
    assert stored(db) == EXPECTED


SURVEY_ROWS: list[dict[str, Any]] = [
    {"response_id": "0001", "account_id": "007", "survey": "nps", "score": "9",
     "responded_at": "2024-03-10T12:00:00+02:00", "comment": "très bien"},
    {"response_id": "0002", "account_id": "007", "survey": "csat", "score": "4.5",
     "responded_at": "2024-03-11 08:00:00", "comment": None},
]  # fmt: skip


def _survey_files(folder: Path) -> dict[str, Path]:
    """The same two responses as CSV, JSON, NDJSON, and Parquet with native types."""
    files = {name: folder / name for name in ("r.csv", "r.json", "r.ndjson", "r.parquet")}
    header = list(SURVEY_ROWS[0])
    lines = [",".join(header)] + [",".join(r[c] or "" for c in header) for r in SURVEY_ROWS]
    files["r.csv"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    typed = [{**r, "score": float(r["score"] or 0)} for r in SURVEY_ROWS]
    files["r.json"].write_text(json.dumps(typed), encoding="utf-8")
    files["r.ndjson"].write_text("\n".join(json.dumps(r) for r in typed) + "\n", encoding="utf-8")
    pq.write_table(pa.table({
        **{c: [r[c] for r in typed] for c in header if c not in ("score", "responded_at")},
        "score": pa.array([9, 4.5], pa.float64()),
        "responded_at": pa.array([datetime(2024, 3, 10, 10), datetime(2024, 3, 11, 8)], pa.timestamp("us", tz="UTC")),
    }), files["r.parquet"])  # fmt: skip
    return files


@pytest.mark.parametrize("fmt", ["r.json", "r.ndjson", "r.parquet"])
def test_every_format_stores_the_same_rows_as_csv(db: Harness, tmp_path: Path, fmt: str) -> None:
    files = _survey_files(tmp_path)
    db.load("survey_responses", files["r.csv"])
    from_csv = db.table("survey_responses")
    assert [(r["response_id"], r["responded_at"]) for r in from_csv] == [
        ("0001", datetime(2024, 3, 10, 10)), ("0002", datetime(2024, 3, 11, 8)),
    ]  # fmt: skip
    db.execute("DELETE FROM survey_responses")
    report = db.load("survey_responses", files[fmt])
    assert (report.read, report.inserted) == (2, 2)
    assert db.table("survey_responses") == from_csv


def test_windows_1252(db: Harness) -> None:
    name = "Don’t pay €5 – “Acme”"
    text = csv("account_id,created_at,name", f"A1,2024-01-01,{name}", "A2,2024-01-01,Zoé")
    report = db.load("accounts", text.encode("cp1252"), name="excel.csv")
    assert report.inserted == 2
    assert {k: r["name"] for k, r in db.by_key("accounts").items()} == {"A1": name, "A2": "Zoé"}


def test_trailing_delimiter_adds_no_account_column(db: Harness) -> None:
    db.load("accounts", "account_id,created_at,\nA1,2024-01-01,\n")
    assert db.columns("accounts") == list(TABLES["accounts"].names)
