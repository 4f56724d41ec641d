"""The operational store: migrations, transactions, and DuckDB's one-process file lock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import psycopg
import pytest

from advocacy.errors import UserError, WorkspaceLockedError
from advocacy.schema import TABLES, ColType
from advocacy.storage import Store, Tx, migrate
from advocacy.storage.migrations import LATEST, MIGRATIONS

if TYPE_CHECKING:
    from conftest import Backend

INTERNAL = {
    "_schema_version", "_imports", "_quarantine", "_conflicts", "_revisions", "_account_history",
    "_suppressions", "_audit",
}  # fmt: skip

# How each canonical column type shows in information_schema.columns.data_type.
INFO_TYPES = {
    ColType.STRING: {"VARCHAR", "text"},
    ColType.TIMESTAMP: {"TIMESTAMP", "timestamp without time zone"},
    ColType.DATE: {"DATE", "date"},
    ColType.FLOAT: {"DOUBLE", "double precision"},
    ColType.INT: {"BIGINT", "bigint"},
    ColType.BOOL: {"BOOLEAN", "boolean"},
}


def _tables(store: Store) -> set[str]:
    with store.transaction() as tx:
        rows = tx.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {r[0] for r in rows}


def _column_types(store: Store, table: str) -> dict[str, str]:
    with store.transaction() as tx:
        rows = tx.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        )
    return {r[0]: r[1] for r in rows}


def test_migrations_create_every_canonical_and_internal_table(store: Store) -> None:
    tables = _tables(store)
    assert set(TABLES) | INTERNAL <= tables
    assert {t for t in tables - set(TABLES) if not t.startswith("_")} == set()


def test_canonical_columns_have_their_types(store: Store) -> None:
    for table in TABLES.values():
        types = _column_types(store, table.name)
        assert set(types) == set(table.names), table.name
        wrong = {
            c.name: types[c.name] for c in table.columns if types[c.name] not in INFO_TYPES[c.type]
        }
        assert wrong == {}, table.name


def test_keys_of_entity_and_ledger_tables_are_enforced(store: Store) -> None:
    insert = "INSERT INTO asks (ask_id, account_id, ask_type, asked_at) VALUES ('K1', 'A1', 'review', TIMESTAMP '2024-01-01')"
    store.run(lambda tx: tx.execute(insert))
    with pytest.raises((duckdb.Error, psycopg.Error)):
        store.run(lambda tx: tx.execute(insert))


def test_unreachable_postgres_is_a_user_error() -> None:
    with pytest.raises(UserError, match="cannot connect to PostgreSQL"):
        Store("postgresql://nobody@127.0.0.1:1/none?schema=advocacy_x")


def test_unsafe_schema_name_is_refused_before_connecting() -> None:
    with pytest.raises(UserError, match="must be lower-case letters, digits, _"):
        Store("postgresql://nobody@127.0.0.1:1/none?schema=x;DROP")


def test_schema_version_is_the_latest(store: Store) -> None:
    with store.transaction() as tx:
        rows = tx.fetchall("SELECT version, name FROM _schema_version ORDER BY version")
    assert rows == [(m.version, m.name) for m in MIGRATIONS]
    assert rows[-1][0] == LATEST


def test_migrate_twice_applies_nothing_and_keeps_data(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO _audit (happened_at, action) VALUES (TIMESTAMP '2024-01-01', 'x')")
    assert migrate(store) == 0
    assert migrate(store) == 0
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM _schema_version") == len(MIGRATIONS)
        assert tx.scalar("SELECT count(*) FROM _audit") == 1


def test_fresh_store_applies_every_migration(backend: Backend) -> None:
    with Store(backend.new_url()) as fresh:
        assert migrate(fresh) == len(MIGRATIONS)
        assert migrate(fresh) == 0


def test_reopened_store_is_already_migrated(backend: Backend) -> None:
    url = backend.new_url()
    with Store(url) as first:
        migrate(first)
        with first.transaction() as tx:
            tx.execute(
                "INSERT INTO _audit (happened_at, action) VALUES (TIMESTAMP '2024-01-01', 'x')"
            )
    with Store(url) as second:
        assert migrate(second) == 0
        with second.transaction() as tx:
            assert tx.scalar("SELECT count(*) FROM _audit") == 1


def test_transaction_commits_on_success(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO _audit (happened_at, action) VALUES (TIMESTAMP '2024-01-01', 'a')")
    with store.transaction() as tx:
        assert tx.fetchall("SELECT action FROM _audit") == [("a",)]


def _write_then(store: Store, failing: Callable[[Tx], None]) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO _audit (happened_at, action) VALUES (TIMESTAMP '2024-01-01', 'a')")
        tx.execute(
            "INSERT INTO accounts (account_id, created_at) VALUES ('A1', TIMESTAMP '2024-01-01')"
        )
        failing(tx)


def _boom(tx: Tx) -> None:
    raise RuntimeError("boom")


def _null_into_not_null(tx: Tx) -> None:
    tx.execute("INSERT INTO _audit (happened_at, action) VALUES (NULL, 'b')")


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        _write_then(store, _boom)
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM _audit") == 0
        assert tx.scalar("SELECT count(*) FROM accounts") == 0


def test_transaction_rolls_back_on_database_error(store: Store) -> None:
    with pytest.raises((duckdb.Error, psycopg.Error), match=r"(?i)null"):
        _write_then(store, _null_into_not_null)
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM _audit") == 0
        assert tx.scalar("SELECT count(*) FROM accounts") == 0


def test_a_failed_commit_reports_its_own_error(duckdb_store: Store) -> None:
    with pytest.raises(duckdb.Error) as info:
        _insert_in_two_interleaved_transactions(duckdb_store)
    assert "cannot rollback" not in str(info.value)
    assert "duplicate key" in str(info.value)


def _insert_in_two_interleaved_transactions(store: Store) -> None:
    """The inner transaction commits A1 first; the outer one's COMMIT then fails."""
    insert = "INSERT INTO accounts (account_id, created_at) VALUES ('A1', TIMESTAMP '2024-01-01')"
    with store.transaction() as outer:
        outer.execute(insert)
        with store.transaction() as inner:
            inner.execute(insert)


