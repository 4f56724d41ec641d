"""Row-level validation: bad rows go to quarantine with row, column and reason; good rows land.

Row numbers are what a spreadsheet shows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .harness import Harness, Rejected, csv


def only_reject(db: Harness) -> Rejected:
    rejected = db.quarantine()
    assert len(rejected) == 1, rejected
    return rejected[0]


def test_rejects_carry_file_row_column_reason_and_raw(db: Harness) -> None:
    report = db.load("accounts", csv(
        "account_id,name,created_at",
        "A1,Acme,2024-01-01",
        "A2,Beta,yesterday",
        "A3,Gamma,2024-02-01",
    ), name="crm.csv")  # fmt: skip
    assert (report.read, report.inserted, report.rejected) == (3, 2, 1)
    assert report.balanced
    bad = only_reject(db)
    assert (bad.import_id, bad.table_name, bad.source_file) == (
        report.import_id,
        "accounts",
        "crm.csv",
    )
    assert (bad.row_number, bad.column_name) == (3, "created_at")
    assert bad.reason == 'created_at: "yesterday" is not a timestamp'
    assert bad.raw == {"account_id": "A2", "name": "Beta", "created_at": "yesterday"}
    assert sorted(db.by_key("accounts")) == ["A1", "A3"]


def test_raw_keeps_the_original_strings(db: Harness) -> None:
    db.load("survey_responses", csv(
        "response_id,account_id,survey,score,responded_at,comment",
        "00007, A1 ,NPS,11.50,2024-01-01T10:00:00+02:00,  spaced  ",
    ))  # fmt: skip
    assert only_reject(db).raw == {
        "response_id": "00007", "account_id": " A1 ", "survey": "NPS", "score": "11.50",
        "responded_at": "2024-01-01T10:00:00+02:00", "comment": "  spaced  ",
    }  # fmt: skip


def test_every_failing_column_is_named_in_the_reason(db: Harness) -> None:
    db.load("tickets", csv(
        "ticket_id,account_id,opened_at,priority,reopened",
        "T1,A1,not-a-time,whenever,-1",
    ))  # fmt: skip
    bad = only_reject(db)
    assert bad.column_name == "opened_at"  # the first failing column in table order
    for part in ("opened_at:", "priority:", "reopened:"):
        assert part in bad.reason
    assert db.count("tickets") == 0


def test_bad_timestamps(db: Harness) -> None:
    report = db.load("accounts", csv(
        "account_id,created_at",
        "A0,2024-01-01",
        "A1,2024-13-45",
        "A2,1989-12-31 23:59:59",
        "A3,1900-01-01",
        "A4,2999-01-01",
        "A5,1990-01-01 00:00:00",
    ))  # fmt: skip
    assert (report.read, report.inserted, report.rejected) == (6, 2, 4)
    assert [(r.row_number, r.column_name, r.reason) for r in db.quarantine()] == [
        (3, "created_at", 'created_at: "2024-13-45" is not a timestamp'),
        (4, "created_at", "created_at: 1989-12-31 23:59:59 is before 1990-01-01"),
        (5, "created_at", "created_at: 1900-01-01 00:00:00 is before 1990-01-01"),
        (6, "created_at", "created_at: 2999-01-01 00:00:00 is more than 1 day after the import"),
    ]
    assert sorted(db.by_key("accounts")) == ["A0", "A5"]


def test_future_limit_is_one_day_after_the_import(db: Harness) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    soon = (now + timedelta(hours=20)).strftime("%Y-%m-%d %H:%M:%S")
    late = (now + timedelta(hours=30)).strftime("%Y-%m-%d %H:%M:%S")
    report = db.load("accounts", csv("account_id,created_at", f"A1,{soon}", f"A2,{late}"))
    assert (report.inserted, report.rejected) == (1, 1)
    assert only_reject(db).raw["account_id"] == "A2"


def test_renewal_date_may_be_years_ahead_but_not_more_than_ten(db: Harness) -> None:
    year = datetime.now(UTC).year
    report = db.load("accounts", csv(
        "account_id,created_at,renewal_date",
        f"A1,2024-01-01,{year + 5}-06-30",
        f"A2,2024-01-01,{year + 11}-06-30",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    bad = only_reject(db)
    assert (bad.column_name, bad.raw["account_id"]) == ("renewal_date", "A2")
    assert "is more than 3653 days after the import" in bad.reason


SURVEY_HEADER = "response_id,account_id,survey,score,responded_at,scale_min,scale_max"


def test_bad_survey_scores(db: Harness) -> None:
    report = db.load("survey_responses", csv(
        SURVEY_HEADER,
        "R0,A1,nps,9,2024-01-01,,",
        "R1,A1,nps,11,2024-01-01,,",
        "R2,A1,nps,-1,2024-01-01,,",
        "R3,A1,nps,4,2024-01-01,1,5",
        "R4,A1,csat,6,2024-01-01,,",
        "R5,A1,csat,0,2024-01-01,,",
        "R6,A1,csat,8,2024-01-01,1,7",
        "R7,A1,ces,8,2024-01-01,,",
        "R8,A1,csat,3,2024-01-01,5,1",
        "R9,A1,nps,nine,2024-01-01,,",
        "R10,A1,pulse,5,2024-01-01,,",
    ))  # fmt: skip
    assert (report.read, report.inserted, report.rejected) == (11, 1, 10)
    got = [(r.row_number, r.column_name, r.reason) for r in db.quarantine()]
    assert got == [
        (3, "score", "score: 11.0 is outside the scale 0.0–10.0"),
        (4, "score", "score: -1.0 is outside the scale 0.0–10.0"),
        (5, "scale_max", "scale_max: NPS must be on the 0–10 scale, not 1.0–5.0"),
        (6, "score", "score: 6.0 is outside the scale 1.0–5.0"),
        (7, "score", "score: 0.0 is outside the scale 1.0–5.0"),
        (8, "score", "score: 8.0 is outside the scale 1.0–7.0"),
        (9, "score", "score: 8.0 is outside the scale 1.0–7.0"),
        (
            10,
            "scale_max",
            "scale_max: scale_min must be below scale_max; score: 3.0 is outside the scale 5.0–1.0",
        ),
        (11, "score", 'score: "nine" is not a number'),
        (12, "survey", 'survey: "pulse" is not one of: nps, csat, ces'),
    ]
    assert list(db.by_key("survey_responses")) == ["R0"]


def test_survey_scales_default_by_survey(db: Harness) -> None:
    db.load("survey_responses", csv(
        SURVEY_HEADER,
        "R1,A1,nps,0,2024-01-01,,", "R2,A1,nps,10,2024-01-01,,", "R3,A1,csat,1,2024-01-01,,",
        "R4,A1,csat,5,2024-01-01,,", "R5,A1,ces,7,2024-01-01,,", "R6,A1,csat,7,2024-01-01,1,7",
    ))  # fmt: skip
    got = {
        k: (r["score"], r["scale_min"], r["scale_max"])
        for k, r in db.by_key("survey_responses").items()
    }
    assert got == {
        "R1": (0, 0, 10), "R2": (10, 0, 10), "R3": (1, 1, 5), "R4": (5, 1, 5), "R5": (7, 1, 7),
        "R6": (7, 1, 7),
    }  # fmt: skip
    assert db.count("_quarantine") == 0


def test_bad_review_rating(db: Harness) -> None:
    report = db.load("advocacy_actions", csv(
        "action_id,account_id,action_type,occurred_at,rating",
        "X1,A1,review,2024-01-01,4.5",
        "X2,A1,review,2024-01-01,6",
        "X3,A1,review,2024-01-01,0.5",
        "X4,A1,review,2024-01-01,five",
        "X5,A1,review,2024-01-01,1",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (2, 3)
    assert [(r.row_number, r.column_name, r.reason) for r in db.quarantine()] == [
        (3, "rating", 'rating: "6" is above 5'),
        (4, "rating", 'rating: "0.5" is below 1'),
        (5, "rating", 'rating: "five" is not a number'),
    ]
    assert {k: r["rating"] for k, r in db.by_key("advocacy_actions").items()} == {
        "X1": 4.5,
        "X5": 1.0,
    }


def test_unknown_action_type(db: Harness) -> None:
    report = db.load("advocacy_actions", csv(
        "action_id,account_id,action_type,occurred_at",
        "X1,A1,Case_Study,2024-01-01",
        "X2,A1,shoutout,2024-01-01",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    bad = only_reject(db)
    assert (bad.row_number, bad.column_name) == (3, "action_type")
    assert '"shoutout" is not one of: referral, review, case_study' in bad.reason
    assert db.by_key("advocacy_actions")["X1"]["action_type"] == "case_study"


def test_priority_synonyms_are_normalised_and_unknown_ones_rejected(db: Harness) -> None:
    report = db.load("tickets", csv(
        "ticket_id,account_id,opened_at,priority",
        "T1,A1,2024-01-01,P1",
        "T2,A1,2024-01-01,Critical",
        "T3,A1,2024-01-01, HIGH ",
        "T4,A1,2024-01-01,medium",
        "T5,A1,2024-01-01,p4",
        "T6,A1,2024-01-01,whenever",
        "T7,A1,2024-01-01,",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (6, 1)
    priorities = {k: r["priority"] for k, r in db.by_key("tickets").items()}
    assert priorities == {
        "T1": "urgent", "T2": "urgent", "T3": "high", "T4": "normal", "T5": "low", "T7": None,
    }  # fmt: skip
    bad = only_reject(db)
    assert (bad.row_number, bad.column_name) == (7, "priority")
    assert '"whenever" is not one of: low, normal, high, urgent' in bad.reason


def test_ticket_status_synonyms(db: Harness) -> None:
    db.load("tickets", csv(
        "ticket_id,account_id,opened_at,status",
        "T1,A1,2024-01-01,Resolved", "T2,A1,2024-01-01,On Hold", "T3,A1,2024-01-01,CLOSED",
    ))  # fmt: skip
    assert {k: r["status"] for k, r in db.by_key("tickets").items()} == {
        "T1": "solved",
        "T2": "pending",
        "T3": "closed",
    }


def test_resolution_before_opening_is_rejected(db: Harness) -> None:
    db.load("tickets", csv(
        "ticket_id,account_id,opened_at,resolved_at",
        "T1,A1,2024-01-02 10:00,2024-01-02 09:00",
    ))  # fmt: skip
    bad = only_reject(db)
    assert (bad.column_name, bad.reason) == ("resolved_at", "resolved_at: is before opened_at")


def test_bad_mrr(db: Harness) -> None:
    report = db.load("revenue", csv(
        "account_id,month,mrr", "A1,2024-01-01,100", "A1,2024-02-01,-5", "A1,2024-03-01,abc",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 2)
    assert [(r.row_number, r.column_name, r.reason) for r in db.quarantine()] == [
        (3, "mrr", 'mrr: "-5" is below 0'),
        (4, "mrr", 'mrr: "abc" is not a number'),
    ]


def test_zero_mrr_is_valid_and_months_are_first_days(db: Harness) -> None:
    db.load("revenue", csv("account_id,month,mrr", "A1,2024-01,0", "A1,2024-02-15,99.5"))
    assert [(r["month"].isoformat(), r["mrr"]) for r in db.table("revenue")] == [
        ("2024-01-01", 0.0), ("2024-02-01", 99.5),
    ]  # fmt: skip


def test_booleans(db: Harness) -> None:
    values = {"A1": "true", "A2": "FALSE", "A3": "yes", "A4": "No", "A5": "1", "A6": "0", "A7": ""}
    db.load(
        "accounts",
        ["account_id,created_at,is_test"] + [f"{k},2024-01-01,{v}" for k, v in values.items()],
    )
    stored = {k: r["is_test"] for k, r in db.by_key("accounts").items()}
    assert stored == {
        "A1": True, "A2": False, "A3": True, "A4": False, "A5": True, "A6": False, "A7": False,
    }  # fmt: skip


def test_non_boolean_is_test(db: Harness) -> None:
    report = db.load("accounts", csv("account_id,created_at,is_test", "A1,2024-01-01,maybe"))
    assert (report.inserted, report.rejected) == (0, 1)
    bad = only_reject(db)
    assert (bad.row_number, bad.column_name) == (2, "is_test")
    assert '"maybe" is not true/false' in bad.reason


def test_missing_required_value(db: Harness) -> None:
    report = db.load("accounts", csv("account_id,created_at", ",2024-01-01", "A2,"))
    assert (report.inserted, report.rejected) == (0, 2)
    assert [(r.row_number, r.column_name, r.reason) for r in db.quarantine()] == [
        (2, "account_id", "account_id: required value is missing"),
        (3, "created_at", "created_at: required value is missing"),
    ]


def test_consent_scopes_must_be_a_subset(db: Harness) -> None:
    db.load("contacts", csv(
        "contact_id,account_id,consent_scopes",
        'C1,A1,"Review, logo"',
        'C2,A1,"review,billboard"',
    ))  # fmt: skip
    assert db.by_key("contacts")["C1"]["consent_scopes"] == "logo,review"
    bad = only_reject(db)
    assert (bad.row_number, bad.column_name) == (3, "consent_scopes")
    assert "is not a subset of" in bad.reason


def test_five_megabyte_field_is_rejected_by_length(db: Harness) -> None:
    huge = "x" * (5 * 1024 * 1024)
    report = db.load("survey_responses", csv(
        "response_id,account_id,survey,score,responded_at,comment",
        f"R1,A1,nps,9,2024-01-01,{huge}",
        "R2,A1,nps,9,2024-01-01,short",
    ))  # fmt: skip
    assert (report.read, report.inserted, report.rejected) == (2, 1, 1)
    bad = only_reject(db)
    assert (bad.row_number, bad.column_name) == (2, "comment")
    assert bad.reason == f"comment: value is {len(huge)} characters; the limit is 100000"
    assert bad.raw["comment"] == huge
    assert db.by_key("survey_responses")["R2"]["comment"] == "short"


def test_overlong_id_is_rejected(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", f"{'A' * 600},2024-01-01"))
    assert "the limit is 512" in only_reject(db).reason


@pytest.mark.xfail(
    strict=True,
    reason="known limitation: DuckDB's CSV reader skips blank lines before rows are numbered, "
    "so a reject after a blank line gets a row number one less than the spreadsheet row",
)
def test_row_numbers_count_blank_lines(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-01", "", "A2,bad"))
    assert only_reject(db).row_number == 4


def test_row_with_more_fields_than_the_header_is_quarantined(db: Harness) -> None:
    report = db.load("tickets", csv(
        "ticket_id,account_id,opened_at", "T1,A1,2024-01-01", "T2,A1,2024-01-01,oops",
    ))  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    assert only_reject(db).row_number == 3
