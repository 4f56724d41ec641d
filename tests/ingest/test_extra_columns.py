"""Extra columns of an accounts file are kept, snake-cased; reserved names are refused."""

from __future__ import annotations

import pytest

from advocacy.errors import UserError
from advocacy.schema import TABLES

from .harness import Harness, csv

CANONICAL = list(TABLES["accounts"].names)


def test_extra_columns_are_kept_snake_cased(db: Harness) -> None:
    report = db.load("accounts", csv(
        "account_id,created_at,Employee Count,HQ Country,annualRevenue",
        "A1,2024-01-01,10,FR,1000",
        "A2,2024-01-01, 20 ,,",
    ))  # fmt: skip
    assert report.inserted == 2
    assert db.columns("accounts") == [*CANONICAL, "employee_count", "hq_country", "annual_revenue"]
    rows = db.by_key("accounts")
    assert [rows["A1"][c] for c in ("employee_count", "hq_country", "annual_revenue")] == [
        "10",
        "FR",
        "1000",
    ]
    assert [rows["A2"][c] for c in ("employee_count", "hq_country", "annual_revenue")] == [
        "20",
        None,
        None,
    ]


def test_extra_columns_get_history_and_updates(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at,Employee Count", "A1,2024-01-01,10"))
    report = db.load("accounts", csv("account_id,created_at,Employee Count", "A1,2024-01-01,12"))
    assert report.updated == 1
    assert db.by_key("accounts")["A1"]["employee_count"] == "12"
    values = db.rows(
        "SELECT value FROM _account_history WHERE column_name = 'employee_count' ORDER BY valid_from"
    )
    assert values == [("10",), ("12",)]


def test_a_later_file_may_add_more_extra_columns(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at,Employee Count", "A1,2024-01-01,10"))
    db.load("accounts", csv("account_id,created_at,Tier", "A2,2024-01-01,gold"))
    rows = db.by_key("accounts")
    assert (rows["A1"]["employee_count"], rows["A1"]["tier"]) == ("10", None)
    assert (rows["A2"]["employee_count"], rows["A2"]["tier"]) == (None, "gold")


@pytest.mark.parametrize("header", ["Value", "metric", "CI Low"])
def test_reserved_names_are_a_user_error(db: Harness, header: str) -> None:
    with pytest.raises(UserError, match="reserved for result fields") as info:
        db.load("accounts", csv(f"account_id,created_at,{header}", "A1,2024-01-01,5"))
    assert f"'{header}'" in str(info.value)
    assert db.count("accounts") == 0
    assert db.columns("accounts") == CANONICAL


def test_other_tables_ignore_extra_columns_with_a_warning(db: Harness) -> None:
    report = db.load(
        "tickets", csv("ticket_id,account_id,opened_at,Agent Name", "T1,A1,2024-01-01,Bob")
    )
    assert report.inserted == 1
    assert report.warnings == ["ignored column(s) not in tickets: Agent Name"]
    assert "agent_name" not in db.columns("tickets")
