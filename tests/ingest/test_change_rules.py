"""What a re-import of a changed row does, by table kind (DESIGN §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from .harness import Harness, csv, parse_json_ts

BEGINNING = datetime(1900, 1, 1)
END_OF_TIME = datetime(9999, 12, 31)
ACCOUNTS = "account_id,segment,plan,created_at,updated_at"


def history(db: Harness, column: str) -> list[tuple[str, str | None, datetime, datetime, str]]:
    return [tuple(r) for r in db.rows(
        "SELECT account_id, value, valid_from, valid_to, import_id FROM _account_history "
        "WHERE column_name = ? ORDER BY account_id, valid_from", (column,),
    )]  # fmt: skip


# -- entity ----------------------------------------------------------------------------------


def test_entity_upsert_latest_wins_and_history_closes_and_opens(db: Harness) -> None:
    first = db.load("accounts", csv(
        ACCOUNTS, "A1,smb,basic,2024-01-01,2024-02-01", "A2,ent,pro,2024-01-01,2024-02-01",
    ))  # fmt: skip
    assert history(db, "segment") == [
        ("A1", "smb", BEGINNING, END_OF_TIME, first.import_id),
        ("A2", "ent", BEGINNING, END_OF_TIME, first.import_id),
    ]
    second = db.load("accounts", csv(
        ACCOUNTS, "A1,mid,basic,2024-01-01,2024-05-01 12:00:00", "A2,ent,pro,2024-01-01,2024-02-01",
    ))  # fmt: skip
    assert (second.read, second.inserted, second.updated, second.unchanged) == (2, 0, 1, 1)
    assert second.balanced
    stored = db.by_key("accounts")
    assert (stored["A1"]["segment"], stored["A1"]["updated_at"]) == (
        "mid",
        datetime(2024, 5, 1, 12),
    )
    assert stored["A2"]["segment"] == "ent"
    switch = datetime(2024, 5, 1, 12)  # the source's updated_at
    assert history(db, "segment") == [
        ("A1", "smb", BEGINNING, switch, first.import_id),
        ("A1", "mid", switch, END_OF_TIME, second.import_id),
        ("A2", "ent", BEGINNING, END_OF_TIME, first.import_id),
    ]
    # plan did not change: one interval, untouched
    assert [h[:4] for h in history(db, "plan")] == [
        ("A1", "basic", BEGINNING, END_OF_TIME), ("A2", "pro", BEGINNING, END_OF_TIME),
    ]  # fmt: skip


def test_history_without_updated_at_uses_the_import_time(db: Harness) -> None:
    db.load("accounts", csv("account_id,segment,created_at", "A1,smb,2024-01-01"))
    second = db.load("accounts", csv("account_id,segment,created_at", "A1,mid,2024-01-01"))
    started = db.scalar("SELECT started_at FROM _imports WHERE import_id = ?", (second.import_id,))
    rows = history(db, "segment")
    assert [r[:2] for r in rows] == [("A1", "smb"), ("A1", "mid")]
    assert rows[0][2:4] == (BEGINNING, started)
    assert rows[1][2:4] == (started, END_OF_TIME)
    assert abs(started - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=5)


def test_three_versions_chain_without_gaps(db: Harness) -> None:
    for segment, updated in (("smb", "2024-01-01"), ("mid", "2024-03-01"), ("ent", "2024-06-01")):
        db.load("accounts", csv(ACCOUNTS, f"A1,{segment},basic,2024-01-01,{updated}"))
    assert [r[1:4] for r in history(db, "segment")] == [
        ("smb", BEGINNING, datetime(2024, 3, 1)),
        ("mid", datetime(2024, 3, 1), datetime(2024, 6, 1)),
        ("ent", datetime(2024, 6, 1), END_OF_TIME),
    ]


def test_older_file_keeps_the_stored_version_with_a_warning(db: Harness) -> None:
    db.load("accounts", csv(ACCOUNTS, "A1,mid,basic,2024-01-01,2024-05-01"))
    before = db.snapshot("accounts", "_account_history")
    report = db.load("accounts", csv(
        ACCOUNTS, "A1,smb,basic,2024-01-01,2024-03-01", "A2,ent,pro,2024-01-01,2024-03-01",
    ))  # fmt: skip
    assert (report.inserted, report.updated, report.unchanged) == (1, 0, 1)
    assert report.balanced
    assert report.warnings == [
        "1 row(s) are older (updated_at) than what is stored; kept the stored version"
    ]
    assert db.by_key("accounts")["A1"]["segment"] == "mid"
    assert [r for r in db.table("_account_history") if r["account_id"] == "A1"] == before[
        "_account_history"
    ]
    logged = db.scalar("SELECT warnings FROM _imports WHERE import_id = ?", (report.import_id,))
    assert json.loads(logged) == report.warnings


def test_entity_columns_absent_from_the_file_are_kept(db: Harness) -> None:
    db.load("accounts", csv("account_id,name,segment,created_at", "A1,Acme,smb,2024-01-01"))
    report = db.load("accounts", csv("account_id,segment,created_at", "A1,mid,2024-01-01"))
    assert report.updated == 1
    row = db.by_key("accounts")["A1"]
    assert (row["name"], row["segment"]) == ("Acme", "mid")


def test_alias_entity_is_upserted(db: Harness) -> None:
    db.load("account_aliases", csv("source,external_id,account_id", "zendesk,z1,A1"))
    report = db.load("account_aliases", csv("source,external_id,account_id", "zendesk,z1,A2"))
    assert report.updated == 1
    assert db.rows("SELECT source, external_id, account_id FROM account_aliases") == [
        ("zendesk", "z1", "A2")
    ]


# -- mutable fact ----------------------------------------------------------------------------

TICKETS = "ticket_id,account_id,opened_at,status,resolved_at"


def test_ticket_resolved_later_is_updated_with_a_revision(db: Harness) -> None:
    db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 09:00,open,", "T2,A1,2024-03-02 09:00,open,"))
    report = db.load("tickets", csv(
        TICKETS, "T1,A1,2024-03-01 09:00,solved,2024-03-01 17:00", "T2,A1,2024-03-02 09:00,open,",
    ))  # fmt: skip
    assert (report.updated, report.unchanged, report.conflicting) == (1, 1, 0)
    assert report.balanced
    t1 = db.by_key("tickets")["T1"]
    assert (t1["status"], t1["resolved_at"]) == ("solved", datetime(2024, 3, 1, 17))
    revisions = db.rows("SELECT import_id, table_name, row_key, previous FROM _revisions")
    assert [r[:3] for r in revisions] == [(report.import_id, "tickets", "T1")]
    previous = json.loads(revisions[0][3])
    assert (previous["status"], previous["resolved_at"]) == ("open", None)
    assert parse_json_ts(previous["opened_at"]) == datetime(2024, 3, 1, 9)


def test_revenue_restated_with_a_revision(db: Harness) -> None:
    db.load("revenue", csv("account_id,month,mrr", "A1,2024-01-01,100", "A1,2024-02-01,100"))
    report = db.load(
        "revenue", csv("account_id,month,mrr", "A1,2024-01-01,100", "A1,2024-02-01,120.5")
    )
    assert (report.updated, report.unchanged) == (1, 1)
    assert [(r["month"].isoformat(), r["mrr"]) for r in db.table("revenue")] == [
        ("2024-01-01", 100.0), ("2024-02-01", 120.5),
    ]  # fmt: skip
    ((row_key, previous),) = db.rows("SELECT row_key, previous FROM _revisions")
    assert row_key == "A1|2024-02-01"
    assert json.loads(previous) == {"account_id": "A1", "month": "2024-02-01", "mrr": 100}


def test_identity_change_of_a_ticket_is_a_conflict_not_applied(db: Harness) -> None:
    db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 09:00,open,"))
    report = db.load("tickets", csv(TICKETS, "T1,A2,2024-03-01 09:00,solved,2024-03-02"))
    assert (report.updated, report.conflicting) == (0, 1)
    assert report.balanced
    t1 = db.by_key("tickets")["T1"]
    assert (t1["account_id"], t1["status"]) == ("A1", "open")
    ((import_id, table, key, diff, incoming, status),) = db.rows("SELECT * FROM _conflicts")
    assert (import_id, table, key, status) == (report.import_id, "tickets", "T1", "open")
    assert diff.split(",")[0] == "account_id"
    assert json.loads(incoming)["account_id"] == "A2"
    assert db.count("_revisions") == 0


def test_opened_at_change_is_an_identity_conflict(db: Harness) -> None:
    db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 09:00,open,"))
    report = db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 10:00,open,"))
    assert report.conflicting == 1
    assert db.by_key("tickets")["T1"]["opened_at"] == datetime(2024, 3, 1, 9)


def test_identity_conflict_applied_with_update_conflicts(db: Harness) -> None:
    db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 09:00,open,"))
    report = db.load("tickets", csv(TICKETS, "T1,A2,2024-03-01 09:00,open,"), update_conflicts=True)
    assert report.conflicting == 1
    assert db.by_key("tickets")["T1"]["account_id"] == "A2"
    assert db.rows("SELECT status FROM _conflicts") == [("applied",)]


def test_applied_identity_conflict_records_the_previous_row(db: Harness) -> None:
    db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 09:00,open,"))
    db.load("tickets", csv(TICKETS, "T1,A2,2024-03-01 09:00,open,"), update_conflicts=True)
    previous = [json.loads(p) for (p,) in db.rows("SELECT previous FROM _revisions")]
    assert [p["account_id"] for p in previous] == ["A1"]


# -- immutable fact --------------------------------------------------------------------------

SURVEY = "response_id,account_id,survey,score,responded_at"


def test_immutable_fact_changed_row_is_a_conflict_not_applied(db: Harness) -> None:
    db.load("survey_responses", csv(SURVEY, "R1,A1,nps,9,2024-01-01", "R2,A1,nps,10,2024-01-01"))
    report = db.load(
        "survey_responses", csv(SURVEY, "R1,A1,nps,7,2024-01-01", "R2,A1,nps,10,2024-01-01")
    )
    assert (report.inserted, report.updated, report.duplicate, report.conflicting) == (0, 0, 1, 1)
    assert report.balanced
    assert db.by_key("survey_responses")["R1"]["score"] == 9
    ((import_id, table, key, diff, incoming, status),) = db.rows("SELECT * FROM _conflicts")
    assert (import_id, table, key, diff, status) == (
        report.import_id,
        "survey_responses",
        "R1",
        "score",
        "open",
    )
    assert json.loads(incoming)["score"] == 7
    assert db.count("_revisions") == 0


def test_immutable_fact_conflict_applied_with_update_conflicts(db: Harness) -> None:
    db.load("survey_responses", csv(SURVEY, "R1,A1,nps,9,2024-01-01"))
    report = db.load(
        "survey_responses", csv(SURVEY, "R1,A1,nps,7,2024-01-02"), update_conflicts=True
    )
    assert (report.conflicting, report.updated) == (1, 0)
    r1 = db.by_key("survey_responses")["R1"]
    assert (r1["score"], r1["responded_at"]) == (7, datetime(2024, 1, 2))
    assert db.rows("SELECT row_key, diff, status FROM _conflicts") == [
        ("R1", "score,responded_at", "applied")
    ]
    assert (
        db.scalar("SELECT on_conflict FROM _imports WHERE import_id = ?", (report.import_id,))
        == "update"
    )


# -- ledger ----------------------------------------------------------------------------------

ASKS = "ask_id,account_id,ask_type,asked_at"


def test_ledger_identical_row_is_a_duplicate_and_changed_row_rejected(db: Harness) -> None:
    db.load("asks", csv(ASKS, "K1,A1,review,2024-03-01", "K2,A1,case_study,2024-03-01"))
    report = db.load("asks", csv(
        ASKS, "K1,A1,review,2024-03-01", "K2,A1,referral,2024-03-01", "K3,A1,survey,2024-03-05",
    ), name="asks2.csv")  # fmt: skip
    assert (report.inserted, report.duplicate, report.rejected, report.updated) == (1, 1, 1, 0)
    assert report.balanced
    assert {k: r["ask_type"] for k, r in db.by_key("asks").items()} == {
        "K1": "review",
        "K2": "case_study",
        "K3": "survey",
    }
    (bad,) = db.quarantine()
    assert (bad.import_id, bad.source_file, bad.row_number, bad.column_name) == (
        report.import_id, "asks2.csv", 3, "ask_type",
    )  # fmt: skip
    assert bad.reason.startswith(
        "a different row with this key is already recorded; ledger rows are append-only"
    )
    assert bad.raw["ask_type"] == "referral"


def test_ledger_update_conflicts_does_not_rewrite_history(db: Harness) -> None:
    db.load("ask_outcomes", csv("ask_id,seq,status,at", "K1,1,accepted,2024-03-02"))
    report = db.load("ask_outcomes", csv("ask_id,seq,status,at", "K1,1,declined,2024-03-02",
                                         "K1,2,completed,2024-03-09"), update_conflicts=True)  # fmt: skip
    assert (report.inserted, report.rejected) == (1, 1)
    assert [(r["seq"], r["status"]) for r in db.table("ask_outcomes")] == [
        (1, "accepted"),
        (2, "completed"),
    ]


# -- parity of what the change tables record ---------------------------------------------------


def test_recorded_rows_render_timestamps_alike_on_every_backend(db: Harness) -> None:
    db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 09:00,open,"))
    db.load("tickets", csv(TICKETS, "T1,A1,2024-03-01 09:00,solved,2024-03-01 17:00"))
    (previous,) = db.rows("SELECT previous FROM _revisions")
    assert json.loads(previous[0])["opened_at"] == "2024-03-01 09:00:00"


def test_changed_account_with_an_empty_updated_at_does_not_crash(db: Harness) -> None:
    db.load("accounts", csv(ACCOUNTS, "A1,smb,basic,2024-01-01,2024-02-01"))
    report = db.load("accounts", csv(ACCOUNTS, "A1,mid,basic,2024-01-01,"))
    assert report.balanced
    open_intervals = db.rows(
        "SELECT count(*) FROM _account_history WHERE column_name = 'segment' AND valid_to = ?",
        (END_OF_TIME,),
    )
    assert open_intervals == [(1,)]
