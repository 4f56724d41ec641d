"""A folder of files of one format is one dataset: one transaction, rows numbered per file."""

from __future__ import annotations

from pathlib import Path

import pytest

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.ingest import ImportOptions, import_file
from advocacy.storage import Store


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_a_folder_imports_as_one_dataset_with_per_file_row_numbers(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "accounts"
    _write(folder, "part-0.csv", "account_id,created_at\nA1,2024-01-01\nA2,2024-01-02\n")
    _write(folder, "part-1.csv", "account_id,created_at\nA3,2024-01-03\nA4,not a date\n")

    (report,) = import_file(store, settings, folder, ImportOptions(table="accounts"))

    assert (report.read, report.inserted, report.rejected) == (4, 3, 1)
    with store.transaction() as tx:
        ids = [r[0] for r in tx.fetchall("SELECT account_id FROM accounts ORDER BY 1")]
        rejects = tx.fetchall("SELECT source_file, row_number, column_name FROM _quarantine")
    assert ids == ["A1", "A2", "A3"]
    assert rejects == [("part-1.csv", 3, "created_at")]


def test_files_of_a_folder_are_matched_by_column_name(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "accounts"
    _write(folder, "a.csv", "account_id,created_at\nA1,2024-01-01\n")
    _write(folder, "b.csv", "created_at,account_id,segment\n2024-02-01,A2,smb\n")
    _write(folder, "c.csv", "id,created_at\nx,2024-03-01\n")  # no account_id column at all

    (report,) = import_file(store, settings, folder, ImportOptions(table="accounts"))

    assert (report.read, report.inserted, report.rejected) == (3, 2, 1)
    with store.transaction() as tx:
        rows = tx.fetchall("SELECT account_id, segment FROM accounts ORDER BY 1")
        reject = tx.fetchone("SELECT source_file, row_number, column_name FROM _quarantine")
    assert rows == [("A1", None), ("A2", "smb")]
    assert reject == ("c.csv", 2, "account_id")


def test_a_folder_of_mixed_formats_is_refused(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    _write(folder, "a.csv", "account_id,created_at\nA1,2024-01-01\n")
    _write(folder, "b.json", '[{"account_id": "A2", "created_at": "2024-01-01"}]')

    with pytest.raises(UserError, match="mixes formats"):
        import_file(store, settings, folder, ImportOptions(table="accounts"))
