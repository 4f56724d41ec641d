"""Two imports of overlapping keys at once: the later one sees the earlier one's rows."""

from __future__ import annotations

import threading
from pathlib import Path

from advocacy.ingest import ImportOptions, ImportReport, import_file

from .harness import Harness, csv


def test_concurrent_imports_of_the_same_new_keys_both_succeed(db: Harness) -> None:
    first = db.file(
        csv("account_id,segment,created_at", "A1,smb,2024-01-01", "A2,smb,2024-01-01"), name="a.csv"
    )
    second = db.file(
        csv("account_id,segment,created_at", "A1,smb,2024-01-01", "A3,ent,2024-01-01"), name="b.csv"
    )
    paused, resume = threading.Event(), threading.Event()
    outcome: dict[str, list[ImportReport] | BaseException] = {}

    def pause_before_merging(message: str) -> None:
        if message.startswith("merging") and not paused.is_set():
            paused.set()
            resume.wait(30)

    def slow_import(path: Path) -> None:
        try:
            outcome["first"] = import_file(db.store, db.settings, path,
                                           ImportOptions(table="accounts"), pause_before_merging)  # fmt: skip
        except BaseException as exc:  # reported below, not lost in the thread
            outcome["first"] = exc

    thread = threading.Thread(target=slow_import, args=(first,))
    thread.start()
    try:
        assert paused.wait(30), "the first import never reached its merge"
        done = db.load("accounts", second)
    finally:
        resume.set()
        thread.join(60)
    assert (done.inserted, done.unchanged) == (2, 0)
    result = outcome["first"]
    assert not isinstance(result, BaseException), repr(result)
    (report,) = result
    assert (report.inserted, report.unchanged, report.updated) == (1, 1, 0)
    assert sorted(db.by_key("accounts")) == ["A1", "A2", "A3"]
