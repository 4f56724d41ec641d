"""A file that cannot be imported at all: a UserError naming the problem, and nothing written."""

from __future__ import annotations

import random

import pytest

from advocacy.errors import UserError

from .harness import Harness, csv

ACCOUNTS_OK = csv("account_id,created_at", "A1,2024-01-01")


def _random_binary() -> bytes:
    rng = random.Random(20240101)
    data = bytearray(rng.randbytes(4096))
    data[0:2] = b"\x89P"  # no UTF-16 byte-order mark by chance
    data[10] = 0
    return bytes(data)


def assert_nothing_written(db: Harness, table: str) -> None:
    assert db.count(table) == 0
    assert db.count("_quarantine") == 0
    assert db.scalar("SELECT count(*) FROM _imports WHERE status <> 'failed'") == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("empty.csv", b"", r"empty\.csv: the file is empty", id="empty"),
        pytest.param("garbage.csv", _random_binary(), r"garbage\.csv: .*binary file",
                     id="binary-garbage"),
        pytest.param("not.json", '{"account_id": "A1", "created_at": ', r"not\.json: cannot read as json",
                     id="json-that-is-not-json"),
        pytest.param("not.ndjson", "account_id,created_at\nA1,2024-01-01\n",
                     r"not\.ndjson: cannot read as ndjson", id="ndjson-that-is-csv"),
        pytest.param("fake.parquet", ACCOUNTS_OK, r"fake\.parquet: not a Parquet file",
                     id="parquet-that-is-csv"),
        pytest.param("broken.parquet", b"PAR1" + b"\x01" * 64 + b"PAR1",
                     r"broken\.parquet: cannot read as parquet", id="parquet-truncated"),
        pytest.param("data.xlsx", ACCOUNTS_OK, r"cannot tell the file format.*--file-format",
                     id="unknown-extension"),
    ],
)  # fmt: skip
def test_unreadable_file_is_a_user_error(db: Harness, name: str, content: str | bytes,
                                         message: str) -> None:  # fmt: skip
    with pytest.raises(UserError, match=message):
        db.load("accounts", content, name=name)
    assert_nothing_written(db, "accounts")


def test_failure_is_logged_as_failed_with_its_message(db: Harness) -> None:
    with pytest.raises(UserError):
        db.load("accounts", b"", name="empty.csv")
    rows = db.rows('SELECT table_name, status, "read", inserted, warnings FROM _imports')
    assert len(rows) == 1
    table_name, status, read, inserted, warnings = rows[0]
    assert (table_name, status, read, inserted) == ("accounts", "failed", 0, 0)
    assert "the file is empty" in warnings


def test_missing_required_column_is_named(db: Harness) -> None:
    with pytest.raises(UserError) as info:
        db.load("accounts", csv("account_id,name", "A1,Acme"))
    message = str(info.value)
    assert "missing required column(s) for accounts: created_at;" in message
    assert "the file has: account_id, name" in message
    assert_nothing_written(db, "accounts")


def test_missing_required_columns_of_a_fact_table_are_all_named(db: Harness) -> None:
    with pytest.raises(
        UserError, match=r"missing required column\(s\) for tickets: account_id, opened_at;"
    ):
        db.load("tickets", csv("ticket_id,status", "T1,open"))
    assert_nothing_written(db, "tickets")


def test_unknown_table_lists_the_known_ones(db: Harness) -> None:
    with pytest.raises(
        UserError, match=r"unknown table 'acounts'; the tables are: accounts, "
    ) as info:
        db.load("acounts", ACCOUNTS_OK)
    assert "survey_responses" in str(info.value)
    assert db.count("_quarantine") == 0


def test_no_matching_headers_at_all(db: Harness) -> None:
    with pytest.raises(UserError) as info:
        db.load("accounts", csv("foo,bar", "1,2", "3,4"))
    message = str(info.value)
    assert "account_id, created_at" in message
    assert "foo, bar" in message
    assert_nothing_written(db, "accounts")


def test_json_without_records_is_a_user_error(db: Harness) -> None:
    with pytest.raises(UserError, match="missing required column"):
        db.load("accounts", "[1, 2, 3]", name="numbers.json")
    assert_nothing_written(db, "accounts")


def test_unknown_file_format_option(db: Harness) -> None:
    with pytest.raises(UserError, match=r"unknown --file-format 'xls'"):
        db.load("accounts", ACCOUNTS_OK, file_format="xls")
    assert_nothing_written(db, "accounts")


def test_a_failed_import_leaves_earlier_data_alone(db: Harness) -> None:
    db.load("accounts", ACCOUNTS_OK)
    before = db.snapshot()
    with pytest.raises(UserError):
        db.load("accounts", csv("account_id,name", "A2,Beta"))
    assert db.snapshot() == before
