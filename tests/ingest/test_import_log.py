"""Each import is logged in `_imports` with the counts of its report."""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any

from advocacy.ingest.report import COUNT_FIELDS

from .harness import Harness, csv

MIXED = csv(
    "response_id,account_id,survey,score,responded_at",
    "R1,A1,nps,9,2024-01-01",
    "R1,A1,nps,9,2024-01-01",
    "R2,A9,nps,7,2024-01-01",
    "R3,A1,nps,12,2024-01-01",
    "R4,A1,nps,8,2024-01-01",
)


def logged(db: Harness, import_id: str) -> dict[str, Any]:
    with db.store.transaction() as tx:
        tx.execute("SELECT * FROM _imports WHERE import_id = ?", (import_id,))
        names = [d[0] for d in tx.cursor.description]
        rows = tx.cursor.fetchall()
    assert len(rows) == 1
    return dict(zip(names, rows[0], strict=True))


def test_log_row_has_the_counts_of_the_report(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-01"))
    db.load(
        "survey_responses",
        csv("response_id,account_id,survey,score,responded_at", "R4,A1,nps,6,2024-01-01"),
    )
    report = db.load("survey_responses", MIXED, name="nps.csv")
    counts = {f: getattr(report, f) for f in COUNT_FIELDS}
    # hand count: R1 twice (1 duplicate in the file), R2 new orphan, R3 invalid, R4 a conflict
    assert counts == {
        "read": 5, "inserted": 2, "updated": 0, "unchanged": 0, "duplicate": 1,
        "conflicting": 1, "rejected": 1, "orphan": 1,
    }  # fmt: skip
    row = logged(db, report.import_id)
    assert {f: row[f] for f in COUNT_FIELDS} == counts
    path = db.file(MIXED, name="nps.csv")
    assert row["table_name"] == "survey_responses"
    assert row["source_file"] == str(path)
    assert row["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (row["mapping"], row["on_conflict"], row["status"]) == (
        "canonical:survey_responses",
        "skip",
        "ok",
    )
    assert row["started_at"] <= row["finished_at"]
    assert json.loads(str(row["warnings"])) == report.warnings


def test_every_import_gets_its_own_log_row(db: Harness) -> None:
    ids = [db.load("tickets", csv("ticket_id,account_id,opened_at", "T1,A1,2024-01-01")).import_id
           for _ in range(3)]  # fmt: skip
    assert len(set(ids)) == 3
    assert sorted(r[0] for r in db.rows("SELECT import_id FROM _imports")) == sorted(ids)
    assert [logged(db, i)["inserted"] for i in ids] == [1, 0, 0]


def test_quarantine_and_changes_point_at_the_import(db: Harness) -> None:
    db.load("revenue", csv("account_id,month,mrr", "A1,2024-01-01,10"))
    report = db.load("revenue", csv("account_id,month,mrr", "A1,2024-01-01,11", "A1,2024-02-01,-1"))
    assert db.rows("SELECT DISTINCT import_id FROM _quarantine") == [(report.import_id,)]
    assert db.rows("SELECT DISTINCT import_id FROM _revisions") == [(report.import_id,)]


def test_import_emits_no_deprecation_warning(db: Harness) -> None:
    """The suite turns warnings into errors; the import path must not rely on deprecated APIs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db.load("tickets", csv("ticket_id,account_id,opened_at", "T1,A1,2024-01-01", "T2,A1,bad"))
    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