def test_run_returns_the_work_result(store: Store) -> None:
    assert store.run(lambda tx: tx.scalar("SELECT 40 + 2")) == 42


def test_placeholders_are_portable(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO _audit (happened_at, action, detail) VALUES (?, ?, ?)",
            ("2024-01-02 03:04:05", "50% done?", "it's"),
        )
        assert tx.fetchall("SELECT action, detail FROM _audit WHERE action LIKE ?", ("50%",)) == [
            ("50% done?", "it's")
        ]


def test_sessions_run_in_utc(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.scalar("SELECT current_setting('TimeZone')") == "UTC"


# -- DuckDB's file lock --------------------------------------------------------------------

_OPEN_IN_CHILD = """
import sys
from advocacy.errors import UserError
from advocacy.storage import Store
try:
    Store(sys.argv[1])
except UserError as exc:
    print(type(exc).__name__ + ": " + str(exc))
    sys.exit(1)
print("opened")
"""


def test_second_process_gets_workspace_locked_error(duckdb_store: Store) -> None:
    child = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_CHILD, duckdb_store.url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert child.returncode == 1, child.stdout + child.stderr
    assert child.stdout.startswith(f"{WorkspaceLockedError.__name__}: ")
    assert "in use" in child.stdout
    assert f"process {os.getpid()}" in child.stdout
    assert "PostgreSQL" in child.stdout  # says what to do about it
    assert "Traceback" not in child.stderr + child.stdout


def test_workspace_locked_error_is_a_user_error() -> None:
    assert issubclass(WorkspaceLockedError, UserError)


def test_second_process_opens_the_file_once_it_is_released(duckdb_store: Store) -> None:
    url = duckdb_store.url
    duckdb_store.close()
    child = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_CHILD, url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (child.returncode, child.stdout.strip()) == (0, "opened"), child.stderr


def test_a_workspace_store_has_the_configured_memory_limit(tmp_path: Path) -> None:
    from advocacy.workspace import open_workspace

    (tmp_path / "advocacy.toml").write_text('[store]\nmemory_limit = "1500MB"\n')
    reference = duckdb.connect()
    reference.execute("SET memory_limit = '1500MB'")
    expected = reference.execute("SELECT current_setting('memory_limit')").fetchone()
    default = duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()
    with open_workspace(tmp_path, create=True) as ws:
        actual = (
            ws.store.duckdb_connection()
            .execute("SELECT current_setting('memory_limit')")
            .fetchone()
        )
    assert actual == expected != default


def test_the_default_memory_limit_is_three_gigabytes(tmp_path: Path) -> None:
    from advocacy.config import DEFAULT_MEMORY_LIMIT, load_settings

    assert load_settings(tmp_path).memory_limit == DEFAULT_MEMORY_LIMIT == "3GB"


@pytest.mark.parametrize("bad", ["lots", "3", "-1GB", "3 G", "1KB", "200MB"])
def test_an_unreadable_memory_limit_is_a_user_error(bad: str) -> None:
    from advocacy.config import parse_settings

    with pytest.raises(UserError, match=r"store\.memory_limit"):
        parse_settings({"store": {"memory_limit": bad}})
