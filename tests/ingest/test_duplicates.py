"""Copies of a key within one file, and re-importing the same file."""

from __future__ import annotations

import pytest

from .harness import Harness, csv

SURVEY = csv(
    "response_id,account_id,survey,score,responded_at",
    "R1,A1,nps,9,2024-01-01",  # row 2
    "R1,A1,nps,9,2024-01-01",  # row 3: identical copy
    "R1, A1 ,NPS,9.0,2024-01-01 00:00:00",  # row 4: identical once typed
    "R2,A1,nps,3,2024-01-02",  # row 5
    "R2,A1,nps,4,2024-01-02",  # row 6: conflicting copy
    "R3,A1,nps,10,2024-01-03",  # row 7
    "R4,A1,nps,11,2024-01-04",  # row 8: invalid
)


def test_identical_copies_count_once_and_conflicting_copies_are_all_quarantined(
    db: Harness,
) -> None:
    report = db.load("survey_responses", SURVEY)
    assert (report.read, report.inserted, report.duplicate, report.rejected) == (7, 2, 2, 3)
    assert report.balanced
    assert {k: r["score"] for k, r in db.by_key("survey_responses").items()} == {"R1": 9, "R3": 10}
    rejected = [(r.row_number, r.column_name) for r in db.quarantine()]
    assert rejected == [(5, "response_id"), (6, "response_id"), (8, "score")]
    reasons = [r.reason for r in db.quarantine()[:2]]
    assert reasons == ["conflicting copies of this key in the file (rows 5, 6)"] * 2


def test_conflicting_copies_in_a_file_do_not_touch_the_stored_row(db: Harness) -> None:
    db.load("tickets", csv("ticket_id,account_id,opened_at,status", "T1,A1,2024-01-01,open"))
    report = db.load("tickets", csv(
        "ticket_id,account_id,opened_at,status",
        "T1,A1,2024-01-01,solved",
        "T1,A1,2024-01-01,closed",
    ))  # fmt: skip
    assert (report.updated, report.rejected) == (0, 2)
    assert db.by_key("tickets")["T1"]["status"] == "open"
    assert db.count("_revisions") == 0


def test_compound_keys_are_compared_whole(db: Harness) -> None:
    report = db.load("revenue", csv(
        "account_id,month,mrr",
        "A1,2024-01-01,10", "A1,2024-02-01,10", "A2,2024-01-01,10", "A1,2024-01-15,10",
    ))  # fmt: skip
    # 2024-01-15 is month 2024-01-01: an identical copy of the first row
    assert (report.inserted, report.duplicate) == (3, 1)


def test_reimporting_the_same_file_changes_nothing(db: Harness) -> None:
    first = db.load("survey_responses", SURVEY)
    before = db.snapshot()
    second = db.load("survey_responses", SURVEY)
    assert (second.read, second.inserted, second.updated) == (7, 0, 0)
    # the first import's rows are now duplicates too; in-file conflicts and invalid rows again rejected
    assert (second.duplicate, second.rejected) == (first.duplicate + first.inserted, first.rejected)
    assert second.balanced
    after = db.snapshot()
    # the quarantine logs the second import's rejects again, identical but for the import id
    again = [r for r in after.pop("_quarantine") if r["import_id"] == second.import_id]
    first_rejects = before.pop("_quarantine")
    assert len(again) == len(first_rejects) == 3
    assert [{**r, "import_id": ""} for r in again] == [
        {**r, "import_id": ""} for r in first_rejects
    ]
    assert after == before


@pytest.mark.parametrize(
    ("table", "text"),
    [
        ("accounts", csv("account_id,name,segment,created_at,Employee Count",
                         "A1,Acme,smb,2024-01-01,10", "A2,Beta,,2024-02-01 10:00,")),
        ("tickets", csv("ticket_id,account_id,opened_at,priority,resolved_at",
                        "T1,A1,2024-01-01 09:00,P1,2024-01-02", "T2,A9,2024-01-03,,")),
        ("revenue", csv("account_id,month,mrr", "A1,2024-01,10.10", "A1,2024-02,0")),
        ("asks", csv("ask_id,account_id,ask_type,asked_at,incentive_offered",
                     "K1,A1,review,2024-01-01,yes", "K2,A1,survey,2024-01-02,")),
        ("account_aliases", csv("source,external_id,account_id", "zendesk,1,A1", "hubspot,1,A1")),
    ],
    ids=["entity", "mutable-fact", "compound-key", "ledger", "aliases"],
)  # fmt: skip
def test_reimport_is_a_no_op_for_every_table_kind(db: Harness, table: str, text: str) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-01"))
    db.load(table, text)
    before = db.snapshot()
    report = db.load(table, text)
    assert report.inserted == report.updated == report.rejected == report.conflicting == 0
    assert report.unchanged + report.duplicate == report.read == 2
    assert report.warnings == []
    assert db.snapshot() == before


def test_conflicting_copies_keep_the_original_strings_as_raw(db: Harness) -> None:
    db.load("survey_responses", SURVEY)
    header = ("response_id", "account_id", "survey", "score", "responded_at")
    assert [r.raw for r in db.quarantine()[:2]] == [
        dict(zip(header, ("R2", "A1", "nps", "3", "2024-01-02"), strict=True)),
        dict(zip(header, ("R2", "A1", "nps", "4", "2024-01-02"), strict=True)),
    ]


def test_copies_differing_in_an_extra_account_column_conflict(db: Harness) -> None:
    report = db.load("accounts", csv(
        "account_id,created_at,Employee Count", "A1,2024-01-01,10", "A1,2024-01-01,11",
    ))  # fmt: skip
    assert (report.inserted, report.duplicate, report.rejected) == (0, 0, 2)
